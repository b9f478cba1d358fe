"""`release` on the tiny assignment: what the student gets, what the gradebook learns."""

from __future__ import annotations

import json

import pytest
from nbgrader.api import Gradebook
from traitlets.config.loader import PyFileConfigLoader

from autograder.build import ReleaseError, release
from autograder.course import Course, UsageError
from tests.e2e.conftest import TINY, TINY_SOURCE, cell_by_grade_id, read_notebook, write_notebook


def cell_text(cell) -> str:
    source = cell["source"]
    return "".join(source) if isinstance(source, list) else source


def test_release_writes_the_release_and_the_source_copy_in_nbgrader_layout(released_course):
    assert released_course.release_path(TINY) == released_course.root / "release/tiny/tiny.ipynb"
    assert released_course.release_path(TINY).is_file()
    assert (
        released_course.source_path(TINY).read_bytes() == (TINY_SOURCE / "tiny.ipynb").read_bytes()
    )
    assert released_course.assignments() == [TINY]


def test_release_strips_solutions_and_hidden_tests_but_keeps_signatures(released_course):
    text = released_course.release_path(TINY).read_text()
    for leaked in (
        "BEGIN SOLUTION",
        "total = a + b",
        "math.sqrt(a * a",
        "add(-7, 7)",
        "hypotenuse(5, 12)",
        "BEGIN HIDDEN TESTS",
        "square root is increasing",
        "Model answer",
        "Rubric (1 point)",
    ):
        assert leaked not in text, f"{leaked!r} reached the release"
    released = read_notebook(released_course.release_path(TINY))
    add = cell_text(cell_by_grade_id(released, "add"))
    assert add.startswith("def add(a, b):") and "raise NotImplementedError()" in add
    assert add.rstrip().endswith("return total")
    assert "assert add(1, 2) == 3" in cell_text(cell_by_grade_id(released, "test_add"))


def test_release_opens_with_the_title_and_puts_one_short_colab_cell_under_it(released_course):
    from autograder.colab import CELL_MARKER

    cells = read_notebook(released_course.release_path(TINY))["cells"]
    assert cell_text(cells[0]).startswith("# Tiny assignment")
    assert cells[1]["metadata"].get(CELL_MARKER) == "setup" and cells[1]["cell_type"] == "code"
    assert len(cell_text(cells[1]).splitlines()) <= 4
    assert sum(CELL_MARKER in cell["metadata"] for cell in cells) == 1  # no badge configured


def test_release_keeps_the_written_answer_as_a_prompt_for_the_student(released_course):
    released = read_notebook(released_course.release_path(TINY))
    answer = cell_text(cell_by_grade_id(released, "why_longer"))
    assert answer.startswith("**Your answer:**") and "YOUR ANSWER HERE" in answer


def test_release_records_the_assignment_and_its_graded_cells_in_the_gradebook(released_course):
    with Gradebook(released_course.db_url, course_id="cnn-course") as gradebook:
        assignment = gradebook.find_assignment(TINY)
        points = {cell.name: cell.max_score for cell in assignment.notebooks[0].grade_cells}
    assert points == {"test_add": 2.0, "test_hypotenuse": 3.0, "why_longer": 1.0}


def test_release_writes_an_nbgrader_config_that_plain_nbgrader_reads(released_course):
    config = PyFileConfigLoader("nbgrader_config.py", path=str(released_course.root)).load_config()
    assert config.CourseDirectory.course_id == "cnn-course"
    assert config.CourseDirectory.root == str(released_course.root)
    assert config.CourseDirectory.db_url == released_course.db_url


def test_release_copies_to_out_as_a_flat_folder(released_course, tmp_path):
    course, out = released_course, tmp_path / "handout"
    released = release(course, [TINY], source=TINY_SOURCE, out=out, progress=False)
    assert released == [course.release_path(TINY)]
    assert (out / "tiny.ipynb").read_bytes() == course.release_path(TINY).read_bytes()


def test_release_again_replaces_the_release_with_the_edited_source(released_course, tmp_path):
    source = read_notebook(TINY_SOURCE / "tiny.ipynb")
    cell_by_grade_id(source, "intro")["source"] = "# Tiny assignment, second edition"
    write_notebook(tmp_path / "src" / "tiny.ipynb", source)
    release(released_course, [TINY], source=tmp_path / "src", progress=False)
    assert "second edition" in released_course.release_path(TINY).read_text()


def test_release_prints_what_it_wrote_and_the_points(released_course, capsys):
    release(released_course, None, source=TINY_SOURCE)
    printed = capsys.readouterr().out
    assert str(released_course.release_path(TINY)) in printed
    assert "2 test cells, 5 points; 1 answer graded by hand, 1 point" in printed


def test_release_refuses_an_unknown_assignment_and_suggests_the_closest(course):
    with pytest.raises(UsageError, match="'tinny'.*Did you mean tiny\\?"):
        release(course, ["tinny"], source=TINY_SOURCE, progress=False)


def test_release_refuses_a_missing_source_folder(course, tmp_path):
    with pytest.raises(UsageError, match="no such folder"):
        release(course, source=tmp_path / "nowhere", progress=False)


def test_release_names_the_line_of_a_source_that_is_not_json(course, tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "tiny.ipynb").write_text('{"cells": [\n  oops\n')
    with pytest.raises(ReleaseError, match=r"tiny.ipynb: not valid JSON \(line 2"):
        release(course, source=tmp_path / "src", progress=False)
    assert not course.root.exists(), "a broken source must leave the course untouched"


