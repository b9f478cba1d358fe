"""Collect submissions into `<course>/submitted/<student>/<assignment>/<assignment>.ipynb`.

The input is a folder laid out as `SRC/<student>/<assignment>/*.ipynb`, or a zip of that
layout (also a zip whose single top folder holds it, as most LMS exports are). Every entry is
accounted for by name in the report; nothing is skipped silently:

- a student or assignment folder whose name cannot be used is not collected (an unknown
  assignment gets "Did you mean ...?");
- two folders that are the same student once the name is normalised (lower case, no
  surrounding spaces), such as `Alice/` and `alice/`, are not collected: the instructor picks;
- a notebook that is not valid JSON or nbformat IS collected, so that autograde scores it 0
  with its reason, and is marked in the report;
- a notebook whose test cells or locked cells differ from the release (nbgrader checksums)
  is collected and the edited cells are named (autograde uses the release's test cells);
- a submission already collected is never overwritten without `force`; with `force` the old
  copy moves to `<course>/submitted_backup/<timestamp>/<student>/<assignment>/` first.

Each collected folder gets nbgrader's `timestamp.txt`: the one that came with the submission,
or else the notebook's modification time (inside a zip: the time stored in the zip).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from autograder.course import Course, CourseError, UsageError, did_you_mean

# Files that operating systems and Jupyter leave behind; they are never submissions.
JUNK_NAMES = {"__MACOSX", ".DS_Store", "Thumbs.db", ".ipynb_checkpoints", "desktop.ini"}

STUDENT_ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9_.@-]*")


@dataclass
class Submission:
    """One collected notebook.

    Attributes:
        student, assignment: the ids it is filed under.
        path: the collected notebook, `<course>/submitted/<student>/<assignment>/<a>.ipynb`.
        origin: where it came from, as shown in the report (`SRC/<student>/<assignment>/x.ipynb`).
        invalid: why it cannot be graded (not valid JSON or nbformat), or None.
        edited_cells: grade ids of test or locked cells that differ from the release.
        backup: where the previously collected copy went (with force), or None.
        unchanged: True when the same notebook was already collected (nothing copied).
    """

    student: str
    assignment: str
    path: Path
    origin: str
    invalid: str | None = None
    edited_cells: list[str] = field(default_factory=list)
    backup: Path | None = None
    unchanged: bool = False


@dataclass
class CollectReport:
    """What `collect` did: every submission collected and every entry it could not collect.

    Attributes:
        source: the folder or zip collected from.
        course: the course collected into.
        submissions: the notebooks collected (or found unchanged).
        not_collected: `(origin, reason)` for every entry that was not collected.
    """

    source: Path
    course: Course
    submissions: list[Submission] = field(default_factory=list)
    not_collected: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing needs the instructor's attention."""
        return not self.not_collected and not any(
            item.invalid or item.edited_cells for item in self.submissions
        )

    def _relative(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.course.root))
        except ValueError:
            return str(path)

    def lines(self) -> list[str]:
        """A summary line, then one line per problem with its path and reason."""
        collected = [item for item in self.submissions if not item.unchanged]
        unchanged = len(self.submissions) - len(collected)
        replaced = sum(1 for item in collected if item.backup is not None)
        summary = f"collect {self.source.name}: {len(collected)} collected"
        if replaced:
            backup = next(item.backup for item in collected if item.backup is not None)
            summary += (
                f" ({replaced} replaced; old copies in {self._relative(backup.parent.parent)})"
            )
        if unchanged:
            summary += f", {unchanged} unchanged"
        if self.not_collected:
            summary += f", {len(self.not_collected)} not collected"
        lines = [summary]
        for item in self.submissions:
            where = self._relative(item.path)
            if item.invalid:
                lines.append(f"  {where}: {item.invalid}; collected, will score 0")
            if item.edited_cells:
                lines.append(
                    f"  {where}: edited read-only cells {', '.join(item.edited_cells)}; "
                    "collected, autograde uses the release's version of these cells"
                )
        for origin, reason in self.not_collected:
            lines.append(f"  {origin}: {reason}")
        if self.not_collected:
            lines.append(
                "Fix or rename the entries above in the source and run `cnn-course collect` "
                "again; what is already collected stays as it is."
            )
        return lines

    def __str__(self) -> str:
        return "\n".join(self.lines())


def _is_junk(path: Path) -> bool:
    return path.name in JUNK_NAMES or path.name.startswith("._")


def _children(folder: Path) -> list[Path]:
    return sorted(child for child in folder.iterdir() if not _is_junk(child))


def _has_layout(root: Path) -> bool:
    """True when some `root/<student>/<assignment>/*.ipynb` exists."""
    return any(
        notebook.parent.parent.parent == root
        for notebook in root.glob("*/*/*.ipynb")
        if not any(_is_junk(part) for part in notebook.relative_to(root).parents)
    )


