"""Build the student release: `notebooks/<a>.ipynb` -> `<course>/release/<a>/<a>.ipynb`.

One assignment at a time:
1. validate the source notebook (valid JSON and nbformat, nbgrader metadata, unique grade ids,
   balanced solution and hidden-test markers), so a broken source stops with a message that
   names the cell instead of a traceback from deep inside nbgrader;
2. copy it to `<course>/source/<a>/<a>.ipynb` (nbgrader's layout);
3. run nbgrader's `GenerateAssignment`, which strips solutions and hidden tests, locks the test
   cells, stores checksums, and records the assignment and its cells in the gradebook;
4. put the Colab setup cell (and, when the course configures it, the "Open in Colab" badge)
   under the title of the release (`autograder.colab`; the source notebooks stay as they are);
5. optionally copy the release to a folder for students (`--out DIR`).
"""

from __future__ import annotations

import io
import json
import logging
import re
import shutil
from collections.abc import Iterable
from pathlib import Path

from autograder.colab import add_colab_cells, read_config
from autograder.course import PROJECT_NOTEBOOKS, Course, CourseError, UsageError, did_you_mean


class ReleaseError(CourseError):
    """A source notebook cannot be released; the message lists every problem found in it."""


SOLUTION_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")
HIDDEN_TEST_MARKERS = ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")


def _source_notebooks(source: Path) -> dict[str, Path]:
    """Map assignment name -> source notebook, for `DIR/<a>.ipynb` and `DIR/<a>/<a>.ipynb`."""
    found = {path.stem: path for path in sorted(source.glob("*.ipynb"))}
    for path in sorted(source.glob("*/*.ipynb")):
        if path.stem == path.parent.name and path.stem not in found:
            found[path.stem] = path
    return found


def _resolve_source(source: Path | str | None) -> Path:
    if source is None:
        if not PROJECT_NOTEBOOKS.is_dir():
            raise UsageError(
                f"the project's notebooks/ folder is not next to the installed package "
                f"(looked in {PROJECT_NOTEBOOKS}); an installed wheel does not ship it. "
                "Pass the folder holding the source notebooks: cnn-course release --source DIR"
            )
        return PROJECT_NOTEBOOKS
    path = Path(source).expanduser().resolve()
    if not path.is_dir():
        raise UsageError(
            f"--source {source}: no such folder. Pass the folder holding the source notebooks "
            "(<a>.ipynb or <a>/<a>.ipynb)."
        )
    return path


def _marker_problems(text: str, markers: tuple[str, str], where: str) -> list[str]:
    """Unbalanced or nested BEGIN/END markers in one cell's source."""
    begin, end = markers
    depth = 0
    for line in text.splitlines():
        stripped = line.strip()
        if stripped == begin:
            if depth:
                return [f"{where}: '{begin}' again before '{end}'"]
            depth = 1
        elif stripped == end:
            if not depth:
                return [f"{where}: '{end}' without a '{begin}' above it"]
            depth = 0
    return [f"{where}: '{begin}' is never closed by '{end}'"] if depth else []


