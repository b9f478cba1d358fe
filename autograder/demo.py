"""`cnn-course demo`: the whole instructor round on sample submissions, end to end.

1. release every notebook of the project (`notebooks/`) into the course directory;
2. write sample submissions made from each source notebook (see `autograder.submissions`;
   the student id is the kind) into `<course>/demo_submissions/`. To keep the demo to a few
   minutes, only the FIRST notebook gets every kind (complete, partial, blank, raises,
   invalid_json, warnings); every other notebook gets the `complete` kind, which shows that a
   perfect submission earns every autograded point (grading every kind of every course
   notebook takes several times longer; pass `kinds="all"` for that);
3. collect them, autograde them (`jobs` at once, the default isolation of `autograde`
   unless `isolation` is given), write the feedback pages, export the CSV;
4. print the grade table, where the pages and the CSV are, and check the grades that are
   known in advance: complete and warnings get every autograded point, blank and invalid_json
   get 0, partial and raises get less than complete (when there are points to get).

The course directory is a fresh temporary folder unless one is given; a given folder must be
empty, missing, or an earlier demo's (which is then replaced), so the sample students never
end up in a real gradebook.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from autograder.course import Course, format_points

DEMO_MARKER = ".cnn-course-demo"


def _autograded_points(release: Path) -> float:
    """Points of the autograded test cells of a release (written answers excluded)."""
    nb = json.loads(release.read_text(encoding="utf-8"))
    total = 0.0
    for cell in nb["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade") and not meta.get("solution"):
            total += float(meta.get("points", 0))
    return total


def _prepare(course_dir: Path | str | None) -> Course | str:
    """The demo's course, or why the given folder cannot be used."""
    if course_dir is None:
        return Course(Path(tempfile.mkdtemp(prefix="cnn-course-demo-")) / "course")
    root = Path(course_dir).expanduser().resolve()
    if root.exists() and not root.is_dir():
        return f"{root} is a file; pass a folder with --course DIR."
    if root.is_dir() and any(root.iterdir()):
        if not (root / DEMO_MARKER).exists():
            return (
                f"{root} already holds a course that is not a demo; the demo would add its "
                "sample students to that gradebook. Pass an empty or new folder, e.g. "
                "`cnn-course --course /tmp/cnn-course-demo demo`."
            )
        shutil.rmtree(root)
    return Course(root)


def _demo_isolation(isolation: str | None) -> tuple[str, bool]:
    """(isolation, allow_unsandboxed) for the demo: it runs everywhere, because its submissions
    are the course's own: the full sandbox where it works, the limits only on a POSIX system
    without it, the student's kernel elsewhere (Windows). A class is never graded that way
    without the instructor asking (`autograde` refuses)."""
    from autograder.isolation.sandbox import detect_protections

    if isolation is not None:
        return isolation, isolation == "sandbox"
    if os.name != "posix":
        return "kernel", False
    return "sandbox", not detect_protections().full


