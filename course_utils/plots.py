"""Plots for the notebooks: images, filters, feature maps, training curves, sweeps, confusion matrix.

Every function returns a matplotlib Figure and never calls plt.show(). The figure is closed
in pyplot before it is returned, so a notebook shows it exactly once: when it is the cell's
last expression (or with display(fig)); a script saves it with fig.savefig(...).

Figures are readable on light and dark notebook themes alike: an opaque white facecolor and
dark text, never dark text on a transparent background. Colours come from the Okabe-Ito
palette, which stays distinct under the common colour-vision deficiencies, and lines differ
in style and marker too; colour maps are gray (for images) and viridis (perceptually uniform,
colour-blind safe).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

#: Okabe & Ito (2008), "Color Universal Design": black, orange, sky blue, bluish green,
#: yellow, blue, vermillion, reddish purple.
OKABE_ITO = (
    "#000000",
    "#E69F00",
    "#56B4E9",
    "#009E73",
    "#F0E442",
    "#0072B2",
    "#D55E00",
    "#CC79A7",
)
TRAIN_COLOR = "#0072B2"  # blue
VAL_COLOR = "#D55E00"  # vermillion
TEXT_COLOR = "#222222"
FACE_COLOR = "white"


def _array(a, what: str) -> np.ndarray:
    """Tensor (any device, with grad or not) or array-like -> float ndarray."""
    if isinstance(a, torch.Tensor):
        a = a.detach().cpu().float().numpy()
    a = np.asarray(a)
    if a.dtype.kind not in "fiub":
        raise TypeError(f"{what} must hold numbers, got dtype {a.dtype}.")
    return a


def _figure(width: float, height: float) -> Figure:
    fig = plt.figure(figsize=(width, height), facecolor=FACE_COLOR)
    plt.close(fig)  # shown once, by its return value; see the module docstring
    return fig


def _style(ax, title: str | None = None) -> None:
    ax.set_facecolor(FACE_COLOR)
    if title is not None:
        ax.set_title(title, color=TEXT_COLOR, fontsize=9)
    ax.tick_params(colors=TEXT_COLOR)
    for spine in ax.spines.values():
        spine.set_color(TEXT_COLOR)
    ax.xaxis.label.set_color(TEXT_COLOR)
    ax.yaxis.label.set_color(TEXT_COLOR)


def _grid(count: int, ncols: int | None, cell: float = 1.4, title_height: float = 0.0):
    """A figure with `count` image axes on a grid (no ticks), and the axes in order.

    title_height: inches added to every row for the panels' titles.
    """
    ncols = min(count, ncols or min(count, 8))
    nrows = math.ceil(count / ncols)
    fig = _figure(cell * ncols, (cell + title_height) * nrows + 0.3)
    axes = [fig.add_subplot(nrows, ncols, i + 1) for i in range(count)]
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    return fig, axes


# ---------------------------------------------------------------------------------------
# Images


def _to_hwc(images: np.ndarray) -> np.ndarray:
    """(N, H, W), (N, 1|3, H, W) or (N, H, W, 1|3) -> (N, H, W) or (N, H, W, 3)."""
    if images.ndim == 3:
        return images
    if images.ndim == 4:
        if images.shape[1] in (1, 3):
            images = images.transpose(0, 2, 3, 1)  # NCHW -> NHWC
        if images.shape[-1] == 1:
            return images[..., 0]
        if images.shape[-1] == 3:
            return images
    raise ValueError(
        "images must have shape (N, H, W), (N, C, H, W) or (N, H, W, C) with C = 1 or 3; got "
        f"{images.shape}. For a single image use images[None]."
    )


def _unit_range(image: np.ndarray) -> np.ndarray:
    """Images already in [0, 1] stay as they are; anything else is scaled to [0, 1]."""
    image = image.astype(np.float64)
    low, high = image.min(), image.max()
    if low >= 0 and high <= 1:
        return image
    if high > 1 and low >= 0 and high <= 255 and np.all(image == np.round(image)):
        return image / 255  # 8-bit pixels
    return (image - low) / (high - low) if high > low else np.zeros_like(image)


def show_images(
    images,
    labels=None,
    class_names: Sequence[str] | None = None,
    ncols: int = 8,
    predictions=None,
) -> Figure:
    """A grid of images with their labels (and predictions) as titles.

    Args:
        images: (N, H, W), (N, 1, H, W), (N, 3, H, W) or (N, H, W, 3); floats in [0, 1],
            8-bit 0..255, or anything else (then scaled to [0, 1] per image).
        labels: (N,) integer labels, or None.
        class_names: names indexed by label (e.g. FASHION_MNIST_CLASSES), or None to show
            the numbers.
        ncols: images per row.
        predictions: (N,) predicted labels, or None. With labels, each title reads
            "predicted (true)" and wrong ones are marked with a cross and vermillion text.

    Returns:
        The Figure, with one axes (one image) per input image.
    """
    images = _to_hwc(_array(images, "images"))
    count = len(images)
    if count == 0:
        raise ValueError("images is empty: there is nothing to show.")
    labels = None if labels is None else _array(labels, "labels").astype(int).reshape(-1)
    predictions = (
        None if predictions is None else _array(predictions, "predictions").astype(int).reshape(-1)
    )
    for name, values in (("labels", labels), ("predictions", predictions)):
        if values is not None and len(values) != count:
            raise ValueError(f"{name} has {len(values)} entries for {count} images; give one each.")

    def name_of(label: int) -> str:
        if class_names is None:
            return str(label)
        if not 0 <= label < len(class_names):
            raise ValueError(
                f"label {label} has no entry in class_names ({len(class_names)} names)."
            )
        return class_names[label]

    title_lines = 2 if predictions is not None and labels is not None else 1
    fig, axes = _grid(count, ncols, cell=1.5, title_height=0.2 * title_lines)
    for i, ax in enumerate(axes):
        image = _unit_range(images[i])
        if image.ndim == 2:
            ax.imshow(image, cmap="gray", vmin=0, vmax=1)
        else:
            ax.imshow(image)
        title, color = None, TEXT_COLOR
        if predictions is not None and labels is not None:
            wrong = predictions[i] != labels[i]
            title = f"{name_of(predictions[i])}\n({name_of(labels[i])})"
            if wrong:
                title, color = "\u2717 " + title, VAL_COLOR
        elif predictions is not None:
            title = name_of(predictions[i])
        elif labels is not None:
            title = name_of(labels[i])
        if title is not None:
            ax.set_title(title, color=color, fontsize=8)
    fig.tight_layout()
    return fig


def plot_filters(weights, ncols: int | None = None, title: str | None = None) -> Figure:
    """First-layer convolution filters as small images, each scaled to its own range.

    Args:
        weights: (F, C, HH, WW) with C = 1 (gray) or 3 (RGB), e.g. model[0].weight. Each
            filter is mapped to [0, 1] by its own minimum and maximum, so that weak and strong
            filters are equally visible (compare magnitudes with the weights themselves).
        ncols: filters per row (default: up to 8).
        title: the figure's title (default: "F filters HHxWW").

    Returns:
        The Figure, one axes per filter.
    """
    weights = _array(weights, "weights")
    if weights.ndim != 4 or weights.shape[1] not in (1, 3):
        raise ValueError(
            f"weights must have shape (F, C, HH, WW) with C = 1 or 3 (first-layer filters); got "
            f"{weights.shape}. For a deeper layer show one input channel: weights[:, :1]."
        )
    fig, axes = _grid(len(weights), ncols, cell=1.0)
    for ax, w in zip(axes, weights):
        low, high = w.min(), w.max()
        w = (w - low) / (high - low) if high > low else np.zeros_like(w)
        if w.shape[0] == 1:
            ax.imshow(w[0], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        else:
            ax.imshow(w.transpose(1, 2, 0), interpolation="nearest")  # (HH, WW, 3)
    default = f"{len(weights)} filters {weights.shape[2]}x{weights.shape[3]}"
    fig.suptitle(title or default, color=TEXT_COLOR)
    fig.tight_layout()
    return fig


def plot_feature_maps(maps, ncols: int = 8, max_maps: int = 64, title: str | None = None) -> Figure:
    """The activation maps of one image, one panel per channel, each with its own scale.

    Args:
        maps: (C, H, W) or (1, C, H, W), e.g. the output of a conv layer for one image.
        ncols: panels per row.
        max_maps: show at most this many channels (the first ones).
        title: a title for the whole figure (default: "C feature maps HxW").

    Returns:
        The Figure, one axes per channel shown.
    """
    maps = _array(maps, "maps")
    if maps.ndim == 4 and maps.shape[0] == 1:
        maps = maps[0]
    if maps.ndim != 3:
        hint = " Pick one image: maps[0] or maps[i:i+1]." if maps.ndim == 4 else ""
        raise ValueError(f"maps must have shape (C, H, W) or (1, C, H, W); got {maps.shape}.{hint}")
    shown = maps[:max_maps]
    fig, axes = _grid(len(shown), ncols, cell=1.2)
    for c, ax in enumerate(axes):
        ax.imshow(shown[c], cmap="viridis", interpolation="nearest")
        ax.set_title(str(c), color=TEXT_COLOR, fontsize=7)
    default = f"{len(maps)} feature maps {maps.shape[1]}x{maps.shape[2]}"
    if len(shown) < len(maps):
        default += f" (first {len(shown)} shown)"
    fig.suptitle(title or default, color=TEXT_COLOR)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------
# Training curves and confusion matrix


def plot_history(history) -> Figure:
    """Loss and accuracy per epoch, train and validation, side by side.

    Args:
        history: a course_utils.train.History, or a dict with lists "train_loss",
            "train_acc" and optionally "val_loss", "val_acc" (History.as_dict()).

    Returns:
        The Figure with two axes: loss (left) and accuracy (right).
    """
    data = history.as_dict() if hasattr(history, "as_dict") else dict(history)
    if not data.get("train_loss"):
        raise ValueError(
            "history has no train_loss values; pass the History that fit returned (or its "
            "as_dict())."
        )
    fig = _figure(9, 3.4)
    for position, (metric, label) in enumerate((("loss", "loss"), ("acc", "accuracy"))):
        ax = fig.add_subplot(1, 2, position + 1)
        _style(ax, label)
        for split, color, style, marker in (
            ("train", TRAIN_COLOR, "-", "o"),
            ("val", VAL_COLOR, "--", "s"),
        ):
            values = data.get(f"{split}_{metric}") or []
            if values:
                epochs = np.arange(1, len(values) + 1)
                ax.plot(epochs, values, style, marker=marker, color=color, label=split)
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.xaxis.get_major_locator().set_params(integer=True)
        legend = ax.legend(facecolor=FACE_COLOR, edgecolor=TEXT_COLOR)
        for text in legend.get_texts():
            text.set_color(TEXT_COLOR)
    fig.tight_layout()
    return fig


def plot_step_losses(
    curves: Mapping[str, Sequence[float]], smoothing: int = 20, title: str | None = None
) -> Figure:
    """The training loss of every step of one or more runs, raw and as a moving average.

    Minibatch losses are noisy, so each run is drawn twice: every step faintly, and the mean of
    the last ``smoothing`` steps boldly (from step ``smoothing`` on), which shows the trend.

    Args:
        curves: run name -> its losses in step order, e.g. {"learned filters": losses,
            "random filters": baseline_losses} (the lists train_epoch returns, joined).
        smoothing: steps in the moving average (1: no smoothing).
        title: the axes' title (default: "training loss per step").

    Returns:
        The Figure, one axes: step on x, loss on y.
    """
    if not curves or any(len(losses) == 0 for losses in curves.values()):
        raise ValueError(
            "curves must map each run's name to its non-empty list of step losses, e.g. "
            '{"learned filters": losses}; got '
            + repr({k: len(v) for k, v in curves.items()})
            + " steps."
        )
    if isinstance(smoothing, bool) or not isinstance(smoothing, int) or smoothing < 1:
        raise ValueError(f"smoothing must be a positive integer, got {smoothing!r}.")
    fig = _figure(7, 3.4)
    ax = fig.add_subplot(1, 1, 1)
    _style(ax, title or "training loss per step")
    colors = (TRAIN_COLOR, VAL_COLOR, "#009E73", "#CC79A7", "#E69F00", "#000000")
    styles = ("-", "--", "-.", ":")
    for index, (name, losses) in enumerate(curves.items()):
        losses = _array(losses, f"curves[{name!r}]").astype(np.float64).reshape(-1)
        color = colors[index % len(colors)]
        steps = np.arange(1, len(losses) + 1)
        ax.plot(steps, losses, color=color, alpha=0.25, linewidth=0.8)
        window = min(smoothing, len(losses))
        average = np.convolve(losses, np.ones(window) / window, mode="valid")  # (steps - w + 1,)
        ax.plot(steps[window - 1 :], average, styles[index % len(styles)], color=color, label=name)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.grid(alpha=0.3)
    legend = ax.legend(facecolor=FACE_COLOR, edgecolor=TEXT_COLOR)
    for text in legend.get_texts():
        text.set_color(TEXT_COLOR)
    fig.tight_layout()
    return fig


def plot_sweeps(
    sweeps: Mapping[str, Mapping[float, float]],
    ylabel: str = "validation accuracy",
    chance: float | None = None,
    notes: Mapping[str, Mapping[float, str]] | None = None,
) -> Figure:
    """Small measured sweeps, one panel per knob: the value measured at each setting.

    Each sweep turns one knob with everything else fixed, so each panel reads on its own; the
    panels share the y axis, so the knobs compare too. The best setting of each sweep (the
    highest value) is marked. A knob whose settings span a factor of 100 or more (a learning
    rate) gets a logarithmic x axis.

    Args:
        sweeps: knob name -> {setting: measured value}, e.g.
            {"learning rate": {1e-4: 0.42, 1e-3: 0.71}, "width": {4: 0.60, 16: 0.71}};
            settings are positive numbers, drawn in increasing order.
        ylabel: what the values are (the y axis).
        chance: draw a dotted line at this value (0.1 for ten balanced classes), or None.
        notes: knob name -> {setting: short text} written under the points (e.g. the
            number of parameters); None for no notes.

    Returns:
        The Figure, one axes per knob, side by side.

    Raises:
        ValueError: no sweep, a sweep without settings, or a setting that is not a positive
            number.
    """
    if not sweeps:
        raise ValueError("sweeps is empty; pass knob name -> {setting: value}.")
    for knob, values in sweeps.items():
        if not values:
            raise ValueError(f"the sweep {knob!r} has no settings.")
        bad = [s for s in values if not isinstance(s, (int, float, np.number)) or not s > 0]
        if bad:
            raise ValueError(f"the settings of {knob!r} must be positive numbers; got {bad}.")
    fig = _figure(3.4 * len(sweeps) + 0.6, 3.4)
    first = None
    for position, (knob, values) in enumerate(sweeps.items()):
        ax = fig.add_subplot(1, len(sweeps), position + 1, sharey=first)
        first = first or ax
        _style(ax, knob)
        settings = sorted(values)
        measured = [values[setting] for setting in settings]
        ax.plot(settings, measured, "-o", color=TRAIN_COLOR)
        best = settings[int(np.argmax(measured))]
        ax.plot([best], [values[best]], "*", color=VAL_COLOR, markersize=14, label="best")
        if max(settings) / min(settings) >= 100:
            ax.set_xscale("log")
        ax.set_xticks(settings, [f"{setting:g}" for setting in settings])
        ax.minorticks_off()
        if chance is not None:
            ax.axhline(chance, color=TEXT_COLOR, linestyle=":", linewidth=1, label="chance")
        for setting, text in ((notes or {}).get(knob) or {}).items():
            ax.annotate(
                text,
                (setting, values[setting]),
                textcoords="offset points",
                xytext=(0, -14),
                ha="center",
                fontsize=7,
                color=TEXT_COLOR,
            )
        ax.set_xlabel(knob)
        if position == 0:
            ax.set_ylabel(ylabel)
            legend = ax.legend(facecolor=FACE_COLOR, edgecolor=TEXT_COLOR, fontsize=8)
            for text in legend.get_texts():
                text.set_color(TEXT_COLOR)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def confusion_matrix(y_true, y_pred, num_classes: int | None = None) -> np.ndarray:
    """Counts: matrix[i, j] is the number of examples of class i predicted as class j.

    Args:
        y_true, y_pred: (N,) integer labels.
        num_classes: K (default: 1 + the largest label seen).

    Returns:
        int64 array (K, K).
    """
    y_true = _array(y_true, "y_true").reshape(-1)
    y_pred = _array(y_pred, "y_pred").reshape(-1)
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true has {len(y_true)} labels but y_pred has {len(y_pred)}.")
    for name, values in (("y_true", y_true), ("y_pred", y_pred)):
        if values.size and (np.any(values < 0) or np.any(values != np.round(values))):
            raise ValueError(f"{name} must hold class indices 0, 1, 2, ...; got {values[:5]}...")
    y_true, y_pred = y_true.astype(np.int64), y_pred.astype(np.int64)
    largest = int(max(y_true.max(initial=-1), y_pred.max(initial=-1)))
    k = largest + 1 if num_classes is None else num_classes
    if largest >= k:
        raise ValueError(f"label {largest} does not fit {k} classes.")
    matrix = np.zeros((k, k), dtype=np.int64)
    np.add.at(matrix, (y_true, y_pred), 1)
    return matrix


def plot_confusion_matrix(
    y_true, y_pred, class_names: Sequence[str] | None = None, normalize: str | None = None
) -> Figure:
    """The confusion matrix as a heat map with every cell's value written in it.

    Args:
        y_true, y_pred: (N,) integer labels (tensors or arrays).
        class_names: K names (default: the numbers 0..K-1).
        normalize: None (counts), "true" (each row sums to 1: the recall of each class),
            "pred" (each column sums to 1: precision), or "all" (everything sums to 1);
            the same options as scikit-learn.

    Returns:
        The Figure: the matrix axes (rows: true label, columns: predicted label) and its
        colour bar.
    """
    if normalize not in (None, "true", "pred", "all"):
        raise ValueError(f'normalize must be None, "true", "pred" or "all"; got {normalize!r}.')
    k = None if class_names is None else len(class_names)
    counts = confusion_matrix(y_true, y_pred, k)
    k = len(counts)
    matrix = counts.astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        if normalize == "true":
            matrix = matrix / matrix.sum(axis=1, keepdims=True)
        elif normalize == "pred":
            matrix = matrix / matrix.sum(axis=0, keepdims=True)
        elif normalize == "all":
            matrix = matrix / matrix.sum()
    matrix = np.nan_to_num(matrix)
    names = [str(i) for i in range(k)] if class_names is None else list(class_names)

    size = 1.5 + 0.55 * k
    fig = _figure(size + 1.2, size)
    ax = fig.add_subplot(1, 1, 1)
    _style(ax, "confusion matrix" + (f" (normalized over {normalize})" if normalize else ""))
    image = ax.imshow(matrix, cmap="viridis", vmin=0)
    colorbar = fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    colorbar.ax.tick_params(colors=TEXT_COLOR)
    ax.set_xticks(range(k), names, rotation=45, ha="right")
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted label")
    ax.set_ylabel("true label")
    top = matrix.max() if matrix.size else 0
    for i in range(k):
        for j in range(k):
            value = matrix[i, j]
            text = f"{value:.2f}" if normalize else str(int(value))
            # viridis is dark at the bottom of its range: white text there, dark text above.
            color = "white" if top == 0 or value < 0.5 * top else TEXT_COLOR
            ax.text(j, i, text, ha="center", va="center", color=color, fontsize=7)
    fig.tight_layout()
    return fig


#: The name STYLE.md's notebook example uses; the same function.
show_filters = plot_filters
