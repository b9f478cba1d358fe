"""The notebook 02 convolution checks pass right implementations, fail each wrong one naming
its mistake, and hold a vectorised pair to its line budget."""

from __future__ import annotations

import numpy as np
import pytest

from autograder import checks
from autograder.checks import convolution as conv_checks
from autograder.checks._engine import hidden_rng
from autograder.course import HIDDEN_SEED_VARIABLE
from course_utils import reference
from tests.check_harness import implementations, numpy_twin, standard_check_tests
from tests.kernel_grading import expect_mistake
from tests.solutions import load_solutions
from tests.wrong import convolution as wrong

CORRECT = wrong.CORRECT

# (check, the names of the functions it takes): the naive pair, then the fast pair.
NAIVE = [
    ("check_conv_forward", ("conv_forward_naive",)),
    ("check_conv_backward", ("conv_forward_naive", "conv_backward_naive")),
]
FAST = [
    ("check_conv_forward", ("conv_forward_fast",)),
    ("check_conv_backward", ("conv_forward_fast", "conv_backward_fast")),
]


@pytest.fixture(scope="module")
def solutions():
    return load_solutions("02_layers")


MISTAKES = [
    (
        checks.check_conv_forward,
        (wrong.conv_forward_flipped_kernel,),
        "conv_forward/flipped_kernel",
    ),
    (checks.check_conv_forward, (wrong.conv_forward_no_bias,), "conv_forward/no_bias"),
    (
        checks.check_conv_forward,
        (wrong.conv_forward_one_sided_padding,),
        "conv_forward/one_sided_padding",
    ),
    (
        checks.check_conv_forward,
        (wrong.conv_forward_one_sided_padding_before,),
        "conv_forward/one_sided_padding_before",
    ),
    (
        checks.check_conv_forward,
        (wrong.conv_forward_stride_ignored,),
        "conv_forward/stride_ignored",
    ),
    (
        checks.check_conv_forward,
        (wrong.conv_forward_window_not_strided,),
        "conv_forward/window_not_strided",
    ),
    (
        checks.check_conv_forward,
        (wrong.conv_forward_channels_last,),
        "conv_forward/channels_last",
    ),
    # An exception is diagnosed from its type and message (every check knows this one).
    (
        checks.check_conv_forward,
        (wrong.conv_forward_float_division,),
        "conv_forward/float_division",
    ),
    (
        checks.check_conv_backward,
        (CORRECT.conv_forward_naive, wrong.conv_backward_dw_one_position),
        "conv_backward/dw_one_position",
    ),
    (
        checks.check_conv_backward,
        (CORRECT.conv_forward_naive, wrong.conv_backward_dw_first_position_only),
        "conv_backward/dw_one_position",
    ),
    (
        checks.check_conv_backward,
        (CORRECT.conv_forward_naive, wrong.conv_backward_no_bias_gradient),
        "conv_backward/no_bias_gradient",
    ),
    (
        checks.check_conv_backward,
        (CORRECT.conv_forward_naive, wrong.conv_backward_crop_with_minus_pad),
        "conv_backward/crop_with_minus_pad",
    ),
]

TestStandardChecks = standard_check_tests(
    "02_layers",
    NAIVE + FAST,
    modules=[conv_checks],
    others=implementations(NAIVE, CORRECT),
    twins=implementations(NAIVE + FAST, reference, numpy_twin),
    mistakes=MISTAKES,
    hidden_mistakes=MISTAKES,
    wrong=wrong,
    # Through a kernel the line count is made where the student's code runs.
    more_kernel_tests=[
        "from autograder.checks import check_conv_fast\n"
        "check_conv_fast(conv_forward_fast, conv_backward_fast)\n",
        expect_mistake(
            "check_conv_fast", "conv_forward_naive, conv_backward_naive", "output positions per map"
        ),
        expect_mistake(
            "check_conv_fast",
            "conv_forward_fast_loops_over_pixels, conv_backward_fast",
            "^conv_forward_fast_loops_over_pixels/conv_backward_fast: case",
        ),
    ],
)


def test_a_failure_names_the_case_the_inputs_and_the_largest_error():
    with pytest.raises(AssertionError) as failure:
        checks.check_conv_forward(wrong.conv_forward_flipped_kernel)
    message = str(failure.value)
    assert message.startswith('conv_forward_flipped_kernel: case "lecture vector A')
    assert (
        "inputs: x (1, 3, 5, 5), w (1, 3, 3, 3), b (1,), conv_param {'stride': 1, 'pad': 1}"
        in message
    )
    assert "largest error" in message and "expected" in message


def test_a_float_size_is_told_to_use_integer_division_and_no_other_type_error_is():
    with pytest.raises(AssertionError) as failure:
        checks.check_conv_forward(wrong.conv_forward_float_division)
    assert "integer division //" in str(failure.value)

    def conv_forward_naive(x, w, b, conv_param):
        raise TypeError("unsupported operand type(s) for +: 'int' and 'str'")

    with pytest.raises(AssertionError) as failure:
        checks.check_conv_forward(conv_forward_naive)
    assert "raised TypeError" in str(failure.value) and "Hint" not in str(failure.value)


def test_a_stub_is_told_it_is_not_written_yet():
    def conv_forward_naive(x, w, b, conv_param):
        raise NotImplementedError()

    with pytest.raises(AssertionError, match="not written yet"):
        checks.check_conv_forward(conv_forward_naive)


