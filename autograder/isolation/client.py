"""The grader's end of the wire to one student kernel (``autograder.kernel``).

``KernelClient`` starts nothing itself (``autograder.isolation.sandbox`` starts the process);
it waits for the kernel to say it is ready, sends it cells to run, asks it for the values of
names, and calls its objects through ``Remote`` proxies, within deadlines: a wait past its
deadline interrupts the kernel, and a kernel that does not answer the interrupt is declared
lost (``KernelLost``). Callbacks the kernel makes to functions the grader passed are answered
here, and nothing else of the grader is ever served.
"""

from __future__ import annotations

import builtins
import contextlib
import socket
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any

from autograder.kernel.wire import (
    SIDE_LIMIT,
    ChannelClosed,
    Codec,
    Connection,
    KernelLost,
    ProtocolError,
    send_frame,
)


def _grader_export_policy(obj: Any) -> bool:
    # Only functions travel to the student's code (as callbacks it may call); never data objects
    # whose attributes would lead into the grader.
    return callable(obj)


def _say_again(said: dict) -> None:
    """Repeat here what the student's code said during a call: its warnings as warnings (of
    the same builtin category, else UserWarning), its stdout and stderr on ours. The checks
    capture them as notes that never cost points, exactly as in the student's own notebook."""
    for item in said.get("warnings", [])[:20]:
        if isinstance(item, list) and len(item) == 2:
            category = getattr(builtins, str(item[0]), None)
            if not (isinstance(category, type) and issubclass(category, Warning)):
                category = UserWarning
            warnings.warn(str(item[1])[:SIDE_LIMIT], category, stacklevel=2)
    for name in ("stdout", "stderr"):
        text = said.get(name)
        if isinstance(text, str) and text:
            getattr(sys, name).write(text[:SIDE_LIMIT])


class KernelClient:
    """The grader's end of the wire to one kernel process.

    Args:
        sock: the grader's end of the socket pair.
        interrupt: writes one byte to the kernel's interrupt pipe.
        alive: returns None while the kernel process runs, else why it ended.
    """

    def __init__(
        self, sock: socket.socket, interrupt: Callable[[], None], alive: Callable[[], str | None]
    ) -> None:
        self.codec = Codec(_grader_export_policy)

        def callback(header: dict, buffers: list) -> Any:
            ref = header.get("target")
            if ref not in self.codec.exports:
                raise ProtocolError(f"a call to {ref!r}, which the grader never sent")
            args = self.codec.decode(header.get("args", []), buffers)
            kwargs = self.codec.decode(
                header.get("kwargs", {"$": "dict", "k": [], "v": []}), buffers
            )
            if not isinstance(args, list) or not isinstance(kwargs, dict):
                raise ProtocolError("call arguments must be a list and a dict")
            return self.codec.exports[ref](*args, **kwargs)

        self.connection = Connection(sock, self.codec, {"call": callback}, can_query=True)
        self.connection.on_said = _say_again
        self._interrupt = interrupt
        self._alive = alive
        self.lost: str | None = None

    def wait_ready(self, seconds: float) -> None:
        self.connection.deadline = time.monotonic() + seconds

        def too_slow() -> None:
            raise KernelLost(f"the kernel did not start within {seconds:.0f} s")

        self.connection.on_deadline = too_slow
        try:
            header, _ = self.connection.reader.read()
        except ProtocolError as error:
            raise KernelLost(self._why(error)) from None
        finally:
            self.connection.deadline = None
        if header.get("op") != "ready":
            raise KernelLost("the kernel did not start the grading protocol")

    @contextlib.contextmanager
    def deadline(self, seconds: float, grace: float = 5.0):
        """Within the block, a wait that passes ``seconds`` interrupts the kernel; if the kernel
        does not answer within ``grace`` more seconds, it is declared lost."""
        state = {"interrupted": False}

        def on_deadline() -> None:
            if not state["interrupted"]:
                state["interrupted"] = True
                self._interrupt()
                self.connection.deadline = time.monotonic() + grace
                return
            raise KernelLost(
                f"the kernel stopped responding: it ignored the interrupt after {seconds:g} s"
            )

        self.connection.deadline = time.monotonic() + seconds
        self.connection.on_deadline = on_deadline
        try:
            yield state
        finally:
            self.connection.deadline = None

    def request(self, op: str, **fields: Any) -> Any:
        if self.lost:
            raise KernelLost(self.lost)
        try:
            return self.connection.request(op, **fields)
        except KernelLost as error:
            self.lost = str(error)
            raise
        except ProtocolError as error:
            self.lost = self._why(error)
            raise KernelLost(self.lost) from None
        except OSError as error:
            self.lost = self._why(error)
            raise KernelLost(self.lost) from None

    def _why(self, error: BaseException) -> str:
        for _ in range(20):
            ended = self._alive()
            if ended:
                return ended
            time.sleep(0.05)
        if isinstance(error, ChannelClosed):
            return "the kernel closed the grading channel"
        return f"the kernel broke the grading protocol ({error})"

    def run_cell(self, source: str) -> list[dict]:
        outputs = self.request("run", source=source)
        if not isinstance(outputs, list):
            raise KernelLost("the kernel broke the grading protocol (outputs are not a list)")
        return outputs

    def snapshot(self, names: list[str]) -> dict:
        found = self.request("snapshot", names=names)
        if not isinstance(found, dict) or not all(isinstance(k, str) for k in found):
            raise KernelLost("the kernel broke the grading protocol (snapshot is not a dict)")
        return {k: v for k, v in found.items() if k in names}

    def release(self) -> None:
        self.request("release")

    def shutdown(self) -> None:
        with contextlib.suppress(OSError):
            send_frame(self.connection.sock, {"op": "shutdown"}, [])
