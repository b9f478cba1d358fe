"""Rules every NumPy exercise follows: no library that does the work, and (for the vectorised
convolution) no Python loop over output pixels.

**Banned calls.** A NumPy exercise earns no credit when the work is done by PyTorch,
``course_utils`` (whose ``reference`` twins are the checks' oracle), SciPy (``scipy.signal.
convolve2d``, ``scipy.ndimage``) or another array library. NumPy itself, including
``numpy.lib.stride_tricks``, and the standard library are fine. Two detectors enforce it:

- ``find_banned`` reads the student's function without running it: every global, closure
  variable and attribute chain its bytecode loads (``F.conv2d``, ``reference.conv_forward_naive``)
  and every module it imports, transitively through the helper functions the student wrote.
  A class from a banned library (``isinstance(x, torch.Tensor)``) is not a call and is allowed.
- ``guard`` watches the function while it runs (``sys.setprofile``) and stops it at the first
  call into a banned library, which also catches calls the bytecode does not name.

Either way the check fails with a message that names the banned call and the student function
that made it.

**Line budget.** ``count_lines`` counts the Python line events executed in the student's own
code (never inside NumPy) with ``sys.settrace``. The count does not depend on how busy the
machine is, unlike a wall-clock time, so it is a robust way to tell a vectorised function from
one that loops over output pixels.
"""

from __future__ import annotations

import builtins
import dis
import functools
import os
import sys
import sysconfig
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: Module prefixes a NumPy exercise must not call (a prefix matches itself and its submodules).
BANNED_MODULES: tuple[str, ...] = (
    "torch",
    "course_utils",
    "scipy",
    "tensorflow",
    "keras",
    "jax",
    "cupy",
    "sklearn",
    "skimage",
    "cv2",
)

RULE = (
    "This is a NumPy exercise: it earns no credit when PyTorch, course_utils (the course's "
    "reference code) or a library that does the work (scipy.signal, scipy.ndimage, ...) "
    "computes the answer. Write it with NumPy operations (numpy.lib.stride_tricks is fine)."
)


class BannedCall(BaseException):
    """Raised when a student's function calls a banned library.

    A ``BaseException``, so that the checks' ``except Exception`` around the student's call
    does not turn it into an ordinary failure of one case: the whole check fails with it.
    """


def banned_prefix(module: str | None) -> str | None:
    """The banned prefix that ``module`` (a dotted module name) falls under, or ``None``."""
    if not module:
        return None
    for prefix in BANNED_MODULES:
        if module == prefix or module.startswith(prefix + "."):
            return prefix
    return None


def _origin(obj: Any) -> str | None:
    """The module an object comes from: a module's own name, a function's or class's module,
    the class of the object a builtin method is bound to, else the object's class."""
    if isinstance(obj, types.ModuleType):
        return obj.__name__
    if isinstance(obj, (types.BuiltinFunctionType, types.BuiltinMethodType)):
        module = getattr(obj, "__module__", None)
        if module:
            return module
        owner = getattr(obj, "__self__", None)
        if owner is not None and not isinstance(owner, types.ModuleType):
            return type(owner).__module__
        return getattr(owner, "__name__", None)
    if isinstance(obj, (types.FunctionType, type, functools.partial)):
        return getattr(obj, "__module__", None)
    module = getattr(type(obj), "__module__", None)
    return None if module == "builtins" else module


def _describe(obj: Any, fallback: str) -> str:
    if isinstance(obj, types.ModuleType):
        return obj.__name__
    module = _origin(obj)
    if isinstance(obj, (types.BuiltinFunctionType, types.BuiltinMethodType)):
        name = getattr(obj, "__name__", None)
    else:
        name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    if module and name:
        return f"{module}.{name}"
    return fallback


# --- whose code is it ---------------------------------------------------------------------------


def _library_roots() -> tuple[str, ...]:
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        path = sysconfig.get_paths().get(key)
        if path:
            roots.add(path)
    here = Path(__file__).resolve().parent.parent  # autograder/
    roots.add(str(here))
    roots.add(str(here.parent / "course_utils"))
    return tuple(sorted(os.path.realpath(root) + os.sep for root in roots if root))


