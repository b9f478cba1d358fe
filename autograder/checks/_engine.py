"""The check engine: every exercise's check is its cases, its reference twin and its known
mistakes, handed to this one engine, which runs them, compares and diagnoses.

A check is a plain function ``check_NAME(impl, cases="public")`` made by the ``check``
decorator around a call of ``Exercise.run``. It keeps no state: it calls the student's function
with fresh NumPy arrays and plain Python values, converts what comes back (accepting only a
real ``numpy.ndarray`` or the contracted Python type), compares in float64 and raises
``AssertionError`` whose message is the diagnosis:

    conv_forward_naive: case "lecture vector B (stride 2, pad 1)" failed (...).
      inputs: x (1, 3, 5, 5), w (2, 3, 3, 3), b (2,), conv_param {'stride': 2, 'pad': 1}
      out has the right shape (1, 2, 3, 3) but wrong values;
      largest error 11.0 at out[0, 1, 0, 0]: expected 9.0, got -2.0 (relative error 1.0e+00).
      Hint: your output equals true convolution (filters flipped). ... [conv_forward/flipped_kernel]

A hint is added only when a detector proved it: the answer matched what a known mistake
(a ``Mistake``) computes on the same inputs, and did not match the right answer; or the
exception the code raised is the one a known mistake raises (a ``Raises``: its type and
message, such as a float from ``/`` given to ``range``). Every hint has a stable identifier
``<exercise>/<mistake>``, printed in brackets at its end, which the feedback, the class report
and the exports count.

A *near miss* is a hint that names a contract detail of an answer whose values are all right
(the values right in another shape of the same size). A judge keeps it and judges the rest of
the case (``Attempt.near_miss``); a check whose every failing case is only a near miss passes,
prints what to change and records it (``NEAR_MISSES``), and its test cell earns the course's
share of its points.

The pieces, in the order a check uses them:

- ``Case``: one call, with a name a student can read. Public cases are fixed; hidden cases
  are drawn at grading time from ``hidden_rng`` (seeded by the grader's secret).
- ``Exercise``: the spec of one check: its name, argument names, cases, and a *judge* that
  decides one case: ``Returns`` (call once, compare the answer with the twin's), ``Backward``
  (the student's forward, then their backward on its cache) or any function
  ``judge(attempt, case) -> error``.
- ``Attempt``: one run of a check on the student's functions; what a judge calls, reads and
  compares through (``call``, ``forward``, ``compare``, ``array``, ...).
- ``Subject`` (in ``_subjects``): how the engine sees a student's callable: call it under
  the banned-library guard, read its code for banned calls, count its lines, measure it. A
  function defined here is inspected here; a proxy of a function in the student's sandboxed
  kernel is inspected through the resolver that ``autograder.isolation`` installs
  (``subjects``), so every check works the same on both.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import io
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from autograder.checks._answers import (  # noqa: F401 (the engine's names, in one place)
    ATOL_FLOAT32,
    ATOL_FLOAT64,
    CASE_KINDS,
    CHANNELS_LAST,
    FLOAT32,
    FLOAT64,
    FLOAT_DIVISION,
    RAISES,
    RTOL_FLOAT32,
    RTOL_FLOAT64,
    Case,
    CaseFailure,
    Difference,
    Hint,
    Mistake,
    NotApplicable,
    Raises,
    Tolerance,
    as_float,
    as_float64_array,
    as_int,
    channels_last,
    compare_arrays,
    describe_answer,
    diagnose,
    expect_tuple,
    hidden_rng,
    matches,
    not_a_real_array,
    not_applicable,
    relative_error,
    same,
    select_cases,
    shape_only,
    tensor_advice,
    to_numpy,
    to_tensor,
    tolerance_for,
    twin,
)
from autograder.checks._subjects import (  # noqa: F401 (the engine's names, in one place)
    Subject,
    display_name,
    subject,
    subjects,
)
from autograder.kernel import rules
from autograder.kernel.measure import error_report

# --- running a check --------------------------------------------------------------------------------


@dataclass
class CheckResult:
    """What a check found: how many cases passed, and the largest relative error seen."""

    name: str
    kind: str
    passed: int
    total: int
    largest_error: float | None = 0.0
    notes: list[str] = field(default_factory=list)
    near_miss: str | None = None  # the hint identifier of a near miss

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


def raised(
    error: dict, func_name: str, inputs: str = "these inputs", known: Sequence[Raises] = ()
) -> CaseFailure:
    """The diagnosis of an exception of the student's code, given as
    ``autograder.kernel.measure.error_report`` gives it (wherever the code ran):
    ``NotImplementedError`` says the function is not written yet; an exception that one of
    ``known`` (the exercise's own) or of ``RAISES`` (every exercise's) recognises is named by
    its hint."""
    if error["type"] == "NotImplementedError":
        return CaseFailure(
            f"{func_name} raised NotImplementedError: it is not written yet. "
            "Replace the `raise NotImplementedError()` line with your code."
        )
    recognised = next((r for r in (*known, *RAISES) if r.matches(error)), None)
    return CaseFailure(
        f"{func_name} raised {error['type']}: {error['message']}\n"
        f"  Run the function on {inputs} yourself to see where it fails.",
        recognised.as_hint if recognised is not None else None,
    )


class Attempt:
    """One run of an exercise's check on the student's functions.

    Judges call the student's code through it (``call``, ``forward``), convert answers
    (``array``, ``tuple``, ``integer``, ``number``) and compare (``compare``). What the
    student's code emitted on the side (warnings, stderr) is collected as notes, which never
    cost points.
    """

    def __init__(self, exercise: Exercise, impls: Sequence[Any]) -> None:
        self.exercise = exercise
        defaults = exercise.functions or (exercise.name,) * len(impls)
        if exercise.own_names:
            self.names = [display_name(impl, d) for impl, d in zip(impls, defaults)]
        else:
            self.names = list(defaults)
        # The guard's refusal names the function being judged, as the diagnoses do.
        self.subjects = [subject(impl, self.name, exercise.numpy_only) for impl in impls]
        self.notes: list[str] = []
        self.near_misses: list[CaseFailure] = []  # of the case being judged

    def judged(self, judge: Callable[[Attempt, Case], float | None], case: Case) -> float | None:
        """``judge(self, case)``; then the first near miss it kept (``near_miss``), if any."""
        self.near_misses = []
        error = judge(self, case)
        if self.near_misses:
            raise self.near_misses[0]
        return error

    def near_miss(self, failure: CaseFailure) -> bool:
        """Keep ``failure`` when it is a near miss, and say so: the judge then goes on with the
        rest of the case, and the near miss is reported only when all of that is right (a near
        miss earns part of the points only when every value is right). False for any other
        failure, which the judge raises."""
        if failure.hint is None or not failure.hint.near_miss:
            return False
        self.near_misses.append(failure)
        return True

    @property
    def name(self) -> str:
        """The name of the function being judged: the last one (a backward after its
        forward), or all of them when the exercise judges them together
        (``conv_forward_fast/conv_backward_fast``)."""
        return "/".join(self.names) if self.exercise.joint else self.names[-1]

    # calling
    def _said(self, run: Callable[[], Any], name: str) -> Any:
        """``run()``, its warnings and writes to ``sys.stderr`` kept as notes; an exception of
        the student's code becomes a ``CaseFailure`` that names it."""
        stderr = io.StringIO()
        with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stderr(stderr):
            warnings.simplefilter("always")
            try:
                value = run()
            except Exception as exc:
                error = error_report(exc, "call")
                raise raised(error, name, known=self.exercise.raises) from exc
        said = [f"{w.category.__name__}: {w.message}" for w in caught]
        if stderr.getvalue().strip():
            said.append("it wrote to stderr: " + stderr.getvalue().strip().splitlines()[0][:120])
        self.notes.extend(note for note in said if note not in self.notes)
        return value

    def call(self, args: tuple, kwargs: dict | None = None, *, which: int = -1) -> Any:
        """Call student function ``which`` (the last by default) with exactly these arguments
        (a backward gets its forward's very cache). ``NotImplementedError`` is diagnosed as a
        function not written yet."""
        subject_ = self.subjects[which]
        return self._said(lambda: subject_.call(*args, **(kwargs or {})), self.names[which])

    def call_case(self, case: Case, *, which: int = -1) -> Any:
        """``call`` on fresh copies of the case's arguments."""
        args, kwargs = case.fresh()
        return self.call(args, kwargs, which=which)

    def measure(self, measurement: str, *args: Any, which: int = -1, **kwargs: Any) -> Any:
        """The report of a measurement (``autograder.kernel.measure``) of student function
        ``which``, made where the student's code runs."""
        subject_ = self.subjects[which]
        return self._said(lambda: subject_.measure(measurement, *args, **kwargs), self.names[which])

    def count_lines(self, args: tuple, stop_after: int, *, which: int = -1) -> tuple[Any, int]:
        """``(answer, lines of student code executed)`` of a call (see ``rules.count_lines``)."""
        subject_ = self.subjects[which]
        return self._said(
            lambda: subject_.count_lines(*args, stop_after=stop_after), self.names[which]
        )

    def forward(self, case: Case, *, which: int = 0) -> tuple[np.ndarray, Any]:
        """``(out, cache)`` of a forward function: out as a float64 array."""
        name = self.names[which]
        value = self.call_case(case, which=which)
        out, cache = expect_tuple(value, name, ("out", "cache"))
        return as_float64_array(out, name, "out"), cache

    def unchanged(self, case: Case, *, which: int = -1) -> None:
        """Fail when the function changes one of its array inputs in place."""
        args, kwargs = case.fresh()
        before = copy.deepcopy(args)
        with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            with contextlib.suppress(Exception):
                self.subjects[which].call(*args, **kwargs)
        arg_names = self.exercise.args
        for index, (old, new) in enumerate(zip(before, args)):
            if isinstance(old, np.ndarray) and not np.array_equal(old, new, equal_nan=True):
                what = arg_names[index] if index < len(arg_names) else f"argument {index}"
                raise CaseFailure(
                    f"{self.names[which]} changed its input {what} in place. Work on a copy "
                    f"(e.g. {what}.copy() or np.pad, which returns a new array)."
                )

    # reading answers
    def array(self, value: Any, what: str) -> np.ndarray:
        return as_float64_array(value, self.name, what)

    def tuple(self, value: Any, names: Sequence[str]) -> tuple:
        return expect_tuple(value, self.name, names)

    def integer(self, value: Any, what: str = "the result") -> int:
        return as_int(value, self.name, what)

    def number(self, value: Any, what: str) -> float:
        return as_float(value, self.name, what)

    # comparing
    def compare(
        self,
        got: np.ndarray,
        expected: np.ndarray,
        what: str,
        mistakes: Sequence[Mistake] = (),
        args: tuple = (),
        tol: Tolerance | None = None,
        layout_hint: bool = True,
    ) -> float:
        """``compare_arrays`` at the answer's tolerance, explained by the first of
        ``mistakes`` whose prediction on ``args`` equals ``got``. A near miss is kept
        (``near_miss``) and counts as error 0 here: the judge goes on."""
        try:
            return compare_arrays(
                got,
                expected,
                what=what,
                tol=tol or tolerance_for(got),
                swapped_layout_hint=layout_hint,
            )
        except CaseFailure as failure:
            failure = failure.with_hint(diagnose(mistakes, args, got))
            if self.near_miss(failure):
                return 0.0
            raise failure from None


