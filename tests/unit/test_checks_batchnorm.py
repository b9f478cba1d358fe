"""The notebook 04 checks pass right implementations and fail each wrong one with its hint."""

from __future__ import annotations

import re

import numpy as np
import pytest

from autograder import checks
from autograder.checks import batchnorm as batchnorm_checks
from autograder.checks._compare import hidden_rng
from autograder.course import HIDDEN_SEED_VARIABLE
from course_utils.reference import batchnorm as twins
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
SEEDS = ["1", "2", "3"]


def _ids(params):
    return [f"{check}({', '.join(names)})" for check, names in params]


@pytest.fixture(scope="module")
def solutions():
    return load_solutions("04_batchnorm")


def test_every_check_is_exported_from_autograder_checks():
    for name in batchnorm_checks.__all__:
        assert getattr(checks, name) is getattr(batchnorm_checks, name)


@pytest.mark.parametrize("check, names", CHECKS, ids=_ids(CHECKS))
def test_check_passes_the_notebook_solution_on_public_cases(check, names, solutions, capsys):
    result = getattr(checks, check)(*(getattr(solutions, n) for n in names))
    assert result.passed == result.total > 0
    assert "public cases pass" in capsys.readouterr().out


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("check, names", CHECKS, ids=_ids(CHECKS))
def test_check_passes_the_notebook_solution_on_hidden_cases(
    check, names, seed, solutions, monkeypatch
):
    monkeypatch.setenv(HIDDEN_SEED_VARIABLE, seed)
    result = getattr(checks, check)(*(getattr(solutions, n) for n in names), cases="hidden")
    assert result.passed == result.total > 0
    assert result.kind == "hidden"


@pytest.mark.parametrize("check, names", CHECKS, ids=_ids(CHECKS))
def test_check_passes_an_independent_implementation_with_another_cache(check, names, monkeypatch):
    getattr(checks, check)(*(getattr(CORRECT, n) for n in names))
    monkeypatch.setenv(HIDDEN_SEED_VARIABLE, "7")
    getattr(checks, check)(*(getattr(CORRECT, n) for n in names), cases="hidden")


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


FORWARD_MISTAKES = [
    (wrong.batchnorm_forward_unbiased_var, "unbiased variance"),
    (wrong.batchnorm_forward_unbiased_running_var, "unbiased variance"),
    (wrong.batchnorm_forward_momentum_swapped, "swapped momentum and 1 - momentum"),
    (wrong.batchnorm_forward_test_mode_on_batch_stats, "test batch's own mean and variance"),
    (wrong.batchnorm_forward_eps_outside_sqrt, "eps belongs INSIDE the square root"),
    (wrong.batchnorm_forward_forgets_running_stats, "were not stored into bn_param"),
    (wrong.batchnorm_forward_running_stats_in_new_names, "were not stored into bn_param"),
]


@pytest.mark.parametrize("cases", ["public", "hidden"])
@pytest.mark.parametrize(
    "impl, mistake", FORWARD_MISTAKES, ids=lambda v: getattr(v, "__name__", "")
)
def test_check_batchnorm_forward_fails_and_names_the_mistake(impl, mistake, cases, monkeypatch):
    monkeypatch.setenv(HIDDEN_SEED_VARIABLE, "4")
    with pytest.raises(AssertionError, match=mistake):
        checks.check_batchnorm_forward(impl, cases=cases)


def test_eps_outside_the_square_root_shows_most_on_the_tiny_variance_case(monkeypatch):
    tiny = [c for c in batchnorm_checks._flat_forward_cases() if "tiny variance" in c.name]
    assert len(tiny) == 1
    monkeypatch.setattr(batchnorm_checks, "_flat_forward_cases", lambda: tiny)
    with pytest.raises(AssertionError) as failure:
        checks.check_batchnorm_forward(wrong.batchnorm_forward_eps_outside_sqrt)
    message = str(failure.value)
    assert "eps belongs INSIDE the square root" in message
    largest = float(re.search(r"largest error ([0-9.e+-]+)", message).group(1))
    assert largest > 0.01  # a visible error, not a rounding difference


BACKWARD_MISTAKES = [
    (wrong.batchnorm_backward_no_dvar_path, "no dvar path"),
    (wrong.batchnorm_backward_no_dmu_path, "no dmu path"),
    (wrong.batchnorm_backward_direct_path_only, "as if mu and var were constants"),
    (wrong.batchnorm_backward_dgamma_with_x, "NORMALISED x_hat"),
]


@pytest.mark.parametrize("cases", ["public", "hidden"])
@pytest.mark.parametrize(
    "impl, mistake", BACKWARD_MISTAKES, ids=lambda v: getattr(v, "__name__", "")
)
def test_check_batchnorm_backward_fails_and_names_the_mistake(impl, mistake, cases, monkeypatch):
    monkeypatch.setenv(HIDDEN_SEED_VARIABLE, "4")
    with pytest.raises(AssertionError, match=mistake):
        checks.check_batchnorm_backward(CORRECT.batchnorm_forward, impl, cases=cases)


SPATIAL_FORWARD_MISTAKES = [
    (wrong.spatial_batchnorm_forward_stats_per_example, "per example, over C, H and W"),
    (wrong.spatial_batchnorm_forward_stats_per_position, "per \\(channel, row, column\\) position"),
    (wrong.spatial_batchnorm_forward_stats_per_image_channel, "instance normalisation"),
    (wrong.spatial_batchnorm_forward_reshape_without_transpose, "Without moving C last"),
    (wrong.spatial_batchnorm_forward_unbiased_var, "unbiased variance"),
    (wrong.spatial_batchnorm_forward_momentum_swapped, "swapped momentum"),
]


@pytest.mark.parametrize(
    "impl, mistake", SPATIAL_FORWARD_MISTAKES, ids=lambda v: getattr(v, "__name__", "")
)
def test_check_spatial_batchnorm_forward_fails_and_names_the_mistake(impl, mistake):
    with pytest.raises(AssertionError, match=mistake):
        checks.check_spatial_batchnorm_forward(impl)


SPATIAL_BACKWARD_MISTAKES = [
    (wrong.spatial_batchnorm_backward_no_dvar_path, "no dvar path"),
    (wrong.spatial_batchnorm_backward_dgamma_over_batch_only, "sum over N, H and W"),
]


@pytest.mark.parametrize(
    "impl, mistake", SPATIAL_BACKWARD_MISTAKES, ids=lambda v: getattr(v, "__name__", "")
)
def test_check_spatial_batchnorm_backward_fails_and_names_the_mistake(impl, mistake):
    with pytest.raises(AssertionError, match=mistake):
        checks.check_spatial_batchnorm_backward(CORRECT.spatial_batchnorm_forward, impl)


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
