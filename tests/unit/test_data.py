"""course_utils.data: the shipped Fashion-MNIST subset, the full dataset, loaders, photos.

Tests that read the original Fashion-MNIST files use Debian's dataset-fashion-mnist package
and are skipped where it is not installed. Nothing here downloads: the download test serves
the files from a local directory through file:// URLs.
"""

import gzip
import importlib.util
import shutil
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

from course_utils import data
from course_utils.data import (
    DATA_ENV_VAR,
    DEBIAN_FASHION_MNIST_DIR,
    FASHION_MNIST_CLASSES,
    FASHION_MNIST_FILES,
    ChecksumError,
    data_dir,
    fashion_mnist_loaders,
    list_photos,
    load_fashion_mnist,
    load_photo,
    parse_idx,
    verify_fashion_mnist_file,
)
from course_utils.device import to_device

REPO_DATA = Path(__file__).resolve().parents[2] / "data"
HAVE_DEBIAN = all((DEBIAN_FASHION_MNIST_DIR / name).is_file() for name in FASHION_MNIST_FILES)
requires_debian = pytest.mark.skipif(
    not HAVE_DEBIAN, reason=f"needs Debian's dataset-fashion-mnist in {DEBIAN_FASHION_MNIST_DIR}"
)
# Official Fashion-MNIST README, "Labels" table, in label order.
OFFICIAL_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)


@pytest.fixture
def shipped_data(monkeypatch):
    """Make sure the repository's data/ is what the loaders read."""
    monkeypatch.delenv(DATA_ENV_VAR, raising=False)
    return REPO_DATA


@pytest.fixture
def data_copy(tmp_path, monkeypatch):
    """A copy of data/ in a temporary directory, selected with $CNN_COURSE_DATA."""
    copy = tmp_path / "data"
    shutil.copytree(REPO_DATA, copy, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    monkeypatch.setenv(DATA_ENV_VAR, str(copy))
    return copy


@pytest.fixture(scope="module")
def debian_originals():
    """The official splits, read straight from the Debian files with gzip and NumPy."""
    originals = {}
    for split, (images_name, labels_name) in data.SPLIT_FILES.items():
        images = gzip.decompress((DEBIAN_FASHION_MNIST_DIR / images_name).read_bytes())
        labels = gzip.decompress((DEBIAN_FASHION_MNIST_DIR / labels_name).read_bytes())
        originals[split] = (
            np.frombuffer(images, np.uint8, offset=16).reshape(-1, 28, 28),
            np.frombuffer(labels, np.uint8, offset=8),
        )
    return originals


# ---- where the data lives


def test_data_dir_is_the_repository_data_folder_in_a_checkout(shipped_data):
    assert data_dir() == shipped_data
    assert (data_dir() / "SHA256SUMS.txt").is_file()


def test_data_dir_follows_the_environment_variable(tmp_path, monkeypatch):
    monkeypatch.setenv(DATA_ENV_VAR, str(tmp_path))
    assert data_dir() == tmp_path


def test_a_data_archive_is_unpacked_once_and_used(tmp_path, monkeypatch):
    folder = tmp_path / "src" / "data"
    folder.mkdir(parents=True)
    (folder / "SHA256SUMS.txt").write_text("")
    archive = shutil.make_archive(str(tmp_path / "data"), "gztar", tmp_path / "src")
    monkeypatch.setenv(DATA_ENV_VAR, "")  # unset, and restored after the test
    monkeypatch.chdir(tmp_path)
    used = data.use_data_archive(Path(archive).as_uri())
    assert used == tmp_path / "cnn-course-data" / "data"  # the archive's one top folder
    assert data_dir() == used
    assert data.use_data_archive("file:///nowhere.zip") == used  # already set: no download


def test_a_data_archive_without_checksums_is_refused(tmp_path, monkeypatch):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "README.md").write_text("not the data")
    archive = shutil.make_archive(str(tmp_path / "data"), "zip", tmp_path / "src")
    monkeypatch.setenv(DATA_ENV_VAR, "")  # unset, and restored after the test
    with pytest.raises(FileNotFoundError, match="holds no SHA256SUMS.txt"):
        data.use_data_archive(Path(archive).as_uri(), target=tmp_path / "unpacked")


def test_installed_location_is_share_cnn_course_data_under_the_prefix():
    assert Path(sys.prefix) / "share" / "cnn-course" / "data" in data._installed_data_dirs()