def test_release_names_both_cells_of_a_repeated_grade_id(course, tmp_path):
    source = read_notebook(TINY_SOURCE / "tiny.ipynb")
    cell_by_grade_id(source, "hypotenuse")["metadata"]["nbgrader"]["grade_id"] = "add"
    write_notebook(tmp_path / "src" / "tiny.ipynb", source)
    with pytest.raises(ReleaseError, match=r"cell 7 \(add\): grade_id 'add' is used by cell 4"):
        release(course, source=tmp_path / "src", progress=False)


def test_release_refuses_solution_markers_in_a_cell_nbgrader_would_not_strip(course, tmp_path):
    source = read_notebook(TINY_SOURCE / "tiny.ipynb")
    del cell_by_grade_id(source, "add")["metadata"]["nbgrader"]
    write_notebook(tmp_path / "src" / "tiny.ipynb", source)
    with pytest.raises(ReleaseError, match="cell 4 has '### BEGIN SOLUTION' but no nbgrader"):
        release(course, source=tmp_path / "src", progress=False)


def test_release_refuses_a_test_cell_without_points(course, tmp_path):
    source = read_notebook(TINY_SOURCE / "tiny.ipynb")
    del cell_by_grade_id(source, "test_add")["metadata"]["nbgrader"]["points"]
    write_notebook(tmp_path / "src" / "tiny.ipynb", source)
    with pytest.raises(ReleaseError, match=r"test_add\) is a graded cell but its points are None"):
        release(course, source=tmp_path / "src", progress=False)


def test_release_refuses_an_unclosed_hidden_test_region(course, tmp_path):
    source = read_notebook(TINY_SOURCE / "tiny.ipynb")
    cell = cell_by_grade_id(source, "test_add")
    cell["source"] = cell_text(cell).replace("### END HIDDEN TESTS", "")
    write_notebook(tmp_path / "src" / "tiny.ipynb", source)
    with pytest.raises(ReleaseError, match="BEGIN HIDDEN TESTS' is never closed"):
        release(course, source=tmp_path / "src", progress=False)


def test_release_refuses_a_written_answer_without_a_rubric(course, tmp_path):
    source = read_notebook(TINY_SOURCE / "tiny.ipynb")
    cell = cell_by_grade_id(source, "why_longer")
    cell["source"] = cell_text(cell).split("**Rubric")[0] + "### END SOLUTION"
    write_notebook(tmp_path / "src" / "tiny.ipynb", source)
    with pytest.raises(ReleaseError, match=r"cell 11 \(why_longer\) is graded by hand but its"):
        release(course, source=tmp_path / "src", progress=False)
    assert not course.root.exists(), "a refused source must leave the course untouched"


def test_release_refuses_a_rubric_outside_the_solution_region(course, tmp_path):
    source = read_notebook(TINY_SOURCE / "tiny.ipynb")
    question = cell_by_grade_id(source, "why_longer_header")
    question["source"] = cell_text(question) + "\n\n**Rubric (1 point).** 1: any proof"
    write_notebook(tmp_path / "src" / "tiny.ipynb", source)
    with pytest.raises(ReleaseError, match=r"cell 10 \(why_longer_header\) has a rubric outside"):
        release(course, source=tmp_path / "src", progress=False)


def test_course_lists_released_assignments_and_collected_students(released_course):
    (released_course.submitted_dir / "bob" / TINY).mkdir(parents=True)
    (released_course.submitted_dir / "alice" / TINY).mkdir(parents=True)
    assert released_course.assignments() == [TINY]
    assert released_course.students() == ["alice", "bob"]
    assert released_course.submission_path("bob", TINY) == (
        released_course.root / "submitted/bob/tiny/tiny.ipynb"
    )


def test_course_config_takes_short_and_full_trait_overrides(tmp_path):
    config = Course(tmp_path).nbgrader_config(timeout=7, **{"Autograde.create_student": False})
    assert config.ExecutePreprocessor.timeout == 7
    assert config.Autograde.create_student is False
    assert config.KernelManager.shutdown_wait_time <= 1
    with pytest.raises(ValueError, match="'timeot'"):
        Course(tmp_path).nbgrader_config(timeot=7)


def test_release_finds_a_source_notebook_in_nbgrader_layout(released_course, tmp_path):
    nested = tmp_path / "src" / TINY / "tiny.ipynb"
    nested.parent.mkdir(parents=True)
    nested.write_text(json.dumps(read_notebook(TINY_SOURCE / "tiny.ipynb")))
    released = release(released_course, source=tmp_path / "src", progress=False)
    assert released == [released_course.release_path(TINY)]


def _schema(path) -> list[tuple]:
    import sqlite3

    with sqlite3.connect(path) as db:
        tables = sorted(db.execute("SELECT type, name, sql FROM sqlite_master").fetchall())
        return tables + db.execute("SELECT version_num FROM alembic_version").fetchall()


def test_a_new_course_has_the_gradebook_nbgrader_would_create(tmp_path, monkeypatch):
    Gradebook(f"sqlite:///{tmp_path / 'by_nbgrader.db'}").close()  # runs `alembic heads`
    monkeypatch.setenv("PATH", str(tmp_path / "no_programs"))  # no `alembic` to run now
    course = Course(tmp_path / "course").ensure()
    assert _schema(course.gradebook_path) == _schema(tmp_path / "by_nbgrader.db")
    with Gradebook(course.db_url, "cnn-course") as gradebook:  # nbgrader opens it as its own
        assert gradebook.assignments == []


def test_ensure_leaves_an_existing_gradebook_as_it_is(released_course):
    before = released_course.gradebook_path.read_bytes()
    released_course.ensure()
    assert released_course.gradebook_path.read_bytes() == before
    assert released_course.gradebook_assignments() == [TINY]
