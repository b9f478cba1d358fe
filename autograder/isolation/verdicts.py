"""Grading one notebook out of the student's process: run its cells in a sandboxed kernel, run
its test cells in the grader, and decide each test cell's points here.

How a notebook is graded (``grade_notebook``):

1. The kernel (``autograder.kernel``, inside the sandbox of ``sandbox``) starts in a copy of
   the submission's folder. The grader sends it every code cell that is not a test cell, in order,
   and keeps the outputs for the feedback. A cell that runs past its deadline is interrupted.
2. A test (autograded grade) cell is NOT run in the kernel. Its source is the instructor's
   (nbgrader has already put back the source notebook's version, hidden tests included). The
   grader reads which names the cell uses; names the notebook's locked cells import
   (``math``, ``np``, ``from course_utils.train import evaluate``) are imported here, and the
   others (the student's functions, classes and values) are asked from the kernel AT THAT
   POINT of the notebook: plain data arrives as itself, functions and other objects as
   proxies (``autograder.kernel.wire.Remote``). The cell then runs in the grader: every check
   calls the proxies, the kernel calls the real functions, and only plain data comes back.
   Hidden cases are drawn here, from the grader's seed; their expected answers and the check
   code never reach the kernel.
3. The verdict of a test cell is the grader's: it passes when the cell ran without an
   exception here. ``autograder.grade`` writes the points into nbgrader's gradebook, so
   formgrader, feedback and export read the grader's decision and never the kernel's outputs.
   A kernel that dies, runs out of time or breaks the protocol scores 0 on every test cell
   still to come, with the reason in the notebook and in the report.

The checks see the proxies through ``proxies.ProxySubject``: the banned-library rule reads the
student's source, and the guard, the line count and the measurements run in the kernel.
"""

from __future__ import annotations

import ast
import base64
import builtins
import contextlib
import io
import os
import shutil
import socket
import tempfile
import time
import traceback
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autograder.checks._engine import NEAR_MISSES, Difference, difference_png
from autograder.course import KERNEL_LOST_ERROR_NAME, TIMEOUT_ERROR_NAME
from autograder.isolation.client import KernelClient
from autograder.isolation.needed import is_kept
from autograder.isolation.proxies import proxy_subjects
from autograder.isolation.sandbox import KernelProcess, Limits
from autograder.isolation.source import cell_text, free_names, locked_imports, python_source
from autograder.kernel.main import OUTPUT_LIMIT_VARIABLE
from autograder.kernel.wire import CallTimeout, KernelLost, Remote

START_SECONDS = 120.0


@dataclass
class Verdict:
    """The grader's decision on one test cell.

    Attributes:
        grade_id: the cell's nbgrader id.
        points: what the cell is worth; ``score`` is ``points`` when it passed, else 0.
        passed: the cell ran without an exception in the grader.
        reason: for a failed cell, the first line of what went wrong.
        timed_out: the cell was stopped at its deadline.
        near_miss: the hint identifiers of the near misses a passed cell's checks found
            (it earns the course's share of its points, ``autograder.grade.record_verdicts``).
    """

    grade_id: str
    points: float
    passed: bool
    reason: str = ""
    timed_out: bool = False
    near_miss: list[str] = field(default_factory=list)

    @property
    def score(self) -> float:
        """The points before any near-miss share: ``points`` when it passed, else 0."""
        return self.points if self.passed else 0.0