_LIBRARY_ROOTS = _library_roots()


@functools.lru_cache(maxsize=4096)
def _is_student_file(filename: str) -> bool:
    if filename.startswith("<frozen") or filename in ("<string>",):
        return False
    if not os.path.isabs(filename):  # a notebook cell ("<ipython-input-...>", "nb.ipynb:cell3")
        return True
    path = os.path.realpath(filename)
    return not any(path.startswith(root) for root in _LIBRARY_ROOTS)


def is_student_code(code: types.CodeType) -> bool:
    """True for code the student wrote (notebook cells, their own files); False for code of the
    standard library, installed packages (NumPy, PyTorch, ...), ``course_utils`` and
    ``autograder``."""
    return _is_student_file(code.co_filename)


# --- reading the code: find_banned ---------------------------------------------------------------

_LOADS = {"LOAD_GLOBAL", "LOAD_NAME", "LOAD_DEREF", "LOAD_CLASSDEREF"}
_ATTRS = {"LOAD_ATTR", "LOAD_METHOD"}


def _code_objects(code: types.CodeType):
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _code_objects(const)


def _closure_values(func: types.FunctionType) -> dict[str, Any]:
    values = {}
    for name, cell in zip(func.__code__.co_freevars, func.__closure__ or ()):
        try:
            values[name] = cell.cell_contents
        except ValueError:  # an empty cell
            continue
    return values


def _unwrap(obj: Any) -> Any:
    while True:
        if isinstance(obj, functools.partial):
            obj = obj.func
        elif isinstance(obj, types.MethodType):
            obj = obj.__func__
        elif isinstance(obj, types.FunctionType) and hasattr(obj, "__wrapped__"):
            obj = obj.__wrapped__
        else:
            return obj


def find_banned(func: Callable) -> list[str]:
    """Every banned library use that ``func``'s code names, with the path of helpers to it.

    Returns messages such as ``"torch.conv2d (as F.conv2d, in my_helper, called from
    conv_forward_naive)"``; an empty list when the code names nothing banned.
    """
    found: list[str] = []
    _scan(_unwrap(func), set(), [], found)
    return found


def _scan(func: Any, seen: set[int], path: list[str], found: list[str]) -> None:
    if not isinstance(func, types.FunctionType) or id(func.__code__) in seen:
        return
    if not is_student_code(func.__code__):
        return
    seen.add(id(func.__code__))
    path = [*path, func.__name__]
    where = "in " + path[-1] + "".join(f", called from {name}" for name in reversed(path[:-1]))
    closure = _closure_values(func)
    namespace = func.__globals__
    for code in _code_objects(func.__code__):
        instructions = list(dis.get_instructions(code))
        imported: dict[str, Any] = {}  # local names bound by an import inside the function
        for index, ins in enumerate(instructions):
            if ins.opname == "IMPORT_NAME":
                module = str(ins.argval)
                if banned_prefix(module):
                    fromlist = instructions[index - 1].argval if index else None
                    written = (
                        f"from {module} import {', '.join(fromlist)}"
                        if isinstance(fromlist, tuple)
                        else f"import {module}"
                    )
                    found.append(f"{written} ({where})")
                imported.update(_import_bindings(instructions, index))
                continue
            if ins.opname not in _LOADS and not (
                ins.opname == "LOAD_FAST" and ins.argval in imported
            ):
                continue
            name = str(ins.argval)
            if ins.opname == "LOAD_FAST":
                obj = imported[name]
            elif ins.opname.endswith("DEREF"):
                if code is not func.__code__ or name not in closure:
                    continue
                obj = closure[name]
            elif name in namespace:
                obj = namespace[name]
            elif hasattr(builtins, name):
                continue
            else:
                continue
            chain = [name]
            for later in instructions[index + 1 :]:
                if later.opname not in _ATTRS:
                    break
                try:
                    obj = getattr(obj, str(later.argval))
                except Exception:
                    break
                chain.append(str(later.argval))
            obj = _unwrap(obj)
            if banned_prefix(_origin(obj)) and not isinstance(obj, type):
                written = ".".join(chain)
                described = _describe(obj, written)
                alias = "" if described == written else f"as {written}, "
                found.append(f"{described} ({alias}{where})")
            elif isinstance(obj, types.FunctionType):
                _scan(obj, seen, path, found)


