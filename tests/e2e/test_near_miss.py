"""A near miss earns part of the points through `cnn-course autograde`, in both isolations, and
shows in the exported grades and the feedback page; the course's share is a setting.

The near miss: notebook 01's `conv_output_size` returning the right sizes as floats (5.0 for
5), tests/wrong/arithmetic.py's `conv_output_size_returns_float`.
"""

from __future__ import annotations

import csv
import inspect
import shutil

import nbformat
import pytest

from autograder.build import release
from autograder.collect import collect
from autograder.course import Course
from autograder.export import export_grades
from autograder.feedback import generate_feedback
from autograder.grade import autograde
from autograder.isolation.sandbox import detect_protections
from autograder.submissions import make_submission
from tests.wrong import arithmetic as wrong

pytestmark = pytest.mark.slow

A = "01_conv_arithmetic"
POINTS = 2  # test_conv_output_size


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    root = tmp_path_factory.mktemp("near-miss-release") / "course"
    course = Course(root)
    release(course, [A], progress=False)
    complete = make_submission(course.source_path(A), course.release_path(A), "complete")
    notebook = nbformat.reads(complete, as_version=4)
    floats = inspect.getsource(wrong.conv_output_size_returns_float).replace(
        "def conv_output_size_returns_float(", "def conv_output_size("
    )
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "conv_output_size":
            cell.source += "\n\n" + floats
    drop = root.parent / "drop"
    for student, text in (("ada", complete), ("floaty", nbformat.writes(notebook))):
        path = drop / student / A / f"{A}.ipynb"
        path.parent.mkdir(parents=True)
        path.write_text(text, encoding="utf-8")
    collect(course, drop)
    return root


def _graded(released, tmp_path, isolation: str, credit: float | None = None) -> Course:
    if isolation == "sandbox" and not detect_protections().full:
        pytest.skip("the full sandbox is unavailable here")
    shutil.copytree(released, tmp_path / "course")
    course = Course(tmp_path / "course")
    if credit is not None:
        with course.config_path.open("a") as handle:
            handle.write(f"\nc.CnnCourse.near_miss_credit = {credit}\n")
    autograde(course, [A], progress=False, isolation=isolation, timeout=120)
    return course


def _scores(course: Course, tmp_path) -> dict[str, dict[str, float]]:
    path = export_grades(course, to=tmp_path / "grades.csv", detail=True)
    return {row["student_id"]: row for row in csv.DictReader(path.read_text().splitlines())}


@pytest.mark.parametrize("isolation", ["sandbox", "kernel"])
def test_a_near_miss_earns_half_the_points_and_shows_in_export_and_feedback(
    released, tmp_path, isolation
):
    course = _graded(released, tmp_path, isolation)
    rows = _scores(course, tmp_path)
    cell = f"{A}/test_conv_output_size"
    assert float(rows["ada"][cell]) == POINTS
    assert float(rows["floaty"][cell]) == POINTS / 2
    assert float(rows["floaty"]["total"]) == float(rows["ada"]["total"]) - POINTS / 2
    generate_feedback(course, [A], student="floaty")
    page = (course.feedback_dir / "floaty" / A / f"{A}.html").read_text(encoding="utf-8")
    assert "near miss on case" in page and "[conv_output_size/float_for_int]" in page


def test_the_share_a_near_miss_earns_is_set_per_course(released, tmp_path):
    course = _graded(released, tmp_path, "sandbox", credit=0.25)
    rows = _scores(course, tmp_path)
    assert float(rows["floaty"][f"{A}/test_conv_output_size"]) == POINTS * 0.25
