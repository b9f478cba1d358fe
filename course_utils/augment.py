"""Data augmentation: PyTorch twins of notebook 06's NumPy functions, and a batch augmenter.

Images are (C, H, W), values in [0, 1]. Coordinates are pixel centres: row ``i`` and column
``j`` of the image, the centre of the image at ``((H - 1) / 2, (W - 1) / 2)``. Every twin has
the student function's name, arguments and meaning, takes tensors (any device, float32 or
float64) and returns them on the input's device and dtype; the functions that draw random
numbers take a ``numpy.random.Generator``. The twins sample with
``torch.nn.functional.grid_sample`` (bilinear, ``align_corners=True``, zeros outside), an
implementation independent of the notebook's NumPy solutions.

``augment_batch`` applies a random flip, translation, rotation and scaling and a change of
intensity to every image of a batch, on the batch's device: what the notebook trains with.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    "random_flip",
    "translate",
    "bilinear_sample",
    "rotate_scale",
    "elastic_field",
    "adjust_intensity",
    "gaussian_kernel",
    "augment_batch",
    "AugmentedBatches",
]


def random_flip(x: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """Twin of random_flip: x (C, H, W) mirrored left-right when ``rng.random() < 0.5``."""
    return x.flip(-1) if rng.random() < 0.5 else x.clone()


def translate(x: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """Twin of translate: x (C, H, W) moved down by dy rows and right by dx columns.

    out[c, i, j] = x[c, i - dy, j - dx] where that is inside the image, else 0 (negative
    shifts move up and left; shifts as large as the image leave only zeros).
    """
    out = torch.zeros_like(x)
    height, width = x.shape[-2:]
    if abs(dy) >= height or abs(dx) >= width:
        return out
    source = x[..., max(0, -dy) : height - max(0, dy), max(0, -dx) : width - max(0, dx)]
    out[..., max(0, dy) : height - max(0, -dy), max(0, dx) : width - max(0, -dx)] = source
    return out


def bilinear_sample(x: torch.Tensor, ys: torch.Tensor, xs: torch.Tensor) -> torch.Tensor:
    """Twin of bilinear_sample: x (C, H, W) read at the points (ys, xs), each (H_out, W_out).

    out[c, i, j] is x[c] at row ys[i, j], column xs[i, j], interpolated bilinearly from the
    four surrounding pixels; a pixel outside the image counts as 0. Needs H, W >= 2.
    """
    height, width = x.shape[-2:]
    if height < 2 or width < 2:
        raise ValueError(f"bilinear_sample needs H, W >= 2, got an image {tuple(x.shape)}.")
    grid = torch.stack(
        (2 * xs / (width - 1) - 1, 2 * ys / (height - 1) - 1), dim=-1
    )  # (H_out, W_out, 2): (x, y) in [-1, 1]
    out = F.grid_sample(
        x[None], grid[None].to(x.dtype), mode="bilinear", padding_mode="zeros", align_corners=True
    )  # (1, C, H_out, W_out)
    return out[0]


def _centred_grid(height: int, width: int, like: torch.Tensor) -> tuple[torch.Tensor, ...]:
    rows = torch.arange(height, dtype=like.dtype, device=like.device) - (height - 1) / 2
    cols = torch.arange(width, dtype=like.dtype, device=like.device) - (width - 1) / 2
    return torch.meshgrid(rows, cols, indexing="ij")  # v (H, W) down, u (H, W) right


def rotate_scale(x: torch.Tensor, degrees: float, scale: float = 1.0) -> torch.Tensor:
    """Twin of rotate_scale: x (C, H, W) turned counter-clockwise and enlarged about its centre.

    For the output pixel at offset (v, u) from the centre (v down, u right) the input is read
    (``bilinear_sample``) at
        xs = cx + (cos t * u - sin t * v) / scale,   ys = cy + (sin t * u + cos t * v) / scale
    with t = degrees in radians and (cy, cx) = ((H - 1) / 2, (W - 1) / 2).
    """
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale!r}.")
    height, width = x.shape[-2:]
    v, u = _centred_grid(height, width, x)
    t = math.radians(degrees)
    xs = (width - 1) / 2 + (math.cos(t) * u - math.sin(t) * v) / scale
    ys = (height - 1) / 2 + (math.sin(t) * u + math.cos(t) * v) / scale
    return bilinear_sample(x, ys, xs)


def gaussian_kernel(sigma: float) -> np.ndarray:
    """A normalised 1-D Gaussian of radius ceil(3 sigma): shape (2 * radius + 1,), sums to 1."""
    radius = max(1, math.ceil(3 * sigma))
    offsets = np.arange(-radius, radius + 1, dtype=np.float64)
    kernel = np.exp(-(offsets**2) / (2 * sigma**2))
    return kernel / kernel.sum()


def elastic_field(
    shape: tuple[int, int], alpha: float, sigma: float, rng: np.random.Generator
) -> torch.Tensor:
    """Twin of elastic_field: a smooth random displacement field (Simard et al., 2003).

    Uniform noise in [-1, 1] of shape (2, H, W), smoothed by a Gaussian of width ``sigma``
    (separable, zeros beyond the border), times ``alpha``. Returns float64 (2, H, W):
    (dy, dx), in pixels.
    """
    noise = torch.from_numpy(rng.uniform(-1.0, 1.0, size=(2, *shape)))  # (2, H, W)
    kernel = torch.from_numpy(gaussian_kernel(sigma))  # (K,)
    radius = (len(kernel) - 1) // 2
    smooth = F.conv2d(noise[:, None], kernel.view(1, 1, -1, 1), padding=(radius, 0))
    smooth = F.conv2d(smooth, kernel.view(1, 1, 1, -1), padding=(0, radius))  # (2, 1, H, W)
    return alpha * smooth[:, 0]


def adjust_intensity(x: torch.Tensor, contrast: float, brightness: float) -> torch.Tensor:
    """Twin of adjust_intensity: contrast about the image mean, then brightness, clipped.

    out = clip((x - m) * contrast + m + brightness, 0, 1), m = the mean of all of x.
    """
    mean = x.mean()
    return ((x - mean) * contrast + mean + brightness).clamp(0.0, 1.0)


def augment_batch(
    images: torch.Tensor,
    rng: np.random.Generator,
    flip: bool = True,
    max_shift: float = 0.1,
    max_degrees: float = 10.0,
    scale_range: tuple[float, float] = (0.9, 1.1),
    max_contrast: float = 0.2,
    max_brightness: float = 0.1,
) -> torch.Tensor:
    """A random flip, translation, rotation, scaling and intensity change for every image.

    The geometric part is one affine resampling per image (bilinear, zeros outside), done for
    the whole batch by ``grid_sample`` on the batch's device.

    Args:
        images: (N, C, H, W) in [0, 1].
        rng: draws every random parameter (the same seed gives the same batch).
        flip: mirror left-right with probability 1/2 (leave False for digits or text).
        max_shift: translation up to this fraction of the side, in each direction.
        max_degrees: rotation angle uniform in [-max_degrees, max_degrees].
        scale_range: scale factor uniform in this range.
        max_contrast, max_brightness: contrast uniform in 1 +- max_contrast, brightness in
            +- max_brightness (``adjust_intensity``).

    Returns:
        (N, C, H, W) tensor like ``images``, values in [0, 1].
    """
    n = images.shape[0]
    angles = np.radians(rng.uniform(-max_degrees, max_degrees, n))
    scales = rng.uniform(*scale_range, n)
    shifts = rng.uniform(-max_shift, max_shift, (n, 2)) * 2  # in normalised units ([-1, 1])
    mirror = np.where(rng.random(n) < 0.5, -1.0, 1.0) if flip else np.ones(n)
    contrast = rng.uniform(1 - max_contrast, 1 + max_contrast, n)
    brightness = rng.uniform(-max_brightness, max_brightness, n)
    cos, sin = np.cos(angles) / scales, np.sin(angles) / scales
    # Output (u, v) in normalised coordinates reads the input at theta @ (u, v, 1).
    theta = np.stack(
        [
            np.stack([cos * mirror, -sin, -shifts[:, 1]], axis=1),
            np.stack([sin * mirror, cos, -shifts[:, 0]], axis=1),
        ],
        axis=1,
    )  # (N, 2, 3)
    theta = torch.as_tensor(theta, dtype=images.dtype, device=images.device)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)  # (N, H, W, 2)
    out = F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    mean = out.mean(dim=(1, 2, 3), keepdim=True)  # (N, 1, 1, 1)
    c = torch.as_tensor(contrast, dtype=images.dtype, device=images.device).view(-1, 1, 1, 1)
    b = torch.as_tensor(brightness, dtype=images.dtype, device=images.device).view(-1, 1, 1, 1)
    return ((out - mean) * c + mean + b).clamp(0.0, 1.0)


class AugmentedBatches:
    """Shuffled (x, y) batches of a pair of tensors, each batch freshly ``augment_batch``ed.

    An iterable with a length, so ``course_utils.train.fit`` trains on it like a DataLoader;
    every pass (epoch) reshuffles and draws new augmentations from one generator seeded by
    ``seed``, so two runs with the same seed see the same batches. The augmentations run on
    the images' device: hand it tensors already on the GPU to augment there.

    Args:
        images: (N, C, H, W) float tensor in [0, 1].
        labels: (N,) int64 tensor.
        batch_size: images per batch (the last may be smaller).
        seed: seeds the shuffling and the augmentations.
        **augment_kwargs: passed to ``augment_batch`` (flip, max_shift, max_degrees, ...).
    """

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        batch_size: int = 64,
        seed: int = 0,
        **augment_kwargs,
    ):
        if len(images) != len(labels) or len(images) == 0:
            raise ValueError(
                f"images and labels must be non-empty and of the same length; got {len(images)} "
                f"images and {len(labels)} labels."
            )
        self.images, self.labels, self.batch_size = images, labels, batch_size
        self.augment_kwargs = augment_kwargs
        self.rng = np.random.default_rng(seed)
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return math.ceil(len(self.images) / self.batch_size)

    def __iter__(self):
        order = torch.randperm(len(self.images), generator=self.generator)
        image_order, label_order = order.to(self.images.device), order.to(self.labels.device)
        for start in range(0, len(order), self.batch_size):
            stop = start + self.batch_size
            batch = augment_batch(
                self.images[image_order[start:stop]], self.rng, **self.augment_kwargs
            )
            yield batch, self.labels[label_order[start:stop]]
