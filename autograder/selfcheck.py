"""A student's self-check: run a notebook top to bottom and print a score card.

`cnn-course check NOTEBOOK` (or `check_notebook(path)`) needs no nbgrader: it runs the notebook
with nbclient, which every Jupyter installation (JupyterLab, Colab) brings along, in a fresh
kernel started in the notebook's folder. Each test (grade) cell of the notebook is then read:
it passes when it ran without an error, and otherwise the first line of its diagnosis is shown.
Only the visible tests are in a student's notebook; hidden tests run when the instructor grades,
so the self-check total is what the visible tests give, not a promise of the final grade.
Written answers (manually graded cells) are listed with their points, graded by hand.
Warnings and anything printed to stderr never cost points here either.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from autograder.course import NEAR_MISS_CREDIT, CourseError, UsageError

# Seconds one cell may run before the self-check interrupts it and moves on.
DEFAULT_TIMEOUT = 600

_TEST_TITLE = re.compile(r"#\s*Tests? for\s+(?P<name>[^\s(]+)")


@dataclass
class ExerciseResult:
    """The outcome of one graded cell.

    Attributes:
        exercise: the function tested (from the cell's "# Tests for NAME" line) or the grade id.
        max_points: what the cell is worth.
        points: points earned (None for an answer graded by hand).
        diagnosis: "pass", the first line of the failure, or "graded by hand".
    """

    exercise: str
    max_points: float
    points: float | None
    diagnosis: str

    @property
    def manual(self) -> bool:
        return self.points is None


@dataclass
class ScoreCard:
    """Every graded cell of one notebook with its outcome, and the totals."""

    notebook: Path
    results: list[ExerciseResult] = field(default_factory=list)

    @property
    def total(self) -> float:
        """Points earned on the autograded tests."""
        return sum(result.points for result in self.results if not result.manual)

    @property
    def max_total(self) -> float:
        """Points available on the autograded tests."""
        return sum(result.max_points for result in self.results if not result.manual)

    @property
    def manual_points(self) -> float:
        """Points of the written answers, graded by hand."""
        return sum(result.max_points for result in self.results if result.manual)

    @property
    def ok(self) -> bool:
        """True when every autograded test passes."""
        return all(result.diagnosis == "pass" for result in self.results if not result.manual)

    def lines(self) -> list[str]:
        """The score card as printed: one line per graded cell, then the total."""
        lines = [f"{self.notebook.name}: self-check (visible tests; hidden tests run at grading)"]
        if not self.results:
            lines.append("  no graded cells in this notebook; is it a course notebook?")
            return lines
        width = max(len(result.exercise) for result in self.results)
        for result in self.results:
            earned = "-" if result.manual else f"{result.points:g}"
            score = f"{earned}/{result.max_points:g}"
            lines.append(f"  {result.exercise:<{width}}  {score:>7}  {result.diagnosis}")
        total = f"{self.total:g}/{self.max_total:g}"
        lines.append(f"  {'total':<{width}}  {total:>7}")
        if self.manual_points:
            points = f"{self.manual_points:g} point" + ("" if self.manual_points == 1 else "s")
            lines.append(f"  (plus {points} of written answers, graded by hand)")
        return lines

    def __str__(self) -> str:
        return "\n".join(self.lines())


def _import_jupyter():
    try:
        import nbclient
        import nbformat
    except ImportError as error:
        raise CourseError(
            f"the self-check needs nbformat and nbclient, which come with Jupyter ({error}). "
            "Install them with: pip install nbclient nbformat"
        ) from error
    return nbformat, nbclient


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


def _diagnosis(cell) -> str:
    """'pass', or the first line of the error the cell raised."""
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            name, value = output.get("ename", "Error"), _first_line(output.get("evalue", ""))
            if name == "NotImplementedError" and not value:
                return "not implemented yet (NotImplementedError)"
            if name == "AssertionError" and value:
                return value
            return f"{name}: {value}" if value else name
    if cell.get("execution_count") is None:
        return "did not run"
    for output in cell.get("outputs", []):
        for line in str(output.get("text", "")).splitlines():
            if ": near miss on case " in line:
                return line.strip()
    return "pass"


def _exercise_name(cell, grade_id: str) -> str:
    match = _TEST_TITLE.match(cell.get("source", "").lstrip())
    return match.group("name") if match else grade_id


def score_notebook(notebook) -> list[ExerciseResult]:
    """Read the graded cells of an executed notebook (an nbformat NotebookNode)."""
    results = []
    for cell in notebook.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if not meta.get("grade"):
            continue
        grade_id = meta.get("grade_id", "?")
        max_points = float(meta.get("points", 0))
        if cell.cell_type != "code" or meta.get("solution"):
            results.append(ExerciseResult(grade_id, max_points, None, "graded by hand"))
            continue
        diagnosis = _diagnosis(cell)
        points = max_points if diagnosis == "pass" else 0.0
        if ": near miss on case " in diagnosis:  # the course's share; half unless it says
            points = max_points * NEAR_MISS_CREDIT
        results.append(
            ExerciseResult(_exercise_name(cell, grade_id), max_points, points, diagnosis)
        )
    return results


# Set in the kernel that a self-check starts, so a `score_card()` cell inside the notebook being
# checked does not start another self-check of its own.
_INSIDE_SELF_CHECK = "CNN_COURSE_SELF_CHECK"


def check_notebook(path: Path | str, timeout: int = DEFAULT_TIMEOUT, out=print) -> ScoreCard:
    """Run a notebook in a fresh kernel and score its visible tests.

    Args:
        path: the notebook (.ipynb); it is not modified.
        timeout: seconds one cell may run before it is interrupted (it then counts as failed
            and the rest of the notebook still runs).
        out: where the score card is printed, line by line (None prints nothing).

    Returns:
        the ScoreCard: `.results`, `.total`, `.max_total`, `.ok`, `.lines()`.

    Raises:
        UsageError: the file does not exist or is not a notebook.
        CourseError: nbclient/nbformat are missing, or no Python kernel can be started.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise UsageError(f"{path}: no such notebook. Pass the path of your .ipynb file.")
    nbformat, nbclient = _import_jupyter()
    try:
        notebook = nbformat.read(path, as_version=4)
    except Exception as error:  # JSON and nbformat errors alike
        raise UsageError(
            f"{path} is not a readable notebook ({_first_line(str(error)) or error!r}). "
            "Open it in Jupyter and save it again, or download it again."
        ) from error

    return _run_and_score(notebook, path, path.resolve().parent, timeout, out)


def _run_and_score(notebook, path: Path, workdir: Path, timeout: int, out) -> ScoreCard:
    """Execute ``notebook`` in a fresh kernel started in ``workdir``; print and return its card."""
    import os

    from jupyter_client.kernelspec import NoSuchKernel

    _, nbclient = _import_jupyter()
    previous = os.environ.get(_INSIDE_SELF_CHECK)
    os.environ[_INSIDE_SELF_CHECK] = "1"  # inherited by the kernel started below
    try:
        return _execute(notebook, path, workdir, timeout, out, nbclient, NoSuchKernel)
    finally:
        if previous is None:
            os.environ.pop(_INSIDE_SELF_CHECK, None)
        else:
            os.environ[_INSIDE_SELF_CHECK] = previous


def _execute(notebook, path, workdir, timeout, out, nbclient, NoSuchKernel) -> ScoreCard:
    kernel_name = notebook.metadata.get("kernelspec", {}).get("name") or "python3"
    note = ""
    for attempt in (kernel_name, "python3"):
        client = nbclient.NotebookClient(
            notebook,
            timeout=timeout,
            kernel_name=attempt,
            allow_errors=True,
            interrupt_on_timeout=True,
            error_on_timeout={
                "ename": "CellTimeoutError",
                "evalue": f"the cell ran longer than {timeout} s and was interrupted",
                "traceback": [],
            },
            shutdown_kernel="immediate",
            resources={"metadata": {"path": str(workdir)}},
        )
        try:
            client.execute()
            break
        except NoSuchKernel as error:
            if attempt == "python3":
                raise CourseError(
                    f"no Python kernel is installed to run {path} ({error}). Install one with: "
                    "python -m ipykernel install --user"
                ) from error
        except nbclient.exceptions.DeadKernelError as error:
            note = f"the kernel died while running the notebook ({_first_line(str(error))})"
            break
    card = ScoreCard(path, score_notebook(notebook))
    if note:
        for result in card.results:
            if result.diagnosis == "did not run":
                result.diagnosis = f"did not run: {note}"
    if out is not None:
        for line in card.lines():
            out(line)
    return card


def _current_notebook(timeout: int):
    """The notebook this kernel belongs to, as (nbformat node, label path, working folder).

    On Colab the notebook (with unsaved edits) comes from the front end; in JupyterLab and
    Jupyter Notebook the server tells the kernel its notebook's path (JPY_SESSION_NAME), and
    the last SAVED version is read.
    """
    import os

    nbformat, _ = _import_jupyter()
    try:
        from google.colab import _message  # type: ignore[import-not-found]
    except ImportError:
        _message = None
    if _message is not None:
        reply = _message.blocking_request("get_ipynb", timeout_sec=timeout)
        if not reply or "ipynb" not in reply:
            raise CourseError("Colab did not send this notebook; run the cell again in a moment.")
        notebook = nbformat.from_dict(reply["ipynb"])
        return notebook, Path("this Colab notebook"), Path.cwd()
    session = os.environ.get("JPY_SESSION_NAME")
    if session and session.endswith(".ipynb") and Path(session).is_file():
        path = Path(session)
        return nbformat.read(path, as_version=4), path, path.resolve().parent
    raise UsageError(
        "cannot tell which notebook this kernel runs. Pass its path: score_card('01_conv_arithmetic.ipynb')."
    )


def score_card(
    path: Path | str | None = None, timeout: int = DEFAULT_TIMEOUT, out=print
) -> ScoreCard | None:
    """The self-check from a notebook cell: run this notebook afresh and print its score card.

    ``score_card()`` in a cell of your notebook (JupyterLab, Jupyter Notebook or Colab) runs the
    whole notebook in a new kernel, exactly as ``cnn-course check NOTEBOOK`` does on the command
    line, and prints each exercise with its points or the first line of its diagnosis. In
    JupyterLab it runs the last SAVED version (save first); on Colab, what is on the screen.

    Args:
        path: the notebook to check; None means the notebook this kernel belongs to.
        timeout: seconds one cell may run before it is interrupted.
        out: where the card is printed, line by line.

    Returns:
        the ScoreCard, or None inside a self-check run (a score_card() cell in the notebook being
        checked does nothing, so checks never nest).
    """
    import os

    if os.environ.get(_INSIDE_SELF_CHECK):
        if out is not None:
            out("score_card: skipped inside a self-check run")
        return None
    if path is not None:
        return check_notebook(path, timeout=timeout, out=out)
    notebook, label, workdir = _current_notebook(timeout)
    return _run_and_score(notebook, label, workdir, timeout, out)
