"""Checks for notebook 02's pooling: max and average, forward and backward.

Each check is an ``Exercise`` (see ``layers``, whose shared helpers these checks use). Public
cases start with the lecture's examples (SEED_CONCEPTS.md section 2); hidden cases are drawn at
grading time (other shapes, window sizes and strides, batch size 1, non-square windows); their
inputs are random normal numbers, so max pooling's windows are tie-free.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from autograder.checks._engine import (
    Backward,
    Case,
    CheckResult,
    Exercise,
    Mistake,
    NotApplicable,
    Returns,
    check,
    to_tensor,
    twin,
)
from autograder.checks.convolution import _STRIDE_INPUT
from autograder.checks.layers import _a, _channels_last, _hidden_with_dout, _out, _with_dout
from course_utils import reference

__all__ = [
    "check_max_pool_forward",
    "check_max_pool_backward",
    "check_avg_pool_forward",
    "check_avg_pool_backward",
]

# The max-pool example (3x3 pool, stride 1 -> [[3,3,3],[3,3,3],[3,2,3]]); its windows have ties.
_MAX_POOL_X = _a(
    [[[[3, 3, 2, 1, 0], [0, 0, 1, 3, 1], [3, 1, 2, 2, 3], [2, 0, 0, 2, 2], [2, 0, 0, 0, 1]]]]
)  # (1, 1, 5, 5)

_TIES_RULE = (
    "with ties: a window's whole gradient goes to its FIRST maximum in row-major order, "
    "as PyTorch does on the CPU"
)


def _pool_param(hh: int, ww: int, stride: int) -> dict:
    return {"pool_height": hh, "pool_width": ww, "stride": stride}


def _pool_cases(ties: bool) -> Callable[[], list[Case]]:
    def cases() -> list[Case]:
        rng = np.random.default_rng(2006)
        stride_x = _STRIDE_INPUT.reshape(1, 1, 4, 4)
        made = []
        if ties:
            made.append(
                Case(
                    f"lecture example: 5x5 input, 3x3 pool, stride 1 ({_TIES_RULE})",
                    (_MAX_POOL_X, _pool_param(3, 3, 1)),
                )
            )
        made += [
            Case("lecture stride example: 4x4 input, 2x2 pool, stride 1 -> 3x3",
                 (stride_x, _pool_param(2, 2, 1))),
            Case("lecture stride example: 4x4 input, 2x2 pool, stride 2 -> 2x2",
                 (stride_x, _pool_param(2, 2, 2))),
            Case("2 images 3x4x4, 2x2 pool, stride 2",
                 (rng.standard_normal((2, 3, 4, 4)), _pool_param(2, 2, 2))),
            Case("non-square: 2 images 2x6x8, 2x4 pool, stride 2",
                 (rng.standard_normal((2, 2, 6, 8)), _pool_param(2, 4, 2))),
            Case("overlapping windows: 1 image 2x5x5, 3x3 pool, stride 1",
                 (rng.standard_normal((1, 2, 5, 5)), _pool_param(3, 3, 1))),
        ]  # fmt: skip
        return made

    return cases


def _hidden_pool_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for i in range(6):
        hh, ww, stride = (int(v) for v in rng.integers(1, 4, size=3))
        h_out, w_out = (int(v) for v in rng.integers(1, 5, size=2))
        h, w = (h_out - 1) * stride + hh, (w_out - 1) * stride + ww
        n = 1 if i == 0 else int(rng.integers(1, 4))
        c = int(rng.integers(1, 4))
        cases.append(
            Case(
                f"hidden {i + 1}: {n} image(s) {c}x{h}x{w}, {hh}x{ww} pool, stride {stride}",
                (rng.standard_normal((n, c, h, w)), _pool_param(hh, ww, stride)),
            )
        )
    return cases


def _pool_stride_ignored(forward_twin: Callable) -> Mistake:
    def predict(x, pool_param):
        if pool_param["stride"] == 1:
            raise NotApplicable
        return _out(forward_twin)(x, {**pool_param, "stride": 1})

    return Mistake(
        "stride_ignored",
        "your output is what stride 1 gives: the stride was ignored. Window (i, j) starts at "
        "row i*S and column j*S, and H_out = 1 + (H - HH) / S.",
        predict,
    )


_POOL_ARGS = ("x", "pool_param")
_max_pool = _out(reference.max_pool_forward_naive)

MAX_POOL_FORWARD = Exercise(
    "max_pool_forward",
    args=_POOL_ARGS,
    public=_pool_cases(ties=True),
    hidden=_hidden_pool_cases,
    judge=Returns(
        _max_pool,
        parts=("out", "cache"),
        compared=("out",),
        mistakes=(
            _pool_stride_ignored(reference.max_pool_forward_naive),
            _channels_last(_max_pool),
        ),
    ),
    functions=("max_pool_forward_naive",),
)


@check
def check_max_pool_forward(max_pool_forward_naive: Callable, cases: str = "public") -> CheckResult:
    """Check ``max_pool_forward_naive(x, pool_param) -> (out, cache)``: each window's maximum,
    shape (N, C, H_out, W_out), H_out = 1 + (H - HH) / S; pool_param {"pool_height",
    "pool_width", "stride"}."""
    return MAX_POOL_FORWARD.run(cases, max_pool_forward_naive)


def _windows(x: np.ndarray, pool_param: dict):
    hh, ww, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    h_out = 1 + (x.shape[2] - hh) // stride
    w_out = 1 + (x.shape[3] - ww) // stride
    for i in range(h_out):
        for j in range(w_out):
            rows = slice(i * stride, i * stride + hh)
            cols = slice(j * stride, j * stride + ww)
            yield i, j, rows, cols


def _max_pool_routed(x: np.ndarray, pool_param: dict, dout: np.ndarray, rule: str) -> np.ndarray:
    """dx when each window's dout goes to all its maxima ("ties") or all its elements ("all")."""
    dx = np.zeros_like(x)
    for i, j, rows, cols in _windows(x, pool_param):
        window = x[:, :, rows, cols]  # (N, C, HH, WW)
        if rule == "ties":
            where = window == window.max(axis=(2, 3), keepdims=True)
        else:
            where = np.ones_like(window, dtype=bool)
        dx[:, :, rows, cols] += where * dout[:, :, i, j][:, :, None, None]
    return dx


