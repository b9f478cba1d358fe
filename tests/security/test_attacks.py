"""One submission per attack, graded in ONE batch beside honest controls (the tiny assignment).

Each attack replaces the student's `add` and `hypotenuse` cell of tests/fixtures/tiny with code
that tries to get points it does not deserve: its functions are wrong (or only right when the
attack succeeds), so every attack must score 0 on both autograded exercises, while the honest
controls score full marks. After the batch: the gradebook holds only the expected rows, the
source, the other submissions and the gradebook file were not touched by a kernel, and no
process of any kernel is left.
"""

from __future__ import annotations

import csv
import hashlib
import json
import socket
import sqlite3
import uuid
from pathlib import Path
from textwrap import indent

import pytest

from autograder.collect import collect
from autograder.course import Course
from autograder.export import export_grades
from autograder.grade import autograde
from autograder.isolation.sandbox import Limits, detect_protections
from tests.e2e.conftest import TINY, cell_by_grade_id, solved_release, write_notebook
from tests.security.processes import processes_with

pytestmark = pytest.mark.slow

FULL = 5  # test_add (2) + test_hypotenuse (3)
TIMEOUT = 5
LIMITS = Limits(
    cpu_seconds=60,
    memory_bytes=1536 << 20,
    processes=64,
    file_size_bytes=16 << 20,
    disk_bytes=32 << 20,
    output_bytes=100_000,
    wall_seconds=90,
)
MARKER = f"cnn-course-left-behind-{uuid.uuid4().hex}"
WRONG = "def add(a, b):\n    return a - b\n\n\ndef hypotenuse(a, b):\n    return 0.0\n"
RIGHT = (
    "import math\n\n\ndef add(a, b):\n    return a + b\n\n\n"
    "def hypotenuse(a, b):\n    return math.sqrt(a * a + b * b)\n"
)


