"""The wire between the grader and the student's kernel: plain data only, never pickle.

In grading mode the student's notebook runs in its own process (the *kernel*, usually inside
the sandbox of ``autograder.isolation.sandbox``); the checks run in the *grader*. The grader
calls the student's functions through proxies, and this module carries those calls. Both ends
use it: the kernel's main loop (``autograder.kernel.main``) and the grader's client
(``autograder.isolation.client``).

Why this design. Every check already only CALLS the student's functions with fresh NumPy arrays
and plain values and compares what comes back (see ``autograder.checks._engine``). So a check
can run unchanged in the grader if the student's functions are replaced by proxies that forward
each call to the kernel. The kernel calls the real function and sends back plain data. Nothing
that decides a grade (the check code, the expected outputs, the comparison, the points) exists
in the student's process, so nothing the student's code does there can change a verdict: an
object whose ``==`` is always true never leaves the kernel, a patched ``numpy.testing`` patches
only the kernel's copy, and an input transformer only transforms the kernel's cells.

The protocol
------------
One stream socket (a ``socketpair`` inherited by the kernel as a file descriptor, so it works
inside a sandbox without network or shared files) carries frames::

    !II  header length, number of buffers
    header: UTF-8 JSON (at most 1 MiB)
    per buffer: !Q length, raw bytes

Values in a header are JSON; what JSON cannot say is tagged with a ``"$"`` key:

| value                                   | header                                   |
|-----------------------------------------|------------------------------------------|
| None, bool, int, str, list              | themselves                               |
| float (nan and infinities too)          | a number, or ``{"$": "float", "v": "nan"}`` |
| tuple, dict                             | ``{"$": "tuple", "v": [...]}``, ``{"$": "dict", "k": [...], "v": [...]}`` |
| ``numpy.ndarray`` of bool/int/float/complex, NumPy scalar | ``{"$": "nd", "dtype", "shape", "b"}`` (raw bytes in buffer ``b``) |
| ``torch.Tensor``, ``torch.device``, ``torch.dtype`` | ``{"$": "tensor", ...}``, ``{"$": "device"}``, ``{"$": "tdtype"}`` |
| anything else (a cache, a class, an ``nn.Module``, a function) | a reference ``{"$": "ref", "id"}`` |

Anything that is not plain data stays where it was made and travels as a reference: the
receiver gets a ``Remote`` proxy that it can pass back in a later call (caches are opaque by
contract), call, and, on the kernel's objects only, ask for an attribute, a length or an
iteration (model checks: ``model.fc.weight``, ``model.parameters()``). A proxy has no truth
value and compares equal only to itself, so a reference can never pass an ``assert``.

Callables passed TO the student (``f`` in ``eval_numerical_gradient_array(f, x, df)``) travel
the other way: the grader exports them and the kernel calls back; the grader runs its own
function on plain data and answers. The grader answers calls to what it exported, and nothing
else: no attribute of a grader object is ever served, so the student's code cannot walk from a
callback to the grader's modules or files.

Messages: ``call`` (target, args, kwargs, options), ``getattr``, ``len``, ``iter``, ``release``,
answered by ``reply`` or ``error``; and, from grader to kernel only, ``run`` (a notebook cell),
``snapshot`` (the values bound to some names now) and ``shutdown``. A side that waits for its
answer serves the other side's requests meanwhile, so callbacks nest. Frames are size-capped,
and anything malformed raises ``ProtocolError``: the grader then stops the kernel, and the
cells still to grade score 0 with that reason.

Interrupts: the grader writes a byte to a pipe whose other end the kernel reads in a thread,
which raises ``KeyboardInterrupt`` in the kernel's main thread (as Jupyter's interrupt does),
so a cell or a call that runs too long is stopped and the notebook goes on.

"""

from __future__ import annotations

import builtins
import contextlib
import json
import math
import select
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from autograder.kernel.rules import BannedCall

