"""The release notebooks as students get them: the Colab cell, a student-only environment, the frame.

- The Colab setup cell (autograder/colab.py) does nothing outside Colab, and on Colab installs
  the course package from the course's configured location; it sits under the notebook's title.
- Every release notebook, solved, runs top to bottom in a FRESH virtual environment that holds
  only the student dependencies (pyproject's `dependencies`, torch==2.13.0, and ipykernel, which
  Colab and Jupyter bring), with no instructor extras, as on Colab: a stand-in `google.colab`
  module is imported when the kernel starts, and each notebook's setup cell installs the course from a
  wheel of this working tree. The environment is created once and kept in the temporary folder
  (keyed by the dependencies and the Python version), so later sessions only reinstall the wheel.
  This is the one run of each notebook top to bottom in the suite, experiments included, two
  notebooks at a time, each kernel on one thread; the notebooks' own guards (notebook 05's
  small models over 70%, notebook 07's detector at recall and precision 0.6 and segmenter at a
  mean IoU of 0.5) are asserted in their cells, so this run checks them. (Grading runs only
  the cells the grades need: tests/e2e/test_demo.py.)
- Every source notebook states its learning goals, a time estimate and its points at the top,
  and ends with a summary.
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import types
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest
import tomllib
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient

from autograder.build import release
from autograder.colab import (
    CELL_MARKER,
    ColabConfig,
    add_colab_cells,
    setup_cell_source,
    write_config,
)
from autograder.course import Course
from autograder.submissions import make_submission

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
TORCH_PIN = "torch==2.13.0"  # the CPU wheel kept on this machine; Colab keeps its own CUDA torch
CELL_TIMEOUT_S = 600
PIP_TIMEOUT_S = 1200


# --------------------------------------------------------------------------------------------
# The setup cell, in this process


def run_setup_cell(config: ColabConfig, monkeypatch) -> dict:
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: calls.append(a))
    namespace: dict = {}
    exec(compile(setup_cell_source(config), "<setup cell>", "exec"), namespace)
    return {"calls": calls, "names": {k for k in namespace if not k.startswith("__")}}


def test_the_setup_cell_does_nothing_outside_colab(monkeypatch, capsys):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)  # not Colab's kernel
    result = run_setup_cell(ColabConfig(package="git+https://example.org/x.git"), monkeypatch)
    assert result == {"calls": [], "names": {"importlib", "subprocess", "sys"}}
    assert capsys.readouterr().out == ""


def test_the_setup_cell_on_colab_installs_the_package_once(monkeypatch):
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    monkeypatch.setattr("importlib.util.find_spec", lambda name, *a: None)
    result = run_setup_cell(ColabConfig(package="git+https://example.org/x.git"), monkeypatch)
    assert [call[0][-1] for call in result["calls"]] == ["git+https://example.org/x.git"]
    monkeypatch.setattr("importlib.util.find_spec", lambda name, *a: object())  # installed
    assert run_setup_cell(ColabConfig(package="x"), monkeypatch)["calls"] == []


def test_the_setup_cell_on_colab_without_a_configured_package_says_what_to_do(monkeypatch):
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    monkeypatch.setattr("importlib.util.find_spec", lambda name, *a: None)
    with pytest.raises(RuntimeError, match=r"Ask your instructor .*%pip install LOCATION"):
        run_setup_cell(ColabConfig(), monkeypatch)


def test_the_setup_cell_is_short(tmp_path):
    for config in (ColabConfig(), ColabConfig(package="git+https://example.org/x.git")):
        lines = setup_cell_source(config).splitlines()
        assert len(lines) <= 4 and lines[0].startswith("# Google Colab only"), lines


def test_add_colab_cells_puts_the_badge_and_the_setup_cell_under_the_title_once(tmp_path):
    notebook = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_markdown_cell("# Title"), nbformat.v4.new_code_cell("x = 1")]
    )
    path = tmp_path / "01_x.ipynb"
    nbformat.write(notebook, str(path))
    config = ColabConfig(package="pkg", notebooks="https://github.com/org/repo/blob/main/rel")
    add_colab_cells(path, "01_x", config)
    add_colab_cells(path, "01_x", config)
    cells = nbformat.read(str(path), as_version=4).cells
    assert [cell.cell_type for cell in cells] == ["markdown", "markdown", "code", "code"]
    assert cells[0].source == "# Title" and cells[3].source == "x = 1"
    assert (
        "https://colab.research.google.com/github/org/repo/blob/main/rel/01_x.ipynb"
        in cells[1].source
    )
    assert '"pkg"' in cells[2].source
    assert "nbgrader" not in cells[1].metadata and "nbgrader" not in cells[2].metadata


def test_a_notebooks_location_that_colab_cannot_open_is_refused(tmp_path):
    with pytest.raises(ValueError, match="GitHub folder"):
        write_config(tmp_path, ColabConfig(notebooks="https://example.org/notebooks"))


# --------------------------------------------------------------------------------------------
# A fresh student-only environment, as on Colab


def _student_requirements() -> list[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return [TORCH_PIN, *project["dependencies"], "ipykernel"]


def _pip(python: Path, *args: str) -> None:
    result = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", *args],
        capture_output=True,
        text=True,
        timeout=PIP_TIMEOUT_S,
    )
    if result.returncode != 0:
        pytest.skip(
            f"could not install the student dependencies into a fresh venv "
            f"(pip install {' '.join(args)}):\n{result.stderr[-2000:]}"
        )


@pytest.fixture(scope="session")
def student_python() -> Path:
    """A fresh venv with the student dependencies only, created once and kept in the tmp dir.

    The course package itself is removed from it at the start of every session, so that the
    Colab setup cell installs it from this working tree.
    """
    requirements = _student_requirements()
    key = hashlib.sha256(json.dumps([sys.version, requirements]).encode()).hexdigest()[:12]
    venv = Path(tempfile.gettempdir()) / f"cnn-course-student-venv-{key}"
    python = venv / "bin" / "python"
    with open(f"{venv}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another pytest run may be building it
        if not (venv / ".ready").exists():
            shutil.rmtree(venv, ignore_errors=True)
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
            _pip(python, TORCH_PIN)
            _pip(python, *requirements)
            (venv / ".ready").write_text("\n".join(requirements))
        subprocess.run(
            [str(python), "-m", "pip", "uninstall", "--quiet", "--yes", "cnn-course"],
            capture_output=True,
        )
    return python


@pytest.fixture(scope="session")
def course_wheel(tmp_path_factory) -> Path:
    """A wheel of this working tree (package, shipped data), built without touching the tree."""
    work = tmp_path_factory.mktemp("wheel")
    tree = work / "tree"
    tree.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, tree / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("course_utils", "autograder", "data"):
        shutil.copytree(REPO / name, tree / name, ignore=ignore)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation"]
        + ["--wheel-dir", str(work / "dist"), str(tree)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return next((work / "dist").glob("cnn_course-*.whl"))


@pytest.fixture(scope="session")
def fake_colab(tmp_path_factory) -> Path:
    """A folder that makes a Python started with it on PYTHONPATH look like Colab's kernel:
    a stand-in `google.colab` package, imported at start-up (by `sitecustomize`), as Colab's
    kernel imports the real one."""
    root = tmp_path_factory.mktemp("fake_colab")
    (root / "google" / "colab").mkdir(parents=True)
    (root / "google" / "__init__.py").write_text("")
    (root / "google" / "colab" / "__init__.py").write_text('"""Stand-in for Colab."""\n')
    (root / "sitecustomize.py").write_text("import google.colab  # as Colab's kernel does\n")
    return root


def student_env(fake_colab: Path) -> dict:
    """The kernel's environment: nothing of this working tree on the path, Colab stand-in on."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("PYTHONPATH", "VIRTUAL_ENV", "CNN_COURSE_DATA", "MPLBACKEND")
    }
    env.update({"PYTHONPATH": str(fake_colab), "CNN_COURSE_FAST": "1"})
    return env


