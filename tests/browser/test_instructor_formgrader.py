"""What an instructor sees: nbgrader's formgrader in JupyterLab on a course graded by cnn-course.

The course is the tiny assignment (tests/fixtures/tiny: two autograded functions, 5 points, and
one written answer graded by hand, 1 point), released, collected and autograded by cnn-course
for two students: `ada` (complete) and `bob` (partial). The instructor opens the formgrader
from Lab's Nbgrader menu, grades ada's written answer by hand (the model answer and rubric
shown under it), and exports the grades: the hand-given point is in the CSV. Screenshots:
tests/artifacts/browser/.
"""

from __future__ import annotations

import csv
import subprocess
import sys
import time

import pytest
from nbgrader.api import Gradebook

from autograder.build import release
from autograder.collect import collect
from autograder.course import COURSE_ID, Course
from autograder.grade import autograde
from autograder.rubrics import HEADING as RUBRIC_HEADING
from autograder.submissions import make_submission
from tests.browser.conftest import screenshot
from tests.e2e.conftest import TINY, TINY_SOURCE

pytestmark = pytest.mark.slow

WRITTEN_ANSWER = "why_longer"  # the tiny assignment's hand-graded cell (1 point)
AUTOGRADED_POINTS = 5.0


@pytest.fixture
def graded_course(tmp_path) -> Course:
    course = Course(tmp_path / "course")
    release(course, [TINY], source=TINY_SOURCE, progress=False)
    drop = tmp_path / "drop"
    for student, kind in (("ada", "complete"), ("bob", "partial")):
        folder = drop / student / TINY
        folder.mkdir(parents=True)
        text = make_submission(course.source_path(TINY), course.release_path(TINY), kind)
        (folder / f"{TINY}.ipynb").write_text(text, encoding="utf-8")
    assert collect(course, drop).ok
    report = autograde(course, [TINY], jobs=2, progress=False)
    assert report.ok, "\n".join(report.lines())
    return course


def manual_score(course: Course, student: str) -> float | None:
    with Gradebook(course.db_url, course_id=COURSE_ID) as gradebook:
        return gradebook.find_grade(WRITTEN_ANSWER, TINY, TINY, student).manual_score


def test_an_instructor_grades_a_written_answer_in_formgrader_and_exports_it(
    page, lab_server, graded_course, tmp_path, artifacts
):
    course = graded_course
    server = lab_server(course.root)

    page.goto(server.url("lab"))
    page.click('.lm-MenuBar-itemLabel:text-is("Nbgrader")')
    page.click('.lm-Menu-itemLabel:text-is("Formgrader")')
    formgrader = page.frame_locator("iframe").first
    formgrader.locator("text=Manage Assignments").first.wait_for()
    formgrader.locator(f"text={TINY}").first.wait_for()
    screenshot(page, "instructor_formgrader_in_lab")

    with Gradebook(course.db_url, course_id=COURSE_ID) as gradebook:
        submission_id = gradebook.find_submission_notebook(TINY, TINY, "ada").id
    page.goto(server.url(f"formgrader/gradebook/{TINY}/{TINY}"))
    page.wait_for_selector("text=Submission #1")
    screenshot(page, "instructor_formgrader_submissions")

    page.goto(server.url(f"formgrader/submissions/{submission_id}"))
    score = page.locator(f"input.score#{WRITTEN_ANSWER}")
    score.wait_for()
    body = page.inner_text("body")
    assert "Because a" in body, "ada's written answer is not shown"
    # The model answer and rubric follow the answer, for the grader only.
    assert RUBRIC_HEADING in body and body.index(RUBRIC_HEADING) > body.index("Written answer")
    assert "Rubric (1 point)" in body[body.index(RUBRIC_HEADING) :]
    rubric = page.locator(".cell", has_text=RUBRIC_HEADING).last
    rubric.scroll_into_view_if_needed()
    screenshot(page, "instructor_rubric_under_the_answer")
    assert manual_score(course, "ada") is None, "the written answer is not graded yet"
    # formgrader fills the score fields from its gradebook API after the page has loaded; on a
    # busy machine that can land after a value typed too early and erase it. So wait for the
    # page to go quiet, and type the point again if it has not been saved after a while.
    page.wait_for_load_state("networkidle")
    deadline = time.monotonic() + 45
    while manual_score(course, "ada") != 1.0:
        if time.monotonic() > deadline:
            screenshot(page, "instructor_score_not_saved")
            pytest.fail("formgrader did not save the hand-given point within 45 s")
        if score.input_value() != "1":
            score.fill("1")
            score.press("Tab")  # formgrader saves a score when the field loses focus
        page.wait_for_timeout(300)
    screenshot(page, "instructor_written_answer_graded")

    csv_path = tmp_path / "grades.csv"
    result = subprocess.run(
        [sys.executable, "-m", "autograder", "--course", str(course.root), "export"]
        + ["--to", str(csv_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    rows = {row["student_id"]: row for row in csv.DictReader(csv_path.open())}
    assert float(rows["ada"][TINY]) == AUTOGRADED_POINTS + 1
    assert float(rows["ada"]["total"]) == AUTOGRADED_POINTS + 1
    assert float(rows["bob"][TINY]) < AUTOGRADED_POINTS
