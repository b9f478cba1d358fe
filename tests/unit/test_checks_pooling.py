"""The notebook 02 pooling checks pass right implementations and fail each wrong one, naming
its mistake."""

from __future__ import annotations

import numpy as np
import pytest

from autograder import checks
from autograder.checks import pooling as pool_checks
from course_utils import reference
from tests.check_harness import implementations, numpy_twin, standard_check_tests
from tests.wrong import pooling as wrong

CORRECT = wrong.CORRECT

# check -> the names of the functions it takes, in notebook order.
FUNCTIONS = {
    "check_max_pool_forward": ("max_pool_forward_naive",),
    "check_max_pool_backward": ("max_pool_forward_naive", "max_pool_backward_naive"),
    "check_avg_pool_forward": ("avg_pool_forward",),
    "check_avg_pool_backward": ("avg_pool_forward", "avg_pool_backward"),
}


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
        checks.check_max_pool_forward,
        (wrong.max_pool_forward_height_width_swapped,),
        "max_pool_forward/height_width_swapped",
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
        checks.check_max_pool_backward,
        (CORRECT.max_pool_forward_naive, wrong.max_pool_backward_overwrites_overlaps),
        "max_pool_backward/overwrites_overlaps",
    ),
    (
        checks.check_max_pool_backward,
        (CORRECT.max_pool_forward_naive, wrong.max_pool_backward_overwrites_whole_windows),
        "max_pool_backward/overwrites_overlaps",
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
        checks.check_avg_pool_forward,
        (wrong.avg_pool_forward_height_width_swapped,),
        "avg_pool_forward/height_width_swapped",
    ),
    (
        checks.check_avg_pool_backward,
        (CORRECT.avg_pool_forward, wrong.avg_pool_backward_not_divided),
        "avg_pool_backward/not_divided",
    ),
]

TestStandardChecks = standard_check_tests(
    "02_layers",
    FUNCTIONS,
    modules=[pool_checks],
    others=implementations(FUNCTIONS, CORRECT),
    twins=implementations(FUNCTIONS, reference, numpy_twin),
    mistakes=MISTAKES,
    # Hidden max-pool inputs are tie-free by design, so the tie rule is tested by the public case.
    hidden_mistakes=[m for m in MISTAKES if m[1][-1] is not wrong.max_pool_backward_all_ties],
    wrong=wrong,
)


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


@pytest.mark.parametrize(
    "overwrites",
    [wrong.max_pool_backward_overwrites_overlaps, wrong.max_pool_backward_overwrites_whole_windows],
)
def test_overwriting_where_windows_overlap_is_shown_on_the_overlapping_case(overwrites):
    with pytest.raises(AssertionError) as failure:
        checks.check_max_pool_backward(CORRECT.max_pool_forward_naive, overwrites)
    message = str(failure.value)
    assert 'case "overlapping windows' in message.splitlines()[0]
    assert "FIRST maximum" not in message  # not the lecture example, whose windows also tie


def test_the_overlapping_case_comes_first_and_the_other_public_cases_are_unchanged():
    before = pool_checks._with_dout(
        pool_checks._pool_cases(ties=True), reference.max_pool_forward_naive
    )()
    now = pool_checks.MAX_POOL_BACKWARD.public()
    assert now[0].name.startswith("overlapping windows")
    assert [c.name for c in now[1:]] == [
        c.name for c in before if not c.name.startswith("overlapping windows")
    ]
    by_name = {c.name: c for c in before}
    for case in now:
        for got, was in zip(case.args, by_name[case.name].args):
            assert got == was if isinstance(got, dict) else np.array_equal(got, was)
    # The forward's cases, and the average pool's, keep their order.
    assert [c.name for c in pool_checks.MAX_POOL_FORWARD.public()] == [c.name for c in before]
