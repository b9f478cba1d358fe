"""What the checks call, compare and diagnose with: the pieces of ``_engine`` that know
nothing of the student's functions.

- ``Case``: one call, with a name a student can read; public cases are fixed, hidden cases are
  drawn at grading time from ``hidden_rng`` (seeded by the grader's secret).
- ``Hint`` and ``Mistake``: a diagnosis with a stable identifier, and a known mistake as what
  the mistaken code would compute; ``diagnose`` and ``same`` match an answer to them.
  ``Raises``: a known mistake recognised from the exception it raises (``RAISES``, those of
  every exercise).
- ``CaseFailure``: a failed case's diagnosis body, its hint and the arrays that differ.
- Answers as plain data (``expect_tuple``, ``as_float64_array``, ``as_int``, ``as_float``),
  compared in float64 at the answer's own tolerance (``compare_arrays``, ``Tolerance``).
- The reference twins, called on NumPy (``twin``).
"""

from __future__ import annotations

import copy
import os
import re
import warnings
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from autograder.course import HIDDEN_SEED_VARIABLE
from autograder.kernel.measure import answer_facts, describe, describe_value

# --- tolerances ---------------------------------------------------------------------------------
# Answers are computed in float64; two correct float64 programs that add in a different order
# differ by ~1e-15 relative, so 1e-7 leaves room for any honest implementation while a real
# mistake is off by far more. A float32 answer carries only ~7 digits, so it is judged with
# float32 tolerances (and the message says so).
RTOL_FLOAT64 = 1e-7
ATOL_FLOAT64 = 1e-9
RTOL_FLOAT32 = 1e-4
ATOL_FLOAT32 = 1e-5

CASE_KINDS = ("public", "hidden")


@dataclass(frozen=True)
class Tolerance:
    """How close an answer must be: ``|got - expected| <= atol + rtol * |expected|``."""

    rtol: float = RTOL_FLOAT64
    atol: float = ATOL_FLOAT64
    why: str = "float64 answers must agree to about 7 significant digits"


FLOAT64 = Tolerance()
FLOAT32 = Tolerance(
    RTOL_FLOAT32,
    ATOL_FLOAT32,
    "your answer is float32, which holds only ~7 digits, so it is judged to 1e-4 relative "
    "(return float64 to be judged exactly)",
)


def tolerance_for(array: np.ndarray, base: Tolerance = FLOAT64) -> Tolerance:
    """The tolerance for an answer of this dtype: ``base`` for float64, float32's for float32."""
    if getattr(array, "dtype", None) in (np.float32, np.float16):
        return Tolerance(max(base.rtol, RTOL_FLOAT32), max(base.atol, ATOL_FLOAT32), FLOAT32.why)
    return base