MAX_HEADER_BYTES = 1 << 20
MAX_MESSAGE_BYTES = 256 << 20
MAX_BUFFERS = 4096
MAX_DEPTH = 32
MAX_ITEMS = 100_000
MAX_ITER_ITEMS = 10_000
SIDE_LIMIT = 10_000  # characters of stdout, stderr and each warning forwarded per call
_PLAIN_KINDS = "biufc"


class ProtocolError(Exception):
    """The other side sent something that is not a valid message, or too much of it."""


class ChannelClosed(ProtocolError):
    """The other side closed the connection (its process ended)."""


class RemoteError(Exception):
    """An exception raised by code on the other side, whose type has no local twin."""

    def __init__(self, type_name: str, message: str) -> None:
        super().__init__(f"{type_name}: {message}" if message else type_name)
        self.type_name = type_name


class CallTimeout(BaseException):
    """The deadline passed while the other side was working; it was interrupted.

    A ``BaseException``, so that the checks' ``except Exception`` around a student call lets it
    through and the whole test cell stops with it.
    """


class KernelLost(BaseException):
    """The kernel is gone (it exited, was killed, or broke the protocol); why is the message."""


# --- encoding ---------------------------------------------------------------------------------


def _torch():
    return sys.modules.get("torch")


class Codec:
    """Turns values into (header, buffers) and back, with a table of exported objects.

    ``export_policy(obj)`` says whether an object that is not plain data may be exported as a
    reference; when it returns False the encoder raises ``TypeError``.
    """

    def __init__(self, export_policy: Callable[[Any], bool]) -> None:
        self.exports: dict[int, Any] = {}
        self._next = 1
        self.export_policy = export_policy
        self.connection: Connection | None = None
        # While set, every mutable value (list, dict, array, tensor) encoded or decoded is
        # appended here, parents before children: both sides number a call's arguments alike.
        self.recording: list | None = None
        # While set (kernel, encoding a sync): id(object) -> its argument number.
        self.substitute: dict[int, int] | None = None
        # While set (grader, decoding a sync): the call's arguments, by number.
        self.arguments: list | None = None

    def export(self, obj: Any) -> int:
        ref = self._next
        self._next += 1
        self.exports[ref] = obj
        return ref

    # encode
    def encode(self, value: Any, buffers: list[bytes], depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise TypeError("the value is nested too deeply to send")
        if value is None or isinstance(value, (bool, str)):
            return value
        if type(value) is int:
            return value
        if type(value) is float:
            return value if math.isfinite(value) else {"$": "float", "v": repr(value)}
        if self.substitute is not None and id(value) in self.substitute:
            return {"$": "arg", "i": self.substitute[id(value)]}
        if self.recording is not None and (
            type(value) in (list, dict)
            or (isinstance(value, np.ndarray) and value.dtype.kind in _PLAIN_KINDS)
        ):
            self.recording.append(value)
        if type(value) is list:
            return [self.encode(v, buffers, depth + 1) for v in value]
        if type(value) is tuple:
            return {"$": "tuple", "v": [self.encode(v, buffers, depth + 1) for v in value]}
        if type(value) is dict:
            return {
                "$": "dict",
                "k": [self.encode(k, buffers, depth + 1) for k in value],
                "v": [self.encode(v, buffers, depth + 1) for v in value.values()],
            }
        if isinstance(value, Remote) and value._connection is self.connection:
            return {"$": "yours", "id": value._ref}
        if isinstance(value, (np.ndarray, np.generic)) and value.dtype.kind in _PLAIN_KINDS:
            array = np.asarray(value, order="C")
            return _encode_array("nd", array, buffers, scalar=isinstance(value, np.generic))
        torch = _torch()
        if torch is not None:
            if isinstance(value, torch.Tensor) and not value.is_complex():
                if self.recording is not None:
                    self.recording.append(value)
                tensor = value.detach().cpu()
                if tensor.dtype == torch.bfloat16:
                    tensor = tensor.float()
                array = np.asarray(tensor.numpy(), order="C")
                return _encode_array("tensor", array, buffers, grad=bool(value.requires_grad))
            if isinstance(value, torch.device):
                return {"$": "device", "v": str(value)}
            if isinstance(value, torch.dtype):
                return {"$": "tdtype", "v": str(value).removeprefix("torch.")}
        if not self.export_policy(value):
            raise TypeError(
                f"a {type(value).__qualname__} cannot be sent to the student's code; only "
                "arrays, numbers, strings, None, lists, tuples, dicts and functions can."
            )
        kind = type(value)
        return {
            "$": "ref",
            "id": self.export(value),
            "callable": callable(value),
            "type": f"{kind.__module__}.{kind.__qualname__}"[:200],
            "name": _safe_name(getattr(value, "__name__", None)),
        }

    # decode
    def decode(self, data: Any, buffers: list[bytes], depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise ProtocolError("a value is nested too deeply")
        if data is None or isinstance(data, (bool, int, float, str)):
            return data
        if isinstance(data, list):
            if len(data) > MAX_ITEMS:
                raise ProtocolError("a list is too long")
            items: list = []
            if self.recording is not None:
                self.recording.append(items)
            items.extend(self.decode(v, buffers, depth + 1) for v in data)
            return items
        if not isinstance(data, dict) or not isinstance(data.get("$"), str):
            raise ProtocolError("a value without a type tag")
        tag = data["$"]
        try:
            if tag == "float":
                if data["v"] not in ("nan", "inf", "-inf"):
                    raise ProtocolError("a float tag must hold nan or an infinity")
                return float(data["v"])
            if tag == "tuple":
                if not isinstance(data["v"], list):
                    raise ProtocolError("tuple items must be a list")
                return tuple(self.decode(v, buffers, depth + 1) for v in data["v"])
            if tag == "dict":
                if not isinstance(data["k"], list) or not isinstance(data["v"], list):
                    raise ProtocolError("dict keys and values must be lists")
                if len(data["k"]) != len(data["v"]):
                    raise ProtocolError("a dict with more keys than values")
                mapping: dict = {}
                if self.recording is not None:
                    self.recording.append(mapping)
                keys = [self.decode(k, buffers, depth + 1) for k in data["k"]]
                values = [self.decode(v, buffers, depth + 1) for v in data["v"]]
                mapping.update(zip(keys, values))
                return mapping
            if tag == "arg":
                if self.arguments is None or type(data["i"]) is not int:
                    raise ProtocolError("an argument reference outside a sync")
                if not 0 <= data["i"] < len(self.arguments):
                    raise ProtocolError(f"no argument number {data['i']!r}")
                return self.arguments[data["i"]]
            if tag in ("nd", "tensor"):
                array = _decode_array(data, buffers)
                if tag == "nd":
                    if data.get("scalar"):
                        return array[()]
                    if self.recording is not None:
                        self.recording.append(array)
                    return array
                torch = _torch()
                if torch is None:
                    import torch
                tensor = torch.from_numpy(array)
                if data.get("grad") and tensor.is_floating_point():
                    tensor.requires_grad_(True)
                if self.recording is not None:
                    self.recording.append(tensor)
                return tensor
            if tag == "device":
                import torch

                return torch.device(str(data["v"]))
            if tag == "tdtype":
                import torch

                dtype = getattr(torch, str(data["v"]), None)
                if not isinstance(dtype, torch.dtype):
                    raise ProtocolError(f"unknown torch dtype {data['v']!r}")
                return dtype
            if tag == "yours":
                ref = data["id"]
                if ref not in self.exports:
                    raise ProtocolError(f"a reference to an object never sent ({ref!r})")
                return self.exports[ref]
            if tag == "ref":
                if not isinstance(data["id"], int):
                    raise ProtocolError("a reference id must be an int")
                return Remote(
                    self.connection,
                    data["id"],
                    bool(data.get("callable")),
                    str(data.get("type", "object"))[:200],
                    _safe_name(data.get("name")),
                )
        except (KeyError, TypeError, ValueError) as error:
            raise ProtocolError(f"a malformed {tag!r} value ({error})") from None
        raise ProtocolError(f"unknown value tag {tag!r}")


def _safe_name(name: Any) -> str | None:
    return name if isinstance(name, str) and name.isidentifier() and len(name) <= 100 else None


def _encode_array(tag: str, array: np.ndarray, buffers: list[bytes], **extra: bool) -> dict:
    """``{"$": tag, "dtype", "shape", "b", **extra}``, the C-ordered ``array``'s raw bytes
    appended to ``buffers`` as buffer ``b``; ``_decode_array`` reads it back."""
    buffers.append(array.tobytes())
    return {
        "$": tag,
        "dtype": array.dtype.str,
        "shape": list(array.shape),
        "b": len(buffers) - 1,
        **extra,
    }


def _decode_array(data: dict, buffers: list[bytes]) -> np.ndarray:
    dtype = np.dtype(str(data["dtype"]))
    if dtype.kind not in _PLAIN_KINDS or dtype.hasobject:
        raise ProtocolError(f"arrays of dtype {dtype} are not plain data")
    shape = tuple(int(n) for n in data["shape"])
    if any(n < 0 for n in shape) or len(shape) > 32:
        raise ProtocolError(f"an impossible array shape {shape}")
    buffer = buffers[int(data["b"])]
    if math.prod(shape) * dtype.itemsize != len(buffer):
        raise ProtocolError(f"array bytes do not match shape {shape} and dtype {dtype}")
    return np.frombuffer(buffer, dtype=dtype).reshape(shape).copy()


# --- framing ------------------------------------------------------------------------------------


def send_frame(sock: socket.socket, header: dict, buffers: list[bytes]) -> None:
    text = json.dumps(header, allow_nan=False).encode("utf-8")
    parts = [struct.pack("!II", len(text), len(buffers)), text]
    for buffer in buffers:
        parts.append(struct.pack("!Q", len(buffer)))
        parts.append(buffer)
    sock.sendall(b"".join(parts))


class _Reader:
    """Reads frames with a total size cap; a wait past ``owner.deadline`` calls
    ``owner.on_deadline()`` (which may move the deadline, or raise)."""

    def __init__(self, sock: socket.socket, owner: Any, max_bytes: int) -> None:
        self.sock = sock
        self.owner = owner
        self.max_bytes = max_bytes

    def _exactly(self, n: int) -> bytes:
        chunks = []
        while n:
            deadline = self.owner.deadline
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    self.owner.on_deadline()
                    continue
                ready, _, _ = select.select([self.sock], [], [], left)
                if not ready:
                    continue
            chunk = self.sock.recv(min(n, 1 << 20))
            if not chunk:
                raise ChannelClosed("the other side closed the connection")
            chunks.append(chunk)
            n -= len(chunk)
        return b"".join(chunks)

    def read(self) -> tuple[dict, list]:
        size, count = struct.unpack("!II", self._exactly(8))
        if size > MAX_HEADER_BYTES or count > MAX_BUFFERS:
            raise ProtocolError(f"a frame too large (header {size} bytes, {count} buffers)")
        try:
            header = json.loads(self._exactly(size).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ProtocolError(f"a header that is not JSON ({error})") from None
        if not isinstance(header, dict):
            raise ProtocolError("a header that is not a JSON object")
        total = size
        buffers = []
        for _ in range(count):
            (length,) = struct.unpack("!Q", self._exactly(8))
            total += length
            if total > self.max_bytes:
                raise ProtocolError(f"a message over {self.max_bytes} bytes")
            buffers.append(self._exactly(length))
        return header, buffers


# --- a connection: requests, replies, nested serving -----------------------------------------


class Connection:
    """One side of the wire. ``request`` sends and waits for the answer, serving the other
    side's requests (callbacks) meanwhile; ``serve_one`` answers one request."""

    def __init__(
        self,
        sock: socket.socket,
        codec: Codec,
        handlers: dict[str, Callable[[dict, list], Any]],
        max_bytes: int = MAX_MESSAGE_BYTES,
        can_query: bool = False,
    ) -> None:
        self.sock = sock
        self.codec = codec
        codec.connection = self
        self.handlers = handlers
        self.can_query = can_query
        self.reader = _Reader(sock, self, max_bytes)
        self._next_id = 1
        self.deadline: float | None = None
        self.on_deadline: Callable[[], None] = lambda: None
        # What the code said on the side while answering (kernel) / what to do with it (grader).
        self.said: dict | None = None
        self.on_said: Callable[[dict], None] | None = None
        # Argument syncing (see ``Sync`` below): the kernel's calls in progress (id, their
        # arguments, what each looked like when last sent) and the grader's (id -> arguments).
        self.tracked: list[tuple[Any, list, list]] = []
        self.pending: dict[int, list] = {}

    def send(self, header: dict, value_fields: dict[str, Any] | None = None) -> None:
        buffers: list[bytes] = []
        for key, value in (value_fields or {}).items():
            header[key] = self.codec.encode(value, buffers)
        if self.tracked:
            header["sync"] = self._sync(buffers)
        send_frame(self.sock, header, buffers)

    def request(self, op: str, **fields: Any) -> Any:
        rid = self._next_id
        self._next_id += 1
        plain = {k: v for k, v in fields.items() if k in ("target", "names", "source", "options")}
        values = {k: v for k, v in fields.items() if k not in plain}
        recorded: list = []
        if op == "call" and self.can_query:
            self.codec.recording = recorded
        try:
            self.send({"op": op, "id": rid, **plain}, values)
        finally:
            self.codec.recording = None
        if recorded:
            self.pending[rid] = recorded
        try:
            while True:
                header, buffers = self.reader.read()
                if "sync" in header:
                    self._apply_sync(header["sync"], buffers)
                op_in = header.get("op")
                if op_in in ("reply", "error"):
                    if header.get("id") != rid:
                        raise ProtocolError(f"an answer to request {header.get('id')!r}, not {rid}")
                    if isinstance(header.get("said"), dict) and self.on_said is not None:
                        self.on_said(header["said"])
                    if op_in == "reply":
                        return self.codec.decode(header.get("value"), buffers)
                    raise self._exception(header)
                self._answer(header, buffers)
        finally:
            self.pending.pop(rid, None)

    # Argument syncing. A student function may change its arguments in place (perturb x,
    # store running statistics into bn_param, fill a config dict). In one process the caller
    # sees that; across the wire it would not. So the kernel remembers the mutable arguments
    # of each call it serves (lists, dicts, arrays, tensors, numbered in encoding order), and
    # every frame it sends while the call runs (a callback, the reply or the error) carries
    # their current contents: an array or tensor only when its bytes changed, a list or dict
    # always, its known members as argument numbers. The grader writes them into its own
    # objects in place, so a callback that reads x sees the perturbed x, as it would in one
    # process. Only the objects the grader itself passed are ever written.

    def track(self, rid: Any, arguments: list) -> None:
        """Kernel: remember the mutable arguments of call ``rid`` until it is answered."""
        if arguments:
            self.tracked.append((rid, arguments, [_fingerprint(a) for a in arguments]))

    def untrack(self, rid: Any) -> None:
        self.tracked = [entry for entry in self.tracked if entry[0] != rid]

    def _sync(self, buffers: list[bytes]) -> list:
        """Kernel: the ``sync`` field of a frame, for every call in progress."""
        out = []
        for rid, arguments, prints in self.tracked:
            numbers = {id(a): i for i, a in enumerate(arguments)}
            items = []
            try:
                for i, argument in enumerate(arguments):
                    if type(argument) is list:
                        self.codec.substitute = numbers
                        items.append([i, [self.codec.encode(v, buffers, 1) for v in argument]])
                    elif type(argument) is dict:
                        self.codec.substitute = numbers
                        keys = [self.codec.encode(k, buffers, 1) for k in argument]
                        values = [self.codec.encode(v, buffers, 1) for v in argument.values()]
                        items.append([i, {"$": "dict", "k": keys, "v": values}])
                    elif (now := _fingerprint(argument)) != prints[i]:
                        prints[i] = now
                        self.codec.substitute = None  # an array is sent as itself
                        items.append([i, self.codec.encode(argument, buffers, 1)])
            except TypeError:
                items = []  # contents that cannot be sent: the grader keeps what it has
            finally:
                self.codec.substitute = None
            out.append({"id": rid, "items": items})
        return out

    def _apply_sync(self, sync: Any, buffers: list) -> None:
        """Grader: write the kernel's changes to a call's arguments into the grader's objects."""
        if not self.can_query:
            raise ProtocolError("only the grader takes argument syncs")
        if not isinstance(sync, list):
            raise ProtocolError("a sync must be a list")
        for entry in sync:
            if not isinstance(entry, dict) or not isinstance(entry.get("items"), list):
                raise ProtocolError("a malformed sync entry")
            arguments = self.pending.get(entry.get("id"))
            if arguments is None:
                continue
            self.codec.arguments = arguments
            try:
                for item in entry["items"]:
                    if not isinstance(item, list) or len(item) != 2 or type(item[0]) is not int:
                        raise ProtocolError("a malformed sync item")
                    if not 0 <= item[0] < len(arguments):
                        raise ProtocolError(f"no argument number {item[0]!r}")
                    _write_into(arguments[item[0]], self.codec.decode(item[1], buffers))
            finally:
                self.codec.arguments = None

    def serve_one(self) -> bool:
        """Answer one request; False when the other side asked to stop."""
        header, buffers = self.reader.read()
        if header.get("op") == "shutdown":
            return False
        self._answer(header, buffers)
        return True

    def _answer(self, header: dict, buffers: list) -> None:
        rid = header.get("id")
        handler = self.handlers.get(header.get("op"))
        if handler is None:
            raise ProtocolError(f"an unexpected message {str(header.get('op'))[:40]!r}")
        try:
            self._answer_with(handler, rid, header, buffers)
        finally:
            if self.tracked:
                self.untrack(rid)

    def _answer_with(self, handler, rid: Any, header: dict, buffers: list) -> None:
        try:
            value = handler(header, buffers)
        except (ProtocolError, KernelLost, CallTimeout):
            raise
        except BaseException as error:  # the callee's error is the caller's answer
            if isinstance(error, (SystemExit, GeneratorExit)):
                error = RuntimeError(f"the code raised {type(error).__name__}")
            self.send(
                {
                    "op": "error",
                    "id": rid,
                    "type": type(error).__name__,
                    "message": error_text(error),
                    **self._take_said(),
                }
            )
            return
        said = self._take_said()
        try:
            self.send({"op": "reply", "id": rid, **said}, {"value": value})
        except TypeError as error:
            self.send({"op": "error", "id": rid, "type": "TypeError", "message": str(error)})

    def _take_said(self) -> dict:
        said, self.said = self.said, None
        return {"said": said} if said else {}

    def _exception(self, header: dict) -> BaseException:
        name = str(header.get("type", "Exception"))[:100]
        message = str(header.get("message", ""))[:20_000]
        if name == "KeyboardInterrupt":
            return CallTimeout(message or "interrupted")
        if name == "BannedCall":
            return BannedCall(message)
        local = getattr(builtins, name, None)
        if isinstance(local, type) and issubclass(local, Exception):
            try:
                return local(message)
            except Exception:
                pass
        return RemoteError(name, message)


def _fingerprint(value: Any) -> Any:
    """What an array or tensor holds now (dtype, shape, bytes); None for lists and dicts."""
    torch = _torch()
    if torch is not None and isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        if value.dtype == torch.bfloat16:
            value = value.float()
        value = value.numpy()
    if isinstance(value, np.ndarray):
        return (value.dtype.str, value.shape, value.tobytes())
    return None


def _write_into(target: Any, value: Any) -> None:
    """Make ``target`` (an argument the grader sent) hold ``value``, in place."""
    torch = _torch()
    if type(target) is list:
        if type(value) is not list:
            raise ProtocolError("a list argument synced as something else")
        target[:] = value
    elif type(target) is dict:
        if type(value) is not dict:
            raise ProtocolError("a dict argument synced as something else")
        target.clear()
        target.update(value)
    elif isinstance(target, np.ndarray):
        if not isinstance(value, np.ndarray) or value.shape != target.shape:
            return  # a resized array cannot be mirrored in place; the caller keeps its own
        if target.flags.writeable:
            np.copyto(target, value, casting="unsafe")
    elif torch is not None and isinstance(target, torch.Tensor):
        if not isinstance(value, torch.Tensor) or tuple(value.shape) != tuple(target.shape):
            return
        with torch.no_grad():
            target.copy_(value)
    else:
        raise ProtocolError("a sync for an argument that cannot change")


def error_text(error: BaseException) -> str:
    """The message of an exception, capped; a fallback when its str() fails."""
    try:
        return str(error)[:20_000]
    except Exception:
        return f"(a {type(error).__name__} whose message cannot be shown)"


class Remote:
    """A reference to an object on the other side of a ``Connection``.

    Calling it calls the object there. On the grader, a reference to a kernel object also
    answers ``getattr``, ``len`` and iteration by asking the kernel (plain data comes back as
    itself, the rest as new references). It has no truth value, and equals only itself.
    """

    __slots__ = ("_connection", "_ref", "_callable", "_type", "__name__", "__qualname__")

    def __init__(
        self, connection: Connection | None, ref: int, is_callable: bool, type_name: str, name
    ) -> None:
        object.__setattr__(self, "_connection", connection)
        object.__setattr__(self, "_ref", ref)
        object.__setattr__(self, "_callable", is_callable)
        object.__setattr__(self, "_type", type_name)
        object.__setattr__(self, "__name__", name or "student_function")
        object.__setattr__(self, "__qualname__", name or "student_function")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._connection.request(
            "call", target=self._ref, args=list(args), kwargs=kwargs, options=_call_options()
        )

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or not self._connection.can_query:
            raise AttributeError(name)
        return self._connection.request("getattr", target=self._ref, source=name)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("objects of the student's code cannot be changed from here")

    def __len__(self) -> int:
        value = self._connection.request("len", target=self._ref)
        if type(value) is not int:
            raise TypeError("len() of the student's object is not an int")
        return value

    def __iter__(self):
        return iter(self._connection.request("iter", target=self._ref))

    def __bool__(self) -> bool:
        raise TypeError(
            f"a {self._type} from the student's code is not plain data and has no truth value"
        )

    def __eq__(self, other: object) -> bool:
        return self is other

    def __hash__(self) -> int:
        return id(self)

    def __repr__(self) -> str:
        return f"<{self._type} in the student's kernel>"


# Options a grader-side caller attaches to a call (the banned-library guard and the line count
# of ``autograder.kernel.rules``, and the measurements of ``autograder.kernel.measure``, run
# where the student's code runs).
_OPTIONS = threading.local()


@contextlib.contextmanager
def call_options(**options: Any):
    """Attach ``options`` to every call made to the kernel inside the block."""
    previous = dict(getattr(_OPTIONS, "value", {}))
    _OPTIONS.value = {**previous, **options}
    try:
        yield
    finally:
        _OPTIONS.value = previous


def _call_options() -> dict:
    return dict(getattr(_OPTIONS, "value", {}))
