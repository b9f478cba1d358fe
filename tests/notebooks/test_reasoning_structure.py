"""Every notebook asks the student to reason: predictions before experiments, rubrics for graders.

Read from the source notebooks and their releases, without running them:
- each notebook has at least two predictions; each is a question cell ("**Predict (1 point).**")
  and a hand-graded answer `predict_<experiment>` (1 point) placed before the experiment's code
  cell (tag `experiment:<experiment>`, the first code cell after the answer), which is
  followed by the comparison `compare_<experiment>`, a hand-graded answer;
- an experiment whose cell opens with a "# Knob" comment is unlocked, so the student can turn it;
- every hand-graded cell has a model answer and a rubric in its solution region
  (`autograder.rubrics`), and the release has neither;
- the release opens with the title cell, not with the Colab setup.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from autograder.build import release
from autograder.course import Course
from autograder.rubrics import is_hand_graded, rubric_problems
from autograder.submissions import make_submission

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
MIN_PREDICTIONS = 2
EXPERIMENT_TAG = re.compile(r"^experiment:([a-z0-9_]+)$")

notebook_params = pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])


def grade_id(cell) -> str | None:
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def experiment_of(cell) -> str | None:
    """The experiment a code cell runs (its `experiment:<name>` tag), or None."""
    for tag in cell.metadata.get("tags", []):
        match = EXPERIMENT_TAG.match(tag)
        if match:
            return match.group(1)
    return None


def predictions(cells) -> dict[str, int]:
    """experiment -> index of its hand-graded `predict_<experiment>` answer cell."""
    return {
        grade_id(cell)[len("predict_") :]: index
        for index, cell in enumerate(cells)
        if is_hand_graded(cell) and (grade_id(cell) or "").startswith("predict_")
    }


@notebook_params
def test_every_notebook_asks_for_at_least_two_predictions(path):
    found = predictions(nbformat.read(path, as_version=4).cells)
    assert len(found) >= MIN_PREDICTIONS, (
        f"{path.name} has {len(found)} prediction(s) ({', '.join(found) or 'none'}); "
        f"expected at least {MIN_PREDICTIONS}: a '**Predict (1 point).**' question and a "
        "hand-graded answer predict_<experiment> before each experiment whose outcome is the lesson"
    )


@notebook_params
def test_each_prediction_comes_before_its_experiment_which_is_followed_by_its_comparison(path):
    cells = nbformat.read(path, as_version=4).cells
    problems = []
    for experiment, at in predictions(cells).items():
        question, answer = cells[at - 1], cells[at]
        if question.cell_type != "markdown" or not question.source.startswith(
            "**Predict (1 point).**"
        ):
            problems.append(
                f"predict_{experiment} is not right after a '**Predict (1 point).**' cell"
            )
        if answer.metadata["nbgrader"].get("points") != 1:
            problems.append(f"predict_{experiment} is not worth 1 point")
        runs = next((i for i in range(at + 1, len(cells)) if cells[i].cell_type == "code"), None)
        if runs is None or experiment_of(cells[runs]) != experiment:
            problems.append(
                f"the first code cell after predict_{experiment} is not tagged "
                f"experiment:{experiment}"
            )
            continue
        compare = next(
            (i for i, cell in enumerate(cells) if grade_id(cell) == f"compare_{experiment}"), None
        )
        if compare is None or compare < runs or not is_hand_graded(cells[compare]):
            problems.append(f"no hand-graded compare_{experiment} after the experiment")
    assert not problems, f"{path.name}: " + "; ".join(problems)


@notebook_params
def test_every_experiment_has_its_prediction_and_a_knob_is_unlocked(path):
    cells = nbformat.read(path, as_version=4).cells
    predicted = predictions(cells)
    problems = []
    seen = []
    for cell in cells:
        experiment = experiment_of(cell)
        if experiment is None:
            continue
        seen.append(experiment)
        if experiment not in predicted:
            problems.append(f"experiment:{experiment} has no predict_{experiment} before it")
        has_knob = cell.source.lstrip().lower().startswith("# knob")
        locked = cell.metadata.get("nbgrader", {}).get("locked", False)
        if has_knob and locked:
            problems.append(f"experiment:{experiment} has knobs but is locked")
    duplicates = sorted({name for name in seen if seen.count(name) > 1})
    if duplicates:
        problems.append(f"experiment names used twice: {duplicates}")
    assert not problems, f"{path.name}: " + "; ".join(problems)


@notebook_params
def test_every_hand_graded_cell_has_a_model_answer_and_a_rubric(path):
    problems = rubric_problems(nbformat.read(path, as_version=4).cells)
    assert not problems, f"{path.name}:\n" + "\n".join(problems)


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    """`released(path)` -> the release notebook of one source notebook, built when first asked."""
    course = Course(tmp_path_factory.mktemp("reasoning") / "course")
    built: dict[str, Path] = {}

    def build(path: Path) -> nbformat.NotebookNode:
        if path.stem not in built:
            release(course, [path.stem], source=path.parent, progress=False)
            built[path.stem] = course.release_path(path.stem)
        return nbformat.read(built[path.stem], as_version=4)

    return build


@pytest.mark.slow
@notebook_params
def test_the_release_has_no_rubric_or_model_answer_and_opens_with_the_title(path, released):
    source = nbformat.read(path, as_version=4)
    notebook = released(path)
    text = "\n".join(cell.source for cell in notebook.cells)
    for secret in ("**Rubric", "**Model answer", "BEGIN SOLUTION"):
        assert secret not in text, f"the release of {path.name} contains {secret!r}"
    assert notebook.cells[0].source == source.cells[0].source, (
        f"the release of {path.name} must open with the notebook's title cell"
    )
    assert notebook.cells[0].source.startswith("# ")
    answers = [cell for cell in notebook.cells if is_hand_graded(cell)]
    assert answers and all("YOUR ANSWER HERE" in cell.source for cell in answers)


@pytest.mark.slow
@notebook_params
def test_a_complete_sample_submission_writes_the_model_answer_without_the_rubric(path, released):
    source = nbformat.read(path, as_version=4)
    complete = nbformat.reads(make_submission(source, released(path), "complete"), as_version=4)
    models = {grade_id(cell): cell.source for cell in source.cells if is_hand_graded(cell)}
    answers = {grade_id(cell): cell.source for cell in complete.cells if is_hand_graded(cell)}
    assert answers.keys() == models.keys()
    for name, answer in answers.items():
        for secret in ("**Rubric", "**Model answer", "BEGIN SOLUTION", "END SOLUTION"):
            assert secret not in answer, f"{path.stem}/{name}: the written answer holds {secret!r}"
        model = models[name].split("**Model answer.**", 1)[1].split("**Rubric")[0].strip()
        assert model.splitlines()[0] in answer, f"{path.stem}/{name}: not the model answer"
