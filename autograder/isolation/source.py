"""What the grader reads from a notebook's source, without running it.

- ``free_names`` and ``locked_imports``: which names a test cell needs, and which of them the
  notebook's locked cells import (those are imported in the grader; the others, the student's
  functions and values, are asked from the kernel).
- ``banned_uses``: the banned-library rule (``autograder.kernel.rules``) read from the
  student's SOURCE, for a function that lives in the kernel and arrives as a proxy with no code
  to inspect: every name, attribute chain and import the function and the helpers it reaches
  use, resolved through the notebook's imports.
- ``tracing_uses``: where the notebook touches what a forged line count would need.
"""

from __future__ import annotations

import ast
import builtins
from typing import Any

from autograder.colab import is_setup_source
from autograder.kernel.rules import banned_prefix

# --- which names a test cell needs ----------------------------------------------------------


def python_source(source: str) -> str:
    """The cell as plain Python (IPython magics turned into calls)."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        return TransformerManager().transform_cell(source)
    except Exception:
        return source


def free_names(tree: ast.AST) -> list[str]:
    """Names a cell reads without binding them itself (and that are not builtins)."""
    loaded, bound = [], set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Load):
                loaded.append(node.id)
            else:
                bound.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                bound.add((alias.asname or alias.name).split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    return [
        n
        for n in dict.fromkeys(loaded)
        if n not in bound and not hasattr(builtins, n) and n != "get_ipython"
    ]


def locked_imports(cells: list) -> dict[str, ast.stmt]:
    """Top-level import statements of the locked, non-solution code cells: name -> statement."""
    found: dict[str, ast.stmt] = {}
    for cell in cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.get("cell_type") != "code" or not meta.get("locked") or meta.get("solution"):
            continue
        try:
            tree = ast.parse(python_source(cell_text(cell.get("source", ""))))
        except SyntaxError:
            continue
        for statement in tree.body:
            if isinstance(statement, (ast.Import, ast.ImportFrom)):
                for alias in statement.names:
                    one = ast.copy_location(
                        type(statement)(**{**statement.__dict__, "names": [alias]}), statement
                    )
                    found[(alias.asname or alias.name).split(".")[0]] = one
    return found


def cell_text(source: Any) -> str:
    """A cell's source as one string (nbformat keeps it as a string or a list of lines)."""
    return "".join(source) if isinstance(source, list) else str(source)


# --- the banned-library rule, read from the student's source -----------------------------------

_DYNAMIC = {"__import__", "exec", "eval", "compile", "globals", "vars", "importlib"}


