"""Grades do not depend on how grading ran: sequential, --jobs 2, and a Dask LocalCluster on
loopback give the same CSV for the same submissions and seeds."""

from __future__ import annotations

import shutil

import pytest

from autograder.collect import collect
from autograder.course import SEED_FILE, Course
from autograder.export import export_grades
from autograder.grade import autograde
from autograder.submissions import write_sample_submissions
from tests.e2e.conftest import TINY

pytestmark = pytest.mark.slow
KINDS = ("complete", "partial", "blank", "raises", "warnings", "invalid_json")


def _graded_csv(template, tmp_path, name, **how) -> str:
    root = tmp_path / name / "course"
    shutil.copytree(template, root)
    course = Course(root)
    autograde(course, timeout=20, progress=False, isolation="sandbox", **how)
    return export_grades(course, to=tmp_path / f"{name}.csv").read_text()


def test_sequential_parallel_and_dask_grading_give_the_same_csv(tmp_path, _released_template):
    distributed = pytest.importorskip("distributed")
    template = tmp_path / "template" / "course"
    shutil.copytree(_released_template, template)
    course = Course(template)
    write_sample_submissions(
        {TINY: course.source_path(TINY)},
        {TINY: course.release_path(TINY)},
        tmp_path / "drop",
        kinds=KINDS,
    )
    collect(course, tmp_path / "drop")
    for student in KINDS:  # one hidden seed per submission, whichever way it is graded
        folder = course.autograded_dir / student / TINY
        folder.mkdir(parents=True)
        (folder / SEED_FILE).write_text("12345\n")
    sequential = _graded_csv(template, tmp_path, "sequential", jobs=1)
    parallel = _graded_csv(template, tmp_path, "parallel", jobs=2)
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        on_dask = _graded_csv(template, tmp_path, "dask", scheduler=cluster.scheduler_address)
    assert sequential == parallel == on_dask
    assert sequential.splitlines()[1:] == [
        "blank,0,0",
        "complete,5,5",
        "invalid_json,0,0",
        "partial,2,2",
        "raises,3,3",
        "warnings,5,5",
    ]
