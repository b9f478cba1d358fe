"""The data the course trains on and looks at, loaded offline from the shipped ``data/``.

- Fashion-MNIST (Zalando Research, MIT licence): 28x28 grey images of clothes in 10 classes.
  A class-balanced subset ships with the package (1,000 training and 200 test images per
  class, drawn from the official splits); the full 60,000/10,000 come from a directory of the
  original IDX files (Debian's ``dataset-fashion-mnist`` package, a torchvision download) or,
  when asked, from the official download.
- A few public-domain and CC0 photographs for looking at filters and feature maps.

Every shipped file is checked against ``data/SHA256SUMS.txt`` when it is loaded, and every
original Fashion-MNIST file against its published checksum, so a truncated or altered file
raises an error instead of giving quietly wrong numbers. ``data/README.md`` says where each
file came from and under which licence.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import site
import sys
import sysconfig
import tempfile
import urllib.request
from pathlib import Path

import numpy as np
import torch

from course_utils.device import get_device

DATA_ENV_VAR = "CNN_COURSE_DATA"
CHECKSUMS_FILE = "SHA256SUMS.txt"
SUBSET_FILE = "fashion_mnist_subset.npz"
PHOTO_DIR = "photos"

FASHION_MNIST_CLASSES = (
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

SPLITS = ("train", "test")

# The official files. "gz_md5" is what the Fashion-MNIST README publishes for each .gz file;
# "raw_md5" and "raw_sha256" identify the decompressed IDX bytes. A copy that was recompressed
# (Debian's package is one: its .gz wrappers differ, their contents do not) is accepted when
# its contents match. See data/README.md.
FASHION_MNIST_FILES = {
    "train-images-idx3-ubyte.gz": {
        "gz_md5": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "raw_md5": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
        "raw_sha256": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    },
    "train-labels-idx1-ubyte.gz": {
        "gz_md5": "25c81989df183df01b3e8a0aad5dffbe",
        "raw_md5": "9018921c3c673c538a1fc5bad174d6f9",
        "raw_sha256": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    },
    "t10k-images-idx3-ubyte.gz": {
        "gz_md5": "bef4ecab320f06d8554ea6380940ec79",
        "raw_md5": "8181f5470baa50b63fa0f6fddb340f0a",
        "raw_sha256": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    },
    "t10k-labels-idx1-ubyte.gz": {
        "gz_md5": "bb300cfdad3c16e7a12a480ee83cd310",
        "raw_md5": "15d484375f8d13e6eb1aabb0c3f46965",
        "raw_sha256": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
}
SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
DEBIAN_FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_MIRRORS = (
    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
)


class ChecksumError(RuntimeError):
    """A data file's contents differ from its recorded checksum (corrupt or altered file)."""


# ---------------------------------------------------------------------------------------
# Where the shipped data lives, and checking it


def _installed_data_dirs() -> list[Path]:
    """Where a non-editable install puts ``data/`` (pyproject's data-files), most likely first.

    ``sys.prefix`` covers virtual environments and conda; ``sysconfig``'s data path covers
    interpreters whose pip installs under /usr/local (Debian, Ubuntu, Colab); the user base
    covers ``pip install --user``.
    """
    roots = [Path(sys.prefix), Path(sysconfig.get_path("data"))]
    if site.USER_BASE:
        roots.append(Path(site.USER_BASE))
    dirs: list[Path] = []
    for root in roots:
        candidate = root / "share" / "cnn-course" / "data"
        if candidate not in dirs:
            dirs.append(candidate)
    return dirs


def _candidate_data_dirs() -> list[Path]:
    """Every directory ``data_dir`` considers, in order (without the environment variable)."""
    return [Path(__file__).resolve().parent.parent / "data", *_installed_data_dirs()]


