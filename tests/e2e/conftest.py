"""Shared fixtures of the end-to-end tests: a course directory in tmp_path, the tiny assignment.

The tiny assignment (tests/fixtures/tiny/tiny.ipynb) has two solution functions (`add`,
`hypotenuse`), their test cells (2 and 3 points) with hidden tests, and one written answer
graded by hand (1 point), so these tests do not depend on the course notebooks' runtime.
Releasing it once per session and copying the course folder per test keeps each test fast.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from autograder.build import release
from autograder.course import Course

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TINY_SOURCE = FIXTURES / "tiny"
TINY = "tiny"


@pytest.fixture
def course(tmp_path) -> Course:
    """An empty course directory, not yet created on disk."""
    return Course(tmp_path / "course")


@pytest.fixture(scope="session")
def _released_template(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("released") / "course"
    release(Course(root), [TINY], source=TINY_SOURCE, progress=False)
    return root


@pytest.fixture
def released_course(tmp_path, _released_template) -> Course:
    """A course in tmp_path with the tiny assignment released (gradebook included)."""
    root = tmp_path / "course"
    shutil.copytree(_released_template, root)
    return Course(root)


def read_notebook(path: Path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def write_notebook(path: Path, notebook: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(notebook, indent=1), encoding="utf-8")
    return path


def cell_by_grade_id(notebook: dict, grade_id: str) -> dict:
    for cell in notebook["cells"]:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id:
            return cell
    raise KeyError(grade_id)


def solved_release(course: Course, assignment: str = TINY) -> dict:
    """The release notebook with the source's solution cells put back: a complete submission."""
    released = read_notebook(course.release_path(assignment))
    source = read_notebook(course.source_path(assignment))
    for cell in released["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("solution") and cell["cell_type"] == "code":
            solution = cell_by_grade_id(source, meta["grade_id"])["source"]
            text = "".join(solution) if isinstance(solution, list) else solution
            cell["source"] = "\n".join(line for line in text.splitlines() if "### " not in line)
    return released