def test_every_shipped_file_matches_sha256sums_and_is_listed(shipped_data):
    checksums = data._recorded_checksums(shipped_data)
    shipped = {
        path.relative_to(shipped_data).as_posix()
        for path in shipped_data.rglob("*")
        if path.is_file()
        and path.suffix != ".py"
        and path.name not in ("README.md", "SHA256SUMS.txt")
        and "__pycache__" not in path.parts
    }
    assert shipped == set(checksums)
    for name, expected in checksums.items():
        assert data._sha256(shipped_data / name) == expected, name


def test_shipped_files_match_the_globs_a_regular_install_copies(shipped_data):
    top = {path.name for path in shipped_data.iterdir() if path.is_file()}
    installed = {name for name in top if name.endswith((".npz", ".md", ".txt"))}
    assert {"fashion_mnist_subset.npz", "README.md", "SHA256SUMS.txt"} <= installed
    assert top - installed == {path.name for path in shipped_data.glob("*.py")}
    assert all(path.is_file() for path in (shipped_data / "photos").iterdir())


def test_subset_is_a_few_megabytes(shipped_data):
    size = (shipped_data / "fashion_mnist_subset.npz").stat().st_size
    assert 1_000_000 < size < 8_000_000


def test_readme_lists_the_current_sha256_of_every_shipped_file(shipped_data):
    readme = (shipped_data / "README.md").read_text(encoding="utf-8")
    for name, digest in data._recorded_checksums(shipped_data).items():
        assert digest in readme, f"data/README.md does not list the SHA-256 of {name}"


# ---- the shipped subset


def test_class_names_are_the_official_ten_in_label_order(shipped_data):
    assert FASHION_MNIST_CLASSES == OFFICIAL_CLASSES
    with np.load(shipped_data / "fashion_mnist_subset.npz") as archive:
        assert tuple(archive["class_names"]) == OFFICIAL_CLASSES


@pytest.mark.parametrize("split, per_class", [("train", 1000), ("test", 200)])
def test_subset_has_the_documented_shapes_dtypes_range_and_exact_balance(
    shipped_data, split, per_class
):
    images, labels = load_fashion_mnist(split)
    assert images.shape == (10 * per_class, 1, 28, 28)
    assert images.dtype == np.float32
    assert labels.shape == (10 * per_class,)
    assert labels.dtype == np.int64
    assert images.min() == 0.0 and images.max() == 1.0
    assert np.bincount(labels, minlength=10).tolist() == [per_class] * 10


def test_normalize_false_gives_the_raw_uint8_pixels(shipped_data):
    raw, labels = load_fashion_mnist("test", normalize=False)
    scaled, _ = load_fashion_mnist("test")
    assert raw.dtype == np.uint8 and raw.shape == (2000, 1, 28, 28)
    assert raw.max() == 255
    np.testing.assert_array_equal(scaled, raw.astype(np.float32) / 255)


def test_two_loads_are_identical(shipped_data):
    first = load_fashion_mnist("train")
    second = load_fashion_mnist("train")
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])


def test_as_tensors_gives_tensors_on_the_requested_device(shipped_data):
    images, labels = load_fashion_mnist("test", as_tensors=True, device="cpu")
    assert isinstance(images, torch.Tensor) and isinstance(labels, torch.Tensor)
    assert images.dtype == torch.float32 and labels.dtype == torch.int64
    assert images.device == torch.device("cpu")
    assert images.shape == (2000, 1, 28, 28)


def test_stored_indices_are_sorted_unique_and_train_and_test_are_separate_splits(shipped_data):
    with np.load(shipped_data / "fashion_mnist_subset.npz") as archive:
        for split, size in (("train", 60_000), ("test", 10_000)):
            indices = archive[f"{split}_indices"]
            assert np.all(np.diff(indices) > 0)
            assert indices.min() >= 0 and indices.max() < size


@requires_debian
@pytest.mark.parametrize("split", ["train", "test"])
def test_stored_indices_select_exactly_those_images_from_the_originals(
    shipped_data, debian_originals, split
):
    original_images, original_labels = debian_originals[split]
    with np.load(shipped_data / "fashion_mnist_subset.npz") as archive:
        indices = archive[f"{split}_indices"]
        np.testing.assert_array_equal(archive[f"{split}_images"], original_images[indices])
        np.testing.assert_array_equal(archive[f"{split}_labels"], original_labels[indices])


