"""The checks of notebook 03 pass the notebook's solutions and fail every known mistake, naming it."""

import numpy as np
import pytest

from autograder.checks import (
    check_adagrad,
    check_adam,
    check_rmsprop,
    check_sgd,
    check_sgd_momentum,
)
from autograder.checks import optim as optim_checks
from tests.check_harness import standard_check_tests
from tests.solutions import load_solutions
from tests.wrong import optim as wrong

CHECKS = {
    "sgd": check_sgd,
    "sgd_momentum": check_sgd_momentum,
    "adagrad": check_adagrad,
    "rmsprop": check_rmsprop,
    "adam": check_adam,
}


@pytest.fixture(scope="module")
def solutions():
    return load_solutions("03_optimizers")


def test_a_pass_is_one_line_that_names_the_rule(solutions, capsys):
    result = check_adam(solutions.adam)
    assert capsys.readouterr().out == result.line() + "\n"
    assert result.line().startswith(f"adam: {result.total}/{result.total} public cases pass")


WRONG = [
    (check_sgd, (wrong.sgd_default_learning_rate_1e_3,), "sgd/wrong_default"),
    (check_sgd, (wrong.sgd_defaults_not_stored,), "store the defaults in it"),
    (check_sgd, (wrong.sgd_uphill,), "sgd/uphill"),
    (check_sgd, (wrong.sgd_returns_list,), "next_w as a numpy.ndarray; it returned a list"),
    (check_sgd_momentum, (wrong.sgd_momentum_wrong_sign,), "sgd_momentum/wrong_sign"),
    (
        check_sgd_momentum,
        (wrong.sgd_momentum_wrong_sign_in_step,),
        "sgd_momentum/wrong_sign_in_step",
    ),
    (check_sgd_momentum, (wrong.sgd_momentum_pytorch_buffer,), "sgd_momentum/pytorch_buffer"),
    (check_sgd_momentum, (wrong.sgd_momentum_old_velocity,), "sgd_momentum/old_velocity"),
    (
        check_sgd_momentum,
        (wrong.sgd_momentum_state_not_in_config,),
        r'no "velocity"\.\n.*state must be stored in config.*'
        r"\[sgd_momentum/state_not_in_config\]",
    ),
    (
        check_sgd_momentum,
        (wrong.sgd_momentum_velocity_as_list,),
        r'config\["velocity"\] as a numpy.ndarray; it returned a list',
    ),
    (check_adagrad, (wrong.adagrad_no_sqrt,), "adagrad/no_sqrt"),
    (check_adagrad, (wrong.adagrad_epsilon_inside_sqrt,), "adagrad/epsilon_inside_sqrt"),
    (check_adagrad, (wrong.adagrad_cache_forgets,), "adagrad/cache_forgets"),
    (check_rmsprop, (wrong.rmsprop_decay_on_wrong_term,), "rmsprop/decay_on_wrong_term"),
    (check_rmsprop, (wrong.rmsprop_no_sqrt,), "rmsprop/no_sqrt"),
    (check_rmsprop, (wrong.rmsprop_epsilon_inside_sqrt,), "rmsprop/epsilon_inside_sqrt"),
    (check_rmsprop, (wrong.rmsprop_adagrad_cache,), "rmsprop/adagrad_cache"),
    (check_rmsprop, (wrong.rmsprop_default_decay_rate_0_9,), "rmsprop/wrong_default"),
    (check_adam, (wrong.adam_no_bias_correction,), "adam/no_bias_correction"),
    (check_adam, (wrong.adam_t_incremented_late,), "adam/t_incremented_late"),
    (
        check_adam,
        (wrong.adam_t_incremented_late_from_one,),
        "adam/t_incremented_late_from_one",
    ),
    (check_adam, (wrong.adam_t_starts_at_one,), "adam/t_starts_at_one"),
    (check_adam, (wrong.adam_epsilon_inside_sqrt,), "adam/epsilon_inside_sqrt"),
    (check_adam, (wrong.adam_default_learning_rate_1e_2,), "adam/wrong_default"),
    (check_adam, (wrong.adam_hidden_state,), "adam/hidden_state"),
]

TestStandardChecks = standard_check_tests(
    "03_optimizers",
    {f"check_{name}": (name,) for name in CHECKS},
    modules=[optim_checks],
    mistakes=WRONG,
    wrong=wrong,
)


