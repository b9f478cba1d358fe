"""Plots for notebook 07: boxes and segmentation masks drawn over images.

Like ``course_utils.plots``, every function returns a matplotlib Figure that is already closed
in pyplot (a notebook shows it once, as the cell's value) and never calls ``plt.show()``.
Images are (N, 3, H, W) or (N, H, W, 3) arrays or tensors in [0, 1]; boxes are
(x1, y1, x2, y2) in continuous pixel coordinates, so a box's edges lie on pixel borders.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from course_utils.plots import FACE_COLOR, OKABE_ITO

__all__ = ["show_detections", "show_segmentation", "TRUE_BOX_COLOR", "class_colors"]

TRUE_BOX_COLOR = "#FFFFFF"


def class_colors(num_classes: int) -> list[str]:
    """One Okabe-Ito colour per class (orange, sky blue, bluish green, ...)."""
    palette = OKABE_ITO[1:]
    return [palette[i % len(palette)] for i in range(num_classes)]


def _array(a, what: str) -> np.ndarray:
    """Tensor (any device) or array-like -> ndarray of numbers."""
    if isinstance(a, torch.Tensor):
        a = a.detach().cpu().numpy()
    a = np.asarray(a)
    if a.dtype.kind not in "fiub":
        raise TypeError(f"{what} must hold numbers, got dtype {a.dtype}.")
    return a


def _figure(width: float, height: float) -> Figure:
    fig = plt.figure(figsize=(width, height), facecolor=FACE_COLOR)
    plt.close(fig)  # shown once, by its return value
    return fig


def _images(images) -> np.ndarray:
    """(N, 3, H, W) or (N, H, W, 3), or one image without N -> (N, H, W, 3) in [0, 1]."""
    images = _array(images, "images").astype(np.float32)
    if images.ndim == 3:
        images = images[None]
    if images.ndim != 4 or 3 not in (images.shape[1], images.shape[3]):
        raise ValueError(
            f"images must have shape (N, 3, H, W) or (N, H, W, 3), got {images.shape}."
        )
    if images.shape[1] == 3:
        images = images.transpose(0, 2, 3, 1)  # NCHW -> NHWC for imshow
    return np.clip(images, 0, 1)


def _draw_box(ax, box, color: str, style: str = "-", text: str | None = None) -> None:
    x1, y1, x2, y2 = (float(v) for v in box)
    # imshow puts pixel (row, col) at [col - 0.5, col + 0.5]: shift continuous coordinates.
    ax.add_patch(
        Rectangle(
            (x1 - 0.5, y1 - 0.5),
            x2 - x1,
            y2 - y1,
            fill=False,
            edgecolor=color,
            linewidth=1.6,
            linestyle=style,
        )
    )
    if text:
        ax.text(
            x1 - 0.5,
            y1 - 1.0,
            text,
            color="black",
            fontsize=6,
            backgroundcolor=color,
            va="bottom",
            clip_on=True,
        )


def _grid_axes(count: int, ncols: int, cell: float):
    ncols = max(1, min(ncols, count))
    nrows = -(-count // ncols)
    fig = _figure(cell * ncols, cell * nrows)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax in axes:
        ax.set_axis_off()
    return fig, axes


def show_detections(
    images,
    boxes: Sequence,
    labels: Sequence,
    scores: Sequence | None = None,
    true_boxes: Sequence | None = None,
    class_names: Sequence[str] = ("circle", "square", "triangle"),
    ncols: int = 4,
    cell: float = 2.2,
):
    """Draw predicted boxes (coloured by class, labelled with class and score) over images.

    Args:
        images: N images, (N, 3, H, W) or (N, H, W, 3), in [0, 1].
        boxes: N arrays (K_i, 4) of boxes (x1, y1, x2, y2) to draw.
        labels: N arrays (K_i,) of their classes.
        scores: N arrays (K_i,) of confidences, or None (then boxes are ground truth).
        true_boxes: N arrays of ground-truth boxes drawn dashed in white, or None.
        class_names: names of the classes.
        ncols: images per row. cell: inches per image.

    Returns:
        The Figure.
    """
    images = _images(images)
    colors = class_colors(len(class_names))
    fig, axes = _grid_axes(len(images), ncols, cell)
    for n, (ax, image) in enumerate(zip(axes, images)):
        ax.imshow(image, interpolation="nearest")
        if true_boxes is not None:
            for box in _array(true_boxes[n], "true_boxes").reshape(-1, 4):
                _draw_box(ax, box, TRUE_BOX_COLOR, "--")
        image_boxes = _array(boxes[n], "boxes").reshape(-1, 4)
        image_labels = _array(labels[n], "labels").astype(int).ravel()
        for k, (box, label) in enumerate(zip(image_boxes, image_labels)):
            text = class_names[label]
            if scores is not None:
                text += f" {float(_array(scores[n], 'scores').ravel()[k]):.2f}"
            _draw_box(ax, box, colors[label], "-", text)
    fig.tight_layout(pad=0.3)
    return fig


def show_segmentation(
    images,
    true_masks,
    pred_masks=None,
    class_names: Sequence[str] = ("circle", "square", "triangle"),
    max_images: int = 6,
    cell: float = 1.8,
):
    """Show images, their true masks and (optionally) predicted masks, one image per column.

    Args:
        images: (N, 3, H, W) or (N, H, W, 3) in [0, 1].
        true_masks: (N, H, W) integers, 0 background and 1 + class on a shape.
        pred_masks: (N, H, W) predicted labels in the same coding, or None.
        class_names: names of classes 1, 2, ... of the masks (0 is the background).
        max_images: at most this many columns.
        cell: inches per panel.

    Returns:
        The Figure: rows image / true mask / predicted mask (with its pixel accuracy).
    """
    images = _images(images)[:max_images]
    true_masks = _array(true_masks, "true_masks")[:max_images].astype(int)
    rows = [("image", images), ("true mask", true_masks)]
    if pred_masks is not None:
        rows.append(("predicted", _array(pred_masks, "pred_masks")[:max_images].astype(int)))
    cmap = ListedColormap(["#000000", *class_colors(len(class_names))])
    fig = _figure(cell * len(images), (cell + 0.2) * len(rows) + 0.3)
    fig.set_layout_engine("constrained")  # room for every panel's title and for the legend
    axes = fig.subplots(len(rows), len(images), squeeze=False)
    for r, (title, data) in enumerate(rows):
        for n in range(len(images)):
            ax = axes[r, n]
            ax.set_axis_off()
            if r == 0:
                ax.imshow(data[n], interpolation="nearest")
            else:
                ax.imshow(
                    data[n], cmap=cmap, vmin=0, vmax=len(class_names), interpolation="nearest"
                )
            label = title
            if title == "predicted":
                label += f" ({np.mean(data[n] == true_masks[n]):.0%})"
            ax.set_title(label, fontsize=7)
    handles = [Rectangle((0, 0), 1, 1, color=c) for c in cmap.colors]
    fig.legend(
        handles,
        ["background", *class_names],
        loc="outside lower center",
        ncol=len(handles),
        fontsize=7,
        frameon=False,
    )
    fig.set_facecolor(FACE_COLOR)
    return fig
