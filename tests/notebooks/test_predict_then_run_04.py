"""Notebook 04 asks before it shows: every experiment whose outcome is the lesson has a
prediction before it and a comparison after it, and every hand-graded answer has a rubric.

The conventions (the course's "predict, then run" and written-answer markup):
- a markdown question "**Predict (1 point).** Before you run the next cell: ...", then a
  hand-graded answer cell ``predict_<experiment>`` worth 1 point, then the experiment's code
  cell, tagged ``experiment:<experiment>``, then a question and a hand-graded answer cell
  ``compare_<experiment>``;
- a hand-graded answer's source is "**Your answer:**", then a solution region holding a model
  answer and a rubric whose points are the cell's and whose first line gives full marks.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "04_batchnorm.ipynb"
EXPERIMENTS = ["lr_sweep", "init_statistics", "init_training", "tiny_batches"]


@pytest.fixture(scope="module")
def cells():
    return nbformat.read(NOTEBOOK, as_version=4).cells


def grade_id(cell) -> str:
    return cell.metadata["nbgrader"]["grade_id"]


def is_hand_graded(cell) -> bool:
    meta = cell.metadata["nbgrader"]
    return meta.get("grade", False) and meta.get("solution", False)


def experiment_of(cell) -> str | None:
    tags = [t for t in cell.metadata.get("tags", []) if t.startswith("experiment:")]
    return tags[0].removeprefix("experiment:") if tags else None


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_each_experiment_is_predicted_just_before_it_runs_and_compared_after(cells, experiment):
    ids = [grade_id(c) for c in cells]
    runs = [i for i, c in enumerate(cells) if experiment_of(c) == experiment]
    assert len(runs) == 1, f"one code cell must be tagged experiment:{experiment}, got {len(runs)}"
    run = runs[0]
    assert cells[run].cell_type == "code"
    assert ids[run - 1] == f"predict_{experiment}", (
        f"the cell before experiment {experiment} must be predict_{experiment}, got {ids[run - 1]}"
    )
    question = cells[run - 2]
    assert question.cell_type == "markdown"
    assert question.source.startswith("**Predict (1 point).** Before you run the next cell")
    predict = cells[run - 1]
    assert is_hand_graded(predict) and predict.metadata["nbgrader"]["points"] == 1
    compare = ids.index(f"compare_{experiment}")
    later_runs = [i for i, c in enumerate(cells) if experiment_of(c) and i > run]
    assert run < compare < (later_runs[0] if later_runs else len(cells))
    assert is_hand_graded(cells[compare])


def test_experiment_cells_with_knobs_are_unlocked(cells):
    for cell in cells:
        if experiment_of(cell):
            assert not cell.metadata["nbgrader"]["locked"], grade_id(cell)


RUBRIC = re.compile(r"\*\*Rubric \((\d+) points?\)\.\*\*\n- (\d+): ")


def test_every_hand_graded_answer_has_a_model_answer_and_a_rubric_for_its_points(cells):
    answers = [c for c in cells if is_hand_graded(c)]
    assert len(answers) == 12
    for cell in answers:
        points = cell.metadata["nbgrader"]["points"]
        source = cell.source
        assert cell.cell_type == "markdown", grade_id(cell)
        assert source.startswith("**Your answer:**\n\n### BEGIN SOLUTION\n"), grade_id(cell)
        assert source.endswith("### END SOLUTION"), grade_id(cell)
        assert "**Model answer.**" in source, grade_id(cell)
        rubric = RUBRIC.search(source)
        assert rubric, f"{grade_id(cell)}: no rubric"
        assert int(rubric.group(1)) == int(rubric.group(2)) == points, grade_id(cell)
        assert "\n- 0: " in source, f"{grade_id(cell)}: the rubric must say what earns nothing"


def test_the_closed_form_is_not_printed_above_its_derivation(cells):
    ids = [grade_id(c) for c in cells]
    above = "\n".join(c.source for c in cells[: ids.index("derive_closed_form")])
    assert "N dout - dbeta" not in above.replace("*", "").replace("  ", " ")
    assert "N\\,dout - dbeta" not in above


def test_no_prose_or_docstring_gives_the_fan_in_of_either_layout(cells):
    student_visible = "\n".join(
        c.source.split("### BEGIN SOLUTION")[0]
        + (c.source.split("### END SOLUTION")[1] if "### END SOLUTION" in c.source else "")
        for c in cells
    )
    for giveaway in ("fan_in = shape[0]", "C * HH * WW", "C \\cdot HH \\cdot WW", "fan-in $D$"):
        assert giveaway not in student_visible
