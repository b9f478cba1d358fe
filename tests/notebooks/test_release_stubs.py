"""The student release of every course notebook: no answers in it, and tests that bite.

For each `notebooks/*.ipynb` the release is built with `autograder.build.release` and executed
with nbclient (errors allowed) in a kernel of the project's Python (see conftest.py):
- every autograded test cell FAILS on the stubs, so no test passes vacuously;
- no solution text and no hidden test is left in the release;
- the setup cells (the Colab cell the release adds, and the notebook's own first code cell)
  run cleanly.
Only those cells, the solution stubs and the test cells are executed: the demonstrations and
training runs between them are executed (with solutions) by test_source_notebooks.py, and
running them again on stubs would double the suite's time for nothing a stub can change.
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from autograder.build import release
from autograder.colab import CELL_MARKER
from autograder.course import Course

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
CELL_TIMEOUT_S = 600

pytestmark = pytest.mark.slow


def nbgrader_meta(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def is_autograded_test(cell) -> bool:
    meta = nbgrader_meta(cell)
    return cell.cell_type == "code" and meta.get("grade", False) and not meta.get("solution", False)


def region_lines(source: str, begin: str, end: str) -> set[str]:
    """Stripped, non-trivial lines between the markers that do not also occur outside them."""
    inside, outside, depth = set(), set(), 0
    for line in source.splitlines():
        stripped = line.strip()
        if stripped == begin:
            depth = 1
        elif stripped == end:
            depth = 0
        elif len(stripped) > 8 and not stripped.startswith("#"):
            (inside if depth else outside).add(stripped)
    return inside - outside


def error_of(cell):
    return next((o for o in cell.get("outputs", []) if o.get("output_type") == "error"), None)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """`built(name)` -> (source notebook, release notebook), each released once, when first
    asked for (so that running the tests of one notebook releases only that one)."""
    course = Course(tmp_path_factory.mktemp("release") / "course")
    done: dict[str, tuple] = {}

    def build(name: str) -> tuple:
        if name not in done:
            release(course, [name], source=REPO / "notebooks", progress=False)
            source = nbformat.read(REPO / "notebooks" / f"{name}.ipynb", as_version=4)
            done[name] = (source, course.release_path(name))
        return done[name]

    return build


notebook_params = pytest.mark.parametrize("name", [p.stem for p in NOTEBOOKS])


@notebook_params
def test_release_holds_no_solution_or_hidden_test_text(built, name):
    source, release_path = built(name)
    released = {
        nbgrader_meta(cell).get("grade_id"): cell.source
        for cell in nbformat.read(release_path, as_version=4).cells
    }
    text = release_path.read_text()
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
        assert marker not in text, f"{name} release still contains {marker!r}"
    for cell in source.cells:
        grade_id = nbgrader_meta(cell).get("grade_id")
        if grade_id is None:
            continue
        secret = region_lines(cell.source, "### BEGIN SOLUTION", "### END SOLUTION")
        secret |= region_lines(cell.source, "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")
        released_lines = {line.strip() for line in released.get(grade_id, "").splitlines()}
        leaked = secret & released_lines
        assert not leaked, f"{name}, cell {grade_id}: the release still has {sorted(leaked)}"


def setup_and_graded_cells(notebook):
    """The notebook cut down to its setup cells, solution stubs and autograded test cells."""
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    setup = [cell for cell in code if CELL_MARKER in cell.metadata]
    own_first = next(cell for cell in code if CELL_MARKER not in cell.metadata)
    keep = [
        cell
        for cell in code
        if cell in setup
        or cell is own_first
        or nbgrader_meta(cell).get("solution")
        or is_autograded_test(cell)
    ]
    notebook.cells = keep
    return notebook, setup + [own_first]


@notebook_params
def test_release_tests_fail_on_the_stubs_and_its_setup_runs(built, name, kernel_manager):
    _, release_path = built(name)
    notebook, setup = setup_and_graded_cells(nbformat.read(release_path, as_version=4))
    client = NotebookClient(
        notebook,
        km=kernel_manager,
        timeout=CELL_TIMEOUT_S,
        allow_errors=True,
        resources={"metadata": {"path": str(release_path.parent)}},
    )
    client.execute(env={**os.environ, "CNN_COURSE_FAST": "1", "PYTHONPATH": str(REPO)})

    tests = [cell for cell in notebook.cells if is_autograded_test(cell)]
    passing = [nbgrader_meta(cell)["grade_id"] for cell in tests if error_of(cell) is None]
    assert not passing, f"{name}: these tests pass on the blank release: {passing}"

    for cell in setup:
        error = error_of(cell)
        assert error is None, (
            f"{name}: a setup cell of the release fails: {error['ename']}: {error['evalue']}"
        )
