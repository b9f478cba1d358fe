"""The instructor sees the class: a class of notebook 01 with planted mistakes, graded through
`cnn-course autograde`, gives a report whose counts equal what was planted, exports in each
layout, and feedback pages that show where an array answer differs.

The class: a complete submission; three with one known mistake each (a wrong function taken
from tests/wrong/arithmetic.py); one with two of them; one whose function raises; a blank
release; a notebook that is not valid JSON; and a student with no submission at all. The
planted functions are ones no other exercise calls, so each mistake shows in its own exercise.
"""

from __future__ import annotations

import csv
import inspect
import json

import nbformat
import pytest

from autograder.build import release
from autograder.collect import collect
from autograder.course import Course, UsageError
from autograder.export import export_grades
from autograder.feedback import generate_feedback
from autograder.grade import autograde
from autograder.report import build_report, write_reports
from autograder.submissions import make_submission
from tests.wrong import arithmetic as wrong

pytestmark = pytest.mark.slow

A = "01_conv_arithmetic"
RAISES = "def receptive_field(layers):\n    return layers + 1\n"  # TypeError for a list


def _planted(complete: str, replacements: dict[str, str]) -> str:
    """The complete submission with each named solution cell's function replaced."""
    notebook = nbformat.reads(complete, as_version=4)
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in replacements:
            cell.source += "\n\n" + replacements[grade_id]
    return nbformat.writes(notebook)


def _as(function, name: str) -> str:
    """A wrong implementation's source, defined under the contract's name."""
    source = inspect.getsource(function)
    return "import math\n\n" + source.replace(f"def {function.__name__}(", f"def {name}(", 1)


