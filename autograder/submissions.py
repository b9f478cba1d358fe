"""Sample submissions, made from an assignment's source notebook and its release.

A sample is the release (what a student downloads) with solution cells filled in, the way a
student would fill them in; locked and test cells are left exactly as released, so the samples
pass `collect`'s checksum checks. The kinds:

| kind           | what it is                                                                  |
|----------------|-----------------------------------------------------------------------------|
| `complete`     | every solution cell holds the source's solution: what a perfect student submits |
| `partial`      | like `complete`, but every second solution code cell (the 2nd, 4th, ...) is the release stub |
| `blank`        | the release itself                                                          |
| `raises`       | like `complete`, but the first solution code cell starts with an import that fails, so the functions it defines never exist |
| `invalid_json` | the first half of the `complete` file: not valid JSON                       |
| `warnings`     | like `complete`, but each function of a solution cell emits a `UserWarning` and prints a line to stderr every time it is called (honest code: full marks) |
| `hangs`        | like `complete`, but the first function of the first solution code cell loops forever (`while True: pass`) |

Hidden tests never appear in a sample: test cells are taken from the release.
"""

from __future__ import annotations

import ast
import copy
import re
from pathlib import Path

import nbformat

from autograder.rubrics import RUBRIC_HEADING

KINDS = ("complete", "partial", "blank", "raises", "invalid_json", "warnings", "hangs")
# The kinds `cnn-course demo` grades (a hanging submission would only show the timeout).
DEMO_KINDS = ("complete", "partial", "blank", "raises", "invalid_json", "warnings")

_FAILING_IMPORT = "import cnn_course_no_such_module  # a typo in the student's import\n"

_NOISY_WRAPPER = '''

import functools as _functools
import sys as _sys
import warnings as _warnings


def _noisy(function):
    """Call `function` after an honest UserWarning and a line on stderr."""

    @_functools.wraps(function)
    def wrapper(*args, **kwargs):
        _warnings.warn(f"{function.__name__}: an honest warning", UserWarning, stacklevel=2)
        print(f"{function.__name__}: an honest line on stderr", file=_sys.stderr)
        return function(*args, **kwargs)

    return wrapper


'''

_HANGING_WRAPPER = '''

def _hang(function):
    """Replace `function` by one that never returns."""

    def wrapper(*args, **kwargs):
        while True:
            pass

    return wrapper


'''


def _read(notebook: Path | str | nbformat.NotebookNode) -> nbformat.NotebookNode:
    if isinstance(notebook, nbformat.NotebookNode):
        return copy.deepcopy(notebook)
    return nbformat.read(str(notebook), as_version=4)


def _is_solution(cell) -> bool:
    return cell.get("metadata", {}).get("nbgrader", {}).get("solution", False)


def _function_names(source: str) -> list[str]:
    """Names of the top-level functions a cell defines (classes are left alone)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    return [node.name for node in tree.body if isinstance(node, ast.FunctionDef)]


_LABEL = re.compile(r"^(\s*(?:#\s*)?)\*\*Model answer\.?\*\*\s*", re.IGNORECASE)


def _written_answer(source: str) -> str:
    """What a student writes in a hand-graded answer: the source's model answer, without the
    solution markers, the "**Model answer.**" label and the rubric (which only graders see)."""
    kept, in_rubric = [], False
    for line in source.splitlines():
        marker = line.strip()
        if marker in ("### BEGIN SOLUTION", "### END SOLUTION"):
            in_rubric = False
            continue
        if RUBRIC_HEADING.match(line):
            in_rubric = True
        if not in_rubric:
            kept.append(_LABEL.sub(r"\1", line))
    return "\n".join(kept).strip() + "\n"


def make_submission(
    source: Path | str | nbformat.NotebookNode,
    release: Path | str | nbformat.NotebookNode,
    kind: str,
) -> str:
    """The text of a sample submission of one assignment.

    Args:
        source: the SOURCE notebook (solutions and hidden tests inside).
        release: the release nbgrader built from it (solutions stubbed, hidden tests removed).
        kind: one of `KINDS` (see the module docstring).

    Returns:
        the notebook as JSON text (for `invalid_json`, deliberately broken text).
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}; got {kind!r}.")
    source_nb = _read(source)
    nb = _read(release)
    if kind == "blank":
        return nbformat.writes(nb)
    solutions = {
        cell.metadata["nbgrader"]["grade_id"]: cell.source
        for cell in source_nb.cells
        if _is_solution(cell) and "grade_id" in cell.metadata.get("nbgrader", {})
    }
    code_index = 0
    for cell in nb.cells:
        if not _is_solution(cell):
            continue
        grade_id = cell.metadata["nbgrader"].get("grade_id")
        if grade_id not in solutions:
            raise ValueError(
                f"the release has a solution cell {grade_id!r} that the source does not have. "
                "Build the release again from this source (`cnn-course release`)."
            )
        stub = cell.source
        cell.source = solutions[grade_id]
        if cell.cell_type != "code":
            cell.source = _written_answer(cell.source)
            continue
        code_index += 1
        names = _function_names(cell.source)
        if kind == "partial" and code_index % 2 == 0:
            cell.source = stub
        elif kind == "raises" and code_index == 1:
            cell.source = _FAILING_IMPORT + cell.source
        elif kind == "warnings" and names:
            wraps = "".join(f"{name} = _noisy({name})\n" for name in names)
            cell.source = cell.source + _NOISY_WRAPPER + wraps
        elif kind == "hangs" and code_index == 1 and names:
            cell.source = cell.source + _HANGING_WRAPPER + f"{names[0]} = _hang({names[0]})\n"
    text = nbformat.writes(nb)
    if kind == "invalid_json":
        return text[: len(text) // 2]
    return text


def write_sample_submissions(
    sources: dict[str, Path],
    releases: dict[str, Path],
    drop: Path | str,
    kinds: tuple[str, ...] = DEMO_KINDS,
) -> dict[str, str]:
    """Write one sample submission per kind and assignment in the layout `collect` reads.

    Args:
        sources, releases: assignment name -> its source notebook / its release notebook.
        drop: the folder to write `drop/<student>/<assignment>/<assignment>.ipynb` into; the
            student id is the kind (`complete`, `partial`, ...).
        kinds: which kinds to write.

    Returns:
        student id -> kind.
    """
    drop = Path(drop)
    missing = sorted(set(sources) - set(releases))
    if missing:
        raise ValueError(
            f"no release for {', '.join(missing)}. Run `cnn-course release` for it first."
        )
    for assignment, source in sorted(sources.items()):
        for kind in kinds:
            folder = drop / kind / assignment
            folder.mkdir(parents=True, exist_ok=True)
            text = make_submission(source, releases[assignment], kind)
            (folder / f"{assignment}.ipynb").write_text(text, encoding="utf-8")
    return {kind: kind for kind in kinds}
