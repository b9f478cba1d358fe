"""Checks for notebook 01, convolution arithmetic.

Each check is an ``Exercise``: its cases (the lecture's examples first, SEED_CONCEPTS.md
section 1), the reference twin in ``course_utils.reference`` and the known mistakes, run by the
engine in ``_engine``. Sizes, paddings and counts are exact integers, and inputs that do not
fit must raise ``ValueError`` (``IntAnswer``); the 2-D correlations and the layout change are
arrays compared in float64 (``Returns``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from autograder.checks._engine import (
    Attempt,
    Case,
    CaseFailure,
    CheckResult,
    Exercise,
    Hint,
    Mistake,
    NotApplicable,
    Returns,
    check,
    diagnose,
)
from course_utils import reference

__all__ = [
    "check_conv_output_size",
    "check_padding_for",
    "check_conv_param_count",
    "check_receptive_field",
    "check_cross_correlate2d",
    "check_convolve2d",
    "check_nhwc_to_nchw",
]


# --- integer answers: sizes, paddings, counts ---------------------------------------------------


@dataclass(frozen=True)
class IntAnswer:
    """Judge a function whose answer is an int, or a ``ValueError`` for inputs that do not fit
    (when the twin raises one on the same inputs)."""

    twin: Callable[..., int]
    mistakes: tuple[Mistake, ...] = ()

    def __call__(self, attempt: Attempt, case: Case) -> None:
        args, kwargs = case.fresh()
        try:
            expected: int | ValueError = self.twin(*args, **kwargs)
        except ValueError as error:
            expected = error
        got = self._answer(attempt, case, expected)
        if isinstance(expected, ValueError) and isinstance(got, ValueError):
            return None
        if not isinstance(expected, ValueError) and got == expected:
            return None
        if isinstance(expected, ValueError):
            body = f"returned {got}, but these inputs must raise ValueError: {expected}"
        elif isinstance(got, ValueError):
            body = (
                f"raised ValueError ({got}), but these inputs are fine: the answer is {expected}."
            )
        else:
            body = f"returned {got}, expected {expected}."
        raise CaseFailure(body, diagnose(self.mistakes, args, got, kwargs=kwargs))

    @staticmethod
    def _answer(attempt: Attempt, case: Case, expected: int | ValueError) -> int | ValueError:
        """The student's int; a ValueError is an answer too where one is expected."""
        if not isinstance(expected, ValueError):
            value = attempt.call_case(case)
            try:
                return attempt.integer(value)
            except CaseFailure as failure:
                if isinstance(value, (float, np.floating)) and value == expected:
                    raise CaseFailure(str(failure), FLOAT_FOR_INT) from None
                raise
        try:
            value = attempt.call_case(case)
        except CaseFailure as failure:
            cause = failure.__cause__
            if isinstance(cause, ValueError):
                if not str(cause).strip():
                    raise CaseFailure(
                        f"{attempt.name} raised ValueError with an empty message. Say what does "
                        f"not fit, with the numbers, e.g.: {expected}"
                    ) from None
                return cause
            if isinstance(cause, AssertionError):
                raise CaseFailure(
                    f"{attempt.name} used `assert` to refuse these inputs; raise ValueError "
                    "instead (assert is for your own invariants and disappears under "
                    "`python -O`)."
                ) from None
            raise
        return attempt.integer(value)


#: The near miss of a right size, count or padding returned as a float (4.0 for 4).
FLOAT_FOR_INT = Hint(
    "float_for_int",
    "the number is right but it is a float: sizes, paddings and counts are ints. This earns "
    "part of the points; return int(...) (or use //, once you know the division is exact) "
    "for all of them.",
    near_miss=True,
)


# conv_output_size


