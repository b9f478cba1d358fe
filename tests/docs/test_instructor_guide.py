"""Every shell command of docs/instructor-guide.md runs, in order, and prints what the guide shows.

The guide's ```console blocks are run one after the other as bash scripts (`set -e`), from a
"project folder" in tmp_path that links to this working tree's files, with this Python's
`bin/` first on PATH. Before the first block the folder gets what the guide says the
instructor has: `submissions/<student>/01_conv_arithmetic/` (a complete and a partial sample,
`autograder.submissions`) and `late_submissions.zip` (one more complete one). A line under a
`$ command` is text that the block's output must contain, with `<project>` standing for the
project folder.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from autograder.build import release
from autograder.course import Course
from autograder.submissions import make_submission

REPO = Path(__file__).resolve().parents[2]
GUIDE = REPO / "docs" / "instructor-guide.md"
ASSIGNMENT = "01_conv_arithmetic"
BLOCK = re.compile(r"^```console\n(.*?)^```", re.M | re.S)
LINKED = ("notebooks", "tests", "autograder", "course_utils", "data", "pyproject.toml", "docs")


def console_blocks(text: str) -> list[tuple[list[str], list[str]]]:
    """(commands, expected output lines) of each ```console block."""
    blocks = []
    for body in BLOCK.findall(text):
        commands, expected = [], []
        for line in body.splitlines():
            if line.startswith("$ "):
                commands.append(line[2:])
            elif line.strip():
                expected.append(line.strip())
        blocks.append((commands, expected))
    return blocks


def test_the_guide_has_console_blocks_for_every_step():
    commands = [c for block, _ in console_blocks(GUIDE.read_text()) for c in block]
    for step in ("release", "collect", "autograde", "feedback", "export", "check"):
        assert any(f"cnn-course {step}" in c for c in commands), f"no `cnn-course {step}`"
    assert any("--jobs" in c and "--timeout" in c for c in commands)
    assert any(c.endswith(".zip") for c in commands), "collecting a zip is not shown"
    assert any("cnn-course colab" in c for c in commands)


@pytest.fixture
def project(tmp_path) -> Path:
    """A project folder linking to the working tree, with the submissions the guide uses."""
    folder = tmp_path / "project"
    folder.mkdir()
    for name in LINKED:
        (folder / name).symlink_to(REPO / name)
    samples = Course(tmp_path / "samples")
    release(samples, [ASSIGNMENT], progress=False)
    source, released = samples.source_path(ASSIGNMENT), samples.release_path(ASSIGNMENT)
    for student, kind in (("ada", "complete"), ("bob", "partial")):
        target = folder / "submissions" / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
        target.parent.mkdir(parents=True)
        target.write_text(make_submission(source, released, kind), encoding="utf-8")
    with zipfile.ZipFile(folder / "late_submissions.zip", "w") as archive:
        archive.writestr(
            f"carol/{ASSIGNMENT}/{ASSIGNMENT}.ipynb", make_submission(source, released, "complete")
        )
    return folder


@pytest.mark.slow
def test_every_command_of_the_instructor_guide_runs_and_prints_what_it_shows(project):
    env = {key: value for key, value in os.environ.items() if key != "MPLBACKEND"}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["CNN_COURSE_FAST"] = "1"
    for number, (commands, expected) in enumerate(console_blocks(GUIDE.read_text()), start=1):
        script = "set -euo pipefail\n" + "\n".join(commands) + "\n"
        result = subprocess.run(
            ["bash", "-c", script],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        output = result.stdout + result.stderr
        where = f"console block {number} ({'; '.join(commands)})"
        assert result.returncode == 0, f"{where} exited {result.returncode}:\n{output[-3000:]}"
        for line in expected:
            line = line.replace("<project>", str(project))
            assert line in output, f"{where} did not print {line!r}:\n{output[-3000:]}"

    grades = (project / "grades.csv").read_text().splitlines()
    assert grades[0].split(",") == ["student_id", ASSIGNMENT, "total"]
    assert {row.split(",")[0] for row in grades[1:]} == {"ada", "bob", "carol"}
    colab_cell = (project / "course" / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_text()
    assert "colab.research.google.com/github/ORG/cnn-course-release" in colab_cell
