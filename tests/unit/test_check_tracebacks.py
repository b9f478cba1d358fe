"""A failing check shows the student the diagnosis, not the check's code: the traceback in a
notebook ends at the student's own line, then one frame of the wrapper that re-raises."""

from __future__ import annotations

import re

import pytest


@pytest.fixture
def shell():
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    yield shell
    InteractiveShell.clear_instance()


def _traceback_of(shell, source: str, capsys) -> str:
    capsys.readouterr()
    result = shell.run_cell(source)
    assert isinstance(result.error_in_exec, AssertionError)
    return re.sub(r"\x1b\[[0-9;]*m", "", capsys.readouterr().out)  # without the colours


def test_a_failing_check_hides_the_check_code_and_keeps_the_diagnosis(shell, capsys):
    text = _traceback_of(
        shell,
        "import numpy as np\n"
        "from autograder.checks import check_conv_output_size\n"
        "def conv_output_size(n, f, stride=1, pad=0):\n"
        "    return (n - f + pad) // stride + 1  # the padding counted once\n"
        "check_conv_output_size(conv_output_size)\n",
        capsys,
    )
    assert "check_conv_output_size(conv_output_size)" in text  # the student's own line
    assert 'conv_output_size: case "' in text and "Hint:" in text, text  # the diagnosis
    for internal in ("run_cases", "judge(attempt, case)", "arithmetic.py"):
        assert internal not in text, (internal, text)
    # The one frame of the engine is the student-facing wrapper that re-raises.
    assert [line for line in text.splitlines() if "_engine.py" in line] == [
        line for line in text.splitlines() if "_engine.py" in line and "check.<locals>.run" in line
    ], text
    assert text.count("_engine.py") == 1, text


def test_a_passing_check_still_returns_its_result():
    from autograder.checks import check_conv_output_size
    from tests.solutions import load_solutions

    result = check_conv_output_size(load_solutions("01_conv_arithmetic").conv_output_size)
    assert result.passed == result.total > 0
