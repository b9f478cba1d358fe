"""The machinery every check shares: call the student's function safely, turn its answer into
plain data, compare with the reference, and write a diagnosis a student can act on.

A check is a plain function ``check_NAME(impl, cases="public")``. It keeps no state: it calls
``impl`` with fresh NumPy arrays and plain Python values, converts what comes back (accepting only
a real ``numpy.ndarray`` or the contracted Python type), compares in float64 and raises
``AssertionError`` whose message is the diagnosis:

    conv_forward_naive: case "lecture vector B (stride 2, pad 1)" failed.
      inputs: x (1, 3, 5, 5), w (2, 3, 3, 3), b (2,), conv_param {'stride': 2, 'pad': 1}
      out has the right shape (1, 2, 3, 3) but wrong values;
      largest error 11.0 at out[0, 1, 0, 0]: expected 9.0, got -2.0 (relative error 1.0e+00).
      Hint: your output equals true convolution (filters flipped). ...

A hint is added only when a detector proved it: the answer matched what a known mistake
(a ``Mistake``) computes on the same inputs, and did not match the right answer.

Public cases are fixed. Hidden cases are drawn at grading time from ``hidden_rng``, whose seed
comes from the environment variable ``CNN_COURSE_HIDDEN_SEED`` that the grader sets (or from the
operating system's entropy when it is absent), so a student cannot know them in advance.
"""

from __future__ import annotations

import contextlib
import copy
import io
import os
import warnings
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from autograder.course import HIDDEN_SEED_VARIABLE
from autograder.kernel.measure import (
    describe,
    error_report,
)
from autograder.kernel.measure import (
    describe_value as _describe_value,
)
from autograder.kernel.measure import (
    type_name as _type_name,
)

# Tolerances, defined once. Answers are computed in float64; two correct float64 programs that
# add in a different order differ by ~1e-15 relative, so 1e-7 leaves room for any honest
# implementation while a real mistake is off by far more. A float32 answer carries only ~7
# digits, so it is judged with float32 tolerances (and the message says so).
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
    if array.dtype in (np.float32, np.float16):
        return Tolerance(max(base.rtol, RTOL_FLOAT32), max(base.atol, ATOL_FLOAT32), FLOAT32.why)
    return base


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
            parts.append(f"{name} {_describe_value(value)}")
        for name, value in self.kwargs.items():
            parts.append(f"{name}={_describe_value(value)}")
        return ", ".join(parts)


@dataclass(frozen=True)
class Mistake:
    """A known mistake, as a function that computes what the mistaken code would return.

    ``predict`` takes the case's (fresh) arguments and returns the mistaken answer, or raises
    ``NotApplicable`` when the mistake would not change the answer for this case.
    """

    hint: str
    predict: Callable[..., Any]


class NotApplicable(Exception):
    """Raised by a ``Mistake.predict`` when the mistake cannot be told apart on this case."""


class CaseFailure(Exception):
    """A case failed; the message is the diagnosis body (everything after the first line)."""


@dataclass
class CheckResult:
    """What a check found: how many cases passed, and the largest relative error seen."""

    name: str
    kind: str
    passed: int
    total: int
    largest_error: float | None = 0.0
    notes: list[str] = field(default_factory=list)

    def line(self) -> str:
        error = (
            ""
            if self.largest_error is None
            else f" (largest relative error {self.largest_error:.0e})"
        )
        return f"{self.name}: {self.passed}/{self.total} {self.kind} cases pass{error}"

    def __repr__(self) -> str:
        return self.line()

    def _ipython_display_(self) -> None:
        # The check already printed its line; a test cell ending in a check shows it once.
        pass


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


# --- calling the student's code ------------------------------------------------------------

# What the student's code said on the side (warnings, stderr) during the running check; cleared
# and reported by run_check, so the student sees it as a note that costs nothing.
_SIDE_NOTES: list[str] = []


@dataclass
class Call:
    """The outcome of one call: the value returned, and what the call said on the side."""

    value: Any
    warnings: list[str]
    stderr: str


