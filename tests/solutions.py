"""The reference NumPy solutions, taken from the source notebooks themselves.

The source notebooks are the one home of the reference solutions (DESIGN.md). Tests that
need them (a check must pass the reference solution) load them from there, so a solution
fixed in a notebook is the solution tested.
"""

from __future__ import annotations

import functools
import types
from pathlib import Path

import nbformat

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def _is_solution_cell(cell) -> bool:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return cell.cell_type == "code" and meta.get("solution", False) and not meta.get("grade", False)


@functools.cache
def load_solutions(assignment: str) -> types.SimpleNamespace:
    """Execute the setup cell and every solution cell of ``notebooks/<assignment>.ipynb``.

    Returns a namespace holding the functions and classes those cells define. The first code
    cell (imports and knobs) runs too, so solutions can use what it imports.
    """
    path = NOTEBOOKS / f"{assignment}.ipynb"
    nb = nbformat.read(path, as_version=4)
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    namespace: dict = {"__name__": f"solutions_{assignment}"}
    setup = code_cells[0] if code_cells and not _is_solution_cell(code_cells[0]) else None
    if setup is not None:
        exec(compile(_strip_magics(setup.source), f"{path.name}:setup", "exec"), namespace)
    for index, cell in enumerate(code_cells):
        if _is_solution_cell(cell):
            source = _strip_magics(cell.source)
            exec(compile(source, f"{path.name}:cell{index}", "exec"), namespace)
    return types.SimpleNamespace(**{k: v for k, v in namespace.items() if not k.startswith("__")})


def _strip_magics(source: str) -> str:
    return "\n".join(
        line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))
    )


def run_cells(assignment: str, *grade_ids: str) -> dict:
    """The reference solutions of ``notebooks/<assignment>.ipynb`` plus what its cells named
    ``grade_ids`` define, run in that order (a locked cell such as notebook 02's ``sgd`` too)."""
    nb = nbformat.read(NOTEBOOKS / f"{assignment}.ipynb", as_version=4)
    cells = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in nb.cells}
    namespace = dict(vars(load_solutions(assignment)))
    for grade_id in grade_ids:
        if grade_id not in cells:
            raise LookupError(f"{assignment}.ipynb has no cell with grade_id {grade_id!r}")
        source = _strip_magics(cells[grade_id].source)
        exec(compile(source, f"{assignment}:{grade_id}", "exec"), namespace)
    return namespace