def data_dir() -> Path:
    """The directory that holds the shipped data files.

    Order: ``$CNN_COURSE_DATA`` when it is set (used as it is, even if empty, so that a
    mistake shows up as a clear "file not found"); else the repository's ``data/`` next to
    the package (a git checkout or an editable install); else ``<prefix>/share/cnn-course/data``
    where a regular ``pip install`` puts it. A directory counts when it holds
    ``SHA256SUMS.txt``.

    Returns:
        The directory. When no candidate holds the data, the repository's ``data/`` is
        returned and loading a file from it raises FileNotFoundError saying where it looked.
    """
    override = os.environ.get(DATA_ENV_VAR, "").strip()
    if override:
        return Path(override).expanduser()
    candidates = _candidate_data_dirs()
    for candidate in candidates:
        if (candidate / CHECKSUMS_FILE).is_file():
            return candidate
    return candidates[0]


def use_data_archive(url: str, target: str | Path | None = None) -> Path:
    """Download an archive of the data folder, unpack it and use it (set ``$CNN_COURSE_DATA``).

    For a course package installed without its data: the Colab setup cell of a release calls
    this when the course configures a data archive. When ``$CNN_COURSE_DATA`` is set already
    (the archive was unpacked by an earlier run of the cell), nothing is downloaded.

    Args:
        url: address of a ``.zip``, ``.tar``, ``.tar.gz`` or ``.tgz`` archive holding the data
            folder: ``SHA256SUMS.txt`` at its top, or inside its one top folder.
        target: the folder to unpack into; default ``./cnn-course-data``.

    Returns:
        The data directory now in use (``data_dir()``).

    Raises:
        FileNotFoundError: the unpacked archive holds no ``SHA256SUMS.txt``.
    """
    if os.environ.get(DATA_ENV_VAR, "").strip():
        return data_dir()
    folder = Path(target if target is not None else Path.cwd() / "cnn-course-data")
    archive, _ = urllib.request.urlretrieve(url)
    kind = "zip" if url.endswith(".zip") else "gztar" if url.endswith(("gz", "tgz")) else "tar"
    shutil.unpack_archive(archive, folder, format=kind)
    inner = [entry for entry in folder.iterdir() if entry.is_dir()]
    if not (folder / CHECKSUMS_FILE).is_file() and len(inner) == 1:
        folder = inner[0]  # the archive holds one top folder
    if not (folder / CHECKSUMS_FILE).is_file():
        raise FileNotFoundError(
            f"the data archive {url} unpacked to {folder} holds no {CHECKSUMS_FILE}; expected "
            "an archive of the course's data/ folder (with that file at its top)."
        )
    os.environ[DATA_ENV_VAR] = str(folder)
    return data_dir()


def _where_we_looked() -> str:
    override = os.environ.get(DATA_ENV_VAR, "").strip()
    if override:
        return f"{Path(override).expanduser()} (from ${DATA_ENV_VAR})"
    return ", ".join(str(path) for path in _candidate_data_dirs())


