"""The class report: what a class got right and wrong in one assignment, for the instructor.

`cnn-course report [ASSIGNMENT...] [--out DIR]` writes, per assignment,
`<course>/reports/<assignment>.html` (one self-contained page) and `<assignment>.json` (the
same numbers), from the gradebook and the autograded notebooks; it never runs a submission.

- **Scores**: the distribution of the assignment's points (a histogram), mean and median, and
  how many students submitted, are missing, timed out (the grading budget ran out, or a cell
  was stopped) or could not be graded at all.
- **Exercises**: per graded cell, its points, the mean, the share of the class with full
  marks, with nothing, and with part of the points (a near miss earns part).
- **Misconceptions**: each hint a check gave, by its identifier (`conv_forward/flipped_kernel`,
  the same in the feedback and the exports), with how many students got it and who (linked to
  their feedback pages), most frequent first; then the failures no hint explains, by kind: an
  exception of the student's code, a function not written yet, a banned library, a timeout, a
  lost kernel, or a wrong answer with no known cause.
- **Written answers**: per manually graded cell, how many are graded and how many wait.

The counts are taken from the graded notebooks' test-cell outputs, so they are the same in both
isolations (the sandboxed grader writes the same diagnoses into the notebook as the kernel).
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
import re
import statistics
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from autograder.course import (
    COURSE_ID,
    HINT_ID,
    KERNEL_LOST_ERROR_NAME,
    NEAR_MISS_LINE,
    PROBLEM_FILE,
    TIMEOUT_ERROR_NAME,
    Course,
    format_points,
)

#: The sentence every banned-library refusal carries (autograder.kernel.rules.RULE).
BANNED = "This is a NumPy exercise"


@dataclass
class Exercise:
    """One graded cell of the assignment, across the class."""

    grade_id: str
    name: str
    points: float
    mean: float = 0.0
    full: float = 0.0  # share of the graded submissions with full marks
    zero: float = 0.0
    partial: float = 0.0  # share with part of the points (a near miss)


@dataclass
class Finding:
    """A diagnosis (a hint's identifier) or a kind of failure, and who got it."""

    key: str
    count: int
    students: list[str]
    exercises: list[str]


@dataclass
class WrittenAnswer:
    grade_id: str
    points: float
    graded: int
    waiting: int


@dataclass
class ClassReport:
    """The numbers of one assignment's report (the JSON file holds exactly these)."""

    assignment: str
    max_score: float
    students: int
    submitted: int
    missing: list[str]
    not_runnable: list[str]
    timed_out: list[str]
    scores: dict[str, float]
    mean: float | None
    median: float | None
    exercises: list[Exercise] = field(default_factory=list)
    misconceptions: list[Finding] = field(default_factory=list)
    failures: list[Finding] = field(default_factory=list)
    written: list[WrittenAnswer] = field(default_factory=list)


# --- reading a graded test cell ----------------------------------------------------------------


def _text(value) -> str:
    return "".join(value) if isinstance(value, list) else str(value or "")


def failure_kind(output: dict) -> str:
    """The kind of failure an error output of a test cell shows, when no hint explains it."""
    ename = output.get("ename", "")
    evalue = _text(output.get("evalue"))
    if ename == TIMEOUT_ERROR_NAME or evalue.startswith("timed out"):
        return "timed out"
    if ename == KERNEL_LOST_ERROR_NAME:
        return "kernel lost"
    if BANNED in evalue:
        return "banned library"
    if "not written yet" in evalue or ename == "NotImplementedError":
        return "not written yet"
    raised = re.search(r" raised ([A-Za-z_][A-Za-z0-9_]*)", evalue)
    if ename == "AssertionError" and raised:
        return f"raised {raised.group(1)}"
    if ename != "AssertionError":
        return f"raised {ename}"
    return "wrong answer, no known cause"


def cell_findings(cell: dict) -> tuple[list[str], list[str]]:
    """(hint identifiers, failure kinds) in a graded test cell's outputs: the hints of its
    error, or, when it passed with a near miss (part of the points), the near miss's hint."""
    hints: list[str] = []
    kinds: list[str] = []
    outputs = cell.get("outputs", [])
    for output in outputs:
        if output.get("output_type") != "error":
            continue
        found = HINT_ID.findall(_text(output.get("evalue")))
        if found:
            hints.extend(found)
        else:
            kinds.append(failure_kind(output))
    if not kinds and not hints:
        printed = "".join(_text(o.get("text")) for o in outputs if o.get("output_type") == "stream")
        if NEAR_MISS_LINE.search(printed):
            hints.extend(HINT_ID.findall(printed))
    return list(dict.fromkeys(hints)), list(dict.fromkeys(kinds))


def exercise_name(cell: dict) -> str:
    """ "conv_forward_naive" from a test cell whose first line is `# Tests for
    conv_forward_naive (4 points)`; else its grade id."""
    first = (_text(cell.get("source")).strip().splitlines() or [""])[0]
    match = re.match(r"^#\s*Tests? for\s+(?P<name>.+?)\s*(\(.*\))?\s*$", first, re.IGNORECASE)
    return match.group("name") if match else cell["metadata"]["nbgrader"]["grade_id"]


# --- building the report --------------------------------------------------------------------------


def _share(count: int, total: int) -> float:
    return round(count / total, 4) if total else 0.0


def _findings(found: dict[str, dict[str, set[str]]]) -> list[Finding]:
    """key -> {student -> exercises}: most students first, then by key."""
    rows = [
        Finding(
            key,
            len(by_student),
            sorted(by_student),
            sorted({e for exercises in by_student.values() for e in exercises}),
        )
        for key, by_student in found.items()
    ]
    return sorted(rows, key=lambda row: (-row.count, row.key))


def build_report(course: Course, assignment: str) -> ClassReport:
    """The report of one assignment, from the gradebook and the autograded notebooks."""
    from nbgrader.api import Gradebook, MissingEntry

    with course.lock(), Gradebook(course.db_url, COURSE_ID) as gb:
        record = gb.find_assignment(assignment)
        cells = [
            (c.name, c.max_score, c.cell_type) for nb in record.notebooks for c in nb.grade_cells
        ]
        max_score = float(record.max_score)
        students = sorted({s.id for s in gb.students} | set(course.students()))
        scores: dict[str, float] = {}
        grades: dict[str, dict[str, tuple[float, bool]]] = {}
        for student in students:
            try:
                submission = gb.find_submission(assignment, student)
            except MissingEntry:
                continue
            scores[student] = float(submission.score) - float(
                submission.late_submission_penalty or 0
            )
            grades[student] = {
                g.name: (float(g.score or 0), bool(g.needs_manual_grade))
                for notebook in submission.notebooks
                for g in notebook.grades
            }
    autograded = {student: course.autograded_dir / student / assignment for student in grades}
    not_runnable = sorted(
        s for s, folder in autograded.items() if (folder / PROBLEM_FILE).is_file()
    )
    hints: dict[str, dict[str, set[str]]] = {}
    kinds: dict[str, dict[str, set[str]]] = {}
    timed_out: set[str] = set()
    names: dict[str, str] = {}
    for student, folder in autograded.items():
        path = folder / f"{assignment}.ipynb"
        if not path.is_file():
            continue
        for cell in json.loads(path.read_text(encoding="utf-8")).get("cells", []):
            meta = cell.get("metadata", {}).get("nbgrader", {})
            if not meta.get("grade") or meta.get("solution") or cell.get("cell_type") != "code":
                continue
            name = names.setdefault(meta["grade_id"], exercise_name(cell))
            found_hints, found_kinds = cell_findings(cell)
            for key in found_hints:
                hints.setdefault(key, {}).setdefault(student, set()).add(name)
            for key in found_kinds:
                kinds.setdefault(key, {}).setdefault(student, set()).add(name)
                if key == "timed out":
                    timed_out.add(student)
    values = list(scores.values())
    report = ClassReport(
        assignment=assignment,
        max_score=max_score,
        students=len(students),
        submitted=len(scores),
        missing=[s for s in students if s not in scores],
        not_runnable=not_runnable,
        timed_out=sorted(timed_out),
        scores=scores,
        mean=round(statistics.fmean(values), 4) if values else None,
        median=statistics.median(values) if values else None,
        misconceptions=_findings(hints),
        failures=_findings(kinds),
    )
    for grade_id, points, cell_type in cells:
        results = [grades[s][grade_id] for s in grades if grade_id in grades[s]]
        if cell_type == "markdown":
            waiting = sum(needs for _, needs in results)
            report.written.append(WrittenAnswer(grade_id, points, len(results) - waiting, waiting))
            continue
        got = [score for score, _ in results]
        report.exercises.append(
            Exercise(
                grade_id,
                names.get(grade_id, grade_id),
                points,
                mean=round(statistics.fmean(got), 4) if got else 0.0,
                full=_share(sum(v >= points for v in got), len(got)),
                zero=_share(sum(v <= 0 for v in got), len(got)),
                partial=_share(sum(0 < v < points for v in got), len(got)),
            )
        )
    return report


# --- writing it --------------------------------------------------------------------------------------

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 62em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: 0.4em 0 1em 0; }
td, th { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
td.num, th.num { text-align: right; }
code { background: #f4f4f4; padding: 0 0.2em; }
.muted { color: #777; }
"""


def _histogram(report: ClassReport) -> str:
    """The distribution of scores, as an embedded PNG (an <img> with a data URL)."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6, 2.6), dpi=80)
    ax = figure.subplots()
    top = max(report.max_score, 1.0)
    bins = min(20, max(5, int(top)))
    ax.hist(list(report.scores.values()), bins=bins, range=(0, top), color="#4c72b0")
    ax.set_xlabel("points")
    ax.set_ylabel("students")
    ax.set_title(f"{report.assignment}: scores of {report.submitted} submissions", fontsize=10)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="histogram of the scores" src="data:image/png;base64,{data}">'


def _students(names: list[str], links: dict[str, str]) -> str:
    return ", ".join(
        f'<a href="{html.escape(links[n])}">{html.escape(n)}</a>' if n in links else html.escape(n)
        for n in names
    )


def _page(report: ClassReport, links: dict[str, str]) -> str:
    def number(value: float | None) -> str:
        return "-" if value is None else format_points(value)

    def percent(share: float) -> str:
        return f"{100 * share:.0f}%"

    rows = "".join(
        f"<tr><td><code>{html.escape(e.name)}</code></td><td class='num'>{format_points(e.points)}</td>"
        f"<td class='num'>{format_points(e.mean)}</td><td class='num'>{percent(e.full)}</td>"
        f"<td class='num'>{percent(e.partial)}</td><td class='num'>{percent(e.zero)}</td></tr>"
        for e in report.exercises
    )

    def findings(title: str, items: list[Finding], what: str) -> str:
        if not items:
            return f"<h2>{title}</h2><p class='muted'>None.</p>"
        body = "".join(
            f"<tr><td><code>{html.escape(f.key)}</code></td><td class='num'>{f.count}</td>"
            f"<td>{html.escape(', '.join(f.exercises))}</td><td>{_students(f.students, links)}</td></tr>"
            for f in items
        )
        return (
            f"<h2>{title}</h2><table><tr><th>{what}</th><th class='num'>students</th>"
            f"<th>exercises</th><th>who</th></tr>{body}</table>"
        )

    written = "".join(
        f"<tr><td><code>{html.escape(w.grade_id)}</code></td><td class='num'>{format_points(w.points)}</td>"
        f"<td class='num'>{w.graded}</td><td class='num'>{w.waiting}</td></tr>"
        for w in report.written
    )
    summary = (
        f"<p>{report.submitted} of {report.students} students submitted; mean "
        f"{number(report.mean)}, median {number(report.median)} of "
        f"{format_points(report.max_score)} points. Missing: {len(report.missing)}"
        f"{' (' + _students(report.missing, {}) + ')' if report.missing else ''}; timed out: "
        f"{len(report.timed_out)}"
        f"{' (' + _students(report.timed_out, links) + ')' if report.timed_out else ''}; "
        f"could not be graded: {len(report.not_runnable)}"
        f"{' (' + _students(report.not_runnable, links) + ')' if report.not_runnable else ''}.</p>"
    )
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(report.assignment)}: class report</title><style>{_STYLE}</style></head>"
        f"<body><h1>{html.escape(report.assignment)}: class report</h1>{summary}"
        f"{_histogram(report)}"
        "<h2>Exercises</h2><table><tr><th>exercise</th><th class='num'>points</th>"
        "<th class='num'>mean</th><th class='num'>full marks</th><th class='num'>part</th>"
        f"<th class='num'>nothing</th></tr>{rows}</table>"
        + findings("Misconceptions (the checks' hints)", report.misconceptions, "hint")
        + findings("Other failures", report.failures, "kind")
        + "<h2>Written answers</h2>"
        + (
            "<table><tr><th>answer</th><th class='num'>points</th><th class='num'>graded</th>"
            f"<th class='num'>waiting</th></tr>{written}</table>"
            if report.written
            else "<p class='muted'>None in this assignment.</p>"
        )
        + "<p class='muted'>Grade the waiting answers in formgrader, then run "
        "<code>cnn-course report</code> again.</p></body></html>\n"
    )


def write_reports(
    course: Course, assignments: Iterable[str] | None = None, out: Path | str | None = None
) -> list[Path]:
    """Write `<out>/<assignment>.html` and `.json` for each assignment; return the pages.

    Args:
        course: an autograded course.
        assignments: assignment names; None means every assignment in the gradebook.
        out: the folder to write to; None means `<course>/reports`.

    Raises:
        UsageError: an assignment is not in the gradebook.
    """
    wanted = course.chosen_assignments(assignments)
    folder = Path(out).expanduser().resolve() if out is not None else course.root / "reports"
    folder.mkdir(parents=True, exist_ok=True)
    pages = []
    for assignment in wanted:
        report = build_report(course, assignment)
        links = {
            student: os.path.relpath(page, folder)
            for student in report.scores
            if (page := course.feedback_dir / student / assignment / f"{assignment}.html").is_file()
        }
        (folder / f"{assignment}.json").write_text(json.dumps(asdict(report), indent=1) + "\n")
        page = folder / f"{assignment}.html"
        page.write_text(_page(report, links), encoding="utf-8")
        pages.append(page)
    return pages