@pytest.mark.parametrize("split", ["validation", "Train", "", None])
def test_bad_split_name_raises_and_lists_the_valid_ones(shipped_data, split):
    with pytest.raises(ValueError, match='"train" or "test"'):
        load_fashion_mnist(split)


# ---- errors for missing and corrupt files


def test_missing_subset_says_which_file_where_it_looked_and_how_to_fix(tmp_path, monkeypatch):
    monkeypatch.setenv(DATA_ENV_VAR, str(tmp_path))
    with pytest.raises(FileNotFoundError) as error:
        load_fashion_mnist()
    message = str(error.value)
    assert "fashion_mnist_subset.npz" in message
    assert str(tmp_path) in message
    assert "CNN_COURSE_DATA" in message and "reinstall" in message


def test_corrupted_subset_raises_a_checksum_error_with_expected_and_got(data_copy):
    path = data_copy / "fashion_mnist_subset.npz"
    expected = data._sha256(path)
    content = bytearray(path.read_bytes())
    content[len(content) // 2] ^= 0xFF
    path.write_bytes(bytes(content))
    with pytest.raises(ChecksumError) as error:
        load_fashion_mnist()
    message = str(error.value)
    assert f"expected {expected}" in message
    assert f"got {data._sha256(path)}" in message
    assert "Reinstall" in message


def test_an_intact_copy_selected_by_the_environment_variable_loads(data_copy):
    images, labels = load_fashion_mnist("test")
    assert data_dir() == data_copy
    assert images.shape == (2000, 1, 28, 28)


def test_missing_checksum_list_is_reported_as_a_missing_file(data_copy):
    (data_copy / "SHA256SUMS.txt").unlink()
    with pytest.raises(FileNotFoundError, match="SHA256SUMS.txt"):
        load_fashion_mnist()


def test_full_dataset_without_files_and_without_download_says_what_is_missing(tmp_path):
    with pytest.raises(FileNotFoundError) as error:
        load_fashion_mnist(subset=False, root=tmp_path, download=False)
    message = str(error.value)
    assert "train-images-idx3-ubyte.gz" in message
    assert str(tmp_path) in message
    assert "download=True" in message and "dataset-fashion-mnist" in message


def test_a_truncated_original_file_is_refused(tmp_path):
    fake = tmp_path / "t10k-labels-idx1-ubyte.gz"
    fake.write_bytes(gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x02\x01\x02"))
    with pytest.raises(ChecksumError, match="bb300cfdad3c16e7a12a480ee83cd310"):
        verify_fashion_mnist_file(fake)


def test_parse_idx_reads_labels_and_images_and_refuses_a_wrong_size():
    labels = parse_idx(bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 8, 9]))
    assert labels.tolist() == [7, 8, 9] and labels.dtype == np.uint8
    images = parse_idx(bytes([0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 2, 1, 2, 3, 4]))
    assert images.tolist() == [[[1, 2], [3, 4]]]
    with pytest.raises(ValueError, match="announces shape"):
        parse_idx(bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 8]))


# ---- the full dataset and the build script (need the Debian originals)


@requires_debian
def test_debian_files_pass_verification_by_their_contents():
    for name in FASHION_MNIST_FILES:
        raw = verify_fashion_mnist_file(DEBIAN_FASHION_MNIST_DIR / name)
        assert len(raw) in (47_040_016, 60_008, 7_840_016, 10_008)


@requires_debian
def test_full_test_split_has_ten_thousand_images_a_thousand_per_class(debian_originals):
    images, labels = load_fashion_mnist("test", subset=False)
    assert images.shape == (10_000, 1, 28, 28) and images.dtype == np.float32
    assert np.bincount(labels, minlength=10).tolist() == [1000] * 10
    np.testing.assert_array_equal(labels, debian_originals["test"][1])


@requires_debian
def test_a_corrupted_copy_of_an_original_file_is_refused(tmp_path):
    name = "t10k-labels-idx1-ubyte.gz"
    raw = bytearray(gzip.decompress((DEBIAN_FASHION_MNIST_DIR / name).read_bytes()))
    raw[100] = (raw[100] + 1) % 10  # one label changed
    (tmp_path / name).write_bytes(gzip.compress(bytes(raw)))
    with pytest.raises(ChecksumError, match="15d48437|0402a96d"):
        verify_fashion_mnist_file(tmp_path / name)


