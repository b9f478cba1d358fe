"""Build data/fashion_mnist_subset.npz from the original Fashion-MNIST IDX files.

    python data/build_fashion_mnist_subset.py [SOURCE_DIR] [--output PATH] [--seed 0]

SOURCE_DIR holds the four official .gz files (default: Debian's dataset-fashion-mnist,
/usr/share/datasets/fashion-mnist). Each file is checked first: its MD5 against the one the
Fashion-MNIST README publishes, or, for a recompressed copy such as Debian's, the MD5 and
SHA-256 of its decompressed contents.

The subset is class-balanced: for each class, the images of that class in the official
training split are ranked by SHA-256("fashion-mnist-subset:<seed>:train:<index>") and the
first 1,000 kept; likewise 200 per class from the official test split. This draw depends only
on the seed and the indices, not on a random number generator's version, so every machine
and every NumPy draws the same images. The kept indices are sorted; the images and labels are
stored in that order.

The archive is an ordinary ``.npz`` (``np.load``) with fixed zip timestamps, so rebuilding it
with the same zlib gives the same bytes. Arrays:
    train_images (10000, 28, 28) uint8,  train_labels (10000,) uint8,  train_indices (10000,) int64
    test_images (2000, 28, 28) uint8,    test_labels (2000,) uint8,    test_indices (2000,) int64
    class_names (10,) str,  seed () int64
where ``*_indices`` are positions in the official train / t10k files.

When the output is data/fashion_mnist_subset.npz, data/SHA256SUMS.txt is rewritten too.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import sys
import zipfile
from pathlib import Path

import numpy as np

DATA_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(DATA_DIR.parent))  # course_utils, when run from a plain checkout

from course_utils.data import (  # noqa: E402
    DEBIAN_FASHION_MNIST_DIR,
    FASHION_MNIST_CLASSES,
    SPLIT_FILES,
    parse_idx,
    verify_fashion_mnist_file,
)

DEFAULT_OUTPUT = DATA_DIR / "fashion_mnist_subset.npz"
PER_CLASS = {"train": 1000, "test": 200}
ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # the earliest date zip can store; fixed for reproducibility


def _rank_key(seed: int, split: str, index: int) -> bytes:
    return hashlib.sha256(f"fashion-mnist-subset:{seed}:{split}:{index}".encode()).digest()


def choose_indices(labels: np.ndarray, per_class: int, seed: int, split: str) -> np.ndarray:
    """Sorted indices of ``per_class`` images of each class, drawn by hash rank.

    Args:
        labels: official labels of the split, shape (N,), values 0..9.
        per_class: images to keep from each class.
        seed: selects the draw.
        split: "train" or "test" (part of the hash, so the two splits draw independently).

    Returns:
        int64 array of shape (10 * per_class,), ascending.
    """
    chosen = []
    for label in range(len(FASHION_MNIST_CLASSES)):
        members = np.flatnonzero(labels == label)
        if len(members) < per_class:
            raise ValueError(
                f"class {label} has {len(members)} images in the {split} split; "
                f"cannot draw {per_class}."
            )
        ranked = sorted(members.tolist(), key=lambda index: _rank_key(seed, split, index))
        chosen.extend(ranked[:per_class])
    return np.array(sorted(chosen), dtype=np.int64)


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` as a compressed .npz with fixed timestamps (same input, same bytes)."""
    with zipfile.ZipFile(path, "w") as archive:
        for key, array in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=ZIP_DATE)
            info.external_attr = 0o644 << 16
            archive.writestr(
                info, buffer.getvalue(), compress_type=zipfile.ZIP_DEFLATED, compresslevel=6
            )


def build(source: Path, output: Path, seed: int = 0) -> dict[str, np.ndarray]:
    """Read, check and subsample the official files; write ``output``; return the arrays."""
    arrays: dict[str, np.ndarray] = {}
    for split, (images_name, labels_name) in SPLIT_FILES.items():
        images = parse_idx(verify_fashion_mnist_file(source / images_name))  # (N, 28, 28)
        labels = parse_idx(verify_fashion_mnist_file(source / labels_name))  # (N,)
        indices = choose_indices(labels, PER_CLASS[split], seed, split)
        arrays[f"{split}_images"] = images[indices]
        arrays[f"{split}_labels"] = labels[indices]
        arrays[f"{split}_indices"] = indices
    arrays["class_names"] = np.array(FASHION_MNIST_CLASSES)
    arrays["seed"] = np.array(seed, dtype=np.int64)
    output.parent.mkdir(parents=True, exist_ok=True)
    write_npz(output, arrays)
    return arrays


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "source",
        nargs="?",
        type=Path,
        default=DEBIAN_FASHION_MNIST_DIR,
        help=f"directory of the four official .gz files (default {DEBIAN_FASHION_MNIST_DIR})",
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="the .npz to write")
    parser.add_argument("--seed", type=int, default=0, help="selects the draw (default 0)")
    args = parser.parse_args(argv)

    arrays = build(args.source, args.output, args.seed)
    for split in SPLIT_FILES:
        counts = np.bincount(arrays[f"{split}_labels"], minlength=10)
        print(f"{split}: {len(arrays[f'{split}_labels'])} images, per class {counts.tolist()}")
    print(f"wrote {args.output} ({args.output.stat().st_size:,} bytes)")
    if args.output.resolve() == DEFAULT_OUTPUT:
        from update_sha256sums import write_sha256sums

        print(f"updated {write_sha256sums(DATA_DIR)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
