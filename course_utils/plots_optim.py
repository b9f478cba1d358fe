"""Plots of notebook 03: optimisers on test surfaces, and loss curves side by side.

    paths = {"sgd": run_on_surface(sgd, ILL_CONDITIONED, start, {"learning_rate": 0.1}, 50)}
    plot_trajectories(ILL_CONDITIONED, paths, steps=(5, 20, 50))   # drawn step by step
    plot_loss_curves({"sgd": losses, "adam": other_losses})

A surface is a ``Surface``: a function of a point ``p`` (shape (2,)) with its gradient and the
window to draw. ``run_on_surface`` applies any update rule ``(w, dw, config) -> (next_w,
config)`` to it, feeding the config back, so the students' own functions draw the paths.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np

__all__ = [
    "Surface",
    "ILL_CONDITIONED",
    "ROSENBROCK",
    "run_on_surface",
    "plot_trajectories",
    "plot_loss_curves",
    "plot_gd_variants",
]


@dataclass(frozen=True)
class Surface:
    """A 2-D test function: value f(p), gradient grad(p), the window to draw and its minimum.

    Attributes:
        name: shown in titles.
        f: p (2,) -> float; also works on a grid (2, H, W) -> (H, W).
        grad: p (2,) -> gradient (2,).
        xlim, ylim: the window to draw.
        minimum: where f is smallest, (2,).
        log_levels: draw contour levels on a log scale (for surfaces with a narrow valley).
    """

    name: str
    f: Callable
    grad: Callable
    xlim: tuple[float, float]
    ylim: tuple[float, float]
    minimum: tuple[float, float]
    log_levels: bool = False


ILL_CONDITIONED = Surface(
    "ill-conditioned quadratic f = (x^2 + 20 y^2) / 2 (condition number 20)",
    lambda p: 0.5 * (p[0] ** 2 + 20.0 * p[1] ** 2),
    lambda p: np.array([p[0], 20.0 * p[1]]),
    (-11.0, 3.0),
    (-3.0, 3.0),
    (0.0, 0.0),
)

ROSENBROCK = Surface(
    "Rosenbrock f = (1 - x)^2 + 100 (y - x^2)^2",
    lambda p: (1.0 - p[0]) ** 2 + 100.0 * (p[1] - p[0] ** 2) ** 2,
    lambda p: np.array(
        [-2.0 * (1.0 - p[0]) - 400.0 * p[0] * (p[1] - p[0] ** 2), 200.0 * (p[1] - p[0] ** 2)]
    ),
    (-2.0, 2.0),
    (-1.0, 3.0),
    (1.0, 1.0),
    log_levels=True,
)


def run_on_surface(
    update: Callable,
    surface: Surface,
    start: Sequence[float],
    config: dict | None,
    steps: int,
    schedule: Callable[[int], float] | None = None,
) -> np.ndarray:
    """Apply ``update`` to ``surface`` from ``start`` for ``steps`` steps.

    Args:
        update: an update rule ``(w, dw, config) -> (next_w, config)`` on NumPy arrays.
        surface: the function to minimise.
        start: the first point, (2,).
        config: the starting config (copied), or None for the rule's defaults.
        steps: how many updates.
        schedule: optional ``step -> learning rate`` (step counts from 0), written into the
            config before each update (learning-rate decay).

    Returns:
        The path, shape (steps + 1, 2): the start, then the point after every step. A path
        that overflows stays at its last finite point's values of inf/nan from there on.
    """
    w = np.array(start, dtype=np.float64)
    config = None if config is None else dict(config)
    path = [w.copy()]
    with np.errstate(over="ignore", invalid="ignore"):
        for step in range(steps):
            if schedule is not None:
                config = {} if config is None else config
                config["learning_rate"] = schedule(step)
            w, config = update(w, surface.grad(w), config)
            w = np.asarray(w, dtype=np.float64)
            path.append(w.copy())
    return np.array(path)


def _contours(ax, surface: Surface) -> None:
    x = np.linspace(*surface.xlim, 200)
    y = np.linspace(*surface.ylim, 200)
    grid = np.stack(np.meshgrid(x, y))  # (2, H, W)
    values = surface.f(grid)  # (H, W)
    if surface.log_levels:
        levels = np.logspace(-1, np.log10(values.max()), 15)
    else:
        levels = np.linspace(0, values.max(), 20) ** 2 / values.max()
    ax.contour(x, y, values, levels=levels, colors="0.75", linewidths=0.8)
    ax.plot(*surface.minimum, marker="*", color="black", markersize=12, linestyle="none")
    ax.set_xlim(*surface.xlim)
    ax.set_ylim(*surface.ylim)


def plot_trajectories(
    surface: Surface,
    paths: dict[str, np.ndarray],
    steps: Sequence[int] | None = None,
    title: str | None = None,
):
    """Draw every path on the surface's contours, a dot at every step.

    Args:
        surface: the surface the paths ran on.
        paths: name -> path (T + 1, 2), as ``run_on_surface`` returns.
        steps: draw one panel per entry, showing the first that many steps of every path
            (the paths drawn step by step); None: one panel with whole paths.
        title: the figure title (default: the surface's name).

    Returns:
        The matplotlib Figure.
    """
    longest = max(len(path) - 1 for path in paths.values())
    steps = [longest] if steps is None else list(steps)
    fig, axes = plt.subplots(1, len(steps), figsize=(5 * len(steps), 4.2), squeeze=False)
    for ax, upto in zip(axes[0], steps):
        _contours(ax, surface)
        for name, path in paths.items():
            shown = path[: upto + 1]
            ax.plot(shown[:, 0], shown[:, 1], marker="o", markersize=2.5, linewidth=1, label=name)
        ax.set_title(f"after {upto} steps")
        ax.set_xlabel("x")
        ax.set_ylabel("y")
    axes[0, -1].legend(loc="best", fontsize=8)
    fig.suptitle(title or surface.name)
    fig.tight_layout()
    return fig


def plot_loss_curves(
    curves: dict[str, Sequence[float]],
    xlabel: str = "step",
    ylabel: str = "loss",
    log: bool = False,
    title: str | None = None,
    smooth: int = 1,
    ax=None,
):
    """One line per named loss curve, on one axes (so they compare side by side).

    Args:
        curves: name -> values, one per step (non-finite values end a line).
        xlabel, ylabel, title: labels.
        log: log scale on the y axis.
        smooth: average over a sliding window of this many steps (1: raw values).
        ax: draw into this axes; None: a new figure.

    Returns:
        The matplotlib Figure.
    """
    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 4))
    else:
        fig = ax.figure
    for name, values in curves.items():
        values = np.asarray(values, dtype=np.float64)
        if smooth > 1 and len(values) >= smooth:
            values = np.convolve(values, np.ones(smooth) / smooth, mode="valid")
        ax.plot(np.arange(len(values)) + (smooth - 1 if smooth > 1 else 0), values, label=name)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_gd_variants(runs: dict[str, dict[str, Sequence[float]]]):
    """Batch, stochastic and mini-batch gradient descent compared: noise, and cost per step.

    Args:
        runs: name -> {"loss": full-data loss after every step, "examples": examples whose
            gradient each step computed (its cost)}.

    Returns:
        The matplotlib Figure: loss per update step (the noise), loss against the number of
        gradient evaluations (the cost), and the cost of one step, as bars.
    """
    fig, (by_step, by_cost, cost) = plt.subplots(1, 3, figsize=(15, 4))
    for name, run in runs.items():
        loss = np.asarray(run["loss"], dtype=np.float64)
        examples = np.asarray(run["examples"], dtype=np.float64)
        by_step.plot(np.arange(1, len(loss) + 1), loss, label=name, linewidth=1)
        by_cost.plot(np.cumsum(examples), loss, label=name, linewidth=1)
        cost.bar(name, examples.mean())
    by_step.set(
        xlabel="update step",
        ylabel="loss on all data",
        yscale="log",
        title="per step: the smaller the batch, the noisier",
    )
    by_cost.set(
        xlabel="gradient evaluations (examples processed)",
        ylabel="loss on all data",
        xscale="log",
        yscale="log",
        title="per unit of work: small batches win early",
    )
    cost.set(ylabel="examples per step", yscale="log", title="cost of one step")
    by_step.legend(fontsize=8)
    fig.tight_layout()
    return fig
