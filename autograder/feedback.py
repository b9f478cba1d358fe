"""Feedback pages: one HTML page per student and assignment, from the autograded notebook.

The page is nbgrader's `GenerateFeedback` output (so the scores come from the gradebook, as in
formgrader and the CSV), with two additions:

- a score table at the top: one row per graded cell (the exercise named by the test cell's
  first line, `# Tests for conv_forward_naive (4 points)`), its score and points, and for a
  failed test the first line of its diagnosis; then the total;
- every error output shows the diagnosis (the exception's message: for a failed check, the
  AssertionError text) prominently, with the traceback folded away below it.

The cells with the model answer and rubric that autograde adds for formgrader
(`autograder.rubrics`) are left out: students never see them.

A submission that could not be run at all (e.g. not valid JSON) gets a short page that says
why and shows its score of 0 out of the assignment's points.

Pages are written to `<course>/feedback/<student>/<assignment>/<assignment>.html`. The hidden
seed recorded next to the autograded notebook is never copied there.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from pathlib import Path

from autograder.course import (
    COURSE_ID,
    PROBLEM_FILE,
    SEED_FILE,
    TIMEOUT_ERROR_NAME,
    VERDICTS_FILE,
    Course,
    CourseError,
    GradebookLock,
    format_points,
)

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_TEST_TITLE = re.compile(r"^#\s*Tests? for\s+(?P<name>.+?)\s*(\(.*\))?\s*$", re.IGNORECASE)

_STYLE = """
<style>
.cnn-diagnosis { border-left: 4px solid #d2413a; background: #fdf3f2; padding: 0.5em 0.8em;
                 margin: 0.3em 0; }