def _missing_data_error(relative: str, directory: Path) -> FileNotFoundError:
    return FileNotFoundError(
        f"cnn-course data file {relative!r} not found in {directory}. "
        f"Looked in: {_where_we_looked()}. "
        f"To fix: reinstall cnn-course the way it was installed (`pip install -e .` in a "
        f"checkout, or `pip install --force-reinstall <same source>`), or set ${DATA_ENV_VAR} to a directory that "
        f"holds {relative} and {CHECKSUMS_FILE} (a copy of the repository's data/ folder)."
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _recorded_checksums(directory: Path) -> dict[str, str]:
    """Parse ``SHA256SUMS.txt`` (``sha256sum`` format: "<hex>  <relative path>" per line)."""
    path = directory / CHECKSUMS_FILE
    if not path.is_file():
        raise _missing_data_error(CHECKSUMS_FILE, directory)
    checksums = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        digest, name = line.split(maxsplit=1)
        checksums[name.strip().lstrip("*")] = digest.lower()
    return checksums


def _verified_data_file(relative: str) -> Path:
    """The path of shipped file ``relative`` (e.g. "photos/chelsea.jpg"), after checking it.

    Raises:
        FileNotFoundError: the file, or SHA256SUMS.txt, is missing (says where we looked).
        ChecksumError: the file's SHA-256 differs from the one in SHA256SUMS.txt.
    """
    directory = data_dir()
    path = directory / relative
    if not path.is_file():
        raise _missing_data_error(relative, directory)
    checksums = _recorded_checksums(directory)
    if relative not in checksums:
        raise ChecksumError(
            f"{path} has no entry in {directory / CHECKSUMS_FILE}, so it cannot be checked. "
            "Reinstall the package, or copy SHA256SUMS.txt from the same release as the file."
        )
    got = _sha256(path)
    if got != checksums[relative]:
        raise ChecksumError(
            f"{path} is corrupt or was altered: SHA-256 expected {checksums[relative]}, got "
            f"{got}. Reinstall cnn-course (`pip install --force-reinstall <same source>`) or "
            f"restore the file from the repository (`git checkout -- data/{relative}`)."
        )
    return path


# ---------------------------------------------------------------------------------------
# The original Fashion-MNIST files: checking, parsing, finding, downloading


def verify_fashion_mnist_file(path: str | Path) -> bytes:
    """Check one original Fashion-MNIST ``.gz`` file and return its decompressed bytes.

    Accepted when the ``.gz`` file's MD5 is the published one, or when its decompressed
    contents have the known MD5 and SHA-256 (a recompressed copy, e.g. Debian's).

    Args:
        path: e.g. ".../train-images-idx3-ubyte.gz"; the name must be one of the four
            official names.

    Returns:
        The decompressed IDX bytes.

    Raises:
        ValueError: the file name is not one of the four official names.
        ChecksumError: neither the file nor its contents match (expected vs got).
    """
    path = Path(path)
    if path.name not in FASHION_MNIST_FILES:
        raise ValueError(
            f"{path.name!r} is not an official Fashion-MNIST file; expected one of "
            f"{', '.join(FASHION_MNIST_FILES)}."
        )
    expected = FASHION_MNIST_FILES[path.name]
    compressed = path.read_bytes()
    gz_md5 = hashlib.md5(compressed, usedforsecurity=False).hexdigest()
    try:
        raw = gzip.decompress(compressed)
    except (OSError, EOFError) as error:
        raise ChecksumError(
            f"{path} is not a readable gzip file ({error}); MD5 expected {expected['gz_md5']}, "
            f"got {gz_md5}. Delete it and get the file again."
        ) from None
    if gz_md5 == expected["gz_md5"]:
        return raw
    raw_md5 = hashlib.md5(raw, usedforsecurity=False).hexdigest()
    raw_sha256 = hashlib.sha256(raw).hexdigest()
    if raw_md5 == expected["raw_md5"] and raw_sha256 == expected["raw_sha256"]:
        return raw
    raise ChecksumError(
        f"{path} is corrupt or not the official Fashion-MNIST file: MD5 of the .gz expected "
        f"{expected['gz_md5']}, got {gz_md5}; SHA-256 of its contents expected "
        f"{expected['raw_sha256']}, got {raw_sha256}. Delete it and get the file again "
        "(reinstall dataset-fashion-mnist, or load with download=True)."
    )


def parse_idx(raw: bytes) -> np.ndarray:
    """Parse the IDX format of (Fashion-)MNIST into a uint8 array.

    Layout: two zero bytes, a type byte (0x08 = unsigned byte), the number of dimensions d,
    then d big-endian int32 sizes, then the data in row-major order.

    Args:
        raw: the decompressed file.

    Returns:
        uint8 array of shape (N,) for labels or (N, 28, 28) for images.

    Raises:
        ValueError: the bytes are not an unsigned-byte IDX file of the size they announce.
    """
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(
            f"not an unsigned-byte IDX file: header expected 00 00 08 <d>, got {raw[:4].hex(' ')}."
        )
    ndim = raw[3]
    header = 4 + 4 * ndim
    shape = tuple(int(size) for size in np.frombuffer(raw, dtype=">i4", count=ndim, offset=4))
    expected = header + int(np.prod(shape))
    if len(raw) != expected:
        raise ValueError(
            f"IDX file announces shape {shape} ({expected} bytes with the header), "
            f"but has {len(raw)} bytes."
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape).copy()


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cnn-course" / "fashion-mnist"


def _source_layouts(root: Path) -> list[Path]:
    """A directory of the .gz files, or torchvision's layout below it."""
    return [root, root / "FashionMNIST" / "raw"]


def _find_source_dir(root: Path | None) -> Path | None:
    """The first directory holding all four official .gz files, or None."""
    roots = [root] if root is not None else [DEBIAN_FASHION_MNIST_DIR, _cache_dir()]
    for base in roots:
        for candidate in _source_layouts(base):
            if all((candidate / name).is_file() for name in FASHION_MNIST_FILES):
                return candidate
    return None


def _download_file(url: str, destination: Path) -> None:
    """Download ``url`` to ``destination`` (an official file name), verifying it first.

    The bytes go to a temporary file next to ``destination`` and are moved into place only
    when ``verify_fashion_mnist_file`` accepts them, so a failed download leaves nothing.
    """
    destination.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=destination.parent) as scratch:
        partial = Path(scratch) / destination.name
        with urllib.request.urlopen(url, timeout=60) as response, partial.open("wb") as out:
            shutil.copyfileobj(response, out)
        verify_fashion_mnist_file(partial)
        partial.replace(destination)


