"""Plots for notebook 07: boxes and segmentation masks drawn over images.

Like ``course_utils.plots``, every function returns a matplotlib Figure that is already closed
in pyplot (a notebook shows it once, as the cell's value) and never calls ``plt.show()``.
Images are (N, 3, H, W) or (N, H, W, 3) arrays or tensors in [0, 1]; boxes are
(x1, y1, x2, y2) in continuous pixel coordinates, so a box's edges lie on pixel borders.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from course_utils.plots import FACE_COLOR, OKABE_ITO, TEXT_COLOR

__all__ = [
    "show_detections",
    "show_segmentation",
    "show_anchors",
    "plot_precision_recall",
    "show_conv_matrices",
    "show_maps",
    "TRUE_BOX_COLOR",
    "class_colors",
]

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


def _style(ax, title: str | None = None) -> None:
    ax.set_facecolor(FACE_COLOR)
    if title:
        ax.set_title(title, color=TEXT_COLOR, fontsize=8)
    ax.tick_params(colors=TEXT_COLOR, labelsize=7)


def show_anchors(
    image,
    anchors,
    anchors_per_position: int,
    position: int | None = None,
    true_boxes=None,
    cell: float = 3.2,
):
    """Draw the anchors of one feature-map position over an image, and every position's centre.

    Args:
        image: one image, (3, H, W) or (H, W, 3), in [0, 1].
        anchors: (P * A, 4) boxes (x1, y1, x2, y2), A consecutive anchors per position (the
            order of generate_anchors: position by position).
        anchors_per_position: A.
        position: which position's anchors to draw (default: the one nearest the middle).
        true_boxes: (T, 4) ground-truth boxes drawn dashed in white, or None.
        cell: inches per panel.

    Returns:
        The Figure.
    """
    picture = _images(image)[0]
    anchors = _array(anchors, "anchors").reshape(-1, 4)
    if anchors_per_position < 1 or len(anchors) % anchors_per_position:
        raise ValueError(
            f"anchors_per_position must divide the {len(anchors)} anchors, got "
            f"{anchors_per_position}."
        )
    per_position = anchors.reshape(-1, anchors_per_position, 4)  # (P, A, 4)
    centres = (per_position[:, 0, :2] + per_position[:, 0, 2:]) / 2  # (P, 2)
    if position is None:
        middle = np.array(picture.shape[1::-1]) / 2
        position = int(np.argmin(((centres - middle) ** 2).sum(axis=1)))
    fig = _figure(cell * 1.25, cell)
    ax = fig.subplots()
    ax.imshow(picture, interpolation="nearest")
    ax.scatter(centres[:, 0] - 0.5, centres[:, 1] - 0.5, s=6, color=OKABE_ITO[4], zorder=3)
    if true_boxes is not None:
        for box in _array(true_boxes, "true_boxes").reshape(-1, 4):
            _draw_box(ax, box, TRUE_BOX_COLOR, "--")
    palette = OKABE_ITO[1:]
    for k, box in enumerate(per_position[position]):
        _draw_box(ax, box, palette[k % len(palette)])
    height, width = picture.shape[:2]
    reach = np.concatenate([per_position[position].ravel(), [0, 0, width, height]])
    ax.set_xlim(reach[0::2].min() - 1.5, reach[2::2].max() + 0.5)
    ax.set_ylim(reach[3::2].max() + 0.5, reach[1::2].min() - 1.5)
    ax.set_axis_off()
    ax.set_title(
        f"the {anchors_per_position} anchors of position {position}; dots: all "
        f"{len(per_position)} centres",
        fontsize=8,
    )
    fig.tight_layout(pad=0.3)
    return fig


def _precision_recall(tp: np.ndarray, num_gt: int) -> tuple[np.ndarray, np.ndarray]:
    found = np.cumsum(tp)
    return found / max(num_gt, 1), found / np.arange(1, len(tp) + 1)


def plot_precision_recall(
    panels: Mapping[str, Mapping[str, tuple]],
    average_precision: Callable | None = None,
    cell: float = 3.2,
):
    """Precision-recall curves, raw (thin) and with their monotone envelope (thick).

    Args:
        panels: panel title -> {curve name -> (tp, num_gt)}, where tp is a bool array of the
            detections' true-positive flags in decreasing score order and num_gt the number
            of ground-truth boxes (course_utils.detection_models.ranked_matches makes them).
        average_precision: a function (tp, num_gt) -> AP (the student's); when given, each
            curve's legend shows its AP.
        cell: inches per panel.

    Returns:
        The Figure, one panel per entry of panels, side by side.
    """
    if not panels:
        raise ValueError("panels must name at least one panel of curves, got none.")
    fig = _figure(cell * len(panels), cell)
    axes = np.atleast_1d(fig.subplots(1, len(panels), sharey=True))
    for ax, (title, curves) in zip(axes, panels.items()):
        _style(ax, title)
        for k, (name, (tp, num_gt)) in enumerate(curves.items()):
            tp = _array(tp, "tp").astype(bool).ravel()
            color = OKABE_ITO[1 + k % (len(OKABE_ITO) - 1)]
            label = name
            if average_precision is not None:
                label += f" (AP {float(average_precision(tp, num_gt)):.2f})"
            if not len(tp):
                ax.plot([], [], color=color, label=label)
                continue
            recall, precision = _precision_recall(tp, num_gt)
            envelope = np.maximum.accumulate(precision[::-1])[::-1]
            ax.plot(recall, precision, color=color, linewidth=0.7, alpha=0.6)
            # The envelope's value at recall[k] holds over (recall[k - 1], recall[k]]: the area
            # under these steps is the all-point AP.
            ax.step(
                np.concatenate([[0.0], recall]),
                np.concatenate([envelope[:1], envelope]),
                where="pre",
                color=color,
                linewidth=1.8,
                label=label,
            )
        ax.set_xlim(0, 1.02)
        ax.set_ylim(0, 1.05)
        ax.set_xlabel("recall", fontsize=8)
        ax.grid(alpha=0.3)
        if curves:
            ax.legend(fontsize=7, loc="lower left", frameon=False)
    axes[0].set_ylabel("precision", fontsize=8)
    fig.tight_layout(pad=0.4)
    return fig


def show_conv_matrices(conv_matrix, transpose_matrix, cell: float = 3.0):
    """The dense matrix of a convolution beside that of its transposed convolution.

    Args:
        conv_matrix: (M, N), column j the convolution's response to the j-th unit input.
        transpose_matrix: (N, M), likewise for the transposed convolution.
        cell: inches per panel.

    Returns:
        The Figure: two heat maps on one colour scale (zero is white).
    """
    conv_matrix = _array(conv_matrix, "conv_matrix")
    transpose_matrix = _array(transpose_matrix, "transpose_matrix")
    if conv_matrix.ndim != 2 or transpose_matrix.shape != conv_matrix.shape[::-1]:
        raise ValueError(
            "conv_matrix must be (M, N) and transpose_matrix (N, M), got "
            f"{conv_matrix.shape} and {transpose_matrix.shape}."
        )
    limit = max(np.abs(conv_matrix).max(), np.abs(transpose_matrix).max(), 1e-12)
    fig = _figure(cell * 2.4, cell)
    fig.set_layout_engine("constrained")
    axes = fig.subplots(1, 2, width_ratios=[conv_matrix.shape[1], transpose_matrix.shape[1]])
    panels = (
        (conv_matrix, f"convolution, {conv_matrix.shape[0]} x {conv_matrix.shape[1]}"),
        (
            transpose_matrix,
            f"transposed conv., {transpose_matrix.shape[0]} x {transpose_matrix.shape[1]}",
        ),
    )
    for ax, (matrix, title) in zip(axes, panels):
        _style(ax, title)
        image = ax.imshow(matrix, cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
        ax.set_xlabel("input index", fontsize=7)
        ax.set_ylabel("output index", fontsize=7)
    fig.colorbar(image, ax=list(axes), shrink=0.8)
    return fig


def show_maps(maps: Mapping[str, np.ndarray], cell: float = 2.6):
    """Heat maps of 2-D arrays side by side, each with its own colour bar.

    Args:
        maps: title -> (H, W) array.
        cell: inches per panel.

    Returns:
        The Figure.
    """
    if not maps:
        raise ValueError("maps must hold at least one (H, W) array, got none.")
    fig = _figure(cell * 1.3 * len(maps), cell)
    fig.set_layout_engine("constrained")
    axes = np.atleast_1d(fig.subplots(1, len(maps)))
    for ax, (title, values) in zip(axes, maps.items()):
        values = _array(values, title)
        if values.ndim != 2:
            raise ValueError(f"maps[{title!r}] must be a 2-D array (H, W), got {values.shape}.")
        _style(ax, f"{title} ({values.shape[0]}x{values.shape[1]})")
        image = ax.imshow(values, cmap="viridis", interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        fig.colorbar(image, ax=ax, shrink=0.8)
    return fig
