"""Grading fails closed: where the sandbox is incomplete, `autograde` grades nothing, leaves the
gradebook as it was, and says what is missing, how to install it and the two ways on; each way
on grades when the instructor asks for it; the demo runs anyway, saying how it graded.

The machine's protections are replaced for a test by what a machine without bubblewrap, with a
bubblewrap that fails its probe, or without a process limit would report (the probe itself runs
for real where the test says so: PATH without bwrap, a fake bwrap that fails).
"""

from __future__ import annotations

import csv
import hashlib
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.collect import collect
from autograder.course import Course, CourseError
from autograder.export import export_grades
from autograder.grade import autograde
from autograder.isolation import sandbox
from autograder.isolation.sandbox import Protections, detect_protections, kernel_memory_bytes
from tests.e2e.conftest import TINY, solved_release, write_notebook

FULL = 5  # the tiny assignment's autograded points


@pytest.fixture
def probe_again():
    """Forget the machine's probed protections before and after the test."""
    detect_protections.cache_clear()
    yield
    detect_protections.cache_clear()


def _without_bubblewrap(monkeypatch, tmp_path) -> None:
    """PATH holds this interpreter's bin/ and nothing with a `bwrap`."""
    empty = tmp_path / "bin-without-bwrap"
    empty.mkdir()
    monkeypatch.setenv("PATH", os.pathsep.join([str(Path(sys.executable).parent), str(empty)]))


def _failing_bubblewrap(monkeypatch, tmp_path) -> None:
    """A `bwrap` first on PATH that fails as bubblewrap does without user namespaces."""
    folder = tmp_path / "bin-failing-bwrap"
    folder.mkdir()
    fake = folder / "bwrap"
    fake.write_text("#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", os.pathsep.join([str(folder), os.environ.get("PATH", "")]))


def _no_process_limit(monkeypatch, tmp_path) -> None:
    """Bubblewrap works, but there is no cgroup to write and RLIMIT_NPROC cannot help root."""
    real = detect_protections()
    limited = Protections(real.bubblewrap, cgroup=False, nproc=False, why_not=())
    for module in ("autograder.grade", "autograder.isolation.sandbox"):
        monkeypatch.setattr(f"{module}.detect_protections", lambda: limited)


MACHINES = {
    "bubblewrap absent from PATH": _without_bubblewrap,
    "a bwrap that fails its probe": _failing_bubblewrap,
    "no process limit": _no_process_limit,
}
MISSING = {
    "bubblewrap absent from PATH": "bubblewrap is not installed",
    "a bwrap that fails its probe": "No permissions to create new namespace",
    "no process limit": "a process limit",
}


def _with_submissions(course: Course, tmp_path: Path) -> Course:
    drop = tmp_path / "drop"
    for student in ("ada", "bob"):
        write_notebook(drop / student / TINY / f"{TINY}.ipynb", solved_release(course))
    collect(course, drop)
    return course


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("machine", list(MACHINES))
def test_grading_refuses_and_leaves_the_gradebook_as_it_was(
    machine, released_course, tmp_path, monkeypatch, probe_again
):
    course = _with_submissions(released_course, tmp_path)
    MACHINES[machine](monkeypatch, tmp_path)
    before = _digest(course.gradebook_path)
    with pytest.raises(CourseError) as refused:
        autograde(course, progress=False)
    message = str(refused.value)
    assert "nothing was graded and the gradebook is unchanged" in message
    assert MISSING[machine] in message
    assert "--isolation kernel" in message and "--allow-unsandboxed" in message
    if machine == "bubblewrap absent from PATH":
        assert "apt-get install bubblewrap" in message and "dnf install bubblewrap" in message
        assert "macOS" in message
    if machine == "a bwrap that fails its probe":
        assert "unprivileged user namespaces" in message
    assert _digest(course.gradebook_path) == before
    assert not any(course.autograded_dir.iterdir()), "nothing autograded"


def test_the_command_line_refuses_with_status_1_and_the_message(
    released_course, tmp_path, probe_again
):
    course = _with_submissions(released_course, tmp_path)
    empty = tmp_path / "no-bwrap"
    empty.mkdir()
    env = {**os.environ, "PATH": os.pathsep.join([str(Path(sys.executable).parent), str(empty)])}
    result = subprocess.run(
        [sys.executable, "-m", "autograder", "--course", str(course.root), "autograde"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "grading refused" in result.stderr and "--allow-unsandboxed" in result.stderr


def _scores(course: Course, tmp_path: Path) -> dict[str, float]:
    text = export_grades(course, to=tmp_path / "grades.csv").read_text()
    return {row["student_id"]: float(row[TINY]) for row in csv.DictReader(text.splitlines())}


@pytest.mark.slow
@pytest.mark.parametrize("way", ["--isolation kernel", "--allow-unsandboxed"])
def test_each_way_on_grades_when_the_instructor_asks_for_it(
    way, released_course, tmp_path, monkeypatch, probe_again
):
    course = _with_submissions(released_course, tmp_path)
    _without_bubblewrap(monkeypatch, tmp_path)
    if way == "--isolation kernel":
        report = autograde(course, progress=False, timeout=60, isolation="kernel")
        assert "[OFF] isolation 'kernel'" in report.protections[0]
    else:
        report = autograde(course, progress=False, timeout=60, allow_unsandboxed=True)
        assert report.protections[0].startswith("[OFF] own file system view")
    assert _scores(course, tmp_path) == {"ada": FULL, "bob": FULL}


def test_the_memory_cap_lets_jobs_kernels_fit_in_the_machine():
    gib = 1 << 30
    assert kernel_memory_bytes(2, total=24 * gib) == 6 * gib  # capped
    assert kernel_memory_bytes(4, total=24 * gib) == (24 - 2 - 4) * gib // 4
    for jobs in (1, 2, 3, 4, 6):
        cap = kernel_memory_bytes(jobs, total=24 * gib)
        assert jobs * (cap + sandbox.GRADER_MEMORY_BYTES) + sandbox.SYSTEM_MEMORY_BYTES <= 24 * gib
    with pytest.raises(ValueError, match="--jobs 7 or fewer"):
        kernel_memory_bytes(8, total=24 * gib)


def test_the_protections_line_states_the_memory_cap(released_course, tmp_path):
    if not detect_protections().full:
        pytest.skip("needs the full sandbox")
    course = _with_submissions(released_course, tmp_path)
    report = autograde(course, student="ada", progress=False, jobs=2)
    cap = kernel_memory_bytes(2) / (1 << 30)
    assert f"memory cap {cap:.1f} GiB per kernel, 2 at once" in " ".join(report.protections)


@pytest.mark.slow
def test_the_demo_runs_without_bubblewrap_and_says_how_it_graded(
    tmp_path, monkeypatch, probe_again
):
    from autograder.course import PROJECT_NOTEBOOKS
    from autograder.demo import run_demo

    source = tmp_path / "notebooks"
    source.mkdir()
    (source / "01_conv_arithmetic.ipynb").write_bytes(
        (PROJECT_NOTEBOOKS / "01_conv_arithmetic.ipynb").read_bytes()
    )
    _without_bubblewrap(monkeypatch, tmp_path)
    lines: list[str] = []
    status = run_demo(course_dir=tmp_path / "demo", source=source, out=lines.append)
    text = "\n".join(lines)
    assert status == 0, text
    assert "demo: graded with isolation 'sandbox':" in text
    assert "[OFF] own file system view" in text
    assert "every sample got the grade it should" in text
