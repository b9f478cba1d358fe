"""Checks for notebook 02's layers: affine, ReLU and dropout, forward and backward; and what
every check of notebook 02 shares. (Convolution and pooling are checked in ``convolution``,
the losses and the numerical gradient in ``losses``.)

Each check is an ``Exercise``: its cases, the PyTorch twin in ``course_utils.reference``
(compared in float64) and the known mistakes, run by the engine in ``_engine``. Hidden cases
are drawn at grading time (other shapes, batch size 1).

A backward check gives the student's backward only the cache that the same student's forward
returned: caches are opaque (``Backward``). Every check applies the banned-library rule: no
PyTorch, ``course_utils`` or SciPy inside a NumPy exercise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from autograder.checks._engine import (
    Attempt,
    Backward,
    Case,
    CaseFailure,
    CheckResult,
    Exercise,
    Hint,
    Mistake,
    Returns,
    channels_last,
    check,
    matches,
    not_applicable,
    twin,
)
from course_utils import reference

__all__ = [
    "check_affine_forward",
    "check_affine_backward",
    "check_relu_forward",
    "check_relu_backward",
    "check_dropout_forward",
    "check_dropout_backward",
]


def _a(values) -> np.ndarray:
    return np.array(values, dtype=np.float64)


# --- what every check of notebook 02 shares ----------------------------------------------------


def _out(forward_twin: Callable) -> Callable[..., np.ndarray]:
    """The out of a forward twin's ``(out, cache)``, on NumPy arguments."""
    return lambda *args: twin(forward_twin, *args)[0]


