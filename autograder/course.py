"""The course directory: nbgrader's own layout, so formgrader works on the same folder.

```
<course>/nbgrader_config.py                               written on first use
<course>/source/<assignment>/<assignment>.ipynb           copied from notebooks/
<course>/release/<assignment>/<assignment>.ipynb          what students get
<course>/submitted/<student>/<assignment>/<assignment>.ipynb
<course>/autograded/<student>/<assignment>/...
<course>/feedback/<student>/<assignment>/<assignment>.html
<course>/gradebook.db
```

`Course` knows where everything lives and how to configure nbgrader for it; it does not run
any nbgrader step itself. The steps (`build`, `collect`, `grade`, `feedback`, `export`,
`report`) are siblings that share this module, never each other: the layout and the names of
the files a step leaves for the next ones, the gradebook lock, and how points are written.
"""

from __future__ import annotations

import difflib
import os
import re
import sys
from collections.abc import Iterable
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: grading processes take no lock there (see GradebookLock)
    fcntl = None  # type: ignore[assignment]

from traitlets.config import Config

COURSE_ID = "cnn-course"

# The project's source notebooks, one per assignment. Present in a checkout (and an editable
# install); a wheel does not ship them, so `cnn-course release --source DIR` names them there.
PROJECT_NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"

# How long grading may take, for a notebook whose source does not say (`Course.grading_times`):
# seconds one cell may run before it is interrupted (its test scores 0, the notebook goes on),
# and seconds the whole notebook may take (its grading budget: when it runs out, the cells
# still to come are not run and score 0). The course's notebooks declare their own, sized to
# what they need, so that a submission that loops costs the class one budget at most.
DEFAULT_CELL_TIMEOUT = 600
DEFAULT_BUDGET = 1800
# The share of a test's points that a near miss earns, unless the course's nbgrader_config.py
# sets c.CnnCourse.near_miss_credit (`Course.near_miss_credit`).
NEAR_MISS_CREDIT = 0.5
#: A hint's identifier as the checks print it, at the end of the hint: `[exercise/mistake]`.
HINT_ID = re.compile(r"\[([a-z0-9_]+/[a-z0-9_]+)\]")
#: The line a check prints first for a near miss (autograder.checks._engine.run_cases).
NEAR_MISS_LINE = re.compile(r"^\S+: near miss on case ", re.MULTILINE)

# Where a source notebook declares them: its metadata
# {"cnn_course": {"grading": {"cell_timeout": 60, "budget": 240}}} (seconds).
GRADING_METADATA = ("cnn_course", "grading")

# Files a step leaves beside an autograded notebook, `autograded/<student>/<assignment>/`:
# the hidden-case seed it was graded with, for a submission that could not be run at all why,
# and the grader's verdicts (none is copied into the feedback).
SEED_FILE = "hidden_seed.txt"
PROBLEM_FILE = "not_runnable.txt"
# The grader's verdict on each test cell, when the checks ran out of the student's process.
VERDICTS_FILE = "verdicts.json"
# The environment variable that carries the hidden-case seed to the checks (set in the
# grading process only; the student's sandboxed kernel never sees it).
HIDDEN_SEED_VARIABLE = "CNN_COURSE_HIDDEN_SEED"
# The error names of the outputs grading writes into a cell: stopped at its deadline, or
# not run because the student's kernel was gone.
TIMEOUT_ERROR_NAME = "CellTimeoutError"
KERNEL_LOST_ERROR_NAME = "KernelLost"
# The lock every process that reads or writes the gradebook holds (`<course>/LOCK_FILE`).
LOCK_FILE = ".gradebook.lock"

# Seconds nbgrader waits for a kernel to exit after the notebook ends before killing it.
# jupyter_client's default (5 s) would add five idle seconds to every graded notebook.
KERNEL_SHUTDOWN_WAIT = 0.5

