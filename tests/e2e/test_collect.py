"""`collect`: every entry of a folder or zip is collected or reported by name, nothing is lost."""

from __future__ import annotations

import json
import zipfile

import pytest

from autograder.collect import collect
from autograder.course import CourseError, UsageError
from tests.e2e.conftest import TINY, cell_by_grade_id, read_notebook, write_notebook


@pytest.fixture
def release_nb(released_course) -> dict:
    return read_notebook(released_course.release_path(TINY))


def submit(root, student, notebook, assignment=TINY, name=None):
    return write_notebook(root / student / assignment / (name or f"{assignment}.ipynb"), notebook)


def reasons(report) -> dict[str, str]:
    return dict(report.not_collected)


def test_collect_copies_a_folder_layout_and_writes_timestamps(
    released_course, release_nb, tmp_path
):
    src = tmp_path / "src"
    submit(src, "alice", release_nb)
    submit(src, "bob", release_nb, name="my work (1).ipynb")
    report = collect(released_course, src)
    assert report.ok and report.lines()[0] == "collect src: 2 collected"
    assert released_course.students() == ["alice", "bob"]
    for student in ("alice", "bob"):
        path = released_course.submission_path(student, TINY)
        assert json.loads(path.read_text()) == release_nb
        timestamp = (path.parent / "timestamp.txt").read_text().strip()
        assert timestamp.endswith(" UTC") and timestamp[:2] == "20"


def test_collect_keeps_the_timestamp_that_came_with_a_submission(
    released_course, release_nb, tmp_path
):
    src = tmp_path / "src"
    submit(src, "alice", release_nb)
    (src / "alice" / TINY / "timestamp.txt").write_text("2024-03-01 09:30:00.000000 UTC\n")
    collect(released_course, src)
    stamp = released_course.submitted_dir / "alice" / TINY / "timestamp.txt"
    assert stamp.read_text().strip() == "2024-03-01 09:30:00.000000 UTC"


def test_collect_reads_a_zip_whose_single_top_folder_holds_the_layout(
    released_course, release_nb, tmp_path
):
    archive = tmp_path / "lms-export.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("export/alice/tiny/tiny.ipynb", json.dumps(release_nb))
        zipped.writestr("export/bob/tiny/tiny.ipynb", json.dumps(release_nb))
        zipped.writestr("__MACOSX/export/._alice", "resource fork")
    report = collect(released_course, archive)
    assert report.ok, report.lines()
    assert released_course.students() == ["alice", "bob"]


def test_collect_refuses_a_zip_entry_that_leaves_the_folder(released_course, release_nb, tmp_path):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("alice/tiny/tiny.ipynb", json.dumps(release_nb))
        zipped.writestr("../../escaped.txt", "x")
    report = collect(released_course, archive)
    assert "evil.zip:../../escaped.txt" in reasons(report)
    assert not (tmp_path / "escaped.txt").exists()
    assert released_course.students() == ["alice"]


def test_collect_reports_a_student_name_that_cannot_be_an_id(released_course, release_nb, tmp_path):
    src = tmp_path / "src"
    submit(src, "Carl Smith", release_nb)
    report = collect(released_course, src)
    assert not report.ok
    assert (
        "student name 'Carl Smith' cannot be a student id"
        in reasons(report)[str(src / "Carl Smith")]
    )
    assert released_course.students() == []


def test_collect_lowercases_student_ids(released_course, release_nb, tmp_path):
    submit(tmp_path / "src", "Dana", release_nb)
    collect(released_course, tmp_path / "src")
    assert released_course.students() == ["dana"]


def test_collect_reports_two_folders_of_one_student_and_collects_neither(
    released_course, release_nb, tmp_path
):
    src = tmp_path / "src"
    submit(src, "Gus", release_nb)
    submit(src, "gus", release_nb)
    report = collect(released_course, src)
    assert (
        "'Gus' and 'gus' are both student gus; neither collected"
        in reasons(report)[str(src / "gus")]
    )
    assert str(src / "Gus") in reasons(report)
    assert released_course.students() == []


def test_collect_reports_an_unknown_assignment_with_a_suggestion(
    released_course, release_nb, tmp_path
):
    src = tmp_path / "src"
    submit(src, "frank", release_nb, assignment="Tiny")
    report = collect(released_course, src)
    reason = reasons(report)[str(src / "frank" / "Tiny")]
    assert "unknown assignment 'Tiny'" in reason and "Did you mean tiny?" in reason


def test_collect_keeps_a_notebook_that_is_not_json_and_marks_it(released_course, tmp_path):
    broken = tmp_path / "src" / "dana" / TINY / "tiny.ipynb"
    broken.parent.mkdir(parents=True)
    broken.write_text("{oops")
    report = collect(released_course, tmp_path / "src")
    (item,) = report.submissions
    assert item.invalid == "not valid JSON (line 1, column 2)"
    assert released_course.submission_path("dana", TINY).read_text() == "{oops"
    assert not report.ok
    assert (
        "submitted/dana/tiny/tiny.ipynb: not valid JSON (line 1, column 2); collected, will score 0"
        in "\n".join(report.lines())
    )


def test_collect_marks_a_json_file_that_is_not_a_notebook(released_course, tmp_path):
    submit(tmp_path / "src", "erin", {"cells": "none"})
    (item,) = collect(released_course, tmp_path / "src").submissions
    assert item.invalid.startswith("not a valid notebook")