@dataclass(frozen=True)
class Returns:
    """Judge a function by its answer: call it once and compare with the twin's.

    Args:
        twin: the case's arguments (NumPy) -> the expected value of the compared part, or a
            tuple with one value per compared part (float64 arrays).
        parts: the names of the items of the returned tuple, e.g. ``("out", "cache")``;
            ``()`` when the function returns one array, named ``what``.
        compared: which of ``parts`` are compared (the others, a cache, are opaque); all of
            them by default.
        mistakes: known mistakes, each predicting what ``twin`` gives (the same structure).
        explain: ``explain(attempt, case, got) -> Hint | None``, asked when no mistake
            explains a wrong answer (a probe: call the function again on a changed case, or
            read the answer's shape).
        pure: the function must leave its inputs unchanged.
        layout_hint: name an NHWC answer where NCHW was expected.
        what: the name of a single returned array (``iou``) in the diagnosis.
    """

    twin: Callable[..., Any]
    parts: tuple[str, ...] = ()
    compared: tuple[str, ...] = ()
    mistakes: Sequence[Mistake] = ()
    explain: Callable[[Attempt, Case, Any], Hint | None] | None = None
    pure: bool = True
    layout_hint: bool = True
    what: str = "out"

    @property
    def names(self) -> tuple[str, ...]:
        """The names of the compared values."""
        return self.compared or self.parts or (self.what,)

    def __call__(self, attempt: Attempt, case: Case) -> float:
        if self.pure:
            attempt.unchanged(case)
        value = attempt.call_case(case)
        got = self.answer(attempt, value)
        tols = self._tolerances(attempt, value)
        args, kwargs = case.fresh()
        expected = self.twin(*args, **kwargs)
        if len(self.names) == 1:
            got, expected = (got,), (expected,)
        error, failures = 0.0, []
        for g, e, n, t in zip(got, expected, self.names, tols):
            try:
                error = max(error, self._compare(g, e, n, t))
            except CaseFailure as failure:
                failures.append(failure)
        if not failures:
            return error
        # The first part that is wrong, before one that is only a near miss.
        failure = next((f for f in failures if not (f.hint and f.hint.near_miss)), failures[0])
        args, kwargs = case.fresh()
        got = got[0] if len(self.names) == 1 else got
        hint = diagnose(self.mistakes, args, got, kwargs=kwargs)
        if hint is None and self.explain is not None:
            hint = self.explain(attempt, case, got)
        failure = failure.with_hint(hint)
        if attempt.near_miss(failure):
            return error
        raise failure from None

    def _compare(self, got: np.ndarray, expected: Any, what: str, tol: Tolerance) -> float:
        expected = np.asarray(expected, dtype=np.float64)
        return compare_arrays(
            got, expected, what=what, tol=tol, swapped_layout_hint=self.layout_hint
        )

    def _tolerances(self, attempt: Attempt, value: Any) -> list[Tolerance]:
        """The tolerance of each compared part, from its own dtype (float32 is judged as such;
        ``answer`` has already refused anything but real ndarrays)."""
        if not self.parts:
            return [tolerance_for(value)]
        items = dict(zip(self.parts, value))
        return [tolerance_for(items[name]) for name in self.names]

    def answer(self, attempt: Attempt, value: Any) -> Any:
        """The compared part(s) of a returned value, as float64 arrays."""
        if not self.parts:
            return attempt.array(value, self.what)
        items = dict(zip(self.parts, attempt.tuple(value, self.parts)))
        got = tuple(attempt.array(items[name], name) for name in self.names)
        return got[0] if len(got) == 1 else got