def _layout_root(root: Path) -> Path:
    """`root`, or its single top folder when that folder holds the layout (LMS zips)."""
    if _has_layout(root):
        return root
    children = _children(root)
    if len(children) == 1 and children[0].is_dir() and _has_layout(children[0]):
        return children[0]
    return root


def _extract_zip(archive: Path, into: Path) -> list[tuple[str, str]]:
    """Extract `archive` into `into`, keeping each file's time; return refused entries."""
    refused = []
    try:
        with zipfile.ZipFile(archive) as zipped:
            for info in zipped.infolist():
                name = info.filename
                parts = Path(name).parts
                if name.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
                    refused.append(
                        (f"{archive.name}:{name}", "path leaves the zip's folder; not extracted")
                    )
                    continue
                target = into / name
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with zipped.open(info) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst)
                stamp = time.mktime((*info.date_time, 0, 0, -1))
                os.utime(target, (stamp, stamp))
    except zipfile.BadZipFile as error:
        raise CourseError(
            f"{archive} is not a readable zip file ({error}). Download it again, or unpack it "
            "and pass the folder."
        ) from error
    return refused


def _notebook_problem(raw: bytes) -> str | None:
    """Why these bytes are not a notebook nbgrader can run, or None when they are."""
    import nbformat

    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        return f"not UTF-8 text (byte {error.start})"
    try:
        json.loads(text)
    except json.JSONDecodeError as error:
        return f"not valid JSON (line {error.lineno}, column {error.colno})"
    try:
        notebook = nbformat.reads(text, as_version=4)
        nbformat.validate(notebook)
    except Exception as error:  # nbformat raises several unrelated types
        message = str(error).strip().splitlines()
        return f"not a valid notebook ({message[0] if message else type(error).__name__})"
    return None


