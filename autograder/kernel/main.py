"""The kernel: the process that runs a student's notebook while it is graded.

``python -m autograder.kernel SOCKET_FD INTERRUPT_FD`` starts it (inside the sandbox of
``autograder.isolation.sandbox``, or as a plain process). It talks to the grader over the wire
of ``autograder.kernel.wire``: it runs the cells it is sent (``run``), reports the values bound
to the names a test cell needs (``snapshot``; functions and other objects travel as
references), and calls its objects when the grader's checks call their proxies (``call``,
``getattr``, ``len``, ``iter``). A call may ask for the banned-library guard or the line count
of ``autograder.kernel.rules``, or for a measurement of ``autograder.kernel.measure``, to be
applied where the student's code runs.

This package (``autograder.kernel``) is exactly what the sandbox ships of the autograder: the
checks, their hidden cases and the grader's code stay outside.
"""

from __future__ import annotations

import contextlib
import io
import os
import socket
import sys
import threading
import warnings
from collections.abc import Callable
from typing import Any

from autograder.kernel import rules
from autograder.kernel.wire import (
    MAX_ITER_ITEMS,
    SIDE_LIMIT,
    ChannelClosed,
    Codec,
    Connection,
    ProtocolError,
    error_text,
)

#: Environment variables the sandbox sets for the kernel.
COPY_FROM_VARIABLE = (
    "CNN_COURSE_COPY_FROM"  # a folder whose files the working directory starts with
)
OUTPUT_LIMIT_VARIABLE = "CNN_COURSE_OUTPUT_LIMIT"  # characters of output one cell may leave


def _kernel_export_policy(obj: Any) -> bool:
    return True


def _make_shell():
    """An IPython shell whose errors are kept as (ename, evalue, traceback) for the notebook."""
    from IPython.core.interactiveshell import InteractiveShell

    class KernelShell(InteractiveShell):
        last_error: tuple | None = None

        def enable_gui(self, gui=None):
            # Figures are captured as display data (the inline backend); there is no GUI here.
            pass

        def _showtraceback(self, etype, evalue, stb):
            self.last_error = (etype.__name__, error_text(evalue), list(stb))

    shell = KernelShell.instance(colors="NoColor")
    shell.history_manager.enabled = False
    return shell


def _outputs_of(captured, result, shell, limit: int) -> list[dict]:
    """nbformat outputs of one cell, with the text capped at ``limit`` characters."""
    outputs: list[dict] = []
    budget = [limit]

    def cap(text: str) -> str:
        if len(text) <= budget[0]:
            budget[0] -= len(text)
            return text
        kept = text[: max(budget[0], 0)]
        budget[0] = 0
        return kept + "\n[output truncated]\n"

    for name, text in (("stdout", captured.stdout), ("stderr", captured.stderr)):
        if text:
            outputs.append({"output_type": "stream", "name": name, "text": cap(text)})
    for display in captured.outputs:
        data = {}
        for mime, value in display.data.items():
            if mime in ("text/plain", "image/png", "text/html", "text/markdown", "image/svg+xml"):
                if isinstance(value, bytes):
                    import base64

                    value = base64.b64encode(value).decode("ascii")
                value = value if isinstance(value, str) else str(value)
                data[mime] = cap(value)
        if data:
            outputs.append({"output_type": "display_data", "data": data, "metadata": {}})
    if result is not None and result.result is not None and not captured.outputs:
        with contextlib.suppress(Exception):
            text = repr(result.result)
            outputs.append(
                {
                    "output_type": "execute_result",
                    "data": {"text/plain": cap(text)},
                    "metadata": {},
                    "execution_count": None,
                }
            )
    if shell.last_error is not None:
        ename, evalue, traceback = shell.last_error
        outputs.append(
            {
                "output_type": "error",
                "ename": ename[:200],
                "evalue": cap(evalue),
                "traceback": [cap(line) for line in traceback[-40:]],
            }
        )
    return outputs


def _private_measurements() -> dict[str, Callable[..., Any]]:
    """The measurements of a fresh copy of ``autograder.kernel.measure`` that no import
    returns."""
    import importlib.util

    spec = importlib.util.find_spec("autograder.kernel.measure")
    if spec is None or spec.loader is None:
        raise ImportError("autograder.kernel.measure is missing from the kernel's path")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return dict(module.MEASUREMENTS)


