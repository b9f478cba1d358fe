"""Each limit of the sandbox on its own: a kernel process that tries to exceed it, and what
the grader sees (autograder.isolation.sandbox.KernelProcess, autograder.isolation.verdicts.grade_notebook)."""

from __future__ import annotations

import socket
import time
import uuid
from pathlib import Path

import nbformat
import pytest

from autograder.isolation.sandbox import KernelProcess, Limits, detect_protections
from autograder.isolation.verdicts import grade_notebook
from tests.security.processes import processes_with

needs_bwrap = pytest.mark.skipif(
    not detect_protections().bubblewrap, reason="bubblewrap cannot create a sandbox here"
)
SMALL = Limits(cpu_seconds=5, memory_bytes=1 << 30, processes=32, wall_seconds=60)


def _run(tmp_path: Path, code: str, limits: Limits = SMALL, seconds: float = 30) -> tuple[str, str]:
    """Run `python -c code` as a kernel would run; (why it ended, its stderr)."""
    folder = tmp_path / "submission"
    folder.mkdir(exist_ok=True)
    kernel = KernelProcess(folder, ["-c", code], {}, (), limits)
    try:
        deadline = time.monotonic() + seconds
        while kernel.ended() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        return kernel.ended() or "still running", kernel.stderr_tail()
    finally:
        kernel.kill()


def test_cpu_time_limit_stops_a_busy_loop(tmp_path):
    ended, _ = _run(tmp_path, "while True: pass", Limits(cpu_seconds=1))
    assert "CPU time" in ended


def test_memory_limit_refuses_a_huge_allocation(tmp_path):
    ended, stderr = _run(tmp_path, "x = bytearray(3 << 30)", Limits(memory_bytes=512 << 20))
    assert "MemoryError" in stderr
    assert "out of memory" in ended


def test_file_size_limit_stops_a_big_file(tmp_path):
    code = "open('big', 'wb').write(b'x' * (4 << 20))"
    ended, _ = _run(tmp_path, code, Limits(file_size_bytes=1 << 20))
    assert "file over the size limit" in ended


@needs_bwrap
def test_disk_limit_fills_only_the_kernels_own_small_working_directory(tmp_path):
    code = (
        "import sys\n"
        "try:\n"
        "    for i in range(64):\n"
        "        open(f'f{i}', 'wb').write(b'x' * (1 << 20))\n"
        "except OSError as e:\n"
        "    sys.exit(f'stopped at file {i}: {e.strerror}')\n"
    )
    ended, stderr = _run(tmp_path, code, Limits(disk_bytes=8 << 20, file_size_bytes=2 << 20))
    assert "No space left on device" in stderr
    assert not any(tmp_path.rglob("f1")), "the files went to the sandbox's tmpfs, not the host"


def test_process_limit_stops_a_fork_bomb(tmp_path):
    if not (detect_protections().cgroup or detect_protections().nproc):
        pytest.skip("no process limit can be enforced here (root without a writable cgroup)")
    code = (
        "import os, sys, time\n"
        "children = 0\n"
        "try:\n"
        "    for _ in range(200):\n"
        "        if os.fork() == 0:\n"
        "            time.sleep(30); os._exit(0)\n"
        "        children += 1\n"
        "except OSError as e:\n"
        "    sys.exit(f'fork refused after {children}: {e}')\n"
    )
    ended, stderr = _run(tmp_path, code, Limits(processes=16))
    assert "fork refused after" in stderr


@needs_bwrap
def test_no_network_not_even_the_graders_loopback(tmp_path):
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.settimeout(0.5)
    code = (
        "import socket, sys\n"
        "try:\n"
        f"    socket.create_connection(('127.0.0.1', {port}), timeout=2)\n"
        "    sys.exit('connected')\n"
        "except OSError as e:\n"
        "    sys.exit(f'refused: {e}')\n"
    )
    try:
        _, stderr = _run(tmp_path, code)
        assert "refused" in stderr
        with pytest.raises(TimeoutError):
            listener.accept()
    finally:
        listener.close()


@needs_bwrap
def test_the_kernel_sees_only_its_submission_not_the_course_or_the_project(tmp_path):
    secret = tmp_path / "gradebook.db"
    secret.write_text("secret")
    project = Path(__file__).resolve().parents[2]
    code = (
        "import os, sys\n"
        f"for path in [{str(secret)!r}, {str(project / 'notebooks')!r}, {str(project / 'tests')!r}, "
        f"{str(project / 'autograder' / 'checks' / 'layers.py')!r}, {str(tmp_path)!r}]:\n"
        "    if os.path.exists(path):\n"
        "        sys.exit(f'visible: {path}')\n"
        "print(sorted(os.listdir('/submission')), file=sys.stderr)\n"
        "sys.exit(0)\n"
    )
    (tmp_path / "submission").mkdir()
    (tmp_path / "submission" / "mine.txt").write_text("mine")
    ended, stderr = _run(tmp_path, code)
    assert "visible" not in stderr
    assert "['mine.txt']" in stderr
    assert "status 0" in ended


def test_the_whole_process_tree_is_killed_at_the_end(tmp_path):
    marker = f"cnn-course-orphan-{uuid.uuid4().hex}"
    code = (
        "import subprocess, sys, time\n"
        f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)', {marker!r}], "
        "start_new_session=True)\n"
        "time.sleep(300)\n"
    )
    folder = tmp_path / "submission"
    folder.mkdir()
    kernel = KernelProcess(folder, ["-c", code], {}, (), SMALL)
    time.sleep(1.5)
    assert processes_with(marker), "the orphan should have started"
    kernel.kill()
    time.sleep(0.3)
    assert not processes_with(marker)


def _notebook(*sources: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    return nb


def test_the_budget_ends_the_notebook_in_the_cell_that_runs_and_kills_the_kernel(tmp_path):
    nb = _notebook("import time\ntime.sleep(30)", "print('never')")
    (tmp_path / "s").mkdir()
    start = time.monotonic()
    result = grade_notebook(nb, tmp_path / "s", timeout=60, limits=Limits(wall_seconds=3), env={})
    assert time.monotonic() - start < 20
    assert "used up its grading budget of 3 s in cell 1" in (result.kernel_lost or "")
    assert result.timed_out == "cell 1"
    assert "never" not in str(nb.cells[1].outputs)


def test_output_limit_caps_what_a_cell_leaves_in_the_notebook(tmp_path):
    nb = _notebook("print('x' * 5_000_000)")
    (tmp_path / "s").mkdir()
    grade_notebook(nb, tmp_path / "s", timeout=30, limits=Limits(output_bytes=10_000), env={})
    assert len(str(nb.cells[0].outputs)) < 12_000
    assert "truncated" in str(nb.cells[0].outputs)