@pytest.mark.parametrize(
    "check, impl, hint",
    [
        (check_sgd, wrong.sgd_default_learning_rate_1e_3, "sgd/wrong_default"),
        (check_sgd_momentum, wrong.sgd_momentum_wrong_sign, "sgd_momentum/wrong_sign"),
        (check_adagrad, wrong.adagrad_no_sqrt, "adagrad/no_sqrt"),
        (check_adagrad, wrong.adagrad_epsilon_inside_sqrt, "adagrad/epsilon_inside_sqrt"),
        (check_rmsprop, wrong.rmsprop_decay_on_wrong_term, "rmsprop/decay_on_wrong_term"),
        (check_adam, wrong.adam_no_bias_correction, "adam/no_bias_correction"),
        (check_adam, wrong.adam_t_incremented_late, "adam/t_incremented_late"),
        (check_adam, wrong.adam_t_starts_at_one, "adam/t_starts_at_one"),
        (check_adam, wrong.adam_hidden_state, "adam/hidden_state"),
    ],
)
def test_hidden_cases_fail_the_same_mistakes_with_the_same_hints(check, impl, hint):
    with pytest.raises(AssertionError, match=rf"(?s)hidden.*\[{hint}\]"):
        check(impl, cases="hidden")


def test_a_failure_names_the_function_the_case_the_step_and_the_inputs():
    with pytest.raises(AssertionError) as failure:
        check_sgd_momentum(wrong.sgd_momentum_wrong_sign)
    first, inputs, body, *_ = str(failure.value).splitlines()
    assert first.startswith('sgd_momentum: case "config=None: every default" failed')
    assert inputs == "  inputs: w (5,), dw (one per step) (6, 5), config None"
    assert body.startswith("  at step 1 of 6: next_w has the right shape (5,) but wrong values")


def test_state_is_compared_even_when_the_weights_are_right(solutions):
    def adam_forgets_to_return_the_new_m(w, dw, config=None):
        old_m = None if config is None else config.get("m")
        next_w, config = solutions.adam(w, dw, config)
        if old_m is not None:
            config["m"] = old_m
        return next_w, config

    with pytest.raises(AssertionError, match=r'at step 2 of .*config\["m"\]'):
        check_adam(adam_forgets_to_return_the_new_m)


def test_changing_the_callers_hyper_parameters_fails(solutions):
    def sgd_halves_a_given_learning_rate(w, dw, config=None):
        given = config is not None and "learning_rate" in config
        next_w, config = solutions.sgd(w, dw, config)
        if given:
            config["learning_rate"] /= 2
        return next_w, config

    with pytest.raises(AssertionError, match="keep the caller's hyper-parameters"):
        check_sgd(sgd_halves_a_given_learning_rate)


def test_float32_answers_are_judged_with_float32_tolerances(solutions):
    def sgd_float32(w, dw, config=None):
        next_w, config = solutions.sgd(w, dw, config)
        return next_w.astype(np.float32), config

    result = check_sgd(sgd_float32)
    assert result.passed == result.total


def test_updating_w_in_place_is_allowed(solutions):
    def sgd_in_place(w, dw, config=None):
        next_w, config = solutions.sgd(w, dw, config)
        w[...] = next_w
        return w, config

    result = check_sgd(sgd_in_place)
    assert result.passed == result.total


def test_an_unwritten_function_is_told_it_is_not_written_yet():
    def stub(w, dw, config=None):
        raise NotImplementedError()

    for check in CHECKS.values():
        with pytest.raises(AssertionError, match="not written yet"):
            check(stub)


def test_a_numpy_exercise_that_calls_the_reference_is_refused():
    from course_utils import reference

    def adam_by_reference(w, dw, config=None):
        return reference.adam(w, dw, config)

    with pytest.raises(AssertionError, match="NumPy exercise"):
        check_adam(adam_by_reference)


def test_hidden_cases_follow_the_graders_seed(monkeypatch, solutions, capsys):
    monkeypatch.setenv("CNN_COURSE_HIDDEN_SEED", "99")
    first = check_adam(solutions.adam, cases="hidden")
    again = check_adam(solutions.adam, cases="hidden")
    assert first.largest_error == again.largest_error
    assert first.passed == first.total


def test_a_failure_carries_the_arrays_that_differ_for_the_heat_map():
    with pytest.raises(AssertionError) as failure:
        check_adam(wrong.adam_no_bias_correction)
    difference = failure.value.difference
    assert difference.what == "next_w" and difference.got.shape == difference.expected.shape