class _Bindings:
    """Top-level bindings of the notebook cells before a test cell, in order."""

    def __init__(self, sources: list[str]) -> None:
        self.names: dict[str, tuple[str, Any]] = {}
        for source in sources:
            try:
                tree = ast.parse(python_source(source))
            except SyntaxError:
                continue
            self._statements(tree.body)

    def _statements(self, body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        self.names[alias.asname] = ("module", alias.name)
                    else:
                        top = alias.name.split(".")[0]
                        self.names[top] = ("module", top)
            elif isinstance(node, ast.ImportFrom):
                for alias in node.names:
                    origin = f"{node.module or ''}.{alias.name}".strip(".")
                    self.names[alias.asname or alias.name] = ("module", origin)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                self.names[node.name] = ("def", node)
            elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    for name in ast.walk(target):
                        if isinstance(name, ast.Name) and node.value is not None:
                            self.names[name.id] = ("expr", node.value)
            elif isinstance(node, (ast.If, ast.Try, ast.With, ast.For, ast.While)):
                for part in ("body", "orelse", "finalbody"):
                    self._statements(getattr(node, part, []) or [])
                for handler in getattr(node, "handlers", []) or []:
                    self._statements(handler.body)


def _dotted(node: ast.AST) -> tuple[str, list[str]] | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return node.id, list(reversed(parts))
    return None


def banned_uses(sources: list[str], name: str) -> list[str]:
    """Every banned library that the function bound to ``name`` uses, read from the source.

    ``sources`` are the notebook's code cells up to the test cell. Names, attribute chains and
    imports in the function and in every helper it reaches are resolved through the cells'
    imports; ``exec``, ``eval``, ``__import__`` and ``importlib`` count as banned too, since
    they hide what is imported. A name with no definition in the notebook is reported.
    """
    bindings = _Bindings(sources)
    found: list[str] = []
    seen: set[int] = set()

    def resolve(base: str, attrs: list[str], where: str, local: dict) -> None:
        binding = local.get(base) or bindings.names.get(base)
        if base in _DYNAMIC and binding is None:
            found.append(f"{base} (in {where}), which hides what runs")
            return
        if binding is None:
            return
        kind, value = binding
        if kind == "module":
            dotted = ".".join([value, *attrs])
            if banned_prefix(dotted) or value.split(".")[0] == "importlib":
                shown = ".".join([base, *attrs])
                found.append(
                    f"{dotted} ({shown} in {where})"
                    if shown != dotted
                    else f"{dotted} (in {where})"
                )
        elif kind in ("def", "expr"):
            visit(value, base if kind == "def" else where)

    def visit(node: ast.AST, where: str) -> None:
        if id(node) in seen:
            return
        seen.add(id(node))
        local: dict[str, tuple[str, Any]] = {}
        # Names the function binds itself (arguments, assignments, loop variables) shadow the
        # notebook's: `F, C, HH, WW = w.shape` is not torch.nn.functional.
        for inner in ast.walk(node):
            if isinstance(inner, ast.Name) and not isinstance(inner.ctx, ast.Load):
                local[inner.id] = ("local", None)
            elif isinstance(inner, ast.arg):
                local[inner.arg] = ("local", None)
        for inner in ast.walk(node):
            if isinstance(inner, ast.Import):
                for alias in inner.names:
                    local[(alias.asname or alias.name).split(".")[0]] = (
                        "module",
                        alias.name if alias.asname else alias.name.split(".")[0],
                    )
                    if banned_prefix(alias.name):
                        found.append(f"import {alias.name} (in {where})")
            elif isinstance(inner, ast.ImportFrom):
                module = inner.module or ""
                for alias in inner.names:
                    local[alias.asname or alias.name] = ("module", f"{module}.{alias.name}")
                if banned_prefix(module):
                    found.append(f"from {module} import ... (in {where})")
        for inner in ast.walk(node):
            if isinstance(inner, ast.Attribute) and isinstance(inner.ctx, ast.Load):
                chain = _dotted(inner)
                if chain:
                    resolve(chain[0], chain[1], where, local)
            elif isinstance(inner, ast.Name) and isinstance(inner.ctx, ast.Load):
                resolve(inner.id, [], where, local)

    binding = bindings.names.get(name)
    if binding is None:
        return [f"no definition of {name} in the notebook (define it with def)"]
    kind, value = binding
    if kind == "module":
        resolve(name, [], name, {})
    else:
        visit(value, name)
    return list(dict.fromkeys(found))


# What a notebook would touch to forge a line count measured in its own process: Python's
# tracing, the counting code itself, and the doors that hide what is called. Names are looked
# for as names (``eval``, not ``model.eval()``), attributes as attributes.
_TRACING_NAMES = frozenset(
    {
        "__import__",
        "importlib",
        "exec",
        "eval",
        "compile",
        "__builtins__",
        "builtins",
        "globals",
        "vars",
        "ctypes",
        "autograder",
        "_rules",
        "count_lines",
        "sys",
    }
)
_TRACING_ATTRIBUTES = frozenset(
    {
        "settrace",
        "gettrace",
        "setprofile",
        "getprofile",
        "f_trace",
        "f_trace_lines",
        "monitoring",
        "_getframe",
        "count_lines",
        "_rules",
        "__builtins__",
        "__dict__",
        "__code__",
        "__globals__",
    }
)


def tracing_uses(sources: list[str]) -> list[str]:
    """Where the notebook's cells touch what a forged line count would need (read from the
    source, in the grader): tracing, the counting code, ``exec`` and its kin, module tables,
    and ``getattr`` with a computed name. Honest vectorised code uses none of them."""
    found: list[str] = []
    for number, source in enumerate(sources, start=1):
        if is_setup_source(source):  # the release's own Colab cell (it uses sys, importlib)
            continue
        try:
            tree = ast.parse(python_source(source))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            word = None
            if isinstance(node, ast.Name) and node.id in _TRACING_NAMES:
                word = node.id
            elif isinstance(node, ast.Attribute) and node.attr in _TRACING_ATTRIBUTES:
                word = node.attr
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
                names += [alias.name for alias in node.names]
                word = next(
                    (
                        n
                        for n in names
                        for part in n.split(".")
                        if part in _TRACING_NAMES | _TRACING_ATTRIBUTES
                    ),
                    None,
                )
            elif (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and node.value in _TRACING_ATTRIBUTES
            ):
                word = repr(node.value)
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("getattr", "setattr", "delattr")
                and len(node.args) >= 2
                and not isinstance(node.args[1], ast.Constant)
            ):
                word = f"{node.func.id} with a computed name"
            if word is not None:
                found.append(f"{word} (code cell {number} of the answers so far)")
    return list(dict.fromkeys(found))
