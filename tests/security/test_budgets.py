"""A submission that never returns costs the class one grading budget at most.

One batch of the tiny assignment: a function that loops forever when the tests call it, one
that sleeps, one that allocates without end, one whose every cell loops (it uses up the whole
budget), beside honest controls. The batch finishes within the budgets; the stuck submissions
score only what they earned before they got stuck, each marked with the cell it was stopped in;
the honest ones score full marks, in both isolations.
"""

from __future__ import annotations

import csv
import time

import pytest

from autograder.collect import collect
from autograder.course import Course
from autograder.export import export_grades
from autograder.grade import autograde
from autograder.isolation.sandbox import Limits, detect_protections
from tests.e2e.conftest import TINY, cell_by_grade_id, solved_release, write_notebook

pytestmark = pytest.mark.slow

CELL_TIMEOUT = 4
BUDGET = 15
ADD = "def add(a, b):\n    return a + b\n"
HYPOTENUSE = "import math\n\n\ndef hypotenuse(a, b):\n    return math.sqrt(a * a + b * b)\n"
SUBMISSIONS = {
    # student: (the add cell, the hypotenuse cell, autograded points it earns)
    "honest": (ADD, HYPOTENUSE, 5.0),
    "loops_in_add": ("def add(a, b):\n    while True:\n        pass\n", HYPOTENUSE, 3.0),
    "sleeps_in_hypotenuse": (
        ADD,
        "import time\n\n\ndef hypotenuse(a, b):\n    time.sleep(3600)\n",
        2.0,
    ),
    "memory_bomb_in_add": (
        "def add(a, b):\n    chunks = []\n    while True:\n        chunks.append(bytearray(64 << 20))\n",
        HYPOTENUSE,
        None,  # 3 where the kernel survives its MemoryError, 0 where the memory cap kills it
    ),
    "loops_everywhere": ("def add(a, b):\n    while True:\n        pass\n", HYPOTENUSE, 0.0),
}
# Cells of the student's own after the add cell, each calling add: 5 x 4 s, past the budget.
# The hypotenuse cell prints what they computed, so grading must run every one of them.
CALLS = {"loops_everywhere": 5}


def _submission(course: Course, add: str, hypotenuse: str, calls: int) -> dict:
    notebook = solved_release(course, TINY)
    cell = cell_by_grade_id(notebook, "add")
    cell["source"] = add
    if calls:
        hypotenuse += "\n\nprint(two)\n"
    cell_by_grade_id(notebook, "hypotenuse")["source"] = hypotenuse
    at = notebook["cells"].index(cell) + 1
    for _ in range(calls):
        extra = {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": []}
        notebook["cells"].insert(at, {**extra, "source": "two = add(1, 1)\n"})
    return notebook


@pytest.fixture(scope="module", params=["sandbox", "kernel"])
def batch(request, tmp_path_factory, _released_template):
    import shutil

    isolation = request.param
    if isolation == "sandbox" and not detect_protections().full:
        pytest.skip("the full sandbox is unavailable here")
    root = tmp_path_factory.mktemp(f"budgets-{isolation}") / "course"
    shutil.copytree(_released_template, root)
    course = Course(root)
    drop = root.parent / "drop"
    for student, (add, hypotenuse, _) in SUBMISSIONS.items():
        notebook = _submission(course, add, hypotenuse, CALLS.get(student, 0))
        write_notebook(drop / student / TINY / f"{TINY}.ipynb", notebook)
    collect(course, drop)
    start = time.monotonic()
    report = autograde(
        course,
        jobs=2,
        timeout=CELL_TIMEOUT,
        budget=BUDGET,
        progress=False,
        isolation=isolation,
        limits=Limits(memory_bytes=1536 << 20),
    )
    seconds = time.monotonic() - start
    text = export_grades(course, to=root.parent / "grades.csv").read_text()
    scores = {row["student_id"]: float(row[TINY]) for row in csv.DictReader(text.splitlines())}
    return isolation, report, scores, seconds


def test_the_batch_finishes_within_the_budgets(batch):
    _, report, _, seconds = batch
    assert len(report.results) == len(SUBMISSIONS)
    # Two at a time, each at most one budget, plus kernel starts and nbgrader's own work.
    assert seconds < len(SUBMISSIONS) / 2 * BUDGET + 120


def test_each_submission_scores_what_it_earned_and_the_honest_one_full_marks(batch):
    _, _, scores, _ = batch
    for student, (*_, expected) in SUBMISSIONS.items():
        if expected is None:
            assert scores[student] in (0.0, 3.0), scores
        else:
            assert scores[student] == expected, (student, scores)


def test_a_submission_that_used_up_its_budget_is_marked_with_the_cell(batch):
    isolation, report, _, _ = batch
    notes = {r.student: " ".join(r.notes) for r in report.results}
    assert "grading budget of 15 s in cell" in notes["loops_everywhere"], notes
    assert "timed out after" in notes["loops_in_add"], notes
    assert "timed out after" in notes["sleeps_in_hypotenuse"], notes
    assert notes["honest"] == ""
