"""How the check engine sees a student's function or class: a ``Subject``, which calls it
under the banned-library guard, reads its code for banned calls, counts the lines it runs and
measures it. A function defined here is inspected here; a proxy of a function in the student's
sandboxed kernel is inspected through the resolver that ``autograder.isolation`` installs
(``subjects``), so every check works the same on both.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from autograder.kernel import measure as measurements
from autograder.kernel import rules


class Subject:
    """A student's function or class as a check sees it.

    ``call`` runs it, ``banned`` reads its code for banned calls, ``count_lines`` counts the
    lines of student code a call executes, ``measure`` runs a measurement of
    ``autograder.kernel.measure`` on it. With ``guarded`` (a NumPy exercise), every run is
    watched by the banned-library guard. This class inspects a local callable;
    ``autograder.isolation`` supplies one for a proxy of a callable in the student's sandboxed
    kernel (see ``subjects``).
    """

    def __init__(self, target: Any, check: str, guarded: bool = True) -> None:
        self.target = target
        self.check = check
        self.guarded = guarded
        self.name = display_name(target, check)

    def _runnable(self) -> Callable:
        return rules.guard(self.target, self.check) if self.guarded else self.target

    def banned(self) -> list[str]:
        return rules.find_banned(self.target)

    def call(self, *args: Any, **kwargs: Any) -> Any:
        return self._runnable()(*args, **kwargs)

    def count_lines(self, *args: Any, stop_after: int) -> tuple[Any, int]:
        return rules.count_lines(self._runnable(), *args, stop_after=stop_after)

    def measure(self, measurement: str, *args: Any, **kwargs: Any) -> Any:
        if measurement not in measurements.MEASUREMENTS:
            raise KeyError(f"no measurement {measurement!r}")
        return measurements.MEASUREMENTS[measurement](self._runnable(), *args, **kwargs)


_RESOLVERS: list[Callable[[Any, str, bool], Subject | None]] = []


@contextlib.contextmanager
def subjects(resolver: Callable[[Any, str, bool], Subject | None]) -> Iterator[None]:
    """Within the block, ``resolver(target, check, guarded)`` may supply the ``Subject`` of a
    target (returning None leaves it to the next resolver, and finally to ``Subject``)."""
    _RESOLVERS.append(resolver)
    try:
        yield
    finally:
        _RESOLVERS.remove(resolver)


def subject(target: Any, check: str, guarded: bool = True) -> Subject:
    """The ``Subject`` of a student's callable (see ``subjects``)."""
    for resolver in reversed(_RESOLVERS):
        found = resolver(target, check, guarded)
        if found is not None:
            return found
    return Subject(target, check, guarded)


def display_name(impl: Any, default: str) -> str:
    """The name the student gave the function (``conv_forward_fast``), else ``default``."""
    name = getattr(impl, "__name__", "")
    return name if isinstance(name, str) and name.isidentifier() else default
