"""Checks for notebook 04's initialisation: Kaiming's normal initialisation, the exercise
``kaiming_normal(shape, rng, gain=sqrt(2))``. (The normalisations are checked in
``batchnorm`` and ``normalization``.)

The check is an ``Exercise`` with its cases, the twin ``course_utils.reference.kaiming_normal``
and the known mistakes, run by the engine in ``_engine``. The student's function draws from a
NumPy generator, which cannot be handed to a function in the student's sandboxed kernel: the
generator is made where the function runs, from a seed (the measurement ``draws`` of
``autograder.kernel.measure``), and the arrays come back as plain data. Then:

- a draw equal to the twin's from the same seed passes;
- a draw that is the twin's times a constant has the wrong scale, and the constant names the
  mistake exactly (fan_out, no gain, the variance as the standard deviation, ...);
- any other draw (the numbers drawn in another order, say) is judged by its sample
  statistics: mean, standard deviation, kurtosis, and the standard deviation of
  ``torch.nn.init.kaiming_normal_`` on the same layer, each within ``Z`` standard errors of
  its sample size.

The same generator state must give the same array, and a shape of another rank than 2 or 4
must raise ``ValueError``. The check applies the banned-library rule: no PyTorch,
``course_utils`` or SciPy inside a NumPy exercise.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from autograder.checks._engine import (
    Attempt,
    Case,
    CaseFailure,
    CheckResult,
    Exercise,
    Hint,
    Mistake,
    NotApplicable,
    Tolerance,
    check,
    matches,
    not_a_real_array,
    not_applicable,
    raised,
    relative_error,
)
from course_utils.reference import normalization as reference

__all__ = ["check_kaiming_normal"]

RELU_GAIN = math.sqrt(2.0)  # the contract's default gain
#: Standard errors a sample statistic may stray: a right draw fails one comparison with
#: probability about 2e-9 (normal tails), a check of a few dozen comparisons below 1e-7.
Z = 6.0
#: The same generator state must give the twin's numbers; only the scale's rounding may differ.
DRAW = Tolerance(1e-12, 0.0, "the same generator state gives the same numbers")
#: The twin's numbers times one constant: the same draws with another scale.
SCALED = Tolerance(1e-9, 0.0, "the same draws, scaled")


@dataclass(frozen=True)
class SeededRng:
    """The generator a case hands the student's function: ``np.random.default_rng(seed)``,
    made where that function runs, afresh for each of ``calls`` calls."""

    seed: int
    calls: int = 1

    def __repr__(self) -> str:
        made = f"np.random.default_rng({self.seed})"
        return made if self.calls == 1 else f"{made} made afresh for each of {self.calls} calls"


def _kaiming_cases() -> list[Case]:
    # Worked numbers: K1's std is sqrt(2 / 784) = 0.0505076 over 200,704 values.
    return [
        Case("affine weight (D, M) = (784, 256), default gain", ((784, 256), SeededRng(0))),
        Case("convolution weight (F, C, HH, WW) = (96, 64, 3, 3), default gain",
             ((96, 64, 3, 3), SeededRng(1))),
        Case("affine weight (512, 300), gain = 1 (no ReLU)", ((512, 300), SeededRng(2)),
             {"gain": 1.0}),
        Case("non-square convolution weight (40, 24, 5, 3)", ((40, 24, 5, 3), SeededRng(3))),
        Case("the same generator state twice", ((256, 100), SeededRng(7, calls=2))),
        Case("a shape of rank 1 must raise ValueError", ((10,), SeededRng(0))),
        Case("a shape of rank 3 must raise ValueError", ((2, 3, 4), SeededRng(0))),
        Case("a shape of rank 5 must raise ValueError", ((1, 2, 3, 4, 5), SeededRng(0))),
    ]  # fmt: skip


def _fan_in(shape: tuple[int, ...]) -> int:
    return shape[0] if len(shape) == 2 else shape[1] * shape[2] * shape[3]


def _std(shape: tuple[int, ...], gain: float) -> float:
    return gain / math.sqrt(_fan_in(shape))


def _fan_out_std(shape, gain):
    return gain / math.sqrt(shape[1] if len(shape) == 2 else shape[0] * shape[2] * shape[3])


# Each mistake as the standard deviation it draws with, for a shape and a gain.
FAN_OUT = Mistake(
    "fan_out",
    "your spread is gain / sqrt(fan_out); fan_in counts the inputs each output sums: D for an "
    "affine weight (D, M) used as x @ w, C * HH * WW for a convolution weight (F, C, HH, WW).",
    _fan_out_std,
)
TORCH_LAYOUT = Mistake(
    "torch_layout",
    "fan_in = shape[1] is PyTorch's rule for nn.Linear's (out, in) layout; ours is x @ w with "
    "w (D, M), so fan_in = D = shape[0].",
    lambda shape, gain: _fan_out_std(shape, gain) if len(shape) == 2 else not_applicable(),
)
SCALE_MISTAKES = (
    FAN_OUT,
    TORCH_LAYOUT,
    Mistake(
        "no_gain",
        "your std is 1 / sqrt(fan_in): multiply by gain (sqrt 2 by default, for a layer "
        "followed by a ReLU, which zeroes half of its inputs).",
        lambda shape, gain: 1 / math.sqrt(_fan_in(shape)) if gain != 1 else not_applicable(),
    ),
    Mistake(
        "ignores_gain",
        "your std is sqrt(2 / fan_in) whatever gain is: the gain argument was ignored. Use "
        "gain / sqrt(fan_in) (sqrt 2 is only the default, for a layer followed by a ReLU).",
        lambda shape, gain: (
            RELU_GAIN / math.sqrt(_fan_in(shape)) if gain != RELU_GAIN else not_applicable()
        ),
    ),
    Mistake(
        "variance_as_std",
        "the standard deviation you drew with is gain^2 / fan_in, the variance; the standard "
        "deviation is its square root, gain / sqrt(fan_in).",
        lambda shape, gain: gain**2 / _fan_in(shape),
    ),
    Mistake(
        "conv_fan_in_channels",
        "a convolution's output sums over the C input channels AND the HH x WW window: "
        "fan_in = C * HH * WW, not C.",
        lambda shape, gain: gain / math.sqrt(shape[1]) if len(shape) == 4 else not_applicable(),
    ),
)
_UNIFORM = Hint(
    "uniform",
    "your weights have the right spread but the wrong law: the fourth moment of a normal law "
    "is 3 times its variance squared. Draw with rng.standard_normal (or rng.normal), not "
    "rng.uniform.",
)
_GLOBAL_RNG = Hint(
    "global_rng",
    "generators in the same state gave different arrays: draw every number from rng "
    "(rng.standard_normal(shape)), not from np.random's global functions.",
)
_NO_VALUE_ERROR = Hint(
    "no_value_error",
    "kaiming_normal knows two layouts, (D, M) and (F, C, HH, WW); for a shape of any other "
    'rank raise ValueError naming it (e.g. raise ValueError(f"... got {shape}")), rather than '
    "guessing a fan_in.",
)

# Hidden shapes keep every mistake's std at least this far (relatively) from the right one and
# from each other's, so that a sample tells them apart and the hint is unambiguous.
_SEPARATION = 0.1
_CONV_WINDOWS = ((3, 3), (5, 5), (3, 1), (1, 5), (7, 7))


def _separated(shape, gain) -> bool:
    """Every mistake's std is ``_SEPARATION`` apart from the right one, and mistakes with
    different stds are as far apart (fan_out and torch_layout take the same M on an affine
    weight by nature: a probe tells them apart, see ``_scale_hint``)."""
    right, stds = _std(shape, gain), set()
    for mistake in SCALE_MISTAKES:
        try:
            stds.add(mistake.predict(shape, gain))
        except NotApplicable:
            continue
    if any(abs(s / right - 1) <= _SEPARATION for s in stds):
        return False
    ordered = sorted(stds)
    return all(b / a - 1 > _SEPARATION for a, b in zip(ordered, ordered[1:]))


def _hidden_shape(rng: np.random.Generator, affine: bool) -> tuple[int, ...]:
    """An affine weight (D, M), D 256-2048, M 32-512, of at least 65,536 values; or a
    convolution weight (F, C, HH, WW), F 16-128, C 8-64, of at least 30,000 values."""
    while True:
        if affine:
            shape = (int(rng.integers(256, 2049)), int(rng.integers(32, 513)))
            enough = 65_536
        else:
            window = _CONV_WINDOWS[int(rng.integers(len(_CONV_WINDOWS)))]
            shape = (int(rng.integers(16, 129)), int(rng.integers(8, 65)), *window)
            enough = 30_000
        if math.prod(shape) >= enough:
            return shape


def _hidden_kaiming_cases(rng: np.random.Generator) -> list[Case]:
    """Four draws, affine and convolution weights in turn, each gain at least once (None: the
    default); then the same generator state twice, and a shape of another rank."""
    cases = []
    gains = [None, 1.0, 5 / 3, (None, 1.0, 5 / 3)[int(rng.integers(3))]]
    for i, gain in enumerate(rng.permutation(np.array(gains, dtype=object))):
        layout = "affine" if i % 2 == 0 else "convolution"
        shape = _hidden_shape(rng, layout == "affine")
        while not _separated(shape, RELU_GAIN if gain is None else gain):
            shape = _hidden_shape(rng, layout == "affine")
        kwargs = {} if gain is None else {"gain": float(gain)}
        said = "default gain" if gain is None else f"gain = {gain:.4g}"
        name = f"hidden {i + 1}: {layout} weight {shape}, {said}"
        cases.append(Case(name, (shape, SeededRng(int(rng.integers(2**31)))), kwargs))
    shape = (int(rng.integers(20, 200)), int(rng.integers(20, 200)))
    again = SeededRng(int(rng.integers(2**31)), calls=2)
    cases.append(Case("hidden: the same generator state twice", (shape, again)))
    rank = int(rng.choice([1, 3, 5]))
    bad = tuple(int(v) for v in rng.integers(1, 9, size=rank))
    cases.append(Case(f"hidden: a shape of rank {rank} must raise ValueError", (bad, SeededRng(0))))
    return cases


def _drawn(attempt: Attempt, case: Case) -> list[dict]:
    """What the student's function did on each of the case's fresh generators (``draws``)."""
    shape, generator = case.args
    calls = [[[shape], dict(case.kwargs), generator.seed]] * generator.calls
    return attempt.measure("draws", calls)["results"]


def _weights(attempt: Attempt, result: dict, shape: tuple[int, ...]) -> np.ndarray:
    """The array of one call: a float64 ndarray of ``shape``, or the failure that says why not."""
    if "error" in result:
        raise raised(result["error"], attempt.name)
    if "odd" in result:
        raise not_a_real_array(result["odd"], attempt.name, "w")
    if result["dtype"] != "float64":
        raise CaseFailure(
            f"w has dtype {result['dtype']}; {attempt.name} must return float64, as "
            "rng.standard_normal does (do not cast it)."
        )
    w = result["output"]
    if w.shape != tuple(shape):
        raise CaseFailure(f"w has shape {w.shape}, expected {tuple(shape)}.")
    return w


def _judge_kaiming(attempt: Attempt, case: Case) -> float | None:
    """A shape of another rank must raise ValueError (as the twin does); the same generator
    state must give the same array; any other case is one draw, judged by ``_judge_draw``."""
    shape, generator = case.args
    try:
        reference.kaiming_normal(shape, np.random.default_rng(0), **case.kwargs)
    except ValueError as refusal:
        return _judge_refusal(attempt, case, refusal)
    if generator.calls > 1:
        return _judge_same_state(attempt, case)
    return _judge_draw(attempt, case)


def _judge_refusal(attempt: Attempt, case: Case, refusal: ValueError) -> None:
    shape = case.args[0]
    (result,) = _drawn(attempt, case)
    error = result.get("error")
    if error is not None and "ValueError" in error["types"]:
        return None
    if error is not None and error["type"] == "AssertionError":
        raise CaseFailure(
            f"{attempt.name} used `assert` to refuse shape {shape}; raise ValueError instead "
            "(assert is for your own invariants and disappears under `python -O`)."
        )
    if error is not None:
        raise CaseFailure(
            f"{attempt.name} raised {error['type']}: {error['message']}\n  A shape of rank "
            f"{len(shape)} must raise ValueError, e.g.: {refusal}"
        )
    got = (
        f"an array of shape {result['output'].shape}"
        if "output" in result
        else result["odd"]["answer"]
    )
    raise CaseFailure(
        f"{attempt.name} returned {got} for shape {shape}; a shape of rank {len(shape)} must "
        "raise ValueError.",
        _NO_VALUE_ERROR,
    )


def _judge_same_state(attempt: Attempt, case: Case) -> None:
    shape, generator = case.args
    first, second = (_weights(attempt, result, shape) for result in _drawn(attempt, case))
    if not np.array_equal(first, second):
        raise CaseFailure(
            f"two calls, each with a fresh np.random.default_rng({generator.seed}), returned "
            "different arrays; the same generator state must give the same array.",
            _GLOBAL_RNG,
        )
    return None


def _judge_draw(attempt: Attempt, case: Case) -> float | None:
    """The twin's draw from the same seed passes; the twin's draw times a constant is a wrong
    scale; any other draw is judged by its statistics."""
    shape, generator = case.args
    gain = case.kwargs.get("gain", RELU_GAIN)
    (result,) = _drawn(attempt, case)
    w = _weights(attempt, result, shape)
    expected = reference.kaiming_normal(shape, np.random.default_rng(generator.seed), gain).numpy()
    if matches(w, expected, DRAW):
        return relative_error(w, expected)
    std = _std(shape, gain)
    ratio = float(np.sum(w * expected) / np.sum(expected**2))
    if matches(w, ratio * expected, SCALED):
        if abs(ratio - 1) <= 1e-9:
            return relative_error(w, expected)
        raise CaseFailure(
            f"w is exactly {ratio:.6g} times the expected weights (the same draws from rng, "
            f"another scale): its standard deviation is {ratio * std:.6g}, where gain / "
            f"sqrt(fan_in) = {gain:.6g} / sqrt({_fan_in(shape)}) = {std:.6g} was expected.",
            _scale_hint(attempt, shape, gain, ratio * std, tolerance=1e-6),
        )
    _judge_statistics(attempt, case, w, std)
    return None


def _judge_statistics(attempt: Attempt, case: Case, w: np.ndarray, std: float) -> None:
    """w's mean, standard deviation and kurtosis, each within ``Z`` standard errors of its
    sample size, and its standard deviation against torch.nn.init.kaiming_normal_'s."""
    shape, generator = case.args
    gain = case.kwargs.get("gain", RELU_GAIN)
    n = w.size
    why = (
        f"\n  (w is not rng.standard_normal(shape) * std for this generator, so it is judged by "
        f"the statistics of its {n:,} values, each allowed {Z:g} standard errors.)"
    )
    mean, allowed = float(w.mean()), Z * std / math.sqrt(n)
    if abs(mean) > allowed:
        raise CaseFailure(f"the mean of w is {mean:.4g}; 0 +- {allowed:.2g} was expected.{why}")
    spread, allowed = math.sqrt(float(np.mean(w**2))), Z / math.sqrt(2 * n)
    if abs(spread / std - 1) > allowed:
        raise CaseFailure(
            f"the standard deviation of w is {spread:.4g}; gain / sqrt(fan_in) = {gain:.4g} / "
            f"sqrt({_fan_in(shape)}) = {std:.4g} +- {allowed * std:.2g} was expected.{why}",
            _scale_hint(attempt, shape, gain, spread, tolerance=allowed),
        )
    kurtosis, allowed = float(np.mean(w**4) / np.mean(w**2) ** 2), Z * math.sqrt(24 / n)
    if abs(kurtosis - 3) > allowed:
        raise CaseFailure(
            f"the kurtosis E[w^4] / E[w^2]^2 of w is {kurtosis:.3f}; a normal law has 3 "
            f"(+- {allowed:.2g} for this sample).{why}",
            _UNIFORM if abs(kurtosis - 1.8) <= allowed else None,
        )
    theirs, allowed = _torch_std(shape, gain, generator.seed), Z / math.sqrt(n)
    if abs(spread / theirs - 1) > allowed:
        raise CaseFailure(
            f"the standard deviation of w is {spread:.4g}, that of "
            f"torch.nn.init.kaiming_normal_ on this layer is {theirs:.4g}; they must agree to "
            f"{allowed:.1%}.{why}"
        )


