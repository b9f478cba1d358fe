"""`run_demo`: the whole instructor round, on the tiny fixture and on the real course."""

from __future__ import annotations

import pytest

from autograder.course import PROJECT_NOTEBOOKS
from autograder.demo import DEMO_MARKER, run_demo
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


@pytest.mark.skipif(
    not any(PROJECT_NOTEBOOKS.glob("*.ipynb")), reason="the project has no notebooks yet"
)
def test_run_demo_grades_every_course_notebook_as_expected(tmp_path):
    lines: list[str] = []
    status = run_demo(tmp_path / "demo", out=lines.append)
    text = "\n".join(lines)
    assert status == 0, text
    assert "every sample got the grade it should" in text
    for notebook in PROJECT_NOTEBOOKS.glob("*.ipynb"):
        assert notebook.stem in text
