"""course_utils.reference.arithmetic against the lecture examples and brute-force definitions."""

import numpy as np
import pytest
import torch

from course_utils.reference import (
    conv_output_size,
    conv_param_count,
    convolve2d,
    cross_correlate2d,
    padding_for,
    receptive_field,
)
from tests import lecture_vectors as lv


def _cross_correlate_brute_force(x: np.ndarray, k: np.ndarray) -> np.ndarray:
    """out[i, j] = sum_{p, q} x[i + p, j + q] * k[p, q], by loops over the definition."""
    kh, kw = k.shape
    out = np.zeros((x.shape[0] - kh + 1, x.shape[1] - kw + 1))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            for p in range(kh):
                for q in range(kw):
                    out[i, j] += x[i + p, j + q] * k[p, q]
    return out


def _convolve_brute_force(x: np.ndarray, k: np.ndarray) -> np.ndarray:
    """out[i, j] = sum_{p, q} x[i + p, j + q] * k[KH - 1 - p, KW - 1 - q], by loops."""
    kh, kw = k.shape
    out = np.zeros((x.shape[0] - kh + 1, x.shape[1] - kw + 1))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            for p in range(kh):
                for q in range(kw):
                    out[i, j] += x[i + p, j + q] * k[kh - 1 - p, kw - 1 - q]
    return out


# --- conv_output_size -------------------------------------------------------------------------


@pytest.mark.parametrize("w, f, s, p, expected", lv.OUTPUT_SIZE_EXAMPLES)
def test_conv_output_size_matches_the_lecture_examples(w, f, s, p, expected):
    assert conv_output_size(w, f, stride=s, pad=p) == expected


@pytest.mark.parametrize("w, f, s, p, shown", lv.OUTPUT_SIZE_MISFITS)
def test_conv_output_size_refuses_a_stride_that_does_not_divide(w, f, s, p, shown):
    with pytest.raises(ValueError, match=shown.replace(".", r"\.")):
        conv_output_size(w, f, stride=s, pad=p)


def test_conv_output_size_error_message_has_the_house_style_shape():
    with pytest.raises(ValueError) as info:
        conv_output_size(10, 3, stride=2)
    assert str(info.value) == (
        "filter does not fit: (W - F + 2P) / S + 1 = (10 - 3 + 0) / 2 + 1 = 4.5 is not an "
        "integer. Choose P or S so that S divides W - F + 2P = 7."
    )


def test_conv_output_size_shows_twice_the_padding_in_the_formula():
    with pytest.raises(ValueError, match=r"\(10 - 4 \+ 2\) / 3 \+ 1 = 3\.67"):
        conv_output_size(10, 4, stride=3, pad=1)


def test_conv_output_size_keeps_the_size_with_same_padding():
    for f, p in lv.SAME_PADDING.items():
        assert conv_output_size(32, f, stride=1, pad=p) == 32


def test_conv_output_size_agrees_with_conv2d_whenever_the_filter_fits():
    x = torch.zeros(1, 1, 13, 13)
    for f in (1, 2, 3, 5):
        for s in (1, 2, 3):
            for p in (0, 1, 2):
                span = 13 - f + 2 * p
                if span % s:
                    continue
                out = torch.nn.functional.conv2d(x, torch.zeros(1, 1, f, f), stride=s, padding=p)
                assert conv_output_size(13, f, stride=s, pad=p) == out.shape[-1]


def test_conv_output_size_refuses_a_filter_larger_than_the_padded_input():
    with pytest.raises(ValueError, match="larger than the padded input"):
        conv_output_size(3, 6, stride=1, pad=1)


def test_conv_output_size_accepts_a_filter_that_fits_only_thanks_to_padding():
    assert conv_output_size(3, 5, stride=1, pad=1) == 1


@pytest.mark.parametrize(
    "args, name",
    [((0, 3), "n"), ((5, 0), "f"), ((5, 3, 0), "stride"), ((5, 3, 1, -1), "pad")],
)
def test_conv_output_size_refuses_non_positive_values(args, name):
    with pytest.raises(ValueError, match=name):
        conv_output_size(*args)


@pytest.mark.parametrize("args", [(7.0, 3), (7, 3.0), (7, 3, "2"), (7, 3, 1, None), (7, True)])
def test_conv_output_size_refuses_values_that_are_not_ints(args):
    with pytest.raises(ValueError, match="must be an int"):
        conv_output_size(*args)


def test_conv_output_size_accepts_numpy_integers():
    assert conv_output_size(np.int64(7), np.int32(3), stride=np.int64(2)) == 3


def test_stride_examples_on_the_4x4_input_fit_or_raise():
    size = lv.STRIDE_INPUT_4X4.shape[0]
    for f, s, expected in lv.STRIDE_EXAMPLES:
        assert conv_output_size(size, f, stride=s) == expected
    f, s, shown = lv.STRIDE_MISFIT
    with pytest.raises(ValueError, match=shown.replace(".", r"\.")):
        conv_output_size(size, f, stride=s)


