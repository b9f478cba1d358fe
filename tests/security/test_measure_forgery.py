"""A model check's measurement runs in the student's kernel (autograder.kernel.measure); a notebook
that rewrites that module there, to report the reference's model instead of its own, changes
nothing: the kernel serves the grader from a private copy loaded before any cell ran.

Each test grades a small notebook with ``autograder.isolation.verdicts.grade_notebook``: the student's
cells in a kernel, ``check_lenet5`` in the grader against a proxy of the student's class.
"""

from __future__ import annotations

import nbformat
import pytest

from autograder.isolation.sandbox import Limits
from autograder.isolation.verdicts import grade_notebook

pytestmark = pytest.mark.slow

IMPORTS = "import torch\nimport torch.nn.functional as F\nfrom torch import nn\n"

# Not LeNet-5: one linear layer on the first 16 pixels.
WRONG_MODEL = """
class LeNet5(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.fc = nn.Linear(16, num_classes)

    def forward(self, x):
        return self.fc(x.flatten(1)[:, :16])
"""

FORGERIES = {
    "the table entry": """
import autograder.kernel.measure as measure_module
from course_utils.reference import architectures as _ref

_real = measure_module.MEASUREMENTS["model"]
measure_module.MEASUREMENTS["model"] = lambda factory, *a, **k: _real(_ref.LeNet5, *a, **k)
""",
    "the function itself": """
import autograder.kernel.measure as measure_module
from course_utils.reference import architectures as _ref

_real = measure_module.model
measure_module.model = lambda factory, *a, **k: _real(_ref.LeNet5, *a, **k)
measure_module.MEASUREMENTS["model"] = measure_module.model
""",
}

TEST = "from autograder.checks import check_lenet5\n\ncheck_lenet5(LeNet5)\n"


def _right_model() -> str:
    """The notebook's own LeNet-5 solution."""
    from tests.solutions import NOTEBOOKS, _is_solution_cell

    source = nbformat.read(NOTEBOOKS / "05_architectures.ipynb", as_version=4)
    cells = [c.source for c in source.cells if _is_solution_cell(c) and "class LeNet5" in c.source]
    assert len(cells) == 1
    return cells[0]


def _grade(tmp_path, *student_cells: str):
    nb = nbformat.v4.new_notebook()
    imports = nbformat.v4.new_code_cell(IMPORTS)
    imports.metadata["nbgrader"] = {"locked": True, "grade_id": "imports"}
    check = nbformat.v4.new_code_cell(TEST)
    check.metadata["nbgrader"] = {"grade": True, "solution": False, "grade_id": "test", "points": 2}
    nb.cells = [imports, *(nbformat.v4.new_code_cell(c) for c in student_cells), check]
    result = grade_notebook(
        nb, tmp_path, timeout=120, limits=Limits(wall_seconds=240), env={}, sandbox=False
    )
    text = "\n".join(
        "\n".join(o.get("traceback", [])) + o.get("text", "") for o in nb.cells[-1].outputs
    )
    return result, text


@pytest.mark.parametrize("what", list(FORGERIES))
def test_rewriting_the_measurement_in_the_kernel_does_not_change_the_verdict(tmp_path, what):
    result, text = _grade(tmp_path, FORGERIES[what], WRONG_MODEL)
    assert result.kernel_lost is None
    assert [v.passed for v in result.verdicts] == [False], text
    assert "parameters, expected 61,706" in text, text


def test_the_measurement_through_the_kernel_passes_a_right_model(tmp_path):
    # The control: the same path gives the points to a model that is right.
    result, text = _grade(tmp_path, _right_model())
    assert [v.passed for v in result.verdicts] == [True], text
