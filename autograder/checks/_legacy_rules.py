"""The rules of ``autograder.kernel.rules`` as the check modules not yet written as
``_engine.Exercise`` specs call them (``refuse_banned``, ``guard``, ``count_lines``,
``measure``), routed through the engine's ``Subject`` so that they work the same on a local
function and on a proxy of one in the student's kernel. Removed once every module is a spec.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from autograder.checks._engine import Subject, subject
from autograder.kernel.rules import BANNED_MODULES, RULE, BannedCall  # noqa: F401

__all__ = ["BannedCall", "RULE", "refuse_banned", "guard", "count_lines", "measure"]


def refuse_banned(name: str, *funcs: Callable) -> None:
    """Raise ``AssertionError`` naming the banned calls that any of ``funcs`` makes."""
    for func in funcs:
        found = subject(func, name).banned()
        if found:
            unique = list(dict.fromkeys(found))
            uses = "; ".join(unique[:3]) + (
                f"; and {len(unique) - 3} more" if len(unique) > 3 else ""
            )
            raise AssertionError(
                f"{name}: {getattr(func, '__name__', 'your function')} uses {uses}.\n  {RULE}"
            )


class _Guarded:
    """A student's function called under the banned-library guard (see ``Subject.call``)."""

    def __init__(self, subject_: Subject) -> None:
        self.subject = subject_
        self.__name__ = subject_.name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.subject.call(*args, **kwargs)


def guard(func: Callable, name: str) -> Callable:
    return _Guarded(subject(func, name))


def count_lines(func: Callable, *args: Any, stop_after: int | None = None) -> tuple[Any, int]:
    subject_ = func.subject if isinstance(func, _Guarded) else subject(func, "count_lines")
    return subject_.count_lines(*args, stop_after=10**9 if stop_after is None else stop_after)


def measure(what: str, target: Any, *args: Any, **kwargs: Any) -> Any:
    """The measurement ``what`` of ``target``: guarded when ``target`` came from ``guard``."""
    subject_ = target.subject if isinstance(target, _Guarded) else subject(target, what, False)
    return subject_.measure(what, *args, **kwargs)
