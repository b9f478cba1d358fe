"""The notebook 02 pooling checks pass right implementations and fail each wrong one, naming
its mistake."""

from __future__ import annotations

import numpy as np
import pytest

from autograder import checks
from autograder.checks import pooling as pool_checks
from autograder.course import HIDDEN_SEED_VARIABLE
from course_utils import reference
from tests.check_harness import (
    assert_names_the_mistake,
    fails_each_mistake,
    numpy_twin,
    passes_implementations,
    passes_the_solution,
)
from tests.kernel_grading import grades_through_a_kernel
from tests.wrong import pooling as wrong

CORRECT = wrong.CORRECT

# check -> the names of the functions it takes, in notebook order.
FUNCTIONS = {
    "check_max_pool_forward": ("max_pool_forward_naive",),
    "check_max_pool_backward": ("max_pool_forward_naive", "max_pool_backward_naive"),
    "check_avg_pool_forward": ("avg_pool_forward",),
    "check_avg_pool_backward": ("avg_pool_forward", "avg_pool_backward"),
}


def test_every_check_is_exported_from_autograder_checks():
    for name in pool_checks.__all__:
        assert getattr(checks, name) is getattr(pool_checks, name)
        assert name in checks.__all__


test_check_passes_the_notebook_solution = passes_the_solution("02_layers", FUNCTIONS)

test_check_passes_an_independent_numpy_implementation = passes_implementations(
    [
        (getattr(checks, check), tuple(getattr(CORRECT, n) for n in names))
        for check, names in FUNCTIONS.items()
    ],
    seed="7",
)

test_check_passes_numpy_wrappers_of_the_reference_twins = passes_implementations(
    [
        (getattr(checks, check), tuple(numpy_twin(getattr(reference, n)) for n in names))
        for check, names in FUNCTIONS.items()
    ],
    seed="11",
    allow_torch=True,
)

MISTAKES = [
    (
        checks.check_max_pool_forward,
        (wrong.max_pool_forward_stride_ignored,),
        "max_pool_forward/stride_ignored",
    ),
    (
        checks.check_max_pool_forward,
        (wrong.max_pool_forward_channels_last,),
        "max_pool_forward/channels_last",
    ),
    (
        checks.check_max_pool_backward,
        (CORRECT.max_pool_forward_naive, wrong.max_pool_backward_all_ties),
        "max_pool_backward/all_ties",
    ),
    (
        checks.check_max_pool_backward,
        (CORRECT.max_pool_forward_naive, wrong.max_pool_backward_all_elements),
        "max_pool_backward/all_elements",
    ),
    (
        checks.check_avg_pool_forward,
        (wrong.avg_pool_forward_not_divided,),
        "avg_pool_forward/not_divided",
    ),
    (
        checks.check_avg_pool_forward,
        (wrong.avg_pool_forward_stride_ignored,),
        "avg_pool_forward/stride_ignored",
    ),
    (
        checks.check_avg_pool_forward,
        (wrong.avg_pool_forward_channels_last,),
        "avg_pool_forward/channels_last",
    ),
    (
        checks.check_avg_pool_backward,
        (CORRECT.avg_pool_forward, wrong.avg_pool_backward_not_divided),
        "avg_pool_backward/not_divided",
    ),
]

test_check_fails_a_wrong_implementation_and_names_the_mistake = fails_each_mistake(MISTAKES)

test_through_a_kernel_the_checks_pass_the_solution_and_name_each_mistake = grades_through_a_kernel(
    "02_layers", list(FUNCTIONS.items()), MISTAKES, wrong
)

# Hidden max-pool inputs are tie-free by design, so the tie rule is tested by the public case.
HIDDEN_MISTAKES = [m for m in MISTAKES if m[1][-1] is not wrong.max_pool_backward_all_ties]


@pytest.mark.parametrize(
    "check, impls, mistake", HIDDEN_MISTAKES, ids=[m[1][-1].__name__ for m in HIDDEN_MISTAKES]
)
def test_hidden_cases_fail_the_same_wrong_implementation(check, impls, mistake, monkeypatch):
    monkeypatch.setenv(HIDDEN_SEED_VARIABLE, "5")
    with pytest.raises(AssertionError, match="hidden cases fail") as failure:
        check(*impls, cases="hidden")
    assert_names_the_mistake(str(failure.value), mistake)


def test_the_max_pool_tie_case_states_the_first_maximum_rule():
    with pytest.raises(AssertionError, match="FIRST maximum in row-major order"):
        checks.check_max_pool_backward(
            CORRECT.max_pool_forward_naive, wrong.max_pool_backward_all_ties
        )


def test_hidden_max_pool_inputs_are_tie_free():
    for seed in range(10):
        for case in pool_checks._hidden_pool_cases(np.random.default_rng(seed)):
            x = case.args[0]
            assert np.unique(x).size == x.size
