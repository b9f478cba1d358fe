"""nbgrader's autograde pipeline as grading runs it, with the course's preprocessors.

nbgrader's ``Autograde`` converter runs a list of preprocessors over each submission. Grading
replaces two of its steps and adds three:

- ``ClearOutputsToRun`` (in ``_sanitizing``, in place of ClearOutput): clears the outputs of
  the cells grading runs and keeps the others' (``autograder.isolation.needed``);
- ``ExecuteOutOfProcess`` (isolation "sandbox", in place of Execute): the student's cells in a
  sandboxed kernel, the test cells in the grader (``autograder.isolation.verdicts``);
  ``ExecuteOutsideLock`` (isolation "kernel"): nbgrader's Execute within the notebook's budget;
  both release the gradebook lock while the notebook runs;
- ``UndefinedNames``: a NameError in a test cell names the earlier cell that failed to define it;
- ``HonestStderr``: stderr from correct code does not cost a test cell its points;
- ``ShowRubrics``: the written answers' model answers and rubrics, for formgrader.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

from nbgrader.preprocessors import Execute, NbGraderPreprocessor
from traitlets import Any, Bool, Integer

from autograder.course import (
    DEFAULT_BUDGET,
    DEFAULT_CELL_TIMEOUT,
    TIMEOUT_ERROR_NAME,
    VERDICTS_FILE,
    GradebookLock,
)
from autograder.isolation.needed import ClearOutputsToRun, is_kept
from autograder.isolation.sandbox import Limits
from autograder.isolation.verdicts import grade_notebook
from autograder.rubrics import ShowRubrics

__all__ = [
    "ONE_THREAD_ENV",
    "ExecuteOutOfProcess",
    "ExecuteOutsideLock",
    "HonestStderr",
    "UndefinedNames",
    "pipeline",
    "sanitizing",
]

# Threads per grading process (and its kernel): side-by-side workers must not oversubscribe.
ONE_THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
}


@contextlib.contextmanager
def _released(lock: GradebookLock | None) -> Iterator[None]:
    """Release the gradebook lock for the block (the notebook runs; nobody writes)."""
    if lock is not None:
        lock.release()
    try:
        yield
    finally:
        if lock is not None:
            lock.acquire()


class ExecuteOutOfProcess(NbGraderPreprocessor):
    """In place of nbgrader's Execute: the student's cells run in a sandboxed kernel and the
    test cells here (`autograder.isolation.verdicts`), outside the gradebook lock. The
    verdicts go to `verdicts.json` beside the autograded notebook, for `grade_job` to record."""

    timeout = Integer(DEFAULT_CELL_TIMEOUT, help="Seconds one cell may run.").tag(config=True)
    sandbox = Bool(True, help="Run the kernel in bubblewrap where it works.").tag(config=True)
    limits = Any(None, help="The kernel's resource limits (a Limits).").tag(config=True)
    lock = Any(None, help="The gradebook lock, released while the notebook runs.").tag(config=True)

    def preprocess(self, nb, resources):
        folder = Path(resources.get("metadata", {}).get("path") or ".").resolve()
        with _released(self.lock):
            result = grade_notebook(
                nb,
                folder,
                timeout=self.timeout,
                limits=self.limits or Limits(),
                env=dict(ONE_THREAD_ENV),
                sandbox=self.sandbox,
            )
        verdicts = {
            "verdicts": [{**asdict(v), "score": v.score} for v in result.verdicts],
            "notes": result.notes,
            "kernel_lost": result.kernel_lost,
        }
        resources.setdefault("outputs", {})[VERDICTS_FILE] = json.dumps(verdicts, indent=1).encode()
        return nb, resources


class ExecuteOutsideLock(Execute):
    """nbgrader's Execute (every cell in the student's kernel), releasing the gradebook lock
    while the kernel runs, within the notebook's grading budget: each cell may run for the
    cell timeout or what is left of the budget, whichever is less; once the budget is used up,
    the cells after it are not run (a code cell gets a timeout error, so its test scores 0)."""

    lock = Any(None, help="The gradebook lock, released while the notebook runs.").tag(config=True)
    budget = Integer(DEFAULT_BUDGET, help="Seconds the whole notebook may take.").tag(config=True)

    def preprocess(self, nb, resources, km=None):
        self._cell_timeout = self.timeout
        self._deadline = time.monotonic() + self.budget
        self._spent_in: str | None = None
        with _released(self.lock):
            return super().preprocess(nb, resources, km=km)

    def preprocess_cell(self, cell, resources, index):
        if is_kept(cell):  # no grade needs it: it keeps its submitted outputs
            return cell, resources
        if cell.cell_type != "code":
            return super().preprocess_cell(cell, resources, index)
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        label = f"cell {index + 1}" + (f" ({grade_id})" if grade_id else "")
        left = self._deadline - time.monotonic()
        if self._spent_in is None and left <= 0:
            self._spent_in = label
        if self._spent_in is not None:
            message = (
                f"not run: the notebook used up its grading budget of {self.budget} s in "
                f"{self._spent_in}"
            )
            cell.outputs = [_timeout_error(message)]
            return cell, resources
        self.timeout = max(1, int(min(self._cell_timeout, left)))
        cell, resources = super().preprocess_cell(cell, resources, index)
        timed_out = any(o.get("ename") == TIMEOUT_ERROR_NAME for o in cell.get("outputs", []))
        if timed_out and left < self._cell_timeout:
            self._spent_in = label
        return cell, resources


def _timeout_error(message: str):
    from nbformat.v4 import new_output

    return new_output(
        "error",
        ename=TIMEOUT_ERROR_NAME,
        evalue=message,
        traceback=[f"{TIMEOUT_ERROR_NAME}: {message}"],
    )


class HonestStderr(NbGraderPreprocessor):
    """Turn stderr streams of grade cells into stdout, so that a warning or a message on
    stderr from correct code does not cost the cell its points (nbgrader scores any stderr
    output 0). A failing check raises, which still scores 0."""

    def preprocess_cell(self, cell, resources, index):
        from nbgrader.utils import is_grade

        if cell.cell_type == "code" and is_grade(cell):
            for output in cell.outputs:
                if output.output_type == "stream" and output.name == "stderr":
                    output.name = "stdout"
        return cell, resources


_UNDEFINED = re.compile(r"name '([A-Za-z_][A-Za-z0-9_]*)' is not defined")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class UndefinedNames(NbGraderPreprocessor):
    """Where a test cell failed with "NameError: name 'X' is not defined" (its own, or a check's
    report of one its function raised), and the earlier code cell that defines X failed, add to
    the test cell's error which cell that is and what it failed with: "X is defined by cell N
    (grade id), which failed with ValueError: ...; fix that cell first". The earlier cell is
    found by reading the notebook's source (``autograder.isolation.source.binds``): the nearest
    code cell above the test cell that binds X and whose outputs hold an error."""

    def preprocess(self, nb, resources):
        from nbgrader.utils import is_grade, is_solution

        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code" or not is_grade(cell) or is_solution(cell):
                continue
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    _explain_undefined(nb.cells[:index], output)
        return nb, resources


def _explain_undefined(earlier: list, output) -> None:
    """Add the note of ``UndefinedNames`` to one error output, when it applies."""
    from autograder.isolation.source import binds, cell_text

    evalue = str(output.get("evalue", ""))
    found = _UNDEFINED.search(evalue)
    name_error = output.get("ename") == "NameError" or "raised NameError: " in evalue
    if found is None or not name_error or " is defined by cell " in evalue:
        return
    name = found.group(1)
    for index in range(len(earlier) - 1, -1, -1):
        cell = earlier[index]
        if cell.cell_type != "code" or not binds(cell_text(cell.source), name):
            continue
        error = next((o for o in cell.get("outputs", []) if o.get("output_type") == "error"), None)
        if error is None:
            continue
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        label = f"cell {index + 1}" + (f" ({grade_id})" if grade_id else "")
        message = (_ANSI.sub("", str(error.get("evalue", ""))).strip().splitlines() or [""])[0]
        failed = f"{error.get('ename', 'an error')}: {message}" if message else error.get("ename")
        note = f"{name} is defined by {label}, which failed with {failed}; fix that cell first."
        if output.get("ename") == "NameError":
            output["evalue"] = f"{evalue}: {note}"
        else:  # a check's diagnosis: the note goes below the line that reports the NameError
            lines = evalue.splitlines()
            at = next(i for i, line in enumerate(lines) if found.group(0) in line)
            output["evalue"] = "\n".join([*lines[: at + 1], f"  {note}", *lines[at + 1 :]])
        output["traceback"] = [*output.get("traceback", []), note]
        return


def sanitizing() -> list[type]:
    """nbgrader's sanitising step, with `ClearOutputsToRun` after OverwriteCells in place of
    its ClearOutput (which clears every output)."""
    from nbgrader.preprocessors import (
        CheckCellMetadata,
        DeduplicateIds,
        OverwriteCells,
        OverwriteKernelspec,
    )

    return [
        DeduplicateIds,
        OverwriteKernelspec,
        OverwriteCells,
        ClearOutputsToRun,
        CheckCellMetadata,
    ]


def pipeline(execute: type) -> list[type]:
    """nbgrader's autograde pipeline with `execute` in place of its Execute, then the origin of
    undefined names and honest stderr, before the grades are saved."""
    from nbconvert.preprocessors import ClearMetadataPreprocessor
    from nbgrader.preprocessors import (
        AssignLatePenalties,
        CheckCellMetadata,
        IgnorePattern,
        LimitOutput,
        SaveAutoGrades,
    )

    return [
        execute,
        UndefinedNames,
        HonestStderr,
        IgnorePattern,
        ClearMetadataPreprocessor,
        LimitOutput,
        SaveAutoGrades,
        AssignLatePenalties,
        ShowRubrics,  # the model answer and rubric after each written answer, for formgrader
        CheckCellMetadata,
    ]