#: torch.nn.init's name of the non-linearity whose gain is each of the contract's gains.
_NONLINEARITY = {RELU_GAIN: "relu", 1.0: "linear", 5 / 3: "tanh"}


def _torch_std(shape: tuple[int, ...], gain: float, seed: int) -> float:
    """The sample standard deviation of torch.nn.init.kaiming_normal_ (mode fan_in) on the
    weight of ``shape`` in torch's layout: nn.Linear stores (M, D), the transpose of ours."""
    torch_shape = shape[::-1] if len(shape) == 2 else shape
    w = torch.empty(torch_shape, dtype=torch.float64)
    generator = torch.Generator().manual_seed(seed)
    nonlinearity = next((k for g, k in _NONLINEARITY.items() if math.isclose(g, gain)), None)
    if nonlinearity is None:
        torch.nn.init.normal_(w, 0.0, _std(shape, gain), generator=generator)
    else:
        torch.nn.init.kaiming_normal_(w, nonlinearity=nonlinearity, generator=generator)
    return float(w.square().mean().sqrt())


#: A convolution weight that tells fan_out from PyTorch's rule (fan_in = shape[1] * ...).
_PROBE = Case("probe: a convolution weight", ((64, 32, 3, 3), SeededRng(11)))


def _scale_hint(
    attempt: Attempt, shape: tuple[int, ...], gain: float, spread: float, tolerance: float
) -> Hint | None:
    """The mistake whose std is ``spread`` (relatively within ``tolerance``). On an affine
    weight fan_out and PyTorch's rule both take M: a convolution weight tells them apart."""
    found = []
    for mistake in SCALE_MISTAKES:
        try:
            predicted = mistake.predict(shape, gain)
        except NotApplicable:
            continue
        if abs(spread / predicted - 1) <= tolerance:
            found.append(mistake)
    if not found:
        return None
    if {m.id for m in found} == {FAN_OUT.id, TORCH_LAYOUT.id}:
        try:
            _judge_draw(attempt, _PROBE)
        except CaseFailure:
            return FAN_OUT.as_hint  # M for (D, M), and the convolution is wrong too
        return TORCH_LAYOUT.as_hint  # M for (D, M), C * HH * WW for a convolution
    return found[0].as_hint


KAIMING_NORMAL = Exercise(
    "kaiming_normal",
    args=("shape", "rng"),
    public=_kaiming_cases,
    hidden=_hidden_kaiming_cases,
    judge=_judge_kaiming,
)


@check
def check_kaiming_normal(kaiming_normal: Callable, cases: str = "public") -> CheckResult:
    """Check ``kaiming_normal(shape, rng, gain=sqrt(2)) -> w``: a float64 array of ``shape``
    drawn from N(0, (gain / sqrt(fan_in))^2), fan_in = D for (D, M) and C * HH * WW for
    (F, C, HH, WW); the same generator state gives the same array; any other rank raises
    ValueError. The generators are made where the student's function runs, from seeds."""
    return KAIMING_NORMAL.run(cases, kaiming_normal)
