"""The notebook 04 layer- and group-normalisation checks pass right implementations (the
notebook's, independent ones, CS231n-style ones, the twins) and fail each wrong one, naming
its mistake, in this process and through a kernel."""

from __future__ import annotations

import numpy as np
import pytest

from autograder import checks
from autograder.checks import normalization as normalization_checks
from course_utils import reference
from tests import solutions_cs231n_norm as cs231n
from tests.check_harness import (
    implementations,
    numpy_twin,
    passes_implementations,
    standard_check_tests,
)
from tests.wrong import normalization as wrong

CORRECT = wrong.CORRECT

# check -> the names of the functions it takes, in notebook order.
FUNCTIONS = {
    "check_layernorm_forward": ("layernorm_forward",),
    "check_layernorm_backward": ("layernorm_forward", "layernorm_backward"),
    "check_spatial_groupnorm_forward": ("spatial_groupnorm_forward",),
    "check_spatial_groupnorm_backward": ("spatial_groupnorm_forward", "spatial_groupnorm_backward"),
}
SPECS = [
    normalization_checks.LAYERNORM_FORWARD,
    normalization_checks.LAYERNORM_BACKWARD,
    normalization_checks.SPATIAL_GROUPNORM_FORWARD,
    normalization_checks.SPATIAL_GROUPNORM_BACKWARD,
]


def _mistake(impl) -> tuple:
    """(check, impls, hint id) of a wrong implementation; a backward follows the right forward."""
    exercise = wrong.mistake_id(impl).split("/")[0]
    if exercise.endswith("backward"):
        forward = getattr(CORRECT, exercise.replace("backward", "forward"))
        return getattr(checks, f"check_{exercise}"), (forward, impl), wrong.mistake_id(impl)
    return getattr(checks, f"check_{exercise}"), (impl,), wrong.mistake_id(impl)


# A near miss (the values right after a reshape) passes with part of the points.
NEAR_MISS = _mistake(wrong.spatial_groupnorm_backward_dgamma_shape_c)
MISTAKES = [
    _mistake(impl)
    for exercise in FUNCTIONS
    for impl in wrong.MISTAKES[exercise.removeprefix("check_")]
    if _mistake(impl) != NEAR_MISS
]

TestStandardChecks = standard_check_tests(
    "04_batchnorm",
    FUNCTIONS,
    modules=[normalization_checks],
    others=implementations(FUNCTIONS, CORRECT),
    twins=implementations(FUNCTIONS, reference, numpy_twin),
    mistakes=MISTAKES,
    hidden_mistakes=MISTAKES,
    near_misses=[NEAR_MISS],
    hidden_near_misses=[NEAR_MISS],
    wrong=wrong,
)


def test_every_check_of_the_module_is_tested_on_the_solution():
    assert set(normalization_checks.__all__) == set(FUNCTIONS)


# CS231n's way: layer norm as batch norm of x.T, group norm through (N, G, C // G, H, W), staged
# backward passes with caches of their own; no adapter.
test_check_passes_cs231n_style_solutions = passes_implementations(
    implementations(FUNCTIONS, cs231n), seed="5"
)


def _hint_ids(spec) -> set[str]:
    judge = spec.judge
    if hasattr(judge, "grads"):  # Backward: mistakes per gradient
        return {f"{spec.name}/{m.id}" for ms in judge.mistakes.values() for m in ms}
    return {f"{spec.name}/{m.id}" for m in judge.mistakes}


def test_every_hint_the_checks_define_is_named_by_a_wrong_implementation():
    defined = set().union(*(_hint_ids(spec) for spec in SPECS))
    assert defined == {mistake for _, _, mistake in [*MISTAKES, NEAR_MISS]}


# --- the cases -----------------------------------------------------------------------------------


