"""The notebook 04 Kaiming check passes right implementations (the same draws as the twin, or
other draws with the right law) and fails each wrong one, naming its mistake, in this process
and through a kernel, where the student's generator is made from a seed."""

from __future__ import annotations

import numpy as np
import pytest

from autograder import checks
from autograder.checks import initialization as initialization_checks
from autograder.kernel.measure import MEASUREMENTS
from course_utils import reference
from tests.check_harness import (
    fails_each_mistake,
    implementations,
    numpy_twin,
    passes_implementations,
    standard_check_tests,
)
from tests.wrong import normalization as wrong

check_kaiming_normal = checks.check_kaiming_normal
RELU_GAIN = np.sqrt(2.0)


def kaiming_normal_drawn_transposed(shape, rng, gain=RELU_GAIN):
    """Right: the same law, its numbers drawn in another order (not the twin's array)."""
    if len(shape) not in (2, 4):
        raise ValueError(f"kaiming_normal takes (D, M) or (F, C, HH, WW), got {shape}.")
    fan_in = shape[0] if len(shape) == 2 else int(np.prod(shape[1:]))
    return rng.standard_normal(tuple(shape)[::-1]).T * (gain / np.sqrt(fan_in))


def _reversed(impl):
    """``impl`` with its numbers in reverse order: the same statistics, not the same draw, so
    the check can only judge it by its statistics."""

    def kaiming_normal(shape, rng, gain=RELU_GAIN):
        w = impl(shape, rng, gain)
        return np.ascontiguousarray(w.ravel()[::-1].reshape(w.shape))

    kaiming_normal.__name__ = f"{impl.__name__}_reversed"
    return kaiming_normal


FUNCTIONS = {"check_kaiming_normal": ("kaiming_normal",)}
MISTAKES = [
    (check_kaiming_normal, (impl,), wrong.mistake_id(impl))
    for impl in wrong.MISTAKES["kaiming_normal"]
]

TestStandardChecks = standard_check_tests(
    "04_batchnorm",
    FUNCTIONS,
    modules=[initialization_checks],
    others=implementations(FUNCTIONS, wrong.CORRECT),
    twins=implementations(FUNCTIONS, reference, numpy_twin),
    mistakes=MISTAKES,
    hidden_mistakes=MISTAKES,
    wrong=wrong,
)


def test_the_module_has_this_one_check():
    assert initialization_checks.__all__ == ["check_kaiming_normal"]


test_check_passes_right_draws_of_another_order_by_their_statistics = passes_implementations(
    [
        (check_kaiming_normal, (kaiming_normal_drawn_transposed,)),
        (check_kaiming_normal, (_reversed(wrong.CORRECT.kaiming_normal),)),
    ],
    seed="7",
)

# The scale mistakes drawn in another order: named by the sample's standard deviation alone.
SCALE_MISTAKES = [
    (check_kaiming_normal, (_reversed(impl),), wrong.mistake_id(impl))
    for impl in wrong.MISTAKES["kaiming_normal"]
    if impl not in (wrong.kaiming_normal_global_rng, wrong.kaiming_normal_uniform)
]

test_check_names_a_scale_mistake_by_statistics_alone = fails_each_mistake(SCALE_MISTAKES)


def test_every_hint_the_check_defines_is_named_by_a_wrong_implementation():
    defined = {m.id for m in initialization_checks.SCALE_MISTAKES} | {
        hint.id
        for hint in (
            initialization_checks._UNIFORM,
            initialization_checks._GLOBAL_RNG,
            initialization_checks._NO_VALUE_ERROR,
        )
    }
    assert {f"kaiming_normal/{i}" for i in defined} == {m for _, _, m in MISTAKES}


