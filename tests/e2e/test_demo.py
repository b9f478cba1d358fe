"""`run_demo`: the whole instructor round, on the tiny fixture and on the real course.

On the real course: every sample kind of notebook 01 through `run_demo`, and the complete
sample of every course notebook through `autograde` (`--jobs 2`, the default isolation), which
must earn every autograded point: a grader that takes points from a perfect submission is wrong.
"""

from __future__ import annotations

import shutil

import pytest

from autograder.build import release
from autograder.collect import collect
from autograder.course import PROJECT_NOTEBOOKS, Course
from autograder.demo import DEMO_MARKER, _autograded_points, run_demo
from autograder.grade import autograde
from autograder.submissions import DEMO_KINDS, write_sample_submissions
from tests.e2e.conftest import TINY_SOURCE

pytestmark = pytest.mark.slow


def test_run_demo_on_the_tiny_assignment_prints_the_expected_grade_table(tmp_path):
    lines: list[str] = []
    status = run_demo(tmp_path / "demo", jobs=2, out=lines.append, source=TINY_SOURCE)
    text = "\n".join(lines)
    assert status == 0, text
    table = {line.split()[0]: line.split()[1:] for line in lines if line.split()}
    # tiny: add (2 points) and hypotenuse (3 points) are autograded
    assert table["complete"] == ["5", "5"]
    assert table["warnings"] == ["5", "5"]
    assert table["partial"] == ["2", "2"]  # add solved, hypotenuse left as the stub
    assert table["raises"] == ["3", "3"]  # the add cell fails at its import
    assert table["blank"] == ["0", "0"]
    assert table["invalid_json"] == ["0", "0"]
    assert "submitted/invalid_json/tiny/tiny.ipynb: not valid JSON" in text
    assert (tmp_path / "demo" / "grades.csv").is_file()
    assert len(list((tmp_path / "demo" / "feedback").rglob("tiny.html"))) == 6


def test_run_demo_refuses_a_course_directory_that_is_not_a_demo(tmp_path):
    (tmp_path / "course").mkdir()
    (tmp_path / "course" / "gradebook.db").write_text("")
    lines: list[str] = []
    assert run_demo(tmp_path / "course", out=lines.append, source=TINY_SOURCE) == 2
    assert "not a demo" in lines[0]
    assert not (tmp_path / "course" / DEMO_MARKER).exists()


def _one_notebook(tmp_path, stem: str):
    """A source folder holding only the course notebook whose name starts with ``stem``."""
    folder = tmp_path / "source"
    folder.mkdir()
    notebook = next(PROJECT_NOTEBOOKS.glob(f"{stem}*.ipynb"))
    shutil.copy(notebook, folder / notebook.name)
    return folder, notebook.stem


@pytest.mark.skipif(
    not any(PROJECT_NOTEBOOKS.glob("01*.ipynb")), reason="the project has no notebook 01 yet"
)
def test_run_demo_grades_every_course_notebook_as_expected(tmp_path):
    # Every sample kind, on notebook 01 only: the other notebooks' complete samples are graded
    # by the next test, which is where their time goes.
    source, stem = _one_notebook(tmp_path, "01")
    lines: list[str] = []
    status = run_demo(tmp_path / "demo", out=lines.append, source=source)
    text = "\n".join(lines)
    assert status == 0, text
    assert "every sample got the grade it should" in text
    table = {line.split()[0]: line.split()[1:] for line in lines if line.split()}
    assert set(DEMO_KINDS) <= set(table)
    assert table["complete"][0] == table["autograded"][1] != "0"  # "autograded max" row


@pytest.mark.skipif(
    not any(PROJECT_NOTEBOOKS.glob("*.ipynb")), reason="the project has no notebooks yet"
)
def test_a_complete_submission_of_every_course_notebook_gets_every_autograded_point(tmp_path):
    course = Course(tmp_path / "course")
    releases = release(course, progress=False)
    assignments = [path.parent.name for path in releases]
    drop = tmp_path / "drop"
    write_sample_submissions(
        {a: course.source_path(a) for a in assignments},
        {a: course.release_path(a) for a in assignments},
        drop,
        kinds=("complete",),
    )
    collect(course, drop)
    report = autograde(course, assignments, jobs=2, progress=False)
    lines = "\n".join(report.lines())
    assert {r.assignment for r in report.results} == set(assignments)
    for result in report.results:
        full = _autograded_points(course.release_path(result.assignment))
        assert result.status == "graded", lines
        assert full > 0, f"{result.assignment} has no autograded points"
        assert result.score == full, (
            f"the complete sample of {result.assignment} scored {result.score} of {full}:\n{lines}"
        )