@dataclass(frozen=True)
class Backward:
    """Judge a backward pass: the student's forward (function 0) on the case's arguments but
    the last, then the student's backward (function 1) on ``(dout, cache)`` with that very
    cache (caches are opaque), each gradient compared with the twins'.

    Args:
        forward_twin, backward_twin: the reference pair; ``backward_twin(dout, cache)`` with
            the cache of ``forward_twin`` on the same arguments (tensors).
        grads: the names of the returned gradients, ``("dx", "dw", "db")`` or ``("dx",)``
            (a single gradient is returned as itself, not in a tuple).
        mistakes: per gradient name, mistakes predicting that gradient from
            ``(*forward_args, dout)``.
    """

    forward_twin: Callable[..., Any]
    backward_twin: Callable[..., Any]
    grads: tuple[str, ...]
    mistakes: dict[str, Sequence[Mistake]] = field(default_factory=dict)

    def __call__(self, attempt: Attempt, case: Case) -> float:
        *forward_args, dout = case.fresh()[0]
        forward_name = attempt.names[0]
        try:
            out, cache = attempt.forward(Case(case.name, tuple(forward_args)), which=0)
        except CaseFailure as failure:
            raise failure.noted(needs_a_working_forward(forward_name, attempt.name)) from None
        value = attempt.call((dout.copy(), cache), which=1)
        answers = (value,) if len(self.grads) == 1 else attempt.tuple(value, self.grads)
        twin_out, twin_cache = self.forward_twin(*(to_tensor(a) for a in forward_args))
        expected = to_numpy(self.backward_twin(to_tensor(dout), twin_cache))
        expected = (expected,) if len(self.grads) == 1 else expected
        args = (*case.fresh()[0],)
        error = 0.0
        for grad, answer, e in zip(self.grads, answers, expected):
            got = attempt.array(answer, grad)
            mistakes = self.mistakes.get(grad, ())
            tol = tolerance_for(answer)  # the answer's own dtype: float32 is judged as such
            try:
                error = max(error, attempt.compare(got, e, grad, mistakes, args, tol=tol))
            except CaseFailure as failure:
                if matches(out, to_numpy(twin_out), FLOAT32):
                    raise
                raise failure.noted(broken_forward(forward_name, attempt.name)) from None
        return error