def _load_build_script():
    spec = importlib.util.spec_from_file_location(
        "build_fashion_mnist_subset", REPO_DATA / "build_fashion_mnist_subset.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@requires_debian
def test_build_script_rebuilds_the_shipped_arrays_exactly(tmp_path, shipped_data):
    build = _load_build_script()
    output = tmp_path / "rebuilt.npz"
    build.main([str(DEBIAN_FASHION_MNIST_DIR), "--output", str(output)])
    with np.load(output) as rebuilt, np.load(shipped_data / "fashion_mnist_subset.npz") as shipped:
        assert sorted(rebuilt.files) == sorted(shipped.files)
        for key in shipped.files:
            np.testing.assert_array_equal(rebuilt[key], shipped[key], err_msg=key)


def test_build_draw_is_balanced_and_changes_with_the_seed():
    build = _load_build_script()
    labels = np.repeat(np.arange(10), 30)
    first = build.choose_indices(labels, 5, seed=0, split="train")
    again = build.choose_indices(labels, 5, seed=0, split="train")
    other = build.choose_indices(labels, 5, seed=1, split="train")
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    assert np.bincount(labels[first]).tolist() == [5] * 10
    assert np.all(np.diff(first) > 0)


@requires_debian
def test_download_without_torchvision_fetches_verifies_and_loads(tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    for name in FASHION_MNIST_FILES:
        (mirror / name).symlink_to(DEBIAN_FASHION_MNIST_DIR / name)
    monkeypatch.setattr(data, "FASHION_MNIST_MIRRORS", (mirror.as_uri() + "/",))
    monkeypatch.setitem(sys.modules, "torchvision", None)  # import torchvision fails
    target = tmp_path / "downloads"
    images, labels = load_fashion_mnist("test", subset=False, root=target, download=True)
    assert sorted(path.name for path in target.iterdir()) == sorted(FASHION_MNIST_FILES)
    assert images.shape == (10_000, 1, 28, 28)
    assert np.bincount(labels).tolist() == [1000] * 10


def test_a_download_that_fails_verification_leaves_nothing_behind(tmp_path):
    served = tmp_path / "served.gz"
    served.write_bytes(gzip.compress(b"not fashion-mnist"))
    destination = tmp_path / "target" / "t10k-labels-idx1-ubyte.gz"
    with pytest.raises(ChecksumError):
        data._download_file(served.as_uri(), destination)
    assert list(destination.parent.iterdir()) == []


# ---- loaders


def _batches(loader):
    return [(images.clone(), labels.clone()) for images, labels in loader]


def test_loaders_cover_train_and_test_in_batches_of_the_requested_size(shipped_data):
    train, test = fashion_mnist_loaders(batch_size=500, device="cpu")
    assert len(train.dataset) == 10_000 and len(test.dataset) == 2_000
    images, labels = next(iter(train))
    assert images.shape == (500, 1, 28, 28) and images.dtype == torch.float32
    assert labels.shape == (500,) and labels.dtype == torch.int64
    assert not train.pin_memory


def test_loaders_shuffle_the_same_way_for_the_same_seed(shipped_data):
    first = _batches(fashion_mnist_loaders(batch_size=1000, seed=3, device="cpu")[0])
    second = _batches(fashion_mnist_loaders(batch_size=1000, seed=3, device="cpu")[0])
    other = _batches(fashion_mnist_loaders(batch_size=1000, seed=4, device="cpu")[0])
    for (images_a, labels_a), (images_b, labels_b) in zip(first, second, strict=True):
        assert torch.equal(images_a, images_b)
        assert torch.equal(labels_a, labels_b)
    assert not torch.equal(first[0][1], other[0][1])
    subset_labels = torch.from_numpy(load_fashion_mnist("train")[1])
    assert not torch.equal(torch.cat([labels for _, labels in first]), subset_labels)


def test_training_loader_reshuffles_each_epoch_and_test_loader_keeps_its_order(shipped_data):
    train, test = fashion_mnist_loaders(batch_size=2000, seed=0, device="cpu")
    epoch_one, epoch_two = _batches(train), _batches(train)
    assert not torch.equal(epoch_one[0][1], epoch_two[0][1])
    test_labels = torch.cat([labels for _, labels in test])
    assert torch.equal(test_labels, torch.from_numpy(load_fashion_mnist("test")[1]))


def _image_counts(images):
    """How often each distinct image occurs (a multiset of images), for exact comparisons."""
    return Counter(image.numpy().tobytes() for image in images)


def test_validation_split_is_stratified_disjoint_and_seeded(shipped_data):
    train, val, test = fashion_mnist_loaders(batch_size=1000, val_fraction=0.1, device="cpu")
    assert len(train.dataset) == 9_000 and len(val.dataset) == 1_000
    assert len(test.dataset) == 2_000
    val_labels = torch.cat([labels for _, labels in val])
    assert torch.bincount(val_labels, minlength=10).tolist() == [100] * 10
    train_images = torch.cat([images for images, _ in train])
    val_images = torch.cat([images for images, _ in val])
    subset_images = torch.from_numpy(load_fashion_mnist("train")[0])
    assert _image_counts(train_images) + _image_counts(val_images) == _image_counts(subset_images)
    again = fashion_mnist_loaders(batch_size=1000, val_fraction=0.1, device="cpu")[1]
    assert torch.equal(torch.cat([images for images, _ in again]), val_images)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"batch_size": 0}, "batch_size"),
        ({"val_fraction": 1.0}, "val_fraction"),
        ({"val_fraction": -0.1}, "val_fraction"),
        ({"num_workers": -1}, "num_workers"),
    ],
)
def test_loaders_refuse_bad_arguments_with_the_argument_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        fashion_mnist_loaders(**kwargs)


