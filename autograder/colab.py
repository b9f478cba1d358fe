"""Colab: the setup cell and the "Open in Colab" link of every release notebook.

`cnn-course release` puts up to two cells into each release notebook (never into the source
notebooks), right under its title and learning goals (before its first code cell), so that
a student's first screen is the assignment itself:

1. when the course says where its release notebooks are published on GitHub, a markdown
   cell with an "Open in Colab" badge linking to that notebook on Colab;
2. always, one short setup code cell (`setup_cell_source`). On a local install (JupyterLab,
   `pip install -e .`, autograding) it does nothing. On Colab it pip-installs the course
   package (and with it the shipped data) from the configured location when `course_utils`
   is not importable yet, and, when the course configures a data archive, unpacks it and
   points `$CNN_COURSE_DATA` at it (`course_utils.data.use_data_archive`). The GPU needs no
   setting: `course_utils.device.default_device()` picks CUDA whenever the runtime has it.

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


# The setup cell: a comment and two or three lines of valid Python (no IPython magics), so that
# it runs in any kernel and the grader can recognise it exactly (`is_setup_source`).
SETUP_COMMENT = (
    "# Google Colab only: installs the course package there; elsewhere this cell does nothing.\n"
)
_ON_COLAB = (
    'if "google.colab" in sys.modules and importlib.util.find_spec("course_utils") is None:\n'
)
_INSTALL = (
    SETUP_COMMENT
    + "import importlib.util, subprocess, sys\n"
    + _ON_COLAB
    + '    subprocess.run([sys.executable, "-m", "pip", "install", "-q", {package}], check=True)\n'
)
_NOT_CONFIGURED = (
    SETUP_COMMENT
    + "import importlib.util, sys\n"
    + _ON_COLAB
    + '    raise RuntimeError("The course package is not installed in this Colab runtime. Ask your '
    + "instructor for its location, run `%pip install LOCATION` in a new cell, then run this "
    + 'cell again.")\n'
)
_DATA = (
    'if "google.colab" in sys.modules:\n'
    + "    from course_utils.data import use_data_archive\n\n"
    + "    use_data_archive({data})  # unpacked once; $CNN_COURSE_DATA points at it\n"
)


def setup_cell_source(config: ColabConfig) -> str:
    """The Python source of the setup cell for `config` (valid Python, no IPython magics).

    On Colab (whose kernel has imported `google.colab`) it pip-installs `config.package`
    unless `course_utils` is importable already, and with `config.data` it unpacks that
    archive (`course_utils.data.use_data_archive`); without a package it says what to do.
    Elsewhere it does nothing. The GPU needs no setting: `course_utils.device` picks CUDA
    whenever the runtime has it.
    """
    if config.package is None:
        source = _NOT_CONFIGURED
    else:
        source = _INSTALL.format(package=json.dumps(config.package))
    if config.data is not None:
        source += _DATA.format(data=json.dumps(config.data))
    return source.rstrip("\n")


def is_setup_source(source: str) -> bool:
    """Whether ``source`` is the Colab setup cell exactly as a release writes it (with any
    package and data locations): the grader may then read past it, knowing what it does."""
    import ast

    if not source.startswith(SETUP_COMMENT) or len(source) > 10_000:
        return False
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False
    strings = {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }
    candidates = [None, *sorted(strings)]
    return any(
        source == setup_cell_source(ColabConfig(package=package, data=data))
        for package in candidates
        for data in candidates
    )


def link_cell_source(config: ColabConfig, assignment: str) -> str | None:
    """The markdown of the "Open in Colab" badge, or None when `notebooks` is not configured."""
    if config.notebooks is None:
        return None
    url = colab_url(config.notebooks, assignment)
    return f'<a href="{url}" target="_parent"><img src="{BADGE_URL}" alt="Open in Colab"/></a>'


def add_colab_cells(notebook_path: Path | str, assignment: str, config: ColabConfig) -> None:
    """Put the badge (when configured) and the setup cell under the title of a release notebook.

    They go right before the first code cell, so that the notebook still opens with its title
    and learning goals (the markdown cells above the first code cell) and the setup runs
    before anything imports the course package. Cells this function added before are
    replaced, so running it again changes nothing. Neither cell has nbgrader metadata: they
    are not graded, and nbgrader leaves them alone.
    """
    import nbformat

    path = Path(notebook_path)
    notebook = nbformat.read(path, as_version=4)
    cells = [cell for cell in notebook.cells if CELL_MARKER not in cell.metadata]
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
    first_code = next((i for i, cell in enumerate(cells) if cell.cell_type == "code"), len(cells))
    notebook.cells = cells[:first_code] + added + cells[first_code:]
    if notebook.nbformat == 4 and notebook.nbformat_minor >= 5:
        for cell in added:
            cell["id"] = f"{CELL_MARKER}-{cell.metadata[CELL_MARKER]}"
    nbformat.write(notebook, str(path))
