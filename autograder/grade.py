"""Autograde collected submissions with nbgrader's own `Autograde` converter.

The gradebook, the autograded notebooks and everything formgrader reads are nbgrader's; this
module adds what a class of real submissions needs on top:

- `isolation` (per run; `CNN_COURSE_ISOLATION` for the command line): "sandbox", the default,
  grades out of the student's process as described next. "kernel" runs every cell, checks
  included, in the student's kernel with nbgrader's own `Execute`, and the points are the test
  cells' outcomes, as plain nbgrader grades. Both grade every course notebook right
  (docs/grading-security.md, "Isolation").
- verdicts outside the student's process (isolation "sandbox"): nbgrader's `Execute` step is
  replaced by `autograder.verdicts.grade_notebook`, which runs the student's cells in a
  sandboxed kernel (`autograder.sandbox`) and the test cells in this process, through proxies
  of the student's functions (`autograder.remote`). The points of every test cell are the grader's verdicts,
  written into the gradebook after nbgrader saved its own; see docs/grading-security.md.
- `require_sandbox`: refuse to grade unless bubblewrap and a process limit are active here;
  the report always lists which protections were on.
- `scheduler`: grade on a Dask cluster (`dask.distributed`) instead of local processes; every
  worker must see the course directory at the same path (a shared file system). Grades are
  the same either way: each submission is graded by the same function with the same seed.

- `jobs` submissions graded side by side, each in its own process with one thread
  (`OMP_NUM_THREADS=1`, `MKL_NUM_THREADS=1`, inherited by the kernel). Every gradebook read or
  write of a worker runs under one file lock (`<course>/.gradebook.lock`); only the execution of
  the notebook, which is where the time goes, runs outside it. SQLite therefore never sees two
  writers at once, and a worker that dies cannot leave the lock held (the OS releases it).
- a per-cell timeout: a cell that runs longer is interrupted, its output says "timed out after
  N s", and the notebook goes on with the next cell.
- honest noise is free: a warning or a line on stderr inside a grade cell would make nbgrader
  give that cell 0 points, so stderr streams of grade cells are turned into stdout before
  nbgrader scores them. Failing checks raise, and an error still scores 0.
- one bad submission never stops the batch: a notebook that is not valid JSON, or whose kernel
  dies, is scored 0 with its reason, and the run ends with a list of them.
- hidden cases: each submission is graded with `CNN_COURSE_HIDDEN_SEED` set in the grading
  process (never in the student's kernel, which cannot see it). A run draws one
  fresh seed; a submission graded before keeps the seed recorded in
  `autograded/<student>/<assignment>/hidden_seed.txt`, so grading again gives the same grades.
  The seed file is never copied into the feedback.

Grading again is idempotent: every selected submission is graded afresh (nbgrader's `--force`),
its rows in the gradebook are updated in place (nbgrader keys them by student, assignment and
cell) and manual grades given in formgrader are kept.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import secrets
import shutil
import sys
import warnings
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

from autograder.course import (
    HIDDEN_SEED_VARIABLE,
    PROBLEM_FILE,
    SEED_FILE,
    TIMEOUT_ERROR_NAME,
    Course,
    CourseError,
    GradebookLock,
    format_points,
)
from autograder.isolation.sandbox import Limits, detect_protections
from autograder.isolation.verdicts import grade_notebook

HIDDEN_SEED_ENV = HIDDEN_SEED_VARIABLE
# Where the checks run (see docs/grading-security.md, "Isolation"): "sandbox" runs the student's
# cells in a sandboxed kernel and the checks here, through proxies; "kernel" runs every cell,
# checks included, in the student's kernel, as nbgrader does. Both give a complete submission
# of every course notebook all its points (what proxies cannot carry, notebooks 05 and 06 ask
# through autograder.measure); only "sandbox" keeps the verdicts out of the student's reach.
ISOLATIONS = ("sandbox", "kernel")
# The sandbox needs POSIX process control (inherited descriptors, process groups, setrlimit);
# elsewhere (Windows) the checks run in the student's kernel, as plain nbgrader runs them.
DEFAULT_ISOLATION = "sandbox" if os.name == "posix" else "kernel"
ISOLATION_ENV = "CNN_COURSE_ISOLATION"
# Threads per grading process (and its kernel): side-by-side workers must not oversubscribe.
_ONE_THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
}


@dataclass
class SubmissionResult:
    """What happened to one student's submission of one assignment.

    Attributes:
        assignment, student: the submission's ids.
        path: the submitted notebook, relative to the course root.
        status: "graded", "not runnable" (scored 0, `reason` says why) or "missing".
        score, max_score: points from the gradebook (None for a missing submission).
        reason: why a submission could not be run or is missing.
        notes: what went wrong inside a graded notebook that the instructor should know
            (cells that timed out).
    """

    assignment: str
    student: str
    path: str
    status: str
    score: float | None = None
    max_score: float | None = None
    reason: str = ""
    notes: list[str] = field(default_factory=list)


@dataclass
class GradeReport:
    """The outcome of one `autograde` run.

    Attributes:
        results: one `SubmissionResult` per selected student and assignment.
        errors: problems with the run itself (an assignment that was never released).
    """

    results: list[SubmissionResult] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    protections: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing needs the instructor's attention: every submission ran, no cell
        timed out and every assignment was released."""
        return not self.errors and all(
            r.status != "not runnable" and not r.notes for r in self.results
        )

    def lines(self) -> list[str]:
        """The summary: per assignment one count line, then one line per problem."""
        out = list(self.errors)
        assignments = sorted({r.assignment for r in self.results})
        for assignment in assignments:
            results = [r for r in self.results if r.assignment == assignment]
            counts = [f"{sum(r.status == 'graded' for r in results)} graded"]
            for status in ("not runnable", "missing"):
                n = sum(r.status == status for r in results)
                if n:
                    counts.append(f"{n} {status}")
            out.append(f"autograde {assignment}: " + ", ".join(counts))
            for r in results:
                if r.status == "not runnable":
                    out.append(f"  {r.path}: {r.reason}; scored 0")
                elif r.status == "missing":
                    out.append(f"  {r.path}: {r.reason}")
                for note in r.notes:
                    out.append(
                        f"  {r.path}: {note}; scored {format_points(r.score)}/{format_points(r.max_score)}"
                    )
        if not self.ok:
            out.append(
                "Look at the submissions listed above; the other grades are in the gradebook. "
                "Next: `cnn-course feedback`, then `cnn-course export`."
            )
        elif self.results:
            out.append("Next: `cnn-course feedback`, then `cnn-course export`.")
        return out