.cnn-diagnosis pre { white-space: pre-wrap; background: none; border: none; margin: 0;
                     font-size: 13px; color: #222; }
.cnn-diagnosis summary { cursor: pointer; color: #777; margin-top: 0.4em; }
table.cnn-scores { border-collapse: collapse; margin: 0.5em 0 1em 0; }
table.cnn-scores td, table.cnn-scores th { border: 1px solid #ccc; padding: 0.25em 0.6em;
                                           text-align: left; vertical-align: top; }
table.cnn-scores td.num, table.cnn-scores th.num { text-align: right; }
table.cnn-scores tr.total td { font-weight: bold; }
</style>
"""


def exercise_name(cell) -> str:
    """The exercise a grade cell belongs to: "conv_forward_naive" from a first line
    `# Tests for conv_forward_naive (4 points)`, otherwise the cell's grade id."""
    first = cell.source.strip().splitlines()[0] if cell.source.strip() else ""
    match = _TEST_TITLE.match(first)
    if match:
        return match.group("name")
    return cell.metadata["nbgrader"]["grade_id"]


def _diagnosis(output) -> str:
    """The message of an error output: for a failed check, its AssertionError text."""
    if output.get("ename") == TIMEOUT_ERROR_NAME:
        return output.get("evalue") or "timed out"
    value = _ANSI.sub("", output.get("evalue", "")).strip()
    if output.get("ename") == "NotImplementedError" and not value:
        value = "not implemented yet (the function is still the release stub)"
    return f"{output.get('ename', 'Error')}: {value}" if value else output.get("ename", "Error")


def _cell_result(cell) -> str:
    """pass, the first line of the diagnosis, or what a grader still has to do."""
    nbgrader = cell.metadata["nbgrader"]
    if nbgrader.get("solution") or cell.cell_type != "code":
        return "to be graded by hand" if nbgrader.get("score") is None else "graded by hand"
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            return _diagnosis(output).splitlines()[0]
    for output in cell.get("outputs", []):
        for line in str(output.get("text", "")).splitlines():
            if ": near miss on case " in line:
                return line.strip()
    return "pass"


# (student, assignment) -> the score table of the page being written.
_SCORE_TABLES: dict[tuple[str, str], str] = {}


def _add_score_table(page: Path, table: str) -> None:
    """Insert the score table above the notebook, and its style into the head."""
    text = page.read_text(encoding="utf-8")
    text = text.replace("</head>", _STYLE + "</head>", 1)
    anchor = '<div class="panel-body">'
    at = text.find(anchor)
    at = at + len(anchor) if at >= 0 else text.find("<body>") + len("<body>")
    page.write_text(text[:at] + table + text[at:], encoding="utf-8")


def _preprocessors() -> list:
    from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
    from nbformat.v4 import new_output
    from nbgrader.preprocessors import GetGrades, NbGraderPreprocessor
    from nbgrader.utils import is_grade

    from autograder.rubrics import HideRubrics

    class FoldTracebacks(NbGraderPreprocessor):
        """Show each error's diagnosis first and fold its traceback."""

        def preprocess_cell(self, cell, resources, index):
            if cell.cell_type != "code":
                return cell, resources
            outputs = []
            for output in cell.outputs:
                if output.output_type != "error":
                    outputs.append(output)
                    continue
                diagnosis = _diagnosis(output)
                traceback = _ANSI.sub("", "\n".join(output.get("traceback", [])))
                page = (
                    '<div class="cnn-diagnosis"><pre>'
                    + html.escape(diagnosis)
                    + "</pre>"
                    + (
                        "<details><summary>Traceback</summary><pre>"
                        + html.escape(traceback)
                        + "</pre></details>"
                        if traceback.strip()
                        else ""
                    )
                    + "</div>"
                )
                outputs.append(
                    new_output("display_data", data={"text/html": page, "text/plain": diagnosis})
                )
            cell.outputs = outputs
            return cell, resources

    class ScoreTable(NbGraderPreprocessor):
        """Build the table of every graded cell's score and the total (`_add_score_table`
        puts it at the top of the page)."""

        def preprocess(self, nb, resources):
            rows = []
            for cell in nb.cells:
                nbgrader = cell.get("metadata", {}).get("nbgrader", {})
                if not is_grade(cell):
                    continue
                rows.append(
                    "<tr><td><a href='#{id}'>{name}</a></td><td class='num'>{score}</td>"
                    "<td class='num'>{points}</td><td>{result}</td></tr>".format(
                        id=html.escape(nbgrader["grade_id"]),
                        name=html.escape(exercise_name(cell)),
                        score=format_points(nbgrader.get("score")),
                        points=format_points(nbgrader.get("points")),
                        result=html.escape(_cell_result(cell)),
                    )
                )
            info = resources["nbgrader"]
            late = info.get("late_penalty") or 0
            if late:
                rows.append(
                    f"<tr><td>late submission penalty</td><td class='num'>-{format_points(late)}</td>"
                    "<td></td><td></td></tr>"
                )
            rows.append(
                "<tr class='total'><td>total</td><td class='num'>{}</td><td class='num'>{}</td>"
                "<td></td></tr>".format(
                    format_points(info["score"]), format_points(info["max_score"])
                )
            )
            key = (resources["nbgrader"]["student"], resources["nbgrader"]["assignment"])
            _SCORE_TABLES[key] = (
                "<h3>Scores</h3><table class='cnn-scores'><tr><th>exercise</th>"
                + "<th class='num'>score</th><th class='num'>points</th><th>result</th></tr>"
                + "".join(rows)
                + "</table>"
            )
            return nb, resources

    return [HideRubrics, GetGrades, ScoreTable, FoldTracebacks, CSSHTMLHeaderPreprocessor]


def generate_feedback(
    course: Course,
    assignments: Iterable[str] | None = None,
    student: str | None = None,
) -> list[Path]:
    """Write a feedback page for every autograded submission.

    Args:
        course: the course directory (run `autograde` first).
        assignments: assignment names; None means every assignment in the gradebook.
        student: only this student's pages; None means every student.

    Returns:
        the pages written, `feedback/<student>/<assignment>/<assignment>.html`, sorted.

    Raises:
        UsageError: an assignment is not in the gradebook.
        CourseError: when nbgrader could not write a page (its log says why); the other
            pages are written first.
    """
    import logging

    from nbgrader.api import Gradebook, MissingEntry
    from nbgrader.converters import GenerateFeedback
    from nbgrader.converters.base import NbGraderException
    from nbgrader.coursedir import CourseDirectory

    course.ensure()
    wanted = course.chosen_assignments(assignments)
    students = [student] if student else course.students()
    written: list[Path] = []
    failures: list[str] = []
    for assignment in wanted:
        runnable = [
            s
            for s in students
            if (course.autograded_dir / s / assignment / f"{assignment}.ipynb").is_file()
        ]
        broken = [
            s for s in students if (course.autograded_dir / s / assignment / PROBLEM_FILE).is_file()
        ]
        for who in runnable:
            config = course.nbgrader_config(force=True)
            config.CourseDirectory.assignment_id = assignment
            config.CourseDirectory.student_id = who
            config.CourseDirectory.ignore = [
                ".ipynb_checkpoints",
                "*.pyc",
                "__pycache__",
                "feedback",
                SEED_FILE,
                PROBLEM_FILE,
                VERDICTS_FILE,
            ]
            config.GenerateFeedback.preprocessors = _preprocessors()
            log = logging.getLogger(f"autograder.feedback.{who}.{assignment}")
            log.propagate = False
            log.setLevel(logging.ERROR)
            errors: list[str] = []
            handler = logging.Handler(logging.ERROR)
            handler.emit = lambda record, errors=errors: errors.append(record.getMessage())
            log.handlers[:] = [handler]
            try:
                with GradebookLock(course.root):
                    GenerateFeedback(
                        coursedir=CourseDirectory(config=config), config=config, log=log
                    ).start()
            except NbGraderException:
                reason = next((e for e in errors if e.startswith("Traceback")), "")
                reason = reason.strip().splitlines()[-1] if reason else "; ".join(errors[:1])
                failures.append(f"{who}/{assignment}: {reason}")
                continue
            page = course.feedback_dir / who / assignment / f"{assignment}.html"
            page.chmod(0o644)
            _add_score_table(page, _SCORE_TABLES.pop((who, assignment), ""))
            written.append(page)
        for who in broken:
            reason = (course.autograded_dir / who / assignment / PROBLEM_FILE).read_text().strip()
            with GradebookLock(course.root), Gradebook(course.db_url, COURSE_ID) as gb:
                try:
                    submission = gb.find_submission(assignment, who)
                except MissingEntry:
                    continue
                score, max_score = submission.score, submission.max_score
            written.append(_write_problem_page(course, assignment, who, reason, score, max_score))
    if failures:
        raise CourseError(
            "nbgrader could not write these feedback pages: "
            + "; ".join(failures)
            + ". Run `cnn-course autograde` for them again, then `cnn-course feedback`."
        )
    return sorted(written)


def _write_problem_page(
    course: Course, assignment: str, student: str, reason: str, score: float, max_score: float
) -> Path:
    """The page of a submission that could not be run."""
    folder = course.feedback_dir / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{assignment}.html"
    path.write_text(
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'>"
        f"<title>{html.escape(assignment)}</title>{_STYLE}</head><body>"
        f"<h2>{html.escape(assignment)} (Score: {format_points(score)} / "
        f"{format_points(max_score)})</h2>"
        "<div class='cnn-diagnosis'><pre>Your notebook could not be graded: "
        f"{html.escape(reason)}.</pre></div>"
        "<p>Every exercise of this assignment scored 0. Open the notebook in JupyterLab, "
        "make sure it opens and runs top to bottom, and ask your instructor to grade it "
        "again.</p>"
        "<table class='cnn-scores'><tr class='total'><td>total</td>"
        f"<td class='num'>{format_points(score)}</td>"
        f"<td class='num'>{format_points(max_score)}</td></tr></table>"
        "</body></html>\n",
        encoding="utf-8",
    )
    return path