# --- cases ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One call of the student's function: a name a student can read, and its arguments.

    The arguments are stored once and deep-copied for every call, so a function that changes
    its inputs in place cannot disturb the comparison (and is told that it did).
    """

    name: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    kind: str = "public"

    def fresh(self) -> tuple[tuple, dict]:
        return copy.deepcopy(self.args), copy.deepcopy(self.kwargs)

    def describe(self, arg_names: Sequence[str] = ()) -> str:
        """``x (1, 3, 5, 5), w (2, 3, 3, 3), conv_param {'stride': 2, 'pad': 1}``."""
        parts = []
        names = list(arg_names) + [f"arg{i}" for i in range(len(arg_names), len(self.args))]
        for name, value in zip(names, self.args):
            parts.append(f"{name} {describe_value(value)}")
        for name, value in self.kwargs.items():
            parts.append(f"{name}={describe_value(value)}")
        return ", ".join(parts)


def hidden_rng(check_name: str) -> np.random.Generator:
    """The random generator for a check's hidden cases.

    Seeded from ``CNN_COURSE_HIDDEN_SEED`` (set by the grader, never shown to students) mixed
    with the check's name, so every check draws different cases; from the operating system's
    entropy when the variable is absent.
    """
    seed = os.environ.get(HIDDEN_SEED_VARIABLE)
    if seed is None:
        return np.random.default_rng()
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, zlib.crc32(check_name.encode())])


def select_cases(
    kind: str,
    public: Callable[[], list[Case]],
    hidden: Callable[[np.random.Generator], list[Case]],
    name: str,
) -> list[Case]:
    """The cases of a check: ``public()`` or ``hidden(rng)``; a clear error for another kind."""
    if kind == "public":
        return public()
    if kind == "hidden":
        return [Case(c.name, c.args, c.kwargs, "hidden") for c in hidden(hidden_rng(name))]
    raise ValueError(f'cases must be "public" or "hidden", got {kind!r}.')


# --- diagnoses ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hint:
    """A diagnosis a detector proved: ``id`` is the mistake's name within its exercise
    (``flipped_kernel``), so its full identifier is ``<exercise>/<id>``. A ``near_miss`` is a
    mistake in a contract detail only (the values are right after a reshape, a type that loses
    nothing): a check whose every failing case is one passes with part of the points."""

    id: str
    text: str
    near_miss: bool = False
    generic: bool = False  # a diagnosis of any answer, which an exercise's own mistake overrides


@dataclass(frozen=True)
class Mistake:
    """A known mistake, as a function that computes what the mistaken code would return.

    ``predict`` takes the case's (fresh) arguments and returns the mistaken answer, or raises
    ``NotApplicable`` when the mistake would not change the answer for this case.
    """

    id: str
    hint: str
    predict: Callable[..., Any]
    near_miss: bool = False

    @property
    def as_hint(self) -> Hint:
        return Hint(self.id, self.hint, self.near_miss)


class NotApplicable(Exception):
    """Raised by a ``Mistake.predict`` when the mistake cannot be told apart on this case."""


def not_applicable() -> Any:
    """``raise NotApplicable`` as an expression, for a prediction written as a lambda."""
    raise NotApplicable


@dataclass(frozen=True)
class Raises:
    """A known mistake recognised from the exception it raises, not from an answer: the error
    report's type (``ValueError``) and a regular expression its message matches
    (``autograder.kernel.measure.error_report`` gives both, wherever the code ran).

    An ``Exercise`` lists its own (``raises``); ``RAISES`` are those of every exercise.
    """

    id: str
    hint: str
    type: str
    message: str

    def matches(self, error: dict) -> bool:
        return error.get("type") == self.type and bool(
            re.search(self.message, str(error.get("message", "")))
        )

    @property
    def as_hint(self) -> Hint:
        return Hint(self.id, self.hint)


#: Sizes and indices computed with ``/`` (a float in Python 3, even when the division is exact)
#: and then given to range(), np.zeros() or an index: Python names the float in its message.
FLOAT_DIVISION = Raises(
    "float_division",
    "a size or an index is a float: in Python 3, / always gives a float (6 / 2 is 3.0, not 3), "
    "and range(), np.zeros() and indexing refuse floats. Compute sizes and indices with integer "
    "division //, e.g. H_out = 1 + (H + 2 * pad - HH) // stride.",
    "TypeError",
    r"'(float|numpy\.float\d*)' object cannot be interpreted as an integer",
)
RAISES = (FLOAT_DIVISION,)


@dataclass(frozen=True)
class Difference:
    """Where an array answer differs: its name, the expected array and the answer (float64,
    one shape). A failed check carries the first case's as ``AssertionError.difference``, and
    the notebook and the feedback page show it as a heat map (``show_difference``)."""

    what: str
    expected: np.ndarray
    got: np.ndarray


class CaseFailure(Exception):
    """A case failed. The message is the diagnosis body (everything after the first line);
    ``hint`` the proved mistake, when one explains it; ``difference`` the arrays that differ,
    when the answer is an array of the right shape with wrong values."""

    def __init__(
        self, message: str, hint: Hint | None = None, difference: Difference | None = None
    ) -> None:
        super().__init__(message)
        self.hint = hint
        self.difference = difference

    def noted(self, note: str) -> CaseFailure:
        """The same failure with a line of explanation added to its message."""
        return CaseFailure(f"{self}\n  {note}", self.hint, self.difference)

    def with_hint(self, hint: Hint | None) -> CaseFailure:
        """The same failure explained by ``hint`` (unchanged when ``hint`` is None or a hint is
        already there, unless that one is generic: an exercise's own mistake says more)."""
        if hint is None or (self.hint is not None and not self.hint.generic):
            return self
        return CaseFailure(str(self), hint, self.difference)


def same(got: Any, predicted: Any) -> bool:
    """A mistake's prediction equals the answer: arrays of the same shape whose non-finite
    values sit at the same places and are the same, and whose finite values agree to float32
    precision; tuples and lists item by item; anything else by ``==``."""
    if isinstance(got, (tuple, list)) and isinstance(predicted, (tuple, list)):
        return len(got) == len(predicted) and all(same(g, p) for g, p in zip(got, predicted))
    if isinstance(got, np.ndarray) or isinstance(predicted, np.ndarray):
        try:
            got = np.asarray(got, dtype=np.float64)
            predicted = np.asarray(predicted, dtype=np.float64)
        except (TypeError, ValueError):
            return False
        if got.shape != predicted.shape:
            return False
        finite = np.isfinite(predicted)
        if not np.array_equal(finite, np.isfinite(got)):
            return False
        if not np.array_equal(got[~finite], predicted[~finite], equal_nan=True):
            return False  # +inf, -inf and nan are different answers
        return matches(got[finite], predicted[finite], FLOAT32)
    try:
        return bool(got == predicted)
    except Exception:
        return False


def diagnose(
    mistakes: Sequence[Mistake],
    args: tuple,
    got: Any,
    convert: Callable[[Any], Any] | None = None,
    kwargs: dict | None = None,
) -> Hint | None:
    """The hint of the first mistake whose prediction on ``args`` (and ``kwargs``) equals
    ``got``; ``None`` when none does. ``convert`` turns a prediction into the form of ``got``;
    a prediction that raises (``NotApplicable`` or anything else) proves nothing and is
    skipped."""
    for mistake in mistakes:
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                predicted = mistake.predict(*copy.deepcopy(args), **copy.deepcopy(kwargs or {}))
            if convert is not None:
                predicted = convert(predicted)
        except Exception:
            continue
        if same(got, predicted):
            return mistake.as_hint
    return None


# --- what the student's code returned, as plain data -------------------------------------------

describe_answer = describe


def expect_tuple(value: Any, func_name: str, names: Sequence[str]) -> tuple:
    """The answer must be a tuple (or list) of ``len(names)`` items, e.g. ``(out, cache)``."""
    wanted = "(" + ", ".join(names) + ")"
    if not isinstance(value, (tuple, list)) or len(value) != len(names):
        raise CaseFailure(
            f"{func_name} must return a tuple {wanted}; it returned {describe_answer(value)}."
        )
    return tuple(value)


def as_float64_array(value: Any, func_name: str, what: str) -> np.ndarray:
    """Accept only a real ``numpy.ndarray`` of numbers; return a plain float64 copy.

    Anything else (a list, a torch tensor, an ndarray subclass, an object dtype, complex
    numbers) is refused with a diagnosis, so what is compared is always plain numbers.
    """
    if type(value) is not np.ndarray or value.dtype.kind not in "biuf":
        raise not_a_real_array(answer_facts(value), func_name, what)
    return np.array(value, dtype=np.float64, copy=True)


def not_a_real_array(facts: dict, func_name: str, what: str) -> CaseFailure:
    """The diagnosis of an answer that is not a real ndarray, from its ``facts``
    (``autograder.kernel.measure.answer_facts``: its description, its type's name, and an
    ndarray's dtype), as a report of a measurement carries them from where the code ran."""
    if "dtype" in facts and "shape" not in facts:
        return CaseFailure(f"{what} must hold real numbers; its dtype is {facts['dtype']}.")
    return CaseFailure(
        f"{func_name} must return {what} as a numpy.ndarray; it returned "
        f"{facts['answer']}.{tensor_advice(facts['type'])}"
    )


def tensor_advice(kind: str) -> str:
    """What an answer whose type is named ``kind`` (``torch.Tensor``) is told when it is a
    tensor where an ndarray was expected (nothing for any other type)."""
    if kind.startswith("torch."):
        return " Convert with .detach().cpu().numpy(), or better, use NumPy throughout."
    return ""


def as_int(value: Any, func_name: str, what: str = "the result") -> int:
    """Accept a Python ``int`` (or NumPy integer); refuse floats, bools and anything else."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        extra = ""
        if isinstance(value, (float, np.floating)):
            extra = (
                f" Sizes and counts are whole numbers: return an int (e.g. int({value!r}) once "
                "you know the division is exact)."
            )
        raise CaseFailure(
            f"{func_name} must return {what} as an int; it returned {describe_answer(value)}.{extra}"
        )
    return int(value)


def as_float(value: Any, func_name: str, what: str) -> float:
    """Accept a real number (Python or NumPy scalar, or a 0-d ndarray); return a float."""
    if type(value) is np.ndarray and value.ndim == 0:
        value = value[()]
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise CaseFailure(
            f"{func_name} must return {what} as a number; it returned {describe_answer(value)}."
        )
    return float(value)


# --- comparing ------------------------------------------------------------------------------------


def relative_error(got: np.ndarray, expected: np.ndarray) -> float:
    """CS231n's relative error, ``max |g - e| / max(1e-8, |g| + |e|)``, 0 for empty arrays."""
    if got.size == 0:
        return 0.0
    return float(np.max(np.abs(got - expected) / np.maximum(1e-8, np.abs(got) + np.abs(expected))))


def _index(index: tuple) -> str:
    return "[" + ", ".join(str(int(i)) for i in index) + "]"


def matches(got: np.ndarray, expected: np.ndarray, tol: Tolerance = FLOAT64) -> bool:
    """Same shape, all finite where expected is, and within tolerance everywhere."""
    if got.shape != expected.shape:
        return False
    return bool(np.allclose(got, expected, rtol=tol.rtol, atol=tol.atol, equal_nan=False))


def compare_arrays(
    got: np.ndarray,
    expected: np.ndarray,
    *,
    what: str,
    tol: Tolerance = FLOAT64,
    swapped_layout_hint: bool = True,
) -> float:
    """Raise ``CaseFailure`` describing how ``got`` differs from ``expected``; else the error.

    Both are float64 ndarrays already. The message says what differs: the shape, non-finite
    values, or the largest error with its index, the expected and the received value.
    """
    if got.shape != expected.shape:
        message = f"{what} has shape {got.shape}, expected {expected.shape}."
        # NHWC first: with one channel it is right after a reshape too, yet wrong for more.
        if (
            swapped_layout_hint
            and got.ndim == 4
            and expected.ndim == 4
            and got.shape
            == (expected.shape[0], expected.shape[2], expected.shape[3], expected.shape[1])
        ):
            raise CaseFailure(message, CHANNELS_LAST)
        if got.size == expected.size and matches(got.reshape(expected.shape), expected, tol):
            raise CaseFailure(message, shape_only(what, got.shape, expected.shape))
        raise CaseFailure(message)
    difference = Difference(what, expected, got) if got.ndim else None
    bad = ~np.isfinite(got) & np.isfinite(expected)
    if bad.any():
        where = tuple(np.argwhere(bad)[0])
        raise CaseFailure(
            f"{what} holds {int(bad.sum())} non-finite value(s) (nan or inf), the first at "
            f"{what}{_index(where)} where {expected[where]:.6g} was expected.",
            difference=difference,
        )
    if not matches(got, expected, tol):
        diff = np.abs(got - expected)
        where = np.unravel_index(int(np.argmax(diff)), diff.shape)
        rel = diff[where] / max(1e-12, abs(expected[where]))
        raise CaseFailure(
            f"{what} has the right shape {got.shape} but wrong values;\n"
            f"  largest error {diff[where]:.3g} at {what}{_index(where)}: expected "
            f"{expected[where]:.6g}, got {got[where]:.6g} (relative error {rel:.1e}; "
            f"allowed {tol.rtol:.0e} relative: {tol.why}).",
            difference=difference,
        )
    return relative_error(got, expected)


def shape_only(what: str, got: tuple, expected: tuple) -> Hint:
    """The near miss of an answer whose values are right in another shape of the same size."""
    return Hint(
        "shape_only",
        f"the values of {what} are right, only its shape is not: return shape {expected}, not "
        f"{got} (.reshape({', '.join(str(n) for n in expected)}), or keepdims where you "
        "reduce). This earns part of the points; the shape earns the rest.",
        near_miss=True,
        generic=True,
    )


#: The hint of an answer in channels-last layout (any exercise whose answer is NCHW).
CHANNELS_LAST = Hint(
    "channels_last",
    "that is NHWC (channels last, as in Keras/TensorFlow); this course uses NCHW "
    "(N, C, H, W), as PyTorch does.",
    generic=True,
)


def channels_last(expected_of: Callable[..., np.ndarray]) -> Mistake:
    """The mistake of an answer in NHWC whose shape happens to coincide with NCHW's."""

    def predict(*args: Any) -> np.ndarray:
        out = expected_of(*args)
        if out.shape != (out.shape[0], out.shape[2], out.shape[3], out.shape[1]):
            raise NotApplicable
        return out.transpose(0, 2, 3, 1)

    return Mistake(CHANNELS_LAST.id, CHANNELS_LAST.text, predict)


# --- the reference twins, called on NumPy -----------------------------------------------------------


def to_tensor(value: Any) -> Any:
    """A fresh tensor from an ndarray (other values as they are)."""
    if isinstance(value, np.ndarray):
        import torch

        return torch.from_numpy(np.array(value, copy=True))
    return value


def to_numpy(value: Any) -> Any:
    """Tensors back to float64 ndarrays, inside tuples and lists too (others as they are)."""
    import torch

    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy().astype(np.float64)
    if isinstance(value, (tuple, list)):
        return type(value)(to_numpy(v) for v in value)
    return value


def twin(function: Callable, *args: Any) -> Any:
    """Call a reference twin (PyTorch) on NumPy arguments; float64 ndarrays come back."""
    return to_numpy(function(*(to_tensor(a) for a in args)))