def autograde(
    course: Course,
    assignments: Iterable[str] | None = None,
    student: str | None = None,
    jobs: int = 1,
    timeout: int | None = None,
    progress: bool = True,
    *,
    require_sandbox: bool = False,
    scheduler: str | None = None,
    limits: Limits | None = None,
    sandbox: bool = True,
    isolation: str | None = None,
) -> GradeReport:
    """Grade every collected submission of the given assignments.

    Args:
        course: the course directory; its assignments must be released (in the gradebook).
        assignments: assignment names; None grades every released assignment.
        student: grade only this student's submissions; None grades every student in
            `submitted/`.
        jobs: submissions graded at the same time, each in its own one-thread process.
        timeout: seconds one cell may run before it is interrupted (its test then scores 0);
            None uses the course default (`autograder.course.DEFAULT_CELL_TIMEOUT`).
        progress: show a tqdm progress bar on stderr.
        require_sandbox: raise `CourseError` instead of grading when the full sandbox
            (bubblewrap and a process limit) is not available on this machine (or, with a
            scheduler, score a submission 0 on a worker that lacks it).
        scheduler: the address of a Dask scheduler (``tcp://host:8786``); None grades here.
        limits: the kernel's resource limits (`autograder.sandbox.Limits()` by default).
        sandbox: run kernels in bubblewrap where it works (False only to measure its cost).
        isolation: where the checks run, one of `ISOLATIONS`: "sandbox" (the student's code
            in a sandboxed kernel, the checks and verdicts in the grader) or "kernel" (every
            cell in the student's kernel, points from the test cells' outcomes, as nbgrader
            grades). None reads `CNN_COURSE_ISOLATION`, else uses "sandbox" with
            `require_sandbox` and `DEFAULT_ISOLATION` without.

    Returns:
        a `GradeReport`: `.lines()` is the summary, `.ok` is False when something needs the
        instructor's attention. A student with no submission for an assignment is listed as
        missing (and scores 0 in the export); nothing is written to the gradebook for it.
    """
    from nbgrader.api import Gradebook

    if jobs < 1:
        raise ValueError(
            f"jobs is the number of submissions graded at once; it must be >= 1, got {jobs}."
        )
    if timeout is not None and timeout <= 0:
        raise ValueError(f"timeout is in seconds per cell and must be positive, got {timeout}.")
    if isolation is None:
        # Asking for the sandbox asks for the mode that uses it.
        fallback = "sandbox" if require_sandbox else DEFAULT_ISOLATION
        isolation = os.environ.get(ISOLATION_ENV) or fallback
    if isolation not in ISOLATIONS:
        raise ValueError(
            f"isolation must be one of {', '.join(ISOLATIONS)}; got {isolation!r}. "
            f"(It can come from the environment variable {ISOLATION_ENV}.)"
        )
    if isolation == "sandbox" and os.name != "posix":
        raise CourseError(
            "isolation 'sandbox' needs Linux or macOS (it controls the kernel's processes with "
            "POSIX calls); on this system grade with isolation 'kernel'."
        )
    if require_sandbox and isolation != "sandbox":
        raise CourseError(
            "--require-sandbox asks for the sandbox, but this run grades with isolation "
            f"{isolation!r} (the checks inside the student's kernel). Grade with isolation "
            f"'sandbox' ({ISOLATION_ENV}=sandbox) or without --require-sandbox."
        )
    limits = limits or Limits()
    protections = detect_protections()
    if require_sandbox and not (sandbox and protections.full) and scheduler is None:
        raise CourseError(
            "the full sandbox is not available on this machine, and --require-sandbox asks "
            "for it:\n" + "\n".join(protections.lines())
        )
    course.ensure()
    if isolation == "kernel":
        shown = [
            "[OFF] isolation 'kernel': every cell, checks included, runs in the student's "
            "kernel as nbgrader runs it (no sandbox; verdicts are the test cells' outcomes). "
            f"{ISOLATION_ENV}=sandbox grades out of the student's process."
        ]
    elif sandbox:
        shown = protections.lines()
    else:
        shown = ["[OFF] sandbox turned off: kernels run without bubblewrap (limits still apply)"]
    report = GradeReport(protections=shown)
    with GradebookLock(course.root), Gradebook(course.db_url, "cnn-course") as gb:
        released = {a.name for a in gb.assignments}
    wanted = list(assignments) if assignments else sorted(released)
    if not wanted:
        report.errors.append(
            f"no assignment is released in {course.root}. Run `cnn-course release` first."
        )
    students = [student] if student else course.students()
    if student and not (course.submitted_dir / student).is_dir():
        report.errors.append(
            f"no submissions of student {student!r} in {course.submitted_dir}. "
            f"Collected students: {', '.join(course.students()) or 'none'}."
        )
        students = []
    run_seed = secrets.randbelow(2**31 - 1) + 1
    todo = []
    for assignment in wanted:
        if assignment not in released:
            report.errors.append(
                f"assignment {assignment!r} is not in the gradebook {course.gradebook_path}. "
                f"Run `cnn-course release {assignment}` first."
            )
            continue
        for who in students:
            path = course.submission_path(who, assignment)
            rel = str(path.relative_to(course.root))
            if not path.is_file():
                report.results.append(
                    SubmissionResult(
                        assignment,
                        who,
                        rel,
                        "missing",
                        reason=f"no submission of {assignment} (scores 0 in the export)",
                    )
                )
                continue
            seed_path = course.autograded_dir / who / assignment / SEED_FILE
            seed = _read_seed(seed_path) or run_seed
            todo.append(
                (
                    str(course.root),
                    assignment,
                    who,
                    timeout,
                    seed,
                    limits,
                    sandbox,
                    require_sandbox,
                    isolation,
                )
            )

    if scheduler is not None:
        outcomes = _run_on_dask(todo, scheduler, progress)
    else:
        outcomes = _run_all(todo, jobs, progress)
    with GradebookLock(course.root), Gradebook(course.db_url, "cnn-course") as gb:
        for (_, assignment, who, *_), outcome in zip(todo, outcomes, strict=True):
            rel = str(course.submission_path(who, assignment).relative_to(course.root))
            if outcome["status"] != "graded":
                _record_not_runnable(course, gb, assignment, who, outcome["reason"])
            submission = gb.find_submission(assignment, who)
            score = submission.score - (submission.late_submission_penalty or 0)
            report.results.append(
                SubmissionResult(
                    assignment,
                    who,
                    rel,
                    outcome["status"],
                    score=score,
                    max_score=submission.max_score,
                    reason=outcome["reason"],
                    notes=outcome["notes"],
                )
            )
    report.results.sort(key=lambda r: (r.assignment, r.student))
    return report