def _download_fashion_mnist(target: Path) -> None:
    """Get the four official files into ``target``: torchvision when it imports, else urllib.

    torchvision puts them in ``target/FashionMNIST/raw`` (and verifies their MD5s itself);
    the urllib path puts them in ``target`` and verifies each before keeping it.
    """
    try:
        import torchvision
    except ImportError:
        torchvision = None
    if torchvision is not None:
        for train in (True, False):
            torchvision.datasets.FashionMNIST(root=str(target), train=train, download=True)
        return
    errors = []
    for name in FASHION_MNIST_FILES:
        if (target / name).is_file():
            continue
        for mirror in FASHION_MNIST_MIRRORS:
            try:
                _download_file(mirror + name, target / name)
                break
            except (OSError, ChecksumError) as error:
                errors.append(f"{mirror + name}: {error}")
        else:
            raise OSError(f"could not download {name} from any mirror:\n  " + "\n  ".join(errors))


def _read_split(source: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    images_name, labels_name = SPLIT_FILES[split]
    images = parse_idx(verify_fashion_mnist_file(source / images_name))
    labels = parse_idx(verify_fashion_mnist_file(source / labels_name))
    if images.shape[0] != labels.shape[0] or images.shape[1:] != (28, 28):
        raise ValueError(
            f"{source}: images {images.shape} and labels {labels.shape} do not make a "
            "Fashion-MNIST split (expected (N, 28, 28) and (N,))."
        )
    return images, labels


def _load_full(split: str, root: str | Path | None, download: bool) -> tuple[np.ndarray, ...]:
    root_path = Path(root).expanduser() if root is not None else None
    source = _find_source_dir(root_path)
    if source is None and download:
        target = root_path if root_path is not None else _cache_dir()
        _download_fashion_mnist(target)
        source = _find_source_dir(target)
    if source is None:
        looked = [root_path] if root_path is not None else [DEBIAN_FASHION_MNIST_DIR, _cache_dir()]
        places = "; ".join(
            f"{path} lacks {', '.join(n for n in FASHION_MNIST_FILES if not (path / n).is_file())}"
            for base in looked
            for path in _source_layouts(base)
        )
        raise FileNotFoundError(
            "the full Fashion-MNIST needs the four official files "
            f"({', '.join(FASHION_MNIST_FILES)}); none of the places looked in has all four: "
            f"{places}. "
            "To get them: load_fashion_mnist(..., subset=False, download=True) downloads them "
            f"(to {root_path if root_path is not None else _cache_dir()}); on Debian or Ubuntu "
            "`apt install dataset-fashion-mnist` installs them in "
            f"{DEBIAN_FASHION_MNIST_DIR}; or pass root=<directory holding them>. "
            "The shipped subset needs none of this: subset=True."
        )
    return _read_split(source, split)


# ---------------------------------------------------------------------------------------
# Fashion-MNIST for students


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f'split must be "train" or "test", got {split!r}.')


