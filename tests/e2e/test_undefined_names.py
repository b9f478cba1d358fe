"""A test cell whose name is undefined because the earlier cell that defines it failed says
which cell to fix, through `cnn-course autograde`, in both isolations, in the graded notebook
and on the feedback page.

The submission: the tiny assignment solved, but its `add` cell fails on its first line (a
ValueError), before `def add` runs; `test_add` then fails with "NameError: name 'add' is not
defined".
"""

from __future__ import annotations

import pytest

from autograder.cli import main
from autograder.feedback import generate_feedback
from autograder.isolation.sandbox import detect_protections
from tests.e2e.conftest import TINY, cell_by_grade_id, read_notebook, solved_release, write_notebook

pytestmark = pytest.mark.slow

FAILS_FIRST = 'scale = int("two")  # fails before add is defined\n'
NOTE = (
    "add is defined by cell {number} (add), which failed with ValueError: invalid literal for "
    "int() with base 10: 'two'; fix that cell first."
)


@pytest.mark.parametrize("isolation", ["sandbox", "kernel"])
def test_an_undefined_name_names_the_failed_cell_that_defines_it(released_course, isolation):
    if isolation == "sandbox" and not detect_protections().full:
        pytest.skip("the full sandbox is unavailable here")
    course = released_course
    notebook = solved_release(course)
    add = cell_by_grade_id(notebook, "add")
    add["source"] = FAILS_FIRST + add["source"]
    write_notebook(course.submitted_dir / "dana" / TINY / f"{TINY}.ipynb", notebook)
    args = ["--course", str(course.root), "autograde", TINY, "--isolation", isolation]
    assert main([*args, "--timeout", "60"]) == 0

    graded = read_notebook(course.autograded_dir / "dana" / TINY / f"{TINY}.ipynb")
    number = graded["cells"].index(cell_by_grade_id(graded, "add")) + 1
    note = NOTE.format(number=number)
    error = next(o for o in cell_by_grade_id(graded, "test_add")["outputs"] if "ename" in o)
    assert error["ename"] == "NameError"
    assert error["evalue"] == f"name 'add' is not defined: {note}"
    assert error["traceback"][-1] == note
    # The other test cells are as they were: hypotenuse's passes, with no note.
    hypotenuse = cell_by_grade_id(graded, "test_hypotenuse")["outputs"]
    assert not any(o.get("output_type") == "error" for o in hypotenuse)

    generate_feedback(course, [TINY], student="dana")
    page = (course.feedback_dir / "dana" / TINY / f"{TINY}.html").read_text(encoding="utf-8")
    assert "add is defined by cell" in page and "fix that cell first" in page