def needs_a_working_forward(forward: str, backward: str) -> str:
    """The note of a backward check whose forward failed to give a cache at all."""
    return f"{backward} needs the cache of a working {forward}: fix {forward} first."


def broken_forward(forward: str, backward: str) -> str:
    """The note of a backward whose gradients are wrong while its own forward gives a wrong out
    on the same case: it was judged with a broken forward's cache (caches stay opaque)."""
    return (
        f"Your {forward} gives a wrong out on this very case (its own check says how), so "
        f"{backward} was checked with the cache of a broken forward (caches are yours alone): "
        f"fix {forward} first, then check {backward} again."
    )


@dataclass(frozen=True)
class Exercise:
    """One exercise's check, as data.

    Args:
        name: the check's name without ``check_`` (``conv_forward``): the hint identifiers'
            prefix. (The hidden cases' generator is named for the judged function.)
        args: the names of the case arguments, for the diagnosis (``x, w, b, conv_param``).
        public: the fixed public cases.
        hidden: the hidden cases, drawn from a generator seeded by the grader's secret.
        judge: decides one case: returns its relative error (or None for exact answers) or
            raises ``CaseFailure``. ``Returns`` and ``Backward`` are the common judges.
        functions: the student functions' contract names, in the order the check takes them
            (a proxy or a lambda is named after them).
        own_names: diagnoses name each function by its own ``__name__`` (``conv_forward_fast``
            or ``conv_forward_naive`` for one check); False names it by ``functions``.
        joint: the functions are judged together, and the check is named for all of them.
        numpy_only: apply the banned-library rule (PyTorch, course_utils, SciPy, ...).
        after: a rule judged once every case has passed; a message it returns fails the check.
        raises: known mistakes recognised from the exception a student function raises (the
            engine's ``RAISES`` apply to every exercise).
    """

    name: str
    args: tuple[str, ...]
    public: Callable[[], list[Case]]
    hidden: Callable[[np.random.Generator], list[Case]]
    judge: Callable[[Attempt, Case], float | None]
    functions: tuple[str, ...] = ()
    own_names: bool = True
    joint: bool = False
    numpy_only: bool = True
    after: Callable[[Attempt], str | None] | None = None
    raises: Sequence[Raises] = ()

    def run(self, cases: str, *impls: Any, quiet: bool = False) -> CheckResult:
        """Check the student's functions ``impls`` on the ``cases`` ("public" or "hidden")."""
        attempt = Attempt(self, impls)
        if self.numpy_only:
            refuse_banned(attempt)
        # Hidden cases are drawn from a generator named for the function being judged
        # (conv_forward_naive and conv_forward_fast draw different cases).
        chosen = select_cases(cases, self.public, self.hidden, attempt.name)
        with _one_thread():
            try:
                return run_cases(
                    attempt,
                    chosen,
                    lambda case: attempt.judged(self.judge, case),
                    kind=cases,
                    quiet=quiet,
                    after=(lambda: self.after(attempt)) if self.after else None,
                )
            except rules.BannedCall as banned:
                raise AssertionError(str(banned)) from None


