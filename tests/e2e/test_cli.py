"""The `cnn-course` command line: options, exit codes, messages, and the self-check."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.cli import main
from tests.e2e.conftest import (
    TINY,
    TINY_SOURCE,
    cell_by_grade_id,
    read_notebook,
    solved_release,
    write_notebook,
)

REPO = Path(__file__).resolve().parents[2]


def test_course_option_is_accepted_before_the_command(released_course, capsys):
    args = ["--course", str(released_course.root), "release", "--source", str(TINY_SOURCE)]
    assert main(args) == 0
    assert str(released_course.release_path(TINY)) in capsys.readouterr().out


def test_course_option_is_accepted_after_the_command(released_course, capsys):
    args = ["release", TINY, "--source", str(TINY_SOURCE), "--course", str(released_course.root)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert str(released_course.release_path(TINY)) in out
    assert f"cnn-course --course {released_course.root} collect SRC" in out


def test_no_command_exits_2_and_says_to_name_one(capsys):
    assert main([]) == 2
    assert "name a command, e.g. `cnn-course release`" in capsys.readouterr().err


def test_a_mistyped_command_exits_2_with_a_suggestion(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["relase"])
    assert exit_info.value.code == 2
    assert "Did you mean release?" in capsys.readouterr().err


@pytest.mark.parametrize(
    "args", [["autograde", "--jobs", "0"], ["check", "x.ipynb", "--timeout", "soon"]]
)
def test_a_bad_number_exits_2_and_names_the_option(args, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 2
    assert f"argument {args[-2]}" in capsys.readouterr().err


def test_an_unknown_assignment_to_release_exits_2_with_a_suggestion(tmp_path, capsys):
    args = ["--course", str(tmp_path / "c"), "release", "tinny", "--source", str(TINY_SOURCE)]
    assert main(args) == 2
    assert "Did you mean tiny?" in capsys.readouterr().err


def test_commands_on_a_missing_course_exit_1_and_say_what_to_do(tmp_path, capsys):
    assert main(["collect", str(tmp_path), "--course", str(tmp_path / "nowhere")]) == 1
    err = capsys.readouterr().err
    assert f"no course directory at {tmp_path / 'nowhere'}" in err
    assert "Run `cnn-course release` there first" in err


def test_collect_exits_0_when_clean_and_1_when_something_needs_attention(
    released_course, tmp_path, capsys
):
    course = ["--course", str(released_course.root)]
    write_notebook(tmp_path / "ok" / "alice" / TINY / "tiny.ipynb", solved_release(released_course))
    assert main([*course, "collect", str(tmp_path / "ok")]) == 0
    assert "collect ok: 1 collected" in capsys.readouterr().out
    broken = tmp_path / "bad" / "bob" / TINY / "tiny.ipynb"
    broken.parent.mkdir(parents=True)
    broken.write_text("{")
    assert main([*course, "collect", str(tmp_path / "bad")]) == 1
    assert "submitted/bob/tiny/tiny.ipynb: not valid JSON" in capsys.readouterr().out


def test_collect_force_flag_replaces_and_keeps_the_old_copy(released_course, tmp_path):
    course = ["--course", str(released_course.root)]
    notebook = solved_release(released_course)
    write_notebook(tmp_path / "a" / "alice" / TINY / "tiny.ipynb", notebook)
    assert main([*course, "collect", str(tmp_path / "a")]) == 0
    cell_by_grade_id(notebook, "add")["source"] = "def add(a, b):\n    return b + a"
    write_notebook(tmp_path / "b" / "alice" / TINY / "tiny.ipynb", notebook)
    assert main([*course, "collect", str(tmp_path / "b")]) == 1
    assert main([*course, "collect", str(tmp_path / "b"), "--force"]) == 0
    backups = list((released_course.root / "submitted_backup").glob("*/alice/tiny/tiny.ipynb"))
    assert len(backups) == 1


def test_check_prints_the_score_card_of_a_complete_notebook(released_course, tmp_path, capsys):
    notebook = write_notebook(tmp_path / "tiny.ipynb", solved_release(released_course))
    assert main(["check", str(notebook)]) == 0
    card = capsys.readouterr().out.splitlines()
    assert card[0] == "tiny.ipynb: self-check (visible tests; hidden tests run at grading)"
    assert card[1].split() == ["add", "2/2", "pass"]
    assert card[2].split() == ["hypotenuse", "3/3", "pass"]
    assert card[3].split() == ["why_longer", "-/1", "graded", "by", "hand"]
    assert card[4].split() == ["total", "5/5"]


def test_check_shows_the_first_line_of_each_failure_and_exits_1(released_course, tmp_path, capsys):
    notebook = solved_release(released_course)
    cell_by_grade_id(notebook, "hypotenuse")["source"] = "def hypotenuse(a, b):\n    return a + b"
    path = write_notebook(tmp_path / "tiny.ipynb", notebook)
    assert main(["check", str(path)]) == 1
    card = capsys.readouterr().out
    assert "hypotenuse      0/3  hypotenuse(3, 4) should be 5.0" in card
    assert "total           2/5" in card


def test_check_counts_a_blank_release_as_zero(released_course, capsys):
    assert main(["check", str(released_course.release_path(TINY))]) == 1
    card = capsys.readouterr().out
    assert "add             0/2  not implemented yet (NotImplementedError)" in card
    assert "total           0/5" in card


def test_check_gives_full_marks_to_tests_that_warn_or_write_to_stderr(
    released_course, tmp_path, capsys
):
    notebook = solved_release(released_course)
    cell_by_grade_id(notebook, "add")["source"] = (
        "import sys, warnings\n"
        "def add(a, b):\n"
        "    warnings.warn('adding', UserWarning)\n"
        "    print('adding', file=sys.stderr)\n"
        "    return a + b"
    )
    path = write_notebook(tmp_path / "tiny.ipynb", notebook)
    assert main(["check", str(path)]) == 0
    assert "add             2/2  pass" in capsys.readouterr().out


def test_check_of_a_file_that_is_not_a_notebook_exits_2(tmp_path, capsys):
    (tmp_path / "x.ipynb").write_text("{")
    assert main(["check", str(tmp_path / "x.ipynb")]) == 2
    assert "is not a readable notebook" in capsys.readouterr().err


def test_check_leaves_the_notebook_unchanged(released_course, tmp_path):
    path = write_notebook(
        tmp_path / "tiny.ipynb", read_notebook(released_course.release_path(TINY))
    )
    before = path.read_bytes()
    main(["check", str(path)])
    assert path.read_bytes() == before


def test_python_dash_m_autograder_is_the_same_command(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-m", "autograder", "--course", str(tmp_path / "c"), "export"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 1
    assert "cnn-course export: no course directory at" in result.stderr


def test_score_card_in_a_cell_checks_the_notebook_its_kernel_belongs_to(
    released_course, tmp_path, monkeypatch
):
    from autograder.selfcheck import score_card

    notebook = write_notebook(tmp_path / "tiny.ipynb", solved_release(released_course))
    monkeypatch.setenv("JPY_SESSION_NAME", str(notebook))  # what the Jupyter server tells a kernel
    lines: list[str] = []
    card = score_card(out=lines.append)
    assert card.total == card.max_total == 5
    assert ["total", "5/5"] in [line.split() for line in lines]


def test_a_score_card_cell_inside_the_checked_notebook_does_not_start_another_check(
    released_course, tmp_path, capsys
):
    notebook = solved_release(released_course)
    notebook["cells"].append(
        {
            "cell_type": "code",
            "metadata": {},
            "execution_count": None,
            "outputs": [],
            "source": "from autograder.selfcheck import score_card\nprint(score_card())",
        }
    )
    path = write_notebook(tmp_path / "tiny.ipynb", notebook)
    assert main(["check", str(path)]) == 0
    assert "total           5/5" in capsys.readouterr().out


def test_score_card_says_how_to_name_the_notebook_when_it_cannot_tell(monkeypatch):
    from autograder.course import UsageError
    from autograder.selfcheck import score_card

    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    with pytest.raises(UsageError, match=r"Pass its path: score_card\("):
        score_card()


@pytest.mark.parametrize("isolation", ["sandbox", "kernel"])
def test_autograde_passes_the_chosen_isolation_to_the_grader(
    released_course, monkeypatch, isolation
):
    import autograder.grade

    seen = {}

    class Report:
        protections, ok = [], True

        def lines(self):
            return []

    def fake_autograde(course, assignments, **options):
        seen.update(options)
        return Report()

    monkeypatch.setattr(autograder.grade, "autograde", fake_autograde)
    course = ["--course", str(released_course.root)]
    assert main([*course, "autograde", "--isolation", isolation]) == 0
    assert seen["isolation"] == isolation


def test_autograde_refuses_an_unknown_isolation(released_course, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--course", str(released_course.root), "autograde", "--isolation", "none"])
    assert exit_.value.code == 2
    assert "invalid choice: 'none'" in capsys.readouterr().err


# A command's own process: main() runs first, then nbformat validates as it always does.
_VALIDATES_AFTER_MAIN = """\
import sys
from autograder.cli import main
try:
    main(["--version"])
except SystemExit:
    pass
import nbformat
nbformat.validate(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")]))
broken = nbformat.v4.new_notebook()
broken.cells = [nbformat.from_dict({"cell_type": "code", "source": "x"})]
try:
    nbformat.validate(broken)
except nbformat.ValidationError:
    print("refused")
print(sys.modules["rfc3987_syntax"])
"""


def test_a_command_validates_notebooks_without_importing_the_unused_iri_checker():
    result = subprocess.run(
        [sys.executable, "-c", _VALIDATES_AFTER_MAIN],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1:] == ["refused", "None"], result.stdout
