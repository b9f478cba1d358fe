"""What every test of a notebook's checks asserts, written once.

A ``tests/unit/test_checks_<topic>.py`` module declares its standard tests as data, and keeps
only the tests that are its own:

    TestStandardChecks = standard_check_tests(
        "02_layers",
        FUNCTIONS,  # check -> the solution functions it takes
        modules=[layer_checks],
        others=implementations(FUNCTIONS, CORRECT),
        twins=implementations(FUNCTIONS, reference, numpy_twin),
        mistakes=MISTAKES,  # (check, impls, expected)
        hidden_mistakes=MISTAKES,
        wrong=wrong,
    )

Each argument given adds its test to the class (pytest collects it as ``TestStandardChecks``):

- ``modules``: every check of these ``autograder.checks`` modules is exported from
  ``autograder.checks``, and the checks of ``functions`` are theirs.
- ``functions`` (always): each check passes the source notebook's own solution on its public
  cases, and on its hidden cases for several grader seeds, and says so in one line.
- ``others``, ``twins``: each check passes other right implementations (written independently
  of the solution, ``tests/wrong/<topic>.CORRECT``), and the reference twins with NumPy in and
  out (``numpy_twin``), on its public and hidden cases.
- ``mistakes``: each deliberately wrong implementation (``tests/wrong/<topic>.py``) fails its
  check, and the diagnosis names the mistake: ``expected`` is a hint identifier
  (``exercise/mistake``, which must appear in brackets, ``[conv_output_size/floored]``) or a
  regular expression the message must match.
- ``hidden_mistakes``: the hidden cases of grader seed ``hidden_seed`` fail them too, naming
  the same mistake (except those ``named_otherwise_in_hidden``, which need only fail).
- ``near_misses``: a right answer but for a detail passes with the hint, on public cases: the
  test cell earns part of its points.
- ``hidden_near_misses``: the hidden cases of grader seed ``hidden_seed`` give them the same
  near miss.
- ``wrong``: graded through a kernel, the solution passes, and every mistake and near miss is
  diagnosed as here (``kernel_grading.grades_through_a_kernel``).

The factories below (``passes_the_solution``, ``fails_each_mistake``, ...) make one such test
each, for a module's own tests of the same kind.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping, Sequence
from types import ModuleType

import numpy as np
import pytest
import torch

from autograder import checks
from autograder.course import HIDDEN_SEED_VARIABLE
from autograder.kernel import rules
from tests.solutions import load_solutions

SEEDS = ("1", "2", "3")
# The locked imports cell of a notebook whose student cells build torch models.
MODEL_IMPORTS = (
    "import numpy as np\nimport torch\nimport torch.nn.functional as F\nfrom torch import nn\n"
)
HINT_ID = re.compile(r"[a-z0-9_]+/[a-z0-9_]+")

# check name -> the names of the solution functions it takes (a dict), or (check name, names)
# pairs where one check takes several sets of functions (naive and fast, say).
Functions = Mapping[str, tuple[str, ...]] | Sequence[tuple[str, tuple[str, ...]]]
# (check, the functions it is given, the hint identifier or pattern it must name)
Mistake = tuple[Callable, tuple, str]


def pairs(functions: Functions) -> list[tuple[str, tuple[str, ...]]]:
    """``functions`` as (check name, solution function names) pairs."""
    return list(functions.items()) if isinstance(functions, Mapping) else list(functions)


def implementations(
    functions: Functions, source: object, wrap: Callable | None = None
) -> list[tuple[Callable, tuple]]:
    """(check, impls) for each check of ``functions``, the functions taken by their names from
    ``source`` (``tests.wrong.<topic>.CORRECT``, ``course_utils.reference``), each passed
    through ``wrap`` (``numpy_twin``) when given."""
    wrap = wrap or (lambda func: func)
    return [
        (getattr(checks, check), tuple(wrap(getattr(source, name)) for name in names))
        for check, names in pairs(functions)
    ]


def _call(check: str, names: Sequence[str]) -> str:
    return f"{check}({', '.join(names)})"


def _label(mistake: tuple) -> str:
    check, impls, *_ = mistake
    return _call(check.__name__, [getattr(i, "__name__", "?") for i in impls])


def _passes_every_case(result, kind: str, printed: str) -> None:
    assert result.passed == result.total > 0
    assert result.kind == kind
    assert f"{result.total}/{result.total} {kind} cases pass" in printed


def is_exported(modules: Sequence[ModuleType], functions: Functions = ()) -> Callable:
    """A test: every check of ``modules`` is ``autograder.checks``'s own, listed in its
    ``__all__``; and every check of ``functions`` is one of theirs."""

    def test():
        for module in modules:
            for name in module.__all__:
                assert getattr(checks, name) is getattr(module, name)
                assert name in checks.__all__
        defined = {name for module in modules for name in module.__all__}
        missing = {check for check, _ in pairs(functions)} - defined
        assert not missing, f"{sorted(missing)} are not in the __all__ of {modules}"

    return test


def passes_the_solution(assignment: str, functions: Functions, seeds: Sequence[str] = SEEDS):
    """A test: every check of ``functions`` passes the notebook's solution functions it takes,
    on public cases and on hidden cases of every seed."""
    kinds = [("public", None)] + [("hidden", seed) for seed in seeds]
    calls = pairs(functions)

    @pytest.mark.parametrize(
        "kind, seed", kinds, ids=[k if s is None else f"{k}-{s}" for k, s in kinds]
    )
    @pytest.mark.parametrize("check, names", calls, ids=[_call(*call) for call in calls])
    def test(check, names, kind, seed, monkeypatch, capsys):
        solutions = load_solutions(assignment)
        if seed is not None:
            monkeypatch.setenv(HIDDEN_SEED_VARIABLE, seed)
        result = getattr(checks, check)(*(getattr(solutions, n) for n in names), cases=kind)
        _passes_every_case(result, kind, capsys.readouterr().out)

    return test


def passes_implementations(
    implementations: Sequence[tuple[Callable, tuple]], seed: str, allow_torch: bool = False
) -> Callable:
    """A test: ``check(*impls)`` passes every public case, and every hidden case of grader seed
    ``seed``, for each ``(check, impls)``. ``allow_torch`` lifts the banned-library rule (for
    the reference twins, which are PyTorch)."""

    @pytest.mark.parametrize("kind", ["public", "hidden"])
    @pytest.mark.parametrize(
        "check, impls", implementations, ids=[_label(i) for i in implementations]
    )
    def test(check, impls, kind, monkeypatch, capsys):
        if allow_torch:
            monkeypatch.setattr(rules, "BANNED_MODULES", ())
        monkeypatch.setenv(HIDDEN_SEED_VARIABLE, seed)
        _passes_every_case(check(*impls, cases=kind), kind, capsys.readouterr().out)

    return test


def numpy_twin(twin: Callable) -> Callable:
    """A reference twin with NumPy arrays in and out (a cache stays as the twin made it)."""

    def wrapper(*args, **kwargs):
        def tensor(a):
            return torch.from_numpy(a.copy()) if isinstance(a, np.ndarray) else a

        result = twin(*map(tensor, args), **{k: tensor(v) for k, v in kwargs.items()})
        if isinstance(result, torch.Tensor):
            return result.numpy()
        if isinstance(result, tuple):
            return tuple(v.numpy() if isinstance(v, torch.Tensor) else v for v in result)
        return result

    wrapper.__name__ = twin.__name__
    return wrapper


def fails_each_mistake(mistakes: Sequence[Mistake]) -> Callable:
    """A test: ``check(*impls)`` fails for each ``(check, impls, expected)`` of ``mistakes``,
    with a diagnosis that names the mistake (a hint identifier, or a regular expression)."""

    @pytest.mark.parametrize("check, impls, expected", mistakes, ids=[_label(m) for m in mistakes])
    def test(check, impls, expected):
        with pytest.raises(AssertionError) as failure:
            check(*impls)
        assert_names_the_mistake(str(failure.value), expected)

    return test


def fails_each_mistake_on_hidden_cases(
    mistakes: Sequence[Mistake], seed: str, named_otherwise: Collection[Callable] = ()
) -> Callable:
    """A test: the hidden cases of grader seed ``seed`` fail ``check(*impls)`` for each
    ``(check, impls, expected)`` of ``mistakes``, naming the mistake as the public cases do;
    a mistake whose last function is in ``named_otherwise`` need only fail (its first failing
    hidden case shows another mistake, or an error, first)."""

    @pytest.mark.parametrize("check, impls, expected", mistakes, ids=[_label(m) for m in mistakes])
    def test(check, impls, expected, monkeypatch):
        monkeypatch.setenv(HIDDEN_SEED_VARIABLE, seed)
        with pytest.raises(AssertionError, match="hidden cases fail") as failure:
            check(*impls, cases="hidden")
        if impls[-1] not in named_otherwise:
            assert_names_the_mistake(str(failure.value), expected)

    return test


def gives_a_near_miss(near_misses: Sequence[Mistake], seed: str | None = None) -> Callable:
    """A test: ``check(*impls)`` passes with a near miss for each ``(check, impls, expected)``
    (a hint identifier), prints it, and does not raise: the test cell earns part of its
    points. With a grader ``seed``, on the hidden cases of that seed instead of the public
    ones."""
    kind = "public" if seed is None else "hidden"

    @pytest.mark.parametrize(
        "check, impls, expected", near_misses, ids=[_label(m) for m in near_misses]
    )
    def test(check, impls, expected, monkeypatch, capsys):
        from autograder.checks import _engine

        monkeypatch.setattr(_engine, "NEAR_MISSES", [])  # the grader's record, left as it was
        if seed is not None:
            monkeypatch.setenv(HIDDEN_SEED_VARIABLE, seed)
        result = check(*impls, cases=kind)
        assert result.near_miss == expected and _engine.NEAR_MISSES == [expected]
        printed = capsys.readouterr().out
        assert "near miss" in printed and f"[{expected}]" in printed

    return test


def assert_names_the_mistake(message: str, expected: str) -> None:
    """``message`` carries the hint ``expected`` (an identifier), or matches it (a regex)."""
    if HINT_ID.fullmatch(expected):
        assert f"[{expected}]" in message, f"no hint [{expected}] in:\n{message}"
    else:
        assert re.search(expected, message), f"{expected!r} not in:\n{message}"


def standard_check_tests(
    assignment: str,
    functions: Functions,
    *,
    modules: Sequence[ModuleType] = (),
    seeds: Sequence[str] = SEEDS,
    others: Sequence[tuple[Callable, tuple]] = (),
    twins: Sequence[tuple[Callable, tuple]] = (),
    mistakes: Sequence[Mistake] = (),
    hidden_mistakes: Sequence[Mistake] = (),
    hidden_seed: str = "5",
    named_otherwise_in_hidden: Collection[Callable] = (),
    near_misses: Sequence[Mistake] = (),
    hidden_near_misses: Sequence[Mistake] = (),
    wrong: ModuleType | None = None,
    imports: str = "import numpy as np\n",
    more_kernel_tests: Sequence[str] = (),
    slow: bool = False,
) -> type:
    """The standard tests of the checks of ``notebooks/<assignment>.ipynb``, as a class for
    pytest to collect (bind it to a name that starts with ``Test``); see this module's
    docstring for what each argument adds. ``slow`` marks them all slow (big models)."""
    from tests.kernel_grading import grades_through_a_kernel  # it imports this module

    tests = {}
    if modules:
        tests["test_every_check_is_exported_from_autograder_checks"] = is_exported(
            modules, functions
        )
    tests["test_check_passes_the_notebook_solution"] = passes_the_solution(
        assignment, functions, seeds
    )
    if others:
        tests["test_check_passes_other_right_implementations"] = passes_implementations(
            others, seed="7"
        )
    if twins:
        tests["test_check_passes_numpy_wrappers_of_the_reference_twins"] = passes_implementations(
            twins, seed="11", allow_torch=True
        )
    if mistakes:
        tests["test_check_fails_a_wrong_implementation_and_names_the_mistake"] = fails_each_mistake(
            mistakes
        )
    if hidden_mistakes:
        tests["test_hidden_cases_fail_the_same_wrong_implementation"] = (
            fails_each_mistake_on_hidden_cases(
                hidden_mistakes, hidden_seed, named_otherwise_in_hidden
            )
        )
    if near_misses:
        tests["test_a_right_answer_but_for_a_detail_is_a_near_miss"] = gives_a_near_miss(
            near_misses
        )
    if hidden_near_misses:
        tests["test_hidden_cases_give_the_same_near_miss"] = gives_a_near_miss(
            hidden_near_misses, hidden_seed
        )
    if wrong is not None:
        tests["test_through_a_kernel_the_checks_pass_the_solution_and_name_each_mistake"] = (
            grades_through_a_kernel(
                assignment,
                pairs(functions),
                mistakes,
                wrong,
                imports=imports,
                more_tests=[*more_kernel_tests, *map(_near_miss_cell, near_misses)],
            )
        )
    namespace: dict = {name: staticmethod(test) for name, test in tests.items()}
    if slow:
        namespace["pytestmark"] = [pytest.mark.slow]
    return type("TestStandardChecks", (), namespace)


def _near_miss_cell(near_miss: Mistake) -> str:
    """A test cell that passes when ``check(*impls)`` passes with the near miss ``expected``."""
    check, impls, expected = near_miss
    return (
        f"from autograder.checks import {check.__name__}\n"
        f"result = {_label(near_miss)}\n"
        f"assert result.near_miss == {expected!r}, result\n"
    )
