"""Rewrite data/SHA256SUMS.txt: the SHA-256 of every shipped data file.

Run after changing any file in data/ (the two build scripts run it themselves):

    python data/update_sha256sums.py

The format is that of ``sha256sum``, so ``cd data && sha256sum -c SHA256SUMS.txt`` checks the
files by hand; ``course_utils.data`` checks each file against it when loading. Listed: every
file in data/ and data/photos/ except this folder's scripts, README.md and SHA256SUMS.txt.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent
CHECKSUMS_FILE = "SHA256SUMS.txt"
NOT_LISTED = {CHECKSUMS_FILE, "README.md"}


def shipped_files(directory: Path) -> list[str]:
    """Paths relative to ``directory`` of the files to list, sorted."""
    names = []
    for path in sorted(directory.rglob("*")):
        relative = path.relative_to(directory).as_posix()
        if not path.is_file() or path.name in NOT_LISTED or path.suffix == ".py":
            continue
        if "__pycache__" in relative or relative.startswith("."):
            continue
        names.append(relative)
    return names


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_sha256sums(directory: Path = DATA_DIR) -> Path:
    """Write ``directory/SHA256SUMS.txt`` and return its path."""
    lines = [f"{sha256_of(directory / name)}  {name}\n" for name in shipped_files(directory)]
    path = directory / CHECKSUMS_FILE
    path.write_text("".join(lines), encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    directory = Path(argv[0]) if argv else DATA_DIR
    path = write_sha256sums(directory)
    print(path.read_text(encoding="utf-8"), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
