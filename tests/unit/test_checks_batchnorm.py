"""The notebook 04 checks pass right implementations and fail each wrong one with its hint."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest

from autograder import checks
from autograder.checks import batchnorm as batchnorm_checks
from autograder.checks._engine import hidden_rng
from autograder.course import HIDDEN_SEED_VARIABLE
from course_utils.reference import batchnorm as twins
from tests.check_harness import (
    assert_names_the_mistake,
    fails_each_mistake,
    passes_implementations,
    passes_the_solution,
)
from tests.kernel_grading import grades_through_a_kernel
from tests.solutions import load_solutions
from tests.wrong import batchnorm as wrong

CORRECT = wrong.CORRECT

# (check, the names of the functions it takes), in notebook order.
CHECKS = [
    ("check_batchnorm_forward", ("batchnorm_forward",)),
    ("check_batchnorm_backward", ("batchnorm_forward", "batchnorm_backward")),
    ("check_batchnorm_backward", ("batchnorm_forward", "batchnorm_backward_alt")),
    ("check_spatial_batchnorm_forward", ("spatial_batchnorm_forward",)),
    (
        "check_spatial_batchnorm_backward",
        ("spatial_batchnorm_forward", "spatial_batchnorm_backward"),
    ),
]


@pytest.fixture(scope="module")
def solutions():
    return load_solutions("04_batchnorm")


def test_every_check_is_exported_from_autograder_checks():
    for name in batchnorm_checks.__all__:
        assert getattr(checks, name) is getattr(batchnorm_checks, name)


test_check_passes_the_notebook_solution = passes_the_solution(
    "04_batchnorm",
    {
        "check_batchnorm_forward": ("batchnorm_forward",),
        "check_batchnorm_backward": ("batchnorm_forward", "batchnorm_backward"),
        "check_spatial_batchnorm_forward": ("spatial_batchnorm_forward",),
        "check_spatial_batchnorm_backward": (
            "spatial_batchnorm_forward",
            "spatial_batchnorm_backward",
        ),
    },
)

test_check_passes_the_notebook_closed_form_backward = passes_the_solution(
    "04_batchnorm", {"check_batchnorm_backward": ("batchnorm_forward", "batchnorm_backward_alt")}
)


test_check_passes_an_independent_implementation_with_another_cache = passes_implementations(
    [
        (getattr(checks, check), tuple(getattr(CORRECT, n) for n in names))
        for check, names in CHECKS
    ],
    seed="7",
)


def test_the_closed_form_backward_draws_the_hidden_cases_of_its_own_name(monkeypatch):
    monkeypatch.setenv(HIDDEN_SEED_VARIABLE, "5")

    def batchnorm_backward_alt(dout, cache):
        return wrong.batchnorm_backward_no_dvar_path(dout, cache)

    with pytest.raises(AssertionError) as failure:
        checks.check_batchnorm_backward(
            CORRECT.batchnorm_forward, batchnorm_backward_alt, cases="hidden"
        )
    draw = batchnorm_checks._hidden_flat_backward_cases
    own = draw(hidden_rng("batchnorm_backward_alt"))[0].name
    assert own != draw(hidden_rng("batchnorm_backward"))[0].name
    assert f'batchnorm_backward_alt: case "{own}" failed' in str(failure.value)


def test_hidden_cases_depend_on_the_seed_and_repeat_for_the_same_seed(monkeypatch):
    def names(seed):
        monkeypatch.setenv(HIDDEN_SEED_VARIABLE, seed)
        rng = hidden_rng("batchnorm_forward")
        return [c.name for c in batchnorm_checks._hidden_flat_forward_cases(rng)]

    assert names("11") == names("11")
    assert names("11") != names("12")


def test_hidden_cases_cover_several_shapes_modes_and_batches_of_one_in_test_mode(monkeypatch):
    monkeypatch.setenv(HIDDEN_SEED_VARIABLE, "5")
    shapes, modes, spatial_shapes = set(), set(), set()
    for seed in range(5):
        rng = np.random.default_rng(seed)
        for case in batchnorm_checks._hidden_flat_forward_cases(rng):
            xs, case_modes = case.args[0], case.args[1]
            shapes.update((x.shape[0], mode) for x, mode in zip(xs, case_modes))
            modes.add(case_modes)
        for case in batchnorm_checks._hidden_spatial_forward_cases(rng):
            spatial_shapes.update(x.shape for x in case.args[0])
    assert (1, "test") in shapes  # a single example in test mode
    assert all(n >= 2 for n, mode in shapes if mode == "train")  # never N = 1 in training
    assert len(modes) > 3
    assert any(h != w for _, _, h, w in spatial_shapes)  # non-square maps
    assert any(n == 1 for n, _, _, _ in spatial_shapes)


FORWARD = checks.check_batchnorm_forward
SPATIAL_FORWARD = checks.check_spatial_batchnorm_forward


def _backward(impl):
    return (checks.check_batchnorm_backward, (CORRECT.batchnorm_forward, impl))


def _spatial_backward(impl):
    return (
        checks.check_spatial_batchnorm_backward,
        (CORRECT.spatial_batchnorm_forward, impl),
    )


# (check, the functions it takes, the hint it must name), in notebook order.
MISTAKES = [
    (FORWARD, (wrong.batchnorm_forward_unbiased_var,), "batchnorm_forward/unbiased_var"),
    (
        FORWARD,
        (wrong.batchnorm_forward_unbiased_running_var,),
        "batchnorm_forward/unbiased_running_var",
    ),
    (FORWARD, (wrong.batchnorm_forward_momentum_swapped,), "batchnorm_forward/momentum_swapped"),
    (
        FORWARD,
        (wrong.batchnorm_forward_test_mode_on_batch_stats,),
        "batchnorm_forward/test_mode_on_batch_stats",
    ),
    (FORWARD, (wrong.batchnorm_forward_eps_outside_sqrt,), "batchnorm_forward/eps_outside_sqrt"),
    (
        FORWARD,
        (wrong.batchnorm_forward_forgets_running_stats,),
        "batchnorm_forward/forgets_running_stats",
    ),
    (
        FORWARD,
        (wrong.batchnorm_forward_running_stats_in_new_names,),
        "batchnorm_forward/forgets_running_stats",
    ),
    (*_backward(wrong.batchnorm_backward_no_dvar_path), "batchnorm_backward/no_dvar_path"),
    (*_backward(wrong.batchnorm_backward_no_dmu_path), "batchnorm_backward/no_dmu_path"),
    (
        *_backward(wrong.batchnorm_backward_direct_path_only),
        "batchnorm_backward/direct_path_only",
    ),
    (*_backward(wrong.batchnorm_backward_dgamma_with_x), "batchnorm_backward/dgamma_with_x"),
    (
        SPATIAL_FORWARD,
        (wrong.spatial_batchnorm_forward_stats_per_example,),
        "spatial_batchnorm_forward/stats_per_example",
    ),
    (
        SPATIAL_FORWARD,
        (wrong.spatial_batchnorm_forward_stats_per_position,),
        "spatial_batchnorm_forward/stats_per_position",
    ),
    (
        SPATIAL_FORWARD,
        (wrong.spatial_batchnorm_forward_stats_per_image_channel,),
        "spatial_batchnorm_forward/stats_per_image_channel",
    ),
    (
        SPATIAL_FORWARD,
        (wrong.spatial_batchnorm_forward_stats_per_tensor,),
        "spatial_batchnorm_forward/stats_per_tensor",
    ),
    (
        SPATIAL_FORWARD,
        (wrong.spatial_batchnorm_forward_reshape_without_transpose,),
        "spatial_batchnorm_forward/reshape_without_transpose",
    ),
    (
        SPATIAL_FORWARD,
        (wrong.spatial_batchnorm_forward_unbiased_var,),
        "spatial_batchnorm_forward/unbiased_var",
    ),
    (
        SPATIAL_FORWARD,
        (wrong.spatial_batchnorm_forward_unbiased_running_var,),
        "spatial_batchnorm_forward/unbiased_running_var",
    ),
    (
        SPATIAL_FORWARD,
        (wrong.spatial_batchnorm_forward_momentum_swapped,),
        "spatial_batchnorm_forward/momentum_swapped",
    ),
    (
        SPATIAL_FORWARD,
        (wrong.spatial_batchnorm_forward_test_mode_on_batch_stats,),
        "spatial_batchnorm_forward/test_mode_on_batch_stats",
    ),
    (
        SPATIAL_FORWARD,
        (wrong.spatial_batchnorm_forward_eps_outside_sqrt,),
        "spatial_batchnorm_forward/eps_outside_sqrt",
    ),
    (
        SPATIAL_FORWARD,
        (wrong.spatial_batchnorm_forward_forgets_running_stats,),
        "spatial_batchnorm_forward/forgets_running_stats",
    ),
    (
        *_spatial_backward(wrong.spatial_batchnorm_backward_no_dvar_path),
        "spatial_batchnorm_backward/no_dvar_path",
    ),
    (
        *_spatial_backward(wrong.spatial_batchnorm_backward_no_dmu_path),
        "spatial_batchnorm_backward/no_dmu_path",
    ),
    (
        *_spatial_backward(wrong.spatial_batchnorm_backward_direct_path_only),
        "spatial_batchnorm_backward/direct_path_only",
    ),
    (
        *_spatial_backward(wrong.spatial_batchnorm_backward_dgamma_with_x),
        "spatial_batchnorm_backward/dgamma_with_x",
    ),
    (
        *_spatial_backward(wrong.spatial_batchnorm_backward_dgamma_over_batch_only),
        r"(?s)dgamma has shape \(3, 4, 5\), expected \(3,\)\..*sum over N, H and W.*"
        r"\[spatial_batchnorm_backward/dgamma_over_batch_only\]",
    ),
    (
        *_spatial_backward(wrong.spatial_batchnorm_backward_dbeta_over_batch_only),
        "spatial_batchnorm_backward/dbeta_over_batch_only",
    ),
]

test_check_fails_a_wrong_implementation_and_names_the_mistake = fails_each_mistake(MISTAKES)

HIDDEN_MISTAKES = [m for m in MISTAKES if m[0] in (FORWARD, checks.check_batchnorm_backward)]


@pytest.mark.parametrize(
    "check, impls, expected",
    HIDDEN_MISTAKES,
    ids=[impls[-1].__name__ for _, impls, _ in HIDDEN_MISTAKES],
)
def test_hidden_cases_fail_the_same_mistakes_with_the_same_hints(
    check, impls, expected, monkeypatch
):
    monkeypatch.setenv(HIDDEN_SEED_VARIABLE, "4")
    with pytest.raises(AssertionError) as failure:
        check(*impls, cases="hidden")
    assert "hidden cases fail" in str(failure.value)
    assert_names_the_mistake(str(failure.value), expected)


def test_eps_outside_the_square_root_shows_most_on_the_tiny_variance_case(monkeypatch):
    tiny = [c for c in batchnorm_checks._flat_forward_cases() if "tiny variance" in c.name]
    assert len(tiny) == 1
    only_tiny = dataclasses.replace(batchnorm_checks.BATCHNORM_FORWARD, public=lambda: tiny)
    monkeypatch.setattr(batchnorm_checks, "BATCHNORM_FORWARD", only_tiny)
    with pytest.raises(AssertionError) as failure:
        checks.check_batchnorm_forward(wrong.batchnorm_forward_eps_outside_sqrt)
    message = str(failure.value)
    assert "eps belongs INSIDE the square root" in message
    largest = float(re.search(r"largest error ([0-9.e+-]+)", message).group(1))
    assert largest > 0.01  # a visible error, not a rounding difference


def test_a_forward_failure_says_which_step_and_mode():
    with pytest.raises(AssertionError) as failure:
        checks.check_batchnorm_forward(wrong.batchnorm_forward_test_mode_on_batch_stats)
    message = str(failure.value)
    assert "(test mode, same bn_param as before)" in message
    assert "xs [(6, 5), (6, 5), (6, 5), (3, 5)]" in message
    assert "modes ('train', 'train', 'train', 'test')" in message


def test_backward_check_needs_a_working_forward_and_says_so():
    with pytest.raises(AssertionError, match="needs the cache of a working"):
        checks.check_batchnorm_backward(
            wrong.batchnorm_forward_unbiased_var, CORRECT.batchnorm_backward
        )


def test_backward_check_passes_only_the_students_own_cache():
    seen = []

    def forward(x, gamma, beta, bn_param):
        out, cache = CORRECT.batchnorm_forward(x, gamma, beta, bn_param)
        return out, ("opaque", cache)

    def backward(dout, cache):
        seen.append(cache[0])
        return CORRECT.batchnorm_backward(dout, cache[1])

    checks.check_batchnorm_backward(forward, backward)
    assert seen and set(seen) == {"opaque"}


def test_stubs_fail_with_not_implemented():
    def stub(*args):
        raise NotImplementedError()

    with pytest.raises(AssertionError, match="not written yet"):
        checks.check_batchnorm_forward(stub)
    with pytest.raises(AssertionError, match="not written yet"):
        checks.check_spatial_batchnorm_backward(CORRECT.spatial_batchnorm_forward, stub)


def test_a_forward_that_changes_x_in_place_is_told():
    def in_place(x, gamma, beta, bn_param):
        out, cache = CORRECT.batchnorm_forward(x.copy(), gamma, beta, bn_param)
        x -= x.mean(axis=0)
        return out, cache

    with pytest.raises(AssertionError, match="changed its input x in place"):
        checks.check_batchnorm_forward(in_place)


def test_running_statistics_must_be_numpy_arrays():
    def as_lists(x, gamma, beta, bn_param):
        out, cache = CORRECT.batchnorm_forward(x, gamma, beta, bn_param)
        bn_param["running_mean"] = list(bn_param["running_mean"])
        return out, cache

    with pytest.raises(AssertionError, match='bn_param\\["running_mean"\\] as a numpy.ndarray'):
        checks.check_batchnorm_forward(as_lists)


def test_float32_answers_are_judged_with_float32_tolerance():
    def float32(x, gamma, beta, bn_param):
        out, cache = CORRECT.batchnorm_forward(x, gamma, beta, bn_param)
        return out.astype(np.float32), cache

    result = checks.check_batchnorm_forward(float32)
    assert result.passed == result.total


def test_using_the_reference_twins_earns_no_credit():
    import torch

    def borrowed(x, gamma, beta, bn_param):
        out, cache = twins.batchnorm_forward(
            torch.from_numpy(x), torch.from_numpy(gamma), torch.from_numpy(beta), bn_param
        )
        return out.numpy(), cache

    with pytest.raises(AssertionError, match="NumPy exercise"):
        checks.check_batchnorm_forward(borrowed)


test_through_a_kernel_the_checks_pass_the_solution_and_name_each_mistake = grades_through_a_kernel(
    "04_batchnorm", CHECKS, MISTAKES, wrong, imports="import types\nimport numpy as np\n"
)


def test_a_failure_carries_the_arrays_that_differ_for_the_heat_map():
    with pytest.raises(AssertionError) as failure:
        checks.check_batchnorm_forward(wrong.batchnorm_forward_eps_outside_sqrt)
    assert failure.value.difference.what == "out"
    with pytest.raises(AssertionError) as failure:  # the forward's, in a backward check
        checks.check_batchnorm_backward(
            wrong.batchnorm_forward_unbiased_var, CORRECT.batchnorm_backward
        )
    assert failure.value.difference.what == "out"
    with pytest.raises(AssertionError) as failure:
        checks.check_batchnorm_backward(
            CORRECT.batchnorm_forward, wrong.batchnorm_backward_no_dvar_path
        )
    assert failure.value.difference.what == "dx"
