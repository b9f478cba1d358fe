"""The banned-library rule read from the student's source, in the grader
(autograder.verdicts.banned_uses): what a proxy's function uses, through helpers and imports."""

from __future__ import annotations

from autograder.verdicts import banned_uses

SETUP = "import numpy as np\nimport torch\nimport torch.nn.functional as F\nfrom course_utils import reference\n"


def test_numpy_only_code_uses_nothing_banned():
    code = "def conv(x, k):\n    return np.sum(x * k)\n"
    assert banned_uses([SETUP, code], "conv") == []


def test_a_torch_call_through_the_setup_alias_is_named():
    code = "def conv(x, k):\n    return F.conv2d(torch.tensor(x), torch.tensor(k)).numpy()\n"
    found = banned_uses([SETUP, code], "conv")
    assert any("torch.nn.functional.conv2d" in use for use in found)


def test_a_banned_call_hidden_in_a_helper_is_found():
    code = (
        "def _helper(x, k):\n    return reference.cross_correlate2d(x, k)\n\n"
        "def conv(x, k):\n    return _helper(x, k)\n"
    )
    assert any("course_utils.reference" in use for use in banned_uses([SETUP, code], "conv"))


def test_an_import_inside_the_function_and_an_alias_assignment_are_found():
    inside = (
        "def conv(x, k):\n    from scipy.signal import convolve2d\n    return convolve2d(x, k)\n"
    )
    assert any("scipy.signal" in use for use in banned_uses([SETUP, inside], "conv"))
    alias = "conv = reference.convolve2d\n"
    assert banned_uses([SETUP, alias], "conv")


def test_exec_and_dunder_import_count_as_banned():
    code = "def conv(x, k):\n    return __import__('torch').tensor(x)\n"
    assert any("__import__" in use for use in banned_uses([SETUP, code], "conv"))


def test_a_function_with_no_definition_in_the_notebook_is_reported():
    assert banned_uses([SETUP, "exec('def conv(x, k): return x')\n"], "conv")


def test_a_local_variable_named_like_a_module_alias_is_not_that_module():
    code = "def conv(x, w):\n    F, C, HH, WW = w.shape\n    return np.zeros((F, C))\n"
    assert banned_uses([SETUP, code], "conv") == []