def _dout_for(forward_twin: Callable, args: tuple, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(_out(forward_twin)(*args).shape)


def _with_dout(make: Callable[[], list[Case]], forward_twin: Callable) -> Callable[[], list[Case]]:
    """Public backward cases: the forward cases with an upstream gradient dout appended."""

    def cases() -> list[Case]:
        return [
            Case(c.name, (*c.args, _dout_for(forward_twin, c.args, 3000 + i)))
            for i, c in enumerate(make())
        ]

    return cases


def _hidden_with_dout(
    make: Callable[[np.random.Generator], list[Case]], forward_twin: Callable
) -> Callable[[np.random.Generator], list[Case]]:
    """Hidden backward cases: the forward cases, each with a dout from a seed drawn after them."""

    def cases(rng: np.random.Generator) -> list[Case]:
        made = make(rng)
        return [
            Case(c.name, (*c.args, _dout_for(forward_twin, c.args, int(rng.integers(2**31)))))
            for c in made
        ]

    return cases


def _no_bias_gradient(formula: str) -> Mistake:
    return Mistake(
        "no_bias_gradient",
        f"db is all zeros: the bias gradient was forgotten. Each bias gets the sum of the "
        f"upstream gradient of every output it was added to: {formula}.",
        lambda *args: np.zeros(np.shape(args[2])),
    )


def _channels_last(expected_of: Callable[..., np.ndarray]) -> Mistake:
    """The engine's NHWC mistake, in the words for an NHWC shape that coincides with NCHW's."""
    return replace(
        channels_last(expected_of),
        hint="your output is channels-last (NHWC, as in Keras/TensorFlow) with a shape that "
        "happens to coincide; this course uses NCHW (N, C, H, W), as PyTorch does.",
    )


# --- affine ------------------------------------------------------------------------------------


def _affine_wb(rng: np.random.Generator, d: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    return rng.standard_normal((d, m)), rng.standard_normal(m)


def _affine_cases() -> list[Case]:
    rng = np.random.default_rng(2001)
    return [
        Case("x (N, D) = (2, 4), 3 outputs", (rng.standard_normal((2, 4)), *_affine_wb(rng, 4, 3))),
        Case(
            "x (3, 2, 3, 2) flattened to (3, 12), 5 outputs",
            (rng.standard_normal((3, 2, 3, 2)), *_affine_wb(rng, 12, 5)),
        ),
        Case(
            "batch size 1, x (1, 3, 2) flattened to (1, 6), 2 outputs",
            (rng.standard_normal((1, 3, 2)), *_affine_wb(rng, 6, 2)),
        ),
    ]


def _hidden_affine_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for i in range(5):
        n = 1 if i == 0 else int(rng.integers(1, 6))
        dims = tuple(int(v) for v in rng.integers(1, 5, size=int(rng.integers(1, 4))))
        m = int(rng.integers(1, 7))
        x = rng.standard_normal((n, *dims))
        cases.append(
            Case(f"hidden {i + 1}: x {x.shape}, {m} outputs", (x, *_affine_wb(rng, x[0].size, m)))
        )
    return cases


_AFFINE_ARGS = ("x", "w", "b")
_NO_FLATTEN = Hint(
    "no_flatten",
    "your function gives the right answer when x is already flat (N, D), but x may have any "
    "shape (N, d_1, ..., d_k): flatten it first with x.reshape(x.shape[0], -1).",
)


def _missing_flatten(attempt: Attempt, case: Case, expected: np.ndarray) -> Hint | None:
    """``_NO_FLATTEN`` when x has several dimensions and the function is right on x flattened."""
    x, w, b = case.fresh()[0]
    if x.ndim <= 2:
        return None
    try:
        got, _ = attempt.forward(Case(case.name, (x.reshape(x.shape[0], -1), w, b)))
    except CaseFailure:
        return None
    return _NO_FLATTEN if matches(got, expected) else None


def _judge_affine_forward(attempt: Attempt, case: Case) -> float:
    """out compared with the twin's; a failure (wrong values, or an exception) that disappears
    when x is flattened first is a missing flatten."""
    attempt.unchanged(case)
    expected = _out(reference.affine_forward)(*case.fresh()[0])
    try:
        got, _ = attempt.forward(case)
        return attempt.compare(got, expected, "out")
    except CaseFailure as failure:
        raise failure.with_hint(_missing_flatten(attempt, case, expected)) from None


AFFINE_FORWARD = Exercise(
    "affine_forward",
    args=_AFFINE_ARGS,
    public=_affine_cases,
    hidden=_hidden_affine_cases,
    judge=_judge_affine_forward,
)


@check
def check_affine_forward(affine_forward: Callable, cases: str = "public") -> CheckResult:
    """Check ``affine_forward(x, w, b) -> (out, cache)``: out = x.reshape(N, D) @ w + b, (N, M).

    x may have any shape (N, d_1, ..., d_k) with D = d_1 * ... * d_k. A failure on such an x
    that disappears when x is flattened first is diagnosed as a missing flatten.
    """
    return AFFINE_FORWARD.run(cases, affine_forward)


AFFINE_BACKWARD = Exercise(
    "affine_backward",
    args=(*_AFFINE_ARGS, "dout"),
    public=_with_dout(_affine_cases, reference.affine_forward),
    hidden=_hidden_with_dout(_hidden_affine_cases, reference.affine_forward),
    judge=Backward(
        reference.affine_forward,
        reference.affine_backward,
        ("dx", "dw", "db"),
        {
            "dx": [
                Mistake(
                    "dx_not_reshaped",
                    "dx must have x's original shape (N, d_1, ..., d_k): reshape dout @ w.T back "
                    "with .reshape(x.shape). Its values are right, so this earns part of the "
                    "points.",
                    lambda x, w, b, dout: (
                        (dout @ w.T).reshape(x.shape[0], -1) if x.ndim > 2 else not_applicable()
                    ),
                    near_miss=True,
                )
            ],
            "dw": [
                Mistake(
                    "dw_transposed",
                    "your dw is transposed: dw = x_flat.T @ dout has w's shape (D, M).",
                    lambda x, w, b, dout: (x.reshape(x.shape[0], -1).T @ dout).T,
                )
            ],
            "db": [_no_bias_gradient("db = dout.sum(axis=0)")],
        },
    ),
    functions=("affine_forward", "affine_backward"),
)


@check
def check_affine_backward(
    affine_forward: Callable, affine_backward: Callable, cases: str = "public"
) -> CheckResult:
    """Check ``affine_backward(dout, cache) -> (dx, dw, db)`` with the cache of the student's
    own ``affine_forward``: dx has x's shape (N, d_1, ..., d_k), dw (D, M), db (M,)."""
    return AFFINE_BACKWARD.run(cases, affine_forward, affine_backward)


# --- ReLU ----------------------------------------------------------------------------------------


def _relu_cases() -> list[Case]:
    rng = np.random.default_rng(2002)
    with_zeros = _a([-2.0, -0.5, 0.0, 0.5, 2.0, 0.0, -0.0, 3.0])
    return [
        Case("x (3, 4)", (rng.standard_normal((3, 4)),)),
        Case("x (2, 3, 4, 5), a conv layer's output", (rng.standard_normal((2, 3, 4, 5)),)),
        Case("x (8,) with exact zeros", (with_zeros,)),
    ]


def _hidden_relu_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for i in range(4):
        shape = tuple(int(v) for v in rng.integers(1, 6, size=int(rng.integers(1, 5))))
        cases.append(Case(f"hidden {i + 1}: x {shape}", (rng.standard_normal(shape),)))
    return cases


RELU_FORWARD = Exercise(
    "relu_forward",
    args=("x",),
    public=_relu_cases,
    hidden=_hidden_relu_cases,
    judge=Returns(_out(reference.relu_forward), parts=("out", "cache"), compared=("out",)),
)


@check
def check_relu_forward(relu_forward: Callable, cases: str = "public") -> CheckResult:
    """Check ``relu_forward(x) -> (out, cache)``: out = max(x, 0), x's shape (any shape)."""
    return RELU_FORWARD.run(cases, relu_forward)


RELU_BACKWARD = Exercise(
    "relu_backward",
    args=("x", "dout"),
    public=_with_dout(_relu_cases, reference.relu_forward),
    hidden=_hidden_with_dout(_hidden_relu_cases, reference.relu_forward),
    judge=Backward(
        reference.relu_forward,
        reference.relu_backward,
        ("dx",),
        {
            "dx": [
                Mistake(
                    "on_dout",
                    "your dx is dout where dout > 0: the gate is the forward INPUT x (from the "
                    "cache), not dout: dx = dout * (x > 0).",
                    lambda x, dout: dout * (dout > 0),
                ),
                Mistake(
                    "gate_includes_zero",
                    "at x = 0 exactly the derivative is taken as 0 (as torch.relu does): use "
                    "x > 0, not x >= 0.",
                    lambda x, dout: dout * (x >= 0) if np.any(x == 0) else not_applicable(),
                ),
            ]
        },
    ),
    functions=("relu_forward", "relu_backward"),
)


@check
def check_relu_backward(
    relu_forward: Callable, relu_backward: Callable, cases: str = "public"
) -> CheckResult:
    """Check ``relu_backward(dout, cache) -> dx``: dout where x > 0, else 0 (also at x = 0)."""
    return RELU_BACKWARD.run(cases, relu_forward, relu_backward)


# --- dropout -------------------------------------------------------------------------------------
# A student's mask comes from NumPy's generator, so dropout is checked by the contract's
# properties rather than value by value.

#: How many binomial standard deviations the kept fraction may stray from 1 - p.
KEPT_FRACTION_SIGMAS = 5.0
_DROPOUT_RTOL = 1e-12


def _dropout_param(p: float, mode: str, seed: int) -> dict:
    return {"p": p, "mode": mode, "seed": seed}


def _dropout_cases() -> list[Case]:
    rng = np.random.default_rng(2007)
    return [
        Case("train mode, p = 0.3, x (100, 200)",
             (rng.standard_normal((100, 200)), _dropout_param(0.3, "train", 17))),
        Case("train mode, p = 0.8, x (2, 3, 40, 40)",
             (rng.standard_normal((2, 3, 40, 40)), _dropout_param(0.8, "train", 5))),
        Case("test mode, p = 0.3 (the identity)",
             (rng.standard_normal((50, 40)), _dropout_param(0.3, "test", 17))),
        Case("train mode, p = 0 (keeps everything: the identity)",
             (rng.standard_normal((30, 20)), _dropout_param(0.0, "train", 3))),
    ]  # fmt: skip


def _hidden_dropout_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for i in range(5):
        # p away from 0.5, so that reading p as the keep probability shows.
        p = float(np.round(rng.choice([rng.uniform(0.1, 0.4), rng.uniform(0.6, 0.9)]), 2))
        mode = "test" if i == 4 else "train"
        shape = (1 if i == 0 else int(rng.integers(2, 50)), int(rng.integers(100, 400)))
        seed = int(rng.integers(2**31))
        cases.append(
            Case(
                f"hidden {i + 1}: {mode} mode, p = {p}, x {shape}",
                (rng.standard_normal(shape), _dropout_param(p, mode, seed)),
            )
        )
    return cases


_DROPOUT_ARGS = ("x", "dropout_param")
_ACTIVE_AT_TEST = Hint(
    "active_at_test",
    "dropout is active at test time. Inverted dropout does all its work in training (drop, "
    "then scale by 1/(1-p)); at test time it is the identity.",
)
_P_AS_KEEP = Hint(
    "p_as_keep",
    'p was read as the probability of KEEPING a unit. dropout_param["p"] is the probability of '
    "DROPPING one (as in the lecture and in torch.nn.Dropout): keep a unit when u >= p "
    "(u = rng.random(x.shape), uniform in [0, 1)), and scale by 1 / (1 - p).",
)
_IGNORES_SEED = Hint(
    "ignores_seed",
    "make the mask from a generator seeded with it: rng = np.random.default_rng(dropout_param.get("
    '"seed")), then u = rng.random(x.shape). Do not reseed NumPy\'s global generator: that would '
    "change every other random draw of the program.",
)


def _dropout_output(attempt: Attempt, case: Case) -> tuple[np.ndarray, Any]:
    """``(out, cache)`` of the student's dropout_forward (function 0); out has x's shape."""
    out, cache = attempt.forward(case, which=0)
    x = case.args[0]
    if out.shape != x.shape:
        raise CaseFailure(f"out has shape {out.shape}, expected x's shape {x.shape}.")
    return out, cache


def _judge_dropout_output(x: np.ndarray, dropout_param: dict, out: np.ndarray) -> None:
    """Fail unless out is a valid inverted-dropout output of x; name the mistake when clear."""
    p, mode = dropout_param["p"], dropout_param["mode"]
    if mode == "test" or p == 0:
        if not np.allclose(out, x, rtol=_DROPOUT_RTOL, atol=0):
            dropped = float(np.mean(out == 0))
            raise CaseFailure(
                f"in {mode} mode with p = {p} dropout must return x unchanged (out = x); "
                f"yours differs ({dropped:.0%} of the outputs are 0).",
                _ACTIVE_AT_TEST if mode == "test" else None,
            )
        return
    kept = out != 0
    scale = 1.0 / (1.0 - p)
    if not np.allclose(out[kept], x[kept] * scale, rtol=_DROPOUT_RTOL, atol=0):
        hint = None
        if np.allclose(out[kept], x[kept], rtol=_DROPOUT_RTOL, atol=0):
            hint = Hint(
                "no_scaling",
                "the kept units equal x: the scaling was forgotten. Inverted dropout divides "
                f"the kept units by 1 - p (here x * {scale:.6g}), so that test time needs no "
                "change.",
            )
        elif np.allclose(out[kept], x[kept] / p, rtol=_DROPOUT_RTOL, atol=0):
            hint = _P_AS_KEEP
        raise CaseFailure(
            f"in train mode every output must be 0 or x / (1 - p) = {scale:.6g} * x; yours are "
            "not.",
            hint,
        )
    fraction = float(np.mean(kept))
    sigma = np.sqrt(p * (1 - p) / x.size)
    allowed = KEPT_FRACTION_SIGMAS * sigma
    if abs(fraction - (1 - p)) > allowed:
        raise CaseFailure(
            f"with p = {p} about {1 - p:.0%} of the units must be kept; yours kept "
            f"{fraction:.1%} of {x.size} (allowed {1 - p:.3f} +- {allowed:.3f}, "
            f"{KEPT_FRACTION_SIGMAS:g} binomial standard deviations).",
            _P_AS_KEEP if abs(fraction - p) <= allowed else None,
        )


def _judge_dropout_forward(attempt: Attempt, case: Case) -> float:
    """A valid inverted-dropout output, and the same output again for the same seed."""
    attempt.unchanged(case)
    x, dropout_param = case.fresh()[0]
    out, _ = _dropout_output(attempt, case)
    _judge_dropout_output(x, dropout_param, out)
    again, _ = _dropout_output(attempt, case)
    if not np.array_equal(out, again):
        raise CaseFailure(
            f'two calls with the same dropout_param["seed"] = {dropout_param["seed"]} gave '
            "different outputs; the same seed must give the same mask.",
            _IGNORES_SEED,
        )
    return 0.0


DROPOUT_FORWARD = Exercise(
    "dropout_forward",
    args=_DROPOUT_ARGS,
    public=_dropout_cases,
    hidden=_hidden_dropout_cases,
    judge=_judge_dropout_forward,
)


@check
def check_dropout_forward(dropout_forward: Callable, cases: str = "public") -> CheckResult:
    """Check ``dropout_forward(x, dropout_param) -> (out, cache)``, inverted dropout.

    The mask comes from NumPy's generator, so the contract's properties are checked instead of
    values: in train mode every output is 0 or x / (1 - p) exactly; the kept fraction is within
    KEPT_FRACTION_SIGMAS binomial standard deviations of 1 - p; the same seed gives the same
    output; test mode and p = 0 are the identity.
    """
    return DROPOUT_FORWARD.run(cases, dropout_forward)


def _dropout_backward_from(cases: list[Case], rng: np.random.Generator) -> list[Case]:
    return [Case(c.name, (*c.args, rng.standard_normal(c.args[0].shape))) for c in cases]


def _judge_dropout_backward(attempt: Attempt, case: Case) -> float:
    """The student's forward must be valid; the backward, on its cache, must give
    dout * mask / (1 - p) for the mask that forward used (a unit was kept where out != 0, as
    x has no zeros), and dout in test mode."""
    x, dropout_param, dout = case.fresh()[0]
    forward = attempt.names[0]
    try:
        out, cache = _dropout_output(attempt, Case(case.name, (x, dropout_param)))
        _judge_dropout_output(x, dropout_param, out)
    except CaseFailure as failure:
        # The forward's mistake, named within this exercise: forward_no_scaling, ...
        hint = failure.hint and Hint(f"forward_{failure.hint.id}", failure.hint.text)
        raise CaseFailure(
            f"{failure}\n  {attempt.name} needs the cache of a working {forward}: fix "
            f"{forward} first.",
            hint,
        ) from None
    got = attempt.array(attempt.call((dout.copy(), cache)), "dx")
    p, mode = dropout_param["p"], dropout_param["mode"]
    if mode == "test":
        return attempt.compare(got, dout, "dx")
    kept = out != 0
    mistakes = (
        Mistake(
            "no_scaling",
            "your dx is dout * mask without the 1 / (1 - p): backward must scale exactly as "
            "forward did, dx = dout * mask / (1 - p).",
            lambda: dout * kept if p > 0 else not_applicable(),
        ),
        Mistake(
            "not_masked",
            "your dx is dout everywhere: units that forward dropped must get no gradient, "
            "dx = dout * mask / (1 - p), with the mask from the cache.",
            lambda: dout if not kept.all() else not_applicable(),
        ),
    )
    return attempt.compare(got, dout * kept / (1 - p), "dx", mistakes, ())


DROPOUT_BACKWARD = Exercise(
    "dropout_backward",
    args=(*_DROPOUT_ARGS, "dout"),
    public=lambda: _dropout_backward_from(_dropout_cases(), np.random.default_rng(2008)),
    hidden=lambda rng: _dropout_backward_from(_hidden_dropout_cases(rng), rng),
    judge=_judge_dropout_backward,
    functions=("dropout_forward", "dropout_backward"),
)


@check
def check_dropout_backward(
    dropout_forward: Callable, dropout_backward: Callable, cases: str = "public"
) -> CheckResult:
    """Check ``dropout_backward(dout, cache) -> dx`` with the cache of the student's own forward:
    dx = dout * mask / (1 - p) in train mode, for the mask that forward used (read off forward's
    output: a unit was kept where out != 0, as x has no zeros), and dx = dout in test mode."""
    return DROPOUT_BACKWARD.run(cases, dropout_forward, dropout_backward)
