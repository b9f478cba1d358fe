"""Notebook 02's capstone: the reference model with learned filters beats its random-filter baseline.

The notebook's own cells (``load_data``, ``capstone_setup`` and ``capstone``) run on the
notebook's reference solutions (``tests/solutions.py``): the reference ThreeLayerConvNet and
train_epoch train for the step budget, and the model must clear the pass mark that
``check_capstone`` applies (the notebook states it after the experiment, and its test cell
says how it was chosen), and the check must pass them. So the test fails when a change to a
layer, to the model, to the loop, to the data, to the cells or to the check would leave a
correct student short of the capstone's pass mark. Nothing here reads a clock: the budget is steps.
"""

from __future__ import annotations

import nbformat
import numpy as np
import pytest

from autograder.checks import check_capstone, training
from tests.solutions import NOTEBOOKS, run_cells

NOTEBOOK = NOTEBOOKS / "02_layers.ipynb"
# The pass mark of check_capstone, as the notebook's capstone cell states it.
CAPSTONE_BAR = 0.75
CAPSTONE_MARGIN = 0.02


def _cell_source(grade_id: str) -> str:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            return cell.source
    raise LookupError(f"{NOTEBOOK.name} has no cell with grade_id {grade_id!r}")


def test_the_notebook_states_the_pass_mark_this_test_and_the_check_apply():
    assert (training.CAPSTONE_BAR, training.CAPSTONE_MARGIN) == (CAPSTONE_BAR, CAPSTONE_MARGIN)
    assert f"CAPSTONE_STEPS = {training.CAPSTONE_STEPS}" in _cell_source("setup")
    assert "at least 75% test accuracy and a\nlead of at least 2 points" in _cell_source(
        "capstone_explained"
    )
    test_cell = _cell_source("test_capstone")
    assert "The check asks for at least 75%" in test_cell
    assert "check_capstone(capstone_model, baseline, initial_filters" in test_cell


@pytest.mark.slow
def test_reference_capstone_clears_the_bar_and_beats_its_baseline_within_the_step_budget():
    namespace = run_cells("02_layers", "sgd", "load_data", "capstone_setup", "capstone")
    model, baseline = namespace["capstone_model"], namespace["baseline"]
    steps = namespace["CAPSTONE_STEPS"]
    assert len(namespace["capstone_losses"]) == len(namespace["baseline_losses"]) == steps
    np.testing.assert_array_equal(baseline.params["W1"], namespace["initial_filters"])
    assert not np.array_equal(model.params["W1"], namespace["initial_filters"])
    accuracy = namespace["test_accuracy"](model)
    baseline_accuracy = namespace["test_accuracy"](baseline)
    assert accuracy >= CAPSTONE_BAR, f"test accuracy {accuracy:.1%} < {CAPSTONE_BAR:.0%}"
    assert accuracy - baseline_accuracy >= CAPSTONE_MARGIN, (
        f"learned filters {accuracy:.1%}, random filters {baseline_accuracy:.1%}: the lead is "
        f"below {CAPSTONE_MARGIN:.0%}"
    )
    # The check evaluates the same two models on the test images it loads itself.
    arguments = (model, baseline, namespace["initial_filters"])
    arguments += (namespace["capstone_losses"], namespace["baseline_losses"])
    for cases in ("public", "hidden"):
        result = check_capstone(*arguments, cases=cases)
        assert result.passed == result.total == 1
