"""How the checks see a student's function that lives in the sandboxed kernel.

While a test cell runs in the grader, the student's functions are proxies
(``autograder.kernel.wire.Remote``): calling one calls the real function in the kernel. The
check engine (``autograder.checks._engine``) asks its ``Subject`` of each function to call it,
to read it for banned libraries, to count its lines and to measure it; ``ProxySubject`` does
each of these for a proxy:

- ``banned`` reads the student's SOURCE (``autograder.isolation.source.banned_uses``), since a
  proxy has no code to inspect; the static reading decides alone.
- ``call`` asks the kernel to run the call under the banned-library guard, next to the
  student's code (it can only add a refusal).
- ``count_lines`` asks the kernel to count the lines the call executes. That count is made in
  the student's process, so it is trusted only when the notebook leaves alone everything a
  forged count would need (``tracing_uses``); it earns only the vectorisation points of
  ``check_conv_fast``, whose correctness half the grader checks itself.
- ``measure`` asks the kernel to run a measurement of ``autograder.kernel.measure`` (from its
  private copy) on the real object; the report is plain data, judged here.

``proxy_subjects(names, sources)`` installs this for the duration of one test cell.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from autograder.checks._engine import Subject, subjects
from autograder.isolation.source import banned_uses, tracing_uses
from autograder.kernel.rules import BannedCall
from autograder.kernel.wire import Remote, call_options


class ProxySubject(Subject):
    """The ``Subject`` of a proxy of a function or class in the student's kernel.

    Args:
        target: the proxy.
        check: the check's name (the guard names it in its refusal).
        guarded: run it under the banned-library guard (a NumPy exercise).
        variable: the name the test cell got the proxy from (what ``banned`` reads).
        sources: the notebook's code cells up to the test cell.
    """

    def __init__(
        self, target: Remote, check: str, guarded: bool, variable: str, sources: list[str]
    ) -> None:
        super().__init__(target, check, guarded)
        self.variable = variable
        self.sources = sources

    def _options(self, **options: Any) -> dict:
        return {"guard": self.check, **options} if self.guarded else options

    def banned(self) -> list[str]:
        return banned_uses(self.sources, self.variable)

    def call(self, *args: Any, **kwargs: Any) -> Any:
        with call_options(**self._options()):
            return self.target(*args, **kwargs)

    def count_lines(self, *args: Any, stop_after: int) -> tuple[Any, int]:
        # A refusal of the whole check, like a banned call (it is not the student's exception).
        touched = tracing_uses(self.sources)
        if touched:
            raise BannedCall(
                f"{self.check}: the line count of your function is measured while it runs, and "
                f"your notebook uses what could change that measurement: "
                f"{'; '.join(touched[:5])}. Remove it (a vectorised convolution needs none of "
                "it) and run the check again."
            )
        with call_options(**self._options(count_lines=int(stop_after))):
            value = self.target(*args)
        if not (isinstance(value, tuple) and len(value) == 2 and type(value[1]) is int):
            raise BannedCall(f"{self.check}: the kernel did not report a line count")
        return value

    def measure(self, measurement: str, *args: Any, **kwargs: Any) -> Any:
        with call_options(**self._options(measure=measurement)):
            return self.target(*args, **kwargs)


@contextlib.contextmanager
def proxy_subjects(variables: dict[int, str], sources: list[str]) -> Iterator[None]:
    """Within the block, a check sees each proxy through a ``ProxySubject``.

    Args:
        variables: ``id(proxy) -> the name`` the test cell got it from.
        sources: the notebook's code cells up to the test cell.
    """

    def resolve(target: Any, check: str, guarded: bool) -> Subject | None:
        if not isinstance(target, Remote):
            return None
        variable = variables.get(id(target), target.__name__)
        return ProxySubject(target, check, guarded, variable, sources)

    with subjects(resolve):
        yield