def refuse_banned(attempt: Attempt) -> None:
    """Fail the check when a student function's code names a banned library."""
    for subject_, name in zip(attempt.subjects, attempt.names):
        found = subject_.banned()
        if found:
            unique = list(dict.fromkeys(found))
            uses = "; ".join(unique[:3]) + (
                f"; and {len(unique) - 3} more" if len(unique) > 3 else ""
            )
            raise AssertionError(f"{attempt.name}: {name} uses {uses}.\n  {rules.RULE}")


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    # The twins run on inputs of a few hundred numbers, where one thread is fastest, and a
    # thread pool on a busy grading machine costs tens of milliseconds per call.
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def hint_line(exercise: str, hint: Hint) -> str:
    """``Hint: <text> [<exercise>/<id>]``."""
    return f"Hint: {hint.text} [{exercise}/{hint.id}]"


#: What a check prints first for a near miss; the grader reads it in the student's kernel.
NEAR_MISS = "near miss"
#: The near misses of the checks run in this process, as hint identifiers, in order. The
#: grader clears it before a test cell runs and reads it after (autograder.isolation.verdicts):
#: a test cell that passes with a near miss earns the course's share of its points.
NEAR_MISSES: list[str] = []


def run_cases(
    attempt: Attempt,
    cases: Sequence[Case],
    evaluate: Callable[[Case], float | None],
    *,
    kind: str,
    quiet: bool = False,
    after: Callable[[], str | None] | None = None,
) -> CheckResult:
    """Evaluate every case; print one line when all pass, else raise with the first diagnosis.

    ``evaluate(case)`` returns the case's relative error (or ``None`` for exact answers),
    raising ``CaseFailure`` with the diagnosis body when it fails. ``after()``, when given,
    runs once every case has passed; a message it returns fails the check with that message.
    """
    name = attempt.name
    failures: list[tuple[Case, CaseFailure]] = []
    errors: list[float] = []
    for case in cases:
        try:
            error = evaluate(case)
        except CaseFailure as failure:
            failures.append((case, failure))
            continue
        if error is not None:
            errors.append(error)
    largest = max(errors) if errors else None
    result = CheckResult(name, kind, len(cases) - len(failures), len(cases), largest, attempt.notes)
    if result.notes and not quiet:
        shown = "; ".join(result.notes[:3]) + (" ..." if len(result.notes) > 3 else "")
        print(
            f"note: while {name} was checked, your code emitted: {shown} (this never costs points)"
        )
    if failures:
        wrong = [(c, f) for c, f in failures if f.hint is None or not f.hint.near_miss]
        near_miss = not wrong
        # A case whose values are wrong is shown before one that is only a near miss.
        case, failure = failures[0] if near_miss else wrong[0]
        shown = "the first is shown" if failures[0][0] is case else "the first wrong one is shown"
        count = f"{len(failures)} of {len(cases)} {kind} cases"
        if near_miss:
            lines = [
                f'{name}: {NEAR_MISS} on case "{case.name}" ({count} are right but for this '
                "one detail; the first is shown): this earns part of the points."
            ]
        else:
            lines = [f'{name}: case "{case.name}" failed ({count} fail; {shown}).']
        inputs = case.describe(attempt.exercise.args)
        if inputs:
            lines.append(f"  inputs: {inputs}")
        body = str(failure)
        if failure.hint is not None:
            body += "\n" + hint_line(attempt.exercise.name, failure.hint)
        lines.extend(
            "  " + line if not line.startswith("  ") else line for line in body.splitlines()
        )
        if near_miss:
            NEAR_MISSES.append(f"{attempt.exercise.name}/{failure.hint.id}")
            result.near_miss = NEAR_MISSES[-1]
            if not quiet:
                print("\n".join(lines))
            return result
        error = AssertionError("\n".join(lines))
        error.difference = failure.difference
        raise error
    refusal = after() if after is not None else None
    if refusal:
        raise AssertionError(f"{name}: {refusal}")
    if not quiet:
        print(result.line())
    return result


