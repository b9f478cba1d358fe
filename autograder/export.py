"""Export the gradebook as a CSV, for a spreadsheet or a learning management system.

The default (`--format csv`) is one row per student, one column per assignment, the total:

```
student_id,01_conv_arithmetic,02_layers,total
ada,12,30.5,42.5
ben,0,18,18
```

- Points, not percentages: each cell is the student's score in the gradebook (autograded and
  manual grades together, as formgrader and the feedback pages show it, minus any late
  penalty), written as a plain number without trailing zeros (12, 12.5).
- Rows are sorted by student id; assignment columns are sorted by name.
- A student with no submission of an assignment gets 0 for it (the row is still there).
- Students are every student in the gradebook and every student with a folder in
  `submitted/`; assignments are every assignment in the gradebook (released).
- `--detail` adds, before each assignment's column, one column per graded cell of it,
  `<assignment>/<grade id>` (points; the exercise's share of the assignment's score).

`--format canvas` and `--format moodle` write the same points in the layout each system imports
(the student id is taken to be the student's login in the LMS; assignments are columns, no
total, which each system computes itself):

- **Canvas** (Canvas Instructor Guide, "How do I import grades in the Gradebook?"): the header
  `Student,ID,SIS User ID,SIS Login ID,Section,<column>...`, then a `Points Possible` row with
  each column's points, then one row per student with the id as `Student` and `SIS Login ID`
  (Canvas matches a row by its ID, SIS User ID or SIS Login ID; the other identity columns may be
  empty, and a column name that matches no assignment makes a new one).
- **Moodle** (Moodle Docs, "Grade import", CSV file): the header `Username,<column>...`, one row
  per student; on import choose "Identify user by: Map from Username, Map to username" and map
  each column to a grade item (or a new one).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from autograder.course import COURSE_ID, Course, GradebookLock, UsageError, format_points

FORMATS = ("csv", "canvas", "moodle")


@dataclass
class GradeTable:
    """The grades as data.

    Attributes:
        assignments: the assignment names, sorted.
        cells: per assignment, its graded cells' grade ids, in notebook order.
        points: the points possible of each assignment and of each `<assignment>/<grade id>`.
        scores: student id -> column (an assignment or `<assignment>/<grade id>`) -> points.
    """

    assignments: list[str]
    cells: dict[str, list[str]]
    points: dict[str, float]
    scores: dict[str, dict[str, float]]

    def columns(self, detail: bool) -> list[str]:
        out = []
        for assignment in self.assignments:
            if detail:
                out += [f"{assignment}/{cell}" for cell in self.cells[assignment]]
            out.append(assignment)
        return out


def read_grades(course: Course) -> GradeTable:
    """Every student's points per assignment and per graded cell; a missing submission is 0."""
    from nbgrader.api import Gradebook, MissingEntry

    with GradebookLock(course.root), Gradebook(course.db_url, COURSE_ID) as gb:
        assignments = sorted(a.name for a in gb.assignments)
        cells: dict[str, list[str]] = {}
        points: dict[str, float] = {}
        for assignment in assignments:
            record = gb.find_assignment(assignment)
            points[assignment] = float(record.max_score)
            cells[assignment] = []
            for notebook in record.notebooks:
                for cell in notebook.grade_cells:
                    cells[assignment].append(cell.name)
                    points[f"{assignment}/{cell.name}"] = float(cell.max_score)
        students = sorted({s.id for s in gb.students} | set(course.students()))
        scores: dict[str, dict[str, float]] = {}
        for student in students:
            row = {column: 0.0 for column in points}
            for assignment in assignments:
                try:
                    submission = gb.find_submission(assignment, student)
                except MissingEntry:
                    continue
                late = submission.late_submission_penalty or 0
                row[assignment] = float(submission.score) - float(late)
                for notebook in submission.notebooks:
                    for grade in notebook.grades:
                        row[f"{assignment}/{grade.name}"] = float(grade.score or 0)
            scores[student] = row
    return GradeTable(assignments, cells, points, scores)


def grade_table(course: Course) -> tuple[list[str], dict[str, dict[str, float]]]:
    """The grades per assignment: (assignment names, student id -> assignment -> points)."""
    table = read_grades(course)
    return table.assignments, {
        student: {a: row[a] for a in table.assignments} for student, row in table.scores.items()
    }


def export_grades(
    course: Course, to: Path | str = "grades.csv", *, detail: bool = False, layout: str = "csv"
) -> Path:
    """Write the grades CSV in one of `FORMATS`; return its absolute path.

    Args:
        course: the course directory, graded with `autograde` (manual grades from formgrader
            count too).
        to: the CSV file to write (its folder is created); a relative path is relative to
            the current directory.
        detail: one column per graded cell too.
        layout: "csv" (`student_id`, the columns, `total`), "canvas" or "moodle" (see the
            module's docstring for their layouts and sources); `--format` on the command line.
    """
    if layout not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}; got {layout!r}.")
    path = Path(to).expanduser().resolve()
    if path.is_dir():
        raise IsADirectoryError(
            f"--to must name a CSV file, got the folder {path}. Try --to {path / 'grades.csv'}."
        )
    table = read_grades(course)
    columns = table.columns(detail)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        if layout == "canvas":
            writer.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", *columns])
            writer.writerow(
                [
                    "Points Possible",
                    "",
                    "",
                    "",
                    "",
                    *(format_points(table.points[c]) for c in columns),
                ]
            )
            for student, row in table.scores.items():
                points = [format_points(row[c]) for c in columns]
                writer.writerow([student, "", "", student, "", *points])
        elif layout == "moodle":
            writer.writerow(["Username", *columns])
            for student, row in table.scores.items():
                writer.writerow([student, *(format_points(row[c]) for c in columns)])
        else:
            writer.writerow(["student_id", *columns, "total"])
            for student, row in table.scores.items():
                total = sum(row[a] for a in table.assignments)
                points = [format_points(row[c]) for c in columns]
                writer.writerow([student, *points, format_points(total)])
    return path
