"""`cnn-course autograde` runs the cells the grades need; the others keep the outputs the student
submitted, under a note, in the autograded notebook and its feedback page; the course setting
or `--rerun-all-cells` runs every cell. Both isolations, on notebook 01.
"""

from __future__ import annotations

import shutil

import nbformat
import pytest
from nbformat.v4 import new_output

from autograder.build import release
from autograder.cli import main as cli
from autograder.collect import collect
from autograder.course import Course
from autograder.export import export_grades
from autograder.feedback import generate_feedback
from autograder.grade import autograde
from autograder.isolation.needed import KEPT_OUTPUT_NOTE
from autograder.isolation.sandbox import detect_protections
from autograder.submissions import make_submission

pytestmark = pytest.mark.slow

A = "01_conv_arithmetic"
DEMO = "fc_numbers"  # a locked demonstration: it prints two sizes, no grade reads them
SEEN = "what the student saw when the cell ran\n"


def _cell(course: Course, grade_id: str, student: str = "ada"):
    path = course.autograded_dir / student / A / f"{A}.ipynb"
    notebook = nbformat.read(path, as_version=4)
    return next(
        c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id
    )


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    root = tmp_path_factory.mktemp("kept-outputs") / "course"
    course = Course(root)
    release(course, [A], progress=False)
    notebook = nbformat.reads(
        make_submission(course.source_path(A), course.release_path(A), "complete"), as_version=4
    )
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == DEMO:
            cell.outputs = [new_output("stream", name="stdout", text=SEEN)]
    path = root.parent / "drop" / "ada" / A / f"{A}.ipynb"
    path.parent.mkdir(parents=True)
    nbformat.write(notebook, path)
    collect(course, root.parent / "drop")
    return root


def _copy(released, tmp_path, isolation: str) -> Course:
    if isolation == "sandbox" and not detect_protections().full:
        pytest.skip("the full sandbox is unavailable here")
    shutil.copytree(released, tmp_path / "course")
    return Course(tmp_path / "course")


def _total(course: Course, tmp_path) -> str:
    rows = export_grades(course, to=tmp_path / "grades.csv").read_text().splitlines()
    return rows[1].split(",")[-1]


@pytest.mark.parametrize("isolation", ["sandbox", "kernel"])
def test_a_cell_no_grade_needs_keeps_its_submitted_output_under_a_note(
    released, tmp_path, isolation
):
    course = _copy(released, tmp_path, isolation)
    autograde(course, [A], progress=False, isolation=isolation, timeout=120)
    outputs = _cell(course, DEMO).outputs
    assert [o.get("text") for o in outputs] == [KEPT_OUTPUT_NOTE, SEEN]
    # The cells the grades need ran: the test of conv_output_size printed its verdict.
    assert _cell(course, "test_conv_output_size").outputs
    assert _total(course, tmp_path) == "14"  # every autograded point of notebook 01
    generate_feedback(course, [A], student="ada")
    page = (course.feedback_dir / "ada" / A / f"{A}.html").read_text(encoding="utf-8")
    assert "not re-run by the grader" in page and SEEN.strip() in page


@pytest.mark.parametrize("isolation", ["sandbox", "kernel"])
def test_rerun_all_cells_runs_the_demonstration_again(released, tmp_path, isolation):
    course = _copy(released, tmp_path, isolation)
    args = ["--course", str(course.root), "autograde", A, "--rerun-all-cells", "--timeout", "120"]
    if isolation == "kernel":
        args += ["--isolation", "kernel"]
    assert cli(args) == 0
    text = "".join(o.get("text", "") for o in _cell(course, DEMO).outputs)
    assert "CIFAR-10 image: 3072 inputs" in text and SEEN not in text
    assert KEPT_OUTPUT_NOTE not in text


def test_the_course_setting_runs_every_cell(released, tmp_path):
    course = _copy(released, tmp_path, "sandbox")
    with course.config_path.open("a") as handle:
        handle.write("\nc.CnnCourse.rerun_all_cells = True\n")
    autograde(course, [A], progress=False, timeout=120)
    text = "".join(o.get("text", "") for o in _cell(course, DEMO).outputs)
    assert "CIFAR-10 image: 3072 inputs" in text and SEEN not in text


def test_a_setting_that_is_not_true_or_false_is_refused_with_what_to_write(released, tmp_path):
    course = _copy(released, tmp_path, "kernel")
    with course.config_path.open("a") as handle:
        handle.write('\nc.CnnCourse.rerun_all_cells = "yes"\n')
    with pytest.raises(Exception, match=r"must be True .* or False .*; got 'yes'"):
        autograde(course, [A], progress=False, isolation="kernel")