def test_collect_names_edited_and_deleted_test_cells(released_course, release_nb, tmp_path):
    cell_by_grade_id(release_nb, "test_add")["source"] = "assert True"
    release_nb["cells"].remove(cell_by_grade_id(release_nb, "test_hypotenuse"))
    submit(tmp_path / "src", "mallory", release_nb)
    report = collect(released_course, tmp_path / "src")
    (item,) = report.submissions
    assert item.edited_cells == ["test_add", "test_hypotenuse (deleted)"]
    assert "edited read-only cells test_add, test_hypotenuse (deleted)" in "\n".join(report.lines())
    assert released_course.submission_path("mallory", TINY).exists()


def test_collect_names_an_edited_locked_cell_and_changed_points(
    released_course, release_nb, tmp_path
):
    cell_by_grade_id(release_nb, "setup")["source"] = "import math, os"
    cell_by_grade_id(release_nb, "test_add")["metadata"]["nbgrader"]["points"] = 20
    submit(tmp_path / "src", "mallory", release_nb)
    (item,) = collect(released_course, tmp_path / "src").submissions
    assert item.edited_cells == ["setup", "test_add"]


def test_collect_accepts_edited_solution_cells_and_answers(released_course, release_nb, tmp_path):
    cell_by_grade_id(release_nb, "add")["source"] = "def add(a, b):\n    return a + b"
    cell_by_grade_id(release_nb, "why_longer")["source"] = "Pythagoras."
    submit(tmp_path / "src", "alice", release_nb)
    report = collect(released_course, tmp_path / "src")
    assert report.ok and report.submissions[0].edited_cells == []


def test_collect_never_overwrites_without_force(released_course, release_nb, tmp_path):
    first = submit(tmp_path / "first", "alice", release_nb)
    collect(released_course, tmp_path / "first")
    cell_by_grade_id(release_nb, "add")["source"] = "def add(a, b):\n    return a + b"
    submit(tmp_path / "second", "alice", release_nb)
    report = collect(released_course, tmp_path / "second")
    assert not report.ok and "Pass --force to replace it" in "\n".join(report.lines())
    assert released_course.submission_path("alice", TINY).read_bytes() == first.read_bytes()


def test_collect_with_force_replaces_and_keeps_the_old_copy(released_course, release_nb, tmp_path):
    first = submit(tmp_path / "first", "alice", release_nb)
    collect(released_course, tmp_path / "first")
    cell_by_grade_id(release_nb, "add")["source"] = "def add(a, b):\n    return a + b"
    second = submit(tmp_path / "second", "alice", release_nb)
    report = collect(released_course, tmp_path / "second", force=True)
    (item,) = report.submissions
    assert released_course.submission_path("alice", TINY).read_bytes() == second.read_bytes()
    assert item.backup.parent.parent.parent == released_course.root / "submitted_backup"
    assert (item.backup / "tiny.ipynb").read_bytes() == first.read_bytes()
    assert "1 replaced; old copies in submitted_backup/" in report.lines()[0]


def test_collect_again_reports_unchanged_submissions_without_copying(
    released_course, release_nb, tmp_path
):
    submit(tmp_path / "src", "alice", release_nb)
    collect(released_course, tmp_path / "src")
    report = collect(released_course, tmp_path / "src")
    assert report.ok and report.lines()[0] == "collect src: 0 collected, 1 unchanged"
    assert not (released_course.root / "submitted_backup").exists()


def test_collect_reports_stray_files_and_extra_notebooks_by_name(
    released_course, release_nb, tmp_path
):
    src = tmp_path / "src"
    submit(src, "bob", release_nb)
    submit(src, "bob", release_nb, name="scratch.ipynb")
    (src / "readme.txt").write_text("hello")
    (src / "carol").mkdir()
    (src / "carol" / "tiny.ipynb").write_text(json.dumps(release_nb))
    found = reasons(collect(released_course, src))
    assert "only tiny.ipynb is graded" in found[str(src / "bob" / TINY / "scratch.ipynb")]
    assert "where a student folder was expected" in found[str(src / "readme.txt")]
    assert "where an assignment folder was expected" in found[str(src / "carol" / "tiny.ipynb")]


def test_collect_reports_a_folder_with_several_notebooks_and_none_named_right(
    released_course, release_nb, tmp_path
):
    src = tmp_path / "src"
    submit(src, "bob", release_nb, name="a.ipynb")
    submit(src, "bob", release_nb, name="b.ipynb")
    found = reasons(collect(released_course, src))
    assert (
        "2 notebooks (a.ipynb, b.ipynb) and none named tiny.ipynb" in found[str(src / "bob" / TINY)]
    )


def test_collect_copies_the_files_that_come_with_a_notebook(released_course, release_nb, tmp_path):
    src = tmp_path / "src"
    submit(src, "alice", release_nb)
    (src / "alice" / TINY / "weights.npz").write_bytes(b"\x00\x01")
    collect(released_course, src)
    assert (
        released_course.submitted_dir / "alice" / TINY / "weights.npz"
    ).read_bytes() == b"\x00\x01"


def test_collect_needs_a_release_first(course, tmp_path):
    (tmp_path / "src").mkdir()
    with pytest.raises(CourseError, match="Run `cnn-course release` first"):
        collect(course, tmp_path / "src")


def test_collect_refuses_a_source_that_does_not_exist(released_course, tmp_path):
    with pytest.raises(UsageError, match="no such folder or zip"):
        collect(released_course, tmp_path / "missing.zip")


def test_collect_refuses_a_file_that_is_not_a_zip(released_course, tmp_path):
    (tmp_path / "grades.zip").write_text("not a zip")
    with pytest.raises(CourseError, match="grades.zip is not a readable zip file"):
        collect(released_course, tmp_path / "grades.zip")
