"""Autograde collected submissions with nbgrader's own `Autograde` converter.

The gradebook, the autograded notebooks and everything formgrader reads are nbgrader's; this
module adds what a class of real submissions needs on top:

- `isolation` (per run; `CNN_COURSE_ISOLATION` for the command line): "sandbox", the default,
  grades out of the student's process: nbgrader's `Execute` step is replaced by
  `ExecuteOutOfProcess`, which runs the student's cells in a sandboxed kernel
  (`autograder.isolation`) and the test cells in the grading process, through proxies of the
  student's functions; the points of every test cell are the grader's verdicts, written into
  the gradebook after nbgrader saved its own (docs/grading-security.md). "kernel" runs every
  cell, checks included, in the student's kernel with nbgrader's own `Execute`, and the points
  are the test cells' outcomes, as plain nbgrader grades. Both grade every course notebook
  right.
- failing closed: with isolation "sandbox" (the default), grading refuses to start where
  bubblewrap or a process limit is missing, grades nothing and says what is missing, how to
  install it and the two ways on (`refusal`): isolation "kernel", or `allow_unsandboxed`
  (`--allow-unsandboxed`: the checks out of the student's process, with limits, but no
  sandbox). On a Dask cluster each worker checks for itself. The report always lists which
  protections were on, and the memory cap, sized so that `jobs` kernels fit in the machine.
- a budget per notebook: each cell may run for the notebook's cell timeout, and the whole
  notebook for its grading budget (both declared in the source notebook's metadata, see
  `Course.grading_times`, or given per run); when the budget runs out the remaining cells are
  not run and the submission is marked as timed out in that cell.
- `jobs` submissions graded side by side, each in its own process with one thread
  (`OMP_NUM_THREADS=1`, ..., inherited by the kernel), or, with `scheduler`, on a Dask cluster
  (`dask.distributed`; every worker must see the course directory at the same path). Both run
  the same `grade_job` on the same `Job`s through one retry and failure path (`run_jobs`), so
  grades are the same either way. Every gradebook read or write of a worker runs under the
  course's gradebook lock; only the execution of the notebook, where the time goes, runs
  outside it.
- a per-cell timeout: a cell that runs longer is interrupted, its output says "timed out after
  N s", and the notebook goes on with the next cell, within its budget.
- honest noise is free: a warning or a line on stderr inside a grade cell would make nbgrader
  give that cell 0 points, so stderr streams of grade cells are turned into stdout before
  nbgrader scores them (`HonestStderr`). Failing checks raise, and an error still scores 0.
- a test cell that fails with "NameError: name 'X' is not defined" because the earlier cell
  that defines X failed says which cell that is, and what it failed with (`UndefinedNames`).
- only the cells the grades need run (`autograder.isolation.needed`); the others keep their
  submitted outputs, unless `rerun_all_cells` (the course's setting, or per run).

The preprocessors named here are nbgrader's pipeline as grading runs it, in
`autograder.isolation.pipeline`.
- one bad submission never stops the batch: a notebook that is not valid JSON, or whose kernel
  dies, is scored 0 with its reason, and the run ends with a list of them.
- hidden cases: each submission is graded with the hidden-case seed set in the grading
  process (never in the student's sandboxed kernel, which cannot see it). A run draws one
  fresh seed; a submission graded before keeps the seed recorded in
  `autograded/<student>/<assignment>/hidden_seed.txt`, so grading again gives the same grades.

Grading again is idempotent: every selected submission is graded afresh (nbgrader's `--force`),
its rows in the gradebook are updated in place (nbgrader keys them by student, assignment and
cell) and manual grades given in formgrader are kept.

The parts, top to bottom: the report types; `autograde` (what to grade, then grade it); the
executors and `run_jobs`; `grade_job`, the worker; nbgrader's pipeline with our preprocessors.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import multiprocessing
import os
import secrets
import shutil
import socket
import sys
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from autograder.course import (
    DEFAULT_CELL_TIMEOUT,
    HIDDEN_SEED_VARIABLE,
    HINT_ID,
    NEAR_MISS_LINE,
    PROBLEM_FILE,
    SEED_FILE,
    TIMEOUT_ERROR_NAME,
    VERDICTS_FILE,
    Course,
    CourseError,
    GradebookLock,
    format_points,
)
from autograder.isolation.pipeline import (
    ONE_THREAD_ENV,
    ExecuteOutOfProcess,
    ExecuteOutsideLock,
    pipeline,
    sanitizing,
)
from autograder.isolation.sandbox import Limits, detect_protections, kernel_memory_bytes
from autograder.rubrics import RUBRIC_MARKER

# Where the checks run (see docs/grading-security.md, "Isolation"): "sandbox" runs the student's
# cells in a sandboxed kernel and the checks here, through proxies; "kernel" runs every cell,
# checks included, in the student's kernel, as nbgrader does.
ISOLATIONS = ("sandbox", "kernel")
# The default everywhere: grading fails closed where the sandbox is missing (`refusal`), and
# the instructor chooses a weaker way on explicitly (isolation "kernel", allow_unsandboxed).
DEFAULT_ISOLATION = "sandbox"
ISOLATION_ENV = "CNN_COURSE_ISOLATION"


# --- what a run reports ---------------------------------------------------------------------------


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
        protections: which protections of the sandbox were on, one line each.
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
        for assignment in sorted({r.assignment for r in self.results}):
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
                    scored = f"{format_points(r.score)}/{format_points(r.max_score)}"
                    out.append(f"  {r.path}: {note}; scored {scored}")
        if not self.ok:
            out.append(
                "Look at the submissions listed above; the other grades are in the gradebook. "
                "Next: `cnn-course feedback`, then `cnn-course export`."
            )
        elif self.results:
            out.append("Next: `cnn-course feedback`, then `cnn-course export`.")
        return out


@dataclass(frozen=True)
class Job:
    """One submission to grade: everything a worker needs (plain data, so it travels to a
    process or a Dask worker)."""

    root: str
    assignment: str
    student: str
    seed: int
    timeout: int
    isolation: str
    limits: Limits  # limits.wall_seconds is the notebook's grading budget
    sandbox: bool = True
    allow_unsandboxed: bool = False
    near_miss_credit: float = 0.5
    rerun_all: bool = False  # run every cell, not only those the grades need


@dataclass
class Outcome:
    """What a worker reports: "graded", or "not runnable" with the reason; and notes."""

    status: str
    reason: str = ""
    notes: list[str] = field(default_factory=list)


def not_runnable(reason: str) -> Outcome:
    return Outcome("not runnable", reason)


# --- autograde ------------------------------------------------------------------------------------


def _isolation(isolation: str | None, require_sandbox: bool) -> str:
    """The run's isolation: the argument, else `CNN_COURSE_ISOLATION`, else "sandbox"."""
    if isolation is None:
        isolation = os.environ.get(ISOLATION_ENV) or DEFAULT_ISOLATION
    if isolation not in ISOLATIONS:
        raise ValueError(
            f"isolation must be one of {', '.join(ISOLATIONS)}; got {isolation!r}. "
            f"(It can come from the environment variable {ISOLATION_ENV}.)"
        )
    if require_sandbox and isolation != "sandbox":
        raise CourseError(
            "--require-sandbox asks for the sandbox, but this run grades with isolation "
            f"{isolation!r} (the checks inside the student's kernel). Grade with isolation "
            f"'sandbox' ({ISOLATION_ENV}=sandbox) or without --require-sandbox."
        )
    return isolation


