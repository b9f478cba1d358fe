"""Build data/photos/ from scikit-image's bundled sample images (public domain and CC0 only).

    pip download --no-deps scikit-image==0.26.0 -d /tmp/skimage
    python -m zipfile -e /tmp/skimage/scikit_image-0.26.0-*.whl /tmp/skimage/unpacked
    python data/build_photos.py /tmp/skimage/unpacked/skimage/data

scikit-image is not a dependency of the course: its wheel is only the source of the files.
Each source file is checked against the SHA-256 that scikit-image's own registry
(skimage/data/_registry.py) records for it, resized with Pillow (Lanczos) so that its short
side is 224 pixels, and saved as a baseline JPEG (quality 90, no metadata). Grey sources stay
grey (one channel); ``course_utils.data.load_photo`` returns every photo as RGB.
data/SHA256SUMS.txt is rewritten afterwards.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

from PIL import Image

DATA_DIR = Path(__file__).resolve().parent
PHOTO_DIR = DATA_DIR / "photos"
SHORT_SIDE = 224
JPEG_QUALITY = 90
MAX_BYTES = 60_000

# name: (source file, its SHA-256 in skimage/data/_registry.py of scikit-image 0.26.0,
#        licence as stated in the docstring of skimage.data.<name>)
PHOTOS = {
    "astronaut": (
        "astronaut.png",
        "88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5",
        "public domain (NASA)",
    ),
    "brick": (
        "brick.png",
        "7966caf324f6ba843118d98f7a07746d22f6a343430add0233eca5f6eaaa8fcf",
        "CC0 (CC0Textures)",
    ),
    "camera": (
        "camera.png",
        "b0793d2adda0fa6ae899c03989482bff9a42d3d5690fc7e3648f2795d730c23a",
        "CC0 (Lav Varshney)",
    ),
    "chelsea": (
        "chelsea.png",
        "596aa1e7cb875eb79f437e310381d26b338a81c2da23439704a73c4651e8c4bb",
        "CC0 (Stefan van der Walt)",
    ),
    "coffee": (
        "coffee.png",
        "cc02f8ca188b167c775a7101b5d767d1e71792cf762c33d6fa15a4599b5a8de7",
        "CC0 (Rachel Michetti)",
    ),
    "rocket": (
        "rocket.jpg",
        "c2dd0de7c538df8d111e479619b129464d0269d0ae5fd18ca91d33a7fdfea95c",
        "public domain (SpaceX)",
    ),
}


def build_photo(source: Path, output: Path) -> tuple[int, int]:
    """Resize ``source`` to a 224-pixel short side and save it as ``output`` (JPEG).

    Returns:
        (width, height) of the result.
    """
    with Image.open(source) as image:
        image = image.convert("L" if image.mode in ("L", "1", "I;16") else "RGB")
        scale = SHORT_SIDE / min(image.size)
        size = (round(image.width * scale), round(image.height * scale))
        resized = image.resize(size, Image.Resampling.LANCZOS)
    resized.save(output, "JPEG", quality=JPEG_QUALITY, optimize=True)
    return size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="scikit-image's skimage/data directory")
    args = parser.parse_args(argv)

    PHOTO_DIR.mkdir(exist_ok=True)
    for name, (file_name, expected, licence) in PHOTOS.items():
        source = args.source / file_name
        got = hashlib.sha256(source.read_bytes()).hexdigest()
        if got != expected:
            raise SystemExit(f"{source}: SHA-256 expected {expected}, got {got}; not built.")
        output = PHOTO_DIR / f"{name}.jpg"
        width, height = build_photo(source, output)
        size = output.stat().st_size
        if size > MAX_BYTES:
            raise SystemExit(f"{output} is {size:,} bytes, over the {MAX_BYTES:,}-byte limit.")
        print(f"{output.relative_to(DATA_DIR)}: {width}x{height}, {size:,} bytes, {licence}")

    from update_sha256sums import write_sha256sums

    print(f"updated {write_sha256sums(DATA_DIR)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