@dataclass
class NotebookResult:
    """What grading one notebook gave: the verdicts, and notes for the instructor."""

    verdicts: list[Verdict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    kernel_lost: str | None = None
    timed_out: str | None = None  # the cell in which the grading budget ran out


# --- running a test cell in the grader -------------------------------------------------------------


@contextlib.contextmanager
def _warnings_shown_in(stream: io.StringIO) -> Iterator[None]:
    """Within the block, every warning (the student's, repeated by the client) is written to
    ``stream`` as the notebook would show it, whatever this process's warning filters and
    handlers are (a worker forked from a test runner inherits the runner's)."""

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        stream.write(warnings.formatwarning(message, category, filename, lineno, line))

    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = show
        yield


def _difference_output(difference: Difference | None) -> dict | None:
    """The heat map of where a failed check's array answer differs, as the display output
    the notebook shows above the diagnosis (as the check shows it in the student's own
    notebook)."""
    png = difference_png(difference) if isinstance(difference, Difference) else None
    if png is None:
        return None
    return {
        "output_type": "display_data",
        "data": {
            "image/png": base64.b64encode(png).decode("ascii"),
            "text/plain": f"<where {difference.what} differs>",
        },
        "metadata": {},
    }


def _error_output(ename: str, evalue: str, lines: list[str]) -> dict:
    return {"output_type": "error", "ename": ename, "evalue": evalue, "traceback": lines}


def _timeout_output(seconds: float) -> dict:
    message = f"timed out after {seconds:g} s"
    return _error_output(
        TIMEOUT_ERROR_NAME, message, [f"{TIMEOUT_ERROR_NAME}: {message} (the cell was stopped)"]
    )


def _traceback_lines(error: BaseException, filename: str) -> list[str]:
    """The frames of the test cell only, then the exception: no grader internals."""
    frames = [
        frame for frame in traceback.extract_tb(error.__traceback__) if frame.filename == filename
    ]
    lines = ["Traceback (most recent call last):"]
    for frame in frames:
        lines.append(f'  Cell "{frame.filename}", line {frame.lineno}')
        if frame.line:
            lines.append(f"    {frame.line}")
    lines.append(f"{type(error).__name__}: {error}")
    return lines


def run_test_cell(
    client: KernelClient,
    source: str,
    grade_id: str,
    points: float,
    imports: dict[str, ast.stmt],
    earlier_sources: list[str],
    timeout: float,
) -> tuple[Verdict, list[dict]]:
    """Run one test cell in the grader against the kernel's current names.

    Returns the verdict and the cell's outputs (what it printed, or the error).
    """
    filename = f"<test cell {grade_id}>"
    try:
        tree = ast.parse(python_source(source), filename=filename)
    except SyntaxError as error:
        message = f"the test cell is not valid Python ({error.msg}, line {error.lineno})"
        return Verdict(grade_id, points, False, message), [
            _error_output("SyntaxError", message, [message])
        ]
    namespace: dict[str, Any] = {"__name__": "__cnn_course_test__", "__builtins__": builtins}
    wanted = free_names(tree)
    grader_side = [n for n in wanted if n in imports]
    for name in grader_side:
        exec(compile(ast.Module([imports[name]], []), "<locked imports>", "exec"), namespace)
    captured = io.StringIO()
    outputs: list[dict] = []
    verdict = Verdict(grade_id, points, True)
    NEAR_MISSES.clear()
    try:
        with client.deadline(timeout) as state:
            values = client.snapshot([n for n in wanted if n not in grader_side])
            namespace.update(values)
            variables = {id(v): k for k, v in values.items() if isinstance(v, Remote)}
            with (
                proxy_subjects(variables, earlier_sources),
                contextlib.redirect_stdout(captured),
                contextlib.redirect_stderr(captured),
                _warnings_shown_in(captured),
            ):
                exec(compile(tree, filename, "exec"), namespace)
    except CallTimeout:
        verdict = Verdict(grade_id, points, False, f"timed out after {timeout:g} s", True)
        outputs.append(_timeout_output(timeout))
    except KernelLost as lost:
        verdict = Verdict(grade_id, points, False, str(lost))
        outputs.append(
            _error_output(KERNEL_LOST_ERROR_NAME, str(lost), [f"{KERNEL_LOST_ERROR_NAME}: {lost}"])
        )
    except BaseException as error:  # every failure of the cell is its verdict
        if isinstance(error, KeyboardInterrupt):
            raise
        first = (str(error).strip().splitlines() or [""])[0]
        verdict = Verdict(grade_id, points, False, f"{type(error).__name__}: {first}"[:300])
        picture = _difference_output(getattr(error, "difference", None))
        outputs.extend([picture] if picture else [])
        outputs.append(
            _error_output(type(error).__name__, str(error), _traceback_lines(error, filename))
        )
    else:
        if state["interrupted"]:
            verdict = Verdict(grade_id, points, False, f"timed out after {timeout:g} s", True)
            outputs.append(_timeout_output(timeout))
        elif NEAR_MISSES:
            verdict = Verdict(grade_id, points, True, near_miss=list(dict.fromkeys(NEAR_MISSES)))
    NEAR_MISSES.clear()
    if captured.getvalue():
        outputs.insert(0, {"output_type": "stream", "name": "stdout", "text": captured.getvalue()})
    if client.lost is None:
        with contextlib.suppress(KernelLost, CallTimeout), client.deadline(30):
            client.release()
    return verdict, outputs


# --- one notebook -------------------------------------------------------------------------------------


def _is_test_cell(cell) -> bool:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return cell.get("cell_type") == "code" and bool(meta.get("grade")) and not meta.get("solution")


def _cap_outputs(outputs: list, limit: int) -> list:
    """Keep outputs within ``limit`` characters of text in all (the kernel's own cap may lie)."""
    kept, left = [], limit
    for output in outputs if isinstance(outputs, list) else []:
        if not isinstance(output, dict) or output.get("output_type") not in (
            "stream",
            "display_data",
            "execute_result",
            "error",
        ):
            continue
        size = len(str(output))
        if size > left:
            kept.append(
                {
                    "output_type": "stream",
                    "name": "stdout",
                    "text": "[output truncated: limit reached]\n",
                }
            )
            break
        left -= size
        kept.append(output)
    return kept


def kernel_folder(submission_dir: Path) -> Path:
    """A fresh copy of the submission's folder for the kernel to start in, without any notebook.

    The folder nbgrader hands to the execute step holds the notebook being graded, whose test
    cells are the source's, hidden tests included. The kernel is sent the student's cells one by
    one and needs no notebook file, so none is copied: nothing the student's code can read holds
    the hidden tests. Other files of the submission (data a notebook reads) are copied.
    """
    folder = Path(tempfile.mkdtemp(prefix="cnn-course-submission-"))
    shutil.copytree(
        submission_dir, folder, dirs_exist_ok=True, ignore=shutil.ignore_patterns("*.ipynb")
    )
    return folder


def grade_notebook(
    nb,
    submission_dir: Path,
    *,
    timeout: float,
    limits: Limits,
    env: dict[str, str],
    sandbox: bool = True,
) -> NotebookResult:
    """Grade ``nb`` (an nbformat notebook whose locked and test cells are the source's) with a
    kernel started in a copy of ``submission_dir`` (its notebooks left out, see
    ``kernel_folder``). Fills in the cells' outputs; returns the verdict of every test cell.

    ``timeout`` bounds each cell; ``limits.wall_seconds`` is the notebook's grading budget: when
    it runs out, the cell that is running is stopped, the kernel is killed, the cells after it
    are not run and every test cell not yet passed scores 0, with the cell named in the reason.
    """
    import nbformat

    result = NotebookResult()
    ours, theirs = socket.socketpair()
    interrupt_read, interrupt_write = os.pipe()
    kernel_env = dict(env)
    kernel_env[OUTPUT_LIMIT_VARIABLE] = str(limits.output_bytes)
    kernel_env.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    kernel_env.setdefault("PYTHONHASHSEED", "0")
    kernel_env.setdefault("LANG", "C.UTF-8")
    folder = kernel_folder(submission_dir)
    kernel = KernelProcess(
        folder,
        ["-m", "autograder.kernel", str(theirs.fileno()), str(interrupt_read)],
        kernel_env,
        (theirs.fileno(), interrupt_read),
        limits,
        sandbox=sandbox,
    )
    theirs.close()
    os.close(interrupt_read)

    def interrupt() -> None:
        with contextlib.suppress(OSError):
            os.write(interrupt_write, b"!")

    client = KernelClient(ours, interrupt, kernel.ended)
    budget = limits.wall_seconds
    deadline = time.monotonic() + budget
    imports = locked_imports(nb.cells)
    sources: list[str] = []

    def out_of_budget(label: str) -> None:
        """The budget ran out in the cell ``label``: stop the notebook there."""
        client.lost = (
            f"timed out: the notebook used up its grading budget of {budget:g} s in {label}"
        )
        result.timed_out = label
        kernel.kill()

    try:
        try:
            client.wait_ready(START_SECONDS)
        except KernelLost as lost:
            client.lost = str(lost)
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code" or is_kept(cell):  # kept: no grade needs it
                continue
            meta = cell.metadata.get("nbgrader", {})
            label = f"cell {index + 1}" + (f" ({meta['grade_id']})" if meta.get("grade_id") else "")
            left = deadline - time.monotonic()
            if client.lost is None and left <= 0:
                out_of_budget(label)
            # The cell's own timeout, or what is left of the budget when that is less.
            cell_timeout = max(0.1, min(timeout, left))
            budget_ends_here = left < timeout
            if _is_test_cell(cell):
                points = float(meta.get("points", 0) or 0)
                if client.lost is not None:
                    verdict = Verdict(meta.get("grade_id", label), points, False, client.lost)
                    outputs = [
                        _error_output(
                            KERNEL_LOST_ERROR_NAME,
                            client.lost,
                            [f"{KERNEL_LOST_ERROR_NAME}: {client.lost} (this test scores 0)"],
                        )
                    ]
                else:
                    verdict, outputs = run_test_cell(
                        client,
                        cell_text(cell.source),
                        meta.get("grade_id", label),
                        points,
                        imports,
                        list(sources),
                        cell_timeout,
                    )
                    if verdict.timed_out and budget_ends_here:
                        out_of_budget(label)
                    elif verdict.timed_out:
                        result.notes.append(f"{label} timed out after {cell_timeout:g} s")
                result.verdicts.append(verdict)
            else:
                sources.append(cell_text(cell.source))
                if client.lost is not None:
                    outputs = []
                else:
                    try:
                        with client.deadline(cell_timeout) as state:
                            outputs = _cap_outputs(
                                client.run_cell(cell_text(cell.source)), limits.output_bytes
                            )
                        if state["interrupted"]:
                            outputs = [o for o in outputs if o.get("output_type") != "error"]
                            outputs.append(_timeout_output(cell_timeout))
                            if budget_ends_here:
                                out_of_budget(label)
                            else:
                                result.notes.append(f"{label} timed out after {cell_timeout:g} s")
                    except KernelLost as lost:
                        outputs = [
                            _error_output(
                                KERNEL_LOST_ERROR_NAME,
                                str(lost),
                                [f"{KERNEL_LOST_ERROR_NAME}: {lost}"],
                            )
                        ]
            cell.outputs = [
                nbformat.from_dict(o) for o in _cap_outputs(outputs, limits.output_bytes)
            ]
        result.kernel_lost = client.lost
        if client.lost:
            result.notes.append(client.lost)
        else:
            client.shutdown()
    finally:
        kernel.kill()
        ours.close()
        os.close(interrupt_write)
        shutil.rmtree(folder, ignore_errors=True)
    return result
