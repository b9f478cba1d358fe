"""Checks for notebook 02's losses (softmax cross-entropy, multiclass hinge, binary
cross-entropy) and for the numerical gradient that checks every backward pass.

Each check is an ``Exercise`` (see ``layers``, whose shared helpers these checks use): its
cases, the PyTorch twin in ``course_utils.reference`` (compared in float64) and the known
mistakes. A loss returns ``(loss, grad)`` (``LossAndGradient``, which notebook 07's losses
share) and must stay finite for any finite input: the public cases include the lecture's
stability logits (SEED_CONCEPTS.md section 2).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

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
    Tolerance,
    check,
    compare_arrays,
    matches,
    not_applicable,
    same,
    tolerance_for,
    twin,
)
from autograder.checks.layers import _a
from course_utils import reference

__all__ = [
    "check_softmax_loss",
    "check_svm_loss",
    "check_bce_loss",
    "check_eval_numerical_gradient_array",
]

# The stability logits of the deck; x2 pushes the largest (875.8) past float64's exp limit 709.
_STABILITY_LOGITS = _a([-100.4, 437.9, 60.75])
_OVERFLOW_SCALE = 2.0
_BCE_STABILITY_LOGIT = 437.9


# --- judging a loss ------------------------------------------------------------------------------


def _right_once_shifted(attempt: Attempt, case: Case, loss, grad) -> bool:
    """The student's loss is right when each row's maximum is subtracted BEFORE the call
    (the softmax does not change): their code overflows only because it does not subtract it."""
    scores, y = case.fresh()[0]
    shifted = Case(case.name, (scores - scores.max(axis=1, keepdims=True), y))
    try:
        got_loss, got_grad = attempt.tuple(attempt.call_case(shifted), ("", ""))
        got_loss = np.asarray(attempt.number(got_loss, "the loss"))
        got_grad = attempt.array(got_grad, "the gradient")
    except CaseFailure:
        return False
    return matches(got_loss, np.asarray(loss)) and matches(got_grad, grad)


@dataclass(frozen=True)
class LossAndGradient:
    """Judge a loss that returns ``(loss, grad)``: inputs left unchanged, the loss (a number)
    and then the gradient (an array of the input's shape) compared with the twin's, never with
    the channels-last hint.

    Args:
        twin: the case's arguments (NumPy) -> the expected ``(loss, grad)``.
        grad: the gradient's name, ``"dscores"``, ``"dlogits"`` or ``"dpred"``.
        mistakes: each predicting ``(loss, grad)``; it names the mistake when the student's
            loss, or their gradient, equals its prediction.
        overflow: the diagnosis of a loss that is right once each row's maximum is subtracted
            from the scores before the call (it overflows only for want of that shift).
        float32_as_such: judge each value at the tolerance of its own dtype (a float32 answer
            to float32 precision); off, every answer is judged to float64 precision.
    """

    twin: Callable[..., Any]
    grad: str
    mistakes: Sequence[Mistake] = ()
    overflow: Hint | None = None
    float32_as_such: bool = True

    def part(self, index: int) -> list[Mistake]:
        """The mistakes predicting the loss (0) or the gradient (1) alone."""
        return [
            Mistake(m.id, m.hint, lambda *a, p=m.predict: np.asarray(p(*a)[index]))
            for m in self.mistakes
        ]

    def tolerance(self, value: Any) -> Tolerance | None:
        """The tolerance of a returned value: its own dtype's, or (``float32_as_such`` off)
        ``None``, float64's for every answer."""
        return tolerance_for(value) if self.float32_as_such else None

    def __call__(self, attempt: Attempt, case: Case) -> float:
        attempt.unchanged(case)
        loss_value, grad_value = attempt.tuple(attempt.call_case(case), ("loss", self.grad))
        loss = np.asarray(attempt.number(loss_value, "the loss"))
        grad = attempt.array(grad_value, self.grad)
        args = case.fresh()[0]
        expected_loss, expected_grad = self.twin(*args)
        try:
            error = attempt.compare(
                loss,
                np.asarray(expected_loss),
                "loss",
                self.part(0),
                args,
                self.tolerance(loss_value),
                layout_hint=False,
            )
            error_grad = attempt.compare(
                grad,
                expected_grad,
                self.grad,
                self.part(1),
                args,
                self.tolerance(grad_value),
                layout_hint=False,
            )
            return max(error, error_grad)
        except CaseFailure as failure:
            # Right once shifted proves the overflow, and disproves any mistake whose
            # prediction only happened to be as infinite as this answer.
            if self.overflow is not None and _right_once_shifted(
                attempt, case, expected_loss, expected_grad
            ):
                raise CaseFailure(str(failure), self.overflow) from None
            raise


def _label_cases(rng: np.random.Generator, shapes: Sequence[tuple[int, int]], prefix: str):
    cases = []
    for i, (n, c) in enumerate(shapes):
        scores = rng.standard_normal((n, c)) * 3
        y = rng.integers(0, c, size=n)
        cases.append(Case(f"{prefix}{i + 1}: scores ({n}, {c})", (scores, y)))
    return cases


def _hidden_loss_cases(rng: np.random.Generator) -> list[Case]:
    shapes = [(1, int(rng.integers(2, 6)))] + [
        (int(rng.integers(2, 9)), int(rng.integers(2, 11))) for _ in range(4)
    ]
    cases = _label_cases(rng, shapes, "hidden ")
    big = rng.standard_normal((3, 4)) * 1000
    cases.append(Case("hidden: scores (3, 4) of size ~1000", (big, rng.integers(0, 4, size=3))))
    return cases


def _summed(loss_twin: Callable) -> Mistake:
    def predict(*args):
        if args[0].shape[0] == 1:
            raise NotApplicable
        loss, grad = twin(loss_twin, *args)
        return np.asarray(loss) * args[0].shape[0], grad * args[0].shape[0]

    return Mistake(
        "summed",
        "your loss (and gradient) is N times too large: the loss is the MEAN over the batch, so "
        "divide the sum by N, and the gradient by N too.",
        predict,
    )


# --- softmax cross-entropy -----------------------------------------------------------------------


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


def _log_of_probabilities(scores: np.ndarray, y: np.ndarray):
    shifted = scores - scores.max(axis=1, keepdims=True)
    probs = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    n = scores.shape[0]
    loss = -np.log(probs[np.arange(n), y]).mean()
    probs[np.arange(n), y] -= 1
    return np.asarray(loss), probs / n


def _unshifted_probabilities(scores: np.ndarray, y: np.ndarray):
    """The softmax loss from probabilities np.exp(scores) / sum, without the max shift: where
    a score passes 709, np.exp gives inf, inf / inf is nan, and so is the loss."""
    probs = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
    n = scores.shape[0]
    loss = -np.log(probs[np.arange(n), y]).mean()
    if np.isfinite(loss) or same(np.asarray(loss), _log_of_probabilities(scores, y)[0]):
        raise NotApplicable  # the shift would change nothing here: nothing tells this mistake
    probs[np.arange(n), y] -= 1
    return np.asarray(loss), probs / n


#: The epsilons students add to a probability before its log (log(p + eps), np.clip(p, eps, 1)).
_EPSILONS = (1e-20, 1e-15, 1e-12, 1e-10, 1e-8, 1e-7)


def _log_plus_epsilon(eps: float) -> Mistake:
    def predict(scores: np.ndarray, y: np.ndarray):
        loss, dscores = _log_of_probabilities(scores, y)  # the gradient is unchanged
        shifted = scores - scores.max(axis=1, keepdims=True)
        probs = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
        n = scores.shape[0]
        return np.asarray(-np.log(probs[np.arange(n), y] + eps).mean()), dscores

    cap = -np.log(eps)
    return Mistake(
        "log_plus_epsilon",
        f"your loss is capped at {cap:.2f} per example: log(p + {eps:g}) (or a clip at "
        f"{eps:g}) is never below log({eps:g}) = {-cap:.2f}, while the true loss of an example "
        f"whose probability is far below {eps:g} is larger. Do not add anything to a "
        "probability: take log-probabilities directly, log_probs = shifted - "
        "np.log(np.exp(shifted).sum(axis=1, keepdims=True)), which is finite for any finite "
        "scores.",
        predict,
    )


SOFTMAX_LOSS = Exercise(
    "softmax_loss",
    args=("scores", "y"),
    public=_softmax_cases,
    hidden=_hidden_loss_cases,
    judge=LossAndGradient(
        partial(twin, reference.softmax_loss),
        "dscores",
        (
            Mistake(
                "log_of_underflowed_probability",
                "a probability underflowed to 0 and np.log(0) is -inf: the loss must be finite "
                "for any finite scores. Take the log of the softmax directly, log_probs = "
                "shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True)), and loss = -mean "
                "of log_probs[range(N), y].",
                _log_of_probabilities,
            ),
            _summed(reference.softmax_loss),
            Mistake(
                "no_max_subtraction",
                "np.exp overflowed: a score above 709 gives exp = inf in float64, and "
                "inf / inf is nan. Subtract each row's maximum before exponentiating, shifted = "
                "scores - scores.max(axis=1, keepdims=True): the softmax is unchanged and the "
                "largest exponent becomes exp(0) = 1.",
                _unshifted_probabilities,
            ),
            *(_log_plus_epsilon(eps) for eps in _EPSILONS),
        ),
        overflow=Hint(
            "no_max_subtraction",
            "np.exp overflowed: subtract each row's maximum before exponentiating, "
            "shifted = scores - scores.max(axis=1, keepdims=True). The softmax is unchanged "
            "and the largest exponent becomes exp(0) = 1 (your function is right on scores "
            "shifted that way).",
        ),
        float32_as_such=False,
    ),
)


@check
def check_softmax_loss(softmax_loss: Callable, cases: str = "public") -> CheckResult:
    """Check ``softmax_loss(scores, y) -> (loss, dscores)``: scores (N, C), integer labels (N,);
    loss = mean_n -log softmax(scores[n])[y[n]], dscores (N, C). It must be finite for any
    finite scores: the lecture logits scaled past 709 overflow a softmax that does not subtract
    each row's maximum first."""
    return SOFTMAX_LOSS.run(cases, softmax_loss)


# --- multiclass hinge (SVM) ----------------------------------------------------------------------


def _svm_cases() -> list[Case]:
    rng = np.random.default_rng(2010)
    small = _a([[3.2, 5.1, -1.7], [1.3, 4.9, 2.0], [2.2, 2.5, -3.1]])  # the classic CS231n scores
    return [
        Case("scores (3, 3), labels [0, 1, 2]", (small, np.array([0, 1, 2]))),
        *_label_cases(rng, [(5, 4), (4, 7)], "random "),
    ]


def _svm_with_correct_class(scores, y):
    loss, grad = twin(reference.svm_loss, scores, y)
    return np.asarray(loss) + 1.0, grad


SVM_LOSS = Exercise(
    "svm_loss",
    args=("scores", "y"),
    public=_svm_cases,
    hidden=_hidden_loss_cases,
    judge=LossAndGradient(
        partial(twin, reference.svm_loss),
        "dscores",
        (
            Mistake(
                "counts_correct_class",
                "your loss is 1 too large: the correct class was counted. Its own margin "
                "s_y - s_y + 1 = 1 is not part of the hinge: sum over j != y only (set that "
                "margin to 0).",
                _svm_with_correct_class,
            ),
            _summed(reference.svm_loss),
        ),
        float32_as_such=False,
    ),
)


@check
def check_svm_loss(svm_loss: Callable, cases: str = "public") -> CheckResult:
    """Check ``svm_loss(scores, y) -> (loss, dscores)``: the multiclass hinge with margin 1,
    loss = mean_n sum_{j != y_n} max(0, scores[n, j] - scores[n, y_n] + 1), dscores (N, C)."""
    return SVM_LOSS.run(cases, svm_loss)


# --- binary cross-entropy ------------------------------------------------------------------------


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


def _bce_log_of_sigmoid(logits, y):
    p = 1 / (1 + np.exp(-logits))
    loss = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    return np.asarray(loss), (p - y) / logits.size


BCE_LOSS = Exercise(
    "bce_loss",
    args=("logits", "y"),
    public=_bce_cases,
    hidden=_hidden_bce_cases,
    judge=LossAndGradient(
        partial(twin, reference.bce_loss),
        "dlogits",
        (
            Mistake(
                "lecture_sign",
                "your loss has the lecture's sign error, -y log s + (1 - y) log(1 - s). The "
                "minus applies to BOTH terms: -[y log s + (1 - y) log(1 - s)].",
                _bce_lecture_sign,
            ),
            Mistake(
                "log_of_sigmoid",
                "sigmoid(437.9) is exactly 1.0 in floating point, so log(1 - s) is log(0) = "
                "-inf. Use the stable form max(z, 0) - z * y + log(1 + exp(-|z|)) (np.log1p).",
                _bce_log_of_sigmoid,
            ),
            Mistake(
                "summed",
                "your loss (and gradient) is too large by the number of elements: the loss is "
                "the MEAN over all elements, so divide by logits.size.",
                lambda logits, y: tuple(
                    v * logits.size if logits.size > 1 else not_applicable()
                    for v in twin(reference.bce_loss, logits, y)
                ),
            ),
        ),
        float32_as_such=False,
    ),
)


@check
def check_bce_loss(bce_loss: Callable, cases: str = "public") -> CheckResult:
    """Check ``bce_loss(logits, y) -> (loss, dlogits)``: logits (N,) or (N, K), 0/1 targets of
    the same shape; loss = -mean[y log s + (1 - y) log(1 - s)] with s = sigmoid(logits), over
    ALL elements, finite for any finite logits (as torch.nn.BCEWithLogitsLoss)."""
    return BCE_LOSS.run(cases, bce_loss)


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


_NUMERICAL_MISTAKES = (
    Mistake(
        "forward_differences",
        "your gradient uses forward differences (f(x + h) - f(x)) / h, whose error is O(h). "
        "Use centred differences, (f(x + h) - f(x - h)) / (2h), whose error is O(h^2).",
        _forward_differences,
    ),
    Mistake(
        "ignores_df",
        "your gradient ignores df: each difference of f's outputs must be weighted by the "
        "upstream gradient, np.sum((f(x + h e_i) - f(x - h e_i)) * df) / (2h).",
        _without_df,
    ),
    Mistake(
        "ignores_h",
        "your gradient uses h = 1e-5 whatever h was given: use the h argument.",
        _default_step,
    ),
)
_ON_A_COPY = Hint(
    "on_a_copy",
    "perturb x IN PLACE (x[i] = old + h; ...; x[i] = old), not a copy: CS231n-style code "
    "relies on it.",
)


def _require_restored(x: np.ndarray, original: np.ndarray) -> None:
    if not np.array_equal(x, original):
        where = tuple(np.argwhere(x != original)[0])
        raise CaseFailure(
            f"x was not restored: after the call x{list(where)} is {x[where]!r}, but "
            f"{original[where]!r} was passed in. Put each element back to its old value after "
            "the two evaluations."
        )


def _judge_numerical_gradient(attempt: Attempt, case: Case) -> float:
    """The centred-difference gradient, with x restored after the call; and the same gradient
    for an f that ignores its argument and reads the array x itself (x perturbed in place)."""
    (f, x, df), kwargs = case.fresh()
    original = x.copy()
    h = kwargs.get("h", 1e-5)
    expected = reference.eval_numerical_gradient_array(f, original.copy(), df, h)
    value = attempt.call((f, x, df), kwargs)
    _require_restored(x, original)
    got = attempt.array(value, "grad")
    error = attempt.compare(got, expected, "grad", _NUMERICAL_MISTAKES, (f, original, df, h))
    outside = original.copy()
    value = attempt.call((lambda _: f(outside), outside, df), kwargs)
    _require_restored(outside, original)
    got = attempt.array(value, "grad")
    try:
        compare_arrays(got, expected, what="grad", tol=tolerance_for(got))
    except CaseFailure as failure:
        raise CaseFailure(
            f"with an f that reads x itself (f = lambda _: layer(x)), {failure}", _ON_A_COPY
        ) from None
    return error


EVAL_NUMERICAL_GRADIENT_ARRAY = Exercise(
    "eval_numerical_gradient_array",
    args=("f", "x", "df"),
    public=_numerical_cases,
    hidden=_hidden_numerical_cases,
    judge=_judge_numerical_gradient,
)


@check
def check_eval_numerical_gradient_array(
    eval_numerical_gradient_array: Callable, cases: str = "public"
) -> CheckResult:
    """Check ``eval_numerical_gradient_array(f, x, df, h=1e-5) -> grad`` (x's shape): centred
    differences sum((f(x + h e_i) - f(x - h e_i)) * df) / (2h), perturbing x IN PLACE (so an f
    that reads x from outside sees the change) and restoring it afterwards."""
    return EVAL_NUMERICAL_GRADIENT_ARRAY.run(cases, eval_numerical_gradient_array)