def raised(error: dict, func_name: str, inputs: str = "these inputs") -> CaseFailure:
    """The diagnosis of an exception of the student's code, given as
    ``autograder.measure.error_report`` gives it (wherever the code ran):
    ``NotImplementedError`` says the function is not written yet."""
    if error["type"] == "NotImplementedError":
        return CaseFailure(
            f"{func_name} raised NotImplementedError: it is not written yet. "
            "Replace the `raise NotImplementedError()` line with your code."
        )
    return CaseFailure(
        f"{func_name} raised {error['type']}: {error['message']}\n"
        f"  Run the function on {inputs} yourself to see where it fails."
    )


def call_student(func: Callable, case: Case, func_name: str) -> Call:
    """Call ``func`` on fresh copies of the case's arguments.

    Warnings and writes to ``sys.stderr`` are captured (they never cost points); an exception
    becomes a ``CaseFailure`` that names it, and ``NotImplementedError`` says the function is
    not written yet.
    """
    args, kwargs = case.fresh()
    stderr = io.StringIO()
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stderr(stderr):
        warnings.simplefilter("always")
        try:
            value = func(*args, **kwargs)
        except Exception as exc:
            raise raised(error_report(exc, "call"), func_name) from exc
    messages = [f"{w.category.__name__}: {w.message}" for w in caught]
    if stderr.getvalue().strip():
        messages.append("it wrote to stderr: " + stderr.getvalue().strip().splitlines()[0][:120])
    for message in messages:
        if message not in _SIDE_NOTES:
            _SIDE_NOTES.append(message)
    return Call(value, messages, stderr.getvalue())


def check_inputs_unchanged(
    case: Case, func: Callable, func_name: str, arg_names: Sequence[str]
) -> None:
    """Fail when ``func`` changed one of its array inputs in place."""
    args, kwargs = case.fresh()
    before = copy.deepcopy(args)
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        with contextlib.suppress(Exception):
            func(*args, **kwargs)
    for index, (old, new) in enumerate(zip(before, args)):
        if isinstance(old, np.ndarray) and not np.array_equal(old, new, equal_nan=True):
            name = arg_names[index] if index < len(arg_names) else f"argument {index}"
            raise CaseFailure(
                f"{func_name} changed its input {name} in place. Work on a copy "
                f"(e.g. {name}.copy() or np.pad, which returns a new array)."
            )


# --- turning answers into plain data -------------------------------------------------------


