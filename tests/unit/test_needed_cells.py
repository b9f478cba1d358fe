"""Grading runs the cells the grades need and keeps the others' submitted outputs
(`autograder.isolation.needed`): which cells those are, read from the source."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from autograder.isolation.needed import (
    KEPT_OUTPUT_NOTE,
    ClearOutputsToRun,
    cells_to_run,
    is_kept,
)

REPO = Path(__file__).resolve().parents[2]


def code(source: str, *, solution: bool = False, grade: bool = False):
    cell = new_code_cell(source)
    if solution or grade:
        cell.metadata["nbgrader"] = {
            "solution": solution,
            "grade": grade,
            "grade_id": f"cell{abs(hash(source)) % 10**6}",
            "locked": not solution,
            "schema_version": 3,
            **({"points": 1} if grade else {}),
        }
    return cell


def skipped(cells) -> list[str]:
    """The first lines of the code cells grading does not run."""
    return [
        cell.source.splitlines()[0]
        for cell, run in zip(cells, cells_to_run(cells), strict=True)
        if cell.cell_type == "code" and not run
    ]


SETUP = code("import numpy as np\nimport torch\nFAST = True")
SOLUTION = code("def double(x):\n    return 2 * x", solution=True)
TEST = code("from autograder.checks import check_double\ncheck_double(double)", grade=True)


def test_a_training_cell_no_graded_cell_reads_is_not_run_nor_the_plot_of_its_result():
    cells = [
        SETUP,
        SOLUTION,
        code("model = torch.nn.Linear(2, 2)\nhistory = train(model, epochs=3 if FAST else 30)"),
        code("plot(history)\nmodel.eval()"),
        new_markdown_cell("What do you see?"),
        TEST,
    ]
    assert skipped(cells) == ["model = torch.nn.Linear(2, 2)", "plot(history)"]


def test_the_setup_the_solutions_and_the_tests_always_run():
    cells = [SETUP, SOLUTION, TEST]
    assert cells_to_run(cells) == [True, True, True]


def test_a_cell_that_defines_what_a_test_reads_runs_and_so_do_the_cells_it_needs():
    cells = [
        SETUP,
        code("SIZES = (8, 16)"),
        code("capstone = fit(SIZES, steps=100)"),
        code("curve = capstone.losses"),
        code("check_capstone(capstone)", grade=True),
    ]
    assert skipped(cells) == ["curve = capstone.losses"]


def test_a_cell_that_changes_an_object_a_later_cell_needs_runs():
    cells = [
        SETUP,
        code("params = {}"),
        code('params["W1"] = np.ones(3)'),
        code("model.load(params)"),
        code("model = Model()"),
        code("check_model(model, params)", grade=True),
    ]
    # `params["W1"] = ...` assigns into params, `model.load(...)` calls a method of model.
    assert skipped(cells) == []


def test_calls_on_imported_modules_do_not_make_a_cell_needed():
    cells = [
        SETUP,
        code("np.random.seed(1)\ntorch.manual_seed(1)\nprint(torch.randn(2))"),
        SOLUTION,
        TEST,
    ]
    assert skipped(cells) == ["np.random.seed(1)"]


def test_a_function_body_reads_the_globals_it_uses_not_its_own_locals():
    cells = [
        SETUP,
        code("x = np.arange(5)  # a demo's array"),
        code("scale = 3"),
        code("def triple(x):\n    return scale * x", solution=True),
        TEST,
    ]
    assert skipped(cells) == ["x = np.arange(5)  # a demo's array"]


def test_a_cell_that_is_not_python_runs():
    cells = [SETUP, code("this is not python ("), SOLUTION, TEST]
    assert skipped(cells) == []


def test_a_cell_with_a_magic_runs_but_a_shell_command_or_matplotlib_magic_need_not():
    cells = [
        SETUP,
        code("%time result = slow()"),
        code("%%capture\nother = slow()"),
        code("%matplotlib inline\nplot(1)"),
        code("!ls"),
        SOLUTION,
        TEST,
    ]
    assert skipped(cells) == ["%matplotlib inline", "!ls"]


@pytest.mark.parametrize("path", sorted((REPO / "notebooks").glob("*.ipynb")), ids=lambda p: p.stem)
def test_every_course_notebook_runs_every_solution_and_test_cell(path):
    cells = nbformat.read(path, as_version=4).cells
    for cell, run in zip(cells, cells_to_run(cells), strict=True):
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and (meta.get("solution") or meta.get("grade")):
            assert run, meta["grade_id"]


def test_clear_outputs_to_run_keeps_and_marks_what_it_skips_and_clears_the_rest():
    kept = code("model = torch.nn.Linear(2, 2)")
    kept.outputs = [new_output("stream", name="stdout", text="loss 0.31\n")]
    run = code("def double(x):\n    return 2 * x", solution=True)
    run.outputs = [new_output("stream", name="stdout", text="old output\n")]
    run.execution_count = 4
    nb = new_notebook(cells=[SETUP, kept, run, TEST])

    nb, _ = ClearOutputsToRun().preprocess(nb, {})
    assert is_kept(nb.cells[1]) and not is_kept(nb.cells[2])
    assert [o["text"] for o in nb.cells[1].outputs] == [KEPT_OUTPUT_NOTE, "loss 0.31\n"]
    assert nb.cells[2].outputs == [] and nb.cells[2].execution_count is None

    nb, _ = ClearOutputsToRun(rerun_all=True).preprocess(nb, {})
    assert not any(is_kept(cell) for cell in nb.cells)
    assert all(cell.outputs == [] for cell in nb.cells if cell.cell_type == "code")