def test_the_first_public_cases_are_the_worked_examples():
    ln_plain, ln_affine, *_ = normalization_checks.LAYERNORM_FORWARD.public()
    gn_plain, gn_affine, *_ = normalization_checks.SPATIAL_GROUPNORM_FORWARD.public()

    def out(twin, case):
        return numpy_twin(twin)(*case.args)[0]

    row_1, row_2 = [-1.0690, -0.5345, 0, 1.6036], [-0.5773, -0.5773, -0.5773, 1.7320]
    np.testing.assert_allclose(
        out(reference.layernorm_forward, ln_plain), [row_1, row_2], atol=1e-4
    )
    np.testing.assert_allclose(
        out(reference.layernorm_forward, ln_affine),
        [[-1.0690, -0.0690, -1.0, -1.1036], [-0.5773, -0.1547, -1.2887, -1.2320]],
        atol=1e-4,
    )
    # The same numbers in group norm: group 0 is channels [1, 2], [3, 6], group 1 [4, 4], [4, 8].
    got = out(reference.spatial_groupnorm_forward, gn_plain)
    np.testing.assert_allclose(got.reshape(2, 4), [row_1, row_2], atol=1e-4)
    got = out(reference.spatial_groupnorm_forward, gn_affine)
    np.testing.assert_allclose(
        got.reshape(4, 2),
        [[-1.069, -0.5345], [1.0, 4.2071], [-1.2887, -1.2887], [1.0773, -1.2320]],
        atol=1e-4,
    )


@pytest.mark.parametrize("seed", range(20))
def test_hidden_cases_have_a_batch_of_one_and_groups_that_show_every_mistake(seed):
    rng = np.random.default_rng(seed)
    ln = normalization_checks.LAYERNORM_FORWARD.hidden(rng)
    gn = normalization_checks.SPATIAL_GROUPNORM_FORWARD.hidden(rng)
    assert any(case.args[0].shape[0] == 1 for case in ln)
    assert any(case.args[0].shape[0] == 1 for case in gn)
    assert any(1 < case.args[3] < case.args[0].shape[1] for case in gn)
    for case in gn:
        x, G = case.args[0], case.args[3]
        assert x.shape[1] % G == 0 and x[0].size // G >= 2  # two values per group at least


def test_a_public_group_norm_case_has_more_than_one_group_of_several_channels():
    cases = normalization_checks.SPATIAL_GROUPNORM_FORWARD.public()
    assert any(1 < case.args[3] < case.args[0].shape[1] for case in cases)


# --- what a failure says ------------------------------------------------------------------------


def test_a_failure_names_the_case_and_the_inputs():
    with pytest.raises(AssertionError) as failure:
        checks.check_layernorm_forward(wrong.layernorm_forward_unbiased_var)
    first, inputs, *_ = str(failure.value).splitlines()
    assert first.startswith(
        'layernorm_forward_unbiased_var: case "x [[1, 2, 3, 6], [4, 4, 4, 8]], gamma = 1, '
        'beta = 0" failed'
    )
    assert inputs == "  inputs: x (2, 4), gamma (4,), beta (4,), ln_param {}"


def test_a_backward_check_says_to_fix_the_forward_first():
    def layernorm_forward(x, gamma, beta, ln_param):
        raise ValueError("oops")

    with pytest.raises(AssertionError, match="fix layernorm_forward first"):
        checks.check_layernorm_backward(layernorm_forward, CORRECT.layernorm_backward)


def test_a_backward_given_the_cache_of_a_wrong_forward_says_to_fix_the_forward_first():
    with pytest.raises(AssertionError) as failure:
        checks.check_spatial_groupnorm_backward(
            wrong.spatial_groupnorm_forward_ignores_groups, CORRECT.spatial_groupnorm_backward
        )
    message = str(failure.value)
    assert "dx has the right shape" in message
    assert "checked with the cache of a broken forward" in message
    assert "fix spatial_groupnorm_forward_ignores_groups first" in message


def test_a_forward_that_changes_x_in_place_is_told_so():
    def spatial_groupnorm_forward(x, gamma, beta, G, gn_param):
        x -= x.mean()
        return CORRECT.spatial_groupnorm_forward(x, gamma, beta, G, gn_param)

    with pytest.raises(AssertionError, match="changed its input x in place"):
        checks.check_spatial_groupnorm_forward(spatial_groupnorm_forward)


def test_a_group_norm_that_calls_pytorch_fails_naming_it():
    import torch

    def spatial_groupnorm_forward(x, gamma, beta, G, gn_param):
        out = torch.nn.functional.group_norm(torch.from_numpy(x), G)
        return out.numpy() * gamma + beta, None

    with pytest.raises(AssertionError, match="torch"):
        checks.check_spatial_groupnorm_forward(spatial_groupnorm_forward)
