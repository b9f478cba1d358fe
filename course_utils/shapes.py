"""A generated detection and segmentation dataset: shapes on textured backgrounds.

Every image shows one to ``max_shapes`` circles, squares and triangles, in random colours and
sizes, that do not overlap, on a background of random stripes and noise. Because the images
are drawn, the ground truth is exact: each shape's class, its box and its pixels.

    data = make_shapes(2000, seed=0)       # about a second on one CPU core
    data.images    # (N, 3, H, W) float32 in [0, 1]
    data.masks     # (N, H, W) int64: 0 background, 1 + class for a shape's pixels
    data.boxes[i]  # (K_i, 4) float32 (x1, y1, x2, y2) of image i, in pixels
    data.labels[i] # (K_i,) int64 classes: 0 circle, 1 square, 2 triangle

A shape covers the pixels whose centres (col + 0.5, row + 0.5) lie inside it; its box is the
tight box of those pixels in continuous coordinates (x2 - x1 is the width in pixels), the
convention of ``course_utils.reference.box_iou``. The same seed gives the same images.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["CLASS_NAMES", "ShapesData", "make_shapes"]

CLASS_NAMES = ("circle", "square", "triangle")


@dataclass
class ShapesData:
    """Images, segmentation masks, boxes and labels of a generated shapes dataset.

    images: (N, 3, H, W) float32 in [0, 1]. masks: (N, H, W) int64, 0 background and
    1 + class on a shape. boxes: N arrays (K_i, 4) float32 (x1, y1, x2, y2). labels: N arrays
    (K_i,) int64. class_names: the names of classes 0, 1, 2.
    """

    images: np.ndarray
    masks: np.ndarray
    boxes: list[np.ndarray]
    labels: list[np.ndarray]
    class_names: tuple[str, ...] = CLASS_NAMES

    def __len__(self) -> int:
        return len(self.images)

    def subset(self, start: int, stop: int) -> ShapesData:
        """Images start..stop-1, as a new ShapesData (arrays are views)."""
        return ShapesData(
            self.images[start:stop],
            self.masks[start:stop],
            self.boxes[start:stop],
            self.labels[start:stop],
            self.class_names,
        )


def _background(rng: np.random.Generator, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """Random stripes of two colours plus pixel noise: (3, H, W) float in [0, 1]."""
    angle = rng.uniform(0, np.pi)
    period = rng.uniform(4, 16)
    phase = rng.uniform(0, 2 * np.pi)
    wave = 0.5 + 0.5 * np.sin(
        (xs * np.cos(angle) + ys * np.sin(angle)) * 2 * np.pi / period + phase
    )
    low, high = rng.uniform(0.15, 0.55, size=(2, 3, 1, 1))
    image = low + (high - low) * wave  # (3, H, W)
    image = image + rng.normal(0, 0.04, size=image.shape)
    return image


def _inside(kind: int, cx: float, cy: float, r: float, ys: np.ndarray, xs: np.ndarray):
    """Which pixel centres lie inside a shape of class kind, centre (cx, cy), size r: (H, W) bool."""
    if kind == 0:  # circle of radius r
        return (xs - cx) ** 2 + (ys - cy) ** 2 <= r**2
    if kind == 1:  # axis-aligned square of half-side r
        return (np.abs(xs - cx) <= r) & (np.abs(ys - cy) <= r)
    # isosceles triangle, apex up, base 2r wide, height 2r
    top, bottom = cy - r, cy + r
    half_width = (ys - top) / 2  # the triangle widens by 1 per 2 rows going down
    return (ys >= top) & (ys <= bottom) & (np.abs(xs - cx) <= half_width)


def _near(box: np.ndarray, other: np.ndarray, gap: float = 2.0) -> bool:
    """Whether two boxes overlap or come closer than gap pixels."""
    return bool(
        box[0] < other[2] + gap
        and other[0] < box[2] + gap
        and box[1] < other[3] + gap
        and other[1] < box[3] + gap
    )


def make_shapes(
    num_images: int,
    image_size: int = 64,
    max_shapes: int = 3,
    min_size: int = 8,
    max_size: int = 24,
    seed: int = 0,
) -> ShapesData:
    """Generate num_images images of shapes on textured backgrounds, with exact ground truth.

    Args:
        num_images: N, a positive int.
        image_size: side of the square images, in pixels (at least 2 * max_size).
        max_shapes: each image holds between 1 and max_shapes shapes that do not overlap
            (their boxes are at least 2 pixels apart); fewer when they do not fit.
        min_size, max_size: range of a shape's width and height, in pixels.
        seed: the same seed gives the same dataset.

    Returns:
        A ShapesData (images (N, 3, H, W) float32, masks (N, H, W) int64, boxes, labels).
    """
    if isinstance(num_images, bool) or not isinstance(num_images, int) or num_images < 1:
        raise ValueError(f"num_images must be a positive int, got {num_images!r}.")
    if not 2 <= min_size <= max_size or image_size < 2 * max_size:
        raise ValueError(
            "need 2 <= min_size <= max_size and image_size >= 2 * max_size, got "
            f"min_size={min_size}, max_size={max_size}, image_size={image_size}."
        )
    if max_shapes < 1:
        raise ValueError(f"max_shapes must be at least 1, got {max_shapes}.")
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:image_size, 0:image_size] + 0.5  # pixel centres, (H, W) each
    images = np.empty((num_images, 3, image_size, image_size), dtype=np.float32)
    masks = np.zeros((num_images, image_size, image_size), dtype=np.int64)
    all_boxes, all_labels = [], []
    for n in range(num_images):
        image = _background(rng, ys, xs)
        boxes, labels = [], []
        wanted = int(rng.integers(1, max_shapes + 1))
        for _ in range(20 * wanted):  # tries: a crowded image may hold fewer shapes
            if len(boxes) == wanted:
                break
            kind = int(rng.integers(0, 3))
            r = rng.uniform(min_size, max_size) / 2
            cx, cy = rng.uniform(r + 1, image_size - r - 1, size=2)
            inside = _inside(kind, cx, cy, r, ys, xs)
            rows, cols = np.nonzero(inside)
            if rows.size == 0:
                continue
            box = np.array([cols.min(), rows.min(), cols.max() + 1, rows.max() + 1], np.float32)
            if any(_near(box, other) for other in boxes):
                continue
            colour = rng.uniform(0, 1, size=3)
            colour[rng.integers(0, 3)] = rng.choice([0.0, 1.0])  # saturated, unlike the backdrop
            image[:, inside] = colour[:, None] + rng.normal(0, 0.03, size=(3, rows.size))
            masks[n][inside] = 1 + kind
            boxes.append(box)
            labels.append(kind)
        images[n] = np.clip(image, 0, 1)
        all_boxes.append(np.array(boxes, dtype=np.float32).reshape(-1, 4))
        all_labels.append(np.array(labels, dtype=np.int64))
    return ShapesData(images, masks, all_boxes, all_labels)
