"""Colab: the setup cell and the "Open in Colab" link on top of every release notebook.

`cnn-course release` puts two cells in front of each release notebook (never in the source
notebooks):

1. when the course says where its release notebooks are published on GitHub, a markdown
   cell with an "Open in Colab" badge linking to that notebook on Colab;
2. always, one setup code cell. On a local install (JupyterLab, `pip install -e .`) it does
   nothing. On Colab it installs the course package (and with it the shipped data) from the
   configured location when `course_utils` is not importable yet, optionally unpacks a data
   archive and points `$CNN_COURSE_DATA` at it, and selects the GPU when the runtime has one
   (`$CNN_COURSE_DEVICE=cuda`, which `course_utils.device.default_device()` reads).

The instructor configures this once per course, in `<course>/colab.json`:

```json
{
  "package": "git+https://github.com/ORG/cnn-course@2025",
  "notebooks": "https://github.com/ORG/cnn-course-release/blob/main/release",
  "data": null
}
```

- `package`: what `pip install` gets on Colab: a git URL, a wheel URL, or a PyPI name. Its
  dependencies are the student dependencies only; Colab keeps its own CUDA build of torch.
- `notebooks`: the GitHub folder holding `<assignment>.ipynb` for each release; without it
  the release has no badge (the setup cell is still there).
- `data` (optional): the URL of a zip or tar archive of the `data/` folder, for a package
  installed without its data.

Write it with `cnn-course colab --package SPEC --notebooks URL` (or by hand), then run
`cnn-course release` again.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from autograder.course import CourseError

CONFIG_FILE = "colab.json"
# Marks the cells this module adds, so that adding them again replaces them.
CELL_MARKER = "cnn_course_colab"
BADGE_URL = "https://colab.research.google.com/assets/colab-badge.svg"
COLAB_GITHUB = "https://colab.research.google.com/github/"
_GITHUB_FOLDER = re.compile(
    r"^https://github\.com/(?P<owner>[^/\s]+)/(?P<repo>[^/\s]+)/(?:blob|tree)/"
    r"(?P<rest>[^\s]+?)/?$"
)


@dataclass(frozen=True)
class ColabConfig:
    """Where Colab gets the course from (each None when not configured).

    Attributes:
        package: the pip requirement of the course package on Colab.
        notebooks: the GitHub folder URL where the release notebooks are published.
        data: the URL of a zip or tar archive of the data folder.
    """

    package: str | None = None
    notebooks: str | None = None
    data: str | None = None


def colab_url(notebooks: str, assignment: str) -> str:
    """The Colab address of `<notebooks>/<assignment>.ipynb`.

    Args:
        notebooks: a GitHub folder, `https://github.com/OWNER/REPO/blob/BRANCH[/PATH]` (or
            `/tree/`), or a folder already below `https://colab.research.google.com/github/`.
        assignment: the assignment name (the notebook stem).

    Returns:
        e.g. `https://colab.research.google.com/github/OWNER/REPO/blob/BRANCH/PATH/01_x.ipynb`.

    Raises:
        ValueError: `notebooks` is neither form; the message shows both.
    """
    notebooks = notebooks.strip()
    if notebooks.startswith(COLAB_GITHUB):
        return f"{notebooks.rstrip('/')}/{assignment}.ipynb"
    match = _GITHUB_FOLDER.match(notebooks)
    if match is None:
        raise ValueError(
            f"the notebooks location must be a GitHub folder such as "
            f"https://github.com/ORG/REPO/blob/main/release (Colab opens notebooks from "
            f"GitHub), or a folder below {COLAB_GITHUB}; got {notebooks!r}."
        )
    return f"{COLAB_GITHUB}{match['owner']}/{match['repo']}/blob/{match['rest']}/{assignment}.ipynb"


def _checked(config: ColabConfig) -> ColabConfig:
    for key, value in asdict(config).items():
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise ValueError(f"colab setting {key!r} must be a non-empty string, got {value!r}.")
    if config.notebooks is not None:
        colab_url(config.notebooks, "check")
    return config


def read_config(course_root: Path | str) -> ColabConfig:
    """The course's Colab settings from `<course_root>/colab.json` (all None without the file).

    Raises:
        CourseError: the file is not valid JSON, has unknown keys, or a bad value; the
            message names the file and what to fix.
    """
    path = Path(course_root) / CONFIG_FILE
    if not path.is_file():
        return ColabConfig()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise CourseError(
            f"{path}: not valid JSON (line {error.lineno}, column {error.colno}: {error.msg}). "
            f"Fix it, or write it again with `cnn-course --course "
            f"{path.parent} colab ...`."
        ) from error
    known = set(ColabConfig.__dataclass_fields__)
    if not isinstance(data, dict) or set(data) - known:
        unknown = sorted(set(data) - known) if isinstance(data, dict) else data
        raise CourseError(
            f"{path}: expected a JSON object with the keys {', '.join(sorted(known))}; "
            f"got unknown {unknown!r}."
        )
    try:
        return _checked(ColabConfig(**data))
    except ValueError as error:
        raise CourseError(f"{path}: {error}") from error


def write_config(course_root: Path | str, config: ColabConfig) -> Path:
    """Write `config` to `<course_root>/colab.json` (the folder is created); return the path.

    Raises:
        ValueError: a value is empty, or `notebooks` is not a GitHub folder.
    """
    path = Path(course_root) / CONFIG_FILE
    _checked(config)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(config), indent=2) + "\n", encoding="utf-8")
    return path


_SETUP_TEMPLATE = """\
# Setup for Google Colab: installs the course there and selects the GPU; elsewhere it does nothing.
def _cnn_course_colab_setup(package, data):
    import importlib
    import importlib.util
    import os
    import subprocess
    import sys

    try:
        import google.colab  # noqa: F401
    except ImportError:
        return  # not on Colab: the course package is installed here already
    if importlib.util.find_spec("course_utils") is None:
        if package is None:
            raise RuntimeError(
                "The course package is not installed in this Colab runtime, and this notebook "
                "does not say where it comes from. Ask your instructor for its location and "
                "run `%pip install LOCATION` in a cell above, then run this cell again."
            )
        print(f"Colab: installing the course package from {{package}} ...")
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", package], check=True)
        importlib.invalidate_caches()
    if data is not None and not os.environ.get("CNN_COURSE_DATA"):
        import shutil
        import urllib.request

        target = os.path.join(os.getcwd(), "cnn-course-data")
        archive, _ = urllib.request.urlretrieve(data)
        kind = "zip" if data.endswith(".zip") else "gztar" if data.endswith(("gz", "tgz")) else "tar"
        shutil.unpack_archive(archive, target, format=kind)
        inner = [e for e in os.listdir(target) if os.path.isdir(os.path.join(target, e))]
        if not os.path.exists(os.path.join(target, "SHA256SUMS.txt")) and len(inner) == 1:
            target = os.path.join(target, inner[0])  # the archive holds one top folder
        os.environ["CNN_COURSE_DATA"] = target
    import torch

    if torch.cuda.is_available():
        os.environ.setdefault("CNN_COURSE_DEVICE", "cuda")
        print(f"Colab: course ready; GPU selected ({{torch.cuda.get_device_name(0)}}).")
    else:
        print(
            "Colab: course ready; this runtime has no GPU, so the notebook runs on the CPU "
            "(Runtime > Change runtime type > a GPU, then run all cells again, for a GPU)."
        )


