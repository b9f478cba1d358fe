"""The sandbox a student's kernel runs in while it is graded: what it can see, and how much it
may use.

What we chose, and why
----------------------
- **bubblewrap** (``bwrap``) where it works: it needs no daemon, no root and no setuid helper
  on a stock Linux with unprivileged user namespaces (Debian, Ubuntu, Fedora, GitHub's
  runners), and as root it works too. The kernel gets new namespaces for everything
  (``--unshare-all``: mounts, PIDs, network, IPC, UTS, cgroups, users) and sees a root file
  system built from read-only binds of what Python needs (``/usr``, ``/lib``, the interpreter,
  the virtual environment, a few files of ``/etc``), the student packages ``course_utils`` and
  ``autograder.kernel`` (nothing else of the autograder) under ``/opt/cnn-course``, and the shipped ``data/``.
  Its working directory ``/home/student`` is a size-capped tmpfs holding a copy of that one
  submission's folder. The course directory, the gradebook, the source notebooks with their
  hidden tests, other submissions and the rest of the project are simply not there. There is
  no network (only its own loopback), ``--die-with-parent`` ends it with the grader, and
  ``--new-session`` keeps it off the grader's terminal. ``unshare(1)`` alone was the
  alternative; it would need root for the mounts, so bubblewrap it is.
- **Resource limits** with ``setrlimit`` on the kernel (inherited by everything it starts):
  CPU seconds, address space, file size, open files, no core dumps, and processes (counted
  per user, so for root only a cgroup can enforce it). Where a cgroup hierarchy is writable
  (v1 ``pids``/``memory`` or v2), the kernel also runs in its own cgroup with ``pids.max``
  and a memory limit, and is killed through it. Wall time and output size are enforced by the
  grader (``autograder.isolation.verdicts``): a cell past its deadline is interrupted, a kernel past the
  submission's wall time is killed, and outputs are capped.
- **The whole process tree dies at the end**: the cgroup's processes are killed when there is
  one; otherwise the kernel's process group is, and in the PID namespace everything dies with
  its first process anyway.

Where bubblewrap is missing or does not work, grading still works with the limits and the
process-group cleanup only; ``Protections.lines()`` says which protections are active, and
``autograde(require_sandbox=True)`` (``cnn-course autograde --require-sandbox``) refuses to
grade without the full sandbox.
"""

from __future__ import annotations

import contextlib
import functools
import os

try:
    import resource
except ImportError:  # not on a POSIX system: autograde grades with isolation "kernel" there
    resource = None  # type: ignore[assignment]
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from autograder.course import DEFAULT_BUDGET
from autograder.kernel.main import COPY_FROM_VARIABLE

SANDBOX_HOME = "/home/student"
KERNEL_ROOT = "/opt/cnn-course"
_CGROUP_BASE = Path("/sys/fs/cgroup")
_CGROUP_PARENT = "cnn-course"


@dataclass(frozen=True)
class Limits:
    """What one submission's kernel may use.

    Attributes:
        cpu_seconds: CPU time of each process of the kernel (RLIMIT_CPU), in seconds.
        memory_bytes: address space of each process (RLIMIT_AS) and, with a cgroup, the
            memory of the whole tree.
        processes: processes and threads the kernel may run at once (a cgroup's pids.max, or
            RLIMIT_NPROC where that counts).
        file_size_bytes: largest file the kernel may write (RLIMIT_FSIZE).
        disk_bytes: size of the kernel's working directory (a tmpfs; with bubblewrap only).
        output_bytes: characters of output one cell may leave in the notebook.
        wall_seconds: wall time of the whole notebook, its grading budget; the kernel is
            killed after it.
        open_files: file descriptors (RLIMIT_NOFILE).
    """

    cpu_seconds: int = 1800
    memory_bytes: int = 6 << 30
    processes: int = 256
    file_size_bytes: int = 64 << 20
    disk_bytes: int = 256 << 20
    output_bytes: int = 1 << 20
    wall_seconds: float = DEFAULT_BUDGET
    open_files: int = 1024

    def __post_init__(self) -> None:
        for name in self.__dataclass_fields__:
            if getattr(self, name) <= 0:
                raise ValueError(f"Limits.{name} must be positive, got {getattr(self, name)}.")


