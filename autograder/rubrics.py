"""Rubrics of the written answers: required at release, shown to graders, kept from students.

A written answer graded by hand is a markdown cell with nbgrader metadata `solution: true,
grade: true, points: N`. In the SOURCE notebook its solution region holds a model answer and
the rubric:

    **Your answer:**

    ### BEGIN SOLUTION
    **Model answer.** A complete answer, as a strong student would write it.

    **Rubric (2 points).**
    - 2: what earns full marks
    - 1: what earns partial credit
    - 0: what earns nothing
    ### END SOLUTION

nbgrader strips the region from the release, so students see "**Your answer:**" and "YOUR
ANSWER HERE". This module does the three other things the rubrics need:

- `rubric_problems(cells)`, for `cnn-course release`: every hand-graded cell without a model
  answer and a rubric in its solution region, a rubric whose points differ from the cell's,
  and any rubric outside a solution region (its text would reach students);
- `ShowRubrics`, an nbgrader preprocessor of the autograde pipeline: right after each
  hand-graded cell of the autograded notebook (the one formgrader shows), a read-only markdown
  cell "For the grader: model answer and rubric (not shown to students)" with that cell's
  solution region, copied by grade id from the source notebook
  (`<course>/source/<assignment>/<assignment>.ipynb`);
- `HideRubrics`, its counterpart in the feedback pipeline: the pages students get never
  contain those cells.

Both preprocessors are configured as nbgrader configures its own, through traitlets
(`c.ShowRubrics.heading = "..."`, `c.ShowRubrics.enabled = False`).
"""

from __future__ import annotations

import re
from pathlib import Path

from nbformat import NotebookNode
from nbformat.v4 import new_markdown_cell
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Unicode

BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
# Marks the cells ShowRubrics adds (its value is the grade id of the answer), so that they are
# found again: replaced when a notebook is autograded again, removed from the feedback.
RUBRIC_MARKER = "cnn_course_rubric"
HEADING = "For the grader: model answer and rubric (not shown to students)"

# "**Rubric (2 points).**" and "**Model answer.**" at the start of a line (in a code cell
# after a comment sign); the points in the rubric's heading are optional.
RUBRIC_HEADING = re.compile(
    r"^\s*(?:#\s*)?\*\*Rubric\b(?:\s*\((?P<points>\d+(?:\.\d+)?)\s+points?\))?", re.IGNORECASE
)
MODEL_ANSWER_LABEL = re.compile(r"^\s*(?:#\s*)?\*\*Model answer\b", re.IGNORECASE)


def is_hand_graded(cell) -> bool:
    """Whether `cell` (an nbformat node or a plain dict) is an answer that a person grades:
    an nbgrader cell that is both a solution and graded."""
    nbgrader = cell.get("metadata", {}).get("nbgrader", {})
    return bool(nbgrader.get("grade")) and bool(nbgrader.get("solution"))


def solution_region(source: str) -> str | None:
    """The text between the first `### BEGIN SOLUTION` and `### END SOLUTION` lines of a
    cell's source, without the marker lines; None when the cell has no closed region."""
    lines = source.splitlines()
    starts = [i for i, line in enumerate(lines) if line.strip() == BEGIN_SOLUTION]
    if not starts:
        return None
    for end in range(starts[0] + 1, len(lines)):
        if lines[end].strip() == END_SOLUTION:
            return "\n".join(lines[starts[0] + 1 : end]).strip("\n")
    return None


def _outside_regions(source: str) -> list[str]:
    """The lines of a cell's source that are not inside a solution region."""
    outside, inside = [], False
    for line in source.splitlines():
        if line.strip() == BEGIN_SOLUTION:
            inside = True
        elif line.strip() == END_SOLUTION:
            inside = False
        elif not inside:
            outside.append(line)
    return outside