# What an answer is, in words: the same text in the checks and in autograder.measure (which
# describes answers where the student's code runs).
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

    Anything else (a list, a torch tensor, an ndarray subclass, an object dtype, complex numbers)
    is refused with a diagnosis, so what is compared is always plain numbers.
    """
    if type(value) is not np.ndarray:
        extra = ""
        if _type_name(value).startswith("torch."):
            extra = " Convert with .detach().cpu().numpy(), or better, use NumPy throughout."
        raise CaseFailure(
            f"{func_name} must return {what} as a numpy.ndarray; it returned {describe_answer(value)}.{extra}"
        )
    if value.dtype.kind not in "biuf":
        raise CaseFailure(f"{what} must hold real numbers; its dtype is {value.dtype}.")
    return np.array(value, dtype=np.float64, copy=True)


def as_int(value: Any, func_name: str, what: str = "the result") -> int:
    """Accept a Python ``int`` (or NumPy integer); refuse floats, bools and anything else."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        extra = ""
        if isinstance(value, (float, np.floating)):
            extra = (
                f" Sizes and counts are whole numbers: return an int (e.g. int({value!r}) once you "
                "know the division is exact)."
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


# --- comparing ------------------------------------------------------------------------------


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
        if (
            swapped_layout_hint
            and got.ndim == 4
            and expected.ndim == 4
            and got.shape
            == (expected.shape[0], expected.shape[2], expected.shape[3], expected.shape[1])
        ):
            message += (
                "\n  Hint: that is NHWC (channels last, as in Keras/TensorFlow); this course uses "
                "NCHW (N, C, H, W), as PyTorch does."
            )
        raise CaseFailure(message)
    bad = ~np.isfinite(got) & np.isfinite(expected)
    if bad.any():
        where = tuple(np.argwhere(bad)[0])
        raise CaseFailure(
            f"{what} holds {int(bad.sum())} non-finite value(s) (nan or inf), the first at "
            f"{what}{_index(where)} where {expected[where]!r} was expected."
        )
    if not matches(got, expected, tol):
        diff = np.abs(got - expected)
        where = np.unravel_index(int(np.argmax(diff)), diff.shape)
        rel = diff[where] / max(1e-12, abs(expected[where]))
        raise CaseFailure(
            f"{what} has the right shape {got.shape} but wrong values;\n"
            f"  largest error {diff[where]:.3g} at {what}{_index(where)}: expected "
            f"{expected[where]:.6g}, got {got[where]:.6g} (relative error {rel:.1e}; "
            f"allowed {tol.rtol:.0e} relative: {tol.why})."
        )
    return relative_error(got, expected)


def diagnose(
    mistakes: Iterable[Mistake], case: Case, got: Any, convert: Callable[[Any], Any] | None = None
) -> str | None:
    """The hint of the first mistake whose prediction equals ``got``; ``None`` when none does.

    ``convert`` turns a prediction into the same form as ``got`` (float64 ndarray, or int);
    predictions that raise ``NotApplicable`` (or any error) are skipped: a hint is given only
    when a detector proved it.
    """
    for mistake in mistakes:
        args, kwargs = case.fresh()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                with np.errstate(all="ignore"):
                    predicted = mistake.predict(*args, **kwargs)
            if convert is not None:
                predicted = convert(predicted)
        except Exception:
            continue
        if _same(got, predicted):
            return mistake.hint
    return None


def _same(got: Any, predicted: Any) -> bool:
    if isinstance(got, np.ndarray) or isinstance(predicted, np.ndarray):
        got = np.asarray(got, dtype=np.float64)
        predicted = np.asarray(predicted, dtype=np.float64)
        return matches(got, predicted, FLOAT32)
    if isinstance(got, tuple) and isinstance(predicted, tuple):
        return len(got) == len(predicted) and all(_same(g, p) for g, p in zip(got, predicted))
    return got == predicted


# --- running a check --------------------------------------------------------------------------


def run_check(
    name: str,
    cases: Sequence[Case],
    evaluate: Callable[[Case], float | None],
    *,
    kind: str,
    arg_names: Sequence[str] = (),
    quiet: bool = False,
    after: Callable[[], str | None] | None = None,
) -> CheckResult:
    """Evaluate every case; print one line when all pass, else raise with the first diagnosis.

    ``evaluate(case)`` calls the student's code and returns the case's relative error (or
    ``None`` for exact answers), raising ``CaseFailure`` with the diagnosis body when it fails.
    ``after()``, when given, runs once every case has passed; a message it returns fails the
    check with that message (a rule judged on the whole, after the cases).
    """
    failures: list[tuple[Case, str]] = []
    errors: list[float] = []
    _SIDE_NOTES.clear()
    for case in cases:
        try:
            error = evaluate(case)
        except CaseFailure as failure:
            failures.append((case, str(failure)))
            continue
        if error is not None:
            errors.append(error)
    largest = max(errors) if errors else None
    result = CheckResult(
        name, kind, len(cases) - len(failures), len(cases), largest, list(_SIDE_NOTES)
    )
    _SIDE_NOTES.clear()
    if result.notes and not quiet:
        shown = "; ".join(result.notes[:3]) + (" ..." if len(result.notes) > 3 else "")
        print(
            f"note: while {name} was checked, your code emitted: {shown} (this never costs points)"
        )
    if failures:
        case, body = failures[0]
        count = f"{len(failures)} of {len(cases)} {kind} cases fail; the first is shown"
        inputs = case.describe(arg_names)
        lines = [f'{name}: case "{case.name}" failed ({count}).']
        if inputs:
            lines.append(f"  inputs: {inputs}")
        lines.extend(
            "  " + line if not line.startswith("  ") else line for line in body.splitlines()
        )
        raise AssertionError("\n".join(lines))
    refusal = after() if after is not None else None
    if refusal:
        raise AssertionError(f"{name}: {refusal}")
    if not quiet:
        print(result.line())
    return result