def _import_bindings(instructions: list, index: int) -> dict[str, Any]:
    """The local names that the import at ``instructions[index]`` binds, with their modules (as
    far as they are already imported): ``import a.b`` binds a; ``import a.b as c`` binds c to
    a.b; ``from a import x`` binds x to a.x."""
    module = str(instructions[index].argval)
    fromlist = instructions[index - 1].argval if index else None
    bindings: dict[str, Any] = {}
    pending = None
    for ins in instructions[index + 1 :]:
        if ins.opname == "IMPORT_FROM":
            pending = str(ins.argval)
        elif ins.opname.startswith("STORE_"):
            if fromlist is None:
                target = module if pending is not None else module.split(".")[0]
                bindings[str(ins.argval)] = sys.modules.get(target)
                break
            parent = sys.modules.get(module)
            bindings[str(ins.argval)] = sys.modules.get(f"{module}.{pending}") or getattr(
                parent, pending or "", None
            )
        elif ins.opname not in ("SWAP", "POP_TOP", "ROT_TWO"):
            break
    return {name: obj for name, obj in bindings.items() if obj is not None}


def refuse_banned(name: str, *funcs: Callable) -> None:
    """Raise ``AssertionError`` naming the banned calls that any of ``funcs`` makes."""
    for func in funcs:
        found = find_banned(func)
        if found:
            unique = list(dict.fromkeys(found))
            uses = "; ".join(unique[:3]) + (
                f"; and {len(unique) - 3} more" if len(unique) > 3 else ""
            )
            raise AssertionError(
                f"{name}: {getattr(func, '__name__', 'your function')} uses {uses}.\n  {RULE}"
            )


# --- watching it run: guard ------------------------------------------------------------------------


def _profiler(name: str) -> Callable:
    def profile(frame, event, arg):
        if event == "c_call":
            prefix = banned_prefix(_origin(arg))
            if prefix:
                caller = frame.f_code.co_name
                called = _describe(arg, getattr(arg, "__name__", "a function"))
                raise BannedCall(f"{name}: your code called {called} (in {caller}).\n  {RULE}")
        elif event == "call":
            module = frame.f_globals.get("__name__")
            if banned_prefix(module):
                caller = frame.f_back.f_code.co_name if frame.f_back is not None else "?"
                qualname = getattr(frame.f_code, "co_qualname", frame.f_code.co_name)
                raise BannedCall(
                    f"{name}: your code called {module}.{qualname} (in {caller}).\n  {RULE}"
                )

    return profile


def guard(func: Callable, name: str) -> Callable:
    """``func`` wrapped so that a call into a banned library raises ``BannedCall`` at once."""

    @functools.wraps(func)
    def guarded(*args, **kwargs):
        previous = sys.getprofile()
        sys.setprofile(_profiler(name))
        try:
            return func(*args, **kwargs)
        finally:
            sys.setprofile(previous)

    return guarded


# --- counting lines ------------------------------------------------------------------------------


class _LineBudgetExceeded(BaseException):
    """Stops a traced call once its line count is far past the budget (saves grading time)."""


def count_lines(func: Callable, *args: Any, stop_after: int | None = None) -> tuple[Any, int]:
    """Call ``func(*args)``; return ``(its result, Python lines executed in student code)``.

    Only frames whose code the student wrote are traced (``is_student_code``), so NumPy's own
    Python code never counts. With ``stop_after``, the call is abandoned once that many lines
    have run, and the result is ``None``.
    """
    count = 0

    def local(frame, event, arg):
        nonlocal count
        if event == "line":
            count += 1
            if stop_after is not None and count > stop_after:
                raise _LineBudgetExceeded
        return local

    def trace(frame, event, arg):
        return local if is_student_code(frame.f_code) else None

    previous = sys.gettrace()
    sys.settrace(trace)
    try:
        result = func(*args)
    except _LineBudgetExceeded:
        result = None
    finally:
        sys.settrace(previous)
    return result, count
