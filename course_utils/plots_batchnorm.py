"""Figures of notebook 04: the normalisation and initialisation experiments.

plot_learning_rate_sweep(curves)        loss per step, with and without BN, one panel per rate
plot_batch_size_accuracy(results)       test accuracy against the batch size, one line per model
plot_normalised_histograms(before, after)   a layer's activations before and after BN
statistic_masks(shape, groups)          which values share one mean and variance, per normalisation
plot_normalisation_axes(masks)          BN, LN, IN and GN as the axes of (N, C, H, W) they average
plot_activation_histograms(layers)      per initialisation, a histogram of every layer's values
plot_training_losses(curves)            training loss per step, one line per model
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator

COLORS = {
    "without BN": "tab:red",
    "without normalisation": "tab:red",
    "with BN": "tab:blue",
    "with LN": "tab:green",
    "with GN": "tab:purple",
    "small": "tab:red",
    "Xavier": "tab:orange",
    "Kaiming": "tab:blue",
}


def _smooth(values: Sequence[float], window: int) -> np.ndarray:
    """Running mean over ``window`` steps (shorter at the start); non-finite values stay visible."""
    values = np.asarray(values, dtype=np.float64)
    if window <= 1 or len(values) < 2:
        return values
    cumulative = np.cumsum(np.nan_to_num(values, nan=0.0, posinf=1e6))
    out = np.empty_like(values)
    for i in range(len(values)):
        start = max(0, i - window + 1)
        total = cumulative[i] - (cumulative[start - 1] if start else 0.0)
        out[i] = total / (i - start + 1)
    return out


def plot_learning_rate_sweep(
    curves: Mapping[float, Mapping[str, Sequence[float]]],
    smooth: int = 10,
    ylim: tuple[float, float] = (0.0, 3.0),
):
    """One panel per learning rate, the training loss per step of each model in it.

    Args:
        curves: {learning_rate: {"with BN": losses, "without BN": losses}}, losses a list of
            per-step training losses (a run that diverged may stop early or hold nan/inf).
        smooth: running-mean window in steps.
        ylim: the loss range shown (a diverged run leaves the top of the panel).

    Returns:
        The matplotlib Figure.
    """
    rates = sorted(curves)
    fig, axes = plt.subplots(1, len(rates), figsize=(3.2 * len(rates), 3.0), sharey=True)
    axes = np.atleast_1d(axes)
    for ax, rate in zip(axes, rates):
        for label, losses in curves[rate].items():
            ax.plot(_smooth(losses, smooth), label=label, color=COLORS.get(label))
        ax.set_title(f"learning rate {rate:g}", fontsize=10)
        ax.set_xlabel("step")
        ax.set_ylim(*ylim)
        ax.axhline(np.log(10), color="gray", lw=0.8, ls=":")
    axes[0].set_ylabel("training loss")
    axes[-1].legend(fontsize=8, loc="upper right")
    fig.suptitle("SGD with and without batch normalisation (dotted: chance, ln 10)", fontsize=10)
    fig.tight_layout()
    return fig


def plot_batch_size_accuracy(results: Mapping[str, Mapping[int, float]]):
    """Test accuracy against the batch size, one line per model.

    Args:
        results: {label: {batch_size: accuracy}}, e.g. labels "without BN", "with BN",
            "with LN", "with GN".

    Returns:
        The matplotlib Figure.
    """
    fig, ax = plt.subplots(figsize=(4.8, 3.2))
    for label, by_size in results.items():
        sizes = sorted(by_size)
        ax.plot(sizes, [by_size[s] for s in sizes], "o-", label=label, color=COLORS.get(label))
    ax.set_xscale("log", base=2)
    ax.set_xlabel("batch size")
    ax.set_ylabel("test accuracy (eval mode)")
    ax.set_ylim(0, 1)
    ax.axhline(0.1, color="gray", lw=0.8, ls=":")
    ax.legend(fontsize=8)
    ax.set_title("same number of training examples seen", fontsize=10)
    fig.tight_layout()
    return fig


def plot_normalised_histograms(before: np.ndarray, after: np.ndarray, features: int = 3):
    """Histograms of a few features of a layer's input (before) and output (after) BN.

    Args:
        before: shape (N, D), the activations fed to batch normalisation.
        after: shape (N, D), what it returned.
        features: how many of the D features to show.

    Returns:
        The matplotlib Figure.
    """
    fig, axes = plt.subplots(1, 2, figsize=(8, 2.8))
    for ax, values, title in ((axes[0], before, "before"), (axes[1], after, "after")):
        for j in range(min(features, values.shape[1])):
            ax.hist(values[:, j], bins=30, alpha=0.5, label=f"feature {j}")
        ax.set_title(f"{title} batch normalisation", fontsize=10)
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    return fig


# --- the normalisations as axes -------------------------------------------------------------------

# The axes of x (N, C, H, W) that one mean and variance run over (group norm: within a group).
NORMALISATION_AXES = {
    "batch norm": (0, 2, 3),
    "layer norm": (1, 2, 3),
    "instance norm": (2, 3),
    "group norm": (1, 2, 3),  # over the C / G channels of one group only
}


def statistic_masks(
    shape: tuple[int, int, int, int] = (4, 6, 2, 2), groups: int = 2
) -> dict[str, np.ndarray]:
    """For each normalisation, the values of x (N, C, H, W) that share x[0, 0, 0, 0]'s statistics.

    Batch norm: channel 0 of every example, every position. Layer norm: all of example 0.
    Instance norm: channel 0 of example 0. Group norm: the first C / groups channels of
    example 0.

    Args:
        shape: (N, C, H, W) of the batch drawn.
        groups: G for group norm; it must divide C.

    Returns:
        {name: boolean array of shape (N, C, H, W)}, in the order batch, layer, instance, group.
    """
    n, c, h, w = shape
    if groups < 1 or c % groups:
        raise ValueError(f"groups = {groups} must be a positive divisor of C = {c}.")
    masks = {}
    for name, axes in NORMALISATION_AXES.items():
        mask = np.zeros(shape, dtype=bool)
        index = [0, 0, 0, 0]
        for axis in axes:
            index[axis] = slice(None)
        if name == "group norm":
            index[1] = slice(0, c // groups)
        mask[tuple(index)] = True
        masks[name] = mask
    return masks


def plot_normalisation_axes(
    masks: Mapping[str, np.ndarray] | None = None, title: str | None = None
):
    """Each normalisation as a cube of values, after Wu and He (2018), Figure 2.

    A batch x (N, C, H, W) is drawn as a cube with the N examples along one edge, the C
    channels along another and the H * W positions (flattened) up the third. The shaded
    values are those that share one mean and one variance with x[0, 0, 0, 0]; every other
    block of the same shape gets statistics of its own.

    Args:
        masks: {name: boolean array (N, C, H, W)}, True where a value shares x[0, 0, 0, 0]'s
            statistics; default ``statistic_masks()``. All masks must have one shape.
        title: the figure's title.

    Returns:
        The matplotlib Figure.
    """
    masks = statistic_masks() if masks is None else masks
    shapes = {np.shape(mask) for mask in masks.values()}
    if len(shapes) != 1 or len(next(iter(shapes))) != 4:
        raise ValueError(
            f"every mask must have the same shape (N, C, H, W); got shapes {sorted(shapes)}."
        )
    n, c, h, w = next(iter(shapes))
    fig = plt.figure(figsize=(3.0 * len(masks), 3.3))
    for i, (name, mask) in enumerate(masks.items()):
        ax = fig.add_subplot(1, len(masks), i + 1, projection="3d")
        cube = np.asarray(mask, dtype=bool).reshape(n, c, h * w)  # (N, C, H*W): x, y, z
        colors = np.where(cube[..., None], [0.12, 0.47, 0.71, 0.9], [0.8, 0.8, 0.8, 0.25])
        ax.voxels(np.ones(cube.shape, dtype=bool), facecolors=colors, edgecolor=(0, 0, 0, 0.25))
        ax.set_box_aspect((n, c, h * w))
        ax.set_xlabel("N", labelpad=-12)
        ax.set_ylabel("C", labelpad=-12)
        ax.set_zlabel("H, W", labelpad=-12)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_zticks([])
        ax.view_init(elev=20, azim=-60)
        ax.set_title(name, fontsize=10)
    fig.suptitle(
        title or "blue: the values that share one mean and variance with x[0, 0, 0, 0]",
        fontsize=10,
    )
    return fig


# --- initialisation -------------------------------------------------------------------------------


def plot_activation_histograms(
    layers: Mapping[str, Sequence[np.ndarray]], bins: int = 60, span: float = 4.0
):
    """Per initialisation, a histogram of every layer's values, stacked, and their spread.

    One panel per initialisation: layer 1 at the bottom, the last layer at the top, each row
    the histogram of that layer's values, scaled to the same height. The horizontal range is
    +- ``span`` times the standard deviation of layer 1 of that initialisation, so a spike
    in the middle is a layer whose values have collapsed towards 0, and a flat row one whose
    values left the range. The last panel shows every layer's standard deviation (log scale).

    Args:
        layers: {initialisation name: [values of layer 1, layer 2, ...]}, each an array of
            any shape (e.g. the pre-activations (N, width) of that layer).
        bins: histogram bins per layer.
        span: the half-width of the range, in standard deviations of layer 1.

    Returns:
        The matplotlib Figure.
    """
    names = list(layers)
    fig, axes = plt.subplots(1, len(names) + 1, figsize=(3.0 * (len(names) + 1), 4.2))
    for ax, name in zip(axes, names):
        values = [np.asarray(v, dtype=np.float64).ravel() for v in layers[name]]
        limit = span * (values[0].std() or 1.0)
        edges = np.linspace(-limit, limit, bins + 1)
        centres = (edges[:-1] + edges[1:]) / 2
        for depth, v in enumerate(values, start=1):
            counts, _ = np.histogram(v, bins=edges)
            height = 0.9 * counts / counts.max() if counts.max() else counts * 0.0
            ax.fill_between(centres, depth, depth + height, color=COLORS.get(name), alpha=0.6, lw=0)
            ax.plot(centres, depth + height, color="black", lw=0.4)
        ax.set_ylim(0.8, len(values) + 0.95)  # the last histogram is at most 0.9 high
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlim(-limit, limit)
        ax.set_xlabel("value")
        ax.set_title(name, fontsize=10)
    axes[0].set_ylabel("layer")
    ax = axes[-1]
    for name in names:
        stds = [np.std(v) for v in layers[name]]
        ax.semilogy(range(1, len(stds) + 1), stds, "o-", ms=3, label=name, color=COLORS.get(name))
    ax.set_xlabel("layer")
    ax.set_ylabel("standard deviation")
    ax.legend(fontsize=8)
    ax.set_title("spread per layer", fontsize=10)
    fig.tight_layout()
    return fig


def plot_training_losses(curves: Mapping[str, Sequence[float]], smooth: int = 10):
    """The training loss per step of each model, smoothed, with chance (ln 10) dotted.

    Args:
        curves: {label: per-step training losses}.
        smooth: running-mean window in steps.

    Returns:
        The matplotlib Figure.
    """
    fig, ax = plt.subplots(figsize=(5.0, 3.2))
    for label, losses in curves.items():
        ax.plot(_smooth(losses, smooth), label=label, color=COLORS.get(label))
    ax.axhline(np.log(10), color="gray", lw=0.8, ls=":")
    ax.set_xlabel("step")
    ax.set_ylabel("training loss")
    ax.set_ylim(0, 3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
