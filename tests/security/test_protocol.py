"""The wire between grader and kernel keeps one-process semantics where checks rely on them:
arguments changed in place come back (arrays, tensors, dicts, lists), also while the student's
code calls back into the grader, and 0-dimensional arrays and tensors keep their shape.

Each test grades a two-cell notebook with ``autograder.isolation.verdicts.grade_notebook``: a student cell
run in the kernel, and a test cell run in the grader against proxies of its functions.
"""

from __future__ import annotations

import nbformat
import numpy as np
import pytest

from autograder.isolation.sandbox import Limits
from autograder.isolation.verdicts import grade_notebook
from autograder.kernel import wire as remote

STUDENT = '''
import numpy as np
import torch


def perturb_and_ask(f, x):
    """Add 1 to x[0] in place, ask f, restore x: what f saw."""
    old = x[0]
    x[0] = old + 1.0
    seen = f(x)
    x[0] = old
    return seen


def store_running_mean(x, bn_param, history):
    """Store the mean into bn_param and append to history, in place, as batch norm does."""
    bn_param["running_mean"] = x.mean(axis=0)
    bn_param["mode"] = "train"
    history.append(len(history))
    x *= 2.0
    return None


def scale_tensor(t):
    """Scale a tensor in place."""
    with torch.no_grad():
        t.mul_(3.0)
    return t.sum()


def zero_dim():
    """A 0-dimensional array and a 0-dimensional tensor."""
    return np.array(2.5), torch.tensor(1.5)
'''

TEST = """
outside = np.array([1.0, 2.0, 3.0])
# The callback ignores its argument and reads the grader's own array: it must see x[0] + 1.
seen = perturb_and_ask(lambda _: float(outside[0]), outside)
assert seen == 2.0, f"the callback saw {seen}"
assert outside.tolist() == [1.0, 2.0, 3.0], "x is restored afterwards"

x = np.array([[1.0, 2.0], [3.0, 4.0]])
bn_param, history = {"eps": 1e-5}, [7]
assert store_running_mean(x, bn_param, history) is None
assert set(bn_param) == {"eps", "running_mean", "mode"}, bn_param
assert bn_param["running_mean"].tolist() == [2.0, 3.0]
assert history == [7, 1]
assert x.tolist() == [[2.0, 4.0], [6.0, 8.0]]

t = torch.ones(2, 2, requires_grad=True)
total = scale_tensor(t)
assert float(total.detach()) == 12.0 and t.detach().tolist() == [[3.0, 3.0], [3.0, 3.0]]

a, b = zero_dim()
assert a.shape == () and float(a) == 2.5
assert isinstance(b, torch.Tensor) and b.shape == () and float(b) == 1.5
"""


def _notebook(test: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    student = nbformat.v4.new_code_cell(STUDENT)
    check = nbformat.v4.new_code_cell(test)
    check.metadata["nbgrader"] = {"grade": True, "solution": False, "grade_id": "test", "points": 1}
    imports = nbformat.v4.new_code_cell("import numpy as np\nimport torch\n")
    imports.metadata["nbgrader"] = {"locked": True, "grade_id": "imports"}
    nb.cells = [imports, student, check]
    return nb


def _grade(tmp_path, test: str):
    nb = _notebook(test)
    result = grade_notebook(
        nb, tmp_path, timeout=60, limits=Limits(wall_seconds=120), env={}, sandbox=False
    )
    outputs = nb.cells[-1].outputs
    return result, "\n".join("\n".join(o.get("traceback", [])) for o in outputs)


@pytest.mark.slow
def test_in_place_changes_to_arguments_reach_the_grader_during_and_after_a_call(tmp_path):
    result, traceback = _grade(tmp_path, TEST)
    assert result.kernel_lost is None
    assert [v.passed for v in result.verdicts] == [True], traceback


@pytest.mark.slow
def test_an_assert_on_an_unchanged_argument_still_fails(tmp_path):
    # The sync must not make every argument look changed: a wrong expectation is still wrong.
    result, traceback = _grade(
        tmp_path,
        "x = np.array([1.0, 2.0])\nstore_running_mean(x, {}, [])\nassert x.tolist() == [1.0, 2.0]\n",
    )
    assert [v.passed for v in result.verdicts] == [False]
    assert "AssertionError" in traceback


def test_a_sync_for_an_argument_never_sent_is_a_protocol_error():
    codec = remote.Codec(lambda obj: False)
    codec.arguments = [np.zeros(2)]
    with pytest.raises(remote.ProtocolError, match="no argument number 3"):
        codec.decode({"$": "arg", "i": 3}, [])
    codec.arguments = None
    with pytest.raises(remote.ProtocolError, match="outside a sync"):
        codec.decode({"$": "arg", "i": 0}, [])


def test_a_synced_array_is_written_in_place_only_with_its_own_shape():
    target = np.zeros(3)
    remote._write_into(target, np.array([1.0, 2.0, 3.0]))
    assert target.tolist() == [1.0, 2.0, 3.0]
    remote._write_into(target, np.zeros(5))  # a resized array is not mirrored
    assert target.tolist() == [1.0, 2.0, 3.0]
    with pytest.raises(remote.ProtocolError, match="cannot change"):
        remote._write_into((1, 2), [3])