def refusal(where: str = "this machine") -> str:
    """Why grading stops when the sandbox is not complete on ``where``, and the ways on."""
    protections = detect_protections()
    if os.name != "posix":
        missing = [
            "the sandbox needs Linux (bubblewrap, cgroups) or at least a POSIX system "
            "(process groups, resource limits); this system has neither"
        ]
    else:
        missing = protections.missing()
    lines = [
        f"grading refused: the sandbox that runs students' code is not complete on {where}, so "
        "nothing was graded and the gradebook is unchanged. Missing:",
        *(f"  - {line}" for line in missing),
        "Install what is missing and grade again; or choose, knowing what it gives up:",
        "  --isolation kernel    every cell, checks included, runs in the student's kernel, as "
        "plain nbgrader does: a submission can read the hidden tests and the gradebook, change "
        "its own grade, and runs with your permissions.",
    ]
    if os.name == "posix":
        lines.append(
            "  --allow-unsandboxed   the checks still run out of the student's process and "
            "decide the points, with CPU, memory, time and output limits, but the student's code "
            "runs with your permissions: it can read and change your files (other submissions, "
            "the gradebook) and reach the network."
        )
    return "\n".join(lines)


def _protection_lines(isolation: str, sandbox: bool, limits: Limits, jobs: int) -> list[str]:
    if isolation == "kernel":
        return [
            "[OFF] isolation 'kernel': every cell, checks included, runs in the student's "
            "kernel as nbgrader runs it (no sandbox; verdicts are the test cells' outcomes). "
            f"{ISOLATION_ENV}=sandbox grades out of the student's process."
        ]
    lines = (
        detect_protections().lines()
        if sandbox
        else ["[OFF] sandbox turned off: kernels run without bubblewrap (limits still apply)"]
    )
    return [
        *lines,
        f"      memory cap {limits.memory_bytes / (1 << 30):.1f} GiB per kernel, {jobs} at once",
    ]