# --- the cases -----------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(20))
def test_hidden_cases_keep_every_mistake_apart_and_use_every_gain(seed):
    cases = initialization_checks.KAIMING_NORMAL.hidden(np.random.default_rng(seed))
    draws = [c for c in cases if len(c.args[0]) in (2, 4) and c.args[1].calls == 1]
    assert {len(c.args[0]) for c in draws} == {2, 4}
    assert {c.kwargs.get("gain") for c in draws} == {None, 1.0, 5 / 3}
    for case in draws:
        shape = case.args[0]
        assert np.prod(shape) >= 30_000
        assert initialization_checks._separated(shape, case.kwargs.get("gain", RELU_GAIN))
    assert any(c.args[1].calls == 2 for c in cases)
    assert any(len(c.args[0]) not in (2, 4) for c in cases)


def test_a_right_draw_passes_the_statistics_of_many_seeds():
    # Z = 6 standard errors: a right sample fails with probability ~2e-9 per comparison.
    shape, gain = (512, 64), RELU_GAIN
    for seed in range(40):
        w = kaiming_normal_drawn_transposed(shape, np.random.default_rng(seed), gain)
        case = initialization_checks.Case("draw", (shape, initialization_checks.SeededRng(seed)))
        initialization_checks._judge_statistics(None, case, w, gain / np.sqrt(512))


# --- what a failure says ------------------------------------------------------------------------


def test_a_failure_names_the_case_and_the_generator_it_was_given():
    with pytest.raises(AssertionError) as failure:
        check_kaiming_normal(wrong.kaiming_normal_fan_out)
    first, inputs, *_ = str(failure.value).splitlines()
    assert first.startswith(
        'kaiming_normal_fan_out: case "affine weight (D, M) = (784, 256), default gain" failed'
    )
    assert inputs == "  inputs: shape (784, 256), rng np.random.default_rng(0)"
    assert "exactly 1.75 times the expected weights" in str(failure.value)


def test_a_float32_array_is_refused():
    def kaiming_normal(shape, rng, gain=RELU_GAIN):
        return wrong.CORRECT.kaiming_normal(shape, rng, gain).astype(np.float32)

    with pytest.raises(AssertionError, match="w has dtype float32; kaiming_normal must return"):
        check_kaiming_normal(kaiming_normal)


def test_an_assert_is_no_value_error():
    def kaiming_normal(shape, rng, gain=RELU_GAIN):
        assert len(shape) in (2, 4), shape
        return wrong.CORRECT.kaiming_normal(shape, rng, gain)

    with pytest.raises(AssertionError, match="raise ValueError instead"):
        check_kaiming_normal(kaiming_normal)


def test_an_unwritten_function_is_told_it_is_not_written_yet():
    def kaiming_normal(shape, rng, gain=RELU_GAIN):
        raise NotImplementedError()

    with pytest.raises(AssertionError, match="not written yet"):
        check_kaiming_normal(kaiming_normal)


def test_a_kaiming_normal_that_calls_pytorch_fails_naming_it():
    import torch

    def kaiming_normal(shape, rng, gain=RELU_GAIN):
        return torch.nn.init.kaiming_normal_(torch.empty(shape)).numpy()

    with pytest.raises(AssertionError, match="torch"):
        check_kaiming_normal(kaiming_normal)


# --- the measurement the check asks for ----------------------------------------------------------


def test_draws_reports_each_call_as_plain_data():
    def kaiming_normal(shape, rng, gain=RELU_GAIN):
        if len(shape) == 1:
            raise ValueError(f"bad shape {shape}")
        if len(shape) == 3:
            return [0.0]
        return (rng.standard_normal(shape) * gain).astype(np.float32)

    calls = [[[(2, 3)], {"gain": 2.0}, 4], [[(5,)], {}, 0], [[(1, 2, 3)], {}, 0]]
    drawn, failed, odd = MEASUREMENTS["draws"](kaiming_normal, calls)["results"]
    expected = np.random.default_rng(4).standard_normal((2, 3)) * 2.0
    assert drawn["dtype"] == "float32" and drawn["output"].dtype == np.float64
    np.testing.assert_allclose(drawn["output"], expected, rtol=1e-6)
    assert failed["error"]["type"] == "ValueError" and "(5,)" in failed["error"]["message"]
    assert odd["odd"]["type"] == "list"
