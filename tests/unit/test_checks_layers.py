"""The notebook 02 layer checks (affine, ReLU, dropout) pass right implementations and fail
each wrong one, naming its mistake."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from autograder import checks
from autograder.checks import layers as layer_checks
from autograder.course import HIDDEN_SEED_VARIABLE
from autograder.kernel import rules
from course_utils import reference
from tests.check_harness import (
    assert_names_the_mistake,
    fails_each_mistake,
    gives_a_near_miss,
    numpy_twin,
    passes_implementations,
    passes_the_solution,
)
from tests.kernel_grading import grades_through_a_kernel
from tests.wrong import layers as wrong

CORRECT = wrong.CORRECT

# check -> the names of the functions it takes, in notebook order.
FUNCTIONS = {
    "check_affine_forward": ("affine_forward",),
    "check_affine_backward": ("affine_forward", "affine_backward"),
    "check_relu_forward": ("relu_forward",),
    "check_relu_backward": ("relu_forward", "relu_backward"),
    "check_dropout_forward": ("dropout_forward",),
    "check_dropout_backward": ("dropout_forward", "dropout_backward"),
}


def test_every_check_is_exported_from_autograder_checks():
    for name in layer_checks.__all__:
        assert getattr(checks, name) is getattr(layer_checks, name)
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

test_a_right_dx_of_the_wrong_shape_is_a_near_miss = gives_a_near_miss(
    [
        (
            checks.check_affine_backward,
            (CORRECT.affine_forward, wrong.affine_backward_dx_not_reshaped),
            "affine_backward/dx_not_reshaped",
        )
    ]
)

MISTAKES = [
    (checks.check_affine_forward, (wrong.affine_forward_no_flatten,), "affine_forward/no_flatten"),
    (
        checks.check_affine_backward,
        (CORRECT.affine_forward, wrong.affine_backward_dw_transposed),
        "affine_backward/dw_transposed",
    ),
    (
        checks.check_affine_backward,
        (CORRECT.affine_forward, wrong.affine_backward_no_bias_gradient),
        "affine_backward/no_bias_gradient",
    ),
    (
        checks.check_relu_backward,
        (CORRECT.relu_forward, wrong.relu_backward_on_dout),
        "relu_backward/on_dout",
    ),
    (
        checks.check_relu_backward,
        (CORRECT.relu_forward, wrong.relu_backward_gate_includes_zero),
        "relu_backward/gate_includes_zero",
    ),
    (
        checks.check_dropout_forward,
        (wrong.dropout_forward_no_scaling,),
        "dropout_forward/no_scaling",
    ),
    (checks.check_dropout_forward, (wrong.dropout_forward_p_as_keep,), "dropout_forward/p_as_keep"),
    (
        checks.check_dropout_forward,
        (wrong.dropout_forward_active_at_test,),
        "dropout_forward/active_at_test",
    ),
    (
        checks.check_dropout_forward,
        (wrong.dropout_forward_ignores_seed,),
        "dropout_forward/ignores_seed",
    ),
    (
        checks.check_dropout_backward,
        (CORRECT.dropout_forward, wrong.dropout_backward_no_scaling),
        "dropout_backward/no_scaling",
    ),
    (
        checks.check_dropout_backward,
        (CORRECT.dropout_forward, wrong.dropout_backward_not_masked),
        "dropout_backward/not_masked",
    ),
    # A backward check judges the forward whose cache it is given, and names its mistake.
    (
        checks.check_dropout_backward,
        (wrong.dropout_forward_no_scaling, CORRECT.dropout_backward),
        "dropout_backward/forward_no_scaling",
    ),
    (
        checks.check_dropout_backward,
        (wrong.dropout_forward_p_as_keep, CORRECT.dropout_backward),
        "dropout_backward/forward_p_as_keep",
    ),
    (
        checks.check_dropout_backward,
        (wrong.dropout_forward_active_at_test, CORRECT.dropout_backward),
        "dropout_backward/forward_active_at_test",
    ),
]

test_check_fails_a_wrong_implementation_and_names_the_mistake = fails_each_mistake(MISTAKES)

test_through_a_kernel_the_checks_pass_the_solution_and_name_each_mistake = grades_through_a_kernel(
    "02_layers", list(FUNCTIONS.items()), MISTAKES, wrong
)


# Hidden inputs are random normal numbers: they have no exact zeros for ReLU's gate.
HIDDEN_MISTAKES = [m for m in MISTAKES if m[1][-1] is not wrong.relu_backward_gate_includes_zero]


@pytest.mark.parametrize(
    "check, impls, mistake", HIDDEN_MISTAKES, ids=[m[1][-1].__name__ for m in HIDDEN_MISTAKES]
)
def test_hidden_cases_fail_the_same_wrong_implementation(check, impls, mistake, monkeypatch):
    monkeypatch.setenv(HIDDEN_SEED_VARIABLE, "5")
    with pytest.raises(AssertionError, match="hidden cases fail") as failure:
        check(*impls, cases="hidden")
    assert_names_the_mistake(str(failure.value), mistake)


def test_the_seed_hint_asks_for_a_generator_and_never_reseeds_numpy():
    with pytest.raises(AssertionError) as failure:
        checks.check_dropout_forward(wrong.dropout_forward_ignores_seed)
    message = str(failure.value)
    assert 'np.random.default_rng(dropout_param.get("seed"))' in message
    assert "np.random.seed(" not in message


def test_a_backward_check_says_to_fix_the_forward_first():
    def relu_forward(x):
        raise ValueError("oops")

    with pytest.raises(AssertionError, match="fix relu_forward first"):
        checks.check_relu_backward(relu_forward, CORRECT.relu_backward)


def test_a_tensor_answer_is_refused_with_a_conversion_hint(monkeypatch):
    def relu_forward(x):
        return torch.from_numpy(np.maximum(x, 0)), x

    with pytest.raises(AssertionError, match="torch.from_numpy"):
        checks.check_relu_forward(relu_forward)  # PyTorch in a NumPy exercise
    monkeypatch.setattr(rules, "BANNED_MODULES", ())
    with pytest.raises(AssertionError, match=r"Convert with \.detach\(\)\.cpu\(\)\.numpy\(\)"):
        checks.check_relu_forward(relu_forward)


def test_an_unknown_kind_of_cases_is_refused():
    with pytest.raises(ValueError, match='"public" or "hidden"'):
        checks.check_relu_forward(CORRECT.relu_forward, cases="all")


# --- banned libraries ---------------------------------------------------------------------------


def test_a_relu_that_calls_the_reference_twin_fails_naming_it():
    with pytest.raises(AssertionError, match="course_utils.reference.layers.relu_forward"):
        checks.check_relu_forward(wrong.relu_forward_calls_reference_twin)


def test_a_banned_backward_fails_even_behind_a_correct_forward():
    def relu_backward(dout, cache):
        return wrong._relu_by_reference(cache) * 0 + dout * (cache > 0)

    with pytest.raises(AssertionError, match="course_utils.reference"):
        checks.check_relu_backward(CORRECT.relu_forward, relu_backward)


def test_a_right_backward_after_a_broken_forward_is_told_to_fix_the_forward_first():
    def relu_forward(x):
        return np.abs(x), np.abs(x)  # a wrong out, and a cache that is not x

    with pytest.raises(AssertionError) as failure:
        checks.check_relu_backward(relu_forward, CORRECT.relu_backward)
    message = str(failure.value)
    assert "relu_forward gives a wrong out on this very case" in message
    assert "fix relu_forward first" in message


def test_a_wrong_backward_after_a_right_forward_gets_no_such_note():
    with pytest.raises(AssertionError) as failure:
        checks.check_relu_backward(CORRECT.relu_forward, wrong.relu_backward_gate_includes_zero)
    assert "broken forward" not in str(failure.value)
