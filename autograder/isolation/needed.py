"""Which cells of a submission grading must run, read from the notebook's source.

A course notebook runs more than its grades need: experiments and demonstrations that train
networks for the student to look at (notebook 05's degradation experiment, notebook 07's
detector and segmenter). Their lessons are graded by hand, from the student's written answers
about the outputs the student saw. By default (``c.CnnCourse.rerun_all_cells = False``) the
grader runs only the cells the autograded ones need and keeps the submitted outputs of the
others, marked as not re-run, for the person who grades the written answers.

``cells_to_run`` decides, conservatively (a cell it cannot read is run):

- always run: the first code cell (the setup: imports, seeds, knobs), every cell a student
  writes in (nbgrader ``solution``), every test cell (nbgrader ``grade``), every cell that
  is not valid Python after IPython's magics are turned into calls, and every cell with a
  magic other than ``%matplotlib`` (``%time x = f()`` binds x in a string);
- walking up from the end, a cell is also run when it *touches* a name that a cell run after
  it reads: it binds the name at its top level (assignment, ``def``, ``class``, ``import``,
  ``for``, ``with``, ``del``), assigns to an attribute or item of it (``params["W1"] = ...``)
  or calls a method of it (``model.train()``). Method calls on imported modules (``np``,
  ``torch``) do not count, so a cell that only uses them, e.g. to train a model no later cell
  reads, is not run.

A cell that is run contributes every name it reads, in its own body and in the bodies of the
functions and classes it defines, to the names earlier cells must provide. Randomness is no
dependency: the checks draw their cases from the grader's own seeded generator.
"""

from __future__ import annotations

import ast
import re
import symtable
from collections.abc import Iterator

from nbformat.v4 import new_output
from nbgrader.preprocessors import ClearOutput
from traitlets import Bool

from autograder.isolation.source import cell_text, python_source

__all__ = ["ClearOutputsToRun", "KEPT_OUTPUT_NOTE", "cells_to_run", "is_kept"]

#: The note above the outputs of a cell the grader did not run.
KEPT_OUTPUT_NOTE = (
    "[not re-run by the grader: no grade depends on this cell; its outputs are the ones "
    "submitted]\n"
)


#: An IPython magic other than %matplotlib, as ``python_source`` writes it: what it runs
#: (``%time x = f()``, ``%%capture``) is a string, not Python to read.
_MAGIC = re.compile(r"get_ipython\(\)\.run_(?:line|cell)_magic\('(?!matplotlib')")


def cells_to_run(cells: list) -> list[bool]:
    """One flag per cell of ``cells`` (nbformat cells or dicts): True for a code cell grading
    must run, False for a markdown cell or a code cell whose outputs can be kept."""
    code = [i for i, cell in enumerate(cells) if cell.get("cell_type") == "code"]
    run = [False] * len(cells)
    trees: dict[int, ast.Module | None] = {}
    sources: dict[int, str] = {}
    for i in code:
        sources[i] = python_source(cell_text(cells[i].get("source", "")))
        try:
            trees[i] = ast.parse(sources[i])
        except SyntaxError:
            trees[i] = None
    modules = {name for tree in trees.values() if tree is not None for name in _imported(tree)}
    wanted: set[str] = set()
    for rank, i in enumerate(reversed(code)):
        tree = trees[i]
        meta = cells[i].get("metadata", {}).get("nbgrader", {})
        first = rank == len(code) - 1
        always = (
            tree is None
            or first
            or meta.get("solution")
            or meta.get("grade")
            or _MAGIC.search(sources[i]) is not None
        )
        if always or _touched(tree, modules) & wanted:
            run[i] = True
            if tree is not None:
                wanted |= _read(sources[i])
    return run


def _module_level(tree: ast.AST) -> Iterator[ast.AST]:
    """The nodes of ``tree`` outside the bodies of its functions, lambdas and classes (their
    names and decorators, which run at the top level, included)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            stack.extend(node.decorator_list)
            if not isinstance(node, ast.ClassDef):
                stack.extend(node.args.defaults + [d for d in node.args.kw_defaults if d])
            else:
                stack.extend(node.bases + [k.value for k in node.keywords])
            continue
        if isinstance(node, ast.Lambda):
            continue
        stack.extend(ast.iter_child_nodes(node))


def _root(node: ast.AST) -> str | None:
    """``x`` for ``x``, ``x.a.b``, ``x[0].a``, ``x.f()`` ...; None for other expressions."""
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def _imported(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            names |= {a.asname or a.name for a in node.names}
    return names


def _touched(tree: ast.AST, modules: set[str]) -> set[str]:
    """Names a cell binds, assigns into or calls a method of, at its top level."""
    names: set[str] = set()
    for node in _module_level(tree):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= _imported(node)
        elif isinstance(node, (ast.Attribute, ast.Subscript)) and not isinstance(
            node.ctx, ast.Load
        ):
            names.add(_root(node) or "")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            root = _root(node.func)
            if root is not None and root not in modules:
                names.add(root)
        elif isinstance(node, ast.Global):
            names |= set(node.names)
    names.discard("")
    return names


def _read(source: str) -> set[str]:
    """Every global name a cell reads: at its top level, and in the bodies of the functions,
    classes, lambdas and comprehensions it defines (their own locals and parameters left out)."""
    table = symtable.symtable(source, "<cell>", "exec")
    names = {s.get_name() for s in table.get_symbols() if s.is_referenced()}
    stack = list(table.get_children())
    while stack:
        scope = stack.pop()
        stack.extend(scope.get_children())
        names |= {s.get_name() for s in scope.get_symbols() if s.is_referenced() and s.is_global()}
    return names


# --- in nbgrader's autograde ---------------------------------------------------------------------

#: A cell's metadata key, {"cnn_course": {KEPT: true}}, for a cell the grader does not run.
KEPT = "outputs_kept"


def is_kept(cell) -> bool:
    """Whether ``ClearOutputsToRun`` kept this cell's submitted outputs: the grader skips it."""
    return bool(cell.get("metadata", {}).get("cnn_course", {}).get(KEPT))


class ClearOutputsToRun(ClearOutput):
    """nbgrader's ClearOutput for the cells grading runs (``cells_to_run``); the other code cells
    keep the outputs the student submitted, under ``KEPT_OUTPUT_NOTE``, and are marked
    (``is_kept``) for the executor to skip. It takes ClearOutput's place in autograde's
    sanitising step, after OverwriteCells, so it reads the locked cells as released."""

    rerun_all = Bool(False, help="Run every cell (clear every output).").tag(config=True)

    def preprocess(self, nb, resources):
        run = [True] * len(nb.cells) if self.rerun_all else cells_to_run(nb.cells)
        for index, (cell, needed) in enumerate(zip(nb.cells, run, strict=True)):
            if cell.cell_type != "code":
                continue
            cell.metadata.get("cnn_course", {}).pop(KEPT, None)
            if needed:
                nb.cells[index], resources = self.preprocess_cell(cell, resources, index)
                continue
            cell.metadata.setdefault("cnn_course", {})[KEPT] = True
            note = new_output("stream", name="stdout", text=KEPT_OUTPUT_NOTE)
            cell.outputs = [note, *cell.get("outputs", [])]
        return nb, resources