# --- padding_for ------------------------------------------------------------------------------


def test_padding_for_same_is_half_the_filter_for_the_lecture_sizes():
    for f, p in lv.SAME_PADDING.items():
        assert padding_for("same", f) == p


def test_padding_for_full_is_filter_minus_one_and_grows_the_output_by_that():
    for f, p in lv.FULL_PADDING.items():
        assert padding_for("full", f) == p
        assert conv_output_size(10, f, pad=p) == 10 + f - 1


def test_padding_for_valid_is_zero():
    assert [padding_for("valid", f) for f in (1, 2, 3, 4)] == [0, 0, 0, 0]


def test_padding_for_same_refuses_an_even_filter_and_says_why():
    with pytest.raises(ValueError, match="odd"):
        padding_for("same", 4)


def test_padding_for_an_unknown_mode_lists_the_three_modes():
    with pytest.raises(ValueError, match='"valid", "same" or "full"'):
        padding_for("SAME_UPPER", 3)


def test_padding_for_refuses_a_non_positive_filter():
    with pytest.raises(ValueError, match="positive"):
        padding_for("full", 0)


# --- conv_param_count -------------------------------------------------------------------------


def test_conv_param_count_of_the_cifar_example_is_760():
    ex = lv.PARAMS_CIFAR_CONV
    assert conv_param_count(ex["input"][2], ex["filters"], ex["f"]) == ex["params"] == 760
    h_out = conv_output_size(ex["input"][0], ex["f"], stride=ex["stride"], pad=ex["pad"])
    assert (h_out, h_out, ex["filters"]) == ex["output"]


def test_alexnet_conv1_gives_55x55x96_and_34944_parameters():
    ex = lv.ALEXNET_CONV1
    h_out = conv_output_size(ex["input"][0], ex["f"], stride=ex["stride"], pad=ex["pad"])
    assert (h_out, h_out, ex["filters"]) == ex["output"] == (55, 55, 96)
    assert h_out * h_out * ex["filters"] == ex["neurons"]
    assert conv_param_count(3, 96, 11) == ex["params_shared"] == 34_944
    assert conv_param_count(3, 96, 11, bias=False) == ex["weights_shared"]
    assert ex["neurons"] * conv_param_count(3, 1, 11) == ex["params_unshared"]


def test_single_neuron_counts_match_the_lecture():
    ex = lv.NEURON_5X5_ON_3_CHANNELS
    assert conv_param_count(ex["c_in"], 1, ex["f"]) == ex["weights"] + ex["bias"]
    ex = lv.NEURON_3X3_ON_20_CHANNELS
    assert conv_param_count(ex["c_in"], 1, ex["f"], bias=False) == ex["connections"]


def test_locally_connected_example_has_24x24_positions_and_735_shared_weights():
    ex = lv.LOCALLY_CONNECTED
    positions = conv_output_size(ex["input"][0], ex["f"])
    assert (positions, positions) == ex["positions"]
    per_filter = conv_param_count(ex["input"][2], 1, ex["f"], bias=False)
    assert ex["depth"] * per_filter == ex["weights_shared"]
    assert positions * positions * per_filter == ex["weights_local_depth1"]
    assert positions * positions * ex["depth"] * per_filter == ex["weights_local"]


def test_three_3x3_convs_cost_27_c_squared_against_49_for_one_7x7():
    ex = lv.STACKED_3X3
    for c in (1, 4, 64):
        stacked = sum(conv_param_count(c, c, k, bias=False) for k, _ in ex["layers"])
        assert stacked == ex["weights_per_c_squared_stacked"] * c * c
        assert conv_param_count(c, c, 7, bias=False) == ex["weights_per_c_squared_single"] * c * c


def test_conv_param_count_accepts_a_rectangular_filter_like_nn_conv2d():
    for bias in (True, False):
        layer = torch.nn.Conv2d(5, 7, (2, 3), bias=bias)
        expected = sum(p.numel() for p in layer.parameters())
        assert conv_param_count(5, 7, (2, 3), bias=bias) == expected


def test_conv_param_count_refuses_a_filter_that_is_not_an_int_or_pair():
    with pytest.raises(ValueError, match="pair"):
        conv_param_count(3, 4, (1, 2, 3))


# --- receptive_field --------------------------------------------------------------------------


def test_three_stacked_3x3_stride_1_convs_see_7x7():
    assert receptive_field(lv.STACKED_3X3["layers"]) == 7


def test_receptive_field_of_no_layers_is_one_pixel():
    assert receptive_field([]) == 1


def test_receptive_field_grows_with_the_stride_of_earlier_layers():
    # conv 3x3 s1 -> pool 2x2 s2 -> conv 3x3 s1: 3, then 4, then 4 + 2 * 2 = 8.
    assert receptive_field([(3, 1), (2, 2)]) == 4
    assert receptive_field([(3, 1), (2, 2), (3, 1)]) == 8