_cnn_course_colab_setup(package={package!r}, data={data!r})
del _cnn_course_colab_setup
"""


def is_setup_source(source: str) -> bool:
    """Whether ``source`` is the Colab setup cell exactly as a release writes it (with any
    package and data locations): the grader may then read past it, knowing what it does."""
    import ast

    head = _SETUP_TEMPLATE.split("\n\n\n_cnn_course_colab_setup(")[0]
    head = head.replace("{{", "{").replace("}}", "}")
    if not source.startswith(head):
        return False
    try:
        tail = ast.parse(source[len(head) :]).body
    except SyntaxError:
        return False
    if len(tail) != 2 or not isinstance(tail[0], ast.Expr) or not isinstance(tail[1], ast.Delete):
        return False
    call = tail[0].value
    return (
        isinstance(call, ast.Call)
        and isinstance(call.func, ast.Name)
        and call.func.id == "_cnn_course_colab_setup"
        and not call.args
        and sorted(k.arg for k in call.keywords) == ["data", "package"]
        and all(isinstance(k.value, ast.Constant) for k in call.keywords)
        and [ast.dump(t) for t in tail[1].targets]
        == [ast.dump(ast.Name("_cnn_course_colab_setup", ast.Del()))]
    )


def setup_cell_source(config: ColabConfig) -> str:
    """The Python source of the setup cell for `config` (valid Python, no IPython magics)."""
    return _SETUP_TEMPLATE.format(package=config.package, data=config.data)


def link_cell_source(config: ColabConfig, assignment: str) -> str | None:
    """The markdown of the "Open in Colab" badge, or None when `notebooks` is not configured."""
    if config.notebooks is None:
        return None
    url = colab_url(config.notebooks, assignment)
    return f'<a href="{url}" target="_parent"><img src="{BADGE_URL}" alt="Open in Colab"/></a>'


def add_colab_cells(notebook_path: Path | str, assignment: str, config: ColabConfig) -> None:
    """Put the badge (when configured) and the setup cell at the top of a release notebook.

    Cells this function added before are replaced, so running it again changes nothing.
    Neither cell has nbgrader metadata: they are not graded, and nbgrader leaves them alone.
    """
    import nbformat

    path = Path(notebook_path)
    notebook = nbformat.read(path, as_version=4)
    notebook.cells = [cell for cell in notebook.cells if CELL_MARKER not in cell.metadata]
    added = []
    link = link_cell_source(config, assignment)
    if link is not None:
        added.append(nbformat.v4.new_markdown_cell(link, metadata={CELL_MARKER: "link"}))
    added.append(
        nbformat.v4.new_code_cell(
            setup_cell_source(config),
            metadata={CELL_MARKER: "setup", "tags": ["colab-setup"]},
        )
    )
    for cell in added:
        cell.pop("id", None)  # ids are given to the whole notebook below
    notebook.cells = added + notebook.cells
    if notebook.nbformat == 4 and notebook.nbformat_minor >= 5:
        for cell in added:
            cell["id"] = f"{CELL_MARKER}-{cell.metadata[CELL_MARKER]}"
    nbformat.write(notebook, str(path))