def run_demo(
    course_dir: Path | str | None = None,
    jobs: int | None = None,
    out: Callable[[str], object] = print,
    source: Path | str | None = None,
    kinds: str = "first",
    isolation: str | None = None,
) -> int:
    """Run the instructor round on sample submissions and print the grade table.

    Args:
        course_dir: the course folder to use (missing, empty, or an earlier demo's); None
            makes a temporary one (kept afterwards, so the pages can be opened).
        jobs: submissions graded at once; None means min(2, number of CPUs).
        out: where each line of the report goes.
        source: folder of source notebooks; None means the project's `notebooks/`.
        kinds: "first" (every sample kind for the first notebook, `complete` for the others),
            "all" (every kind for every notebook) or "complete" (`complete` only).
        isolation: passed to `autograder.grade.autograde`; None grades with the full sandbox
            where it works, else with what the machine has (`_demo_isolation`).

    Returns:
        0 when every step ran and the known grades came out as expected, 1 otherwise, 2 when
        the course folder cannot be used.
    """
    from autograder.build import release
    from autograder.collect import collect
    from autograder.export import export_grades, grade_table
    from autograder.feedback import generate_feedback
    from autograder.grade import autograde
    from autograder.report import write_reports
    from autograder.submissions import DEMO_KINDS, write_sample_submissions

    if kinds not in ("first", "all", "complete"):
        raise ValueError(f'kinds must be "first", "all" or "complete"; got {kinds!r}.')
    start = time.monotonic()
    course = _prepare(course_dir)
    if isinstance(course, str):
        out(f"demo: {course}")
        return 2
    jobs = jobs or min(2, os.cpu_count() or 1)
    course.ensure()
    (course.root / DEMO_MARKER).write_text("made by `cnn-course demo`; safe to delete\n")
    out(f"demo: course directory {course.root}")

    releases = release(course, source=source, progress=False)
    assignments = [path.parent.name for path in releases]
    out(f"demo: released {', '.join(assignments)}")

    drop = course.root / "demo_submissions"
    submitted: set[tuple[str, str]] = set()
    for index, a in enumerate(assignments):
        every = kinds == "all" or (kinds == "first" and index == 0)
        submitted |= {(kind, a) for kind in (DEMO_KINDS if every else ("complete",))}
        write_sample_submissions(
            {a: course.source_path(a)},
            {a: course.release_path(a)},
            drop,
            kinds=DEMO_KINDS if every else ("complete",),
        )
    report = collect(course, drop)
    for line in report.lines():
        out(line)

    isolation, allow_unsandboxed = _demo_isolation(isolation)
    graded = autograde(
        course,
        assignments,
        jobs=jobs,
        progress=True,
        isolation=isolation,
        allow_unsandboxed=allow_unsandboxed,
    )
    out(f"demo: graded with isolation {isolation!r}:")
    for line in graded.protections:
        out(f"  {line}")
    for line in graded.lines():
        # A sample kind the demo did not write for an assignment is "missing" there.
        if line.startswith(("Next:", "Look at")) or line.endswith("(scores 0 in the export)"):
            continue
        out(line)
    pages = generate_feedback(course, assignments)
    csv_path = export_grades(course, to=course.root / "grades.csv")

    columns, table = grade_table(course)
    maxima = {a: _autograded_points(course.release_path(a)) for a in columns}
    width = max([len("autograded max"), *(len(s) for s in table)])
    widths = [max(len(a), 6) for a in columns]
    header = "student".ljust(width) + "".join(
        f"  {a:>{w}}" for a, w in zip(columns, widths, strict=True)
    )
    out("")
    out(header + "   total")
    for student, row in table.items():
        cells = "".join(
            f"  {format_points(row[a]) if (student, a) in submitted else '-':>{w}}"
            for a, w in zip(columns, widths, strict=True)
        )
        out(student.ljust(width) + cells + f"  {format_points(sum(row.values())):>6}")
    cells = "".join(
        f"  {format_points(maxima[a]):>{w}}" for a, w in zip(columns, widths, strict=True)
    )
    out("autograded max".ljust(width) + cells + f"  {format_points(sum(maxima.values())):>6}")
    out("(written answers are graded by hand in formgrader and are not in these numbers;")
    out(" - : the demo wrote no sample of that kind for that assignment)")
    out("")
    out(f"feedback: {len(pages)} pages in {course.feedback_dir}/<student>/<assignment>/")
    out(f"grades CSV: {csv_path}")
    reports = write_reports(course, assignments)
    out(
        f"class report: {len(reports)} pages in {reports[0].parent}/<assignment>.html (and "
        "<assignment>.json): scores, exercises, and the mistakes the checks named"
        if reports
        else "class report: no assignment to report on"
    )

    surprises = []
    for a in columns:
        expected = {
            "complete": lambda got, a=a: got == maxima[a],
            "warnings": lambda got, a=a: got == maxima[a],
            "blank": lambda got: got == 0,
            "invalid_json": lambda got: got == 0,
            # less than complete, unless the assignment has no autograded points yet
            "partial": lambda got, a=a: got < maxima[a] or maxima[a] == 0,
            "raises": lambda got, a=a: got < maxima[a] or maxima[a] == 0,
        }
        for student, holds in expected.items():
            if (student, a) in submitted and student in table and not holds(table[student][a]):
                surprises.append(f"  {student} scored {format_points(table[student][a])} on {a}")
    minutes = (time.monotonic() - start) / 60
    if surprises:
        out("demo: these grades are not what the sample submissions should get:")
        for line in surprises:
            out(line)
        out(f"demo: finished in {minutes:.1f} min with unexpected grades (see above)")
        return 1
    out(f"demo: finished in {minutes:.1f} min; every sample got the grade it should")
    return 0