_CONFIG_FILE_TEXT = '''\
"""nbgrader configuration for the cnn-course course directory.

Written by `cnn-course` on first use so that plain `nbgrader` commands and the formgrader in
JupyterLab work in this directory too. Edit freely: `cnn-course` does not overwrite it.
"""

import os

c = get_config()  # noqa: F821 (provided by traitlets when it loads this file)

c.CourseDirectory.course_id = "{course_id}"
# The folder holding this file is the course root, wherever it is moved to.
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(c.CourseDirectory.root, "gradebook.db")

# Seconds one cell may run during autograde (`cnn-course autograde --timeout` overrides it).
c.ExecutePreprocessor.timeout = {timeout}
# The share of a test's points that a near miss earns (a right answer but for one contract
# detail, such as the shape (1, D) for (D,)): 0 gives nothing, 1 full marks.
c.CnnCourse.near_miss_credit = {near_miss_credit}
# False: autograde runs only the cells the grades need and keeps the submitted outputs of the
# others (experiments, demonstrations), marked as not re-run; True: it runs every cell.
c.CnnCourse.rerun_all_cells = False
# Do not leave each finished kernel running for seconds before it is shut down.
c.KernelManager.shutdown_wait_time = {shutdown_wait}
'''


def format_points(value: float | None) -> str:
    """Points as a short number: 12, 12.5, 0.25 (no trailing zeros, no float noise); "-" for
    None."""
    if value is None:
        return "-"
    value = round(float(value), 4)
    if value == int(value):
        return str(int(value))
    return f"{value:.4f}".rstrip("0").rstrip(".")


class GradebookLock:
    """An exclusive lock on `<course>/.gradebook.lock`, shared by every process that reads or
    writes the gradebook, so SQLite never sees two writers at once; the operating system
    releases it when a process dies. (Without fcntl, on Windows, it does nothing: grading
    runs one process at a time there.)"""

    def __init__(self, root: Path | str) -> None:
        self.path = Path(root) / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> None:
        if fcntl is None:
            return
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(self._fd, fcntl.LOCK_EX)

    def release(self) -> None:
        if self._fd is not None and fcntl is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def __enter__(self) -> GradebookLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


class CourseError(Exception):
    """Something in the course directory or its inputs needs the instructor's attention.

    The message says what happened, to which file, and what to do next; the command line
    prints it without a traceback and exits with status 1.
    """


class UsageError(CourseError):
    """A command was called with arguments that cannot work (the command line exits with 2)."""


def put_interpreter_on_path() -> None:
    """Put this interpreter's `bin/` first on PATH, so nbgrader finds its helper programs.

    nbgrader's gradebook runs the `alembic` command as a subprocess; when `cnn-course` is run
    as `.venv/bin/cnn-course` without activating the environment, it would not be found.
    """
    bin_dir = str(Path(sys.executable).parent)
    entries = os.environ.get("PATH", "").split(os.pathsep)
    if bin_dir not in entries:
        os.environ["PATH"] = os.pathsep.join([bin_dir, *[e for e in entries if e]])


def create_gradebook(path: Path) -> None:
    """Create an empty nbgrader gradebook at ``path``, as nbgrader's ``Gradebook`` would, unless
    a file is already there (an existing gradebook is never touched).

    nbgrader stamps a new gradebook with the schema version of its migration scripts, which it
    learns by running the ``alembic`` command in a new interpreter (about 3 s on a 2-core
    machine, for every new course). The same version is read here, in this process, from the
    scripts nbgrader ships (alembic's ``ScriptDirectory``); the tables are nbgrader's own.
    """
    if path.exists():
        return
    import nbgrader
    from alembic.script import ScriptDirectory
    from nbgrader.api import Base
    from sqlalchemy import create_engine, text

    scripts = ScriptDirectory(str(Path(nbgrader.__file__).parent / "alembic"))
    engine = create_engine(f"sqlite:///{path}", future=True)
    try:
        with engine.begin() as connection:
            Base.metadata.create_all(connection)
            connection.execute(
                text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
            )
            connection.execute(
                text("INSERT INTO alembic_version (version_num) VALUES (:version)"),
                {"version": scripts.get_current_head()},
            )
    finally:
        engine.dispose()


def did_you_mean(name: str, choices) -> str:
    """ " Did you mean 02_layers?" for the closest of `choices`, or "" when none is close."""
    by_folded = {choice.casefold(): choice for choice in choices}
    close = difflib.get_close_matches(name.casefold(), list(by_folded), n=1, cutoff=0.6)
    return f" Did you mean {by_folded[close[0]]}?" if close else ""


# Short names accepted by Course.nbgrader_config(**overrides), mapped to nbgrader traits.
_OVERRIDE_ALIASES = {
    "timeout": ("ExecutePreprocessor", "timeout"),
    "shutdown_wait_time": ("KernelManager", "shutdown_wait_time"),
    "force": ("BaseConverter", "force"),
}


