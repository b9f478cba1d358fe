"""The class report renders in a real browser: its histogram loads, its tables are there, and
the page logs no error to the console (it is one self-contained file, opened from disk)."""

from __future__ import annotations

import shutil

import pytest

from autograder.collect import collect
from autograder.course import Course
from autograder.feedback import generate_feedback
from autograder.grade import autograde
from autograder.report import write_reports
from tests.browser.conftest import screenshot
from tests.e2e.conftest import (
    TINY,
    cell_by_grade_id,
    solved_release,
    write_notebook,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def report_page(tmp_path, _released_template):
    shutil.copytree(_released_template, tmp_path / "course")
    course = Course(tmp_path / "course")
    right = solved_release(course)
    wrong = solved_release(course)
    cell_by_grade_id(wrong, "add")["source"] = "def add(a, b):\n    return a - b\n"
    for student, notebook in (("ada", right), ("bob", wrong)):
        write_notebook(tmp_path / "drop" / student / TINY / f"{TINY}.ipynb", notebook)
    collect(course, tmp_path / "drop")
    autograde(course, progress=False, isolation="kernel", timeout=60)
    generate_feedback(course)
    return write_reports(course)[0]


def test_the_report_renders_with_its_picture_and_no_console_error(report_page, page):
    errors: list[str] = []
    page.on(
        "console", lambda message: errors.append(message.text) if message.type == "error" else None
    )
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(report_page.as_uri())
    page.wait_for_load_state("load")
    width = page.eval_on_selector("img", "image => image.complete ? image.naturalWidth : 0")
    assert width > 0, "the histogram did not load"
    text = page.inner_text("body")
    assert f"{TINY}: class report" in text and "2 of 2 students submitted" in text
    assert "Exercises" in text and "Written answers" in text
    assert page.locator("table").count() >= 2
    screenshot(page, "class_report", full_page=True)
    assert errors == [], errors