@pytest.fixture(scope="session")
def installed_by_setup_cell(student_python, course_wheel, fake_colab, tmp_path_factory):
    """Run a release's setup cell, on 'Colab', in the fresh venv: it installs the wheel."""
    cwd = tmp_path_factory.mktemp("colab_content")
    result = subprocess.run(
        [str(student_python), "-c", setup_cell_source(ColabConfig(package=str(course_wheel)))],
        cwd=cwd,
        env=student_env(fake_colab),
        capture_output=True,
        text=True,
        timeout=PIP_TIMEOUT_S,
    )
    return result


@pytest.mark.slow
def test_the_setup_cell_on_colab_installs_the_course_and_its_data(
    installed_by_setup_cell, student_python, fake_colab, tmp_path
):
    result = installed_by_setup_cell
    assert result.returncode == 0, result.stderr[-3000:]
    probe = subprocess.run(
        [
            str(student_python),
            "-c",
            "import course_utils, autograder.checks; from course_utils.data import data_dir; "
            "print(course_utils.__file__); print(data_dir()); "
            "print((data_dir() / 'fashion_mnist_subset.npz').is_file())",
        ],
        cwd=tmp_path,
        env=student_env(fake_colab),
        capture_output=True,
        text=True,
    )
    assert probe.returncode == 0, probe.stderr
    module, data, has_subset = probe.stdout.split()
    assert not module.startswith(str(REPO)), "the kernel imported the working tree, not the wheel"
    assert data.endswith("share/cnn-course/data") and has_subset == "True"


