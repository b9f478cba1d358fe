"""Export the gradebook as a CSV: one row per student, one column per assignment, the total.

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
"""

from __future__ import annotations

import csv
from pathlib import Path

from autograder.course import COURSE_ID, Course, GradebookLock, format_points


def grade_table(course: Course) -> tuple[list[str], dict[str, dict[str, float]]]:
    """The grades as data: (assignment names, student id -> assignment -> points).

    A missing submission is 0 points.
    """
    from nbgrader.api import Gradebook, MissingEntry

    with GradebookLock(course.root), Gradebook(course.db_url, COURSE_ID) as gb:
        assignments = sorted(a.name for a in gb.assignments)
        students = sorted({s.id for s in gb.students} | set(course.students()))
        table: dict[str, dict[str, float]] = {}
        for student in students:
            row = {}
            for assignment in assignments:
                try:
                    submission = gb.find_submission(assignment, student)
                except MissingEntry:
                    row[assignment] = 0.0
                    continue
                late = submission.late_submission_penalty or 0
                row[assignment] = float(submission.score) - float(late)
            table[student] = row
    return assignments, table


def export_grades(course: Course, to: Path | str = "grades.csv") -> Path:
    """Write the grades CSV: columns `student_id`, one per assignment (points), `total`.

    Args:
        course: the course directory, graded with `autograde` (manual grades from formgrader
            count too).
        to: the CSV file to write (its folder is created); a relative path is relative to
            the current directory.

    Returns:
        the absolute path of the CSV.

    A student with no submission of an assignment gets 0 for that assignment.
    """
    path = Path(to).expanduser().resolve()
    if path.is_dir():
        raise IsADirectoryError(
            f"--to must name a CSV file, got the folder {path}. Try --to {path / 'grades.csv'}."
        )
    assignments, table = grade_table(course)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student_id", *assignments, "total"])
        for student, row in table.items():
            points = [row[a] for a in assignments]
            writer.writerow(
                [student, *(format_points(p) for p in points), format_points(sum(points))]
            )
    return path
