"""autograder.rubrics: what a release refuses, what the grader sees, what students never see."""

from __future__ import annotations

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from autograder.rubrics import (
    HEADING,
    RUBRIC_MARKER,
    HideRubrics,
    ShowRubrics,
    rubric_problems,
    solution_region,
)

MODEL = "**Model answer.** Because the square root is increasing."
RUBRIC = "**Rubric (2 points).**\n- 2: both reasons\n- 1: one reason\n- 0: neither"
ANSWER_SOURCE = f"**Your answer:**\n\n### BEGIN SOLUTION\n{MODEL}\n\n{RUBRIC}\n### END SOLUTION"


def answer(source: str = ANSWER_SOURCE, grade_id: str = "why", points: float = 2):
    return new_markdown_cell(
        source,
        metadata={
            "nbgrader": {
                "grade": True,
                "solution": True,
                "locked": False,
                "points": points,
                "grade_id": grade_id,
                "schema_version": 3,
            }
        },
    )


def question(source: str = "Why?", grade_id: str = "why_question"):
    return new_markdown_cell(
        source,
        metadata={
            "nbgrader": {
                "grade": False,
                "solution": False,
                "locked": True,
                "grade_id": grade_id,
                "schema_version": 3,
            }
        },
    )


def test_an_answer_with_a_model_answer_and_a_rubric_in_its_solution_region_passes():
    assert rubric_problems([question(), answer()]) == []


def test_an_answer_without_a_rubric_is_refused_by_cell_and_grade_id():
    source = f"**Your answer:**\n\n### BEGIN SOLUTION\n{MODEL}\n### END SOLUTION"
    (problem,) = rubric_problems([question(), answer(source)])
    assert problem.startswith("cell 2 (why) is graded by hand")
    assert "its solution region has no rubric;" in problem


def test_an_answer_without_a_model_answer_is_refused():
    source = f"### BEGIN SOLUTION\n{RUBRIC}\n### END SOLUTION"
    (problem,) = rubric_problems([answer(source)])
    assert "its solution region has no model answer;" in problem


def test_an_answer_without_a_solution_region_is_refused():
    outside, missing = rubric_problems([answer(f"{MODEL}\n\n{RUBRIC}")])
    assert outside.startswith("cell 1 (why) has a rubric outside a solution region")
    assert "its solution region has no model answer and no rubric;" in missing


def test_a_rubric_outside_the_solution_region_is_refused_wherever_it_is():
    leaked = (
        f"**Your answer:**\n\n{RUBRIC}\n\n### BEGIN SOLUTION\n{MODEL}\n{RUBRIC}\n### END SOLUTION"
    )
    problems = rubric_problems([question(f"Why?\n\n{RUBRIC}"), answer(leaked)])
    assert any(p.startswith("cell 1 (why_question) has a rubric outside") for p in problems)
    assert any(p.startswith("cell 2 (why) has a rubric outside") for p in problems)


def test_a_rubric_whose_points_differ_from_the_cell_is_refused():
    (problem,) = rubric_problems([answer(points=1)])
    assert "rubric is for 2 points but the cell is worth 1" in problem


def test_cells_not_graded_by_hand_need_no_rubric():
    code = new_code_cell("x = 1", metadata={"nbgrader": {"grade": True, "solution": False}})
    assert rubric_problems([question(), code, new_markdown_cell("# Title")]) == []


def test_solution_region_is_the_text_between_the_markers():
    assert solution_region(ANSWER_SOURCE) == f"{MODEL}\n\n{RUBRIC}"
    assert solution_region("no region") is None
    assert solution_region("### BEGIN SOLUTION\nnever closed") is None


def _show(autograded, source_path):
    preprocessor = ShowRubrics(source_notebook=str(source_path))
    resources = {"nbgrader": {"assignment": "a", "notebook": "a", "student": "s"}}
    return preprocessor.preprocess(autograded, resources)[0]


@pytest.fixture
def source_path(tmp_path):
    path = tmp_path / "a.ipynb"
    nbformat.write(new_notebook(cells=[question(), answer(), new_markdown_cell("end")]), path)
    return path


def test_show_rubrics_puts_a_read_only_rubric_cell_right_after_each_answer(source_path):
    student = answer("**Your answer:**\n\nPythagoras.")
    autograded = new_notebook(cells=[question(), student, new_markdown_cell("end")])
    cells = _show(autograded, source_path).cells
    assert [c.metadata.get("nbgrader", {}).get("grade_id") for c in cells[:2]] == [
        "why_question",
        "why",
    ]
    rubric = cells[2]
    assert rubric.cell_type == "markdown" and rubric.metadata[RUBRIC_MARKER] == "why"
    assert rubric.metadata["editable"] is False and rubric.metadata["deletable"] is False
    assert "nbgrader" not in rubric.metadata
    assert rubric.source.startswith(f"**{HEADING}**")
    assert "> **Model answer.** Because the square root" in rubric.source
    assert "> - 1: one reason" in rubric.source and "BEGIN SOLUTION" not in rubric.source
    assert cells[1].source == "**Your answer:**\n\nPythagoras."  # the student's own, untouched
    assert cells[3].source == "end" and len(cells) == 4


def test_show_rubrics_again_replaces_its_cells_and_hide_rubrics_removes_them(source_path):
    autograded = new_notebook(cells=[question(), answer("Pythagoras.")])
    twice = _show(_show(autograded, source_path), source_path)
    assert sum(RUBRIC_MARKER in c.metadata for c in twice.cells) == 1
    hidden = HideRubrics().preprocess(twice, {})[0]
    assert [c.source for c in hidden.cells] == ["Why?", "Pythagoras."]


def test_show_rubrics_says_so_when_the_source_notebook_cannot_be_read(tmp_path):
    autograded = new_notebook(cells=[answer("Pythagoras.")])
    cells = _show(autograded, tmp_path / "missing.ipynb").cells
    assert len(cells) == 2 and "no model answer for the cell 'why'" in cells[1].source
