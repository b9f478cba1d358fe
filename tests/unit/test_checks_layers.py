"""The notebook 02 layer checks (affine, ReLU, dropout) pass right implementations and fail
each wrong one, naming its mistake."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from autograder import checks
from autograder.checks import layers as layer_checks
from autograder.kernel import rules
from course_utils import reference
from tests.check_harness import (
    assert_names_the_mistake,
    implementations,
    numpy_twin,
    standard_check_tests,
)
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

MISTAKES = [
    (checks.check_affine_forward, (wrong.affine_forward_no_flatten,), "affine_forward/no_flatten"),
    # Recognised from the exception: "too many values to unpack" on x (N, d_1, ..., d_k).
    (
        checks.check_affine_forward,
        (wrong.affine_forward_unpacks_shape,),
        "affine_forward/unpacks_shape",
    ),
    (
        checks.check_affine_backward,
        (CORRECT.affine_forward, wrong.affine_backward_unpacks_shape),
        "affine_backward/unpacks_shape",
    ),
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
        (wrong.dropout_forward_scaled_by_p,),
        "dropout_forward/scaled_by_p",
    ),
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

# dx right but for its shape: a near miss.
NEAR_MISSES = [
    (
        checks.check_affine_backward,
        (CORRECT.affine_forward, wrong.affine_backward_dx_not_reshaped),
        "affine_backward/dx_not_reshaped",
    )
]

TestStandardChecks = standard_check_tests(
    "02_layers",
    FUNCTIONS,
    modules=[layer_checks],
    others=implementations(FUNCTIONS, CORRECT),
    twins=implementations(FUNCTIONS, reference, numpy_twin),
    mistakes=MISTAKES,
    # Hidden inputs are random normal numbers: they have no exact zeros for ReLU's gate.
    hidden_mistakes=[m for m in MISTAKES if m[1][-1] is not wrong.relu_backward_gate_includes_zero],
    near_misses=NEAR_MISSES,
    hidden_near_misses=NEAR_MISSES,
    wrong=wrong,
)


def test_a_near_miss_earns_nothing_when_another_value_is_wrong_too():
    def affine_backward(dout, cache):
        # dx not reshaped (a near miss) and, on those very cases (x not flat), dw transposed.
        dx, dw, db = wrong.affine_backward_dx_not_reshaped(dout, cache)
        if cache[0].ndim > 2:
            dw = wrong.affine_backward_dw_transposed(dout, cache)[1]
        return dx, dw, db

    with pytest.raises(AssertionError) as failure:
        checks.check_affine_backward(CORRECT.affine_forward, affine_backward)
    assert_names_the_mistake(str(failure.value), "affine_backward/dw_transposed")
    assert "near miss" not in str(failure.value)


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


def test_a_dropout_that_keeps_the_right_share_but_scales_by_1_over_p_is_told_which_is_which():
    with pytest.raises(AssertionError) as failure:
        checks.check_dropout_forward(wrong.dropout_forward_scaled_by_p)
    message = str(failure.value)
    assert "your mask is right" in message and "Only the scale is wrong" in message
    assert "1 / (1 - p)" in message and "read as the probability of KEEPING" not in message
