"""Checks for notebook 01, convolution arithmetic."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from autograder.checks._compare import (
    Case,
    CaseFailure,
    CheckResult,
    Mistake,
    as_float64_array,
    call_student,
    check_inputs_unchanged,
    compare_arrays,
    diagnose,
    run_check,
    select_cases,
)
from course_utils import reference

__all__ = ["check_cross_correlate2d", "check_convolve2d"]


def _correlation_cases() -> list[Case]:
    # SEED_CONCEPTS.md section 1: the lecture's true-convolution example.
    x = np.array([[0, 80, 40], [20, 40, 0], [0, 0, 40]], dtype=np.float64)
    k = np.array([[0, 0.25], [0.5, 1]])
    rng = np.random.default_rng(101)
    return [
        Case("lecture example (3x3 input, 2x2 kernel)", (x, k)),
        Case("5x5 input, 3x3 kernel", (rng.standard_normal((5, 5)), rng.standard_normal((3, 3)))),
        Case(
            "non-square: 4x7 input, 2x3 kernel",
            (rng.standard_normal((4, 7)), rng.standard_normal((2, 3))),
        ),
        Case(
            "kernel as large as the input",
            (rng.standard_normal((3, 3)), rng.standard_normal((3, 3))),
        ),
    ]


def _hidden_correlation_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for i in range(6):
        h, w = (int(v) for v in rng.integers(1, 9, size=2))
        kh, kw = int(rng.integers(1, h + 1)), int(rng.integers(1, w + 1))
        cases.append(
            Case(
                f"hidden {i + 1}: {h}x{w} input, {kh}x{kw} kernel",
                (rng.standard_normal((h, w)), rng.standard_normal((kh, kw))),
            )
        )
    return cases


def _flip(k: np.ndarray) -> np.ndarray:
    return k[::-1, ::-1]


def _check_2d(
    name: str, impl: Callable, cases: str, op: Callable, mistakes: list[Mistake]
) -> CheckResult:
    def evaluate(case: Case) -> float:
        check_inputs_unchanged(case, impl, name, ("x", "k"))
        got = as_float64_array(call_student(impl, case, name).value, name, "the output")
        expected = op(*case.fresh()[0]).numpy()
        try:
            return compare_arrays(got, expected, what="out")
        except CaseFailure as failure:
            hint = diagnose(mistakes, case, got, lambda v: np.asarray(v, dtype=np.float64))
            raise CaseFailure(f"{failure}\n  Hint: {hint}" if hint else str(failure)) from None

    chosen = select_cases(cases, _correlation_cases, _hidden_correlation_cases, name)
    return run_check(name, chosen, evaluate, kind=cases, arg_names=("x", "k"))


def check_cross_correlate2d(impl: Callable, cases: str = "public") -> CheckResult:
    """Check ``cross_correlate2d(x, k)``: valid-mode 2-D cross-correlation (kernel not flipped)."""
    flipped = Mistake(
        "your output equals true convolution (kernel flipped). Cross-correlation, what CNN "
        "libraries call convolution, uses k[p, q] as it is: out[i, j] = sum k[p, q] * x[i + p, j + q].",
        lambda x, k: reference.cross_correlate2d(x, _flip(k).copy()).numpy(),
    )
    return _check_2d("cross_correlate2d", impl, cases, reference.cross_correlate2d, [flipped])


def check_convolve2d(impl: Callable, cases: str = "public") -> CheckResult:
    """Check ``convolve2d(x, k)``: valid-mode 2-D true convolution (kernel flipped)."""
    unflipped = Mistake(
        "your output equals cross-correlation: true convolution flips the kernel in both "
        "directions first (k[::-1, ::-1]), then slides it.",
        lambda x, k: reference.cross_correlate2d(x, k).numpy(),
    )
    return _check_2d("convolve2d", impl, cases, reference.convolve2d, [unflipped])