#: Memory kept for each grading process beside its kernel (the checks, nbgrader, PyTorch), and
#: for the machine itself, when the kernels' memory cap is sized to the machine.
GRADER_MEMORY_BYTES = 1 << 30
SYSTEM_MEMORY_BYTES = 2 << 30
#: The most one kernel gets, however large the machine (the course's notebooks need far less).
MAX_KERNEL_MEMORY_BYTES = 6 << 30
#: The least: below this a course notebook cannot import PyTorch and train its small models.
MIN_KERNEL_MEMORY_BYTES = 2 << 30


def machine_memory_bytes() -> int | None:
    """This machine's physical memory, or None where the system does not say."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return None


def kernel_memory_bytes(jobs: int, total: int | None = None) -> int:
    """The memory cap of one kernel when ``jobs`` notebooks are graded at once: what the
    machine has, less the system's share and each grading process's own, split between the
    jobs, at most ``MAX_KERNEL_MEMORY_BYTES``. So ``jobs`` kernels at their cap, beside their
    graders, fit in the machine.

    Raises:
        ValueError: when the machine is too small for ``jobs`` kernels of at least
            ``MIN_KERNEL_MEMORY_BYTES``.
    """
    total = machine_memory_bytes() if total is None else total
    if total is None:
        return MAX_KERNEL_MEMORY_BYTES
    share = (total - SYSTEM_MEMORY_BYTES - jobs * GRADER_MEMORY_BYTES) // jobs
    if share < MIN_KERNEL_MEMORY_BYTES:
        gib = total / (1 << 30)
        most = max(
            1, (total - SYSTEM_MEMORY_BYTES) // (MIN_KERNEL_MEMORY_BYTES + GRADER_MEMORY_BYTES)
        )
        raise ValueError(
            f"{jobs} notebooks at once do not fit in this machine's {gib:.1f} GiB of memory: each "
            f"kernel needs at least {MIN_KERNEL_MEMORY_BYTES >> 30} GiB beside its grader "
            f"({GRADER_MEMORY_BYTES >> 30} GiB). Grade with --jobs {most} or fewer."
        )
    return int(min(MAX_KERNEL_MEMORY_BYTES, share))


@dataclass(frozen=True)
class Protections:
    """Which protections grading has on this machine.

    Attributes:
        bubblewrap: the kernel runs in bubblewrap's namespaces (file system, network, PIDs).
        cgroup: the kernel runs in its own cgroup (processes, memory, killing the tree).
        nproc: RLIMIT_NPROC limits the kernel's processes (not for root).
        why_not: why bubblewrap or a cgroup is not used, for the instructor.
    """

    bubblewrap: bool
    cgroup: bool
    nproc: bool
    why_not: tuple[str, ...] = field(default_factory=tuple)

    @property
    def full(self) -> bool:
        """True when every protection is active: the sandbox that grading requires unless the
        instructor opts out (``autograde(allow_unsandboxed=True)`` or isolation "kernel")."""
        return self.bubblewrap and (self.cgroup or self.nproc)

    def missing(self) -> list[str]:
        """What is missing from the full sandbox, and how to get it, one line each."""
        lines = []
        if not self.bubblewrap:
            lines.append(
                "bubblewrap (the kernel's own file system view, no network, own PIDs): "
                + "; ".join(why for why in self.why_not if "bubblewrap" in why)
            )
        if not (self.cgroup or self.nproc):
            lines.append(
                "a process limit: no writable cgroup (pids.max) here, and RLIMIT_NPROC cannot "
                "limit the kernel of a grader that runs as root. Grade as an ordinary user, or "
                "give the grading user a writable cgroup (systemd: `systemd-run --user --scope "
                "-p Delegate=yes cnn-course autograde ...`)."
            )
        return lines

    def lines(self) -> list[str]:
        on, off = "on ", "OFF"
        process_limit = (
            "cgroup pids.max" if self.cgroup else "RLIMIT_NPROC" if self.nproc else "none"
        )
        lines = [
            f"[{on if self.bubblewrap else off}] own file system view (no course, gradebook, "
            "hidden tests or other submissions), no network, own PID namespace (bubblewrap)",
            f"[{on}] CPU time, address space, file size and open-file limits (setrlimit); wall "
            "time and output size (grader)",
            f"[{on if process_limit != 'none' else off}] process limit ({process_limit}); memory "
            f"of the whole tree ({'cgroup' if self.cgroup else 'per process only'})",
            f"[{on}] the whole process tree is killed at the end "
            f"({'cgroup' if self.cgroup else 'process group' + (' and PID namespace' if self.bubblewrap else '')})",
        ]
        return lines + [f"      {why}" for why in self.why_not]


@functools.lru_cache(maxsize=1)
def detect_protections() -> Protections:
    """Probe this machine once: does bubblewrap start a sandbox, is a cgroup writable?"""
    why = []
    bwrap = shutil.which("bwrap")
    works = False
    if bwrap is None:
        why.append(
            "bubblewrap is not installed (Debian/Ubuntu: sudo apt-get install bubblewrap; "
            "Fedora: sudo dnf install bubblewrap; macOS and Windows have no bubblewrap: grade "
            "on Linux, e.g. in a virtual machine)"
        )
    else:
        probe = subprocess.run(
            [bwrap, *_bwrap_system_binds(), "--unshare-all", "--die-with-parent", "true"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        works = probe.returncode == 0
        if not works:
            message = (probe.stderr.strip().splitlines() or ["no message"])[-1]
            why.append(
                f"bubblewrap is installed but cannot create namespaces here ({message}): enable "
                "unprivileged user namespaces (Debian: sudo sysctl -w "
                "kernel.unprivileged_userns_clone=1; Ubuntu 23.10 and later: sudo sysctl -w "
                "kernel.apparmor_restrict_unprivileged_userns=0, or an AppArmor profile for "
                "bwrap), or grade outside a container that forbids them"
            )
    cgroup = _cgroup_layout() is not None
    if not cgroup:
        why.append("no writable cgroup hierarchy: processes and memory are limited per process")
    # RLIMIT_NPROC counts every process of the user: it limits the kernel only when the user
    # is not root and /proc tells how many the user already has (Linux).
    nproc = hasattr(os, "geteuid") and os.geteuid() != 0 and os.path.isdir("/proc")
    return Protections(works, cgroup, nproc, tuple(why))


# --- cgroups ----------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _cgroup_layout() -> dict[str, Path] | None:
    """Writable cgroup directories for pids and memory: v1 controllers or one v2 directory."""
    candidates = [
        {"pids": _CGROUP_BASE / "pids", "memory": _CGROUP_BASE / "memory"},
        {"pids": _CGROUP_BASE / "unified", "memory": _CGROUP_BASE / "unified"},
        {"pids": _CGROUP_BASE, "memory": _CGROUP_BASE},
    ]
    for layout in candidates:
        probe = {}
        try:
            for kind, root in layout.items():
                if root in probe.values():
                    continue
                parent = root / _CGROUP_PARENT
                parent.mkdir(exist_ok=True)
                test = parent / f"probe-{uuid.uuid4().hex[:8]}"
                test.mkdir()
                probe[kind] = test
                limit = "pids.max" if kind == "pids" else _memory_file(test)
                if limit is None or not (test / limit).exists():
                    raise OSError("controller missing")
            return {kind: root / _CGROUP_PARENT for kind, root in layout.items()}
        except OSError:
            continue
        finally:
            for test in probe.values():
                with contextlib.suppress(OSError):
                    test.rmdir()
    return None


def _memory_file(directory: Path) -> str | None:
    for name in ("memory.limit_in_bytes", "memory.max"):
        if (directory / name).exists():
            return name
    return None


class _Cgroup:
    """A cgroup (per controller directory) for one kernel; ``kill`` empties and removes it."""

    def __init__(self, limits: Limits) -> None:
        layout = _cgroup_layout()
        self.dirs: list[Path] = []
        if layout is None:
            return
        name = f"kernel-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        for kind, parent in layout.items():
            directory = parent / name
            if directory in self.dirs:
                continue
            directory.mkdir()
            self.dirs.append(directory)
            if kind == "pids" or (directory / "pids.max").exists():
                (directory / "pids.max").write_text(str(limits.processes))
            memory = _memory_file(directory)
            if memory:
                (directory / memory).write_text(str(limits.memory_bytes))

    def enter(self) -> None:
        """Put the calling process in the cgroup (runs in the child before exec)."""
        for directory in self.dirs:
            with open(directory / "cgroup.procs", "w") as handle:
                handle.write(str(os.getpid()))

    def pids(self) -> set[int]:
        found = set()
        for directory in self.dirs:
            with contextlib.suppress(OSError):
                found |= {int(p) for p in (directory / "cgroup.procs").read_text().split()}
        return found

    def oom_killed(self) -> bool:
        for directory in self.dirs:
            for name, key in (("memory.events", "oom_kill"), ("memory.oom_control", "oom_kill")):
                with contextlib.suppress(OSError, ValueError):
                    for line in (directory / name).read_text().splitlines():
                        parts = line.split()
                        if len(parts) == 2 and parts[0] == key and int(parts[1]) > 0:
                            return True
            with contextlib.suppress(OSError, ValueError):
                if int((directory / "memory.failcnt").read_text()) > 0:
                    return True
        return False

    def kill(self) -> None:
        for _ in range(100):
            pids = self.pids()
            if not pids:
                break
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.02)
        for directory in self.dirs:
            for _ in range(50):
                try:
                    directory.rmdir()
                    break
                except OSError:
                    time.sleep(0.02)


# --- the kernel's file system view --------------------------------------------------------------


def _bwrap_system_binds() -> list[str]:
    """Read-only binds of what a Python process needs: system libraries and the interpreter."""
    binds = []
    for path in ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32"):
        if os.path.lexists(path):
            if os.path.islink(path):
                binds += ["--symlink", os.readlink(path), path]
            else:
                binds += ["--ro-bind", path, path]
    for path in (
        "/etc/ld.so.cache",
        "/etc/ld.so.conf",
        "/etc/ld.so.conf.d",
        "/etc/fonts",
        "/etc/localtime",
        "/etc/passwd",
        "/etc/group",
        "/etc/nsswitch.conf",
        "/etc/alternatives",
        "/etc/matplotlibrc",
    ):
        binds += ["--ro-bind-try", path, path]
    prefixes = {os.path.realpath(p) for p in (sys.base_prefix, sys.prefix, sys.exec_prefix)}
    prefixes.add(os.path.dirname(os.path.dirname(os.path.realpath(sys.executable))))
    for prefix in sorted(prefixes):
        if not prefix.startswith(("/usr/", "/bin", "/lib")) and prefix != "/usr":
            binds += ["--ro-bind", prefix, prefix]
    if os.path.realpath(sys.prefix) != sys.prefix:
        binds += ["--ro-bind", sys.prefix, sys.prefix]
    return binds


@functools.lru_cache(maxsize=1)
def kernel_package() -> Path:
    """A folder with only what the kernel imports from this project: the package
    ``autograder.kernel`` (the wire, the kernel's main loop, the measurements, the rules:
    no expected values) under an empty ``autograder``, and mount points for ``course_utils``
    (a link is not enough inside the sandbox, so it is bound separately) and ``data``. The
    checks, their hidden cases and the grader's code are not in it."""
    import hashlib

    import autograder.kernel

    here = Path(autograder.kernel.__file__).resolve().parent
    files = {f"autograder/kernel/{path.name}": path for path in sorted(here.glob("*.py"))}
    digest = hashlib.sha256(b"mount points: course_utils, data")
    for name, path in files.items():
        digest.update(name.encode() + b"\0" + path.read_bytes())
    root = Path(tempfile.gettempdir()) / f"cnn-course-kernel-{digest.hexdigest()[:16]}"
    if root.is_dir():
        return root
    building = Path(tempfile.mkdtemp(prefix="cnn-course-kernel-build-"))
    for name, path in files.items():
        (building / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, building / name)
    (building / "autograder" / "__init__.py").write_text("")
    for mount_point in ("course_utils", "data"):  # where the sandbox binds them
        (building / mount_point).mkdir()
    folders = [building, building / "autograder", building / "autograder" / "kernel"]
    for folder in [*folders, building / "course_utils", building / "data"]:
        folder.chmod(0o755)
    try:
        building.rename(root)
    except OSError:  # another grading process made it first
        shutil.rmtree(building, ignore_errors=True)
    return root


