"""The student release of every course notebook: no answers in it, and tests that bite.

For each `notebooks/*.ipynb` the release is built with `autograder.build.release` and executed
with nbclient (errors allowed) in a kernel of the project's Python (see conftest.py):
- every autograded test cell FAILS on the stubs, so no test passes vacuously;
- no solution text and no hidden test is left in the release;
- the other code cells still run: the setup cell cleanly, and any other cell may fail only
  because a stub raised NotImplementedError, or because it reads a name that an earlier
  cell failed to define.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from autograder.build import release
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


def assigned_names(source: str) -> set[str]:
    """Names a cell binds at top level (assignments, defs, imports, loop targets)."""
    code = "\n".join(
        line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))
    )
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return set()
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
    return names


def error_of(cell):
    return next((o for o in cell.get("outputs", []) if o.get("output_type") == "error"), None)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """name -> (source notebook, release notebook), released once for the module."""
    course = Course(tmp_path_factory.mktemp("release") / "course")
    release(course, [path.stem for path in NOTEBOOKS], source=REPO / "notebooks", progress=False)
    return {
        path.stem: (nbformat.read(path, as_version=4), course.release_path(path.stem))
        for path in NOTEBOOKS
    }


notebook_params = pytest.mark.parametrize("name", [p.stem for p in NOTEBOOKS])


@notebook_params
def test_release_holds_no_solution_or_hidden_test_text(built, name):
    source, release_path = built[name]
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


@notebook_params
def test_release_tests_fail_on_the_stubs_and_other_cells_still_run(built, name, kernel_manager):
    _, release_path = built[name]
    notebook = nbformat.read(release_path, as_version=4)
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

    undefined: set[str] = set()  # names that a failed cell did not get to define
    first_code = next(cell for cell in notebook.cells if cell.cell_type == "code")
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        error = error_of(cell)
        if error is not None:
            undefined |= assigned_names(cell.source)
        if is_autograded_test(cell) or nbgrader_meta(cell).get("solution") or error is None:
            continue
        where = f"{name}, cell {nbgrader_meta(cell).get('grade_id', cell.source[:40])!r}"
        assert cell is not first_code, f"{where}: the setup cell fails: {error['ename']}"
        if error["ename"] == "NotImplementedError":
            continue
        missing = error["evalue"].split("'")[1] if error["ename"] == "NameError" else None
        assert missing in undefined, (
            f"{where} fails on the release for a reason other than a stub: "
            f"{error['ename']}: {error['evalue']}"
        )
