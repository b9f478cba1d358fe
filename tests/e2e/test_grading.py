"""End to end on the tiny assignment: release, collect, autograde (--jobs 2), feedback, export.

Graded with isolation "sandbox" (the student's code in a sandboxed kernel, the checks in the
grader), the mode these tests are about; `test_in_kernel_isolation_gives_the_same_grades` grades
the same submissions with isolation "kernel" (nbgrader's own execution).

The tiny assignment (tests/fixtures/tiny/tiny.ipynb) has two autograded exercises, `add`
(test cell `test_add`, 2 points) and `hypotenuse` (`test_hypotenuse`, 3 points), with hidden
tests, and one written answer graded by hand (`why_longer`, 1 point, never autograded). The
expected points below follow from those numbers and from what each submission does.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import sqlite3

import pytest

from autograder.collect import collect
from autograder.course import SEED_FILE, Course, CourseError
from autograder.export import export_grades
from autograder.feedback import generate_feedback
from autograder.grade import autograde
from autograder.rubrics import HEADING as RUBRIC_HEADING
from autograder.rubrics import RUBRIC_MARKER
from autograder.submissions import KINDS, write_sample_submissions
from tests.e2e.conftest import TINY, cell_by_grade_id, solved_release, write_notebook

pytestmark = pytest.mark.slow

TIMEOUT = 5  # seconds per cell: the hanging submission is stopped after this long
ADD, HYPOTENUSE = 2, 3  # points of test_add and test_hypotenuse in the fixture

# student -> (points expected, why)
EXPECTED = {
    "blank": (0, "the release itself: both functions raise NotImplementedError"),
    "complete": (ADD + HYPOTENUSE, "both solutions, so public and hidden tests pass"),
    "hangs": (HYPOTENUSE, "add never returns: test_add times out"),
    "invalid_json": (0, "not valid JSON: not runnable"),
    "partial": (ADD, "add solved, hypotenuse left as the stub"),
    "public_only": (
        HYPOTENUSE,
        "add returns 3 always: public test passes, hidden add(-7, 7) fails",
    ),
    "raises": (HYPOTENUSE, "the add cell fails at its import, so add is undefined"),
    "warnings": (ADD + HYPOTENUSE, "correct code that warns and writes to stderr"),
    "wrong_add": (HYPOTENUSE, "add returns a - b: its AssertionError is the diagnosis"),
}
SEED_PRINT = "import os\nprint('seed', os.environ.get('CNN_COURSE_HIDDEN_SEED'), os.environ.get('OMP_NUM_THREADS'))\n"


def _with_add(course: Course, body: str) -> dict:
    notebook = solved_release(course, TINY)
    cell = cell_by_grade_id(notebook, "add")
    cell["source"] = (
        f'def add(a, b):\n    """Sum of two numbers: a + b."""\n    {body}\n' + SEED_PRINT
    )
    return notebook


@pytest.fixture(scope="module")
def graded(tmp_path_factory, _released_template):
    """One course graded once: (course, report of the first run, CSV text of the first run)."""
    root = tmp_path_factory.mktemp("grading") / "course"
    shutil.copytree(_released_template, root)
    course = Course(root)
    drop = root.parent / "drop"
    write_sample_submissions(
        {TINY: course.source_path(TINY)}, {TINY: course.release_path(TINY)}, drop, kinds=KINDS
    )
    write_notebook(drop / "wrong_add" / TINY / f"{TINY}.ipynb", _with_add(course, "return a - b"))
    write_notebook(drop / "public_only" / TINY / f"{TINY}.ipynb", _with_add(course, "return 3"))
    collect(course, drop)
    (course.submitted_dir / "ghost").mkdir()  # a student with no submission of tiny
    report = autograde(course, jobs=2, timeout=TIMEOUT, progress=False, isolation="sandbox")
    generate_feedback(course)
    csv_path = export_grades(course, to=root.parent / "grades.csv")
    return course, report, csv_path.read_text()


def test_exported_grades_are_the_expected_points_of_every_submission(graded):
    _, _, text = graded
    expected = ["student_id,tiny,total"]
    for student in sorted([*EXPECTED, "ghost"]):
        points = EXPECTED[student][0] if student in EXPECTED else 0
        expected.append(f"{student},{points},{points}")
    assert text.splitlines() == expected


def test_broken_and_hanging_submissions_are_reported_and_the_batch_goes_on(graded):
    _, report, _ = graded
    lines = "\n".join(report.lines())
    assert not report.ok
    assert "autograde tiny: 8 graded, 1 not runnable, 1 missing" in lines
    assert re.search(
        r"submitted/invalid_json/tiny/tiny\.ipynb: not valid JSON \(line \d+, column \d+\); scored 0",
        lines,
    )
    # Matched by grade id: the cell number moves when the release gains cells (its setup cell).
    assert re.search(
        rf"submitted/hangs/tiny/tiny\.ipynb: cell \d+ \(test_add\) timed out after {TIMEOUT} s",
        lines,
    )
    assert "submitted/ghost/tiny/tiny.ipynb: no submission of tiny" in lines
    statuses = {r.student: r.status for r in report.results}
    assert statuses.pop("invalid_json") == "not runnable"
    assert statuses.pop("ghost") == "missing"
    assert set(statuses.values()) == {"graded"}


def test_honest_warnings_and_stderr_cost_no_points(graded):
    course, report, _ = graded
    result = next(r for r in report.results if r.student == "warnings")
    assert result.score == ADD + HYPOTENUSE
    notebook = json.loads((course.autograded_dir / "warnings" / TINY / f"{TINY}.ipynb").read_text())
    outputs = cell_by_grade_id(notebook, "test_add")["outputs"]
    text = "".join("".join(o.get("text", "")) for o in outputs)
    assert "an honest warning" in text and "an honest line on stderr" in text


def test_hidden_tests_run_in_the_grader_and_the_seed_never_reaches_the_kernel(graded):
    course, _, _ = graded
    folder = course.autograded_dir / "wrong_add" / TINY
    assert (folder / SEED_FILE).read_text().strip().isdigit()
    notebook = json.loads((folder / f"{TINY}.ipynb").read_text())
    printed = "".join(
        "".join(o.get("text", "")) for o in cell_by_grade_id(notebook, "add")["outputs"]
    )
    assert printed.strip() == "seed None 1", "the kernel runs in one thread and never sees the seed"
    assert "add(-7, 7)" in "".join(cell_by_grade_id(notebook, "test_add")["source"])


def test_feedback_pages_show_the_diagnosis_and_fold_the_traceback(graded):
    course, _, _ = graded

    def page(student):
        return (course.feedback_dir / student / TINY / f"{TINY}.html").read_text()

    wrong = page("wrong_add")
    assert (
        '<div class="cnn-diagnosis"><pre>AssertionError: add(1, 2) should be 3</pre><details>'
        in wrong
    )
    assert "<td>AssertionError: add(1, 2) should be 3</td>" in wrong
    assert "No module named 'cnn_course_no_such_module'" in page("raises")
    assert f"timed out after {TIMEOUT} s" in page("hangs")
    assert re.search(r"could not be graded: not valid JSON \(line \d+", page("invalid_json"))
    assert not list(course.feedback_dir.rglob(SEED_FILE)), "the hidden seed must not reach students"


def rubric_cells_after_answers(notebook: dict) -> list[str]:
    """The grade ids of the written answers, each followed by the rubric cell made for it."""
    cells = notebook["cells"]
    found = []
    for cell, after in zip(cells, cells[1:]):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade") and meta.get("solution"):
            text = "".join(after["source"])
            assert after["metadata"].get(RUBRIC_MARKER) == meta["grade_id"], text
            assert text.startswith(f"**{RUBRIC_HEADING}**") and "Rubric (1 point)" in text
            assert after["metadata"]["editable"] is False
            found.append(meta["grade_id"])
    return found


def test_the_autograded_notebook_shows_the_rubric_after_every_written_answer(graded):
    course, report, _ = graded
    graded_students = [r.student for r in report.results if r.status == "graded"]
    assert len(graded_students) == 8
    for student in graded_students:
        notebook = json.loads(
            (course.autograded_dir / student / TINY / f"{TINY}.ipynb").read_text()
        )
        assert rubric_cells_after_answers(notebook) == ["why_longer"], student


def test_feedback_pages_hold_no_rubric(graded):
    course, _, _ = graded
    pages = list(course.feedback_dir.rglob(f"{TINY}.html"))
    assert len(pages) == 9
    for page in pages:
        text = page.read_text()
        assert RUBRIC_HEADING not in text and RUBRIC_MARKER not in text, page
    # wrong_add did not answer the written question: nothing of the model answer shows
    wrong = (course.feedback_dir / "wrong_add" / TINY / f"{TINY}.html").read_text()
    assert "square root is increasing" not in wrong and "Rubric (1 point)" not in wrong


def test_gradebook_feedback_and_csv_agree(graded):
    course, _, text = graded
    rows = {row["student_id"]: row for row in csv.DictReader(text.splitlines())}
    with sqlite3.connect(course.gradebook_path) as db:
        scores = dict(
            db.execute(
                "SELECT submitted_assignment.student_id, SUM(COALESCE(grade.manual_score, grade.auto_score, 0)) "
                "FROM grade JOIN submitted_notebook ON grade.notebook_id = submitted_notebook.id "
                "JOIN submitted_assignment ON submitted_notebook.assignment_id = submitted_assignment.id "
                "GROUP BY submitted_assignment.student_id"
            ).fetchall()
        )
    for student, (points, why) in EXPECTED.items():
        assert scores[student] == points, why
        assert float(rows[student]["tiny"]) == points, why
        html = (course.feedback_dir / student / TINY / f"{TINY}.html").read_text()
        total = re.search(r"<tr class='total'><td>total</td><td class='num'>([\d.]+)</td>", html)
        assert float(total.group(1)) == points, why


def test_grading_again_gives_the_same_csv_and_no_duplicate_rows(graded):
    course, _, first_csv = graded
    seeds = {p.parent.parent.name: p.read_text() for p in course.autograded_dir.rglob(SEED_FILE)}
    with sqlite3.connect(course.gradebook_path) as db:
        before = db.execute("SELECT COUNT(*) FROM grade").fetchone()[0]
    again = autograde(course, [TINY], jobs=2, timeout=TIMEOUT, progress=False, isolation="sandbox")
    with sqlite3.connect(course.gradebook_path) as db:
        after = db.execute("SELECT COUNT(*) FROM grade").fetchone()[0]
    assert before == after == 9 * 3  # nine submissions with three graded cells each
    assert [r.score for r in again.results] == [
        EXPECTED[r.student][0] if r.student in EXPECTED else None for r in again.results
    ]
    path = export_grades(course, to=course.root.parent / "grades_again.csv")
    assert path.read_text() == first_csv
    assert {
        p.parent.parent.name: p.read_text() for p in course.autograded_dir.rglob(SEED_FILE)
    } == seeds


def test_in_kernel_isolation_gives_the_same_grades(graded, tmp_path):
    course, _, first_csv = graded
    root = tmp_path / "course"
    shutil.copytree(course.root, root, ignore=shutil.ignore_patterns("autograded", "feedback"))
    again = Course(root)
    report = autograde(again, [TINY], jobs=2, timeout=TIMEOUT, progress=False, isolation="kernel")
    assert "[OFF] isolation 'kernel'" in report.protections[0]
    assert {r.student: r.score for r in report.results if r.status != "missing"} == {
        student: points for student, (points, _) in EXPECTED.items()
    }
    path = export_grades(again, to=tmp_path / "grades.csv")
    assert path.read_text() == first_csv
    lines = "\n".join(report.lines())
    assert re.search(r"hangs/tiny/tiny\.ipynb: cell \d+ \(test_add\) timed out", lines)
    for result in report.results:
        if result.status == "graded":
            path = root / "autograded" / result.student / TINY / f"{TINY}.ipynb"
            assert rubric_cells_after_answers(json.loads(path.read_text())) == ["why_longer"]


def test_an_unknown_isolation_is_refused_before_anything_is_graded(released_course):
    with pytest.raises(ValueError, match="isolation must be one of sandbox, kernel; got 'vm'"):
        autograde(released_course, progress=False, isolation="vm")


def test_requiring_the_sandbox_refuses_the_in_kernel_isolation(released_course):
    with pytest.raises(CourseError, match="--require-sandbox asks for the sandbox"):
        autograde(released_course, progress=False, isolation="kernel", require_sandbox=True)


def test_the_sandbox_is_refused_by_name_where_posix_process_control_is_missing(
    released_course, monkeypatch
):
    import autograder.grade as grade

    monkeypatch.setattr(grade.os, "name", "nt")
    with pytest.raises(CourseError) as refused:
        autograde(released_course, progress=False, isolation="sandbox")
    monkeypatch.undo()  # before pytest formats anything with os.name "nt"
    message = str(refused.value)
    assert "the sandbox needs Linux" in message and "--isolation kernel" in message
    assert "--allow-unsandboxed" not in message  # it needs POSIX process control too
