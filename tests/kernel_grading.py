"""Grading test cells through a kernel, as ``--isolation sandbox`` does: the student's cell runs
in a kernel process, each test cell in this process against proxies of its functions and
classes (``autograder.isolation.verdicts.grade_notebook``, without bubblewrap, for speed).
The measurements that the kernel runs for a check must report plain data (``assert_plain``)."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType

import nbformat
import numpy as np
import pytest

from autograder.isolation.sandbox import Limits
from autograder.isolation.verdicts import grade_notebook
from autograder.kernel.measure import MEASUREMENTS
from tests.check_harness import HINT_ID
from tests.solutions import NOTEBOOKS, _is_solution_cell


def solutions_source(stem: str) -> str:
    """Every solution cell of a course notebook, as one cell's source."""
    source = nbformat.read(NOTEBOOKS / f"{stem}.ipynb", as_version=4)
    return "\n\n".join(c.source for c in source.cells if _is_solution_cell(c))


def module_body(module: ModuleType) -> str:
    """A module's source without its docstring (the wrong implementations, say)."""
    return Path(inspect.getfile(module)).read_text().split('"""', 2)[2]


def expect_mistake(check: str, impl: str, pattern: str) -> str:
    """A test cell that passes when ``check(impl)`` fails with a message matching ``pattern``."""
    return (
        f"import re\nfrom autograder.checks import {check}\n"
        f"try:\n    {check}({impl})\nexcept AssertionError as error:\n"
        f"    assert re.search({pattern!r}, str(error)), str(error)\n"
        "else:\n    raise AssertionError('the check passed')\n"
    )


def failing_tests(tmp_path: Path, imports: str, student: str, tests: list[str]) -> list[tuple]:
    """Grade a notebook of a locked ``imports`` cell, one ``student`` cell and the ``tests``;
    return (test, traceback) for each test cell that did not pass."""
    locked = nbformat.v4.new_code_cell(imports)
    locked.metadata["nbgrader"] = {"locked": True, "grade_id": "imports"}
    nb = nbformat.v4.new_notebook()
    nb.cells = [locked, nbformat.v4.new_code_cell(student)]
    for index, test in enumerate(tests):
        cell = nbformat.v4.new_code_cell(test)
        cell.metadata["nbgrader"] = {"grade": True, "grade_id": f"t{index}", "points": 1}
        nb.cells.append(cell)
    result = grade_notebook(
        nb, tmp_path, timeout=120, limits=Limits(wall_seconds=600), env={}, sandbox=False
    )
    assert result.kernel_lost is None, result.kernel_lost
    assert len(result.verdicts) == len(tests)
    return [
        (test, "\n".join("\n".join(o.get("traceback", [])) for o in cell.outputs))
        for test, cell, verdict in zip(tests, nb.cells[2:], result.verdicts)
        if not verdict.passed
    ]


def grades_through_a_kernel(
    assignment: str,
    functions: Sequence[tuple[str, tuple[str, ...]]],
    mistakes: Sequence[tuple[Callable, tuple, str]],
    wrong: ModuleType,
    imports: str = "import numpy as np\n",
    more_tests: Sequence[str] = (),
) -> Callable:
    """A test: graded as ``--isolation sandbox`` grades, each ``(check, names)`` of
    ``functions`` (a check, the solution functions it takes) passes the notebook's solution on
    public and hidden cases; each ``(check, impls, expected)`` of ``mistakes`` (``impls``
    defined in the module ``wrong``) fails with a diagnosis naming it (as
    ``check_harness.fails_each_mistake``); and each cell of ``more_tests`` passes."""

    @pytest.mark.slow
    def test(tmp_path):
        tests = list(more_tests)
        for check, names in functions:
            call = f"{check}({', '.join(names)}"
            tests.append(
                f"from autograder.checks import {check}\n{call})\n{call}, cases='hidden')\n"
            )
        for check, impls, expected in mistakes:
            pattern = re.escape(f"[{expected}]") if HINT_ID.fullmatch(expected) else expected
            names = ", ".join(impl.__name__ for impl in impls)
            tests.append(expect_mistake(check.__name__, names, pattern))
        student = solutions_source(assignment) + "\n\n" + module_body(wrong)
        failures = failing_tests(tmp_path, imports, student, tests)
        assert failures == [], "\n\n".join(f"{test}\n{trace}" for test, trace in failures)

    return test


# --- what the measurements report crosses the wire to the grader: plain data only -------------


def measured(what: str, func, *args):
    """The report of the measurement ``what`` (``autograder.kernel.measure``) of ``func``, made
    in this process as the kernel would make it."""
    return MEASUREMENTS[what](func, *args)


def assert_plain(value, where: str = "report") -> None:
    """Fail unless ``value`` is dict (str keys) / list / str / int / float / bool / None /
    real numeric np.ndarray, recursively."""
    if value is None or type(value) in (str, int, float, bool):
        return
    if type(value) is np.ndarray:
        assert value.dtype.kind in "biuf", f"{where} is an array of dtype {value.dtype}"
        return
    if type(value) is list:
        for index, item in enumerate(value):
            assert_plain(item, f"{where}[{index}]")
        return
    if type(value) is dict:
        for key, item in value.items():
            assert type(key) is str, f"{where} has the key {key!r}, not a str"
            assert_plain(item, f"{where}[{key!r}]")
        return
    raise AssertionError(f"{where} is a {type(value).__qualname__}, not plain data")
