"""Checks for notebook 01, convolution arithmetic."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from autograder.checks._compare import (
    Case,
    CaseFailure,
    CheckResult,
    Mistake,
    NotApplicable,
    as_float64_array,
    as_int,
    call_student,
    check_inputs_unchanged,
    compare_arrays,
    diagnose,
    run_check,
    select_cases,
)
from autograder.checks._engine import check
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


def _expected_int_or_error(op: Callable, case: Case) -> int | ValueError:
    args, kwargs = case.fresh()
    try:
        return op(*args, **kwargs)
    except ValueError as error:
        return error


def _call_for_int(
    impl: Callable, case: Case, name: str, expected: int | ValueError
) -> int | ValueError:
    """Call ``impl``; a ValueError is an answer here (for inputs that do not fit), other errors fail."""
    args, kwargs = case.fresh()
    if isinstance(expected, ValueError):
        try:
            value = call_student(impl, case, name).value
        except CaseFailure as failure:
            cause = failure.__cause__
            if isinstance(cause, ValueError):
                if not str(cause).strip():
                    raise CaseFailure(
                        f"{name} raised ValueError with an empty message. Say what does not fit, "
                        f"with the numbers, e.g.: {expected}"
                    ) from None
                return cause
            if isinstance(cause, AssertionError):
                raise CaseFailure(
                    f"{name} used `assert` to refuse these inputs; raise ValueError instead "
                    "(assert is for your own invariants and disappears under `python -O`)."
                ) from None
            raise
        return as_int(value, name)
    return as_int(call_student(impl, case, name).value, name)


def _check_int_answers(
    name: str,
    impl: Callable,
    cases: str,
    op: Callable,
    public: Callable[[], list[Case]],
    hidden: Callable[[np.random.Generator], list[Case]],
    mistakes: list[Mistake],
    arg_names: tuple[str, ...],
) -> CheckResult:
    def evaluate(case: Case) -> None:
        expected = _expected_int_or_error(op, case)
        got = _call_for_int(impl, case, name, expected)
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
        hint = diagnose(mistakes, case, got)
        raise CaseFailure(body + (f"\n  Hint: {hint}" if hint else ""))

    chosen = select_cases(cases, public, hidden, name)
    return run_check(name, chosen, evaluate, kind=cases, arg_names=arg_names)


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


def _size_args(n, f, stride=1, pad=0):
    return n, f, stride, pad


def _floored_size(*args, **kwargs):
    n, f, s, p = _size_args(*args, **kwargs)
    if (n - f + 2 * p) % s == 0 or n - f + 2 * p < 0:
        raise NotApplicable
    return (n - f + 2 * p) // s + 1


def _size_without_plus_one(*args, **kwargs):
    n, f, s, p = _size_args(*args, **kwargs)
    return (n - f + 2 * p) // s


def _size_one_sided_pad(*args, **kwargs):
    n, f, s, p = _size_args(*args, **kwargs)
    if p == 0 or (n - f + p) % s:
        raise NotApplicable
    return (n - f + p) // s + 1


@check
def check_conv_output_size(impl: Callable, cases: str = "public") -> CheckResult:
    """Check ``conv_output_size(n, f, stride=1, pad=0)``: ``(W - F + 2P) / S + 1``, exact or ValueError."""
    mistakes = [
        Mistake(
            "you rounded down a size that is not a whole number. When S does not divide W - F + 2P "
            "the filter does not fit: raise ValueError with the numbers instead of flooring (PyTorch "
            "floors silently and drops the last rows; this course asks you to notice).",
            _floored_size,
        ),
        Mistake(
            "you forgot the + 1: a filter that fits exactly still has one position.",
            _size_without_plus_one,
        ),
        Mistake(
            "P zeros go on EACH side, so the padded size is W + 2P, not W + P.", _size_one_sided_pad
        ),
    ]
    return _check_int_answers(
        "conv_output_size",
        impl,
        cases,
        reference.conv_output_size,
        _output_size_cases,
        _hidden_output_size_cases,
        mistakes,
        ("n", "f"),
    )


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


@check
def check_padding_for(impl: Callable, cases: str = "public") -> CheckResult:
    """Check ``padding_for(mode, f)``: zeros per side for "valid", "same" (odd F) and "full"."""
    mistakes = [
        Mistake(
            "you used ceil(F/2) zeros per side for SAME, as one lecture deck writes. For odd F that is "
            "(F + 1) / 2, one too many: the output would grow by 2. SAME needs floor(F/2) = (F - 1) / 2.",
            _same_ceil,
        ),
        Mistake(
            "2(F - 1) counts the zeros on BOTH sides together (and the deck's output size H + 2(F - 1) "
            "is wrong too). FULL puts F - 1 zeros on each side, so the output is H + F - 1.",
            _full_twice,
        ),
    ]
    return _check_int_answers(
        "padding_for",
        impl,
        cases,
        reference.padding_for,
        _padding_cases,
        _hidden_padding_cases,
        mistakes,
        ("mode", "f"),
    )


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


def _count_args(c_in, c_out, f, bias=True):
    return c_in, c_out, f, bias


def _count_no_bias(*args, **kwargs):
    c_in, c_out, f, bias = _count_args(*args, **kwargs)
    if not bias:
        raise NotApplicable
    return c_out * c_in * f * f


def _count_no_channels(*args, **kwargs):
    c_in, c_out, f, bias = _count_args(*args, **kwargs)
    if c_in == 1:
        raise NotApplicable
    return c_out * (f * f + int(bias))


def _count_bias_ignored_flag(*args, **kwargs):
    c_in, c_out, f, bias = _count_args(*args, **kwargs)
    if bias:
        raise NotApplicable
    return c_out * (c_in * f * f + 1)


@check
def check_conv_param_count(impl: Callable, cases: str = "public") -> CheckResult:
    """Check ``conv_param_count(c_in, c_out, f, bias=True)``: ``C_out * (C_in * F * F + 1)``."""
    mistakes = [
        Mistake(
            "you forgot the biases: each filter has one, so add C_out (for 10 5x5x3 filters: "
            "10 * (75 + 1) = 760, not 750).",
            _count_no_bias,
        ),
        Mistake(
            "each filter spans ALL input channels: it has C_in * F * F weights, not F * F.",
            _count_no_channels,
        ),
        Mistake("with bias=False there are no biases to count.", _count_bias_ignored_flag),
    ]
    return _check_int_answers(
        "conv_param_count",
        impl,
        cases,
        reference.conv_param_count,
        _param_count_cases,
        _hidden_param_count_cases,
        mistakes,
        ("c_in", "c_out", "f"),
    )


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


@check
def check_receptive_field(impl: Callable, cases: str = "public") -> CheckResult:
    """Check ``receptive_field(layers)``: ``1 + sum_i (k_i - 1) * prod_{j<i} s_j``."""
    mistakes = [
        Mistake(
            "you ignored the strides. After a stride-s layer, neighbouring positions are s input "
            "pixels apart, so every later layer's (k - 1) counts s times as many input pixels.",
            _field_no_strides,
        ),
        Mistake(
            "a layer's stride spaces the positions seen by the NEXT layers; it does not widen its "
            "own window: multiply (k_i - 1) by the strides of the layers BEFORE layer i only.",
            _field_own_stride,
        ),
        Mistake(
            "stacked windows overlap: two 3x3 layers see 5x5, not 6x6. Each layer adds k - 1 "
            "(times the strides before it) to a field that starts at 1.",
            _field_sum_of_kernels,
        ),
    ]
    return _check_int_answers(
        "receptive_field",
        impl,
        cases,
        reference.receptive_field,
        _receptive_field_cases,
        _hidden_receptive_field_cases,
        mistakes,
        ("layers",),
    )


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
            x, k = case.args
            full = (x.shape[0] + k.shape[0] - 1, x.shape[1] + k.shape[1] - 1)
            if got.shape in (full, x.shape) and got.shape != expected.shape:
                mode = "FULL" if got.shape == full else "SAME"
                raise CaseFailure(
                    f"{failure}\n  Hint: that is the {mode}-mode size. Here the kernel stays inside "
                    "the input (VALID mode, no padding): out is (H - KH + 1, W - KW + 1)."
                ) from None
            hint = diagnose(mistakes, case, got, lambda v: np.asarray(v, dtype=np.float64))
            raise CaseFailure(f"{failure}\n  Hint: {hint}" if hint else str(failure)) from None

    chosen = select_cases(cases, _correlation_cases, _hidden_correlation_cases, name)
    return run_check(name, chosen, evaluate, kind=cases, arg_names=("x", "k"))


@check
def check_cross_correlate2d(impl: Callable, cases: str = "public") -> CheckResult:
    """Check ``cross_correlate2d(x, k)``: valid-mode 2-D cross-correlation (kernel not flipped)."""
    flipped = Mistake(
        "your output equals true convolution (kernel flipped). Cross-correlation, what CNN "
        "libraries call convolution, uses k[p, q] as it is: out[i, j] = sum k[p, q] * x[i + p, j + q].",
        lambda x, k: reference.cross_correlate2d(x, _flip(k).copy()).numpy(),
    )
    return _check_2d("cross_correlate2d", impl, cases, reference.cross_correlate2d, [flipped])


@check
def check_convolve2d(impl: Callable, cases: str = "public") -> CheckResult:
    """Check ``convolve2d(x, k)``: valid-mode 2-D true convolution (kernel flipped)."""
    unflipped = Mistake(
        "your output equals cross-correlation: true convolution flips the kernel in both "
        "directions first (k[::-1, ::-1]), then slides it.",
        lambda x, k: reference.cross_correlate2d(x, k).numpy(),
    )
    return _check_2d("convolve2d", impl, cases, reference.convolve2d, [unflipped])


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


@check
def check_nhwc_to_nchw(impl: Callable, cases: str = "public") -> CheckResult:
    """Check ``nhwc_to_nchw(x)``: ``out[n, c, h, w] == x[n, h, w, c]``."""
    name = "nhwc_to_nchw"
    mistakes = [
        Mistake(
            "reshape keeps the memory order and only relabels the shape, so channels and pixels get "
            "mixed up; move the axis with np.transpose(x, (0, 3, 1, 2)).",
            _layout_by_reshape,
        )
    ]

    def evaluate(case: Case) -> float:
        got = as_float64_array(call_student(impl, case, name).value, name, "the output")
        (x,) = case.fresh()[0]
        expected = np.transpose(x, (0, 3, 1, 2))
        try:
            return compare_arrays(got, expected, what="out", swapped_layout_hint=False)
        except CaseFailure as failure:
            hint = diagnose(mistakes, case, got)
            raise CaseFailure(f"{failure}\n  Hint: {hint}" if hint else str(failure)) from None

    chosen = select_cases(cases, _layout_cases, _hidden_layout_cases, name)
    return run_check(name, chosen, evaluate, kind=cases, arg_names=("x",))
