"""The notebook 02 checks pass right implementations and fail each wrong one with its hint."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from autograder import checks
from autograder.checks import layers as layer_checks
from autograder.checks._compare import hidden_rng
from autograder.course import HIDDEN_SEED_VARIABLE
from autograder.kernel import rules as _rules
from course_utils import reference
from tests.solutions import load_solutions
from tests.wrong import layers as wrong

CORRECT = wrong.CORRECT

# (check, the names of the functions it takes), in notebook order.
CHECKS = [
    ("check_affine_forward", ("affine_forward",)),
    ("check_affine_backward", ("affine_forward", "affine_backward")),
    ("check_relu_forward", ("relu_forward",)),
    ("check_relu_backward", ("relu_forward", "relu_backward")),
    ("check_conv_forward", ("conv_forward_naive",)),
    ("check_conv_backward", ("conv_forward_naive", "conv_backward_naive")),
    ("check_max_pool_forward", ("max_pool_forward_naive",)),
    ("check_max_pool_backward", ("max_pool_forward_naive", "max_pool_backward_naive")),
    ("check_avg_pool_forward", ("avg_pool_forward",)),
    ("check_avg_pool_backward", ("avg_pool_forward", "avg_pool_backward")),
    ("check_dropout_forward", ("dropout_forward",)),
    ("check_dropout_backward", ("dropout_forward", "dropout_backward")),
    ("check_softmax_loss", ("softmax_loss",)),
    ("check_svm_loss", ("svm_loss",)),
    ("check_bce_loss", ("bce_loss",)),
    ("check_eval_numerical_gradient_array", ("eval_numerical_gradient_array",)),
]
FAST_CHECKS = [
    ("check_conv_forward", ("conv_forward_fast",)),
    ("check_conv_backward", ("conv_forward_fast", "conv_backward_fast")),
]
SEEDS = ["1", "2", "3"]


def _ids(params):
    return [f"{check}({', '.join(names)})" for check, names in params]


@pytest.fixture(scope="module")
def solutions():
    return load_solutions("02_layers")


def test_every_check_is_exported_from_autograder_checks():
    for name in layer_checks.__all__:
        assert getattr(checks, name) is getattr(layer_checks, name)


@pytest.mark.parametrize("check, names", CHECKS + FAST_CHECKS, ids=_ids(CHECKS + FAST_CHECKS))
def test_check_passes_the_notebook_solution_on_public_cases(check, names, solutions, capsys):
    result = getattr(checks, check)(*(getattr(solutions, n) for n in names))
    assert result.passed == result.total > 0
    assert "public cases pass" in capsys.readouterr().out


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("check, names", CHECKS + FAST_CHECKS, ids=_ids(CHECKS + FAST_CHECKS))
def test_check_passes_the_notebook_solution_on_hidden_cases(
    check, names, seed, solutions, monkeypatch
):
    monkeypatch.setenv(HIDDEN_SEED_VARIABLE, seed)
    result = getattr(checks, check)(*(getattr(solutions, n) for n in names), cases="hidden")
    assert result.passed == result.total > 0
    assert result.kind == "hidden"


@pytest.mark.parametrize("check, names", CHECKS, ids=_ids(CHECKS))
def test_check_passes_an_independent_numpy_implementation(check, names, monkeypatch):
    getattr(checks, check)(*(getattr(CORRECT, n) for n in names))
    monkeypatch.setenv(HIDDEN_SEED_VARIABLE, "7")
    getattr(checks, check)(*(getattr(CORRECT, n) for n in names), cases="hidden")


def _numpy_wrapper(twin):
    """A twin with NumPy arrays in and out (caches stay as the twin made them)."""

    def wrapper(*args):
        tensors = [torch.from_numpy(a.copy()) if isinstance(a, np.ndarray) else a for a in args]
        result = twin(*tensors)
        if isinstance(result, torch.Tensor):
            return result.numpy()
        if isinstance(result, tuple):
            return tuple(v.numpy() if isinstance(v, torch.Tensor) else v for v in result)
        return result

    wrapper.__name__ = twin.__name__
    return wrapper


@pytest.mark.parametrize("check, names", CHECKS + FAST_CHECKS, ids=_ids(CHECKS + FAST_CHECKS))
def test_check_passes_numpy_wrappers_of_the_reference_twins(check, names, monkeypatch):
    # The twins are PyTorch, which the rules refuse in a NumPy exercise; lift the rule here.
    monkeypatch.setattr(_rules, "BANNED_MODULES", ())
    # The numerical gradient's twin takes NumPy arrays as they are (and calls f with them).
    wrap = _numpy_wrapper if check != "check_eval_numerical_gradient_array" else lambda f: f
    getattr(checks, check)(*(wrap(getattr(reference, n)) for n in names))
    monkeypatch.setenv(HIDDEN_SEED_VARIABLE, "11")
    getattr(checks, check)(*(wrap(getattr(reference, n)) for n in names), cases="hidden")


MISTAKES = [
    (checks.check_conv_forward, (wrong.conv_forward_flipped_kernel,), "filters flipped"),
    (checks.check_conv_forward, (wrong.conv_forward_no_bias,), "except for the bias"),
    (checks.check_conv_forward, (wrong.conv_forward_one_sided_padding,), "one side only"),
    (checks.check_conv_forward, (wrong.conv_forward_stride_ignored,), "stride was ignored"),
    (checks.check_conv_forward, (wrong.conv_forward_channels_last,), "NHWC"),
    (
        checks.check_conv_backward,
        (CORRECT.conv_forward_naive, wrong.conv_backward_dw_one_position),
        "single output position",
    ),
    (
        checks.check_conv_backward,
        (CORRECT.conv_forward_naive, wrong.conv_backward_no_bias_gradient),
        "bias gradient was forgotten",
    ),
    (checks.check_max_pool_forward, (wrong.max_pool_forward_channels_last,), "NHWC"),
    (
        checks.check_max_pool_backward,
        (CORRECT.max_pool_forward_naive, wrong.max_pool_backward_all_ties),
        "With ties only ONE element",
    ),
    (
        checks.check_max_pool_backward,
        (CORRECT.max_pool_forward_naive, wrong.max_pool_backward_all_elements),
        "every element of the window",
    ),
    (checks.check_avg_pool_forward, (wrong.avg_pool_forward_not_divided,), "SUM of each window"),
    (
        checks.check_avg_pool_backward,
        (CORRECT.avg_pool_forward, wrong.avg_pool_backward_not_divided),
        r"dout / \(HH \* WW\)",
    ),
    (
        checks.check_relu_backward,
        (CORRECT.relu_forward, wrong.relu_backward_on_dout),
        "forward INPUT x",
    ),
    (checks.check_affine_forward, (wrong.affine_forward_no_flatten,), "flatten it first"),
    (
        checks.check_affine_backward,
        (CORRECT.affine_forward, wrong.affine_backward_dx_not_reshaped),
        "x's original shape",
    ),
    (
        checks.check_affine_backward,
        (CORRECT.affine_forward, wrong.affine_backward_no_bias_gradient),
        "bias gradient was forgotten",
    ),
    (checks.check_dropout_forward, (wrong.dropout_forward_no_scaling,), "scaling was forgotten"),
    (checks.check_dropout_forward, (wrong.dropout_forward_p_as_keep,), "probability of KEEPING"),
    (checks.check_dropout_forward, (wrong.dropout_forward_active_at_test,), "active at test time"),
    (checks.check_dropout_forward, (wrong.dropout_forward_ignores_seed,), "same seed"),
    (
        checks.check_dropout_backward,
        (CORRECT.dropout_forward, wrong.dropout_backward_no_scaling),
        r"without the 1 / \(1 - p\)",
    ),
    (
        checks.check_softmax_loss,
        (wrong.softmax_loss_no_max_subtraction,),
        "subtract each row's maximum",
    ),
    (
        checks.check_softmax_loss,
        (wrong.softmax_loss_log_of_underflowed_probability,),
        "underflowed to 0",
    ),
    (checks.check_softmax_loss, (wrong.softmax_loss_summed,), "MEAN over the batch"),
    (checks.check_svm_loss, (wrong.svm_loss_counts_correct_class,), "correct class was counted"),
    (checks.check_bce_loss, (wrong.bce_loss_lecture_sign,), "lecture's sign error"),
    (
        checks.check_eval_numerical_gradient_array,
        (wrong.eval_numerical_gradient_array_forward_differences,),
        "forward differences",
    ),
    (
        checks.check_eval_numerical_gradient_array,
        (wrong.eval_numerical_gradient_array_not_restored,),
        "x was not restored",
    ),
    (
        checks.check_eval_numerical_gradient_array,
        (wrong.eval_numerical_gradient_array_on_a_copy,),
        "perturb x IN PLACE",
    ),
]


@pytest.mark.parametrize(
    "check, impls, mistake", MISTAKES, ids=[impls[-1].__name__ for _, impls, _ in MISTAKES]
)
def test_check_fails_a_wrong_implementation_and_names_the_mistake(check, impls, mistake):
    with pytest.raises(AssertionError, match=mistake):
        check(*impls)


# Hidden max-pool inputs are tie-free by design, so the tie rule is tested by the public case.
HIDDEN_MISTAKES = [m for m in MISTAKES if m[1][-1] is not wrong.max_pool_backward_all_ties]


@pytest.mark.parametrize(
    "check, impls, mistake",
    HIDDEN_MISTAKES,
    ids=[impls[-1].__name__ for _, impls, _ in HIDDEN_MISTAKES],
)
def test_hidden_cases_fail_the_same_wrong_implementation(check, impls, mistake, monkeypatch):
    monkeypatch.setenv(HIDDEN_SEED_VARIABLE, "5")
    with pytest.raises(AssertionError):
        check(*impls, cases="hidden")


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


def test_the_max_pool_tie_case_states_the_first_maximum_rule():
    with pytest.raises(AssertionError, match="FIRST maximum in row-major order"):
        checks.check_max_pool_backward(
            CORRECT.max_pool_forward_naive, wrong.max_pool_backward_all_ties
        )


def test_the_softmax_stability_case_overflows_a_naive_softmax_in_float64():
    scores = layer_checks._STABILITY_LOGITS * layer_checks._OVERFLOW_SCALE
    assert scores.max() > np.log(np.finfo(np.float64).max)
    # ... while the lecture's own logits do not overflow it in float64.
    assert np.isfinite(np.exp(layer_checks._STABILITY_LOGITS)).all()


def test_a_stub_is_told_it_is_not_written_yet():
    def conv_forward_naive(x, w, b, conv_param):
        raise NotImplementedError()

    with pytest.raises(AssertionError, match="not written yet"):
        checks.check_conv_forward(conv_forward_naive)


def test_a_backward_check_hands_over_the_students_own_cache():
    class Opaque:
        def __init__(self, *parts):
            self.parts = parts

    def conv_forward_naive(x, w, b, conv_param):
        out, cache = CORRECT.conv_forward_naive(x, w, b, conv_param)
        return out, Opaque(cache)

    def conv_backward_naive(dout, cache):
        assert isinstance(cache, Opaque)
        return CORRECT.conv_backward_naive(dout, cache.parts[0])

    checks.check_conv_backward(conv_forward_naive, conv_backward_naive)


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
    monkeypatch.setattr(_rules, "BANNED_MODULES", ())
    with pytest.raises(AssertionError, match=r"Convert with \.detach\(\)\.cpu\(\)\.numpy\(\)"):
        checks.check_relu_forward(relu_forward)


def test_an_unknown_kind_of_cases_is_refused():
    with pytest.raises(ValueError, match='"public" or "hidden"'):
        checks.check_relu_forward(CORRECT.relu_forward, cases="all")


def test_hidden_conv_cases_cover_strides_pads_batch_one_and_non_square_shapes():
    strides, pads, batches, non_square = set(), set(), set(), False
    for seed in range(20):
        for case in layer_checks._hidden_conv_cases(np.random.default_rng(seed)):
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
        names.append([c.name for c in layer_checks._hidden_conv_cases(hidden_rng("check"))])
    assert names[0] != names[1]


def test_hidden_max_pool_inputs_are_tie_free():
    for seed in range(10):
        for case in layer_checks._hidden_pool_cases(np.random.default_rng(seed)):
            x = case.args[0]
            assert np.unique(x).size == x.size


# --- check_conv_fast -------------------------------------------------------------------------------


def test_check_conv_fast_passes_the_vectorised_solution(solutions):
    result = checks.check_conv_fast(solutions.conv_forward_fast, solutions.conv_backward_fast)
    assert result.passed == 1


def test_check_conv_fast_fails_the_naive_solution_and_explains_the_line_budget(solutions):
    with pytest.raises(AssertionError, match="output positions per map") as failure:
        checks.check_conv_fast(solutions.conv_forward_naive, solutions.conv_backward_naive)
    assert "lines of your Python code" in str(failure.value)


def test_check_conv_fast_fails_a_loop_over_output_pixels(solutions):
    with pytest.raises(AssertionError, match="a Python loop over output pixels"):
        checks.check_conv_fast(
            wrong.conv_forward_fast_loops_over_pixels, solutions.conv_backward_fast
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


def test_a_relu_that_calls_the_reference_twin_fails_naming_it():
    with pytest.raises(AssertionError, match="course_utils.reference.layers.relu_forward"):
        checks.check_relu_forward(wrong.relu_forward_calls_reference_twin)


def test_a_conv_that_calls_scipy_through_a_helper_fails_naming_it():
    with pytest.raises(AssertionError, match="from scipy import signal"):
        checks.check_conv_forward(wrong.conv_forward_calls_scipy_through_helper)


def test_a_call_built_at_run_time_is_caught_while_it_runs():
    assert _rules.find_banned(wrong.softmax_loss_imports_torch_at_run_time) == []
    with pytest.raises(AssertionError, match="your code called torch"):
        checks.check_softmax_loss(wrong.softmax_loss_imports_torch_at_run_time)


def test_a_banned_backward_fails_even_behind_a_correct_forward():
    def relu_backward(dout, cache):
        return wrong._relu_by_reference(cache) * 0 + dout * (cache > 0)

    with pytest.raises(AssertionError, match="course_utils.reference"):
        checks.check_relu_backward(CORRECT.relu_forward, relu_backward)


def test_the_fast_check_refuses_torch_too():
    with pytest.raises(AssertionError, match="NumPy exercise"):
        checks.check_conv_fast(
            wrong.conv_forward_calls_torch_through_helper, CORRECT.conv_backward_naive
        )