@pytest.mark.slow
def test_the_student_environment_has_no_instructor_tools(student_python):
    for module in ("nbgrader", "nbclient", "pytest"):
        found = subprocess.run(
            [str(student_python), "-c", f"import {module}"], capture_output=True
        ).returncode
        assert found != 0, f"{module} is in the student environment"


@pytest.fixture(scope="session")
def colab_releases(tmp_path_factory, course_wheel):
    """`colab_releases(assignment)` -> a solved release ('complete' submission) whose setup
    cell installs the wheel; each assignment is released when first asked for."""
    course = Course(tmp_path_factory.mktemp("colab_course") / "course")
    write_config(course.root, ColabConfig(package=str(course_wheel)))
    solved: dict[str, Path] = {}

    def solved_release(name: str) -> Path:
        if name not in solved:
            release(course, [name], progress=False)
            target = tmp_path_factory.mktemp(f"student_{name}") / f"{name}.ipynb"
            text = make_submission(course.source_path(name), course.release_path(name), "complete")
            target.write_text(text, encoding="utf-8")
            solved[name] = target
        return solved[name]

    return solved_release


@pytest.fixture(scope="session")
def student_kernels(tmp_path_factory, student_python) -> KernelSpecManager:
    root = tmp_path_factory.mktemp("student_kernels")
    (root / "student").mkdir()
    spec = {
        "argv": [str(student_python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (student venv)",
        "language": "python",
    }
    (root / "student" / "kernel.json").write_text(json.dumps(spec))
    return KernelSpecManager(kernel_dirs=[str(root)], ensure_native_kernel=False)


# The notebooks run two at a time, each kernel on one thread, the slowest first (by their
# runtimes in benchmarks/RESULTS.md) so that the two finish together.
SIDE_BY_SIDE = 2
SLOWEST_FIRST = ("05", "07", "06", "04", "02", "03", "01")


async def _run_side_by_side(jobs: list[tuple[str, Path]], kernels, env: dict) -> dict:
    """name -> (the executed notebook, the error its run raised or None), for each (name,
    path) of ``jobs``, at most SIDE_BY_SIDE kernels at once."""
    gate = asyncio.Semaphore(SIDE_BY_SIDE)

    async def run(name: str, path: Path):
        notebook = nbformat.read(str(path), as_version=4)
        async with gate:
            kernel = AsyncKernelManager(kernel_name="student", kernel_spec_manager=kernels)
            client = NotebookClient(
                notebook,
                km=kernel,
                timeout=CELL_TIMEOUT_S,
                resources={"metadata": {"path": str(path.parent)}},
            )
            try:
                await client.async_execute(env=env)  # CellExecutionError names the cell
                return name, (notebook, None)
            except Exception as error:  # kept for the test of this notebook to raise
                return name, (notebook, error)
            finally:
                if kernel.has_kernel:  # nbclient leaves a kernel it did not create running
                    await kernel.shutdown_kernel(now=True)

    return dict(await asyncio.gather(*(run(name, path) for name, path in jobs)))


@pytest.fixture(scope="session")
def student_runs(
    request, colab_releases, student_kernels, installed_by_setup_cell, fake_colab
) -> dict:
    """Every solved release whose test this session runs (``-k 02_layers`` runs one), run top
    to bottom in the fresh student environment (see ``_run_side_by_side``); empty when the
    setup cell could not install the course."""
    if installed_by_setup_cell.returncode != 0:
        return {}
    selected = {
        item.callspec.params["name"]
        for item in request.session.items
        if getattr(item, "originalname", None) == _RUNS_TEST
    }
    order = sorted(
        (path for path in NOTEBOOKS if path.stem in selected),
        key=lambda path: (SLOWEST_FIRST + (path.stem[:2],)).index(path.stem[:2]),
    )
    jobs = [(path.stem, colab_releases(path.stem)) for path in order]
    env = student_env(fake_colab) | {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    # A thread of its own for the event loop: the browser tests' Playwright may hold one open
    # in this thread for the rest of the session.
    with ThreadPoolExecutor(max_workers=1) as thread:
        return thread.submit(asyncio.run, _run_side_by_side(jobs, student_kernels, env)).result()


_RUNS_TEST = "test_every_solved_release_runs_in_a_fresh_student_environment"


@pytest.mark.slow
@pytest.mark.parametrize("name", [path.stem for path in NOTEBOOKS])
def test_every_solved_release_runs_in_a_fresh_student_environment(
    name, student_runs, installed_by_setup_cell
):
    assert installed_by_setup_cell.returncode == 0, installed_by_setup_cell.stderr[-3000:]
    notebook, error = student_runs[name]
    if error is not None:
        raise error
    assert notebook.cells[0].cell_type == "markdown", "the release must open with its title"
    setup = next(cell for cell in notebook.cells if CELL_MARKER in cell.metadata)
    assert setup.get("execution_count") is not None, "the Colab setup cell did not run"


# --------------------------------------------------------------------------------------------
# The frame of every notebook

TIME_ESTIMATE = re.compile(r"\*\*Time:\*\*[^\n]*\d+\s*(?:to\s*\d+\s*)?(?:hours?|minutes?)", re.I)
POINTS = re.compile(r"Total:\s*\d+\s*points", re.I)
LEARNING_GOALS = re.compile(r"learning goals", re.I)
SUMMARY_HEADING = re.compile(r"^#+\s*(?:\d+\.\s*)?(?:summary|what to take away)\b", re.I | re.M)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_every_notebook_states_goals_time_and_points_at_the_top_and_ends_with_a_summary(path):
    cells = nbformat.read(str(path), as_version=4).cells
    top = cells[0].source if cells and cells[0].cell_type == "markdown" else ""
    missing = [
        what
        for what, pattern in (
            ("learning goals", LEARNING_GOALS),
            ("a time estimate (**Time:** about N hours)", TIME_ESTIMATE),
            ("the points (Total: N points)", POINTS),
        )
        if not pattern.search(top)
    ]
    last_markdown = next((c.source for c in reversed(cells) if c.cell_type == "markdown"), "")
    if not SUMMARY_HEADING.search(last_markdown):
        missing.append("a closing summary (a last markdown cell headed 'Summary')")
    assert not missing, f"{path.name} lacks {', '.join(missing)}"