def _project_paths() -> tuple[Path, Path | None]:
    import course_utils

    package = Path(course_utils.__file__).resolve().parent
    from course_utils.data import data_dir

    try:
        data = data_dir()
    except Exception:
        data = None
    return package, data


# --- starting and stopping a kernel ------------------------------------------------------------------


class KernelProcess:
    """One student kernel: started sandboxed, with limits, and killed with its whole tree.

    Args:
        submission_dir: the folder whose files the kernel's working directory starts with.
        argv: the command, run with the sandbox's Python (``[python, ...]`` is prepended).
        env: the environment of the kernel (nothing else of the grader's is passed).
        pass_fds: file descriptors the kernel inherits (the grading channel).
        limits: the resource limits.
        sandbox: use bubblewrap when it works here.
    """

    def __init__(
        self,
        submission_dir: Path,
        argv: list[str],
        env: dict[str, str],
        pass_fds: tuple[int, ...],
        limits: Limits,
        sandbox: bool = True,
    ) -> None:
        self.limits = limits
        self.protections = detect_protections()
        self.sandboxed = sandbox and self.protections.bubblewrap
        self.cgroup = _Cgroup(limits) if self.protections.cgroup else None
        self.log = tempfile.TemporaryFile()
        self.workdir: Path | None = None
        self.started = time.monotonic()
        kernel_root = kernel_package()
        package, data = _project_paths()
        env = dict(env)
        python = sys.executable
        if self.sandboxed:
            env.update(
                HOME=SANDBOX_HOME,
                PYTHONPATH=KERNEL_ROOT,
                TMPDIR="/tmp",
                **{COPY_FROM_VARIABLE: "/submission"},
                MPLCONFIGDIR="/tmp/matplotlib",
            )
            if data is not None:
                env["CNN_COURSE_DATA"] = f"{KERNEL_ROOT}/data"
            command = [
                shutil.which("bwrap") or "bwrap",
                # /tmp first: binds that follow may lie under it (a virtual environment or a
                # checkout in /tmp), and a tmpfs mounted after them would hide them.
                "--size",
                str(limits.disk_bytes),
                "--tmpfs",
                "/tmp",
                *_bwrap_system_binds(),
                "--ro-bind",
                str(kernel_root),
                KERNEL_ROOT,
                "--ro-bind",
                str(package),
                f"{KERNEL_ROOT}/course_utils",
                *(["--ro-bind", str(data), f"{KERNEL_ROOT}/data"] if data else []),
                "--dev",
                "/dev",
                "--proc",
                "/proc",
                "--size",
                str(limits.disk_bytes),
                "--tmpfs",
                SANDBOX_HOME,
                "--ro-bind",
                str(submission_dir),
                "/submission",
                "--chdir",
                SANDBOX_HOME,
                "--unshare-all",
                "--die-with-parent",
                "--new-session",
                "--clearenv",
                *[item for key, value in env.items() for item in ("--setenv", key, value)],
                python,
                *argv,
            ]
            cwd = "/"
            run_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        else:
            self.workdir = Path(tempfile.mkdtemp(prefix="cnn-course-kernel-"))
            shutil.copytree(submission_dir, self.workdir, dirs_exist_ok=True)
            env.update(
                HOME=str(self.workdir),
                PYTHONPATH=str(kernel_root) + os.pathsep + str(package.parent),
                MPLCONFIGDIR=str(self.workdir / ".matplotlib"),
            )
            if data is not None:
                env["CNN_COURSE_DATA"] = str(data)
            command = [python, *argv]
            cwd = str(self.workdir)
            run_env = env
        cgroup = self.cgroup

        def prepare() -> None:  # runs in the child, before exec
            if cgroup is not None:
                cgroup.enter()
            _apply_rlimits(limits)

        self.process = subprocess.Popen(
            command,
            cwd=cwd,
            env=run_env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self.log,
            pass_fds=pass_fds,
            start_new_session=True,
            preexec_fn=prepare,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def ended(self) -> str | None:
        """None while the kernel runs; else why it ended, in words."""
        code = self.process.poll()
        if code is None:
            return None
        return self._describe_end(code)

    def _describe_end(self, code: int) -> str:
        tail = self.stderr_tail()
        if self.cgroup is not None and self.cgroup.oom_killed():
            return "the kernel ran out of memory (memory limit) and was killed"
        if "MemoryError" in tail:
            return "the kernel ran out of memory (memory limit)"
        if "File too large" in tail:
            return "the kernel died: it wrote a file over the size limit"
        if code < 0 or code > 128:
            number = -code if code < 0 else code - 128
            name = (
                signal.Signals(number).name
                if number in signal.Signals._value2member_map_
                else str(number)
            )
            why = {
                "SIGXCPU": "it used up its CPU time",
                "SIGXFSZ": "it wrote a file over the size limit",
                "SIGKILL": "killed (out of memory, or stopped by the grader)",
                "SIGSEGV": "it crashed (segmentation fault)",
            }.get(name, f"signal {name}")
            return f"the kernel died: {why}"
        if "Traceback" in tail:
            last = tail.strip().splitlines()[-1][:200]
            return f"the kernel died ({last})"
        return f"the kernel exited with status {code} (the notebook's code ended it)"

    def stderr_tail(self, size: int = 4096) -> str:
        with contextlib.suppress(OSError):
            self.log.seek(0, os.SEEK_END)
            end = self.log.tell()
            self.log.seek(max(0, end - size))
            return self.log.read().decode("utf-8", "replace")
        return ""

    def kill(self) -> None:
        """Kill the kernel and every process it started; remove its files."""
        if self.cgroup is not None:
            self.cgroup.kill()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
        self.log.close()


def _apply_rlimits(limits: Limits) -> None:
    def cap(kind: int, value: int, hard_extra: int = 0) -> None:
        soft, hard = resource.getrlimit(kind)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
            hard_extra = 0
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(kind, (value, value + hard_extra))

    # The soft CPU limit sends SIGXCPU (named in the reason); the hard one, a second later, KILL.
    cap(resource.RLIMIT_CPU, int(limits.cpu_seconds), 1)
    cap(resource.RLIMIT_AS, int(limits.memory_bytes))
    cap(resource.RLIMIT_FSIZE, int(limits.file_size_bytes))
    cap(resource.RLIMIT_NOFILE, int(limits.open_files))
    cap(resource.RLIMIT_CORE, 0)
    if os.geteuid() != 0 and os.path.isdir("/proc"):
        cap(resource.RLIMIT_NPROC, int(limits.processes) + _processes_of_this_user())


def _processes_of_this_user() -> int:
    uid = os.getuid()
    count = 0
    with contextlib.suppress(OSError):
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                with contextlib.suppress(OSError):
                    if os.stat(f"/proc/{entry}").st_uid == uid:
                        count += len(os.listdir(f"/proc/{entry}/task"))
    return count