def test_loaders_pin_memory_for_a_cuda_device(shipped_data, monkeypatch):
    monkeypatch.setattr(data, "get_device", lambda device=None: torch.device("cuda"))
    train, test = fashion_mnist_loaders(batch_size=256)
    assert train.pin_memory and test.pin_memory


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_loaders_for_cuda_pin_memory_and_batches_reach_the_gpu_unchanged(shipped_data):
    train, test = fashion_mnist_loaders(batch_size=256, device="cuda")
    assert train.pin_memory and test.pin_memory
    images, labels = next(iter(test))
    assert images.is_pinned()
    on_gpu = to_device((images, labels), "cuda", non_blocking=True)
    assert on_gpu[0].device.type == "cuda" and on_gpu[1].device.type == "cuda"
    assert torch.equal(on_gpu[0].cpu(), images) and torch.equal(on_gpu[1].cpu(), labels)
    gpu_images, _ = load_fashion_mnist("test", as_tensors=True, device="cuda")
    assert gpu_images.device.type == "cuda" and gpu_images.shape == (2000, 1, 28, 28)


# ---- photos


def test_list_photos_names_the_shipped_photographs(shipped_data):
    assert list_photos() == ["astronaut", "brick", "camera", "chelsea", "coffee", "rocket"]


@pytest.mark.parametrize("name", ["astronaut", "brick", "camera", "chelsea", "coffee", "rocket"])
def test_each_photo_loads_as_rgb_float32_in_unit_range_with_a_224_short_side(shipped_data, name):
    photo = load_photo(name)
    assert photo.ndim == 3 and photo.shape[2] == 3
    assert min(photo.shape[:2]) == 224
    assert photo.dtype == np.float32
    assert 0.0 <= photo.min() and photo.max() <= 1.0
    assert photo.std() > 0.05  # a real picture, not a flat image


def test_grey_photos_have_three_equal_channels_and_colour_photos_do_not(shipped_data):
    camera = load_photo("camera.jpg")
    np.testing.assert_array_equal(camera[..., 0], camera[..., 2])
    coffee = load_photo("coffee")
    assert np.abs(coffee[..., 0] - coffee[..., 2]).max() > 0.2


def test_unknown_photo_name_lists_the_available_ones(shipped_data):
    with pytest.raises(ValueError, match="astronaut, brick"):
        load_photo("lena")


def test_shipped_photos_are_at_most_60_kb(shipped_data):
    for path in (shipped_data / "photos").iterdir():
        assert path.stat().st_size <= 60_000, path.name


def test_corrupted_photo_raises_a_checksum_error(data_copy):
    path = data_copy / "photos" / "chelsea.jpg"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(ChecksumError, match="chelsea.jpg"):
        load_photo("chelsea")