class Course:
    """A course directory in nbgrader's layout.

    Args:
        root: the course folder (created by `ensure()`, not by the constructor, so that
            asking about a course that does not exist yet changes nothing on disk).

    Attributes:
        root: absolute path of the course folder.
        source_dir, release_dir, submitted_dir, autograded_dir, feedback_dir: nbgrader's
            step folders below `root`.
        gradebook_path: `root / "gradebook.db"`.
        db_url: the SQLAlchemy URL of the gradebook, `sqlite:///<gradebook_path>`.
        config_path: `root / "nbgrader_config.py"`.
    """

    def __init__(self, root: Path | str = "course") -> None:
        self.root = Path(root).expanduser().resolve()
        self.source_dir = self.root / "source"
        self.release_dir = self.root / "release"
        self.submitted_dir = self.root / "submitted"
        self.autograded_dir = self.root / "autograded"
        self.feedback_dir = self.root / "feedback"
        self.gradebook_path = self.root / "gradebook.db"
        self.db_url = f"sqlite:///{self.gradebook_path}"
        self.config_path = self.root / "nbgrader_config.py"

    def lock(self) -> GradebookLock:
        """The gradebook lock of this course (use it as a context manager)."""
        return GradebookLock(self.root)

    def __repr__(self) -> str:
        return f"Course({str(self.root)!r})"

    def ensure(self) -> Course:
        """Create the course folder, its step folders, `nbgrader_config.py` and the gradebook
        if missing (`create_gradebook`).

        An existing `nbgrader_config.py` is left as it is (the instructor may have edited it).
        Returns the course itself, so `Course(path).ensure()` reads as one step.
        """
        if self.root.exists() and not self.root.is_dir():
            raise NotADirectoryError(
                f"the course directory {self.root} is a file, not a folder. "
                "Pass another folder with --course DIR."
            )
        for folder in (
            self.root,
            self.source_dir,
            self.release_dir,
            self.submitted_dir,
            self.autograded_dir,
            self.feedback_dir,
        ):
            folder.mkdir(parents=True, exist_ok=True)
        if not self.config_path.exists():
            self.config_path.write_text(
                _CONFIG_FILE_TEXT.format(
                    course_id=COURSE_ID,
                    timeout=DEFAULT_CELL_TIMEOUT,
                    shutdown_wait=KERNEL_SHUTDOWN_WAIT,
                    near_miss_credit=NEAR_MISS_CREDIT,
                )
            )
        if not self.gradebook_path.exists():
            with self.lock():
                create_gradebook(self.gradebook_path)
        return self

    def nbgrader_config(self, **overrides) -> Config:
        """The traitlets `Config` that every nbgrader step run on this course uses.

        Sets `CourseDirectory.root`, `course_id` ("cnn-course") and `db_url`, the per-cell
        timeout `ExecutePreprocessor.timeout` and a short `KernelManager.shutdown_wait_time`.

        Args:
            **overrides: either short names (`timeout=120`, `shutdown_wait_time=1.0`,
                `force=True`) or full trait names as `**{"Autograde.create_student": False}`.

        Returns:
            a fresh `Config`; changing it does not change the course.

        Also puts this interpreter's `bin/` on PATH (see `put_interpreter_on_path`), which
        every nbgrader step that opens the gradebook needs.
        """
        put_interpreter_on_path()
        config = Config()
        config.CourseDirectory.root = str(self.root)
        config.CourseDirectory.course_id = COURSE_ID
        config.CourseDirectory.db_url = self.db_url
        config.ExecutePreprocessor.timeout = DEFAULT_CELL_TIMEOUT
        config.KernelManager.shutdown_wait_time = KERNEL_SHUTDOWN_WAIT
        for key, value in overrides.items():
            if key in _OVERRIDE_ALIASES:
                section, trait = _OVERRIDE_ALIASES[key]
            elif key.count(".") == 1 and all(key.split(".")):
                section, trait = key.split(".")
            else:
                raise ValueError(
                    f"nbgrader_config override {key!r} is neither one of "
                    f"{sorted(_OVERRIDE_ALIASES)} nor a trait name like 'Execute.timeout'."
                )
            config[section][trait] = value
        return config

    def assignments(self) -> list[str]:
        """Names of the assignments in `source/` or `release/` (folders holding a notebook)."""
        names = set()
        for step_dir in (self.source_dir, self.release_dir):
            if step_dir.is_dir():
                names.update(
                    folder.name
                    for folder in step_dir.iterdir()
                    if folder.is_dir() and any(folder.glob("*.ipynb"))
                )
        return sorted(names)

    def students(self) -> list[str]:
        """Student ids with at least one collected submission, i.e. the folders of `submitted/`."""
        if not self.submitted_dir.is_dir():
            return []
        return sorted(
            folder.name
            for folder in self.submitted_dir.iterdir()
            if folder.is_dir() and not folder.name.startswith(".")
        )

    def gradebook_assignments(self) -> list[str]:
        """Names of the assignments released into the gradebook, sorted (read under its lock)."""
        from nbgrader.api import Gradebook

        with self.lock(), Gradebook(self.db_url, COURSE_ID) as gb:
            return sorted(a.name for a in gb.assignments)

    def chosen_assignments(self, assignments: Iterable[str] | None) -> list[str]:
        """The assignments a step runs on: `assignments` as a list, or every assignment in the
        gradebook when it is None or empty.

        Raises:
            UsageError: an assignment is not in the gradebook (the message lists those that are).
        """
        released = self.gradebook_assignments()
        wanted = list(assignments) if assignments else released
        unknown = [a for a in wanted if a not in released]
        if unknown:
            raise UsageError(
                f"assignment {', '.join(unknown)} is not in the gradebook {self.gradebook_path}. "
                f"Released: {', '.join(released) or 'none'}."
            )
        return wanted

    def submission_path(self, student: str, assignment: str) -> Path:
        """Where `student`'s notebook for `assignment` is collected:
        `submitted/<student>/<assignment>/<assignment>.ipynb`."""
        return self.submitted_dir / student / assignment / f"{assignment}.ipynb"

    def source_path(self, assignment: str) -> Path:
        """`source/<assignment>/<assignment>.ipynb`."""
        return self.source_dir / assignment / f"{assignment}.ipynb"

    def release_path(self, assignment: str) -> Path:
        """`release/<assignment>/<assignment>.ipynb`."""
        return self.release_dir / assignment / f"{assignment}.ipynb"

    def _setting(self, name: str, default):
        """`c.CnnCourse.<name>` in the course's nbgrader_config.py, else ``default``."""
        from traitlets.config.loader import PyFileConfigLoader

        if not self.config_path.is_file():
            return default
        loader = PyFileConfigLoader(self.config_path.name, path=str(self.root))
        try:
            config = loader.load_config()
        except Exception as error:
            raise CourseError(f"{self.config_path} cannot be read: {error}") from None
        return config.CnnCourse.get(name, default)

    def near_miss_credit(self) -> float:
        """The share of a test's points a near miss earns: `c.CnnCourse.near_miss_credit` in
        the course's nbgrader_config.py, else `NEAR_MISS_CREDIT`.

        Raises:
            CourseError: the setting is not a number between 0 and 1.
        """
        value = self._setting("near_miss_credit", NEAR_MISS_CREDIT)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise CourseError(
                f"c.CnnCourse.near_miss_credit in {self.config_path} is the share of a test's "
                f"points a near miss earns: a number from 0 to 1; got {value!r}."
            )
        return float(value)

    def rerun_all_cells(self) -> bool:
        """Whether autograde runs every cell of a submission (`c.CnnCourse.rerun_all_cells =
        True` in the course's nbgrader_config.py) or, by default, only the cells its grades
        need (`autograder.isolation.needed`), keeping the submitted outputs of the others.

        Raises:
            CourseError: the setting is not True or False.
        """
        value = self._setting("rerun_all_cells", False)
        if not isinstance(value, bool):
            raise CourseError(
                f"c.CnnCourse.rerun_all_cells in {self.config_path} must be True (run every "
                f"cell of a submission) or False (only the cells its grades need); got {value!r}."
            )
        return value

    def grading_times(self, assignment: str) -> tuple[float | None, float | None]:
        """(cell timeout, grading budget) in seconds that the assignment's SOURCE notebook
        declares (the instructor's copy, never the submission's metadata, which a student
        controls); None for each it does not declare."""
        import json

        try:
            metadata = json.loads(self.source_path(assignment).read_text(encoding="utf-8"))[
                "metadata"
            ]
            for key in GRADING_METADATA:
                metadata = metadata.get(key, {})
        except (OSError, ValueError, KeyError, AttributeError):
            return None, None
        found = []
        for key in ("cell_timeout", "budget"):
            value = metadata.get(key) if isinstance(metadata, dict) else None
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0
            found.append(float(value) if ok else None)
        return found[0], found[1]
