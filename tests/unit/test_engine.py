"""The check engine's machinery: what it accepts as an answer, and what its diagnoses say."""

import numpy as np
import pytest
import torch

from autograder.checks._engine import (
    FLOAT32,
    Case,
    CaseFailure,
    Exercise,
    as_float,
    as_float64_array,
    as_int,
    compare_arrays,
    expect_tuple,
    relative_error,
    tolerance_for,
)


class AlwaysEqual(np.ndarray):
    def __eq__(self, other):
        return True


def test_only_a_real_ndarray_is_accepted_as_an_array_answer():
    with pytest.raises(CaseFailure, match="returned a list"):
        as_float64_array([1.0, 2.0], "f", "out")
    with pytest.raises(CaseFailure, match=r"torch\.Tensor.*\.numpy\(\)"):
        as_float64_array(torch.zeros(2), "f", "out")
    with pytest.raises(CaseFailure, match="numpy.ndarray"):
        as_float64_array(np.zeros(3).view(AlwaysEqual), "f", "out")
    with pytest.raises(CaseFailure, match="real numbers"):
        as_float64_array(np.array([object()]), "f", "out")


def test_an_accepted_array_becomes_a_plain_float64_copy():
    answer = np.arange(4, dtype=np.int32)
    converted = as_float64_array(answer, "f", "out")
    assert converted.dtype == np.float64 and type(converted) is np.ndarray
    converted[0] = 99
    assert answer[0] == 0


def test_integer_and_number_answers_are_typed():
    assert as_int(np.int64(5), "f") == 5
    with pytest.raises(CaseFailure, match="return an int"):
        as_int(5.0, "f")
    with pytest.raises(CaseFailure, match="as an int"):
        as_int(True, "f")
    assert as_float(np.array(2.5), "f", "loss") == 2.5
    with pytest.raises(CaseFailure, match="forget a `return`"):
        as_float(None, "f", "loss")


def test_a_tuple_answer_must_have_the_contracted_length():
    with pytest.raises(
        CaseFailure,
        match=r"must return a tuple \(out, cache\); it returned one numpy.ndarray of shape \(2, 3\)",
    ):
        expect_tuple(np.zeros((2, 3)), "conv_forward_naive", ("out", "cache"))
    assert expect_tuple([1, 2], "f", ("a", "b")) == (1, 2)


def test_the_largest_error_is_reported_with_its_index_expected_and_got():
    expected = np.zeros((2, 3))
    got = expected.copy()
    got[1, 2] = 0.5
    with pytest.raises(CaseFailure, match=r"largest error 0.5 at out\[1, 2\]: expected 0, got 0.5"):
        compare_arrays(got, expected, what="out")


def test_nhwc_answers_get_the_layout_hint():
    with pytest.raises(CaseFailure) as failure:
        compare_arrays(np.zeros((2, 5, 5, 3)), np.zeros((2, 3, 5, 5)), what="out")
    assert failure.value.hint.id == "channels_last" and "NHWC" in failure.value.hint.text


def test_right_values_in_another_shape_are_a_near_miss_and_wrong_ones_are_not():
    expected = np.arange(6.0).reshape(1, 6)
    with pytest.raises(CaseFailure) as failure:
        compare_arrays(np.arange(6.0), expected, what="running_mean")
    assert failure.value.hint.id == "shape_only" and failure.value.hint.near_miss
    with pytest.raises(CaseFailure) as failure:
        compare_arrays(np.arange(6.0)[::-1].copy(), expected, what="running_mean")
    assert failure.value.hint is None


def test_nan_is_reported_as_non_finite():
    got = np.array([1.0, np.nan])
    with pytest.raises(CaseFailure, match=r"non-finite.*out\[1\]"):
        compare_arrays(got, np.array([1.0, 2.0]), what="out")


def test_float32_answers_are_judged_with_float32_tolerance_and_told_so():
    expected = np.linspace(1, 2, 5)
    got32 = expected.astype(np.float32)
    tol = tolerance_for(got32)
    assert tol.rtol == FLOAT32.rtol
    compare_arrays(got32.astype(np.float64), expected, what="out", tol=tol)
    with pytest.raises(CaseFailure, match="float64 answers must agree"):
        compare_arrays(expected + 1e-5, expected, what="out")


def test_relative_error_is_cs231n_style():
    assert relative_error(np.array([1.0]), np.array([1.0])) == 0.0
    assert relative_error(np.array([1.0]), np.array([3.0])) == pytest.approx(0.5)


def test_a_check_reports_every_failing_case_count_and_shows_the_first(capsys):
    cases = [Case("a", (np.zeros(2),)), Case("b", (np.zeros(3),)), Case("c", (np.zeros(1),))]

    def judge(attempt, case):
        if case.name != "a":
            raise CaseFailure(f"case {case.name} is wrong")
        return 0.0

    def exercise(chosen):
        return Exercise("f", ("x",), lambda: chosen, lambda rng: chosen, judge, numpy_only=False)

    with pytest.raises(
        AssertionError, match=r'f: case "b" failed \(2 of 3 public cases fail; the first is shown\)'
    ):
        exercise(cases).run("public", lambda x: x)
    result = exercise(cases[:1]).run("public", lambda x: x)
    assert result.passed == 1 and "f: 1/1 public cases pass" in capsys.readouterr().out