def kernel_main(sock_fd: int, interrupt_fd: int) -> None:
    """The kernel: run the cells it is sent, serve the names a test cell asks for."""
    import signal

    signal.signal(signal.SIGINT, signal.default_int_handler)
    copy_from = os.environ.pop(COPY_FROM_VARIABLE, None)
    if copy_from:
        import shutil

        shutil.copytree(copy_from, os.getcwd(), dirs_exist_ok=True)
    sock = socket.socket(fileno=sock_fd)
    output_limit = int(os.environ.get(OUTPUT_LIMIT_VARIABLE, str(1 << 20)))
    # The measurements come from a private copy of autograder.kernel.measure, loaded before any
    # cell runs and kept out of sys.modules: a cell that imports the module and replaces
    # a measurement, or a helper it calls, changes another module than the one that serves
    # the grader's requests.
    measurements = _private_measurements()
    shell = _make_shell()
    codec = Codec(_kernel_export_policy)
    busy = threading.Event()

    main_thread = threading.main_thread().ident

    def watch_interrupts() -> None:
        # A real SIGINT to the main thread also wakes a sleep or a blocking call.
        with contextlib.suppress(OSError):
            while os.read(interrupt_fd, 1):
                if busy.is_set():
                    signal.pthread_kill(main_thread, signal.SIGINT)

    threading.Thread(target=watch_interrupts, daemon=True).start()

    def run(header: dict, buffers: list) -> Any:
        from IPython.utils.capture import capture_output

        source = header.get("source")
        if not isinstance(source, str):
            raise ProtocolError("run needs a source string")
        shell.last_error = None
        busy.set()
        try:
            with capture_output(display=True) as captured:
                result = shell.run_cell(source, store_history=False, silent=False)
        except KeyboardInterrupt:
            result = None
            shell.last_error = ("KeyboardInterrupt", "interrupted", ["KeyboardInterrupt"])
        finally:
            busy.clear()
        return _outputs_of(captured, result, shell, output_limit)

    def snapshot(header: dict, buffers: list) -> Any:
        names = header.get("names")
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ProtocolError("snapshot needs a list of names")
        found = {}
        for name in names:
            if name in shell.user_ns:
                found[name] = shell.user_ns[name]
        return found

    def target(header: dict) -> Any:
        ref = header.get("target")
        if ref not in codec.exports:
            raise ProtocolError(f"no object {ref!r} here")
        return codec.exports[ref]

    def call(header: dict, buffers: list) -> Any:
        func = target(header)
        arguments: list = []
        codec.recording = arguments
        try:
            args = codec.decode(header.get("args", []), buffers)
            kwargs = codec.decode(header.get("kwargs", {"$": "dict", "k": [], "v": []}), buffers)
        finally:
            codec.recording = None
        connection.track(header.get("id"), arguments)
        options = header.get("options") or {}
        if not isinstance(args, list) or not isinstance(kwargs, dict):
            raise ProtocolError("call arguments must be a list and a dict")
        if options.get("guard"):
            func = rules.guard(func, str(options["guard"]))
        if options.get("measure") is not None:
            measured, subject = measurements.get(str(options["measure"])), func
            if measured is None:
                raise ProtocolError(f"no measurement {options['measure']!r} here")

            def func(*a, **k):
                return measured(subject, *a, **k)

        if options.get("count_lines") is not None:
            stop, inner = int(options["count_lines"]), func

            def func(*a, **k):
                return rules.count_lines(inner, *a, stop_after=stop)

        out, err = io.StringIO(), io.StringIO()
        busy.set()
        try:
            with (
                warnings.catch_warnings(record=True) as caught,
                contextlib.redirect_stdout(out),
                contextlib.redirect_stderr(err),
            ):
                warnings.simplefilter("always")
                return func(*args, **kwargs)
        finally:
            busy.clear()
            said = {
                "stdout": out.getvalue()[:SIDE_LIMIT],
                "stderr": err.getvalue()[:SIDE_LIMIT],
                "warnings": [
                    [w.category.__name__[:100], str(w.message)[:SIDE_LIMIT]] for w in caught[:20]
                ],
            }
            if any(said.values()):
                connection.said = said

    def getattr_(header: dict, buffers: list) -> Any:
        return getattr(target(header), str(header.get("source")))

    def len_(header: dict, buffers: list) -> Any:
        return len(target(header))

    def iter_(header: dict, buffers: list) -> Any:
        items = []
        for item in target(header):
            items.append(item)
            if len(items) > MAX_ITER_ITEMS:
                raise ValueError(f"more than {MAX_ITER_ITEMS} items")
        return items

    def release(header: dict, buffers: list) -> Any:
        codec.exports.clear()
        return None

    connection = Connection(
        sock,
        codec,
        {
            "run": run,
            "snapshot": snapshot,
            "call": call,
            "getattr": getattr_,
            "len": len_,
            "iter": iter_,
            "release": release,
        },
    )
    connection.send({"op": "ready", "pid": os.getpid()})
    with contextlib.suppress(ChannelClosed):
        while connection.serve_one():
            pass
    sys.stdout.flush()
    os._exit(0)


def main(argv: list[str] | None = None) -> None:
    """``python -m autograder.kernel SOCKET_FD INTERRUPT_FD``."""
    args = sys.argv[1:] if argv is None else argv
    sys.stdout = io.TextIOWrapper(sys.stdout.buffer, write_through=True)
    kernel_main(int(args[0]), int(args[1]))
