"""The notebook 04 checks pass right implementations and fail each wrong one with its hint."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest

from autograder import checks
from autograder.checks import batchnorm as batchnorm_checks
from autograder.checks._engine import broken_forward, hidden_rng
from autograder.course import HIDDEN_SEED_VARIABLE
from course_utils.reference import batchnorm as twins
from tests.check_harness import assert_names_the_mistake, implementations, standard_check_tests
from tests.kernel_grading import graded_tests, module_body, solutions_source
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

# A right value of the wrong shape: a near miss, on public cases and on hidden ones (and no more).
NEAR_MISSES = [
    (
        FORWARD,
        (wrong.batchnorm_forward_running_stats_shape,),
        "batchnorm_forward/running_stats_shape",
    ),
    (*_backward(wrong.batchnorm_backward_dgamma_shape), "batchnorm_backward/dgamma_shape"),
]

TestStandardChecks = standard_check_tests(
    "04_batchnorm",
    CHECKS,
    modules=[batchnorm_checks],
    # Written independently of the solution, with a cache of another layout.
    others=implementations(CHECKS, CORRECT),
    mistakes=MISTAKES,
    hidden_mistakes=[m for m in MISTAKES if m[0] in (FORWARD, checks.check_batchnorm_backward)],
    hidden_seed="4",
    near_misses=NEAR_MISSES,
    hidden_near_misses=NEAR_MISSES,
    wrong=wrong,
    imports="import types\nimport numpy as np\n",
)


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


def test_backward_check_needs_a_forward_that_gives_a_cache_and_says_so():
    def batchnorm_forward(x, gamma, beta, bn_param):
        raise ValueError("not yet")

    with pytest.raises(AssertionError, match="needs the cache of a working batchnorm_forward"):
        checks.check_batchnorm_backward(batchnorm_forward, CORRECT.batchnorm_backward)


def test_a_backward_checked_with_a_broken_forwards_cache_says_so_as_every_backward_check_does():
    def batchnorm_forward(x, gamma, beta, bn_param):  # a wrong out, and a cache to match it
        return CORRECT.batchnorm_forward(x[::-1].copy(), gamma, beta, bn_param)

    with pytest.raises(AssertionError) as failure:
        checks.check_batchnorm_backward(batchnorm_forward, CORRECT.batchnorm_backward)
    note = broken_forward("batchnorm_forward", "_batchnorm_backward")
    assert note in " ".join(str(failure.value).split())


def test_a_right_backward_behind_a_forward_with_a_wrong_out_is_judged_on_its_gradients():
    # The unbiased variance changes out, not the cache this backward recomputes from (x).
    result = checks.check_batchnorm_backward(
        wrong.batchnorm_forward_unbiased_var, CORRECT.batchnorm_backward
    )
    assert result.passed == result.total


def test_running_statistics_of_the_wrong_shape_earn_nothing_when_test_mode_is_wrong_too():
    def batchnorm_forward(x, gamma, beta, bn_param):  # (1, D) running statistics, and ...
        if bn_param["mode"] == "test":  # ... test mode on the batch's own statistics
            return CORRECT.batchnorm_forward(x, gamma, beta, {**bn_param, "mode": "train"})
        return wrong.batchnorm_forward_running_stats_shape(x, gamma, beta, bn_param)

    with pytest.raises(AssertionError) as failure:
        checks.check_batchnorm_forward(batchnorm_forward)
    message = str(failure.value)
    # The first case whose values are wrong is shown, not the near miss before it.
    assert "fail; the first wrong one is shown" in message.splitlines()[0]
    assert "near miss" not in message and "running_stats_shape" not in message
    assert_names_the_mistake(message, "batchnorm_forward/test_mode_on_batch_stats")


@pytest.mark.slow
def test_through_a_kernel_a_near_miss_passes_its_test_cell_with_the_near_miss_recorded(tmp_path):
    tests = [
        "from autograder.checks import check_batchnorm_forward\n"
        "check_batchnorm_forward(batchnorm_forward_running_stats_shape)\n"
        "check_batchnorm_forward(batchnorm_forward_running_stats_shape, cases='hidden')\n",
        "from autograder.checks import check_batchnorm_backward\n"
        "check_batchnorm_backward(_batchnorm_forward, batchnorm_backward_dgamma_shape)\n"
        "check_batchnorm_backward(_batchnorm_forward, batchnorm_backward_dgamma_shape, "
        "cases='hidden')\n",
    ]
    student = solutions_source("04_batchnorm") + "\n\n" + module_body(wrong)
    nb, verdicts = graded_tests(tmp_path, "import types\nimport numpy as np\n", student, tests)
    assert [v.passed for v in verdicts] == [True, True]
    assert [v.near_miss for v in verdicts] == [
        ["batchnorm_forward/running_stats_shape"],
        ["batchnorm_backward/dgamma_shape"],
    ]
    printed = "".join(o.get("text", "") for o in nb.cells[2].outputs)
    assert "must have shape (5,), one value per channel like gamma, not (1, 5)" in printed


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


def test_a_failure_carries_the_arrays_that_differ_for_the_heat_map():
    with pytest.raises(AssertionError) as failure:
        checks.check_batchnorm_forward(wrong.batchnorm_forward_eps_outside_sqrt)
    assert failure.value.difference.what == "out"
    with pytest.raises(AssertionError) as failure:
        checks.check_batchnorm_backward(
            CORRECT.batchnorm_forward, wrong.batchnorm_backward_no_dvar_path
        )
    assert failure.value.difference.what == "dx"
