"""Grading one notebook out of the student's process: run its cells in a sandboxed kernel, run
its test cells in the grader, and decide each test cell's points here.

How a notebook is graded (``grade_notebook``):

1. The kernel (``autograder.remote``, inside ``autograder.sandbox``) starts in a copy of the
   submission's folder. The grader sends it every code cell that is not a test cell, in order,
   and keeps the outputs for the feedback. A cell that runs past its deadline is interrupted.
2. A test (autograded grade) cell is NOT run in the kernel. Its source is the instructor's
   (nbgrader has already put back the source notebook's version, hidden tests included). The
   grader reads which names the cell uses; names the notebook's locked cells import
   (``math``, ``np``, ``from course_utils.train import evaluate``) are imported here, and the
   others (the student's functions, classes and values) are asked from the kernel AT THAT
   POINT of the notebook: plain data arrives as itself, functions and other objects as
   proxies (``autograder.remote.Remote``). The cell then runs in the grader: every check
   calls the proxies, the kernel calls the real functions, and only plain data comes back.
   Hidden cases are drawn here, from the grader's seed; their expected answers and the check
   code never reach the kernel.
3. The verdict of a test cell is the grader's: it passes when the cell ran without an
   exception here. ``record_verdicts`` writes the points into nbgrader's gradebook, so
   formgrader, feedback and export read the grader's decision and never the kernel's outputs.
   A kernel that dies, runs out of time or breaks the protocol scores 0 on every test cell
   still to come, with the reason in the notebook and in the report.

The banned-library rule (``autograder.checks._rules``) normally inspects the function object.
A proxy has no code to inspect, so while a test cell runs, ``_rules.find_banned`` of a proxy
reads the student's SOURCE instead (``banned_uses``: every name, attribute chain and import
the function and its helpers use, resolved through the notebook's imports, in the grader),
and ``_rules.guard`` and ``_rules.count_lines`` of a proxy run in the kernel, next to the
student's code. The static reading decides alone; the kernel's runtime guard can only add a
refusal. The line count of ``check_conv_fast`` is measured in the kernel and is the one number
a determined student could forge; it earns only the vectorisation points, whose correctness
half the grader still checks.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import io
import os
import socket
import sys
import time
import traceback
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autograder import remote
from autograder.sandbox import KernelProcess, Limits

TIMEOUT_ERROR_NAME = "CellTimeoutError"
KERNEL_LOST_ERROR_NAME = "KernelLost"
START_SECONDS = 120.0


@dataclass
class Verdict:
    """The grader's decision on one test cell.

    Attributes:
        grade_id: the cell's nbgrader id.
        points: what the cell is worth; ``score`` is ``points`` when it passed, else 0.
        passed: the cell ran without an exception in the grader.
        reason: for a failed cell, the first line of what went wrong.
        timed_out: the cell was stopped at its deadline.
    """

    grade_id: str
    points: float
    passed: bool
    reason: str = ""
    timed_out: bool = False

    @property
    def score(self) -> float:
        return self.points if self.passed else 0.0


@dataclass
class NotebookResult:
    """What grading one notebook gave: the verdicts, and notes for the instructor."""

    verdicts: list[Verdict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    kernel_lost: str | None = None


# --- which names a test cell needs ----------------------------------------------------------


def _python_source(source: str) -> str:
    """The cell as plain Python (IPython magics turned into calls)."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        return TransformerManager().transform_cell(source)
    except Exception:
        return source


