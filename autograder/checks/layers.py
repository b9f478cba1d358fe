"""Checks for notebook 02, layers forward and backward.

Every check calls the student's NumPy functions with fresh float64 arrays, compares with the
PyTorch twin in ``course_utils.reference`` (in float64), and fails with a diagnosis. Public
cases start with the lecture's worked examples (SEED_CONCEPTS.md section 2); hidden cases are
drawn at grading time (other shapes, strides 1-3, paddings 0-2, batch size 1, non-square
inputs and kernels; max-pool inputs are random normal numbers, so they are tie-free).

A backward check gives the student's backward only the cache that the same student's forward
returned: caches are opaque. Hints name a common mistake only when the answer equals what
that mistake computes on the same inputs.

Every check also applies the rules of ``_rules``: no PyTorch, ``course_utils`` or SciPy inside
a NumPy exercise; ``check_conv_fast`` adds the line budget of a vectorised convolution.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from autograder.checks import _legacy_rules as _rules
from autograder.checks._compare import (
    FLOAT32,
    Case,
    CaseFailure,
    CheckResult,
    Mistake,
    NotApplicable,
    as_float,
    as_float64_array,
    call_student,
    check_inputs_unchanged,
    compare_arrays,
    expect_tuple,
    matches,
    run_check,
    select_cases,
    tolerance_for,
)
from autograder.checks._engine import check
from course_utils import reference

__all__ = [
    "check_affine_forward",
    "check_affine_backward",
    "check_relu_forward",
    "check_relu_backward",
    "check_conv_forward",
    "check_conv_backward",
    "check_conv_fast",
    "check_max_pool_forward",
    "check_max_pool_backward",
    "check_avg_pool_forward",
    "check_avg_pool_backward",
    "check_dropout_forward",
    "check_dropout_backward",
    "check_softmax_loss",
    "check_svm_loss",
    "check_bce_loss",
    "check_eval_numerical_gradient_array",
]


# --- the lecture's worked examples (SEED_CONCEPTS.md section 2) ----------------------------------


def _a(values) -> np.ndarray:
    return np.array(values, dtype=np.float64)


# Vector A: the top-left 5x5 corner of the deck's RGB image (R, G, B), pad 1, stride 1, bias 1;
# the lecture gives out[0, 0, 0, 0] = 308 - 498 + 164 + 1 = -25.
_VECTOR_A_X = _a(
    [
        [
            [[156, 155, 156, 158, 158], [153, 154, 157, 159, 159], [149, 151, 155, 158, 159],
             [146, 146, 149, 153, 158], [145, 143, 143, 148, 158]],
            [[167, 166, 167, 169, 169], [164, 165, 168, 170, 170], [160, 162, 166, 169, 170],
             [156, 156, 159, 163, 168], [155, 153, 153, 158, 168]],
            [[163, 162, 163, 165, 165], [160, 161, 164, 166, 166], [156, 158, 162, 165, 166],
             [155, 155, 158, 162, 167], [154, 152, 152, 157, 167]],
        ]
    ]
)  # (1, 3, 5, 5)  # fmt: skip
_VECTOR_A_W = _a(
    [[[[-1, -1, 1], [0, 1, -1], [0, 1, 1]], [[1, 0, 0], [1, -1, -1], [1, 0, -1]],
      [[0, 1, 1], [0, 1, 0], [1, -1, 1]]]]
)  # (1, 3, 3, 3)  # fmt: skip
# Vector B: input 3x5x5, two 3x3x3 filters, pad 1, stride 2.
_VECTOR_B_X = _a(
    [[[[2, 1, 1, 2, 1], [1, 1, 0, 0, 0], [1, 1, 1, 0, 0], [1, 2, 2, 2, 2], [0, 2, 1, 1, 1]],
      [[1, 0, 0, 2, 2], [2, 1, 1, 1, 2], [2, 1, 0, 1, 1], [0, 0, 0, 2, 2], [2, 1, 0, 0, 0]],
      [[1, 1, 1, 0, 2], [2, 1, 0, 0, 1], [1, 2, 1, 1, 2], [0, 0, 2, 2, 1], [2, 1, 2, 0, 2]]]]
)  # (1, 3, 5, 5)  # fmt: skip
_VECTOR_B_W = _a(
    [[[[0, -1, 0], [1, 0, 1], [0, 0, 1]], [[1, 0, 0], [0, -1, -1], [0, -1, 0]],
      [[1, 1, 1], [0, 1, -1], [-1, 1, 0]]],
     [[[0, 1, -1], [-1, 1, 1], [-1, 1, 1]], [[1, -1, 1], [-1, 0, -1], [1, 0, 0]],
      [[-1, -1, 1], [0, 0, 1], [-1, 1, 1]]]]
)  # (2, 3, 3, 3)  # fmt: skip
# Vector C: same shapes, pad 1, stride 2.
_VECTOR_C_X = _a(
    [[[[1, 2, 0, 0, 1], [2, 2, 0, 1, 0], [2, 2, 1, 2, 1], [0, 1, 1, 0, 2], [2, 1, 0, 2, 1]],
      [[0, 2, 0, 0, 1], [1, 1, 0, 2, 2], [0, 1, 1, 0, 2], [1, 2, 0, 2, 0], [0, 2, 0, 1, 0]],
      [[2, 2, 1, 0, 0], [2, 1, 0, 0, 1], [0, 2, 2, 2, 1], [1, 2, 1, 0, 2], [2, 1, 1, 1, 1]]]]
)  # (1, 3, 5, 5)  # fmt: skip
_VECTOR_C_W = _a(
    [[[[1, -1, -1], [-1, 0, 0], [-1, -1, 0]], [[-1, 0, 1], [-1, 0, 0], [-1, -1, -1]],
      [[-1, -1, 1], [0, 0, 0], [1, -1, -1]]],
     [[[0, 0, 1], [1, 1, 0], [0, 0, 0]], [[1, 0, 0], [1, -1, 1], [-1, 0, 0]],
      [[-1, 1, 0], [0, -1, 1], [1, 0, -1]]]]
)  # (2, 3, 3, 3)  # fmt: skip
# The stride examples' 4x4 input: F=2 S=1 -> 3x3, F=2 S=2 -> 2x2.
_STRIDE_INPUT = _a([[23, -12, 16, 90], [12, 32, 12, 45], [-1, 7, 8, 9], [-2, -12, 14, 56]])
# The max-pool example (3x3 pool, stride 1 -> [[3,3,3],[3,3,3],[3,2,3]]); its windows have ties.
_MAX_POOL_X = _a(
    [[[[3, 3, 2, 1, 0], [0, 0, 1, 3, 1], [3, 1, 2, 2, 3], [2, 0, 0, 2, 2], [2, 0, 0, 0, 1]]]]
)  # (1, 1, 5, 5)
# The stability logits of the deck; x2 pushes the largest (875.8) past float64's exp limit 709.
_STABILITY_LOGITS = _a([-100.4, 437.9, 60.75])
_OVERFLOW_SCALE = 2.0
_BCE_STABILITY_LOGIT = 437.9

_TIES_RULE = (
    "with ties: a window's whole gradient goes to its FIRST maximum in row-major order, "
    "as PyTorch does on the CPU"
)


# --- calling the twins and the student's code ----------------------------------------------------


def _tensor(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.array(value, copy=True))
    return value


def _numpy(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy().astype(np.float64)
    if isinstance(value, tuple):
        return tuple(_numpy(v) for v in value)
    return value


def _twin(twin: Callable, *args: Any) -> Any:
    """Call a reference twin on NumPy arguments; tensors back to float64 ndarrays."""
    return _numpy(twin(*(_tensor(a) for a in args)))


def _display_name(impl: Callable, default: str) -> str:
    name = getattr(impl, "__name__", "")
    return name if name.isidentifier() else default


def _guarded(name: str, impls: Sequence[Callable], run: Callable[..., CheckResult]) -> CheckResult:
    """Apply the banned-library rule to ``impls``, then ``run`` the check on guarded versions."""
    _rules.refuse_banned(name, *impls)
    # The twins run on inputs of a few hundred numbers, where one thread is fastest, and a
    # thread pool on a busy grading machine costs tens of milliseconds per call.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return run(*(_rules.guard(impl, name) for impl in impls))
    except _rules.BannedCall as banned:
        raise AssertionError(str(banned)) from None
    finally:
        torch.set_num_threads(threads)


def _same(got: np.ndarray, predicted: np.ndarray) -> bool:
    """A mistake's prediction equals the answer: same shape, same non-finite positions, and the
    finite values agree to float32 precision."""
    predicted = np.asarray(predicted, dtype=np.float64)
    if got.shape != predicted.shape:
        return False
    finite = np.isfinite(predicted)
    if not np.array_equal(finite, np.isfinite(got)):
        return False
    if not np.array_equal(got[~finite], predicted[~finite], equal_nan=True):
        return False  # +inf, -inf and nan are different answers
    return matches(got[finite], predicted[finite], FLOAT32)


def _hint(mistakes: Sequence[Mistake], args: tuple, got: np.ndarray) -> str | None:
    for mistake in mistakes:
        try:
            with np.errstate(all="ignore"):
                predicted = mistake.predict(*args)
        except Exception:
            continue
        if _same(got, predicted):
            return mistake.hint
    return None


def _compare(
    got: np.ndarray,
    expected: np.ndarray,
    what: str,
    mistakes: Sequence[Mistake] = (),
    args: tuple = (),
) -> float:
    """compare_arrays, with the hint of a mistake whose prediction equals ``got``."""
    try:
        return compare_arrays(got, expected, what=what, tol=tolerance_for(got))
    except CaseFailure as failure:
        hint = _hint(mistakes, args, got)
        raise CaseFailure(f"{failure}\n  Hint: {hint}" if hint else str(failure)) from None


def _call(func: Callable, args: tuple, name: str, case: Case) -> Any:
    """Call ``func(*args)`` with these very arguments (a backward gets its forward's cache)."""
    return call_student(lambda: func(*args), Case(case.name), name).value


def _forward(impl: Callable, case: Case, name: str) -> tuple[np.ndarray, Any]:
    out, cache = expect_tuple(call_student(impl, case, name).value, name, ("out", "cache"))
    return as_float64_array(out, name, "out"), cache


def _channels_last(expected_of: Callable) -> Mistake:
    return Mistake(
        "your output is channels-last (NHWC, as in Keras/TensorFlow) with a shape that happens "
        "to coincide; this course uses NCHW (N, C, H, W), as PyTorch does.",
        lambda *args: _channels_last_of(expected_of(*args)),
    )


def _channels_last_of(out: np.ndarray) -> np.ndarray:
    if out.shape != (out.shape[0], out.shape[2], out.shape[3], out.shape[1]):
        raise NotApplicable
    return out.transpose(0, 2, 3, 1)


# --- affine ------------------------------------------------------------------------------------


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


def _affine_wb(rng: np.random.Generator, d: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    return rng.standard_normal((d, m)), rng.standard_normal(m)


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


_AFFINE_NAMES = ("x", "w", "b")
_FLATTEN_HINT = (
    "your function gives the right answer when x is already flat (N, D), but x may have any "
    "shape (N, d_1, ..., d_k): flatten it first with x.reshape(x.shape[0], -1)."
)


@check
def check_affine_forward(affine_forward: Callable, cases: str = "public") -> CheckResult:
    """Check ``affine_forward(x, w, b) -> (out, cache)``: out = x.reshape(N, D) @ w + b, (N, M).

    x may have any shape (N, d_1, ..., d_k) with D = d_1 * ... * d_k. A failure on such an x
    that disappears when x is flattened first is diagnosed as a missing flatten.
    """
    name = _display_name(affine_forward, "affine_forward")

    def run(impl: Callable) -> CheckResult:
        def evaluate(case: Case) -> float:
            check_inputs_unchanged(case, impl, name, _AFFINE_NAMES)
            x, w, b = case.fresh()[0]
            expected, _ = _twin(reference.affine_forward, x, w, b)
            try:
                got, _ = _forward(impl, case, name)
                return _compare(got, expected, "out")
            except CaseFailure as failure:
                if x.ndim > 2 and _flat_affine_matches(impl, case, name, expected):
                    raise CaseFailure(f"{failure}\n  Hint: {_FLATTEN_HINT}") from None
                raise

        chosen = select_cases(cases, _affine_cases, _hidden_affine_cases, name)
        return run_check(name, chosen, evaluate, kind=cases, arg_names=_AFFINE_NAMES)

    return _guarded(name, [affine_forward], run)


def _flat_affine_matches(impl: Callable, case: Case, name: str, expected: np.ndarray) -> bool:
    x, w, b = case.fresh()[0]
    flat = Case(case.name, (x.reshape(x.shape[0], -1), w, b))
    try:
        got, _ = _forward(impl, flat, name)
    except CaseFailure:
        return False
    return matches(got, expected)


@check
def check_affine_backward(
    affine_forward: Callable, affine_backward: Callable, cases: str = "public"
) -> CheckResult:
    """Check ``affine_backward(dout, cache) -> (dx, dw, db)`` with the cache of the student's
    own ``affine_forward``: dx has x's shape (N, d_1, ..., d_k), dw (D, M), db (M,)."""
    name = _display_name(affine_backward, "affine_backward")
    mistakes = {
        "dx": [
            Mistake(
                "dx must have x's original shape (N, d_1, ..., d_k): reshape dout @ w.T back "
                "with .reshape(x.shape).",
                lambda x, w, b, dout: (
                    (dout @ w.T).reshape(x.shape[0], -1) if x.ndim > 2 else _not_applicable()
                ),
            )
        ],
        "dw": [
            Mistake(
                "your dw is transposed: dw = x_flat.T @ dout has w's shape (D, M).",
                lambda x, w, b, dout: (x.reshape(x.shape[0], -1).T @ dout).T,
            )
        ],
        "db": [_zero_bias_gradient("db = dout.sum(axis=0)")],
    }
    return _check_backward(
        name,
        affine_forward,
        affine_backward,
        cases,
        _with_dout(_affine_cases, "affine"),
        _hidden_with_dout(_hidden_affine_cases, "affine"),
        reference.affine_forward,
        reference.affine_backward,
        ("dx", "dw", "db"),
        mistakes,
        _AFFINE_NAMES,
    )


def _not_applicable():
    raise NotApplicable


def _zero_bias_gradient(formula: str) -> Mistake:
    return Mistake(
        f"db is all zeros: the bias gradient was forgotten. Each bias gets the sum of the "
        f"upstream gradient of every output it was added to: {formula}.",
        lambda *args: np.zeros(np.shape(args[2])),
    )


# --- the generic backward check ------------------------------------------------------------------


def _dout_for(twin: Callable, args: tuple, seed: int) -> np.ndarray:
    out = _twin(twin, *args)[0]
    return np.random.default_rng(seed).standard_normal(out.shape)


_TWIN_FORWARD = {
    "affine": reference.affine_forward,
    "relu": reference.relu_forward,
    "conv": reference.conv_forward_naive,
    "max_pool": reference.max_pool_forward_naive,
    "avg_pool": reference.avg_pool_forward,
}


def _with_dout(make: Callable[[], list[Case]], layer: str) -> Callable[[], list[Case]]:
    """Public backward cases: the forward cases with an upstream gradient dout appended."""

    def cases() -> list[Case]:
        return [
            Case(c.name, (*c.args, _dout_for(_TWIN_FORWARD[layer], c.args, 3000 + i)))
            for i, c in enumerate(make())
        ]

    return cases


def _hidden_with_dout(
    make: Callable[[np.random.Generator], list[Case]], layer: str
) -> Callable[[np.random.Generator], list[Case]]:
    def cases(rng: np.random.Generator) -> list[Case]:
        made = make(rng)
        return [
            Case(
                c.name, (*c.args, _dout_for(_TWIN_FORWARD[layer], c.args, int(rng.integers(2**31))))
            )
            for c in made
        ]

    return cases


def _check_backward(
    name: str,
    forward: Callable,
    backward: Callable,
    cases: str,
    public: Callable[[], list[Case]],
    hidden: Callable[[np.random.Generator], list[Case]],
    twin_forward: Callable,
    twin_backward: Callable,
    grads: tuple[str, ...],
    mistakes: dict[str, list[Mistake]],
    forward_names: tuple[str, ...],
) -> CheckResult:
    """Run the student's forward, give its cache to the student's backward, and compare every
    gradient in ``grads`` with the twin's. The case's last argument is dout."""
    forward_name = _display_name(forward, "forward")

    def run(forward_impl: Callable, backward_impl: Callable) -> CheckResult:
        def evaluate(case: Case) -> float:
            *forward_args, dout = case.fresh()[0]
            forward_case = Case(case.name, tuple(forward_args))
            try:
                _, cache = _forward(forward_impl, forward_case, forward_name)
            except CaseFailure as failure:
                raise CaseFailure(
                    f"{failure}\n  {name} needs the cache of a working {forward_name}: fix "
                    f"{forward_name} first."
                ) from None
            value = _call(backward_impl, (dout.copy(), cache), name, case)
            answer = (value,) if len(grads) == 1 else expect_tuple(value, name, grads)
            expected = _twin(twin_backward, dout, _twin_cache(twin_forward, forward_args))
            expected = (expected,) if len(grads) == 1 else expected
            error = 0.0
            args = (*case.fresh()[0],)
            for grad, got, want in zip(grads, answer, expected):
                got = as_float64_array(got, name, grad)
                error = max(error, _compare(got, want, grad, mistakes.get(grad, ()), args))
            return error

        chosen = select_cases(cases, public, hidden, name)
        return run_check(name, chosen, evaluate, kind=cases, arg_names=(*forward_names, "dout"))

    return _guarded(name, [forward, backward], run)


def _twin_cache(twin_forward: Callable, forward_args: Sequence[Any]) -> Any:
    return twin_forward(*(_tensor(a) for a in forward_args))[1]


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


@check
def check_relu_forward(relu_forward: Callable, cases: str = "public") -> CheckResult:
    """Check ``relu_forward(x) -> (out, cache)``: out = max(x, 0), x's shape (any shape)."""
    name = _display_name(relu_forward, "relu_forward")

    def run(impl: Callable) -> CheckResult:
        def evaluate(case: Case) -> float:
            check_inputs_unchanged(case, impl, name, ("x",))
            got, _ = _forward(impl, case, name)
            expected, _ = _twin(reference.relu_forward, *case.fresh()[0])
            return _compare(got, expected, "out")

        chosen = select_cases(cases, _relu_cases, _hidden_relu_cases, name)
        return run_check(name, chosen, evaluate, kind=cases, arg_names=("x",))

    return _guarded(name, [relu_forward], run)


@check
def check_relu_backward(
    relu_forward: Callable, relu_backward: Callable, cases: str = "public"
) -> CheckResult:
    """Check ``relu_backward(dout, cache) -> dx``: dout where x > 0, else 0 (also at x = 0)."""
    name = _display_name(relu_backward, "relu_backward")
    mistakes = {
        "dx": [
            Mistake(
                "your dx is dout where dout > 0: the gate is the forward INPUT x (from the "
                "cache), not dout: dx = dout * (x > 0).",
                lambda x, dout: dout * (dout > 0),
            ),
            Mistake(
                "at x = 0 exactly the derivative is taken as 0 (as torch.relu does): use "
                "x > 0, not x >= 0.",
                lambda x, dout: dout * (x >= 0) if np.any(x == 0) else _not_applicable(),
            ),
        ]
    }
    return _check_backward(
        name,
        relu_forward,
        relu_backward,
        cases,
        _with_dout(_relu_cases, "relu"),
        _hidden_with_dout(_hidden_relu_cases, "relu"),
        reference.relu_forward,
        reference.relu_backward,
        ("dx",),
        mistakes,
        ("x",),
    )


# --- convolution ---------------------------------------------------------------------------------


def _conv_case(name: str, x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int, pad: int):
    return Case(name, (x, w, b, {"stride": stride, "pad": pad}))


def _conv_cases() -> list[Case]:
    rng = np.random.default_rng(2003)
    stride_x = _STRIDE_INPUT.reshape(1, 1, 4, 4)
    return [
        _conv_case(
            "lecture vector A (pad 1, stride 1, bias 1; out[0, 0, 0, 0] = -25)",
            _VECTOR_A_X,
            _VECTOR_A_W,
            _a([1]),
            1,
            1,
        ),
        _conv_case(
            "lecture vector B (stride 2, pad 1)", _VECTOR_B_X, _VECTOR_B_W, _a([1, 0]), 2, 1
        ),
        _conv_case(
            "lecture vector C (stride 2, pad 1)", _VECTOR_C_X, _VECTOR_C_W, _a([1, 0]), 2, 1
        ),
        _conv_case(
            "lecture stride example: 4x4 input, 2x2 filter, stride 1 -> 3x3",
            stride_x,
            rng.standard_normal((1, 1, 2, 2)),
            rng.standard_normal(1),
            1,
            0,
        ),
        _conv_case(
            "lecture stride example: 4x4 input, 2x2 filter, stride 2 -> 2x2",
            stride_x,
            rng.standard_normal((1, 1, 2, 2)),
            rng.standard_normal(1),
            2,
            0,
        ),
        _conv_case(
            "non-square: 2 images 3x7x5, 4 filters 3x2, stride 1, pad 2",
            rng.standard_normal((2, 3, 7, 5)),
            rng.standard_normal((4, 3, 3, 2)),
            rng.standard_normal(4),
            1,
            2,
        ),
        _conv_case(
            "2 images 2x8x8, 3 filters 4x4, stride 2, pad 1",
            rng.standard_normal((2, 2, 8, 8)),
            rng.standard_normal((3, 2, 4, 4)),
            rng.standard_normal(3),
            2,
            1,
        ),
    ]


def _hidden_conv_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for i in range(6):
        while True:
            stride, pad = int(rng.integers(1, 4)), int(rng.integers(0, 3))
            hh, ww = (int(v) for v in rng.integers(1, 5, size=2))
            h_out, w_out = (int(v) for v in rng.integers(1, 5, size=2))
            h = (h_out - 1) * stride + hh - 2 * pad
            w = (w_out - 1) * stride + ww - 2 * pad
            if h >= 1 and w >= 1:
                break
        n = 1 if i == 0 else int(rng.integers(1, 4))
        c, f = int(rng.integers(1, 4)), int(rng.integers(1, 5))
        cases.append(
            _conv_case(
                f"hidden {i + 1}: {n} image(s) {c}x{h}x{w}, {f} filters {hh}x{ww}, "
                f"stride {stride}, pad {pad}",
                rng.standard_normal((n, c, h, w)),
                rng.standard_normal((f, c, hh, ww)),
                rng.standard_normal(f),
                stride,
                pad,
            )
        )
    return cases


def _conv(x, w, b, conv_param) -> np.ndarray:
    return _twin(reference.conv_forward_naive, x, w, b, conv_param)[0]


def _conv_one_sided(x, w, b, conv_param, before: bool) -> np.ndarray:
    pad = conv_param["pad"]
    if pad == 0:
        raise NotApplicable
    sides = (2 * pad, 0) if before else (0, 2 * pad)
    x_pad = np.pad(x, ((0, 0), (0, 0), sides, sides))
    return _conv(x_pad, w, b, {"stride": conv_param["stride"], "pad": 0})


def _conv_stride_one(x, w, b, conv_param, crop: bool) -> np.ndarray:
    if conv_param["stride"] == 1:
        raise NotApplicable
    out = _conv(x, w, b, {"stride": 1, "pad": conv_param["pad"]})
    if not crop:
        return out
    h_out, w_out = _conv(x, w, b, conv_param).shape[2:]
    return out[:, :, :h_out, :w_out]


_CONV_MISTAKES = [
    Mistake(
        'your output equals true convolution (filters flipped). In CNNs "convolution" is '
        "cross-correlation: use w[f, c, p, q] as it is, without flipping.",
        lambda x, w, b, conv_param: _conv(x, w[:, :, ::-1, ::-1].copy(), b, conv_param),
    ),
    Mistake(
        "your output is right except for the bias: add b[f] to every output of filter f.",
        lambda x, w, b, conv_param: (
            _conv(x, w, np.zeros_like(b), conv_param) if np.any(b != 0) else _not_applicable()
        ),
    ),
    Mistake(
        "your input is padded on one side only (all 2P zeros after x, or all before it); put P "
        "zeros on EACH side: np.pad(x, ((0, 0), (0, 0), (P, P), (P, P))).",
        lambda x, w, b, conv_param: _conv_one_sided(x, w, b, conv_param, before=False),
    ),
    Mistake(
        "your input is padded on one side only (all 2P zeros before x); put P zeros on EACH "
        "side: np.pad(x, ((0, 0), (0, 0), (P, P), (P, P))).",
        lambda x, w, b, conv_param: _conv_one_sided(x, w, b, conv_param, before=True),
    ),
    Mistake(
        "your output is what stride 1 gives: the stride was ignored. Output (i, j) reads the "
        "window that starts at row i*S and column j*S, and H_out = 1 + (H + 2P - HH) / S.",
        lambda x, w, b, conv_param: _conv_stride_one(x, w, b, conv_param, crop=False),
    ),
    Mistake(
        "your output has the right size but its windows start at (i, j), not at (i*S, j*S): "
        "the stride was ignored when slicing the window.",
        lambda x, w, b, conv_param: _conv_stride_one(x, w, b, conv_param, crop=True),
    ),
    _channels_last(lambda x, w, b, conv_param: _conv(x, w, b, conv_param)),
]

_CONV_NAMES = ("x", "w", "b", "conv_param")


@check
def check_conv_forward(conv_forward: Callable, cases: str = "public") -> CheckResult:
    """Check ``conv_forward_naive`` or ``conv_forward_fast``: (x, w, b, conv_param) -> (out, cache).

    out[n, f, i, j] = b[f] + sum_{c,p,q} w[f, c, p, q] * x_pad[n, c, i*S + p, j*S + q], shape
    (N, F, H_out, W_out), H_out = 1 + (H + 2P - HH) / S. Hints: filters flipped, bias missing,
    padding on one side, stride ignored, NHWC output.
    """
    name = _display_name(conv_forward, "conv_forward")

    def run(impl: Callable) -> CheckResult:
        def evaluate(case: Case) -> float:
            check_inputs_unchanged(case, impl, name, _CONV_NAMES)
            got, _ = _forward(impl, case, name)
            args = case.fresh()[0]
            return _compare(got, _conv(*args), "out", _CONV_MISTAKES, args)

        chosen = select_cases(cases, _conv_cases, _hidden_conv_cases, name)
        return run_check(name, chosen, evaluate, kind=cases, arg_names=_CONV_NAMES)

    return _guarded(name, [conv_forward], run)


def _dw_one_position(x, w, b, conv_param, dout, last: bool) -> np.ndarray:
    """dw from a single output position (dw = ... instead of dw += ... in the loop)."""
    stride, pad = conv_param["stride"], conv_param["pad"]
    hh, ww = w.shape[2:]
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    n, i, j = (x.shape[0] - 1, dout.shape[2] - 1, dout.shape[3] - 1) if last else (0, 0, 0)
    if dout.shape[0] * dout.shape[2] * dout.shape[3] == 1:
        raise NotApplicable
    window = x_pad[n, :, i * stride : i * stride + hh, j * stride : j * stride + ww]
    return dout[n, :, i, j][:, None, None, None] * window[None]


@check
def check_conv_backward(
    conv_forward: Callable, conv_backward: Callable, cases: str = "public"
) -> CheckResult:
    """Check ``conv_backward_naive`` or ``conv_backward_fast``: (dout, cache) -> (dx, dw, db),
    with the cache of the student's own forward. dx (N, C, H, W), dw (F, C, HH, WW) (a shared
    weight's gradient is the SUM over every position), db (F,)."""
    name = _display_name(conv_backward, "conv_backward")
    one_position = (
        "your dw equals the contribution of a single output position. A shared weight is used "
        "at every position, so its gradient is the SUM over all of them: accumulate with "
        "dw[f] += dout[n, f, i, j] * window (not dw[f] = ...)."
    )
    mistakes = {
        "dw": [
            Mistake(one_position, lambda *args: _dw_one_position(*args, last=True)),
            Mistake(one_position, lambda *args: _dw_one_position(*args, last=False)),
        ],
        "db": [_zero_bias_gradient("db = dout.sum(axis=(0, 2, 3))")],
    }
    return _check_backward(
        name,
        conv_forward,
        conv_backward,
        cases,
        _with_dout(_conv_cases, "conv"),
        _hidden_with_dout(_hidden_conv_cases, "conv"),
        reference.conv_forward_naive,
        reference.conv_backward_naive,
        ("dx", "dw", "db"),
        mistakes,
        _CONV_NAMES,
    )


#: The vectorised convolution's line budget and the medium input it is measured on.
FAST_LINE_BUDGET = 500
_FAST_SHAPES = {"x": (2, 3, 32, 32), "w": (4, 3, 3, 3), "conv_param": {"stride": 1, "pad": 1}}


@check
def check_conv_fast(conv_forward_fast: Callable, conv_backward_fast: Callable) -> CheckResult:
    """Check that ``conv_forward_fast`` and ``conv_backward_fast`` are vectorised.

    The rule: on a medium input (x (2, 3, 32, 32), w (4, 3, 3, 3), stride 1, pad 1: 32 x 32 =
    1024 output positions per map, 8192 outputs in all), each function may execute at most
    FAST_LINE_BUDGET (500) lines of YOUR Python code. Lines inside NumPy do not count, and the
    count does not depend on how busy the machine is. Loops over the kernel offsets (HH x WW),
    the channels, the filters or the batch stay far below the budget; a loop over output
    pixels runs at least one line per pixel (thousands here) and fails. Correctness is checked
    by ``check_conv_forward`` and ``check_conv_backward``; this check also compares the values
    on its input, so a fast wrong answer does not pass.
    """
    forward_name = _display_name(conv_forward_fast, "conv_forward_fast")
    backward_name = _display_name(conv_backward_fast, "conv_backward_fast")
    name = f"{forward_name}/{backward_name}"

    def run(forward: Callable, backward: Callable) -> CheckResult:
        rng = np.random.default_rng(2004)
        x = rng.standard_normal(_FAST_SHAPES["x"])
        w = rng.standard_normal(_FAST_SHAPES["w"])
        b = rng.standard_normal(_FAST_SHAPES["w"][0])
        conv_param = dict(_FAST_SHAPES["conv_param"])
        expected = _conv(x, w, b, conv_param)
        dout = np.random.default_rng(2005).standard_normal(expected.shape)
        twin_cache = _twin_cache(reference.conv_forward_naive, (x, w, b, conv_param))
        expected_grads = _twin(reference.conv_backward_naive, dout, twin_cache)
        case = Case(
            f"vectorised, on a medium input ({FAST_LINE_BUDGET} lines of your code at most)",
            (x, w, b, conv_param),
        )

        def evaluate(case: Case) -> float:
            args = case.fresh()[0]
            value = _counted(forward, args, forward_name, case)
            out, cache = expect_tuple(value, forward_name, ("out", "cache"))
            error = _compare(as_float64_array(out, forward_name, "out"), expected, "out")
            value = _counted(backward, (dout.copy(), cache), backward_name, case)
            for grad, got, want in zip(
                ("dx", "dw", "db"),
                expect_tuple(value, backward_name, ("dx", "dw", "db")),
                expected_grads,
            ):
                error = max(error, _compare(as_float64_array(got, backward_name, grad), want, grad))
            return error

        return run_check(name, [case], evaluate, kind="public", arg_names=_CONV_NAMES)

    return _guarded(name, [conv_forward_fast, conv_backward_fast], run)


def _counted(func: Callable, args: tuple, name: str, case: Case) -> Any:
    """Call func(*args) counting its lines; fail when the count is over the budget."""
    stop = 4 * FAST_LINE_BUDGET
    value = _call(lambda *a: _rules.count_lines(func, *a, stop_after=stop), args, name, case)
    result, count = value
    if count > FAST_LINE_BUDGET:
        shown = f"more than {stop}" if count > stop else str(count)
        h_out, w_out = _FAST_SHAPES["x"][2:]
        raise CaseFailure(
            f"{name} executed {shown} lines of your Python code on x {_FAST_SHAPES['x']}, w "
            f"{_FAST_SHAPES['w']}; a vectorised version needs at most {FAST_LINE_BUDGET}.\n"
            f"  This input has {h_out} x {w_out} = {h_out * w_out} output positions per map: a "
            "Python loop over output pixels runs at least one line for each of them. Loop over "
            "the kernel offsets (HH x WW) at most, and let NumPy do the rest (slicing, "
            "np.tensordot / einsum / matmul, numpy.lib.stride_tricks, np.add.at)."
        )
    return result


# --- pooling -------------------------------------------------------------------------------------


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


def _pool_stride_one(twin: Callable) -> Mistake:
    def predict(x, pool_param):
        if pool_param["stride"] == 1:
            raise NotApplicable
        return _twin(twin, x, {**pool_param, "stride": 1})[0]

    return Mistake(
        "your output is what stride 1 gives: the stride was ignored. Window (i, j) starts at "
        "row i*S and column j*S, and H_out = 1 + (H - HH) / S.",
        predict,
    )


def _check_pool_forward(name: str, impl: Callable, cases: str, twin: Callable, mistakes, ties):
    def run(guarded: Callable) -> CheckResult:
        def evaluate(case: Case) -> float:
            check_inputs_unchanged(case, guarded, name, ("x", "pool_param"))
            got, _ = _forward(guarded, case, name)
            args = case.fresh()[0]
            return _compare(got, _twin(twin, *args)[0], "out", mistakes, args)

        chosen = select_cases(cases, _pool_cases(ties), _hidden_pool_cases, name)
        return run_check(name, chosen, evaluate, kind=cases, arg_names=("x", "pool_param"))

    return _guarded(name, [impl], run)


@check
def check_max_pool_forward(max_pool_forward_naive: Callable, cases: str = "public") -> CheckResult:
    """Check ``max_pool_forward_naive(x, pool_param) -> (out, cache)``: each window's maximum,
    shape (N, C, H_out, W_out), H_out = 1 + (H - HH) / S; pool_param {"pool_height",
    "pool_width", "stride"}."""
    name = _display_name(max_pool_forward_naive, "max_pool_forward_naive")
    mistakes = [
        _pool_stride_one(reference.max_pool_forward_naive),
        _channels_last(
            lambda x, pool_param: _twin(reference.max_pool_forward_naive, x, pool_param)[0]
        ),
    ]
    return _check_pool_forward(
        name, max_pool_forward_naive, cases, reference.max_pool_forward_naive, mistakes, True
    )


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


@check
def check_max_pool_backward(
    max_pool_forward_naive: Callable, max_pool_backward_naive: Callable, cases: str = "public"
) -> CheckResult:
    """Check ``max_pool_backward_naive(dout, cache) -> dx`` (N, C, H, W): each window's whole
    upstream gradient goes to its maximum, to the FIRST maximum in row-major order when there
    are ties (as PyTorch does on the CPU; the lecture example has ties); overlapping windows
    add up."""
    name = _display_name(max_pool_backward_naive, "max_pool_backward_naive")

    def ties_only(x, pool_param, dout):
        return _max_pool_routed(x, pool_param, dout, "ties")

    mistakes = {
        "dx": [
            Mistake(
                "your dx sends a window's gradient to every element equal to its maximum. With "
                "ties only ONE element may get it, the first maximum in row-major order (as "
                "np.argmax returns it, and as PyTorch does): otherwise the gradient is counted "
                "several times.",
                ties_only,
            ),
            Mistake(
                "your dx sends a window's gradient to every element of the window. Max pooling "
                "routes it only to the maximum (the element that produced the output); the "
                "others get 0.",
                lambda x, pool_param, dout: _max_pool_routed(x, pool_param, dout, "all"),
            ),
        ]
    }
    return _check_backward(
        name,
        max_pool_forward_naive,
        max_pool_backward_naive,
        cases,
        _with_dout(_pool_cases(True), "max_pool"),
        _hidden_with_dout(_hidden_pool_cases, "max_pool"),
        reference.max_pool_forward_naive,
        reference.max_pool_backward_naive,
        ("dx",),
        mistakes,
        ("x", "pool_param"),
    )


@check
def check_avg_pool_forward(avg_pool_forward: Callable, cases: str = "public") -> CheckResult:
    """Check ``avg_pool_forward(x, pool_param) -> (out, cache)``: each window's mean, shape
    (N, C, H_out, W_out)."""
    name = _display_name(avg_pool_forward, "avg_pool_forward")
    mistakes = [
        Mistake(
            "your output is the SUM of each window: divide by its size HH * WW to get the mean.",
            lambda x, pool_param: (
                _twin(reference.avg_pool_forward, x, pool_param)[0]
                * (pool_param["pool_height"] * pool_param["pool_width"])
            ),
        ),
        _pool_stride_one(reference.avg_pool_forward),
        _channels_last(lambda x, pool_param: _twin(reference.avg_pool_forward, x, pool_param)[0]),
    ]
    return _check_pool_forward(
        name, avg_pool_forward, cases, reference.avg_pool_forward, mistakes, False
    )


@check
def check_avg_pool_backward(
    avg_pool_forward: Callable, avg_pool_backward: Callable, cases: str = "public"
) -> CheckResult:
    """Check ``avg_pool_backward(dout, cache) -> dx`` (N, C, H, W): every input of a window gets
    dout / (HH * WW); overlapping windows add up."""
    name = _display_name(avg_pool_backward, "avg_pool_backward")

    def undivided(x, pool_param, dout):
        cache = _twin_cache(reference.avg_pool_forward, (x, pool_param))
        dx = _twin(reference.avg_pool_backward, dout, cache)
        return dx * (pool_param["pool_height"] * pool_param["pool_width"])

    mistakes = {
        "dx": [
            Mistake(
                "your dx gives every input of a window the whole dout: the forward divided by "
                "HH * WW, so each input's share is dout / (HH * WW).",
                undivided,
            )
        ]
    }
    return _check_backward(
        name,
        avg_pool_forward,
        avg_pool_backward,
        cases,
        _with_dout(_pool_cases(False), "avg_pool"),
        _hidden_with_dout(_hidden_pool_cases, "avg_pool"),
        reference.avg_pool_forward,
        reference.avg_pool_backward,
        ("dx",),
        mistakes,
        ("x", "pool_param"),
    )


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


def _dropout_output(impl: Callable, case: Case, name: str) -> tuple[np.ndarray, Any]:
    out, cache = _forward(impl, case, name)
    x = case.args[0]
    if out.shape != x.shape:
        raise CaseFailure(f"out has shape {out.shape}, expected x's shape {x.shape}.")
    return out, cache


def _judge_dropout_forward(x: np.ndarray, dropout_param: dict, out: np.ndarray) -> None:
    """Fail unless out is a valid inverted-dropout output of x; name the mistake when clear."""
    p, mode = dropout_param["p"], dropout_param["mode"]
    if mode == "test" or p == 0:
        if not np.allclose(out, x, rtol=_DROPOUT_RTOL, atol=0):
            dropped = float(np.mean(out == 0))
            what = (
                f"in {mode} mode with p = {p} dropout must return x unchanged (out = x); "
                f"yours differs ({dropped:.0%} of the outputs are 0)."
            )
            if mode == "test":
                what += (
                    "\n  Hint: dropout is active at test time. Inverted dropout does all its "
                    "work in training (drop, then scale by 1/(1-p)); at test time it is the "
                    "identity."
                )
            raise CaseFailure(what)
        return
    kept = out != 0
    scale = 1.0 / (1.0 - p)
    if not np.allclose(out[kept], x[kept] * scale, rtol=_DROPOUT_RTOL, atol=0):
        message = (
            f"in train mode every output must be 0 or x / (1 - p) = {scale:.6g} * x; yours are not."
        )
        if np.allclose(out[kept], x[kept], rtol=_DROPOUT_RTOL, atol=0):
            message += (
                "\n  Hint: the kept units equal x: the scaling was forgotten. Inverted dropout "
                f"divides the kept units by 1 - p (here x * {scale:.6g}), so that test time needs "
                "no change."
            )
        elif np.allclose(out[kept], x[kept] / p, rtol=_DROPOUT_RTOL, atol=0):
            message += f"\n  Hint: {_P_AS_KEEP}"
        raise CaseFailure(message)
    fraction = float(np.mean(kept))
    sigma = np.sqrt(p * (1 - p) / x.size)
    allowed = KEPT_FRACTION_SIGMAS * sigma
    if abs(fraction - (1 - p)) > allowed:
        message = (
            f"with p = {p} about {1 - p:.0%} of the units must be kept; yours kept "
            f"{fraction:.1%} of {x.size} (allowed {1 - p:.3f} +- {allowed:.3f}, "
            f"{KEPT_FRACTION_SIGMAS:g} binomial standard deviations)."
        )
        if abs(fraction - p) <= allowed:
            message += f"\n  Hint: {_P_AS_KEEP}"
        raise CaseFailure(message)


_P_AS_KEEP = (
    'p was read as the probability of KEEPING a unit. dropout_param["p"] is the probability of '
    "DROPPING one (as in the lecture and in torch.nn.Dropout): keep a unit when "
    "np.random.rand(...) >= p (or < 1 - p), and scale by 1 / (1 - p)."
)


@check
def check_dropout_forward(dropout_forward: Callable, cases: str = "public") -> CheckResult:
    """Check ``dropout_forward(x, dropout_param) -> (out, cache)``, inverted dropout.

    The mask comes from NumPy's generator, so the contract's properties are checked instead of
    values: in train mode every output is 0 or x / (1 - p) exactly; the kept fraction is within
    KEPT_FRACTION_SIGMAS binomial standard deviations of 1 - p; the same seed gives the same
    output; test mode and p = 0 are the identity.
    """
    name = _display_name(dropout_forward, "dropout_forward")

    def run(impl: Callable) -> CheckResult:
        def evaluate(case: Case) -> float:
            check_inputs_unchanged(case, impl, name, ("x", "dropout_param"))
            x, dropout_param = case.fresh()[0]
            out, _ = _dropout_output(impl, case, name)
            _judge_dropout_forward(x, dropout_param, out)
            again, _ = _dropout_output(impl, case, name)
            if not np.array_equal(out, again):
                raise CaseFailure(
                    f'two calls with the same dropout_param["seed"] = {dropout_param["seed"]} '
                    "gave different outputs; the same seed must give the same mask.\n"
                    '  Hint: seed NumPy first: if "seed" in dropout_param: '
                    'np.random.seed(dropout_param["seed"]).'
                )
            return 0.0

        chosen = select_cases(cases, _dropout_cases, _hidden_dropout_cases, name)
        return run_check(name, chosen, evaluate, kind=cases, arg_names=("x", "dropout_param"))

    return _guarded(name, [dropout_forward], run)


def _dropout_backward_cases() -> list[Case]:
    return _dropout_backward_from(_dropout_cases(), np.random.default_rng(2008))


def _dropout_backward_from(cases: list[Case], rng: np.random.Generator) -> list[Case]:
    return [Case(c.name, (*c.args, rng.standard_normal(c.args[0].shape))) for c in cases]


@check
def check_dropout_backward(
    dropout_forward: Callable, dropout_backward: Callable, cases: str = "public"
) -> CheckResult:
    """Check ``dropout_backward(dout, cache) -> dx`` with the cache of the student's own forward:
    dx = dout * mask / (1 - p) in train mode, for the mask that forward used (read off forward's
    output: a unit was kept where out != 0, as x has no zeros), and dx = dout in test mode."""
    name = _display_name(dropout_backward, "dropout_backward")
    forward_name = _display_name(dropout_forward, "dropout_forward")

    def run(forward: Callable, backward: Callable) -> CheckResult:
        def evaluate(case: Case) -> float:
            x, dropout_param, dout = case.fresh()[0]
            forward_case = Case(case.name, (x, dropout_param))
            try:
                out, cache = _dropout_output(forward, forward_case, forward_name)
                _judge_dropout_forward(x, dropout_param, out)
            except CaseFailure as failure:
                raise CaseFailure(
                    f"{failure}\n  {name} needs the cache of a working {forward_name}: fix "
                    f"{forward_name} first."
                ) from None
            got = as_float64_array(_call(backward, (dout.copy(), cache), name, case), name, "dx")
            p, mode = dropout_param["p"], dropout_param["mode"]
            if mode == "test":
                expected = dout
                mistakes = []
            else:
                kept = out != 0
                expected = dout * kept / (1 - p)
                mistakes = [
                    Mistake(
                        "your dx is dout * mask without the 1 / (1 - p): backward must scale "
                        "exactly as forward did, dx = dout * mask / (1 - p).",
                        lambda *args: dout * kept if p > 0 else _not_applicable(),
                    ),
                    Mistake(
                        "your dx is dout everywhere: units that forward dropped must get no "
                        "gradient, dx = dout * mask / (1 - p), with the mask from the cache.",
                        lambda *args: dout if not kept.all() else _not_applicable(),
                    ),
                ]
            return _compare(got, expected, "dx", mistakes, ())

        chosen = select_cases(
            cases,
            _dropout_backward_cases,
            lambda rng: _dropout_backward_from(_hidden_dropout_cases(rng), rng),
            name,
        )
        return run_check(
            name, chosen, evaluate, kind=cases, arg_names=("x", "dropout_param", "dout")
        )

    return _guarded(name, [dropout_forward, dropout_backward], run)


# --- losses --------------------------------------------------------------------------------------


def _label_cases(rng: np.random.Generator, shapes: Sequence[tuple[int, int]], prefix: str):
    cases = []
    for i, (n, c) in enumerate(shapes):
        scores = rng.standard_normal((n, c)) * 3
        y = rng.integers(0, c, size=n)
        cases.append(Case(f"{prefix}{i + 1}: scores ({n}, {c})", (scores, y)))
    return cases


def _softmax_cases() -> list[Case]:
    rng = np.random.default_rng(2009)
    logits = np.stack([_STABILITY_LOGITS, _STABILITY_LOGITS])
    return [
        Case(
            "lecture logits [-100.4, 437.9, 60.75] twice, labels [0, 2] (finite loss)",
            (logits, np.array([0, 2])),
        ),
        Case(
            f"lecture logits x{_OVERFLOW_SCALE:g} (largest 875.8: np.exp overflows past 709 "
            "even in float64), labels [1, 0]",
            (logits * _OVERFLOW_SCALE, np.array([1, 0])),
        ),
        *_label_cases(rng, [(5, 4), (3, 10)], "random "),
    ]


def _hidden_loss_cases(rng: np.random.Generator) -> list[Case]:
    shapes = [(1, int(rng.integers(2, 6)))] + [
        (int(rng.integers(2, 9)), int(rng.integers(2, 11))) for _ in range(4)
    ]
    cases = _label_cases(rng, shapes, "hidden ")
    big = rng.standard_normal((3, 4)) * 1000
    cases.append(Case("hidden: scores (3, 4) of size ~1000", (big, rng.integers(0, 4, size=3))))
    return cases


def _summed(twin: Callable) -> Callable:
    def predict(*args):
        if args[0].shape[0] == 1:
            raise NotApplicable
        loss, grad = _twin(twin, *args)
        return np.asarray(loss) * args[0].shape[0], grad * args[0].shape[0]

    return predict


def _log_of_probabilities(scores: np.ndarray, y: np.ndarray):
    shifted = scores - scores.max(axis=1, keepdims=True)
    probs = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    n = scores.shape[0]
    loss = -np.log(probs[np.arange(n), y]).mean()
    probs[np.arange(n), y] -= 1
    return np.asarray(loss), probs / n


def _check_loss(
    name: str,
    impl: Callable,
    cases: str,
    public: Callable[[], list[Case]],
    hidden: Callable[[np.random.Generator], list[Case]],
    twin: Callable,
    arg_names: tuple[str, str],
    grad_name: str,
    mistakes: list[tuple[str, Callable]],
    shift_hint: str | None = None,
) -> CheckResult:
    """A loss returns (loss, grad). ``mistakes``: (hint, predict -> (loss, grad)) pairs; a hint
    is given when the student's loss, or its gradient, equals the prediction's."""
    loss_mistakes = [Mistake(h, lambda *a, p=p: p(*a)[0]) for h, p in mistakes]
    grad_mistakes = [Mistake(h, lambda *a, p=p: p(*a)[1]) for h, p in mistakes]

    def run(guarded: Callable) -> CheckResult:
        def evaluate(case: Case) -> float:
            check_inputs_unchanged(case, guarded, name, arg_names)
            value = call_student(guarded, case, name).value
            loss, grad = expect_tuple(value, name, ("loss", grad_name))
            loss = np.asarray(as_float(loss, name, "the loss"))
            grad = as_float64_array(grad, name, grad_name)
            args = case.fresh()[0]
            expected_loss, expected_grad = _twin(twin, *args)
            try:
                error = _compare(loss, np.asarray(expected_loss), "loss", loss_mistakes, args)
                return max(error, _compare(grad, expected_grad, grad_name, grad_mistakes, args))
            except CaseFailure as failure:
                if shift_hint and _right_once_shifted(
                    guarded, case, name, expected_loss, expected_grad
                ):
                    raise CaseFailure(f"{failure}\n  Hint: {shift_hint}") from None
                raise

        chosen = select_cases(cases, public, hidden, name)
        return run_check(name, chosen, evaluate, kind=cases, arg_names=arg_names)

    return _guarded(name, [impl], run)


def _right_once_shifted(impl: Callable, case: Case, name: str, loss, grad) -> bool:
    """The student's loss is right when each row's maximum is subtracted BEFORE the call
    (the softmax does not change): their code overflows only because it does not subtract it."""
    scores, y = case.fresh()[0]
    shifted = Case(case.name, (scores - scores.max(axis=1, keepdims=True), y))
    try:
        got_loss, got_grad = expect_tuple(call_student(impl, shifted, name).value, name, ("", ""))
        got_loss = np.asarray(as_float(got_loss, name, "the loss"))
        got_grad = as_float64_array(got_grad, name, "the gradient")
    except CaseFailure:
        return False
    return matches(got_loss, np.asarray(loss)) and matches(got_grad, grad)


_SUMMED_HINT = (
    "your loss (and gradient) is N times too large: the loss is the MEAN over the batch, so "
    "divide the sum by N, and the gradient by N too."
)


@check
def check_softmax_loss(softmax_loss: Callable, cases: str = "public") -> CheckResult:
    """Check ``softmax_loss(scores, y) -> (loss, dscores)``: scores (N, C), integer labels (N,);
    loss = mean_n -log softmax(scores[n])[y[n]], dscores (N, C). It must be finite for any
    finite scores: the lecture logits scaled past 709 overflow a softmax that does not subtract
    each row's maximum first."""
    name = _display_name(softmax_loss, "softmax_loss")
    mistakes = [
        (
            "a probability underflowed to 0 and np.log(0) is -inf: the loss must be finite for "
            "any finite scores. Take the log of the softmax directly, log_probs = shifted - "
            "np.log(np.exp(shifted).sum(axis=1, keepdims=True)), and loss = -mean of "
            "log_probs[range(N), y].",
            _log_of_probabilities,
        ),
        (_SUMMED_HINT, _summed(reference.softmax_loss)),
    ]
    return _check_loss(
        name,
        softmax_loss,
        cases,
        _softmax_cases,
        _hidden_loss_cases,
        reference.softmax_loss,
        ("scores", "y"),
        "dscores",
        mistakes,
        shift_hint=(
            "np.exp overflowed: subtract each row's maximum before exponentiating, "
            "shifted = scores - scores.max(axis=1, keepdims=True). The softmax is unchanged "
            "and the largest exponent becomes exp(0) = 1 (your function is right on scores "
            "shifted that way)."
        ),
    )


def _svm_cases() -> list[Case]:
    rng = np.random.default_rng(2010)
    small = _a([[3.2, 5.1, -1.7], [1.3, 4.9, 2.0], [2.2, 2.5, -3.1]])  # the classic CS231n scores
    return [
        Case("scores (3, 3), labels [0, 1, 2]", (small, np.array([0, 1, 2]))),
        *_label_cases(rng, [(5, 4), (4, 7)], "random "),
    ]


@check
def check_svm_loss(svm_loss: Callable, cases: str = "public") -> CheckResult:
    """Check ``svm_loss(scores, y) -> (loss, dscores)``: the multiclass hinge with margin 1,
    loss = mean_n sum_{j != y_n} max(0, scores[n, j] - scores[n, y_n] + 1), dscores (N, C)."""
    name = _display_name(svm_loss, "svm_loss")

    def with_correct_class(scores, y):
        loss, grad = _twin(reference.svm_loss, scores, y)
        return np.asarray(loss) + 1.0, grad

    mistakes = [
        (
            "your loss is 1 too large: the correct class was counted. Its own margin "
            "s_y - s_y + 1 = 1 is not part of the hinge: sum over j != y only (set that "
            "margin to 0).",
            with_correct_class,
        ),
        (_SUMMED_HINT, _summed(reference.svm_loss)),
    ]
    return _check_loss(
        name,
        svm_loss,
        cases,
        _svm_cases,
        _hidden_loss_cases,
        reference.svm_loss,
        ("scores", "y"),
        "dscores",
        mistakes,
    )


def _bce_cases() -> list[Case]:
    rng = np.random.default_rng(2011)
    logit = _BCE_STABILITY_LOGIT
    return [
        Case("logits (6,), 0/1 targets", (rng.standard_normal(6) * 2, rng.integers(0, 2, 6).astype(np.float64))),
        Case(
            "logits (4, 3), 0/1 targets (averaged over all 12 elements)",
            (rng.standard_normal((4, 3)) * 2, rng.integers(0, 2, (4, 3)).astype(np.float64)),
        ),
        Case(
            f"lecture logit {logit} (and {-logit}) with the wrong target (finite loss: 437.9)",
            (_a([logit, -logit, 1.5]), _a([0, 1, 1])),
        ),
    ]  # fmt: skip


def _hidden_bce_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for i in range(5):
        shape = (
            (1,)
            if i == 0
            else tuple(int(v) for v in rng.integers(1, 7, size=int(rng.integers(1, 3))))
        )
        scale = 300.0 if i == 4 else 2.0
        logits = rng.standard_normal(shape) * scale
        cases.append(
            Case(
                f"hidden {i + 1}: logits {shape}",
                (logits, rng.integers(0, 2, shape).astype(np.float64)),
            )
        )
    return cases


def _bce_lecture_sign(logits, y):
    p = 1 / (1 + np.exp(-logits))
    loss = np.mean(-y * np.log(p) + (1 - y) * np.log(1 - p))
    return np.asarray(loss), -(y * (1 - p) + (1 - y) * p) / logits.size


def _bce_naive(logits, y):
    p = 1 / (1 + np.exp(-logits))
    loss = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    return np.asarray(loss), (p - y) / logits.size


@check
def check_bce_loss(bce_loss: Callable, cases: str = "public") -> CheckResult:
    """Check ``bce_loss(logits, y) -> (loss, dlogits)``: logits (N,) or (N, K), 0/1 targets of
    the same shape; loss = -mean[y log s + (1 - y) log(1 - s)] with s = sigmoid(logits), over
    ALL elements, finite for any finite logits (as torch.nn.BCEWithLogitsLoss)."""
    name = _display_name(bce_loss, "bce_loss")
    mistakes = [
        (
            "your loss has the lecture's sign error, -y log s + (1 - y) log(1 - s). The minus "
            "applies to BOTH terms: -[y log s + (1 - y) log(1 - s)].",
            _bce_lecture_sign,
        ),
        (
            "sigmoid(437.9) is exactly 1.0 in floating point, so log(1 - s) is log(0) = -inf. "
            "Use the stable form max(z, 0) - z * y + log(1 + exp(-|z|)) (np.log1p).",
            _bce_naive,
        ),
        (
            "your loss (and gradient) is too large by the number of elements: the loss is the "
            "MEAN over all elements, so divide by logits.size.",
            lambda logits, y: tuple(
                v * logits.size if logits.size > 1 else _not_applicable()
                for v in _twin(reference.bce_loss, logits, y)
            ),
        ),
    ]
    return _check_loss(
        name,
        bce_loss,
        cases,
        _bce_cases,
        _hidden_bce_cases,
        reference.bce_loss,
        ("logits", "y"),
        "dlogits",
        mistakes,
    )


# --- numerical gradient --------------------------------------------------------------------------


def _cube(x: np.ndarray) -> np.ndarray:
    return x**3


def _sin_times_square(x: np.ndarray) -> np.ndarray:
    return np.sin(x) * x**2


_MIXING = np.random.default_rng(2012).standard_normal((4, 3))


def _tanh_affine(x: np.ndarray) -> np.ndarray:
    """A layer-like function, (N, 4) -> (N, 3)."""
    return np.tanh(x @ _MIXING)


def _numerical_cases() -> list[Case]:
    rng = np.random.default_rng(2013)
    return [
        Case("f(x) = x**3, x (3, 4), h = 1e-5", (_cube, rng.standard_normal((3, 4)), rng.standard_normal((3, 4)))),
        Case(
            "f(x) = sin(x) * x**2, x (2, 3, 2), h = 1e-3",
            (_sin_times_square, rng.standard_normal((2, 3, 2)) * 2, rng.standard_normal((2, 3, 2))),
            {"h": 1e-3},
        ),
        Case(
            "f(x) = tanh(x @ A), x (5, 4) -> (5, 3), h = 1e-3",
            (_tanh_affine, rng.standard_normal((5, 4)), rng.standard_normal((5, 3))),
            {"h": 1e-3},
        ),
    ]  # fmt: skip


def _hidden_numerical_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for i, f in enumerate([_cube, _sin_times_square, _tanh_affine, _cube]):
        shape = (
            (int(rng.integers(1, 6)), 4)
            if f is _tanh_affine
            else tuple(int(v) for v in rng.integers(1, 5, size=int(rng.integers(1, 4))))
        )
        x = rng.standard_normal(shape)
        df = rng.standard_normal(f(x).shape)
        h = float(rng.choice([1e-3, 1e-4, 1e-5]))
        cases.append(
            Case(f"hidden {i + 1}: {f.__name__}, x {shape}, h = {h:g}", (f, x, df), {"h": h})
        )
    return cases


def _forward_differences(f, x, df, h=1e-5):
    grad = np.zeros_like(x)
    base = f(x.copy())
    for index in np.ndindex(*x.shape):
        shifted = x.copy()
        shifted[index] += h
        grad[index] = np.sum((f(shifted) - base) * df) / h
    return grad


def _without_df(f, x, df, h=1e-5):
    ones = np.ones_like(df)
    return reference.eval_numerical_gradient_array(f, x.copy(), ones, h)


def _default_step(f, x, df, h=1e-5):
    if h == 1e-5:
        raise NotApplicable
    return reference.eval_numerical_gradient_array(f, x.copy(), df, 1e-5)


_NUMERICAL_MISTAKES = [
    Mistake(
        "your gradient uses forward differences (f(x + h) - f(x)) / h, whose error is O(h). "
        "Use centred differences, (f(x + h) - f(x - h)) / (2h), whose error is O(h^2).",
        _forward_differences,
    ),
    Mistake(
        "your gradient ignores df: each difference of f's outputs must be weighted by the "
        "upstream gradient, np.sum((f(x + h e_i) - f(x - h e_i)) * df) / (2h).",
        _without_df,
    ),
    Mistake(
        "your gradient uses h = 1e-5 whatever h was given: use the h argument.",
        _default_step,
    ),
]


def _require_restored(x: np.ndarray, original: np.ndarray) -> None:
    if not np.array_equal(x, original):
        where = tuple(np.argwhere(x != original)[0])
        raise CaseFailure(
            f"x was not restored: after the call x{list(where)} is {x[where]!r}, but "
            f"{original[where]!r} was passed in. Put each element back to its old value after "
            "the two evaluations."
        )


@check
def check_eval_numerical_gradient_array(
    eval_numerical_gradient_array: Callable, cases: str = "public"
) -> CheckResult:
    """Check ``eval_numerical_gradient_array(f, x, df, h=1e-5) -> grad`` (x's shape): centred
    differences sum((f(x + h e_i) - f(x - h e_i)) * df) / (2h), perturbing x IN PLACE (so an f
    that reads x from outside sees the change) and restoring it afterwards."""
    name = _display_name(eval_numerical_gradient_array, "eval_numerical_gradient_array")
    arg_names = ("f", "x", "df")

    def run(impl: Callable) -> CheckResult:
        def evaluate(case: Case) -> float:
            (f, x, df), kwargs = case.fresh()
            original = x.copy()
            h = kwargs.get("h", 1e-5)
            expected = reference.eval_numerical_gradient_array(f, original.copy(), df, h)
            value = _call(lambda *a: impl(*a, **kwargs), (f, x, df), name, case)
            _require_restored(x, original)
            got = as_float64_array(value, name, "grad")
            error = _compare(got, expected, "grad", _NUMERICAL_MISTAKES, (f, original, df, h))
            # In place: an f that ignores its argument and reads the array x itself.
            outside = original.copy()
            value = _call(
                lambda *a: impl(*a, **kwargs), (lambda _: f(outside), outside, df), name, case
            )
            _require_restored(outside, original)
            got = as_float64_array(value, name, "grad")
            try:
                compare_arrays(got, expected, what="grad", tol=tolerance_for(got))
            except CaseFailure as failure:
                raise CaseFailure(
                    f"with an f that reads x itself (f = lambda _: layer(x)), {failure}\n"
                    "  Hint: perturb x IN PLACE (x[i] = old + h; ...; x[i] = old), not a copy: "
                    "CS231n-style code relies on it."
                ) from None
            return error

        chosen = select_cases(cases, _numerical_cases, _hidden_numerical_cases, name)
        return run_check(name, chosen, evaluate, kind=cases, arg_names=arg_names)

    return _guarded(name, [eval_numerical_gradient_array], run)