def rubric_problems(cells) -> list[str]:
    """What stops a notebook's rubrics from being released; an empty list when nothing does.

    Args:
        cells: the notebook's cells (nbformat nodes or plain dicts), in order.

    Returns:
        one line per problem, naming the cell by number (from 1) and grade id:
        - a hand-graded cell whose solution region lacks "**Model answer.**" or "**Rubric";
        - a rubric heading "**Rubric (N points).**" whose N differs from the cell's points;
        - a "**Rubric" line outside a solution region of any cell (students would read it).
    """
    problems = []
    for number, cell in enumerate(cells, start=1):
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else source
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        label = f"cell {number}" + (f" ({grade_id})" if grade_id else "")
        if any(RUBRIC_HEADING.match(line) for line in _outside_regions(source)):
            problems.append(
                f"{label} has a rubric outside a solution region, so students would read it; "
                f"move it between '{BEGIN_SOLUTION}' and '{END_SOLUTION}' of the answer cell"
            )
        if not is_hand_graded(cell):
            continue
        region = solution_region(source) or ""
        lines = region.splitlines()
        missing = [
            what
            for what, pattern in (("model answer", MODEL_ANSWER_LABEL), ("rubric", RUBRIC_HEADING))
            if not any(pattern.match(line) for line in lines)
        ]
        if missing:
            problems.append(
                f"{label} is graded by hand but its solution region has no "
                f"{' and no '.join(missing)}; write '**Model answer.** ...' and "
                "'**Rubric (N points).**' with what earns each number of points between "
                f"'{BEGIN_SOLUTION}' and '{END_SOLUTION}', so that graders see them in "
                "formgrader and students never do"
            )
        points = cell["metadata"]["nbgrader"].get("points")
        for line in lines:
            match = RUBRIC_HEADING.match(line)
            if match and match["points"] is not None and float(match["points"]) != points:
                problems.append(
                    f"{label}: its rubric is for {match['points']} points but the cell is worth "
                    f"{points!r} (nbgrader points); make them agree"
                )
    return problems


def rubric_cell(grade_id: str, region: str | None, heading: str = HEADING) -> NotebookNode:
    """The read-only markdown cell that shows a grader the model answer and rubric.

    Args:
        grade_id: the answer cell's grade id (stored in the metadata under `RUBRIC_MARKER`).
        region: the source cell's solution region; None when there is none to show.
        heading: the cell's first line, in bold.

    Returns:
        a markdown cell: the heading, then the region as a block quote (or, without one, a
        line saying so), with `editable` and `deletable` false and no nbgrader metadata.
    """
    if region is None:
        region = (
            f"(The source notebook has no model answer for the cell {grade_id!r}: release the "
            "assignment again from a source notebook whose answer cell has a rubric.)"
        )
    quoted = "\n".join(f"> {line}".rstrip() for line in region.splitlines())
    cell = new_markdown_cell(
        f"**{heading}**\n\n{quoted}",
        metadata={"editable": False, "deletable": False, RUBRIC_MARKER: grade_id},
    )
    cell["id"] = re.sub(r"[^A-Za-z0-9_-]", "-", f"rubric-{grade_id}")[:64]
    return cell


class ShowRubrics(NbGraderPreprocessor):
    """Put the model answer and rubric after every hand-graded answer of an autograded notebook.

    For each cell that a person grades (solution and grade), the cell of the same grade id in
    the source notebook gives its solution region, which follows the answer as a read-only
    markdown cell headed `heading` (see `rubric_cell`). Cells it added before are replaced.
    The source notebook is `<root>/<source_directory>/<assignment>/<notebook>.ipynb` of
    nbgrader's `CourseDirectory`, or the file `source_notebook` names.
    """

    heading = Unicode(HEADING, help="The first line of every rubric cell.").tag(config=True)
    source_notebook = Unicode(
        "",
        help="The source notebook to read the rubrics from; empty: the course's own, "
        "<root>/<source_directory>/<assignment>/<notebook>.ipynb.",
    ).tag(config=True)

    def _source_path(self, resources: dict) -> Path:
        if self.source_notebook:
            return Path(self.source_notebook)
        from nbgrader.coursedir import CourseDirectory

        info = resources["nbgrader"]
        coursedir = CourseDirectory(parent=self)
        folder = coursedir.format_path(coursedir.source_directory, ".", info["assignment"])
        return Path(folder) / f"{info['notebook']}.ipynb"

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        import nbformat

        cells = [cell for cell in nb.cells if RUBRIC_MARKER not in cell.metadata]
        if not any(is_hand_graded(cell) for cell in cells):
            nb.cells = cells
            return nb, resources
        path = self._source_path(resources)
        regions: dict[str, str | None] = {}
        try:
            source = nbformat.read(str(path), as_version=4)
        except (OSError, ValueError) as error:
            self.log.warning(
                "no rubrics shown: cannot read the source notebook %s (%s)", path, error
            )
        else:
            for cell in source.cells:
                grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
                if grade_id is not None and is_hand_graded(cell):
                    regions[grade_id] = solution_region(cell.source)
        nb.cells = []
        for cell in cells:
            nb.cells.append(cell)
            if is_hand_graded(cell):
                grade_id = cell.metadata["nbgrader"]["grade_id"]
                nb.cells.append(rubric_cell(grade_id, regions.get(grade_id), self.heading))
        return nb, resources


class HideRubrics(NbGraderPreprocessor):
    """Remove the cells `ShowRubrics` added: the feedback students get has no rubric."""

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        nb.cells = [cell for cell in nb.cells if RUBRIC_MARKER not in cell.metadata]
        return nb, resources