def _budget(
    course: Course, assignment: str, budget: float | None, timeout: int | None, limits: Limits
) -> tuple[int, float]:
    """(cell timeout, grading budget) of one assignment: the arguments, else what its source
    notebook declares (`course.grading_times`), else the defaults (`DEFAULT_CELL_TIMEOUT`,
    `limits.wall_seconds`)."""
    declared_timeout, declared_budget = course.grading_times(assignment)
    cell = int(timeout or declared_timeout or DEFAULT_CELL_TIMEOUT)
    return cell, float(budget or declared_budget or limits.wall_seconds)


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
    allow_unsandboxed: bool = False,
    budget: float | None = None,
    rerun_all_cells: bool | None = None,
) -> GradeReport:
    """Grade every collected submission of the given assignments.

    Args:
        course: the course directory; its assignments must be released (in the gradebook).
        assignments: assignment names; None grades every released assignment.
        student: grade only this student's submissions; None grades every student in
            `submitted/`.
        jobs: submissions graded at the same time, each in its own one-thread process.
        timeout: seconds one cell may run before it is interrupted (its test then scores 0);
            None uses what each source notebook declares, else
            `autograder.course.DEFAULT_CELL_TIMEOUT`.
        progress: show a tqdm progress bar on stderr.
        require_sandbox: refuse any isolation but "sandbox" (the full sandbox is required
            anyway unless `allow_unsandboxed`; kept for scripts that pass it).
        scheduler: the address of a Dask scheduler (``tcp://host:8786``); None grades here.
        limits: the kernel's resource limits; by default `Limits()` with the memory cap sized
            so that `jobs` kernels fit in this machine (`kernel_memory_bytes`). The notebook's
            grading budget replaces `limits.wall_seconds`.
        sandbox: run kernels in bubblewrap (False only to measure its cost; it implies
            `allow_unsandboxed`).
        isolation: where the checks run, one of `ISOLATIONS`: "sandbox" (the student's code
            in a sandboxed kernel, the checks and verdicts in the grader) or "kernel" (every
            cell in the student's kernel, points from the test cells' outcomes, as nbgrader
            grades). None reads `CNN_COURSE_ISOLATION`, else uses "sandbox" with
            `require_sandbox` and `DEFAULT_ISOLATION` without.
        allow_unsandboxed: with isolation "sandbox", grade even where the full sandbox
            (bubblewrap and a process limit) is missing, with the limits only. Without it such
            a run refuses: `CourseError`, nothing graded (with a scheduler, each worker that
            lacks it scores its submissions 0, naming itself).
        budget: seconds a whole notebook may take; when it runs out, the submission's
            remaining cells are not run and every point not yet earned is 0. None uses what
            each source notebook declares, else `autograder.course.DEFAULT_BUDGET`.
        rerun_all_cells: run every cell of a submission; False runs only the cells its grades
            need and keeps the submitted outputs of the others, marked as not re-run
            (`autograder.isolation.needed`); None uses the course's setting
            (`Course.rerun_all_cells`, False unless set).

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
    if budget is not None and budget <= 0:
        raise ValueError(f"budget is in seconds per notebook and must be positive, got {budget}.")
    isolation = _isolation(isolation, require_sandbox)
    allow_unsandboxed = allow_unsandboxed or not sandbox
    if isolation == "sandbox" and os.name != "posix":
        raise CourseError(refusal())
    if isolation == "sandbox" and not allow_unsandboxed and scheduler is None:
        if not detect_protections().full:
            raise CourseError(refusal())
    if limits is None:
        try:
            limits = Limits(memory_bytes=kernel_memory_bytes(jobs))
        except ValueError as error:
            raise CourseError(str(error)) from None
    course.ensure()
    credit = course.near_miss_credit()
    rerun_all = course.rerun_all_cells() if rerun_all_cells is None else rerun_all_cells
    report = GradeReport(protections=_protection_lines(isolation, sandbox, limits, jobs))
    released = set(course.gradebook_assignments())
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
    times = {a: _budget(course, a, budget, timeout, limits) for a in wanted if a in released}
    todo: list[Job] = []
    for assignment in wanted:
        if assignment not in released:
            report.errors.append(
                f"assignment {assignment!r} is not in the gradebook {course.gradebook_path}. "
                f"Run `cnn-course release {assignment}` first."
            )
            continue
        for who in students:
            path = course.submission_path(who, assignment)
            if not path.is_file():
                report.results.append(
                    SubmissionResult(
                        assignment,
                        who,
                        str(path.relative_to(course.root)),
                        "missing",
                        reason=f"no submission of {assignment} (scores 0 in the export)",
                    )
                )
                continue
            seed = _read_seed(course.autograded_dir / who / assignment / SEED_FILE) or run_seed
            cell_timeout, seconds = times[assignment]
            todo.append(
                Job(
                    str(course.root),
                    assignment,
                    who,
                    seed,
                    cell_timeout,
                    isolation,
                    dataclasses.replace(limits, wall_seconds=seconds),
                    sandbox,
                    allow_unsandboxed,
                    credit,
                    rerun_all,
                )
            )

    executor = DaskCluster(scheduler) if scheduler is not None else ProcessPool(jobs)
    outcomes = run_jobs(todo, executor, progress)
    with course.lock(), Gradebook(course.db_url, "cnn-course") as gb:
        for job, outcome in zip(todo, outcomes, strict=True):
            if outcome.status != "graded":
                _record_not_runnable(course, gb, job.assignment, job.student, outcome.reason)
            submission = gb.find_submission(job.assignment, job.student)
            report.results.append(
                SubmissionResult(
                    job.assignment,
                    job.student,
                    str(
                        course.submission_path(job.student, job.assignment).relative_to(course.root)
                    ),
                    outcome.status,
                    score=submission.score - (submission.late_submission_penalty or 0),
                    max_score=submission.max_score,
                    reason=outcome.reason,
                    notes=outcome.notes,
                )
            )
    report.results.sort(key=lambda r: (r.assignment, r.student))
    return report


def _read_seed(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


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


# --- running the jobs: here, or on a cluster ----------------------------------------------------------

#: What a job that raised in its worker may mean: its process died (retried once) or not.
Result = Outcome | BaseException


class ProcessPool:
    """`jobs` local worker processes. Workers are forked from this process once nbgrader is
    imported here, so each starts in milliseconds instead of importing nbgrader again
    (seconds); elsewhere than Linux they are spawned. A process that dies breaks the pool, so
    every round of `run` gets a fresh one."""

    def __init__(self, jobs: int) -> None:
        self.jobs = jobs

    def died(self, error: BaseException) -> bool:
        from concurrent.futures.process import BrokenProcessPool

        return isinstance(error, BrokenProcessPool)

    def run(self, jobs: list[Job]) -> Iterator[tuple[int, Result]]:
        from concurrent.futures import ProcessPoolExecutor, as_completed

        import nbgrader.converters  # noqa: F401 (imported before the fork, see above)

        method = "fork" if sys.platform.startswith("linux") else "spawn"
        context = multiprocessing.get_context(method)
        with ProcessPoolExecutor(max_workers=min(self.jobs, len(jobs)), mp_context=context) as pool:
            futures = {pool.submit(grade_job, job): index for index, job in enumerate(jobs)}
            for future in as_completed(futures):
                try:
                    yield futures[future], future.result()
                except BaseException as error:  # reported to run_jobs, which decides
                    yield futures[future], error


class DaskCluster:
    """The workers of the Dask cluster at `address` (`dask scheduler`, then `dask worker
    ADDRESS --nthreads 1` on each machine)."""

    def __init__(self, address: str) -> None:
        self.address = address

    def died(self, error: BaseException) -> bool:
        from distributed.scheduler import KilledWorker

        return isinstance(error, KilledWorker)

    def run(self, jobs: list[Job]) -> Iterator[tuple[int, Result]]:
        try:
            from distributed import Client, as_completed
        except ImportError:
            raise CourseError(
                "grading on a cluster needs dask.distributed: pip install 'dask[distributed]'."
            ) from None
        try:
            client = Client(self.address, timeout=30)
        except OSError as error:
            raise CourseError(
                f"cannot reach the Dask scheduler at {self.address} ({error}). Start one with "
                "`dask scheduler` and workers with `dask worker ADDRESS --nthreads 1`."
            ) from None
        with client:
            futures = {
                client.submit(grade_job, job, pure=False): index for index, job in enumerate(jobs)
            }
            for future in as_completed(futures):
                try:
                    yield futures[future], future.result()
                except BaseException as error:  # reported to run_jobs, which decides
                    yield futures[future], error


def run_jobs(jobs: list[Job], executor: ProcessPool | DaskCluster, progress: bool) -> list[Outcome]:
    """Grade every job with `executor`; one retry and failure path for every executor.

    A job whose worker died is retried once (in a fresh round), then reported as not
    runnable; a job that raised for another reason (a bug in grading itself) is reported at
    once. The batch always goes on.
    """
    from tqdm.auto import tqdm

    outcomes: list[Outcome | None] = [None] * len(jobs)
    attempts = [0] * len(jobs)
    pending = list(range(len(jobs)))
    bar = None  # made once the first workers are forked: tqdm's monitor is a thread
    while pending:
        retry = []
        for position, result in executor.run([jobs[i] for i in pending]):
            index = pending[position]
            if isinstance(result, Outcome):
                outcomes[index] = result
            elif executor.died(result) and attempts[index] == 0:
                attempts[index] += 1
                retry.append(index)
                continue
            elif executor.died(result):
                outcomes[index] = not_runnable("the grading process died twice while running it")
            else:
                outcomes[index] = not_runnable(
                    f"grading failed ({type(result).__name__}: {result})"
                )
            if bar is None:
                bar = tqdm(
                    total=len(jobs), desc="autograde", unit="submission", disable=not progress
                )
            bar.update(1)
        pending = sorted(retry)
    if bar is not None:
        bar.close()
    return outcomes  # type: ignore[return-value]


# --- the worker: one submission -------------------------------------------------------------------


def grade_job(job: Job) -> Outcome:
    """Grade one submission with nbgrader's Autograde, in this process (a worker).

    With isolation "sandbox" the student's code runs in a sandboxed kernel and the tests here;
    with "kernel" nbgrader's own Execute runs every cell in the student's kernel."""
    from nbgrader.api import Gradebook
    from nbgrader.converters import Autograde
    from nbgrader.converters.base import NbGraderException
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.utils import setenv

    course = Course(job.root)
    path = course.submission_path(job.student, job.assignment)
    dest = course.autograded_dir / job.student / job.assignment
    reason = _unreadable(path)
    if reason:
        return not_runnable(reason)
    if job.isolation == "sandbox" and not job.allow_unsandboxed and not detect_protections().full:
        # On a cluster, each worker checks for itself (the scheduler's machine may differ).
        where = f"the worker {socket.gethostname()}"
        return not_runnable(
            refusal(where).splitlines()[0]
            + " "
            + " ".join(
                line.strip() for line in refusal(where).splitlines()[1:] if line.startswith("  - ")
            )
        )
    lock = course.lock()
    config = _nbgrader_config(course, job, lock)
    log, errors = _quiet_log(f"autograder.grade.{job.student}.{job.assignment}")
    # The seed is set in this (the grading) process only; the sandboxed kernel gets
    # ONE_THREAD_ENV. With isolation "kernel" the checks run in the kernel, which inherits it.
    env = {HIDDEN_SEED_VARIABLE: str(job.seed), **ONE_THREAD_ENV}
    if job.isolation == "kernel":
        env["PYTHONPATH"] = _kernel_path()
    with lock:
        try:
            converter = Autograde(coursedir=CourseDirectory(config=config), config=config, log=log)
            with setenv(**env):
                converter.start()
        except NbGraderException:
            return not_runnable(_reason_from_log(errors.messages))
        except Exception as error:
            return not_runnable(f"nbgrader could not grade it ({type(error).__name__}: {error})")

    dest.mkdir(parents=True, exist_ok=True)
    (dest / SEED_FILE).write_text(f"{job.seed}\n")
    graded = dest / f"{job.assignment}.ipynb"
    if not graded.is_file():
        return not_runnable("nbgrader wrote no autograded notebook for it")
    if job.isolation == "kernel":
        # The checks ran in the student's kernel and printed their near misses there.
        verdicts = _near_misses_in(graded)
        notes = _timeout_notes(graded, job.timeout)
    else:
        try:
            found = json.loads((dest / VERDICTS_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return not_runnable("nbgrader wrote no verdicts for it")
        verdicts, notes = found["verdicts"], found["notes"]
    with lock, Gradebook(course.db_url, "cnn-course") as gb:
        record_verdicts(
            gb, job.assignment, job.student, job.assignment, verdicts, job.near_miss_credit
        )
    return Outcome("graded", notes=notes)


def record_verdicts(
    gb,
    assignment: str,
    student: str,
    notebook: str,
    verdicts: list[dict],
    near_miss_credit: float = 0.5,
) -> None:
    """Write the grader's verdicts into nbgrader's gradebook (auto_score of each test cell):
    its score, or for a test cell that passed with a near miss, ``near_miss_credit`` of its
    points."""
    for verdict in verdicts:
        try:
            grade = gb.find_grade(verdict["grade_id"], notebook, assignment, student)
        except Exception:
            continue
        score = verdict["score"]
        if verdict.get("near_miss") and score:
            score = round(score * near_miss_credit, 6)
        grade.auto_score = score
        grade.needs_manual_grade = False
    gb.db.commit()


def _near_misses_in(graded: Path) -> list[dict]:
    """The verdicts of the test cells of a notebook graded in the student's kernel that passed
    with a near miss, read from what their checks printed (in that isolation, as everything,
    the student's own process could forge it; it can only lower the score)."""
    import nbformat

    found = []
    for cell in nbformat.read(str(graded), as_version=4).cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or not meta.get("grade") or meta.get("solution"):
            continue
        outputs = cell.get("outputs", [])
        if any(o.get("output_type") == "error" for o in outputs):
            continue
        text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
        lines = [line for line in text.splitlines() if NEAR_MISS_LINE.match(line)]
        if lines:
            ids = HINT_ID.findall(text)
            points = float(meta.get("points", 0) or 0)
            found.append({"grade_id": meta["grade_id"], "score": points, "near_miss": ids or lines})
    return found


def _nbgrader_config(course: Course, job: Job, lock: GradebookLock):
    """The configuration of nbgrader's Autograde for one job: the course's, forced, this
    student and assignment, and the pipeline of the job's isolation."""
    from nbgrader.coursedir import CourseDirectory

    config = course.nbgrader_config(timeout=job.timeout, force=True)
    config.CourseDirectory.assignment_id = job.assignment
    config.CourseDirectory.student_id = job.student
    # A file of the submission's folder named like the grader's verdicts is never copied.
    config.CourseDirectory.ignore = [*CourseDirectory().ignore, VERDICTS_FILE]
    # The outputs of the cells no grade needs are kept, not cleared (unless all are rerun).
    config.Autograde.sanitize_preprocessors = sanitizing()
    config.ClearOutputsToRun.rerun_all = job.rerun_all
    if job.isolation == "kernel":
        config.Execute.timeout = job.timeout
        config.Execute.error_on_timeout = {
            "ename": TIMEOUT_ERROR_NAME,
            "evalue": f"timed out after {job.timeout} s",
            "traceback": [
                f"{TIMEOUT_ERROR_NAME}: timed out after {job.timeout} s (the cell was stopped)"
            ],
        }
        # The kernel's own start-up warnings (e.g. about its transport) are noise here.
        config.Execute.extra_arguments = [
            "--HistoryManager.hist_file=:memory:",
            "--IPKernelApp.log_level=ERROR",
        ]
        config.ExecuteOutsideLock.lock = lock
        config.ExecuteOutsideLock.budget = int(job.limits.wall_seconds)
        config.Autograde.autograde_preprocessors = pipeline(ExecuteOutsideLock)
    else:
        config.ExecuteOutOfProcess.timeout = job.timeout
        config.ExecuteOutOfProcess.limits = job.limits
        config.ExecuteOutOfProcess.sandbox = job.sandbox
        config.ExecuteOutOfProcess.lock = lock
        config.Autograde.autograde_preprocessors = pipeline(ExecuteOutOfProcess)
    return config


def _quiet_log(name: str) -> tuple[logging.Logger, _ListHandler]:
    """A logger that keeps nbgrader's errors for the report and shows nothing."""
    log = logging.getLogger(name)
    log.propagate = False
    log.setLevel(logging.ERROR)
    errors = _ListHandler()
    log.handlers[:] = [errors]
    logging.getLogger("traitlets").setLevel(logging.CRITICAL)
    # nbgrader's gradebook code trips SQLAlchemy's session warnings; they are not about the
    # submission and would drown the progress bar.
    warnings.filterwarnings("ignore", module="sqlalchemy")
    warnings.filterwarnings("ignore", module="nbgrader")
    return log, errors


def _timeout_notes(graded: Path, timeout: int) -> list[str]:
    """ "cell N (grade id) timed out after T s" for each cell nbgrader stopped at its timeout,
    and once, where the grading budget ran out, why the cells after it did not run."""
    import nbformat

    notes: list[str] = []
    nb = nbformat.read(str(graded), as_version=4)
    # Numbered as in the student's notebook: without the rubric cells autograde added.
    cells = [cell for cell in nb.cells if RUBRIC_MARKER not in cell.metadata]
    for index, cell in enumerate(cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error" and output.get("ename") == TIMEOUT_ERROR_NAME:
                evalue = output.get("evalue", "")
                if evalue.startswith("not run: "):
                    note = "timed out: " + evalue.removeprefix("not run: ")
                    if note not in notes:
                        notes.append(note)
                    break
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