def test_receptive_field_equals_the_support_of_an_input_gradient():
    # Independent definition: the input pixels that influence the centre output of the stack.
    layers = [(3, 1), (2, 2), (3, 2), (5, 1)]
    x = torch.zeros(1, 1, 101, 101, requires_grad=True)
    h = x
    for k, s in layers:
        h = torch.nn.functional.conv2d(h, torch.ones(1, 1, k, k, dtype=x.dtype), stride=s)
    centre = h.shape[-1] // 2
    (grad,) = torch.autograd.grad(h[0, 0, centre, centre], x)
    rows = torch.nonzero(grad[0, 0].sum(dim=1)).flatten()
    assert receptive_field(layers) == int(rows.max() - rows.min() + 1)


def test_receptive_field_refuses_a_layer_that_is_not_a_pair():
    with pytest.raises(ValueError, match=r"layers\[1\]"):
        receptive_field([(3, 1), 3])


# --- cross_correlate2d and convolve2d ---------------------------------------------------------


def test_convolve2d_reproduces_the_true_convolution_vector():
    vec = lv.TRUE_CONVOLUTION_VECTOR
    out = convolve2d(vec["x"], vec["k"])
    assert out.dtype == torch.float64
    np.testing.assert_array_equal(out.numpy(), vec["out"])


def test_cross_correlate2d_differs_from_convolution_on_the_lecture_vector():
    vec = lv.TRUE_CONVOLUTION_VECTOR
    out = cross_correlate2d(vec["x"], vec["k"])
    np.testing.assert_allclose(out.numpy(), _cross_correlate_brute_force(vec["x"], vec["k"]))
    assert not np.allclose(out.numpy(), vec["out"])


@pytest.mark.parametrize("shape, kshape", [((5, 7), (2, 3)), ((4, 4), (4, 4)), ((6, 3), (1, 1))])
def test_cross_correlate2d_and_convolve2d_match_brute_force_loops(shape, kshape):
    rng = np.random.default_rng(0)
    x, k = rng.standard_normal(shape), rng.standard_normal(kshape)
    np.testing.assert_allclose(cross_correlate2d(x, k).numpy(), _cross_correlate_brute_force(x, k))
    np.testing.assert_allclose(convolve2d(x, k).numpy(), _convolve_brute_force(x, k))


def test_correlation_accepts_lists_and_returns_float64():
    out = cross_correlate2d([[1, 2, 3], [4, 5, 6]], [[1, 1]])
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float64
    assert out.tolist() == [[3.0, 5.0], [9.0, 11.0]]


def test_correlation_of_float32_numpy_arrays_is_float64():
    x = np.ones((3, 3), dtype=np.float32)
    assert cross_correlate2d(x, x[:2, :2]).dtype == torch.float64


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_correlation_keeps_the_dtype_of_tensor_inputs(dtype):
    x, k = torch.randn(4, 5, dtype=dtype), torch.randn(2, 2, dtype=dtype)
    assert cross_correlate2d(x, k).dtype == dtype
    assert convolve2d(x, k).dtype == dtype


def test_convolution_is_correlation_with_the_flipped_kernel():
    x, k = torch.randn(6, 5, dtype=torch.float64), torch.randn(3, 2, dtype=torch.float64)
    torch.testing.assert_close(convolve2d(x, k), cross_correlate2d(x, torch.flip(k, (0, 1))))


def test_correlation_is_translation_equivariant_away_from_the_borders():
    x, k = torch.randn(12, 12, dtype=torch.float64), torch.randn(3, 3, dtype=torch.float64)
    shifted = torch.roll(x, shifts=(2, 1), dims=(0, 1))
    out, out_shifted = cross_correlate2d(x, k), cross_correlate2d(shifted, k)
    # Away from the borders (and the wrapped rows), conv(shift(x)) == shift(conv(x)).
    torch.testing.assert_close(out_shifted[2:, 1:], out[:-2, :-1])


@pytest.mark.parametrize("fn", [cross_correlate2d, convolve2d])
def test_correlation_refuses_a_kernel_larger_than_the_input(fn):
    with pytest.raises(ValueError, match="kernel is larger than the input"):
        fn(np.ones((3, 3)), np.ones((2, 4)))


@pytest.mark.parametrize("fn", [cross_correlate2d, convolve2d])
def test_correlation_refuses_inputs_that_are_not_2d(fn):
    with pytest.raises(ValueError, match="2-D"):
        fn(np.ones((1, 3, 3)), np.ones((2, 2)))


def test_correlation_accepts_numpy_views_with_negative_strides():
    x = np.arange(16.0).reshape(4, 4)
    k = np.array([[1.0, 2.0], [3.0, 4.0]])
    flipped_view = cross_correlate2d(np.rot90(x), k[::-1, ::-1])
    copied = cross_correlate2d(np.rot90(x).copy(), k[::-1, ::-1].copy())
    assert torch.equal(flipped_view, copied)
