"""Autograde speed: plain `nbgrader autograde` against `cnn-course autograde`, sequential with
the sandbox and with `--jobs 2`, in one run.

All grade the same N complete submissions of the tiny assignment (tests/fixtures/tiny), each
in its own copy of one released and collected course:

- plain: `nbgrader autograde tiny` with nbgrader's defaults (a config that only names the
  course and its gradebook): one submission after the other, each kernel left running for
  `KernelManager.shutdown_wait_time` (5 s) after its notebook ends; tests run in the
  student's process, nothing is sandboxed;
- ours, sequential: `python -m autograder --course DIR autograde tiny --jobs 1`, with every
  protection this machine offers (printed: bubblewrap, limits, cgroup), tests in the grader;
- ours, `--jobs J`: the same, J submissions side by side.

Prints seconds per submission for each, the ratios, and the protections that were on.

`--class N` measures a class instead: N complete submissions spread evenly over the course's
notebooks 01, 02, 03, 04 and 07 (`make_submission`), graded by plain `nbgrader autograde`
(one assignment after the other) and by `cnn-course autograde --jobs J` (every assignment in
one run, with every protection on); it prints submissions per minute of each and the ratio.
`--single NOTEBOOK` grades one complete submission of one course notebook (e.g. 02_layers)
with `cnn-course autograde --jobs 1` and every protection on, and prints the seconds: the
time one student's submission takes from the command's start to its grade.

Usage:

    python benchmarks/bench_autograde.py [N] [--jobs J]
    python benchmarks/bench_autograde.py --class 100 [--jobs J]
    python benchmarks/bench_autograde.py --single 02_layers
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from autograder.build import release  # noqa: E402
from autograder.collect import collect  # noqa: E402
from autograder.course import Course  # noqa: E402
from autograder.submissions import make_submission  # noqa: E402

TINY = "tiny"
PLAIN_CONFIG = """\
import os
c = get_config()
c.CourseDirectory.course_id = "cnn-course"
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(c.CourseDirectory.root, "gradebook.db")
"""


def _prepared_course(workdir: Path, n: int) -> Course:
    course = Course(workdir / "template")
    release(course, [TINY], source=ROOT / "tests" / "fixtures" / TINY, progress=False)
    text = make_submission(course.source_path(TINY), course.release_path(TINY), "complete")
    drop = workdir / "drop"
    for i in range(n):
        folder = drop / f"student{i + 1:02d}" / TINY
        folder.mkdir(parents=True)
        (folder / f"{TINY}.ipynb").write_text(text, encoding="utf-8")
    report = collect(course, drop)
    if len(report.submissions) != n:
        raise RuntimeError("\n".join(report.lines()))
    return course


def _timed(command: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
    return seconds


def _graded_count(course: Course) -> int:
    return len(list(course.autograded_dir.glob(f"*/{TINY}/{TINY}.ipynb")))


CLASS_ASSIGNMENTS = (
    "01_conv_arithmetic",
    "02_layers",
    "03_optimizers",
    "04_batchnorm",
    "07_detection_segmentation",
)


def _class_course(
    workdir: Path, n: int, assignments: tuple[str, ...] = CLASS_ASSIGNMENTS
) -> tuple[Course, dict[str, int]]:
    """A released course of `assignments` with n complete submissions spread over them."""
    course = Course(workdir / "template")
    release(course, list(assignments), progress=False)
    per = {a: n // len(assignments) + (i < n % len(assignments)) for i, a in enumerate(assignments)}
    drop = workdir / "drop"
    student = 0
    for assignment, count in per.items():
        text = make_submission(
            course.source_path(assignment), course.release_path(assignment), "complete"
        )
        for _ in range(count):
            student += 1
            folder = drop / f"student{student:03d}" / assignment
            folder.mkdir(parents=True)
            (folder / f"{assignment}.ipynb").write_text(text, encoding="utf-8")
    report = collect(course, drop)
    if len(report.submissions) != n:
        raise RuntimeError("\n".join(report.lines()))
    return course, per


def class_scale(n: int, jobs: int) -> None:
    """Grade a class of n submissions with plain nbgrader and with cnn-course; print the rates."""
    bin_dir = Path(sys.executable).parent
    with tempfile.TemporaryDirectory(prefix="bench-class-") as tmp:
        workdir = Path(tmp)
        template, per = _class_course(workdir, n)
        plain = Course(shutil.copytree(template.root, workdir / "plain"))
        ours = Course(shutil.copytree(template.root, workdir / "ours"))
        plain.config_path.write_text(PLAIN_CONFIG)
        plain_each = {
            a: _timed([str(bin_dir / "nbgrader"), "autograde", a], cwd=plain.root) for a in per
        }
        plain_s = sum(plain_each.values())
        command = [sys.executable, "-m", "autograder", "--course", str(ours.root), "autograde"]
        ours_s = _timed([*command, *per, "--jobs", str(jobs)], cwd=ROOT)
        for course in (plain, ours):
            graded = sum(len(list(course.autograded_dir.glob(f"*/{a}/{a}.ipynb"))) for a in per)
            if graded != n:
                raise RuntimeError(f"{course.root}: {graded} of {n} submissions graded")
    from autograder.isolation.sandbox import detect_protections

    spread = ", ".join(f"{count} of {a}" for a, count in per.items())
    print(f"autograde a class of {n} complete submissions ({spread}; {os.cpu_count()} CPUs):")
    print(f"  plain nbgrader autograde:      {60 * n / plain_s:6.1f} submissions per minute")
    for assignment, seconds in plain_each.items():
        print(f"    {assignment}: {seconds / per[assignment]:.1f} s per submission")
    print(
        f"  cnn-course autograde --jobs {jobs}: {60 * n / ours_s:6.1f} submissions per minute "
        f"({plain_s / ours_s:.1f}x plain nbgrader)"
    )
    print("protections on for cnn-course:")
    for line in detect_protections().lines():
        print(f"  {line}")


def single(assignment: str) -> None:
    """Grade one complete submission of `assignment`, every protection on; print the seconds."""
    with tempfile.TemporaryDirectory(prefix="bench-single-") as tmp:
        course, _ = _class_course(Path(tmp), 1, (assignment,))
        command = [sys.executable, "-m", "autograder", "--course", str(course.root), "autograde"]
        seconds = _timed([*command, assignment, "--jobs", "1"], cwd=ROOT)
        graded = list(course.autograded_dir.glob(f"*/{assignment}/{assignment}.ipynb"))
        if len(graded) != 1:
            raise RuntimeError(f"{course.root}: the submission of {assignment} was not graded")
    print(
        f"autograde one complete submission of {assignment}, --jobs 1, every protection on "
        f"({os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}): {seconds:.1f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="?", type=int, default=8, help="submissions (default 8)")
    parser.add_argument("--jobs", type=int, default=2, help="cnn-course --jobs (default 2)")
    parser.add_argument(
        "--class", dest="klass", type=int, metavar="N", help="grade a class of N submissions"
    )
    parser.add_argument(
        "--single", metavar="NOTEBOOK", help="grade one complete submission of NOTEBOOK"
    )
    args = parser.parse_args()
    if args.single:
        single(args.single)
        return
    if args.klass:
        class_scale(args.klass, args.jobs)
        return
    bin_dir = Path(sys.executable).parent
    with tempfile.TemporaryDirectory(prefix="bench-autograde-") as tmp:
        workdir = Path(tmp)
        template = _prepared_course(workdir, args.n)
        plain = Course(shutil.copytree(template.root, workdir / "plain"))
        sequential = Course(shutil.copytree(template.root, workdir / "sequential"))
        ours = Course(shutil.copytree(template.root, workdir / "ours"))
        plain.config_path.write_text(PLAIN_CONFIG)

        plain_s = _timed([str(bin_dir / "nbgrader"), "autograde", TINY], cwd=plain.root)
        command = [sys.executable, "-m", "autograder", "--course"]
        sequential_s = _timed(
            command + [str(sequential.root), "autograde", TINY, "--jobs", "1"], cwd=ROOT
        )
        ours_s = _timed(
            command + [str(ours.root), "autograde", TINY, "--jobs", str(args.jobs)], cwd=ROOT
        )
        for course in (plain, sequential, ours):
            if _graded_count(course) != args.n:
                raise RuntimeError(f"{course.root}: not every submission was graded")
    from autograder.isolation.sandbox import detect_protections

    print(f"autograde {args.n} submissions of the tiny assignment ({os.cpu_count()} CPUs):")
    print(f"  plain nbgrader autograde:               {plain_s / args.n:6.2f} s per submission")
    print(
        f"  cnn-course autograde, sequential:       {sequential_s / args.n:6.2f} s per submission"
        f" ({plain_s / sequential_s:.1f}x plain nbgrader)"
    )
    print(
        f"  cnn-course autograde --jobs {args.jobs}:          {ours_s / args.n:6.2f} s per "
        f"submission ({plain_s / ours_s:.1f}x plain nbgrader)"
    )
    print("protections on for cnn-course:")
    for line in detect_protections().lines():
        print(f"  {line}")


if __name__ == "__main__":
    main()