FLOORS = {"conv_output_size": _as(wrong.conv_output_size_floors, "conv_output_size")}
CEIL = {"padding_for": _as(wrong.padding_for_same_ceil, "padding_for")}
RESHAPE = {"nhwc_to_nchw": _as(wrong.nhwc_to_nchw_by_reshape, "nhwc_to_nchw")}
PLANTED = {
    "conv_output_size/floored": ["floors", "two"],
    "nhwc_to_nchw/reshape": ["reshape", "two"],
    "padding_for/same_ceil": ["ceil"],
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    course = Course(root / "course")
    release(course, [A], progress=False)
    source, released = course.source_path(A), course.release_path(A)
    complete = make_submission(source, released, "complete")
    notebooks = {
        "ada": complete,
        "floors": _planted(complete, FLOORS),
        "ceil": _planted(complete, CEIL),
        "reshape": _planted(complete, RESHAPE),
        "two": _planted(complete, {**FLOORS, **RESHAPE}),
        "raises": _planted(complete, {"receptive_field": RAISES}),
        "blank": make_submission(source, released, "blank"),
        "broken": make_submission(source, released, "invalid_json"),
    }
    for student, text in notebooks.items():
        path = root / "drop" / student / A / f"{A}.ipynb"
        path.parent.mkdir(parents=True)
        path.write_text(text, encoding="utf-8")
    collect(course, root / "drop")
    (course.submitted_dir / "ghost").mkdir()  # a student of the course who handed nothing in
    autograde(course, [A], jobs=2, progress=False)
    generate_feedback(course, [A])
    pages = write_reports(course, [A])
    return course, pages


def test_the_misconceptions_are_the_planted_mistakes_exactly(graded):
    course, _ = graded
    report = build_report(course, A)
    assert {f.key: f.students for f in report.misconceptions} == PLANTED
    assert [f.key for f in report.misconceptions] == sorted(
        PLANTED, key=lambda k: (-len(PLANTED[k]), k)
    )
    failures = {f.key: f.students for f in report.failures}
    assert failures == {"not written yet": ["blank"], "raised TypeError": ["raises"]}


def test_the_class_counts_and_the_exercise_table_come_from_the_gradebook(graded):
    course, _ = graded
    report = build_report(course, A)
    assert (report.students, report.submitted) == (9, 8)
    assert report.missing == ["ghost"] and report.not_runnable == ["broken"]
    assert report.timed_out == []
    full = report.max_score
    autograded = sum(e.points for e in report.exercises)
    assert report.scores["ada"] == autograded and report.scores["blank"] == 0
    assert report.scores["two"] == autograded - 4 and report.scores["raises"] == autograded - 2
    by_exercise = {e.grade_id: e for e in report.exercises}
    # conv_output_size: full for ada, ceil, reshape, raises; nothing for floors, two, blank, broken
    assert (
        by_exercise["test_conv_output_size"].full,
        by_exercise["test_conv_output_size"].zero,
    ) == (
        0.5,
        0.5,
    )
    assert by_exercise["test_conv_output_size"].mean == 1.0
    assert full > autograded  # the written answers are part of the maximum
    waiting = {w.grade_id: w.waiting for w in report.written}
    # All but the broken one and the blank one (nbgrader scores an untouched answer 0 itself).
    assert waiting and all(count == 6 for count in waiting.values())


def test_the_report_page_and_its_json_say_the_same(graded):
    course, pages = graded
    page = pages[0].read_text(encoding="utf-8")
    data = json.loads(pages[0].with_suffix(".json").read_text())
    assert data["missing"] == ["ghost"] and data["submitted"] == 8
    assert 'src="data:image/png;base64,' in page  # the histogram, embedded
    for key, students in PLANTED.items():
        assert key in page
        for student in students:
            assert f'href="../feedback/{student}/{A}/{A}.html">{student}</a>' in page


def test_report_and_feedback_refuse_an_assignment_not_in_the_gradebook_naming_the_released(
    graded, tmp_path
):
    course, _ = graded
    for step in (
        lambda: write_reports(course, ["99_nowhere"], out=tmp_path),
        lambda: generate_feedback(course, ["99_nowhere"]),
    ):
        with pytest.raises(UsageError, match=rf"assignment 99_nowhere is not .* Released: {A}\."):
            step()
    assert not any(tmp_path.iterdir())  # refused before writing anything


def test_each_export_layout_has_the_documented_header(graded, tmp_path):
    course, _ = graded
    plain = export_grades(course, to=tmp_path / "plain.csv").read_text().splitlines()
    assert plain[0] == f"student_id,{A},total"
    detail = next(
        csv.reader(
            [export_grades(course, to=tmp_path / "d.csv", detail=True).read_text().splitlines()[0]]
        )
    )
    assert detail[0] == "student_id" and detail[-2:] == [A, "total"]
    assert f"{A}/test_conv_output_size" in detail and f"{A}/spot_the_error" in detail
    canvas = list(csv.reader(export_grades(course, to=tmp_path / "c.csv", layout="canvas").open()))
    assert canvas[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", A]
    assert (
        canvas[1][0] == "Points Possible"
        and float(canvas[1][5]) == build_report(course, A).max_score
    )
    ada = next(row for row in canvas if row[0] == "ada")
    assert ada[3] == "ada"  # matched by SIS Login ID
    moodle = list(csv.reader(export_grades(course, to=tmp_path / "m.csv", layout="moodle").open()))
    assert moodle[0] == ["Username", A]
    assert {row[0] for row in moodle[1:]} == {row[0] for row in canvas[2:]}


def test_a_feedback_page_shows_where_an_array_answer_differs(graded):
    course, _ = graded
    page = (course.feedback_dir / "reshape" / A / f"{A}.html").read_text(encoding="utf-8")
    nhwc = page[page.index("Tests for nhwc_to_nchw") :]
    assert "data:image/png;base64," in nhwc.split("Tests for", 2)[1]
    graded_notebook = json.loads((course.autograded_dir / "reshape" / A / f"{A}.ipynb").read_text())
    test_cell = next(
        c
        for c in graded_notebook["cells"]
        if c["metadata"].get("nbgrader", {}).get("grade_id") == "test_nhwc_to_nchw"
    )
    kinds = [o["output_type"] for o in test_cell["outputs"]]
    assert "display_data" in kinds and kinds[-1] == "error"
    assert "[nhwc_to_nchw/reshape]" in test_cell["outputs"][-1]["evalue"]
