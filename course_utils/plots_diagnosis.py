"""The picture a failed check shows beside its diagnosis: where an array answer differs.

``difference_map(expected, got)`` draws three small heat maps side by side (the expected
array, the student's, and their absolute difference) of the 2-D slice that holds the largest
error, so "only the border is wrong" or "everything is transposed" shows at a glance.
``difference_png`` is the same as PNG bytes, small enough to embed in a notebook output or a
feedback page.
"""

from __future__ import annotations

import io

import numpy as np
from matplotlib.figure import Figure

#: The largest slice drawn; a larger one is cropped around its largest error.
MAX_SIDE = 24


def _slice(expected: np.ndarray, got: np.ndarray) -> tuple[np.ndarray, np.ndarray, str]:
    """The 2-D slices of both arrays through the largest error, and how they were indexed.

    A 1-D array is one row; for more dimensions every leading index is fixed at the position
    of the largest error (``[1, 0, :, :]``). A side longer than ``MAX_SIDE`` is cropped to the
    ``MAX_SIDE`` entries around that error.
    """
    difference = np.abs(got - expected)
    where = np.unravel_index(int(np.argmax(np.nan_to_num(difference, nan=np.inf))), got.shape)
    if expected.ndim == 1:
        expected, got, where, index = expected[None], got[None], (0, where[0]), "[:]"
    elif expected.ndim == 2:
        index = "[:, :]"
    else:
        lead = tuple(int(i) for i in where[:-2])
        expected, got, where = expected[lead], got[lead], where[-2:]
        index = "[" + ", ".join(str(i) for i in lead) + ", :, :]"
    window = tuple(
        slice(start, start + MAX_SIDE)
        for start in (
            min(max(0, int(at) - MAX_SIDE // 2), max(0, size - MAX_SIDE))
            for at, size in zip(where, expected.shape)
        )
    )
    return expected[window], got[window], index


def _finite_range(*arrays: np.ndarray) -> tuple[float, float]:
    values = np.concatenate([a[np.isfinite(a)].ravel() for a in arrays])
    if values.size == 0:
        return 0.0, 1.0
    low, high = float(values.min()), float(values.max())
    return (low, high) if high > low else (low - 0.5, high + 0.5)


def difference_map(expected: np.ndarray, got: np.ndarray, what: str = "out") -> Figure:
    """Expected, got and |got - expected| of the slice with the largest error, as heat maps.

    Args:
        expected, got: arrays of the same shape, at least 1-D (NaN and inf allowed in got).
        what: the answer's name, for the titles.
    """
    expected = np.asarray(expected, dtype=np.float64)
    got = np.asarray(got, dtype=np.float64)
    if expected.shape != got.shape or expected.ndim == 0:
        raise ValueError(
            "difference_map needs two arrays of one shape with at least one axis; got "
            f"{expected.shape} and {got.shape}."
        )
    shown_expected, shown_got, index = _slice(expected, got)
    difference = np.abs(shown_got - shown_expected)
    low, high = _finite_range(shown_expected, shown_got)
    panels = [
        (f"expected {what}{index}", shown_expected, "viridis", (low, high)),
        ("yours", shown_got, "viridis", (low, high)),
        ("|difference|", difference, "Reds", (0.0, max(_finite_range(difference)[1], 1e-12))),
    ]
    figure = Figure(figsize=(6.6, 2.3), dpi=60)
    for ax, (title, values, cmap, (vmin, vmax)) in zip(figure.subplots(1, 3), panels):
        image = ax.imshow(values, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
        ax.set_title(title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        figure.colorbar(image, ax=ax, fraction=0.046, pad=0.03).ax.tick_params(labelsize=7)
    figure.tight_layout()
    return figure


def difference_png(expected: np.ndarray, got: np.ndarray, what: str = "out") -> bytes:
    """``difference_map`` as PNG bytes (a few kilobytes)."""
    buffer = io.BytesIO()
    difference_map(expected, got, what).savefig(buffer, format="png")
    return buffer.getvalue()