def test_a_backward_check_hands_over_the_students_own_cache():
    class Opaque:
        def __init__(self, *parts):
            self.parts = parts

    handed = []

    def conv_forward_naive(x, w, b, conv_param):
        out, cache = CORRECT.conv_forward_naive(x, w, b, conv_param)
        return out, Opaque(cache)

    def conv_backward_naive(dout, cache):
        handed.append(cache)
        return CORRECT.conv_backward_naive(dout, cache.parts[0])

    result = checks.check_conv_backward(conv_forward_naive, conv_backward_naive)
    assert result.passed == result.total == len(handed) > 0
    assert all(isinstance(cache, Opaque) for cache in handed)


def test_hidden_conv_cases_cover_strides_pads_batch_one_and_non_square_shapes():
    strides, pads, batches, non_square = set(), set(), set(), False
    for seed in range(20):
        for case in conv_checks._hidden_conv_cases(np.random.default_rng(seed)):
            x, w, _, conv_param = case.args
            strides.add(conv_param["stride"])
            pads.add(conv_param["pad"])
            batches.add(x.shape[0])
            non_square |= x.shape[2] != x.shape[3] or w.shape[2] != w.shape[3]
    assert strides == {1, 2, 3} and pads == {0, 1, 2}
    assert 1 in batches and non_square


def test_hidden_cases_change_with_the_grading_seed(monkeypatch):
    names = []
    for seed in ("1", "2"):
        monkeypatch.setenv(HIDDEN_SEED_VARIABLE, seed)
        names.append([c.name for c in conv_checks._hidden_conv_cases(hidden_rng("check"))])
    assert names[0] != names[1]


def _recording(solution, name, shapes):
    """``solution`` under another name, noting the shapes and parameters of each call."""

    def conv_forward(x, w, b, conv_param):
        shapes.append((x.shape, w.shape, conv_param["stride"], conv_param["pad"]))
        return solution(x, w, b, conv_param)

    conv_forward.__name__ = name
    return conv_forward


def test_hidden_cases_are_drawn_for_the_function_being_checked(solutions, monkeypatch):
    # As they always were: the naive and the fast convolution get different hidden cases.
    monkeypatch.setenv(HIDDEN_SEED_VARIABLE, "1")
    seen = {"conv_forward_naive": [], "conv_forward_fast": []}
    for name, shapes in seen.items():
        checks.check_conv_forward(
            _recording(solutions.conv_forward_naive, name, shapes), cases="hidden"
        )
    drawn = conv_checks._hidden_conv_cases(hidden_rng("conv_forward_naive"))
    expected = [(x.shape, w.shape, p["stride"], p["pad"]) for x, w, _, p in (c.args for c in drawn)]
    assert seen["conv_forward_naive"][::2] == expected  # each case is called twice
    assert seen["conv_forward_naive"] != seen["conv_forward_fast"]


# --- check_conv_fast -------------------------------------------------------------------------------


def test_check_conv_fast_passes_the_vectorised_solution(solutions, capsys):
    result = checks.check_conv_fast(solutions.conv_forward_fast, solutions.conv_backward_fast)
    assert result.passed == result.total == 1
    assert "conv_forward_fast/conv_backward_fast: 1/1 public cases pass" in capsys.readouterr().out


def test_check_conv_fast_fails_the_naive_solution_and_explains_the_line_budget(solutions):
    with pytest.raises(AssertionError, match="output positions per map") as failure:
        checks.check_conv_fast(solutions.conv_forward_naive, solutions.conv_backward_naive)
    assert "lines of your Python code" in str(failure.value)


def test_check_conv_fast_fails_a_loop_over_output_pixels(solutions):
    with pytest.raises(AssertionError, match="a Python loop over output pixels") as failure:
        checks.check_conv_fast(
            wrong.conv_forward_fast_loops_over_pixels, solutions.conv_backward_fast
        )
    assert str(failure.value).startswith(
        "conv_forward_fast_loops_over_pixels/conv_backward_fast: case"
    )


def test_check_conv_fast_fails_a_looping_backward_behind_a_vectorised_forward(solutions):
    def conv_forward_fast(x, w, b, conv_param):
        return solutions.conv_forward_fast(x, w, b, conv_param)[0], (x, w, b, conv_param)

    def conv_backward_fast(dout, cache):
        return CORRECT.conv_backward_naive(dout, cache)  # loops over every output position

    with pytest.raises(AssertionError, match="conv_backward_fast executed more than"):
        checks.check_conv_fast(conv_forward_fast, conv_backward_fast)


def test_check_conv_fast_fails_fast_wrong_values(solutions):
    def conv_forward_fast(x, w, b, conv_param):
        out, cache = solutions.conv_forward_fast(x, w, b, conv_param)
        return out * 0, cache

    with pytest.raises(AssertionError, match="wrong values"):
        checks.check_conv_fast(conv_forward_fast, solutions.conv_backward_fast)


# --- banned libraries ---------------------------------------------------------------------------


def test_a_conv_that_calls_torch_through_a_helper_fails_naming_the_call():
    with pytest.raises(AssertionError, match=r"torch.conv2d \(as F.conv2d") as failure:
        checks.check_conv_forward(wrong.conv_forward_calls_torch_through_helper)
    message = str(failure.value)
    assert "_torch_conv" in message and "called from conv_forward_calls_torch" in message
    assert "NumPy exercise" in message


def test_a_conv_that_calls_scipy_through_a_helper_fails_naming_it():
    with pytest.raises(AssertionError, match="from scipy import signal"):
        checks.check_conv_forward(wrong.conv_forward_calls_scipy_through_helper)


def test_the_fast_check_refuses_torch_too():
    with pytest.raises(AssertionError, match="NumPy exercise"):
        checks.check_conv_fast(
            wrong.conv_forward_calls_torch_through_helper, CORRECT.conv_backward_naive
        )
