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

Prints seconds per submission for each, the ratios, and the protections that were on. Usage:

    python benchmarks/bench_autograde.py [N] [--jobs J]
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="?", type=int, default=8, help="submissions (default 8)")
    parser.add_argument("--jobs", type=int, default=2, help="cnn-course --jobs (default 2)")
    args = parser.parse_args()
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