def _load_subset(split: str) -> tuple[np.ndarray, np.ndarray]:
    path = _verified_data_file(SUBSET_FILE)
    with np.load(path, allow_pickle=False) as archive:
        return archive[f"{split}_images"], archive[f"{split}_labels"]


def load_fashion_mnist(
    split: str = "train",
    subset: bool = True,
    as_tensors: bool = False,
    device: str | torch.device | None = None,
    normalize: bool = True,
    root: str | Path | None = None,
    download: bool = False,
) -> tuple[np.ndarray, np.ndarray] | tuple[torch.Tensor, torch.Tensor]:
    """Fashion-MNIST images and labels, offline.

    ``subset=True`` (the default) reads the shipped class-balanced subset: 10,000 training
    images (1,000 per class, from the official training split) and 2,000 test images (200
    per class, from the official test split), ordered by their index in the official files.
    ``subset=False`` reads the full 60,000 / 10,000 from the original IDX files in ``root``
    (default: Debian's /usr/share/datasets/fashion-mnist, then ~/.cache/cnn-course); only
    when they are absent and ``download=True`` does it download them (torchvision when it
    imports, else the official URLs, each file checked against its published MD5).

    Labels index ``FASHION_MNIST_CLASSES`` (0 "T-shirt/top" ... 9 "Ankle boot").

    Args:
        split: "train" or "test".
        subset: the shipped subset (True) or the full dataset (False).
        as_tensors: return torch tensors on ``device`` instead of NumPy arrays.
        device: where tensors go (None: ``course_utils.device.get_device()``); ignored when
            ``as_tensors`` is False.
        normalize: float32 in [0, 1] (pixel / 255) when True; the raw uint8 0..255 when False.
        root: with ``subset=False``, a directory holding the four official ``.gz`` files
            (directly or in torchvision's ``FashionMNIST/raw``).
        download: with ``subset=False``, download the files when they are absent.

    Returns:
        images: shape (N, 1, 28, 28), float32 in [0, 1] (or uint8 when normalize=False).
        labels: shape (N,), int64 in 0..9.

    Raises:
        ValueError: ``split`` is not "train" or "test".
        FileNotFoundError: a file is missing (the message says which, where we looked, and
            how to get it).
        ChecksumError: a file is corrupt (expected and actual checksum).
    """
    _check_split(split)
    if subset:
        images, labels = _load_subset(split)
    else:
        images, labels = _load_full(split, root, download)
    images = images.reshape(-1, 1, 28, 28)  # (N, 1, 28, 28)
    if normalize:
        images = images.astype(np.float32) / np.float32(255.0)
    labels = labels.astype(np.int64)
    if not as_tensors:
        return images, labels
    target = get_device(device)
    return torch.from_numpy(images).to(target), torch.from_numpy(labels).to(target)


