"""The banned-library rule read from the student's source, in the grader
(autograder.isolation.source.banned_uses): what a proxy's function uses, through helpers and imports."""

from __future__ import annotations

from autograder.isolation.source import banned_uses

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


# --- the line count's integrity (autograder.isolation.source.tracing_uses) ------------------------------

VECTORISED = (
    "def conv_forward_fast(x, w, b, conv_param):\n"
    "    cols = np.lib.stride_tricks.sliding_window_view(x, w.shape[2:], axis=(2, 3))\n"
    "    out = np.einsum('nchwij,fcij->nfhw', cols, w) + b[None, :, None, None]\n"
    "    return out, (x, w, b, conv_param)\n"
)


def test_honest_vectorised_code_and_the_course_notebooks_touch_no_tracing():
    import json
    from pathlib import Path

    from autograder.isolation.source import tracing_uses

    assert tracing_uses([SETUP, VECTORISED, "model.eval()\nlayers = list(model.modules())\n"]) == []
    for path in sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("0[12]_*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        sources = [  # what the grader reads: every code cell but the test cells
            "".join(c["source"])
            for c in cells
            if c["cell_type"] == "code"
            and not (
                c["metadata"].get("nbgrader", {}).get("grade")
                and not c["metadata"].get("nbgrader", {}).get("solution")
            )
        ]
        assert tracing_uses(sources) == [], path.name


def test_each_way_to_forge_a_line_count_is_named():
    from autograder.isolation.source import tracing_uses

    forgeries = {
        "import sys\nsys.settrace(None)\n": "settrace",
        "from sys import settrace as s\n": "sys",
        "import autograder.kernel.rules as r\nr.count_lines = None\n": "autograder",
        "t = getattr(np, 'set' + 'trace')\n": "getattr with a computed name",
        "exec('x = 1')\n": "exec",
        "f = conv_forward_fast.__globals__\n": "__globals__",
        "import ctypes\n": "ctypes",
    }
    for code, word in forgeries.items():
        found = tracing_uses([SETUP, VECTORISED, code])
        assert any(word in use and "code cell 3" in use for use in found), (code, found)


def test_the_releases_colab_cell_is_read_past_but_an_edited_one_is_not():
    from autograder.colab import ColabConfig, is_setup_source, setup_cell_source
    from autograder.isolation.source import tracing_uses

    cell = setup_cell_source(ColabConfig(package="git+https://example.org/course.git"))
    assert is_setup_source(cell)
    assert is_setup_source(setup_cell_source(ColabConfig()))
    assert tracing_uses([SETUP, cell, VECTORISED]) == []
    assert is_setup_source(setup_cell_source(ColabConfig(package="p", data="https://e/d.zip")))
    edited = cell.replace("check=True)", "check=True)\nsys.settrace(None)")
    assert edited != cell and not is_setup_source(edited)
    assert tracing_uses([SETUP, edited, VECTORISED])
    smuggled = cell.replace('"git+', '__import__("sys") or "git+')
    assert smuggled != cell and not is_setup_source(smuggled)