def validate_source(path: Path) -> dict:
    """Check that `path` is a notebook nbgrader can release; return it as a dict.

    Raises:
        ReleaseError: naming the file, and each cell (by number and grade id) that is wrong:
            not valid JSON or nbformat; no nbgrader cells; a missing or repeated grade id;
            a test cell without points; solution or hidden-test markers that are unbalanced
            or sit in a cell nbgrader would not strip (their text would reach students); a
            cell graded by hand without a model answer and rubric in its solution region, or
            a rubric outside one (`autograder.rubrics`).
    """
    import nbformat

    try:
        raw = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise ReleaseError(f"{path}: not UTF-8 text ({error}).") from error
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as error:
        raise ReleaseError(
            f"{path}: not valid JSON (line {error.lineno}, column {error.colno}: {error.msg}). "
            "Open it in JupyterLab or fix it in a text editor."
        ) from error
    try:
        notebook = nbformat.reads(raw, as_version=4)
        nbformat.validate(notebook)
    except Exception as error:  # nbformat raises several unrelated types
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
        raise ReleaseError(f"{path}: not a valid notebook: {first_line}") from error

    problems = []
    seen: dict[str, int] = {}
    num_nbgrader_cells = 0
    for number, cell in enumerate(notebook.cells, start=1):
        meta = cell.get("metadata", {}).get("nbgrader")
        source = cell.get("source", "")
        label = f"cell {number}"
        if meta is None:
            for markers, kind in (
                (SOLUTION_MARKERS, "solution"),
                (HIDDEN_TEST_MARKERS, "hidden-test"),
            ):
                if markers[0] in source:
                    problems.append(
                        f"{label} has '{markers[0]}' but no nbgrader metadata, so its {kind} "
                        "text would reach students; mark it as a solution or test cell"
                    )
            continue
        num_nbgrader_cells += 1
        grade_id = meta.get("grade_id")
        if not grade_id:
            problems.append(f"{label} has nbgrader metadata but no grade_id")
        else:
            label = f"cell {number} ({grade_id})"
            if grade_id in seen:
                problems.append(
                    f"{label}: grade_id {grade_id!r} is used by cell {seen[grade_id]} too; "
                    "grade ids must be unique"
                )
            else:
                seen[grade_id] = number
        is_grade, is_solution = meta.get("grade", False), meta.get("solution", False)
        if is_grade:
            points = meta.get("points")
            if not isinstance(points, (int, float)) or points < 0:
                problems.append(
                    f"{label} is a graded cell but its points are {points!r}; "
                    "expected a number >= 0"
                )
        if SOLUTION_MARKERS[0] in source and not is_solution:
            problems.append(
                f"{label} has '{SOLUTION_MARKERS[0]}' but is not a solution cell, so the "
                "solution would reach students"
            )
        if HIDDEN_TEST_MARKERS[0] in source and not (is_grade and cell.cell_type == "code"):
            problems.append(
                f"{label} has '{HIDDEN_TEST_MARKERS[0]}' but is not a test (grade) code cell, "
                "so the hidden tests would reach students"
            )
        problems += _marker_problems(source, SOLUTION_MARKERS, label)
        problems += _marker_problems(source, HIDDEN_TEST_MARKERS, label)
    from autograder.rubrics import rubric_problems

    problems += rubric_problems(notebook.cells)
    if num_nbgrader_cells == 0:
        problems.append(
            "no cell has nbgrader metadata (no solution or test cells); mark them with "
            "JupyterLab's 'Create Assignment' toolbar"
        )
    if problems:
        raise ReleaseError(
            f"{path} cannot be released:\n" + "\n".join(f"  {problem}" for problem in problems)
        )
    return data


def _summary(release_path: Path) -> str:
    """'2 test cells, 5 points; 1 answer graded by hand, 1 point' for a release notebook."""
    cells = json.loads(release_path.read_text(encoding="utf-8"))["cells"]
    tests = manual = 0
    test_points = manual_points = 0.0
    for cell in cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if not meta.get("grade"):
            continue
        if cell["cell_type"] == "code" and not meta.get("solution"):
            tests += 1
            test_points += meta.get("points", 0)
        else:
            manual += 1
            manual_points += meta.get("points", 0)

    def count(n, word):
        return f"{n:g} {word}" + ("" if n == 1 else "s")

    text = f"{count(tests, 'test cell')}, {count(test_points, 'point')}"
    if manual:
        text += f"; {count(manual, 'answer')} graded by hand, {count(manual_points, 'point')}"
    return text


def _log_summary(log_text: str) -> list[str]:
    """The warnings and errors of an nbgrader log, each traceback cut to its last line."""
    lines, in_traceback, last = [], False, ""
    for line in log_text.splitlines():
        if line.startswith("[ERROR] Traceback") or line.startswith("Traceback"):
            in_traceback, last = True, ""
        elif line.startswith("["):
            if in_traceback and last:
                lines.append(f"[ERROR] {last}")
            in_traceback = False
            if line.startswith(("[ERROR]", "[WARNING]")) and "see the the above" not in line:
                lines.append(line)
        elif in_traceback and line.strip() and not line.startswith(" "):
            last = line.strip()
    if in_traceback and last:
        lines.append(f"[ERROR] {last}")
    return lines[-8:]