def _attacks(course: Course, port: int) -> dict[str, str]:
    """student id -> the code of its solution cell."""
    root = course.root
    return {
        "always_equal": (
            "class Anything(float):\n"
            "    def __eq__(self, other): return True\n"
            "    def __ne__(self, other): return False\n"
            "    def __bool__(self): return True\n"
            "    def __sub__(self, other): return Anything(0)\n"
            "    __rsub__ = __sub__\n"
            "    def __abs__(self): return Anything(0)\n"
            "    def __le__(self, other): return True\n"
            "    __lt__ = __ge__ = __gt__ = __le__\n\n\n"
            "class AnythingObject:\n"
            "    def __eq__(self, other): return True\n\n\n"
            "def add(a, b):\n    return AnythingObject()\n\n\n"
            "def hypotenuse(a, b):\n    return Anything(0)\n"
        ),
        "patch_checks": (
            "import math, builtins, numpy.testing\n"
            "math.isclose = lambda *a, **k: True\n"
            "numpy.testing.assert_allclose = lambda *a, **k: None\n"
            "builtins.AssertionError = type('Nothing', (Exception,), {})\n"
            "try:\n"
            "    import autograder.checks as checks\n"
            "    checks.check_conv_output_size = lambda *a, **k: None\n"
            "except Exception:\n"
            "    pass\n" + WRONG
        ),
        "input_transformer": (
            "def _blank_asserts(lines):\n"
            "    return [line.replace('assert', 'pass #') for line in lines]\n\n\n"
            "get_ipython().input_transformers_post.append(_blank_asserts)\n" + WRONG
        ),
        "read_source": (
            "import glob, os\n"
            f"found = glob.glob({str(root)!r} + '/source/**/*.ipynb', recursive=True)\n"
            "found += glob.glob('../../../source/**/*.ipynb', recursive=True)\n"
            f"found += [p for p in [{str(root / 'gradebook.db')!r}] if os.path.exists(p)]\n"
            "print('found', found)\n"
            "if found:\n" + indent(RIGHT, "    ") + "else:\n" + indent(WRONG, "    ")
        ),
        "write_gradebook": (
            "import sqlite3\n"
            "for path in ["
            f"{str(root / 'gradebook.db')!r}, '../../../gradebook.db', '../gradebook.db']:\n"
            "    try:\n"
            "        db = sqlite3.connect(path)\n"
            "        db.execute('UPDATE grade SET auto_score = 100')\n"
            "        db.commit()\n"
            "    except Exception as error:\n"
            "        print('no gradebook at', path, error)\n" + WRONG
        ),
        "exit_early": "import os\nos._exit(0)\n" + RIGHT,
        "kill_grader": (
            "import os, signal\n"
            "for pid in (os.getppid(), 1, -1):\n"
            "    try:\n"
            "        os.kill(pid, signal.SIGKILL)\n"
            "    except Exception as error:\n"
            "        print(pid, error)\n" + WRONG
        ),
        "exhaust_memory": "chunks = []\nwhile True:\n    chunks.append(bytearray(64 << 20))\n"
        + RIGHT,
        "exhaust_disk": (
            "for i in range(1000):\n"
            "    with open(f'fill{i}', 'wb') as handle:\n"
            "        handle.write(b'x' * (8 << 20))\n" + RIGHT
        ),
        "exhaust_output": "for _ in range(200):\n    print('y' * 100_000)\n" + WRONG,
        "loop_forever": (
            "import signal\n"
            "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
            "while True:\n    pass\n" + RIGHT
        ),
        "leave_processes": (
            "import subprocess, sys\n"
            "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)', "
            f"{MARKER!r}], start_new_session=True)\n" + WRONG
        ),
        "shadow_modules": (
            "for name in ('numpy.py', 'sitecustomize.py', 'math.py', 'autograder.py'):\n"
            "    with open(name, 'w') as handle:\n"
            "        handle.write('import builtins\\nbuiltins.AssertionError = Exception\\n')\n"
            + WRONG
        ),
        "network": (
            "import socket\n"
            "try:\n"
            f"    socket.create_connection(('127.0.0.1', {port}), timeout=2).sendall(b'hi')\n"
            "    connected = True\n"
            "except OSError as error:\n"
            "    print('no network:', error)\n"
            "    connected = False\n" + WRONG
        ),
        # Every file the kernel can read, but the system's and the interpreter's own (the same
        # bytes as on the host), searched for the text of the tiny notebook's hidden tests.
        "read_hidden_tests": (
            "import os, sys\n"
            "needles = ['hypotenuse(5, 12' + ') should be 13.0', 'add(-7, 7' + ') should be 0']\n"
            "system = ('/usr', '/lib', '/lib32', '/lib64', '/bin', '/sbin', '/sys', '/dev', "
            "'/proc', sys.prefix, sys.base_prefix)\n"
            "hits = []\n"
            "for top, dirs, files in os.walk('/'):\n"
            "    if top != '/' and top.startswith(system):\n"
            "        dirs[:] = []\n"
            "        continue\n"
            "    for name in files:\n"
            "        try:\n"
            "            with open(os.path.join(top, name), 'rb') as handle:\n"
            "                data = handle.read(1 << 24).decode('utf-8', 'replace')\n"
            "        except OSError:\n"
            "            continue\n"
            "        hits += [os.path.join(top, name) for n in needles if n in data]\n"
            "for name in ('environ', 'cmdline'):\n"
            "    data = open(f'/proc/self/{name}', 'rb').read().decode('utf-8', 'replace')\n"
            "    hits += [name for n in needles if n in data]\n"
            "print('hidden tests found in', hits)\n"
            "if hits:\n" + indent(RIGHT, "    ") + "else:\n" + indent(WRONG, "    ")
        ),
        "read_others": (
            "import glob, json\n"
            f"paths = glob.glob({str(root / 'submitted')!r} + '/control*/tiny/tiny.ipynb')\n"
            "paths += glob.glob('../../control*/tiny/tiny.ipynb')\n"
            "print('others', paths)\n"
            "for path in paths:\n"
            "    for cell in json.load(open(path))['cells']:\n"
            "        if 'def add' in ''.join(cell['source']):\n"
            "            exec(''.join(cell['source']))\n"
            "if not paths:\n" + indent(WRONG, "    ")
        ),
        "tamper_protocol": (
            "import os\n"
            "for fd in map(int, os.listdir('/proc/self/fd')):\n"
            "    if fd > 2:\n"
            "        try:\n"
            "            os.write(fd, b'\\xff' * 64)\n"
            "        except OSError:\n"
            "            pass\n" + RIGHT
        ),
    }


CONTROLS = {
    "control": RIGHT,
    "control_noisy": (
        "import math, sys, warnings\nimport numpy as np\nfrom tqdm.auto import tqdm\n\n"
        "rng = np.random.default_rng(1234)  # the student's own seeded randomness\n"
        "for _ in tqdm(range(3), desc='warming up'):\n    rng.standard_normal(3)\n\n\n"
        "def _helper(a, b):\n    return a + b\n\n\n"
        "def add(a, b):\n"
        "    warnings.warn('an honest warning', UserWarning)\n"
        "    print('an honest line on stderr', file=sys.stderr)\n"
        "    return _helper(a, b)\n\n\n"
        "def hypotenuse(a, b):\n    return math.hypot(a, b)\n"
    ),
}


