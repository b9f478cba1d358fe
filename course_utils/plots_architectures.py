"""Figures of notebook 05: where a network's parameters and compute live, and the degradation
experiment.

plot_params_vs_macs(rows)      each layer's share of the parameters and of the multiply-
                               accumulates, in the order the layers run, and one against the other
plot_degradation(curves)       training loss per step of plain and residual nets of two depths

Like ``course_utils.plots``, every function returns a matplotlib Figure (closed in pyplot, so a
notebook shows it once, as a cell's last expression) on an opaque white face, in the
Okabe-Ito colours, with lines that differ in style as well as colour.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from course_utils.plots import FACE_COLOR, OKABE_ITO, TEXT_COLOR, _figure, _style

__all__ = ["plot_params_vs_macs", "plot_degradation"]

_KIND_STYLE = {  # layer type -> (colour, marker)
    "conv": (OKABE_ITO[5], "o"),  # blue
    "linear": (OKABE_ITO[6], "s"),  # vermillion
}


def _kind(row: Mapping) -> str | None:
    name = str(row["type"])
    if name.startswith("Conv"):
        return "conv"
    if name == "Linear":
        return "linear"
    return None


def _legend(ax) -> None:
    legend = ax.legend(facecolor=FACE_COLOR, edgecolor=TEXT_COLOR, fontsize=8)
    for text in legend.get_texts():
        text.set_color(TEXT_COLOR)


def plot_params_vs_macs(rows: Sequence[Mapping], title: str | None = None) -> Figure:
    """Parameters and multiply-accumulates of every convolution and linear layer.

    Args:
        rows: a layer table, as ``layer_table(model, input_shape)`` returns it: dicts with
            "name", "type", "params" and "macs" (other rows, ReLU or pooling, are skipped).
        title: the figure's title (default: the totals).

    Returns:
        The Figure with two axes. Left: for each conv and linear layer, in the order they
        run, its share of the model's parameters and of its MACs (percent). Right: each such
        layer's MACs against its parameters (both logarithmic), by layer type.
    """
    layers = [row for row in rows if _kind(row) is not None]
    if not layers:
        raise ValueError(
            "rows hold no convolution or linear layer: pass the list that layer_table(model, "
            "input_shape) returns for a model with nn.Conv2d or nn.Linear layers."
        )
    params = np.array([row["params"] for row in layers], dtype=np.float64)
    macs = np.array([row["macs"] for row in layers], dtype=np.float64)
    total_params = float(sum(row["params"] for row in rows))
    total_macs = float(sum(row["macs"] for row in rows))
    fig = _figure(11, 3.8)
    left = fig.add_subplot(1, 2, 1)
    _style(left, "share of the total, per layer (in the order they run)")
    x = np.arange(len(layers))
    left.bar(x - 0.2, 100 * params / max(total_params, 1), 0.4, color=OKABE_ITO[1],
             label="parameters")  # fmt: skip
    left.bar(x + 0.2, 100 * macs / max(total_macs, 1), 0.4, color=OKABE_ITO[2],
             hatch="//", edgecolor=TEXT_COLOR, linewidth=0.3, label="multiply-accumulates")  # fmt: skip
    left.set_xticks(x)
    left.set_xticklabels([row["name"] for row in layers], rotation=90, fontsize=7)
    left.set_ylabel("percent of the model's total")
    left.grid(axis="y", alpha=0.3)
    _legend(left)
    right = fig.add_subplot(1, 2, 2)
    _style(right, "each layer: multiply-accumulates against parameters")
    for kind, (color, marker) in _KIND_STYLE.items():
        chosen = [i for i, row in enumerate(layers) if _kind(row) == kind]
        if chosen:
            right.scatter(np.maximum(params[chosen], 1), np.maximum(macs[chosen], 1),
                          color=color, marker=marker, label=kind, zorder=3)  # fmt: skip
    right.set_xscale("log")
    right.set_yscale("log")
    right.set_xlabel("parameters")
    right.set_ylabel("multiply-accumulates")
    right.grid(alpha=0.3, which="both")
    _legend(right)
    fig.suptitle(
        title or f"{total_params:,.0f} parameters, {total_macs:,.0f} multiply-accumulates",
        color=TEXT_COLOR,
        fontsize=10,
    )
    fig.tight_layout()
    return fig


def _smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Running mean over the last ``window`` values (fewer at the start)."""
    if window <= 1 or len(values) < 2:
        return values
    cumulative = np.concatenate([[0.0], np.cumsum(values)])
    ends = np.arange(1, len(values) + 1)
    starts = np.maximum(0, ends - window)
    return (cumulative[ends] - cumulative[starts]) / (ends - starts)


def plot_degradation(curves: Mapping[str, Sequence[Sequence[float]]], smooth: int = 5) -> Figure:
    """Training loss per step of the degradation experiment, plain nets beside residual ones.

    Args:
        curves: ``{label: [losses of seed 1, losses of seed 2, ...]}``, each a list of per-step
            training losses, with labels such as "plain-8", "plain-32", "ResNet-8",
            "ResNet-32" (labels starting with "plain" go in the left panel, the others in the
            right one; the number after the dash is the depth).
        smooth: the running mean's window, in steps (1: the raw losses).

    Returns:
        The Figure with two axes on one loss scale: each net's loss averaged over its seeds
        (a line, smoothed) and the range of the seeds (a band), against the step.
    """
    if not curves:
        raise ValueError("curves is empty: pass {label: [per-step losses of each seed]}.")
    depths = sorted({label.rsplit("-", 1)[-1] for label in curves}, key=lambda d: (len(d), d))
    colors = {d: OKABE_ITO[(5, 6, 3, 1, 7)[i % 5]] for i, d in enumerate(depths)}
    styles = {d: ("-", "--", "-.", ":")[i % 4] for i, d in enumerate(depths)}
    fig = _figure(10, 3.6)
    panels = {}
    for position, (group, name) in enumerate((("plain", "plain nets"), ("res", "residual nets"))):
        ax = fig.add_subplot(1, 2, position + 1, sharey=panels.get("plain"))
        _style(ax, name)
        ax.set_xlabel("training step")
        ax.set_ylabel("training loss (cross-entropy)")
        ax.grid(alpha=0.3)
        panels[group] = ax
    for label, runs in curves.items():
        lengths = [len(run) for run in runs]
        if not runs or min(lengths) == 0:
            raise ValueError(f"curves[{label!r}] holds no losses; got {lengths} per seed.")
        steps = min(lengths)
        losses = np.array([run[:steps] for run in runs], dtype=np.float64)  # (seeds, steps)
        smoothed = np.array([_smooth(run, smooth) for run in losses])
        depth = label.rsplit("-", 1)[-1]
        ax = panels["plain" if label.lower().startswith("plain") else "res"]
        x = np.arange(1, steps + 1)
        ax.fill_between(x, smoothed.min(0), smoothed.max(0), color=colors[depth], alpha=0.2)
        ax.plot(x, smoothed.mean(0), styles[depth], color=colors[depth], label=label)
    for ax in panels.values():
        if ax.get_legend_handles_labels()[0]:
            _legend(ax)
    fig.suptitle(
        f"mean over the seeds (line) and their range (band); running mean over {smooth} steps",
        color=TEXT_COLOR,
        fontsize=9,
    )
    fig.tight_layout()
    return fig
