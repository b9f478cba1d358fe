"""The notebook 02 loss and numerical-gradient checks pass right implementations and fail each
wrong one, naming its mistake."""

from __future__ import annotations

import numpy as np
import pytest

from autograder import checks
from autograder.checks import losses as loss_checks
from autograder.kernel import rules
from course_utils import reference
from tests.check_harness import implementations, numpy_twin, standard_check_tests
from tests.wrong import losses as wrong

CORRECT = wrong.CORRECT

# check -> the names of the functions it takes, in notebook order.
LOSSES = {
    "check_softmax_loss": ("softmax_loss",),
    "check_svm_loss": ("svm_loss",),
    "check_bce_loss": ("bce_loss",),
}
GRADIENT = {"check_eval_numerical_gradient_array": ("eval_numerical_gradient_array",)}
FUNCTIONS = {**LOSSES, **GRADIENT}


MISTAKES = [
    (
        checks.check_softmax_loss,
        (wrong.softmax_loss_no_max_subtraction,),
        "softmax_loss/no_max_subtraction",
    ),
    (
        checks.check_softmax_loss,
        (wrong.softmax_loss_log_of_underflowed_probability,),
        "softmax_loss/log_of_underflowed_probability",
    ),
    (
        checks.check_softmax_loss,
        (wrong.softmax_loss_no_max_subtraction_log_of_probabilities,),
        "softmax_loss/no_max_subtraction",
    ),
    (
        checks.check_softmax_loss,
        (wrong.softmax_loss_log_plus_epsilon,),
        "softmax_loss/log_plus_epsilon",
    ),
    (checks.check_softmax_loss, (wrong.softmax_loss_summed,), "softmax_loss/summed"),
    (
        checks.check_svm_loss,
        (wrong.svm_loss_counts_correct_class,),
        "svm_loss/counts_correct_class",
    ),
    (checks.check_svm_loss, (wrong.svm_loss_summed,), "svm_loss/summed"),
    (checks.check_bce_loss, (wrong.bce_loss_lecture_sign,), "bce_loss/lecture_sign"),
    (checks.check_bce_loss, (wrong.bce_loss_log_of_sigmoid,), "bce_loss/log_of_sigmoid"),
    (checks.check_bce_loss, (wrong.bce_loss_summed,), "bce_loss/summed"),
    (
        checks.check_eval_numerical_gradient_array,
        (wrong.eval_numerical_gradient_array_forward_differences,),
        "eval_numerical_gradient_array/forward_differences",
    ),
    (
        checks.check_eval_numerical_gradient_array,
        (wrong.eval_numerical_gradient_array_ignores_df,),
        "eval_numerical_gradient_array/ignores_df",
    ),
    (
        checks.check_eval_numerical_gradient_array,
        (wrong.eval_numerical_gradient_array_ignores_h,),
        "eval_numerical_gradient_array/ignores_h",
    ),
    (
        checks.check_eval_numerical_gradient_array,
        (wrong.eval_numerical_gradient_array_not_restored,),
        "x was not restored",
    ),
    (
        checks.check_eval_numerical_gradient_array,
        (wrong.eval_numerical_gradient_array_on_a_copy,),
        "eval_numerical_gradient_array/on_a_copy",
    ),
]

# Seed 5 draws the logit 399.6 with target 1: its sigmoid is exactly 1.0, so (1 - y) log(1 - s)
# is 0 * -inf = nan in the lecture's formula as in this one, and the sign error, listed first,
# is named instead (as it always was; the public cases name this mistake).
#
# A softmax that neither shifts nor takes log-probabilities directly has, on seed 5's large
# scores, an infinite loss rather than nan: what the log of an underflowed probability gives, a
# mistake this code makes too, and whose fix (log-softmax of the shifted scores) fixes both.
NAMED_OTHERWISE_IN_HIDDEN = {
    wrong.bce_loss_log_of_sigmoid,
    wrong.softmax_loss_no_max_subtraction_log_of_probabilities,
}


TestStandardChecks = standard_check_tests(
    "02_layers",
    FUNCTIONS,
    modules=[loss_checks],
    others=implementations(FUNCTIONS, CORRECT),
    twins=[
        *implementations(LOSSES, reference, numpy_twin),
        # The numerical gradient's twin takes NumPy arrays as they are (and calls f with them).
        *implementations(GRADIENT, reference),
    ],
    mistakes=MISTAKES,
    hidden_mistakes=MISTAKES,
    named_otherwise_in_hidden=NAMED_OTHERWISE_IN_HIDDEN,
    wrong=wrong,
)


def test_the_softmax_stability_case_overflows_a_naive_softmax_in_float64():
    scores = loss_checks._STABILITY_LOGITS * loss_checks._OVERFLOW_SCALE
    assert scores.max() > np.log(np.finfo(np.float64).max)
    # ... while the lecture's own logits do not overflow it in float64.
    assert np.isfinite(np.exp(loss_checks._STABILITY_LOGITS)).all()


def test_an_overflowing_softmax_is_told_to_shift_not_that_a_probability_underflowed():
    # Its loss is as infinite as the underflow mistake's, but it is right once shifted.
    with pytest.raises(AssertionError) as failure:
        checks.check_softmax_loss(wrong.softmax_loss_no_max_subtraction)
    assert "subtract each row's maximum" in str(failure.value)
    assert "underflowed" not in str(failure.value)


def test_a_call_built_at_run_time_is_caught_while_it_runs():
    assert rules.find_banned(wrong.softmax_loss_imports_torch_at_run_time) == []
    with pytest.raises(AssertionError, match="your code called torch"):
        checks.check_softmax_loss(wrong.softmax_loss_imports_torch_at_run_time)


def test_a_loss_capped_by_an_epsilon_is_told_the_cap_it_reached():
    with pytest.raises(AssertionError) as failure:
        checks.check_softmax_loss(wrong.softmax_loss_log_plus_epsilon)
    message = str(failure.value)
    assert "expected 457.725, got 46.0517" in message  # the lecture logits
    assert "capped at 46.05 per example" in message and "log(p + 1e-20)" in message