def check(function: Callable[..., CheckResult]) -> Callable[..., CheckResult]:
    """Make ``function`` a student-facing check: a failure reaches the student's cell as a
    fresh ``AssertionError`` with the same diagnosis and no frames of the check code, so the
    notebook's traceback ends at the student's own line (IPython and pytest hide this
    wrapper's frame, which sets ``__tracebackhide__``)."""

    @functools.wraps(function)
    def run(*args: Any, **kwargs: Any) -> CheckResult:
        __tracebackhide__ = True  # noqa: F841 (read by IPython and pytest)
        try:
            return function(*args, **kwargs)
        except AssertionError as failure:
            fresh = AssertionError(*failure.args)
            fresh.difference = getattr(failure, "difference", None)
            if fresh.difference is not None:
                show_difference(fresh.difference)
            raise fresh from None

    return run


def difference_png(difference: Difference) -> bytes | None:
    """The heat map of a ``Difference`` as PNG bytes (None when it cannot be drawn)."""
    from course_utils.plots_diagnosis import difference_png as draw

    try:
        return draw(difference.expected, difference.got, difference.what)
    except Exception:  # a picture never stands in the way of the diagnosis
        return None


def show_difference(difference: Difference) -> None:
    """Show the heat map in the notebook the check runs in (nothing outside IPython: the
    grader draws it into the graded notebook itself, see autograder.isolation.verdicts)."""
    try:
        from IPython import get_ipython
        from IPython.display import Image, display
    except ImportError:
        return
    shell = get_ipython()
    if shell is None or not hasattr(shell, "kernel"):
        return
    png = difference_png(difference)
    if png is not None:
        display(Image(data=png, format="png"))