def _read_seed(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _run_all(todo: list[tuple], jobs: int, progress: bool) -> list[dict]:
    """Grade each job in a pool of `jobs` processes; a job whose process died is retried once
    in a fresh pool, then reported as not runnable."""
    from tqdm.auto import tqdm

    outcomes: list[dict | None] = [None] * len(todo)
    attempts = [0] * len(todo)
    pending = list(range(len(todo)))
    # Workers are forked from this process once nbgrader is imported here, so each starts in
    # milliseconds instead of importing nbgrader again (seconds); they are forked before any
    # thread (the progress bar's) exists. Elsewhere than Linux they are spawned.
    import nbgrader.converters  # noqa: F401

    method = "fork" if sys.platform.startswith("linux") else "spawn"
    context = multiprocessing.get_context(method)
    bar = None
    while pending:
        retry = []
        with ProcessPoolExecutor(max_workers=min(jobs, len(pending)), mp_context=context) as pool:
            futures = {pool.submit(_grade_one, *todo[i]): i for i in pending}
            if bar is None:
                bar = tqdm(
                    total=len(todo), desc="autograde", unit="submission", disable=not progress
                )
            for future in as_completed(futures):
                i = futures[future]
                try:
                    outcomes[i] = future.result()
                except BrokenProcessPool:
                    attempts[i] += 1
                    if attempts[i] < 2:
                        retry.append(i)
                        continue
                    outcomes[i] = _failure("the grading process died twice while running it")
                except Exception as error:  # a bug in grading itself must not stop the batch
                    outcomes[i] = _failure(f"grading failed ({type(error).__name__}: {error})")
                bar.update(1)
        pending = sorted(retry)
    if bar is not None:
        bar.close()
    return outcomes  # type: ignore[return-value]


def _run_on_dask(todo: list[tuple], scheduler: str, progress: bool) -> list[dict]:
    """Grade each job on the Dask cluster at ``scheduler``; a job whose worker died, or that
    raised, is reported as not runnable (the batch goes on)."""
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise CourseError(
            "grading on a cluster needs dask.distributed: pip install 'dask[distributed]'."
        ) from None
    from tqdm.auto import tqdm

    outcomes: list[dict | None] = [None] * len(todo)
    try:
        client = Client(scheduler, timeout=30)
    except OSError as error:
        raise CourseError(
            f"cannot reach the Dask scheduler at {scheduler} ({error}). Start one with "
            "`dask scheduler` and workers with `dask worker ADDRESS --nthreads 1`."
        ) from None
    with client:
        futures = {
            client.submit(_grade_one, *job, pure=False, retries=1): i for i, job in enumerate(todo)
        }
        with tqdm(
            total=len(todo), desc="autograde", unit="submission", disable=not progress
        ) as bar:
            for future in as_completed(futures):
                i = futures[future]
                try:
                    outcomes[i] = future.result()
                except Exception as error:  # a worker that died or a bug in grading
                    outcomes[i] = _failure(f"grading failed ({type(error).__name__}: {error})")
                bar.update(1)
    return outcomes  # type: ignore[return-value]


def _failure(reason: str) -> dict:
    return {"status": "not runnable", "reason": reason, "notes": []}


def _record_not_runnable(course: Course, gb, assignment: str, student: str, reason: str) -> None:
    """Score every cell of a submission that could not run 0, as nbgrader does for a missing
    notebook, and leave the reason where `feedback` finds it."""
    with warnings.catch_warnings():
        # nbgrader's update_or_create_submission trips SQLAlchemy's autoflush warnings.
        warnings.simplefilter("ignore")
        gb.update_or_create_student(student)
        submission = gb.update_or_create_submission(assignment, student)
    for notebook in submission.notebooks:
        for grade in notebook.grades:
            grade.auto_score = 0
            grade.needs_manual_grade = False
    gb.db.commit()
    dest = course.autograded_dir / student / assignment
    seed = _read_seed(dest / SEED_FILE)
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    (dest / PROBLEM_FILE).write_text(reason + "\n")
    if seed is not None:
        (dest / SEED_FILE).write_text(f"{seed}\n")


# ---------------------------------------------------------------------------------------------
# The worker: runs in its own process, one submission at a time.

_LOCK: GradebookLock | None = None


def _grade_one(
    root: str,
    assignment: str,
    student: str,
    timeout: int | None,
    seed: int,
    limits: Limits | None = None,
    sandbox: bool = True,
    require_sandbox: bool = False,
    isolation: str = "sandbox",
) -> dict:
    """Grade one submission with nbgrader's Autograde; returns status, reason and notes.

    With isolation "sandbox" the student's code runs in a sandboxed kernel and the tests here;
    with "kernel" nbgrader's own Execute runs every cell in the student's kernel."""
    from nbgrader.converters import Autograde
    from nbgrader.converters.base import NbGraderException
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.utils import setenv

    global _LOCK
    course = Course(root)
    _LOCK = GradebookLock(course.root)
    path = course.submission_path(student, assignment)
    dest = course.autograded_dir / student / assignment

    reason = _unreadable(path)
    if reason:
        return _failure(reason)
    if require_sandbox and not (isolation == "sandbox" and sandbox and detect_protections().full):
        return _failure(
            "the full sandbox is required but not available on the machine that graded it: "
            + "; ".join(line.strip() for line in detect_protections().lines() if "OFF" in line)
        )
    _SETTINGS.update(limits=limits or Limits(), sandbox=sandbox)

    from autograder.course import DEFAULT_CELL_TIMEOUT

    timeout = int(timeout or DEFAULT_CELL_TIMEOUT)
    _SETTINGS["timeout"] = timeout
    config = course.nbgrader_config(timeout=timeout, force=True)
    if isolation == "kernel":
        config.Execute.timeout = timeout
        config.Execute.error_on_timeout = {
            "ename": TIMEOUT_ERROR_NAME,
            "evalue": f"timed out after {timeout} s",
            "traceback": [
                f"{TIMEOUT_ERROR_NAME}: timed out after {timeout} s (the cell was stopped)"
            ],
        }
        # The kernel's own start-up warnings (e.g. about its transport) are noise here.
        config.Execute.extra_arguments = [
            "--HistoryManager.hist_file=:memory:",
            "--IPKernelApp.log_level=ERROR",
        ]
        config.Autograde.autograde_preprocessors = _in_kernel_preprocessors()
    else:
        config.Autograde.autograde_preprocessors = _autograde_preprocessors()
    config.CourseDirectory.assignment_id = assignment
    config.CourseDirectory.student_id = student

    log = logging.getLogger(f"autograder.grade.{student}.{assignment}")
    log.propagate = False
    log.setLevel(logging.ERROR)
    errors = _ListHandler()
    log.handlers[:] = [errors]
    logging.getLogger("traitlets").setLevel(logging.CRITICAL)
    # nbgrader's gradebook code trips SQLAlchemy's session warnings; they are not about the
    # submission and would drown the progress bar.
    warnings.filterwarnings("ignore", module="sqlalchemy")
    warnings.filterwarnings("ignore", module="nbgrader")

    # The seed is set in this (the grading) process only; the sandboxed kernel gets
    # _ONE_THREAD_ENV. With isolation "kernel" the checks run in the kernel, which inherits it.
    env = {HIDDEN_SEED_ENV: str(seed), **_ONE_THREAD_ENV}
    if isolation == "kernel":
        env["PYTHONPATH"] = _kernel_path()
    _SETTINGS["result"] = None
    _LOCK.acquire()
    try:
        coursedir = CourseDirectory(config=config)
        converter = Autograde(coursedir=coursedir, config=config, log=log)
        with setenv(**env):
            converter.start()
    except NbGraderException:
        return _failure(_reason_from_log(errors.messages))
    except Exception as error:
        return _failure(f"nbgrader could not grade it ({type(error).__name__}: {error})")
    finally:
        _LOCK.release()

    dest.mkdir(parents=True, exist_ok=True)
    (dest / SEED_FILE).write_text(f"{seed}\n")
    graded = dest / f"{assignment}.ipynb"
    if isolation == "kernel":
        if not graded.is_file():
            return _failure("nbgrader wrote no autograded notebook for it")
        return {"status": "graded", "reason": "", "notes": _timeout_notes(graded, timeout)}
    result = _SETTINGS.get("result")
    if not graded.is_file() or result is None:
        return _failure("nbgrader wrote no autograded notebook for it")
    from nbgrader.api import Gradebook

    with GradebookLock(course.root), Gradebook(course.db_url, "cnn-course") as gb:
        record_verdicts(gb, assignment, student, assignment, result.verdicts)
    return {"status": "graded", "reason": "", "notes": list(result.notes)}


_SETTINGS: dict = {}


def record_verdicts(gb, assignment: str, student: str, notebook: str, verdicts: list) -> None:
    """Write the grader's verdicts into nbgrader's gradebook (auto_score of each test cell)."""
    for verdict in verdicts:
        try:
            grade = gb.find_grade(verdict.grade_id, notebook, assignment, student)
        except Exception:
            continue
        grade.auto_score = verdict.score
        grade.needs_manual_grade = False
    gb.db.commit()


def _timeout_notes(graded: Path, timeout: int) -> list[str]:
    """ "cell N (grade id) timed out after T s" for each cell nbgrader stopped at its timeout."""
    import nbformat

    notes = []
    nb = nbformat.read(str(graded), as_version=4)
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error" and output.get("ename") == TIMEOUT_ERROR_NAME:
                grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
                name = f"cell {index + 1}" + (f" ({grade_id})" if grade_id else "")
                notes.append(f"{name} timed out after {timeout} s")
                break
    return notes


def _kernel_path() -> str:
    """PYTHONPATH for an in-kernel grading: the folder this `autograder` (and `course_utils`)
    is imported from comes first, so the notebook's test cells import the same checks."""
    import autograder

    roots = [str(Path(autograder.__file__).resolve().parent.parent)]
    roots += [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p not in roots]
    return os.pathsep.join(roots)


def _unreadable(path: Path) -> str:
    """Why a submitted notebook cannot be graded at all, or "" when it can be run."""
    import nbformat

    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        return f"not UTF-8 text (byte {error.start})"
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        return f"not valid JSON (line {error.lineno}, column {error.colno})"
    try:
        nb = nbformat.from_dict(data)
        if nb.get("nbformat", 0) < 4:
            nb = nbformat.convert(nb, 4)
        nbformat.validate(nb)
    except Exception as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return f"not a valid notebook ({first})"
    return ""


class _ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _reason_from_log(messages: list[str]) -> str:
    """The most telling line of nbgrader's error log for a failed submission."""
    for message in messages:
        if "kernel became unresponsive" in message:
            return "the kernel stopped responding and could not be interrupted"
        if message.startswith("Traceback"):
            last = message.strip().splitlines()[-1]
            if "DeadKernelError" in last or "Kernel died" in last:
                return "the kernel died while running it (out of memory, or the code exited)"
            return f"nbgrader could not grade it ({last})"
    useful = [m for m in messages if not m.startswith(("There was an error", "Please see"))]
    return f"nbgrader could not grade it ({useful[0] if useful else 'no reason logged'})"


def _in_kernel_preprocessors() -> list:
    """nbgrader's autograde pipeline for isolation "kernel": its own Execute (every cell in the
    student's kernel) outside the gradebook lock, and honest stderr."""
    from nbconvert.preprocessors import ClearMetadataPreprocessor
    from nbgrader.preprocessors import (
        AssignLatePenalties,
        CheckCellMetadata,
        Execute,
        IgnorePattern,
        LimitOutput,
        SaveAutoGrades,
    )

    class ExecuteOutsideLock(Execute):
        """nbgrader's Execute, releasing the gradebook lock while the kernel runs."""

        def preprocess(self, nb, resources, km=None):
            _LOCK.release()
            try:
                return super().preprocess(nb, resources, km=km)
            finally:
                _LOCK.acquire()

    honest = _autograde_preprocessors()[1]
    return [
        ExecuteOutsideLock,
        honest,
        IgnorePattern,
        ClearMetadataPreprocessor,
        LimitOutput,
        SaveAutoGrades,
        AssignLatePenalties,
        CheckCellMetadata,
    ]


def _autograde_preprocessors() -> list:
    """nbgrader's autograde pipeline with two changes: execution runs out of the student's
    process and outside the gradebook lock, and stderr of grade cells becomes stdout before
    the grades are saved."""
    from nbconvert.preprocessors import ClearMetadataPreprocessor
    from nbgrader.preprocessors import (
        AssignLatePenalties,
        CheckCellMetadata,
        IgnorePattern,
        LimitOutput,
        NbGraderPreprocessor,
        SaveAutoGrades,
    )
    from nbgrader.utils import is_grade

    class ExecuteOutOfProcess(NbGraderPreprocessor):
        """In place of nbgrader's Execute: the student's cells run in a sandboxed kernel and
        the test cells here (`autograder.verdicts`), outside the gradebook lock."""

        def preprocess(self, nb, resources):
            folder = Path(resources.get("metadata", {}).get("path") or ".").resolve()
            _LOCK.release()
            try:
                _SETTINGS["result"] = grade_notebook(
                    nb,
                    folder,
                    timeout=_SETTINGS["timeout"],
                    limits=_SETTINGS["limits"],
                    env=dict(_ONE_THREAD_ENV),
                    sandbox=_SETTINGS["sandbox"],
                )
            finally:
                _LOCK.acquire()
            return nb, resources

    class HonestStderr(NbGraderPreprocessor):
        """Turn stderr streams of grade cells into stdout, so that a warning or a message on
        stderr from correct code does not cost the cell its points (nbgrader scores any stderr
        output 0). A failing check raises, which still scores 0."""

        def preprocess_cell(self, cell, resources, index):
            if cell.cell_type == "code" and is_grade(cell):
                for output in cell.outputs:
                    if output.output_type == "stream" and output.name == "stderr":
                        output.name = "stdout"
            return cell, resources

    return [
        ExecuteOutOfProcess,
        HonestStderr,
        IgnorePattern,
        ClearMetadataPreprocessor,
        LimitOutput,
        SaveAutoGrades,
        AssignLatePenalties,
        CheckCellMetadata,
    ]
