"""A test cell's undefined name is traced to the earlier cell that defines it and failed
(`autograder.isolation.pipeline.UndefinedNames`, read with `autograder.isolation.source.binds`)."""

from __future__ import annotations

import nbformat
import pytest

from autograder.isolation.pipeline import UndefinedNames
from autograder.isolation.source import binds


@pytest.mark.parametrize(
    "source",
    [
        "def add(a, b):\n    return a + b",
        "add = lambda a, b: a + b",
        "add: object = sum",
        "from operator import add",
        "import numpy as add",
        "for add in range(3):\n    pass",
        "with open('f') as add:\n    pass",
        "if True:\n    add = 1\nelse:\n    add = 2",
        "try:\n    add = 1\nexcept ValueError:\n    pass",
        "x, (add, y) = 1, (2, 3)",
        "%matplotlib inline\nadd = 1",
        "scale = int('two')\ndef add(a, b)\n    return a + b",  # not valid Python: line by line
    ],
)
def test_a_cell_binds_a_name_it_assigns_defines_or_imports_at_its_top_level(source):
    assert binds(source, "add")


@pytest.mark.parametrize(
    "source",
    [
        "def total(a, b):\n    add = a + b\n    return add",
        "print(add(1, 2))",
        "adder = 1",
        "class Calculator:\n    add = staticmethod(sum)",
        "total = (\n    add = 1",  # not valid Python, and no line starts with add
    ],
)
def test_a_cell_does_not_bind_a_name_it_only_reads_or_binds_inside_a_function(source):
    assert not binds(source, "add")


def _error(ename: str, evalue: str) -> dict:
    return nbformat.v4.new_output(
        "error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"]
    )


def _notebook(defining_outputs: list, test_error: dict):
    setup = nbformat.v4.new_code_cell("import math")
    answer = nbformat.v4.new_code_cell("scale = int('two')\ndef add(a, b):\n    return a + b\n")
    answer.metadata["nbgrader"] = {"grade_id": "add", "solution": True, "grade": False}
    answer.outputs = defining_outputs
    test = nbformat.v4.new_code_cell("assert add(1, 2) == 3")
    test.metadata["nbgrader"] = {"grade_id": "test_add", "grade": True, "points": 1}
    test.outputs = [test_error]
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Add"), setup, answer, test]
    return nb


FAILED = [_error("ValueError", "invalid literal for int() with base 10: 'two'")]
NOTE = (
    "add is defined by cell 3 (add), which failed with ValueError: invalid literal for int() "
    "with base 10: 'two'; fix that cell first."
)


def test_a_name_error_of_a_test_cell_names_the_failed_cell_that_defines_it():
    nb = _notebook(FAILED, _error("NameError", "name 'add' is not defined"))
    UndefinedNames().preprocess(nb, {})
    UndefinedNames().preprocess(nb, {})  # once only
    error = nb.cells[3].outputs[0]
    assert error["evalue"] == f"name 'add' is not defined: {NOTE}"
    assert error["traceback"] == ["NameError: name 'add' is not defined", NOTE]


def test_a_checks_report_of_a_name_error_gets_the_note_below_that_line():
    diagnosis = (
        'add: case "1 + 2" failed (1 of 1 public cases fail; the first is shown).\n'
        "  add raised NameError: name 'add' is not defined\n"
        "  Run the function on these inputs yourself to see where it fails."
    )
    nb = _notebook(FAILED, _error("AssertionError", diagnosis))
    UndefinedNames().preprocess(nb, {})
    lines = nb.cells[3].outputs[0]["evalue"].splitlines()
    assert lines[1:3] == ["  add raised NameError: name 'add' is not defined", f"  {NOTE}"]


def test_no_note_where_the_defining_cell_ran_without_an_error():
    nb = _notebook([], _error("NameError", "name 'add' is not defined"))
    UndefinedNames().preprocess(nb, {})
    assert nb.cells[3].outputs[0]["evalue"] == "name 'add' is not defined"