def _generate_assignment(course: Course, assignment: str) -> None:
    """Run nbgrader's GenerateAssignment for one assignment; raise ReleaseError with its log."""
    from nbgrader.converters import GenerateAssignment
    from nbgrader.coursedir import CourseDirectory

    config = course.nbgrader_config(force=True)
    config.CourseDirectory.assignment_id = assignment
    coursedir = CourseDirectory(config=config)
    converter = GenerateAssignment(coursedir=coursedir, config=config)
    log = io.StringIO()
    handler = logging.StreamHandler(log)
    handler.setFormatter(logging.Formatter("[%(levelname)s] %(message)s"))
    converter.log.addHandler(handler)
    propagate = converter.log.propagate
    converter.log.propagate = False  # nbgrader's INFO chatter goes to the buffer, not stderr
    try:
        converter.start()
    except Exception as error:
        detail = "\n".join(f"  {line}" for line in _log_summary(log.getvalue())) or f"  {error}"
        raise ReleaseError(
            f"nbgrader could not generate the release of {assignment} from "
            f"{course.source_path(assignment)}:\n{detail}"
        ) from error
    finally:
        converter.log.removeHandler(handler)
        converter.log.propagate = propagate


def release(
    course: Course,
    assignments: Iterable[str] | None = None,
    source: Path | str | None = None,
    out: Path | str | None = None,
    progress: bool = True,
) -> list[Path]:
    """Build the student release of each assignment.

    Args:
        course: the course directory (created if missing).
        assignments: assignment names (notebook stems); None releases every notebook in
            `source`.
        source: folder of source notebooks, `<a>.ipynb` or `<a>/<a>.ipynb`; None means the
            project's `notebooks/`.
        out: if given, each release is also copied to `out/<a>.ipynb`, a flat folder to hand
            to students (existing files there are replaced).
        progress: print one line per released assignment, under a progress bar (on stderr)
            when there are several.

    Returns:
        the release notebooks, `<course>/release/<a>/<a>.ipynb`, in the order released.

    Raises:
        UsageError: the source folder is missing, or an assignment name is unknown.
        ReleaseError: a source notebook is broken (every problem named), or nbgrader failed.
            Assignments are validated before anything is written, so one broken notebook
            leaves the course as it was.
        CourseError: the course's `colab.json` is broken (see `autograder.colab`).

    Every release has the Colab setup cell under its title, and the "Open in Colab" badge when
    the course's `colab.json` says where the releases are published (`autograder.colab`).
    """
    source_dir = _resolve_source(source)
    available = _source_notebooks(source_dir)
    if assignments is None:
        names = sorted(available)
        if not names:
            raise UsageError(
                f"no notebooks in {source_dir}; expected <assignment>.ipynb files there."
            )
    else:
        names = list(dict.fromkeys(assignments))
        for name in names:
            if name not in available:
                known = ", ".join(sorted(available)) or "none"
                raise UsageError(
                    f"no source notebook for assignment {name!r} in {source_dir} (found: "
                    f"{known}).{did_you_mean(name, available)}"
                )
    for name in names:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
            raise UsageError(
                f"{available[name]}: the assignment name {name!r} may only use letters, "
                "digits, '_', '-' and '.'; rename the notebook."
            )
        validate_source(available[name])
    colab = read_config(course.root)

    from tqdm.auto import tqdm

    course.ensure()
    released = []
    bar = tqdm(names, desc="release", unit="notebook", disable=not progress or len(names) < 2)
    for name in bar:
        bar.set_postfix_str(name)
        source_copy = course.source_path(name)
        source_copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(available[name], source_copy)
        _generate_assignment(course, name)
        release_path = course.release_path(name)
        if not release_path.is_file():
            raise ReleaseError(
                f"nbgrader finished without writing {release_path}; run "
                f"`nbgrader generate_assignment {name} --force` in {course.root} to see why."
            )
        add_colab_cells(release_path, name, colab)
        released.append(release_path)
        if out is not None:
            out_dir = Path(out).expanduser()
            out_dir.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(release_path, out_dir / f"{name}.ipynb")
        if progress:
            where = f" and {Path(out) / f'{name}.ipynb'}" if out is not None else ""
            tqdm.write(f"release {name}: {release_path}{where} ({_summary(release_path)})")
    return released