def _output_size_cases() -> list[Case]:
    # SEED_CONCEPTS.md section 1: the lecture's output-size examples.
    return [
        Case("7x7 input, 3x3 filter, stride 1", (7, 3), {"stride": 1}),
        Case("7x7 input, 3x3 filter, stride 2", (7, 3), {"stride": 2}),
        Case("7x7 input, 3x3 filter, stride 3 (2.33: does not fit)", (7, 3), {"stride": 3}),
        Case("W=10, F=3, S=2, P=0 (4.5: does not fit)", (10, 3), {"stride": 2, "pad": 0}),
        Case("defaults stride=1, pad=0", (5, 2)),
        Case("32x32 input, 5x5 filter, pad 2 keeps the size", (32, 5), {"stride": 1, "pad": 2}),
        Case("P = 1, 2, 3 keeps the size for F = 7", (28, 7), {"stride": 1, "pad": 3}),
        Case("AlexNet conv1: 227, F=11, S=4", (227, 11), {"stride": 4, "pad": 0}),
        Case("filter larger than the input", (3, 5), {"stride": 1, "pad": 0}),
        Case("filter as large as the padded input", (3, 5), {"stride": 1, "pad": 1}),
    ]


def _hidden_output_size_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for i in range(12):
        f = int(rng.integers(1, 8))
        pad = int(rng.integers(0, 4))
        stride = int(rng.integers(1, 5))
        n = int(rng.integers(max(1, f - 2 * pad), 40))
        cases.append(
            Case(
                f"hidden {i + 1}: W={n}, F={f}, S={stride}, P={pad}",
                (n, f),
                {"stride": stride, "pad": pad},
            )
        )
    return cases


def _floored_size(n, f, stride=1, pad=0):
    if (n - f + 2 * pad) % stride == 0 or n - f + 2 * pad < 0:
        raise NotApplicable
    return (n - f + 2 * pad) // stride + 1


def _size_without_plus_one(n, f, stride=1, pad=0):
    return (n - f + 2 * pad) // stride


def _size_one_sided_pad(n, f, stride=1, pad=0):
    if pad == 0 or (n - f + pad) % stride:
        raise NotApplicable
    return (n - f + pad) // stride + 1


CONV_OUTPUT_SIZE = Exercise(
    "conv_output_size",
    args=("n", "f"),
    public=_output_size_cases,
    hidden=_hidden_output_size_cases,
    judge=IntAnswer(
        reference.conv_output_size,
        (
            Mistake(
                "floored",
                "you rounded down a size that is not a whole number. When S does not divide "
                "W - F + 2P the filter does not fit: raise ValueError with the numbers instead "
                "of flooring (PyTorch floors silently and drops the last rows; this course asks "
                "you to notice).",
                _floored_size,
            ),
            Mistake(
                "no_plus_one",
                "you forgot the + 1: a filter that fits exactly still has one position.",
                _size_without_plus_one,
            ),
            Mistake(
                "one_sided_padding",
                "P zeros go on EACH side, so the padded size is W + 2P, not W + P.",
                _size_one_sided_pad,
            ),
        ),
    ),
    numpy_only=False,
    own_names=False,
)


@check
def check_conv_output_size(impl: Callable, cases: str = "public") -> CheckResult:
    """Check ``conv_output_size(n, f, stride=1, pad=0)``: ``(W - F + 2P) / S + 1``, exact or
    ValueError."""
    return CONV_OUTPUT_SIZE.run(cases, impl)


# padding_for


def _padding_cases() -> list[Case]:
    return [
        Case('"valid", F=3', ("valid", 3)),
        Case('"same", F=3 (P = 1)', ("same", 3)),
        Case('"same", F=5 (P = 2)', ("same", 5)),
        Case('"same", F=7 (P = 3)', ("same", 7)),
        Case('"full", F=3', ("full", 3)),
        Case('"full", F=5', ("full", 5)),
        Case('"same", F=1', ("same", 1)),
        Case('"same", F=4 (even: cannot split the padding equally)', ("same", 4)),
        Case('unknown mode "half"', ("half", 3)),
    ]


