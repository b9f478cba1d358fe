"""What every test of a notebook's checks asserts, written once.

A ``tests/unit/test_checks_<topic>.py`` module builds its tests from these factories:

    test_check_passes_the_notebook_solution = passes_the_solution(
        "01_conv_arithmetic", {"check_conv_output_size": ("conv_output_size",), ...}
    )
    test_check_fails_a_wrong_implementation_and_names_the_mistake = fails_each_mistake([
        (check_conv_output_size, (wrong.conv_output_size_floors,), "conv_output_size/floored"),
        (check_cross_correlate2d, (wrong.cross_correlate2d_returns_list,), "numpy.ndarray"),
    ])

- ``passes_the_solution``: each check passes the source notebook's own solution on its public
  cases, and on its hidden cases for several grader seeds, and says so in one line.
- ``passes_implementations``: each check passes other right implementations (written
  independently of the solution, ``tests/wrong/<topic>.CORRECT``; or the reference twins with
  NumPy in and out, ``numpy_twin``) on its public and hidden cases.
- ``fails_each_mistake``: each deliberately wrong implementation (``tests/wrong/<topic>.py``)
  fails its check, and the diagnosis names the mistake: ``expected`` is a hint identifier
  (``exercise/mistake``, which must appear in brackets, ``[conv_output_size/floored]``) or a
  regular expression the message must match.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import numpy as np
import pytest
import torch

from autograder import checks
from autograder.course import HIDDEN_SEED_VARIABLE
from autograder.kernel import rules
from tests.solutions import load_solutions

SEEDS = ("1", "2", "3")
HINT_ID = re.compile(r"[a-z0-9_]+/[a-z0-9_]+")


def passes_the_solution(
    assignment: str, functions: dict[str, tuple[str, ...]], seeds: Sequence[str] = SEEDS
) -> Callable:
    """A test: every check of ``functions`` (check name -> the solution functions it takes)
    passes the notebook's solution on public cases and on hidden cases of every seed."""
    kinds = [("public", None)] + [("hidden", seed) for seed in seeds]

    @pytest.mark.parametrize(
        "kind, seed", kinds, ids=[k if s is None else f"{k}-{s}" for k, s in kinds]
    )
    @pytest.mark.parametrize("check", sorted(functions))
    def test(check, kind, seed, monkeypatch, capsys):
        solutions = load_solutions(assignment)
        if seed is not None:
            monkeypatch.setenv(HIDDEN_SEED_VARIABLE, seed)
        impls = [getattr(solutions, name) for name in functions[check]]
        result = getattr(checks, check)(*impls, cases=kind)
        assert result.passed == result.total > 0
        assert result.kind == kind
        assert f"{result.total}/{result.total} {kind} cases pass" in capsys.readouterr().out

    return test


def passes_implementations(
    implementations: Sequence[tuple[Callable, tuple]], seed: str, allow_torch: bool = False
) -> Callable:
    """A test: ``check(*impls)`` passes every public case, and every hidden case of grader seed
    ``seed``, for each ``(check, impls)``. ``allow_torch`` lifts the banned-library rule (for
    the reference twins, which are PyTorch)."""

    @pytest.mark.parametrize("kind", ["public", "hidden"])
    @pytest.mark.parametrize(
        "check, impls", implementations, ids=[_label((*i, None)) for i in implementations]
    )
    def test(check, impls, kind, monkeypatch, capsys):
        if allow_torch:
            monkeypatch.setattr(rules, "BANNED_MODULES", ())
        monkeypatch.setenv(HIDDEN_SEED_VARIABLE, seed)
        result = check(*impls, cases=kind)
        assert result.passed == result.total > 0
        assert result.kind == kind
        assert f"{result.total}/{result.total} {kind} cases pass" in capsys.readouterr().out

    return test


def numpy_twin(twin: Callable) -> Callable:
    """A reference twin with NumPy arrays in and out (a cache stays as the twin made it)."""

    def wrapper(*args):
        tensors = [torch.from_numpy(a.copy()) if isinstance(a, np.ndarray) else a for a in args]
        result = twin(*tensors)
        if isinstance(result, torch.Tensor):
            return result.numpy()
        if isinstance(result, tuple):
            return tuple(v.numpy() if isinstance(v, torch.Tensor) else v for v in result)
        return result

    wrapper.__name__ = twin.__name__
    return wrapper


def _label(mistake: tuple) -> str:
    check, impls, _ = mistake
    return f"{check.__name__}({', '.join(getattr(i, '__name__', '?') for i in impls)})"


def fails_each_mistake(mistakes: Sequence[tuple[Callable, tuple, str]]) -> Callable:
    """A test: ``check(*impls)`` fails for each ``(check, impls, expected)`` of ``mistakes``,
    with a diagnosis that names the mistake (a hint identifier, or a regular expression)."""

    @pytest.mark.parametrize("check, impls, expected", mistakes, ids=[_label(m) for m in mistakes])
    def test(check, impls, expected):
        with pytest.raises(AssertionError) as failure:
            check(*impls)
        assert_names_the_mistake(str(failure.value), expected)

    return test


def gives_a_near_miss(near_misses: Sequence[tuple[Callable, tuple, str]]) -> Callable:
    """A test: ``check(*impls)`` passes with a near miss for each ``(check, impls, expected)``
    (a hint identifier), prints it, and does not raise: the test cell earns part of its
    points."""

    @pytest.mark.parametrize(
        "check, impls, expected", near_misses, ids=[_label(m) for m in near_misses]
    )
    def test(check, impls, expected, capsys):
        from autograder.checks import _engine

        _engine.NEAR_MISSES.clear()
        result = check(*impls)
        assert result.near_miss == expected and _engine.NEAR_MISSES == [expected]
        printed = capsys.readouterr().out
        assert "near miss" in printed and f"[{expected}]" in printed
        _engine.NEAR_MISSES.clear()

    return test


def assert_names_the_mistake(message: str, expected: str) -> None:
    """``message`` carries the hint ``expected`` (an identifier), or matches it (a regex)."""
    if HINT_ID.fullmatch(expected):
        assert f"[{expected}]" in message, f"no hint [{expected}] in:\n{message}"
    else:
        assert re.search(expected, message), f"{expected!r} not in:\n{message}"
