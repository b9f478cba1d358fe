"""The checks of notebook 01 pass the notebook's solutions and fail every known mistake, naming it."""

import warnings

import pytest

from autograder.checks import (
    check_conv_output_size,
    check_conv_param_count,
    check_convolve2d,
    check_cross_correlate2d,
    check_nhwc_to_nchw,
    check_padding_for,
    check_receptive_field,
)
from tests.check_harness import fails_each_mistake, gives_a_near_miss, passes_the_solution
from tests.solutions import load_solutions
from tests.wrong import arithmetic as wrong

test_a_right_number_returned_as_a_float_is_a_near_miss = gives_a_near_miss(
    [
        (
            check_conv_output_size,
            (wrong.conv_output_size_returns_float,),
            "conv_output_size/float_for_int",
        )
    ]
)


@pytest.fixture(scope="module")
def solutions():
    return load_solutions("01_conv_arithmetic")


test_check_passes_the_notebook_solution = passes_the_solution(
    "01_conv_arithmetic",
    {
        "check_conv_output_size": ("conv_output_size",),
        "check_padding_for": ("padding_for",),
        "check_conv_param_count": ("conv_param_count",),
        "check_receptive_field": ("receptive_field",),
        "check_cross_correlate2d": ("cross_correlate2d",),
        "check_convolve2d": ("convolve2d",),
        "check_nhwc_to_nchw": ("nhwc_to_nchw",),
    },
)

test_check_fails_a_wrong_implementation_and_names_the_mistake = fails_each_mistake(
    [
        (check_conv_output_size, (wrong.conv_output_size_floors,), "conv_output_size/floored"),
        (
            check_conv_output_size,
            (wrong.conv_output_size_no_plus_one,),
            "conv_output_size/no_plus_one",
        ),
        (
            check_conv_output_size,
            (wrong.conv_output_size_one_sided_pad,),
            "conv_output_size/one_sided_padding",
        ),
        (check_conv_output_size, (wrong.conv_output_size_asserts,), "raise ValueError instead"),
        (check_padding_for, (wrong.padding_for_same_ceil,), "padding_for/same_ceil"),
        (check_padding_for, (wrong.padding_for_full_twice,), "padding_for/full_both_sides"),
        (check_padding_for, (wrong.padding_for_even_same_allowed,), "must raise ValueError"),
        (check_conv_param_count, (wrong.conv_param_count_no_bias,), "conv_param_count/no_bias"),
        (
            check_conv_param_count,
            (wrong.conv_param_count_no_channels,),
            "conv_param_count/no_channels",
        ),
        (
            check_receptive_field,
            (wrong.receptive_field_ignores_strides,),
            "receptive_field/strides_ignored",
        ),
        (check_receptive_field, (wrong.receptive_field_own_stride,), "receptive_field/own_stride"),
        (
            check_cross_correlate2d,
            (wrong.cross_correlate2d_flipped_kernel,),
            "cross_correlate2d/flipped_kernel",
        ),
        (check_convolve2d, (wrong.convolve2d_not_flipped,), "convolve2d/kernel_not_flipped"),
        (
            check_cross_correlate2d,
            (wrong.cross_correlate2d_returns_list,),
            "numpy.ndarray; it returned a list",
        ),
        (
            check_cross_correlate2d,
            (wrong.cross_correlate2d_full_mode,),
            r"(?s)out has shape \(4, 4\), expected \(2, 2\).*VALID mode.*full_mode\]",
        ),
        (
            check_cross_correlate2d,
            (wrong.cross_correlate2d_in_place,),
            "changed its input x in place",
        ),
        (check_nhwc_to_nchw, (wrong.nhwc_to_nchw_by_reshape,), "nhwc_to_nchw/reshape"),
    ]
)


@pytest.mark.parametrize(
    "check, impl",
    [
        (check_conv_output_size, wrong.conv_output_size_floors),
        (check_padding_for, wrong.padding_for_same_ceil),
        (check_conv_param_count, wrong.conv_param_count_no_bias),
        (check_receptive_field, wrong.receptive_field_ignores_strides),
        (check_convolve2d, wrong.convolve2d_not_flipped),
    ],
)
def test_hidden_cases_fail_the_same_mistakes(check, impl):
    with pytest.raises(AssertionError, match="hidden"):
        check(impl, cases="hidden")


def test_a_failure_names_the_function_the_case_and_the_inputs():
    with pytest.raises(AssertionError) as failure:
        check_conv_output_size(wrong.conv_output_size_floors)
    first, inputs, *_ = str(failure.value).splitlines()
    assert first.startswith(
        'conv_output_size: case "7x7 input, 3x3 filter, stride 3 (2.33: does not fit)" failed'
    )
    assert inputs == "  inputs: n 7, f 3, stride=3"


def test_an_unwritten_function_is_told_it_is_not_written_yet(solutions):
    def stub(n, f, stride=1, pad=0):
        raise NotImplementedError()

    with pytest.raises(AssertionError, match="not written yet"):
        check_conv_output_size(stub)


def test_warnings_and_stderr_from_honest_code_cost_nothing(solutions, capsys):
    import sys

    def noisy(x, k):
        warnings.warn("this is only a warning", UserWarning, stacklevel=2)
        print("progress...", file=sys.stderr)
        return solutions.cross_correlate2d(x, k)

    result = check_cross_correlate2d(noisy)
    assert result.passed == result.total
    captured = capsys.readouterr()
    assert captured.err == ""
    assert "never costs points" in captured.out


def test_hidden_cases_follow_the_graders_seed(monkeypatch, solutions):
    from autograder.checks._engine import hidden_rng

    monkeypatch.setenv("CNN_COURSE_HIDDEN_SEED", "1234")
    first = hidden_rng("conv_output_size").integers(0, 10**9, size=4)
    again = hidden_rng("conv_output_size").integers(0, 10**9, size=4)
    other = hidden_rng("padding_for").integers(0, 10**9, size=4)
    assert (first == again).all() and not (first == other).all()


def test_an_unknown_case_kind_is_refused(solutions):
    with pytest.raises(ValueError, match='"public" or "hidden"'):
        check_conv_output_size(solutions.conv_output_size, cases="secret")