def _hidden_padding_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for i in range(9):
        mode = ("valid", "same", "full")[i % 3]
        f = int(rng.integers(1, 6)) * 2 + 1
        cases.append(Case(f'hidden {i + 1}: "{mode}", F={f}', (mode, f)))
    cases.append(Case('hidden: "same", even F', ("same", int(rng.integers(1, 6)) * 2)))
    return cases


def _same_ceil(mode, f):
    if mode != "same" or f % 2 == 0:
        raise NotApplicable
    return -(-f // 2)


def _full_twice(mode, f):
    if mode != "full":
        raise NotApplicable
    return 2 * (f - 1)


PADDING_FOR = Exercise(
    "padding_for",
    args=("mode", "f"),
    public=_padding_cases,
    hidden=_hidden_padding_cases,
    judge=IntAnswer(
        reference.padding_for,
        (
            Mistake(
                "same_ceil",
                "you used ceil(F/2) zeros per side for SAME, as one lecture deck writes. For odd "
                "F that is (F + 1) / 2, one too many: the output would grow by 2. SAME needs "
                "floor(F/2) = (F - 1) / 2.",
                _same_ceil,
            ),
            Mistake(
                "full_both_sides",
                "2(F - 1) counts the zeros on BOTH sides together (and the deck's output size "
                "H + 2(F - 1) is wrong too). FULL puts F - 1 zeros on each side, so the output "
                "is H + F - 1.",
                _full_twice,
            ),
        ),
    ),
    numpy_only=False,
    own_names=False,
)


@check
def check_padding_for(impl: Callable, cases: str = "public") -> CheckResult:
    """Check ``padding_for(mode, f)``: zeros per side for "valid", "same" (odd F) and "full"."""
    return PADDING_FOR.run(cases, impl)


# conv_param_count


def _param_count_cases() -> list[Case]:
    # SEED_CONCEPTS.md section 1: 760 for 10 5x5 filters on 3 channels; AlexNet conv1.
    return [
        Case("10 filters 5x5 on 3 channels (760)", (3, 10, 5)),
        Case("AlexNet conv1: 96 filters 11x11x3", (3, 96, 11)),
        Case("AlexNet conv1 without biases", (3, 96, 11), {"bias": False}),
        Case("1x1 convolution, 64 -> 32 channels", (64, 32, 1)),
        Case("3x3, 20 -> 1", (20, 1, 3)),
    ]


def _hidden_param_count_cases(rng: np.random.Generator) -> list[Case]:
    return [
        Case(
            f"hidden {i + 1}",
            (int(rng.integers(1, 65)), int(rng.integers(1, 129)), int(rng.integers(1, 8))),
            {"bias": bool(i % 3)},
        )
        for i in range(6)
    ]


def _count_no_bias(c_in, c_out, f, bias=True):
    if not bias:
        raise NotApplicable
    return c_out * c_in * f * f


def _count_no_channels(c_in, c_out, f, bias=True):
    if c_in == 1:
        raise NotApplicable
    return c_out * (f * f + int(bias))


def _count_bias_ignored_flag(c_in, c_out, f, bias=True):
    if bias:
        raise NotApplicable
    return c_out * (c_in * f * f + 1)


CONV_PARAM_COUNT = Exercise(
    "conv_param_count",
    args=("c_in", "c_out", "f"),
    public=_param_count_cases,
    hidden=_hidden_param_count_cases,
    judge=IntAnswer(
        reference.conv_param_count,
        (
            Mistake(
                "no_bias",
                "you forgot the biases: each filter has one, so add C_out (for 10 5x5x3 "
                "filters: 10 * (75 + 1) = 760, not 750).",
                _count_no_bias,
            ),
            Mistake(
                "no_channels",
                "each filter spans ALL input channels: it has C_in * F * F weights, not F * F.",
                _count_no_channels,
            ),
            Mistake(
                "bias_flag_ignored",
                "with bias=False there are no biases to count.",
                _count_bias_ignored_flag,
            ),
        ),
    ),
    numpy_only=False,
    own_names=False,
)


@check
def check_conv_param_count(impl: Callable, cases: str = "public") -> CheckResult:
    """Check ``conv_param_count(c_in, c_out, f, bias=True)``: ``C_out * (C_in * F * F + 1)``."""
    return CONV_PARAM_COUNT.run(cases, impl)


# receptive_field


def _receptive_field_cases() -> list[Case]:
    return [
        Case("no layers", ([],)),
        Case("one 3x3 layer", ([(3, 1)],)),
        Case("three stacked 3x3, stride 1 (7x7)", ([(3, 1), (3, 1), (3, 1)],)),
        Case("two 2x2 pools, stride 2", ([(2, 2), (2, 2)],)),
        Case("conv 3x3 s1, pool 2x2 s2, conv 3x3 s1", ([(3, 1), (2, 2), (3, 1)],)),
        Case("AlexNet-like: 11 s4, 3 s2, 5 s1", ([(11, 4), (3, 2), (5, 1)],)),
    ]


def _hidden_receptive_field_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for i in range(6):
        depth = int(rng.integers(1, 6))
        layers = [(int(rng.integers(1, 8)), int(rng.integers(1, 4))) for _ in range(depth)]
        cases.append(Case(f"hidden {i + 1}: {depth} layers", (layers,)))
    return cases


def _field_no_strides(layers):
    if all(s == 1 for _, s in layers[:-1]):
        raise NotApplicable
    return 1 + sum(k - 1 for k, _ in layers)


def _field_own_stride(layers):
    field, jump = 1, 1
    changed = False
    for k, s in layers:
        jump *= s
        changed |= s != 1 and k != 1
        field += (k - 1) * jump
    if not changed:
        raise NotApplicable
    return field


def _field_sum_of_kernels(layers):
    if len(layers) < 2:
        raise NotApplicable
    return sum(k for k, _ in layers)


RECEPTIVE_FIELD = Exercise(
    "receptive_field",
    args=("layers",),
    public=_receptive_field_cases,
    hidden=_hidden_receptive_field_cases,
    judge=IntAnswer(
        reference.receptive_field,
        (
            Mistake(
                "strides_ignored",
                "you ignored the strides. After a stride-s layer, neighbouring positions are s "
                "input pixels apart, so every later layer's (k - 1) counts s times as many input "
                "pixels.",
                _field_no_strides,
            ),
            Mistake(
                "own_stride",
                "a layer's stride spaces the positions seen by the NEXT layers; it does not "
                "widen its own window: multiply (k_i - 1) by the strides of the layers BEFORE "
                "layer i only.",
                _field_own_stride,
            ),
            Mistake(
                "sum_of_kernels",
                "stacked windows overlap: two 3x3 layers see 5x5, not 6x6. Each layer adds "
                "k - 1 (times the strides before it) to a field that starts at 1.",
                _field_sum_of_kernels,
            ),
        ),
    ),
    numpy_only=False,
    own_names=False,
)


@check
def check_receptive_field(impl: Callable, cases: str = "public") -> CheckResult:
    """Check ``receptive_field(layers)``: ``1 + sum_i (k_i - 1) * prod_{j<i} s_j``."""
    return RECEPTIVE_FIELD.run(cases, impl)


# --- 2-D correlation and convolution ------------------------------------------------------------


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


def _correlate(x: np.ndarray, k: np.ndarray) -> np.ndarray:
    return reference.cross_correlate2d(x, k).numpy()


def _flip(k: np.ndarray) -> np.ndarray:
    return k[::-1, ::-1].copy()


def _mode_of_size(attempt: Attempt, case: Case, got: np.ndarray) -> Hint | None:
    """An output of the FULL or the SAME size, where VALID was asked for."""
    x, k = case.args
    full = (x.shape[0] + k.shape[0] - 1, x.shape[1] + k.shape[1] - 1)
    valid = (x.shape[0] - k.shape[0] + 1, x.shape[1] - k.shape[1] + 1)
    if got.shape not in (full, x.shape) or got.shape == valid:
        return None
    mode = "full" if got.shape == full else "same"
    return Hint(
        f"{mode}_mode",
        f"that is the {mode.upper()}-mode size. Here the kernel stays inside the input (VALID "
        "mode, no padding): out is (H - KH + 1, W - KW + 1).",
    )


def _valid_2d(name: str, twin: Callable, mistake: Mistake) -> Exercise:
    return Exercise(
        name,
        args=("x", "k"),
        public=_correlation_cases,
        hidden=_hidden_correlation_cases,
        judge=Returns(twin, mistakes=(mistake,), explain=_mode_of_size),
        numpy_only=False,
        own_names=False,
    )


CROSS_CORRELATE2D = _valid_2d(
    "cross_correlate2d",
    _correlate,
    Mistake(
        "flipped_kernel",
        "your output equals true convolution (kernel flipped). Cross-correlation, what CNN "
        "libraries call convolution, uses k[p, q] as it is: out[i, j] = sum k[p, q] * "
        "x[i + p, j + q].",
        lambda x, k: _correlate(x, _flip(k)),
    ),
)
CONVOLVE2D = _valid_2d(
    "convolve2d",
    lambda x, k: reference.convolve2d(x, k).numpy(),
    Mistake(
        "kernel_not_flipped",
        "your output equals cross-correlation: true convolution flips the kernel in both "
        "directions first (k[::-1, ::-1]), then slides it.",
        _correlate,
    ),
)


@check
def check_cross_correlate2d(impl: Callable, cases: str = "public") -> CheckResult:
    """Check ``cross_correlate2d(x, k)``: valid-mode 2-D cross-correlation (kernel not flipped)."""
    return CROSS_CORRELATE2D.run(cases, impl)


@check
def check_convolve2d(impl: Callable, cases: str = "public") -> CheckResult:
    """Check ``convolve2d(x, k)``: valid-mode 2-D true convolution (kernel flipped)."""
    return CONVOLVE2D.run(cases, impl)


# --- tensor layouts -----------------------------------------------------------------------------


def _layout_cases() -> list[Case]:
    return [
        Case(
            "2 images, 4x5 pixels, 3 channels",
            (np.arange(2 * 4 * 5 * 3, dtype=np.float64).reshape(2, 4, 5, 3),),
        ),
        Case("one grey image (C = 1)", (np.arange(6 * 3, dtype=np.float64).reshape(1, 6, 3, 1),)),
    ]


def _hidden_layout_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for i in range(4):
        shape = tuple(int(v) for v in rng.integers(1, 7, size=4))
        cases.append(Case(f"hidden {i + 1}: NHWC {shape}", (rng.standard_normal(shape),)))
    return cases


def _layout_by_reshape(x):
    n, h, w, c = x.shape
    if c == 1 or (h == 1 and w == 1):
        raise NotApplicable
    return x.reshape(n, c, h, w)


NHWC_TO_NCHW = Exercise(
    "nhwc_to_nchw",
    args=("x",),
    public=_layout_cases,
    hidden=_hidden_layout_cases,
    judge=Returns(
        lambda x: np.transpose(x, (0, 3, 1, 2)),
        mistakes=(
            Mistake(
                "reshape",
                "reshape keeps the memory order and only relabels the shape, so channels and "
                "pixels get mixed up; move the axis with np.transpose(x, (0, 3, 1, 2)).",
                _layout_by_reshape,
            ),
        ),
        pure=False,
        layout_hint=False,
    ),
    numpy_only=False,
    own_names=False,
)


@check
def check_nhwc_to_nchw(impl: Callable, cases: str = "public") -> CheckResult:
    """Check ``nhwc_to_nchw(x)``: ``out[n, c, h, w] == x[n, h, w, c]``."""
    return NHWC_TO_NCHW.run(cases, impl)