MAX_POOL_BACKWARD = Exercise(
    "max_pool_backward",
    args=(*_POOL_ARGS, "dout"),
    public=_with_dout(_pool_cases(ties=True), reference.max_pool_forward_naive),
    hidden=_hidden_with_dout(_hidden_pool_cases, reference.max_pool_forward_naive),
    judge=Backward(
        reference.max_pool_forward_naive,
        reference.max_pool_backward_naive,
        ("dx",),
        {
            "dx": [
                Mistake(
                    "all_ties",
                    "your dx sends a window's gradient to every element equal to its maximum. "
                    "With ties only ONE element may get it, the first maximum in row-major "
                    "order (as np.argmax returns it, and as PyTorch does): otherwise the "
                    "gradient is counted several times.",
                    lambda x, pool_param, dout: _max_pool_routed(x, pool_param, dout, "ties"),
                ),
                Mistake(
                    "all_elements",
                    "your dx sends a window's gradient to every element of the window. Max "
                    "pooling routes it only to the maximum (the element that produced the "
                    "output); the others get 0.",
                    lambda x, pool_param, dout: _max_pool_routed(x, pool_param, dout, "all"),
                ),
            ]
        },
    ),
    functions=("max_pool_forward_naive", "max_pool_backward_naive"),
)


@check
def check_max_pool_backward(
    max_pool_forward_naive: Callable, max_pool_backward_naive: Callable, cases: str = "public"
) -> CheckResult:
    """Check ``max_pool_backward_naive(dout, cache) -> dx`` (N, C, H, W): each window's whole
    upstream gradient goes to its maximum, to the FIRST maximum in row-major order when there
    are ties (as PyTorch does on the CPU; the lecture example has ties); overlapping windows
    add up."""
    return MAX_POOL_BACKWARD.run(cases, max_pool_forward_naive, max_pool_backward_naive)


_avg_pool = _out(reference.avg_pool_forward)

AVG_POOL_FORWARD = Exercise(
    "avg_pool_forward",
    args=_POOL_ARGS,
    public=_pool_cases(ties=False),
    hidden=_hidden_pool_cases,
    judge=Returns(
        _avg_pool,
        parts=("out", "cache"),
        compared=("out",),
        mistakes=(
            Mistake(
                "not_divided",
                "your output is the SUM of each window: divide by its size HH * WW to get the "
                "mean.",
                lambda x, pool_param: (
                    _avg_pool(x, pool_param)
                    * (pool_param["pool_height"] * pool_param["pool_width"])
                ),
            ),
            _pool_stride_ignored(reference.avg_pool_forward),
            _channels_last(_avg_pool),
        ),
    ),
)


@check
def check_avg_pool_forward(avg_pool_forward: Callable, cases: str = "public") -> CheckResult:
    """Check ``avg_pool_forward(x, pool_param) -> (out, cache)``: each window's mean, shape
    (N, C, H_out, W_out)."""
    return AVG_POOL_FORWARD.run(cases, avg_pool_forward)


def _avg_pool_undivided(x, pool_param, dout):
    cache = reference.avg_pool_forward(to_tensor(x), pool_param)[1]
    dx = twin(reference.avg_pool_backward, dout, cache)
    return dx * (pool_param["pool_height"] * pool_param["pool_width"])


AVG_POOL_BACKWARD = Exercise(
    "avg_pool_backward",
    args=(*_POOL_ARGS, "dout"),
    public=_with_dout(_pool_cases(ties=False), reference.avg_pool_forward),
    hidden=_hidden_with_dout(_hidden_pool_cases, reference.avg_pool_forward),
    judge=Backward(
        reference.avg_pool_forward,
        reference.avg_pool_backward,
        ("dx",),
        {
            "dx": [
                Mistake(
                    "not_divided",
                    "your dx gives every input of a window the whole dout: the forward divided "
                    "by HH * WW, so each input's share is dout / (HH * WW).",
                    _avg_pool_undivided,
                )
            ]
        },
    ),
    functions=("avg_pool_forward", "avg_pool_backward"),
)


@check
def check_avg_pool_backward(
    avg_pool_forward: Callable, avg_pool_backward: Callable, cases: str = "public"
) -> CheckResult:
    """Check ``avg_pool_backward(dout, cache) -> dx`` (N, C, H, W): every input of a window gets
    dout / (HH * WW); overlapping windows add up."""
    return AVG_POOL_BACKWARD.run(cases, avg_pool_forward, avg_pool_backward)