def free_names(tree: ast.AST) -> list[str]:
    """Names a cell reads without binding them itself (and that are not builtins)."""
    loaded, bound = [], set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Load):
                loaded.append(node.id)
            else:
                bound.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                bound.add((alias.asname or alias.name).split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    return [
        n
        for n in dict.fromkeys(loaded)
        if n not in bound and not hasattr(builtins, n) and n != "get_ipython"
    ]


def locked_imports(cells: list) -> dict[str, ast.stmt]:
    """Top-level import statements of the locked, non-solution code cells: name -> statement."""
    found: dict[str, ast.stmt] = {}
    for cell in cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.get("cell_type") != "code" or not meta.get("locked") or meta.get("solution"):
            continue
        try:
            tree = ast.parse(_python_source(_text(cell.get("source", ""))))
        except SyntaxError:
            continue
        for statement in tree.body:
            if isinstance(statement, (ast.Import, ast.ImportFrom)):
                for alias in statement.names:
                    one = ast.copy_location(
                        type(statement)(**{**statement.__dict__, "names": [alias]}), statement
                    )
                    found[(alias.asname or alias.name).split(".")[0]] = one
    return found


def _text(source: Any) -> str:
    return "".join(source) if isinstance(source, list) else str(source)


# --- the banned-library rule, read from the student's source -----------------------------------

_DYNAMIC = {"__import__", "exec", "eval", "compile", "globals", "vars", "importlib"}


class _Bindings:
    """Top-level bindings of the notebook cells before a test cell, in order."""

    def __init__(self, sources: list[str]) -> None:
        self.names: dict[str, tuple[str, Any]] = {}
        for source in sources:
            try:
                tree = ast.parse(_python_source(source))
            except SyntaxError:
                continue
            self._statements(tree.body)

    def _statements(self, body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        self.names[alias.asname] = ("module", alias.name)
                    else:
                        top = alias.name.split(".")[0]
                        self.names[top] = ("module", top)
            elif isinstance(node, ast.ImportFrom):
                for alias in node.names:
                    origin = f"{node.module or ''}.{alias.name}".strip(".")
                    self.names[alias.asname or alias.name] = ("module", origin)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                self.names[node.name] = ("def", node)
            elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    for name in ast.walk(target):
                        if isinstance(name, ast.Name) and node.value is not None:
                            self.names[name.id] = ("expr", node.value)
            elif isinstance(node, (ast.If, ast.Try, ast.With, ast.For, ast.While)):
                for part in ("body", "orelse", "finalbody"):
                    self._statements(getattr(node, part, []) or [])
                for handler in getattr(node, "handlers", []) or []:
                    self._statements(handler.body)


def _dotted(node: ast.AST) -> tuple[str, list[str]] | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return node.id, list(reversed(parts))
    return None


def banned_uses(sources: list[str], name: str) -> list[str]:
    """Every banned library that the function bound to ``name`` uses, read from the source.

    ``sources`` are the notebook's code cells up to the test cell. Names, attribute chains and
    imports in the function and in every helper it reaches are resolved through the cells'
    imports; ``exec``, ``eval``, ``__import__`` and ``importlib`` count as banned too, since
    they hide what is imported. A name with no definition in the notebook is reported.
    """
    from autograder.checks._rules import banned_prefix

    bindings = _Bindings(sources)
    found: list[str] = []
    seen: set[int] = set()

    def resolve(base: str, attrs: list[str], where: str, local: dict) -> None:
        binding = local.get(base) or bindings.names.get(base)
        if base in _DYNAMIC and binding is None:
            found.append(f"{base} (in {where}), which hides what runs")
            return
        if binding is None:
            return
        kind, value = binding
        if kind == "module":
            dotted = ".".join([value, *attrs])
            if banned_prefix(dotted) or value.split(".")[0] == "importlib":
                shown = ".".join([base, *attrs])
                found.append(
                    f"{dotted} ({shown} in {where})"
                    if shown != dotted
                    else f"{dotted} (in {where})"
                )
        elif kind in ("def", "expr"):
            visit(value, base if kind == "def" else where)

    def visit(node: ast.AST, where: str) -> None:
        if id(node) in seen:
            return
        seen.add(id(node))
        local: dict[str, tuple[str, Any]] = {}
        # Names the function binds itself (arguments, assignments, loop variables) shadow the
        # notebook's: `F, C, HH, WW = w.shape` is not torch.nn.functional.
        for inner in ast.walk(node):
            if isinstance(inner, ast.Name) and not isinstance(inner.ctx, ast.Load):
                local[inner.id] = ("local", None)
            elif isinstance(inner, ast.arg):
                local[inner.arg] = ("local", None)
        for inner in ast.walk(node):
            if isinstance(inner, ast.Import):
                for alias in inner.names:
                    local[(alias.asname or alias.name).split(".")[0]] = (
                        "module",
                        alias.name if alias.asname else alias.name.split(".")[0],
                    )
                    if banned_prefix(alias.name):
                        found.append(f"import {alias.name} (in {where})")
            elif isinstance(inner, ast.ImportFrom):
                module = inner.module or ""
                for alias in inner.names:
                    local[alias.asname or alias.name] = ("module", f"{module}.{alias.name}")
                if banned_prefix(module):
                    found.append(f"from {module} import ... (in {where})")
        for inner in ast.walk(node):
            if isinstance(inner, ast.Attribute) and isinstance(inner.ctx, ast.Load):
                chain = _dotted(inner)
                if chain:
                    resolve(chain[0], chain[1], where, local)
            elif isinstance(inner, ast.Name) and isinstance(inner.ctx, ast.Load):
                resolve(inner.id, [], where, local)

    binding = bindings.names.get(name)
    if binding is None:
        return [f"no definition of {name} in the notebook (define it with def)"]
    kind, value = binding
    if kind == "module":
        resolve(name, [], name, {})
    else:
        visit(value, name)
    return list(dict.fromkeys(found))


# What a notebook would touch to forge a line count measured in its own process: Python's
# tracing, the counting code itself, and the doors that hide what is called. Names are looked
# for as names (``eval``, not ``model.eval()``), attributes as attributes.
_TRACING_NAMES = frozenset(
    {
        "__import__",
        "importlib",
        "exec",
        "eval",
        "compile",
        "__builtins__",
        "builtins",
        "globals",
        "vars",
        "ctypes",
        "autograder",
        "_rules",
        "count_lines",
        "sys",
    }
)
_TRACING_ATTRIBUTES = frozenset(
    {
        "settrace",
        "gettrace",
        "setprofile",
        "getprofile",
        "f_trace",
        "f_trace_lines",
        "monitoring",
        "_getframe",
        "count_lines",
        "_rules",
        "__builtins__",
        "__dict__",
        "__code__",
        "__globals__",
    }
)


def tracing_uses(sources: list[str]) -> list[str]:
    """Where the notebook's cells touch what a forged line count would need (read from the
    source, in the grader): tracing, the counting code, ``exec`` and its kin, module tables,
    and ``getattr`` with a computed name. Honest vectorised code uses none of them."""
    from autograder.colab import is_setup_source

    found: list[str] = []
    for number, source in enumerate(sources, start=1):
        if is_setup_source(source):  # the release's own Colab cell (it uses sys, importlib)
            continue
        try:
            tree = ast.parse(_python_source(source))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            word = None
            if isinstance(node, ast.Name) and node.id in _TRACING_NAMES:
                word = node.id
            elif isinstance(node, ast.Attribute) and node.attr in _TRACING_ATTRIBUTES:
                word = node.attr
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
                names += [alias.name for alias in node.names]
                word = next(
                    (
                        n
                        for n in names
                        for part in n.split(".")
                        if part in _TRACING_NAMES | _TRACING_ATTRIBUTES
                    ),
                    None,
                )
            elif (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and node.value in _TRACING_ATTRIBUTES
            ):
                word = repr(node.value)
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("getattr", "setattr", "delattr")
                and len(node.args) >= 2
                and not isinstance(node.args[1], ast.Constant)
            ):
                word = f"{node.func.id} with a computed name"
            if word is not None:
                found.append(f"{word} (code cell {number} of the answers so far)")
    return list(dict.fromkeys(found))


@contextlib.contextmanager
def _remote_rules(variable_of: dict[int, str], sources: list[str]) -> Iterator[None]:
    """While a test cell runs: the rules of ``autograder.checks._rules`` applied to proxies."""
    from autograder.checks import _rules

    original = (_rules.find_banned, _rules.guard, _rules.count_lines)
    find_banned, guard, count_lines = original

    def remote_find_banned(func):
        if isinstance(func, remote.Remote):
            name = variable_of.get(id(func), func.__name__)
            return banned_uses(sources, name)
        return find_banned(func)

    def remote_guard(func, name):
        if not isinstance(func, remote.Remote):
            return guard(func, name)

        def guarded(*args, **kwargs):
            with remote.call_options(guard=name):
                return func(*args, **kwargs)

        guarded.__name__ = func.__name__
        return guarded

    def remote_count_lines(func, *args, stop_after=None):
        if not isinstance(func, remote.Remote):
            return count_lines(func, *args, stop_after=stop_after)
        # The count is made in the student's process; it is trusted only when the notebook
        # leaves alone everything a forged count would need.
        touched = tracing_uses(sources)
        if touched:
            raise AssertionError(
                "the line count of your function is measured while it runs, and your notebook "
                f"uses what could change that measurement: {'; '.join(touched[:5])}. Remove "
                "it (a vectorised convolution needs none of it) and run the check again."
            )
        with remote.call_options(count_lines=int(stop_after if stop_after is not None else 10**9)):
            value = func(*args)
        if not (isinstance(value, tuple) and len(value) == 2 and type(value[1]) is int):
            raise AssertionError("the kernel did not report a line count")
        return value

    _rules.find_banned, _rules.guard, _rules.count_lines = (
        remote_find_banned,
        remote_guard,
        remote_count_lines,
    )
    try:
        yield
    finally:
        _rules.find_banned, _rules.guard, _rules.count_lines = original


# --- running a test cell in the grader -------------------------------------------------------------


@contextlib.contextmanager
def _warnings_shown_in(stream: io.StringIO) -> Iterator[None]:
    """Within the block, every warning (the student's, repeated by ``remote``) is written to
    ``stream`` as the notebook would show it, whatever this process's warning filters and
    handlers are (a worker forked from a test runner inherits the runner's)."""

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        stream.write(warnings.formatwarning(message, category, filename, lineno, line))

    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = show
        yield


def _error_output(ename: str, evalue: str, lines: list[str]) -> dict:
    return {"output_type": "error", "ename": ename, "evalue": evalue, "traceback": lines}


def _timeout_output(seconds: float) -> dict:
    message = f"timed out after {seconds:g} s"
    return _error_output(
        TIMEOUT_ERROR_NAME, message, [f"{TIMEOUT_ERROR_NAME}: {message} (the cell was stopped)"]
    )


def _traceback_lines(error: BaseException, filename: str) -> list[str]:
    """The frames of the test cell only, then the exception: no grader internals."""
    frames = [
        frame for frame in traceback.extract_tb(error.__traceback__) if frame.filename == filename
    ]
    lines = ["Traceback (most recent call last):"]
    for frame in frames:
        lines.append(f'  Cell "{frame.filename}", line {frame.lineno}')
        if frame.line:
            lines.append(f"    {frame.line}")
    lines.append(f"{type(error).__name__}: {error}")
    return lines


def run_test_cell(
    client: remote.KernelClient,
    source: str,
    grade_id: str,
    points: float,
    imports: dict[str, ast.stmt],
    earlier_sources: list[str],
    timeout: float,
) -> tuple[Verdict, list[dict]]:
    """Run one test cell in the grader against the kernel's current names.

    Returns the verdict and the cell's outputs (what it printed, or the error).
    """
    filename = f"<test cell {grade_id}>"
    try:
        tree = ast.parse(_python_source(source), filename=filename)
    except SyntaxError as error:
        message = f"the test cell is not valid Python ({error.msg}, line {error.lineno})"
        return Verdict(grade_id, points, False, message), [
            _error_output("SyntaxError", message, [message])
        ]
    namespace: dict[str, Any] = {"__name__": "__cnn_course_test__", "__builtins__": builtins}
    wanted = free_names(tree)
    grader_side = [n for n in wanted if n in imports]
    for name in grader_side:
        exec(compile(ast.Module([imports[name]], []), "<locked imports>", "exec"), namespace)
    captured = io.StringIO()
    outputs: list[dict] = []
    verdict = Verdict(grade_id, points, True)
    try:
        with client.deadline(timeout) as state:
            values = client.snapshot([n for n in wanted if n not in grader_side])
            namespace.update(values)
            variable_of = {id(v): k for k, v in values.items() if isinstance(v, remote.Remote)}
            with (
                _remote_rules(variable_of, earlier_sources),
                contextlib.redirect_stdout(captured),
                contextlib.redirect_stderr(captured),
                _warnings_shown_in(captured),
            ):
                exec(compile(tree, filename, "exec"), namespace)
    except remote.CallTimeout:
        verdict = Verdict(grade_id, points, False, f"timed out after {timeout:g} s", True)
        outputs.append(_timeout_output(timeout))
    except remote.KernelLost as lost:
        verdict = Verdict(grade_id, points, False, str(lost))
        outputs.append(
            _error_output(KERNEL_LOST_ERROR_NAME, str(lost), [f"{KERNEL_LOST_ERROR_NAME}: {lost}"])
        )
    except BaseException as error:  # every failure of the cell is its verdict
        if isinstance(error, KeyboardInterrupt):
            raise
        first = (str(error).strip().splitlines() or [""])[0]
        verdict = Verdict(grade_id, points, False, f"{type(error).__name__}: {first}"[:300])
        outputs.append(
            _error_output(type(error).__name__, str(error), _traceback_lines(error, filename))
        )
    else:
        if state["interrupted"]:
            verdict = Verdict(grade_id, points, False, f"timed out after {timeout:g} s", True)
            outputs.append(_timeout_output(timeout))
    if captured.getvalue():
        outputs.insert(0, {"output_type": "stream", "name": "stdout", "text": captured.getvalue()})
    if client.lost is None:
        with contextlib.suppress(remote.KernelLost, remote.CallTimeout), client.deadline(30):
            client.release()
    return verdict, outputs


# --- one notebook -------------------------------------------------------------------------------------


def _is_test_cell(cell) -> bool:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return cell.get("cell_type") == "code" and bool(meta.get("grade")) and not meta.get("solution")


def _cap_outputs(outputs: list, limit: int) -> list:
    """Keep outputs within ``limit`` characters of text in all (the kernel's own cap may lie)."""
    kept, left = [], limit
    for output in outputs if isinstance(outputs, list) else []:
        if not isinstance(output, dict) or output.get("output_type") not in (
            "stream",
            "display_data",
            "execute_result",
            "error",
        ):
            continue
        size = len(str(output))
        if size > left:
            kept.append(
                {
                    "output_type": "stream",
                    "name": "stdout",
                    "text": "[output truncated: limit reached]\n",
                }
            )
            break
        left -= size
        kept.append(output)
    return kept


def grade_notebook(
    nb,
    submission_dir: Path,
    *,
    timeout: float,
    limits: Limits,
    env: dict[str, str],
    sandbox: bool = True,
) -> NotebookResult:
    """Grade ``nb`` (an nbformat notebook whose locked and test cells are the source's) with a
    kernel started in a copy of ``submission_dir``. Fills in the cells' outputs; returns the
    verdict of every test cell."""
    import nbformat

    result = NotebookResult()
    ours, theirs = socket.socketpair()
    interrupt_read, interrupt_write = os.pipe()
    kernel_env = dict(env)
    kernel_env["CNN_COURSE_OUTPUT_LIMIT"] = str(limits.output_bytes)
    kernel_env.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    kernel_env.setdefault("PYTHONHASHSEED", "0")
    kernel_env.setdefault("LANG", "C.UTF-8")
    kernel = KernelProcess(
        submission_dir,
        ["-m", "autograder.remote", str(theirs.fileno()), str(interrupt_read)],
        kernel_env,
        (theirs.fileno(), interrupt_read),
        limits,
        sandbox=sandbox,
    )
    theirs.close()
    os.close(interrupt_read)

    def interrupt() -> None:
        with contextlib.suppress(OSError):
            os.write(interrupt_write, b"!")

    client = remote.KernelClient(ours, interrupt, kernel.ended)
    deadline = time.monotonic() + limits.wall_seconds
    imports = locked_imports(nb.cells)
    sources: list[str] = []
    try:
        try:
            client.wait_ready(START_SECONDS)
        except remote.KernelLost as lost:
            client.lost = str(lost)
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            meta = cell.metadata.get("nbgrader", {})
            label = f"cell {index + 1}" + (f" ({meta['grade_id']})" if meta.get("grade_id") else "")
            left = deadline - time.monotonic()
            if client.lost is None and left <= 0:
                client.lost = f"the notebook ran past its wall time of {limits.wall_seconds:g} s"
                kernel.kill()
            cell_timeout = max(0.1, min(timeout, left))
            if _is_test_cell(cell):
                points = float(meta.get("points", 0) or 0)
                if client.lost is not None:
                    verdict = Verdict(meta.get("grade_id", label), points, False, client.lost)
                    outputs = [
                        _error_output(
                            KERNEL_LOST_ERROR_NAME,
                            client.lost,
                            [f"{KERNEL_LOST_ERROR_NAME}: {client.lost} (this test scores 0)"],
                        )
                    ]
                else:
                    verdict, outputs = run_test_cell(
                        client,
                        _text(cell.source),
                        meta.get("grade_id", label),
                        points,
                        imports,
                        list(sources),
                        cell_timeout,
                    )
                    if verdict.timed_out:
                        result.notes.append(f"{label} timed out after {cell_timeout:g} s")
                result.verdicts.append(verdict)
            else:
                sources.append(_text(cell.source))
                if client.lost is not None:
                    outputs = []
                else:
                    try:
                        with client.deadline(cell_timeout) as state:
                            outputs = _cap_outputs(
                                client.run_cell(_text(cell.source)), limits.output_bytes
                            )
                        if state["interrupted"]:
                            outputs = [o for o in outputs if o.get("output_type") != "error"]
                            outputs.append(_timeout_output(cell_timeout))
                            result.notes.append(f"{label} timed out after {cell_timeout:g} s")
                    except remote.KernelLost as lost:
                        outputs = [
                            _error_output(
                                KERNEL_LOST_ERROR_NAME,
                                str(lost),
                                [f"{KERNEL_LOST_ERROR_NAME}: {lost}"],
                            )
                        ]
            cell.outputs = [
                nbformat.from_dict(o) for o in _cap_outputs(outputs, limits.output_bytes)
            ]
        result.kernel_lost = client.lost
        if client.lost:
            result.notes.append(client.lost)
        else:
            client.shutdown()
    finally:
        kernel.kill()
        ours.close()
        os.close(interrupt_write)
    return result


def record_verdicts(
    gb, assignment: str, student: str, notebook: str, verdicts: list[Verdict]
) -> None:
    """Write the grader's verdicts into nbgrader's gradebook (auto_score of each test cell)."""
    for verdict in verdicts:
        try:
            grade = gb.find_grade(verdict.grade_id, notebook, assignment, student)
        except Exception:
            continue
        grade.auto_score = verdict.score
        grade.needs_manual_grade = False
    gb.db.commit()


def _stderr(*parts: Any) -> None:
    print(*parts, file=sys.stderr)