def _protected_checksums(release_path: Path) -> dict[str, str]:
    """grade_id -> nbgrader checksum of every test cell and locked cell of a release."""
    protected = {}
    for cell in json.loads(release_path.read_text(encoding="utf-8"))["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        is_test = meta.get("grade") and not meta.get("solution")
        if (is_test or meta.get("locked")) and "checksum" in meta:
            protected[meta["grade_id"]] = meta["checksum"]
    return protected


def _edited_cells(raw: bytes, protected: dict[str, str]) -> list[str]:
    """Grade ids (in release order) whose cells are missing or differ from the release."""
    import nbformat
    from nbgrader.utils import compute_checksum

    notebook = nbformat.reads(raw.decode("utf-8"), as_version=4)
    by_id = {}
    for cell in notebook.cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id is not None:
            by_id.setdefault(grade_id, cell)
    edited = []
    for grade_id, checksum in protected.items():
        cell = by_id.get(grade_id)
        if cell is None:
            edited.append(f"{grade_id} (deleted)")
            continue
        try:
            same = compute_checksum(cell) == checksum
        except (KeyError, TypeError, ValueError, AttributeError):
            same = False  # its nbgrader metadata was damaged
        if not same:
            edited.append(grade_id)
    return edited


def _timestamp(folder: Path, notebook: Path) -> str:
    """nbgrader's timestamp.txt text: the submission's own, else the notebook's mtime (UTC)."""
    given = folder / "timestamp.txt"
    if given.is_file():
        text = given.read_text(encoding="utf-8", errors="replace").strip()
        if text:
            return text
    moment = datetime.fromtimestamp(notebook.stat().st_mtime, tz=timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f UTC")


def _choose_notebook(folder: Path, assignment: str) -> tuple[Path | None, list[Path], str]:
    """The submission's notebook, other notebooks not collected, and why none was chosen."""
    notebooks = [path for path in _children(folder) if path.suffix == ".ipynb" and path.is_file()]
    exact = folder / f"{assignment}.ipynb"
    if exact in notebooks:
        return exact, [path for path in notebooks if path != exact], ""
    if len(notebooks) == 1:
        return notebooks[0], [], ""
    if not notebooks:
        return None, [], f"no notebook (.ipynb) in this folder; expected {assignment}.ipynb"
    names = ", ".join(path.name for path in notebooks)
    return (
        None,
        [],
        (
            f"{len(notebooks)} notebooks ({names}) and none named {assignment}.ipynb; "
            f"rename the one to grade to {assignment}.ipynb"
        ),
    )


def _backup_root(course: Course) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    candidate = course.root / "submitted_backup" / stamp
    suffix = 1
    while candidate.exists():
        suffix += 1
        candidate = course.root / "submitted_backup" / f"{stamp}-{suffix}"
    return candidate


def _same_files(a: Path, b: Path) -> bool:
    return a.is_file() and b.is_file() and a.read_bytes() == b.read_bytes()


def collect(course: Course, src: Path | str, force: bool = False) -> CollectReport:
    """Copy the submissions in `src` into `<course>/submitted/`.

    Args:
        course: the course; its assignments must be released (`cnn-course release`), since
            submissions are checked against the release.
        src: a folder `SRC/<student>/<assignment>/*.ipynb`, or a zip of that layout (with or
            without one top folder around it).
        force: replace submissions already collected; the old copy is moved to
            `<course>/submitted_backup/<timestamp>/<student>/<assignment>/` first.

    Returns:
        the report: `.submissions`, `.not_collected`, `.ok`, `.lines()`.

    Raises:
        UsageError: `src` does not exist.
        CourseError: no assignment has been released, or the zip cannot be read.
    """
    src = Path(src).expanduser()
    if not src.exists():
        raise UsageError(
            f"{src}: no such folder or zip. Pass a folder laid out as "
            "SRC/<student>/<assignment>/<assignment>.ipynb, or a zip of it."
        )
    released = [name for name in course.assignments() if course.release_path(name).is_file()]
    if not released:
        raise CourseError(
            f"no assignment is released in {course.root}, so submissions cannot be checked "
            "against a release. Run `cnn-course release` first."
        )
    course.ensure()
    report = CollectReport(source=src, course=course)
    with tempfile.TemporaryDirectory(prefix="cnn-course-collect-") as scratch:
        if src.is_dir():
            top = src

            def origin(path: Path) -> str:
                return str(src / path.relative_to(top))

        else:
            top = Path(scratch)
            report.not_collected += _extract_zip(src, top)

            def origin(path: Path) -> str:
                return f"{src.name}:{path.relative_to(top).as_posix()}"

        _collect_tree(course, _layout_root(top), released, force, report, origin)
    return report


def _collect_tree(course, root, released, force, report, origin) -> None:
    """Walk `root/<student>/<assignment>/` and collect every submission into the course."""
    students: dict[str, list[Path]] = {}
    for entry in _children(root):
        if not entry.is_dir():
            report.not_collected.append(
                (
                    origin(entry),
                    "a file where a student folder was expected; lay submissions out as "
                    "<student>/<assignment>/<assignment>.ipynb",
                )
            )
            continue
        student = entry.name.strip().lower()
        if not STUDENT_ID_PATTERN.fullmatch(student):
            report.not_collected.append(
                (
                    origin(entry),
                    f"student name {entry.name!r} cannot be a student id (use letters, digits, "
                    "'_', '-', '.', '@', starting with a letter or digit); rename the folder",
                )
            )
            continue
        students.setdefault(student, []).append(entry)

    backup_root = None
    for student, folders in sorted(students.items()):
        if len(folders) > 1:
            names = " and ".join(repr(folder.name) for folder in folders)
            for folder in folders:
                report.not_collected.append(
                    (
                        origin(folder),
                        f"folders {names} are both student {student}; neither collected. Merge "
                        "them into one folder (or rename one) and collect again",
                    )
                )
            continue
        for entry in _children(folders[0]):
            if not entry.is_dir():
                report.not_collected.append(
                    (
                        origin(entry),
                        "a file where an assignment folder was expected; put it in "
                        f"{folders[0].name}/<assignment>/",
                    )
                )
                continue
            assignment = entry.name
            if assignment not in released:
                report.not_collected.append(
                    (
                        origin(entry),
                        f"unknown assignment {assignment!r} (released: {', '.join(released)})."
                        f"{did_you_mean(assignment, released)}",
                    )
                )
                continue
            notebook, extra, why_not = _choose_notebook(entry, assignment)
            if notebook is None:
                report.not_collected.append((origin(entry), why_not))
                continue
            for path in extra:
                report.not_collected.append(
                    (
                        origin(path),
                        f"a second notebook next to {assignment}.ipynb; only "
                        f"{assignment}.ipynb is graded",
                    )
                )
            destination = course.submitted_dir / student / assignment
            target = destination / f"{assignment}.ipynb"
            raw = notebook.read_bytes()
            item = Submission(student, assignment, target, origin(notebook))
            item.invalid = _notebook_problem(raw)
            if item.invalid is None:
                item.edited_cells = _edited_cells(
                    raw, _protected_checksums(course.release_path(assignment))
                )
            if destination.exists():
                if _same_files(notebook, target):
                    item.unchanged = True
                    report.submissions.append(item)
                    continue
                if not force:
                    report.not_collected.append(
                        (
                            origin(notebook),
                            f"{student} already has a collected {assignment} that differs from "
                            "this one; not replaced. Pass --force to replace it (the old copy "
                            "is kept in submitted_backup/)",
                        )
                    )
                    continue
                backup_root = backup_root or _backup_root(course)
                item.backup = backup_root / student / assignment
                item.backup.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(str(destination), item.backup)
            destination.mkdir(parents=True)
            for path in _children(entry):
                if path.suffix == ".ipynb" or path.name == "timestamp.txt":
                    continue
                if path.is_dir():
                    shutil.copytree(path, destination / path.name)
                else:
                    shutil.copy2(path, destination / path.name)
            shutil.copy2(notebook, target)
            (destination / "timestamp.txt").write_text(_timestamp(entry, notebook) + "\n")
            report.submissions.append(item)
