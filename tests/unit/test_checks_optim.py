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


@pytest.mark.parametrize("name", sorted(CHECKS))
@pytest.mark.parametrize("kind", ["public", "hidden"])
def test_check_passes_the_notebook_solution(solutions, name, kind, capsys):
    result = CHECKS[name](getattr(solutions, name), cases=kind)
    assert result.passed == result.total > 0
    assert f"{name}: {result.total}/{result.total} {kind} cases pass" in capsys.readouterr().out


@pytest.mark.parametrize(
    "check, impl, mistake",
    [
        (check_sgd, wrong.sgd_default_learning_rate_1e_3, "Hint: wrong default"),
        (check_sgd, wrong.sgd_defaults_not_stored, "store the defaults in it"),
        (check_sgd, wrong.sgd_uphill, "stepped uphill"),
        (check_sgd, wrong.sgd_returns_list, "next_w as a numpy.ndarray; it returned a list"),
        (check_sgd_momentum, wrong.sgd_momentum_wrong_sign, "momentum with the wrong sign"),
        (check_sgd_momentum, wrong.sgd_momentum_pytorch_buffer, "PyTorch's buffer"),
        (
            check_sgd_momentum,
            wrong.sgd_momentum_state_not_in_config,
            r'no "velocity".*\n.*state must be stored in config',
        ),
        (check_adam, wrong.adam_state_in_closure, "keeps state outside config"),
        (check_adagrad, wrong.adagrad_no_sqrt, "without the square root"),
        (check_adagrad, wrong.adagrad_epsilon_inside_sqrt, "epsilon sits inside the square root"),
        (check_rmsprop, wrong.rmsprop_decay_on_wrong_term, "decay is on the wrong term"),
        (check_rmsprop, wrong.rmsprop_epsilon_inside_sqrt, "epsilon sits inside the square root"),
        (check_rmsprop, wrong.rmsprop_default_decay_rate_0_9, "Hint: wrong default"),
        (check_adam, wrong.adam_no_bias_correction, "no bias correction"),
        (check_adam, wrong.adam_t_incremented_late, "t is incremented late"),
        (check_adam, wrong.adam_epsilon_inside_sqrt, "epsilon sits inside the square root"),
        (check_adam, wrong.adam_default_learning_rate_1e_2, "Hint: wrong default"),
        (
            check_sgd_momentum,
            wrong.sgd_momentum_velocity_as_list,
            r'config\["velocity"\] as a numpy.ndarray; it returned a list',
        ),
    ],
)
def test_check_fails_a_wrong_implementation_and_names_the_mistake(check, impl, mistake):
    with pytest.raises(AssertionError, match=mistake):
        check(impl)


@pytest.mark.parametrize(
    "check, impl, mistake",
    [
        (check_sgd, wrong.sgd_default_learning_rate_1e_3, "wrong default"),
        (check_sgd_momentum, wrong.sgd_momentum_wrong_sign, "wrong sign"),
        (check_adagrad, wrong.adagrad_no_sqrt, "without the square root"),
        (check_adagrad, wrong.adagrad_epsilon_inside_sqrt, "epsilon sits inside"),
        (check_rmsprop, wrong.rmsprop_decay_on_wrong_term, "wrong term"),
        (check_adam, wrong.adam_no_bias_correction, "no bias correction"),
        (check_adam, wrong.adam_t_incremented_late, "incremented late"),
        (check_adam, wrong.adam_state_in_closure, "keeps state outside config"),
    ],
)
def test_hidden_cases_fail_the_same_mistakes_with_the_same_hints(check, impl, mistake):
    with pytest.raises(AssertionError, match=f"(?s)hidden.*{mistake}"):
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