def _notebook(course: Course, code: str, extra_cell: bool = False) -> dict:
    notebook = solved_release(course, TINY)
    cell = cell_by_grade_id(notebook, "add")
    cell["source"] = code
    for other in notebook["cells"]:
        if other.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "hypotenuse":
            other["source"] = "# hypotenuse is defined in the cell above\n"
    if extra_cell:
        notebook["cells"].insert(
            notebook["cells"].index(cell) + 1,
            {
                "cell_type": "code",
                "execution_count": None,
                "metadata": {},
                "outputs": [],
                "source": "print('an extra cell of my own:', add(2, 2))\n",
            },
        )
    return notebook


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def batch(tmp_path_factory, _released_template):
    import shutil

    if not detect_protections().bubblewrap:
        pytest.skip("the attacks are graded in the bubblewrap sandbox, unavailable here")
    root = tmp_path_factory.mktemp("attacks") / "course"
    shutil.copytree(_released_template, root)
    course = Course(root)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    drop = root.parent / "drop"
    attacks = _attacks(course, listener.getsockname()[1])
    for student, code in {**attacks, **CONTROLS}.items():
        write_notebook(
            drop / student / TINY / f"{TINY}.ipynb",
            _notebook(course, code, extra_cell=student == "control_noisy"),
        )
    for name in ("numpy.py", "sitecustomize.py"):  # shipped beside the notebook, too
        (drop / "shadow_modules" / TINY / name).write_text("raise SystemExit('shadowed')\n")
    collect(course, drop)
    before = {"source": _digest(course.source_dir), "submitted": _digest(course.submitted_dir)}
    report = autograde(
        course, jobs=2, timeout=TIMEOUT, progress=False, limits=LIMITS, isolation="sandbox"
    )
    after = {"source": _digest(course.source_dir), "submitted": _digest(course.submitted_dir)}
    try:
        listener.accept()
        connected = True
    except TimeoutError:
        connected = False
    listener.close()
    text = export_grades(course, to=root.parent / "grades.csv").read_text()
    scores = {row["student_id"]: float(row[TINY]) for row in csv.DictReader(text.splitlines())}
    return course, report, scores, attacks, before, after, connected


def test_every_attack_scores_zero_and_every_control_full_marks(batch):
    _, report, scores, attacks, *_ = batch
    assert {student: scores[student] for student in attacks} == dict.fromkeys(attacks, 0.0)
    assert {student: scores[student] for student in CONTROLS} == dict.fromkeys(CONTROLS, FULL)
    assert len(report.results) == len(attacks) + len(CONTROLS), "the batch finished"


def test_the_gradebook_holds_the_graders_rows_only(batch):
    course, _, scores, *_ = batch
    with sqlite3.connect(course.gradebook_path) as db:
        rows = db.execute("SELECT COUNT(*), MAX(auto_score) FROM grade").fetchone()
    assert rows == (len(scores) * 3, 3.0)


def test_no_kernel_touched_the_source_or_any_submission(batch):
    *_, before, after, _ = batch
    assert before == after


def test_no_kernel_reached_the_network(batch):
    assert batch[-1] is False


def test_no_file_the_kernel_can_read_holds_a_hidden_test(batch):
    course, *_ = batch
    text = (course.autograded_dir / "read_hidden_tests" / TINY / f"{TINY}.ipynb").read_text()
    assert "hidden tests found in []" in text, "the scan did not finish, or found them"


def test_no_process_of_any_kernel_is_left(batch):
    assert processes_with(MARKER) == []


def test_what_went_wrong_is_reported_for_the_instructor(batch):
    course, report, *_ = batch
    notes = {r.student: " ".join(r.notes) + r.reason for r in report.results}

    def graded_text(student: str) -> str:
        return (course.autograded_dir / student / TINY / f"{TINY}.ipynb").read_text()

    assert "MemoryError" in graded_text("exhaust_memory")
    assert "No space left on device" in graded_text("exhaust_disk")
    assert "exited" in notes["exit_early"]
    assert "ignored the interrupt" in notes["loop_forever"]
    assert "protocol" in notes["tamper_protocol"] or "closed" in notes["tamper_protocol"]
    graded = json.loads(
        (course.autograded_dir / "exhaust_output" / TINY / f"{TINY}.ipynb").read_text()
    )
    assert len(json.dumps(graded)) < 1_000_000, "outputs are capped"