def _stratified_split(
    labels: torch.Tensor, val_fraction: float, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices (train, val): ``val_fraction`` of each class goes to val, drawn at random."""
    train_parts, val_parts = [], []
    for label in torch.unique(labels):
        members = torch.nonzero(labels == label).flatten()
        members = members[torch.randperm(len(members), generator=generator)]
        n_val = round(val_fraction * len(members))
        val_parts.append(members[:n_val])
        train_parts.append(members[n_val:])
    return torch.sort(torch.cat(train_parts)).values, torch.sort(torch.cat(val_parts)).values


def fashion_mnist_loaders(
    batch_size: int = 128,
    subset: bool = True,
    device: str | torch.device | None = None,
    seed: int = 0,
    val_fraction: float = 0.0,
    num_workers: int = 0,
) -> tuple[torch.utils.data.DataLoader, ...]:
    """DataLoaders over Fashion-MNIST, ready for a training loop.

    Batches are ``(images, labels)``: images float32 (B, 1, 28, 28) in [0, 1], labels int64
    (B,), on the CPU; move them with ``course_utils.device.to_device(batch, device,
    non_blocking=True)``. The training loader reshuffles every epoch with a generator seeded
    by ``seed``, so the same seed gives the same batches in the same order; the validation
    and test loaders keep a fixed order. With a CUDA ``device`` the loaders pin memory.

    Args:
        batch_size: images per batch (the last batch may be smaller).
        subset: the shipped subset (10,000 / 2,000) or the full 60,000 / 10,000.
        device: the device training will run on (None: ``get_device()``); it decides
            ``pin_memory``.
        seed: seeds the shuffling and the validation split.
        val_fraction: in [0, 1); when > 0, that fraction of each class of the training set
            is held out (stratified, chosen with ``seed``) as a validation set.
        num_workers: DataLoader worker processes (0 loads in the main process).

    Returns:
        ``(train_loader, test_loader)`` when ``val_fraction`` is 0, else
        ``(train_loader, val_loader, test_loader)``.

    Raises:
        ValueError: ``batch_size`` < 1, ``val_fraction`` outside [0, 1), ``num_workers`` < 0.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction!r}.")
    if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 0:
        raise ValueError(f"num_workers must be an integer >= 0, got {num_workers!r}.")
    pin_memory = get_device(device).type == "cuda"
    generator = torch.Generator().manual_seed(seed)

    def tensors(split: str) -> tuple[torch.Tensor, torch.Tensor]:
        images, labels = load_fashion_mnist(split, subset=subset)
        return torch.from_numpy(images), torch.from_numpy(labels)

    def loader(images, labels, shuffle):
        return torch.utils.data.DataLoader(
            torch.utils.data.TensorDataset(images, labels),
            batch_size=batch_size,
            shuffle=shuffle,
            generator=generator if shuffle else None,
            num_workers=num_workers,
            pin_memory=pin_memory,
        )

    train_images, train_labels = tensors("train")
    test_loader = loader(*tensors("test"), shuffle=False)
    if val_fraction == 0.0:
        return loader(train_images, train_labels, shuffle=True), test_loader
    train_index, val_index = _stratified_split(train_labels, val_fraction, generator)
    train_loader = loader(train_images[train_index], train_labels[train_index], shuffle=True)
    val_loader = loader(train_images[val_index], train_labels[val_index], shuffle=False)
    return train_loader, val_loader, test_loader


# ---------------------------------------------------------------------------------------
# Photographs

PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png")


def list_photos() -> list[str]:
    """Names of the shipped photographs (for ``load_photo``), sorted, e.g. ["astronaut", ...].

    Raises:
        FileNotFoundError: the photo directory is missing (says where we looked).
    """
    directory = data_dir()
    photos = directory / PHOTO_DIR
    if not photos.is_dir():
        raise _missing_data_error(PHOTO_DIR + "/", directory)
    return sorted(path.stem for path in photos.iterdir() if path.suffix.lower() in PHOTO_SUFFIXES)


def load_photo(name: str) -> np.ndarray:
    """One shipped photograph as an RGB array (grey photographs are repeated on 3 channels).

    Args:
        name: one of ``list_photos()`` (a file name such as "chelsea.jpg" works too).

    Returns:
        float32 array of shape (H, W, 3), values in [0, 1]; H, W as in data/README.md (the
        short side is 224 pixels).

    Raises:
        ValueError: no photograph has that name (the message lists them).
        FileNotFoundError, ChecksumError: as for the other shipped files.
    """
    from PIL import Image  # Pillow comes with matplotlib

    stem = Path(name).stem
    available = list_photos()
    if stem not in available:
        raise ValueError(f"no photograph named {name!r}; choose one of {', '.join(available)}.")
    photos = data_dir() / PHOTO_DIR
    file_name = next(
        path.name
        for path in sorted(photos.iterdir())
        if path.stem == stem and path.suffix.lower() in PHOTO_SUFFIXES
    )
    path = _verified_data_file(f"{PHOTO_DIR}/{file_name}")
    with Image.open(path) as image:
        rgb = np.asarray(image.convert("RGB"))  # (H, W, 3) uint8
    return rgb.astype(np.float32) / np.float32(255.0)
