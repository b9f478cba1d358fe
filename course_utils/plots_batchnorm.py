"""Figures of notebook 04: the batch-normalisation experiments.

plot_learning_rate_sweep(curves)        loss per step, with and without BN, one panel per rate
plot_batch_size_accuracy(results)       test accuracy against the batch size, with and without BN
plot_normalised_histograms(before, after)   a layer's activations before and after BN
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

COLORS = {"without BN": "tab:red", "with BN": "tab:blue"}


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
        results: {"with BN": {batch_size: accuracy}, "without BN": {...}}.

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
