"""Every source notebook is valid nbgrader markup, as committed.

That every notebook also runs top to bottom with its tests passing is tested where the run
proves more, so each notebook runs twice in the suite rather than three times:
- tests/notebooks/test_student_env.py runs each solved release (the source's solutions with
  the visible tests) in a fresh student-only environment, and fails on any cell error;
- tests/e2e/test_demo.py grades the complete submission of each notebook with the source's
  hidden tests and requires every autograded point.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from nbgrader.nbgraderformat import MetadataValidator

from autograder.course import DEFAULT_BUDGET, DEFAULT_CELL_TIMEOUT

NOTEBOOKS_DIR = Path(__file__).resolve().parents[2] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))

BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
# The first markdown cell states the points, e.g. "**Total: 18 points** (14 autograded, 4 graded by hand)".
TOTAL_PATTERN = re.compile(r"Total:\s*(\d+)\s*points", re.IGNORECASE)
AUTOGRADED_PATTERN = re.compile(r"(\d+)\s+autograded", re.IGNORECASE)
BY_HAND_PATTERN = re.compile(r"(\d+)\s+graded by hand", re.IGNORECASE)

notebook_params = pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def nbgrader_meta(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def grade_id(cell, index: int) -> str:
    return nbgrader_meta(cell).get("grade_id", f"cell {index}")


def is_autograded_test(cell) -> bool:
    meta = nbgrader_meta(cell)
    return cell.cell_type == "code" and meta.get("grade", False) and not meta.get("solution", False)


def is_hand_graded(cell) -> bool:
    meta = nbgrader_meta(cell)
    return meta.get("grade", False) and meta.get("solution", False)


def balanced(source: str, begin: str, end: str) -> bool:
    """Every begin marker is closed by an end marker before the next begin, and nothing dangles."""
    depth = 0
    for line in source.splitlines():
        stripped = line.strip()
        if stripped == begin:
            if depth:
                return False
            depth = 1
        elif stripped == end:
            if not depth:
                return False
            depth = 0
    return depth == 0


def test_there_are_source_notebooks():
    assert NOTEBOOKS, f"no notebooks found in {NOTEBOOKS_DIR}"


@notebook_params
def test_notebook_is_committed_without_outputs(path):
    nb = read(path)
    with_outputs = [
        grade_id(cell, i)
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)
    ]
    assert not with_outputs, f"{path.name}: clear the outputs of {with_outputs} before committing"


@notebook_params
def test_every_cell_has_valid_nbgrader_metadata(path):
    nb = read(path)
    missing = [i for i, cell in enumerate(nb.cells) if not nbgrader_meta(cell)]
    assert not missing, f"{path.name}: cells {missing} have no nbgrader metadata"
    MetadataValidator().validate_nb(nb)  # nbgrader's own rules: raises ValidationError


@notebook_params
def test_grade_ids_are_unique(path):
    ids = [nbgrader_meta(cell).get("grade_id") for cell in read(path).cells]
    assert None not in ids, (
        f"{path.name}: cells {[i for i, g in enumerate(ids) if g is None]} have no grade_id"
    )
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    assert not duplicates, f"{path.name}: grade_ids used more than once: {duplicates}"


@notebook_params
def test_grade_cells_have_positive_points_and_test_cells_are_locked(path):
    problems = []
    for i, cell in enumerate(read(path).cells):
        meta = nbgrader_meta(cell)
        if meta.get("grade") and not (
            isinstance(meta.get("points"), int | float) and meta["points"] > 0
        ):
            problems.append(f"{grade_id(cell, i)}: grade cell without positive points")
        if is_autograded_test(cell) and not meta.get("locked"):
            problems.append(f"{grade_id(cell, i)}: test cell not locked")
        if meta.get("solution") and meta.get("locked"):
            problems.append(f"{grade_id(cell, i)}: solution cell locked")
    assert not problems, f"{path.name}: " + "; ".join(problems)


@notebook_params
def test_solution_and_hidden_test_regions_are_balanced(path):
    unbalanced = []
    for i, cell in enumerate(read(path).cells):
        for begin, end in ((BEGIN_SOLUTION, END_SOLUTION), (BEGIN_HIDDEN, END_HIDDEN)):
            if not balanced(cell.source, begin, end):
                unbalanced.append(f"{grade_id(cell, i)} ({begin.split()[-1].lower()})")
    assert not unbalanced, f"{path.name}: unbalanced regions in {unbalanced}"


@notebook_params
def test_solution_cells_have_a_solution_region(path):
    without = [
        grade_id(cell, i)
        for i, cell in enumerate(read(path).cells)
        if nbgrader_meta(cell).get("solution") and BEGIN_SOLUTION not in cell.source
    ]
    assert not without, f"{path.name}: solution cells without {BEGIN_SOLUTION!r}: {without}"


@notebook_params
def test_every_autograded_test_cell_has_hidden_tests(path):
    without = [
        grade_id(cell, i)
        for i, cell in enumerate(read(path).cells)
        if is_autograded_test(cell) and BEGIN_HIDDEN not in cell.source
    ]
    assert not without, f"{path.name}: test cells without a hidden-test block: {without}"


@notebook_params
def test_first_code_cell_is_the_setup_cell(path):
    code_cells = [cell for cell in read(path).cells if cell.cell_type == "code"]
    assert code_cells and not nbgrader_meta(code_cells[0]).get("solution"), (
        f"{path.name}: the first code cell must be the locked setup cell (imports and knobs), "
        "not a solution cell"
    )
    assert "FAST" in code_cells[0].source, f"{path.name}: the setup cell must define FAST"


@notebook_params
def test_stated_points_equal_the_grade_cells(path):
    nb = read(path)
    top = next(cell.source for cell in nb.cells if cell.cell_type == "markdown")
    total = TOTAL_PATTERN.search(top)
    assert total, f'{path.name}: the first markdown cell must state "Total: N points"'
    autograded = sum(nbgrader_meta(c)["points"] for c in nb.cells if is_autograded_test(c))
    by_hand = sum(nbgrader_meta(c)["points"] for c in nb.cells if is_hand_graded(c))
    assert int(total.group(1)) == autograded + by_hand, (
        f"{path.name}: states {total.group(1)} points, the grade cells hold "
        f"{autograded + by_hand} ({autograded} autograded, {by_hand} graded by hand)"
    )
    for pattern, actual, what in (
        (AUTOGRADED_PATTERN, autograded, "autograded"),
        (BY_HAND_PATTERN, by_hand, "graded by hand"),
    ):
        stated = pattern.search(top)
        if stated:
            assert int(stated.group(1)) == actual, (
                f"{path.name}: states {stated.group(1)} points {what}, the cells hold {actual}"
            )


@notebook_params
def test_every_notebook_declares_grading_times_tighter_than_the_defaults(path):
    # A submission that loops costs one budget: each notebook declares what its own solution
    # needs, with room for a loaded machine (benchmarks/bench_notebooks.py prints what the
    # graded cells take), rather than the 600 s per cell and 1,800 s per notebook of a
    # notebook that declares nothing.
    grading = read(path).metadata.get("cnn_course", {}).get("grading", {})
    cell, budget = grading.get("cell_timeout"), grading.get("budget")
    assert isinstance(cell, int) and isinstance(budget, int), (
        f"{path.name}: the notebook metadata must hold "
        '{"cnn_course": {"grading": {"cell_timeout": S, "budget": S}}} in whole seconds; '
        f"it holds {grading!r}"
    )
    assert 0 < cell <= budget, (
        f"{path.name}: cell_timeout {cell} s must be within budget {budget} s"
    )
    assert cell < DEFAULT_CELL_TIMEOUT and budget < DEFAULT_BUDGET, (
        f"{path.name}: cell_timeout {cell} s and budget {budget} s must be tighter than the "
        f"defaults ({DEFAULT_CELL_TIMEOUT} s, {DEFAULT_BUDGET} s)"
    )
