"""course_utils.reference.normalization against PyTorch, autograd and independent formulas.

Layer norm and group norm are compared with torch.nn.functional.layer_norm / group_norm and
their autograd gradients in float64 (batch size 1, one group, one channel per group, non-square
maps included), with NumPy formulas written here from the definitions, and with centred
differences. kaiming_normal is compared with the draw its contract fixes, with its fan-in for
both of the course's layouts, and in distribution with torch.nn.init.kaiming_normal_ (whose
nn.Linear layout (out, in) is the transpose of the course's (D, M)).
"""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from course_utils import reference
from course_utils.reference import normalization as ref

DOUBLE = torch.float64
TOL = {torch.float64: {"rtol": 1e-10, "atol": 1e-10}, torch.float32: {"rtol": 1e-4, "atol": 1e-5}}
DTYPES = [torch.float64, torch.float32]


def _tensor(shape, seed, scale=1.0, shift=0.0, dtype=DOUBLE):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(shape, generator=g, dtype=DOUBLE) * scale + shift).to(dtype)


def _ln_inputs(n, d, seed=0, dtype=DOUBLE):
    """x (N, D) with a different scale and offset per example, gamma, beta (D,), dout (N, D)."""
    scale = _tensor((n, 1), seed + 1).abs() * 3 + 0.5
    shift = _tensor((n, 1), seed + 2, scale=4.0)
    x = _tensor((n, d), seed) * scale + shift
    gamma = _tensor((d,), seed + 3).abs() + 0.5
    return (t.to(dtype) for t in (x, gamma, _tensor((d,), seed + 4), _tensor((n, d), seed + 5)))


def _gn_inputs(shape, seed=0, dtype=DOUBLE):
    """x (N, C, H, W) with a scale and offset per example and channel, gamma, beta (1, C, 1, 1)."""
    n, c, _, _ = shape
    scale = _tensor((n, c, 1, 1), seed + 1).abs() * 3 + 0.5
    shift = _tensor((n, c, 1, 1), seed + 2, scale=4.0)
    x = _tensor(shape, seed) * scale + shift
    gamma = _tensor((1, c, 1, 1), seed + 3).abs() + 0.5
    beta = _tensor((1, c, 1, 1), seed + 4)
    return (t.to(dtype) for t in (x, gamma, beta, _tensor(shape, seed + 5)))


def _close(actual, expected, dtype=DOUBLE):
    torch.testing.assert_close(actual, expected, **TOL[dtype])


LN_CASES = [  # (N, D, eps)
    (4, 5, 1e-5),
    (1, 7, 1e-5),  # batch size 1: layer norm needs no batch
    (6, 1, 1e-5),  # one feature: var 0, x_hat 0, out beta
    (3, 16, 1e-3),
    (2, 3, 0.0),
]

GN_CASES = [  # ((N, C, H, W), G, eps)
    ((2, 6, 4, 5), 3, 1e-5),
    ((1, 4, 3, 3), 2, 1e-5),  # batch size 1
    ((3, 4, 2, 5), 1, 1e-5),  # one group: layer norm over (C, H, W)
    ((2, 6, 3, 4), 6, 1e-5),  # one channel per group: instance norm
    ((2, 8, 3, 7), 4, 1e-3),  # non-square maps
    ((3, 6, 1, 1), 3, 1e-5),  # 1x1 maps: two values per group
    ((2, 4, 5, 2), 2, 0.0),
]


# --- layer normalisation -------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("n, d, eps", LN_CASES)
def test_layernorm_forward_equals_torch_layer_norm(n, d, eps, dtype):
    x, gamma, beta, _ = _ln_inputs(n, d, dtype=dtype)
    out, _ = ref.layernorm_forward(x, gamma, beta, {"eps": eps})
    assert out.dtype == dtype and out.shape == (n, d)
    _close(out, F.layer_norm(x, (d,), gamma, beta, eps), dtype)


@pytest.mark.parametrize("n, d, eps", LN_CASES)
def test_layernorm_backward_equals_autograd_through_torch_layer_norm(n, d, eps):
    x, gamma, beta, dout = _ln_inputs(n, d)
    _, cache = ref.layernorm_forward(x, gamma, beta, {"eps": eps})
    dx, dgamma, dbeta = ref.layernorm_backward(dout, cache)
    leaves = [t.clone().requires_grad_() for t in (x, gamma, beta)]
    F.layer_norm(leaves[0], (d,), leaves[1], leaves[2], eps).backward(dout)
    for ours, leaf in zip((dx, dgamma, dbeta), leaves, strict=True):
        assert ours.shape == leaf.shape
        _close(ours, leaf.grad)


def test_layernorm_forward_follows_the_formula_per_example_in_numpy():
    x, gamma, beta, _ = (t.numpy() for t in _ln_inputs(5, 6, seed=7))
    mu = x.mean(axis=1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=1, keepdims=True)  # biased
    expected = gamma * (x - mu) / np.sqrt(var + 1e-5) + beta
    out, _ = ref.layernorm_forward(*map(torch.from_numpy, (x, gamma, beta)), {})
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12, atol=1e-12)


def test_layernorm_is_batchnorm_of_the_transpose_with_gamma_and_beta_outside():
    x, gamma, beta, dout = _ln_inputs(4, 9, seed=3)
    ones, zeros = torch.ones(4, dtype=DOUBLE), torch.zeros(4, dtype=DOUBLE)
    x_hat_t, _ = reference.batchnorm_forward(x.T, ones, zeros, {"mode": "train"})  # (D, N)
    out, _ = ref.layernorm_forward(x, gamma, beta, {})
    _close(out, gamma * x_hat_t.T + beta)


def test_layernorm_gives_each_example_mean_zero_and_variance_one():
    x, _, _, _ = _ln_inputs(5, 200, seed=11)
    ones, zeros = torch.ones(200, dtype=DOUBLE), torch.zeros(200, dtype=DOUBLE)
    out, _ = ref.layernorm_forward(x, ones, zeros, {"eps": 0.0})
    _close(out.mean(dim=1), torch.zeros(5, dtype=DOUBLE))
    _close(out.var(dim=1, correction=0), torch.ones(5, dtype=DOUBLE))


def test_layernorm_output_of_an_example_does_not_depend_on_the_rest_of_the_batch():
    x, gamma, beta, _ = _ln_inputs(4, 5, seed=2)
    alone, _ = ref.layernorm_forward(x[:1], gamma, beta, {})
    together, _ = ref.layernorm_forward(x, gamma, beta, {})
    _close(alone[0], together[0])


def test_layernorm_backward_agrees_with_centred_differences():
    x, gamma, beta, dout = _ln_inputs(3, 4, seed=5)
    _, cache = ref.layernorm_forward(x, gamma, beta, {})
    grads = ref.layernorm_backward(dout, cache)
    for index in range(3):
        numeric = _numerical_gradient(
            lambda args: ref.layernorm_forward(*args, {})[0], [x, gamma, beta], index, dout
        )
        torch.testing.assert_close(grads[index], numeric, rtol=1e-6, atol=1e-8)


def _numerical_gradient(forward, args, index, dout, h=1e-6):
    """Centred differences of sum(forward(args) * dout) with respect to args[index]."""
    value = args[index]
    grad = torch.zeros_like(value)
    flat, grad_flat = value.view(-1), grad.view(-1)
    for i in range(flat.numel()):
        old = flat[i].item()
        flat[i] = old + h
        plus = (forward(args) * dout).sum().item()
        flat[i] = old - h
        minus = (forward(args) * dout).sum().item()
        flat[i] = old
        grad_flat[i] = (plus - minus) / (2 * h)
    return grad


@pytest.mark.parametrize(
    "x_shape, gamma_shape, message",
    [
        ((4, 5), (4,), r"gamma must have shape \(5,\)"),
        ((4, 5), (1, 5), r"gamma must have shape \(5,\)"),
        ((4, 5, 1), (5,), r"x must have shape \(N, D\)"),
    ],
)
def test_layernorm_forward_refuses_shapes_that_do_not_match(x_shape, gamma_shape, message):
    with pytest.raises(ValueError, match=message):
        ref.layernorm_forward(
            torch.zeros(x_shape, dtype=DOUBLE),
            torch.ones(gamma_shape, dtype=DOUBLE),
            torch.zeros(5, dtype=DOUBLE),
            {},
        )


def test_layernorm_forward_refuses_a_negative_eps_and_a_param_that_is_not_a_dict():
    x, gamma, beta, _ = _ln_inputs(2, 3)
    with pytest.raises(ValueError, match=r'ln_param\["eps"\] must be a number >= 0, got -1'):
        ref.layernorm_forward(x, gamma, beta, {"eps": -1})
    with pytest.raises(ValueError, match="ln_param must be a dict"):
        ref.layernorm_forward(x, gamma, beta, None)


# --- group normalisation -------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("shape, G, eps", GN_CASES)
def test_spatial_groupnorm_forward_equals_torch_group_norm(shape, G, eps, dtype):
    x, gamma, beta, _ = _gn_inputs(shape, dtype=dtype)
    out, _ = ref.spatial_groupnorm_forward(x, gamma, beta, G, {"eps": eps})
    assert out.dtype == dtype and out.shape == shape
    _close(out, F.group_norm(x, G, gamma.flatten(), beta.flatten(), eps), dtype)


@pytest.mark.parametrize("shape, G, eps", GN_CASES)
def test_spatial_groupnorm_backward_equals_autograd_through_torch_group_norm(shape, G, eps):
    x, gamma, beta, dout = _gn_inputs(shape)
    _, cache = ref.spatial_groupnorm_forward(x, gamma, beta, G, {"eps": eps})
    dx, dgamma, dbeta = ref.spatial_groupnorm_backward(dout, cache)
    leaves = [t.clone().requires_grad_() for t in (x, gamma, beta)]
    F.group_norm(leaves[0], G, leaves[1].flatten(), leaves[2].flatten(), eps).backward(dout)
    for ours, leaf in zip((dx, dgamma, dbeta), leaves, strict=True):
        assert ours.shape == leaf.shape  # dgamma, dbeta (1, C, 1, 1), as gamma and beta
        _close(ours, leaf.grad)


def test_spatial_groupnorm_forward_follows_the_formula_per_example_and_group_in_numpy():
    x, gamma, beta, _ = (t.numpy() for t in _gn_inputs((3, 6, 4, 5), seed=9))
    expected = np.empty_like(x)
    for n in range(3):
        for g in range(2):  # G = 2: channels 0-2 and 3-5
            block = x[n, 3 * g : 3 * g + 3]  # (C/G, H, W)
            expected[n, 3 * g : 3 * g + 3] = (block - block.mean()) / np.sqrt(block.var() + 1e-5)
    expected = gamma * expected + beta
    out, _ = ref.spatial_groupnorm_forward(*map(torch.from_numpy, (x, gamma, beta)), 2, {})
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12, atol=1e-12)


def test_spatial_groupnorm_with_one_group_is_layernorm_of_each_flattened_example():
    x, _, _, _ = _gn_inputs((3, 4, 2, 5), seed=4)
    ones, zeros = torch.ones(1, 4, 1, 1, dtype=DOUBLE), torch.zeros(1, 4, 1, 1, dtype=DOUBLE)
    out, _ = ref.spatial_groupnorm_forward(x, ones, zeros, 1, {})
    flat, _ = ref.layernorm_forward(
        x.reshape(3, -1), torch.ones(40, dtype=DOUBLE), torch.zeros(40, dtype=DOUBLE), {}
    )
    _close(out, flat.reshape(x.shape))


def test_spatial_groupnorm_with_one_channel_per_group_is_instance_norm():
    x, gamma, beta, _ = _gn_inputs((2, 3, 4, 6), seed=6)
    out, _ = ref.spatial_groupnorm_forward(x, gamma, beta, 3, {})
    _close(out, F.instance_norm(x, weight=gamma.flatten(), bias=beta.flatten(), eps=1e-5))


def test_spatial_groupnorm_output_of_an_example_does_not_depend_on_the_rest_of_the_batch():
    x, gamma, beta, _ = _gn_inputs((3, 4, 3, 2), seed=8)
    alone, _ = ref.spatial_groupnorm_forward(x[2:], gamma, beta, 2, {})
    together, _ = ref.spatial_groupnorm_forward(x, gamma, beta, 2, {})
    _close(alone[0], together[2])


def test_spatial_groupnorm_backward_agrees_with_centred_differences():
    x, gamma, beta, dout = _gn_inputs((2, 4, 2, 3), seed=12)
    _, cache = ref.spatial_groupnorm_forward(x, gamma, beta, 2, {})
    grads = ref.spatial_groupnorm_backward(dout, cache)
    for index in range(3):
        numeric = _numerical_gradient(
            lambda args: ref.spatial_groupnorm_forward(*args, 2, {})[0],
            [x, gamma, beta],
            index,
            dout,
        )
        torch.testing.assert_close(grads[index], numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("G, message", [(4, r"6 / 4 = 1\.5 .*\[1, 2, 3, 6\]"), (0, "positive")])
def test_spatial_groupnorm_forward_refuses_a_group_count_that_does_not_divide_c(G, message):
    x, gamma, beta, _ = _gn_inputs((2, 6, 2, 2))
    with pytest.raises(ValueError, match=message):
        ref.spatial_groupnorm_forward(x, gamma, beta, G, {})


def test_spatial_groupnorm_forward_refuses_gamma_shaped_like_spatial_batchnorm():
    x, _, beta, _ = _gn_inputs((2, 4, 2, 2))
    with pytest.raises(ValueError, match=r"gamma must have shape \(1, 4, 1, 1\)"):
        ref.spatial_groupnorm_forward(x, torch.ones(4, dtype=DOUBLE), beta, 2, {})


# --- Kaiming initialisation ----------------------------------------------------------------------

KAIMING_LAYOUTS = [  # (shape, fan_in)
    ((300, 20), 300),  # affine (D, M): x @ w sums over D
    ((20, 300), 20),
    ((16, 3, 5, 5), 75),  # convolution (F, C, HH, WW): C * HH * WW
    ((8, 32, 3, 1), 96),
]


@pytest.mark.parametrize("shape, fan_in", KAIMING_LAYOUTS)
@pytest.mark.parametrize("gain", [math.sqrt(2.0), 1.0, 0.5])
def test_kaiming_normal_is_the_generators_standard_normal_draw_scaled_by_gain_over_root_fan_in(
    shape, fan_in, gain
):
    w = ref.kaiming_normal(shape, np.random.default_rng(5), gain)
    expected = np.random.default_rng(5).standard_normal(shape) * (gain / math.sqrt(fan_in))
    assert w.dtype == DOUBLE and tuple(w.shape) == shape
    np.testing.assert_array_equal(w.numpy(), expected)
    # rng.normal(0, std, shape) draws the same numbers.
    same = np.random.default_rng(5).normal(0.0, gain / math.sqrt(fan_in), shape)
    np.testing.assert_allclose(w.numpy(), same, rtol=1e-15, atol=0)


def test_kaiming_normal_defaults_to_the_relu_gain_root_two():
    w = ref.kaiming_normal((50, 10), np.random.default_rng(0))
    expected = np.random.default_rng(0).standard_normal((50, 10)) * math.sqrt(2.0 / 50)
    np.testing.assert_allclose(w.numpy(), expected, rtol=1e-15, atol=0)


def test_kaiming_normal_gives_the_same_array_for_the_same_generator_state_and_advances_it():
    rng = np.random.default_rng(3)
    first = ref.kaiming_normal((4, 3, 3, 3), rng)
    second = ref.kaiming_normal((4, 3, 3, 3), rng)
    assert not torch.equal(first, second)  # the generator moved on
    torch.testing.assert_close(ref.kaiming_normal((4, 3, 3, 3), np.random.default_rng(3)), first)


# For n values of N(0, s^2): the sample standard deviation has relative standard error
# 1 / sqrt(2 n); the sample mean has standard error s / sqrt(n). Six of those make a false
# failure about 2e-9 likely.
Z = 6.0


@pytest.mark.parametrize(
    "shape, fan_in", [((1024, 256), 1024), ((256, 1024), 256), ((64, 32, 3, 3), 288)]
)
def test_kaiming_normal_sample_statistics_fit_the_fan_in_of_each_layout(shape, fan_in):
    w = ref.kaiming_normal(shape, np.random.default_rng(1)).numpy().ravel()
    n, std = w.size, math.sqrt(2.0 / fan_in)
    assert abs(w.mean()) <= Z * std / math.sqrt(n)
    assert abs(np.sqrt(np.mean(w**2)) / std - 1) <= Z / math.sqrt(2 * n)


def _ks_statistic(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov statistic: largest gap between the empirical CDFs."""
    a, b = np.sort(a), np.sort(b)
    grid = np.concatenate([a, b])
    cdf_a = np.searchsorted(a, grid, side="right") / a.size
    cdf_b = np.searchsorted(b, grid, side="right") / b.size
    return float(np.max(np.abs(cdf_a - cdf_b)))


@pytest.mark.parametrize(
    "ours, torch_shape, transpose",
    [
        ((512, 128), (128, 512), True),  # nn.Linear(512, 128).weight is (out, in) = (128, 512)
        ((128, 512), (512, 128), True),
        ((128, 64, 3, 3), (128, 64, 3, 3), False),  # nn.Conv2d's weight is (F, C, HH, WW) as ours
    ],
)
def test_kaiming_normal_has_the_distribution_of_torch_kaiming_normal_in_its_layout(
    ours, torch_shape, transpose
):
    w = ref.kaiming_normal(ours, np.random.default_rng(2)).numpy().ravel()
    w_torch = torch.empty(torch_shape, dtype=DOUBLE)
    torch.nn.init.kaiming_normal_(
        w_torch, mode="fan_in", nonlinearity="relu", generator=torch.Generator().manual_seed(2)
    )
    if transpose:
        w_torch = w_torch.T  # into the course's (D, M) layout
    assert tuple(w_torch.shape) == ours
    theirs = w_torch.numpy().ravel()
    # Same law: KS distance below its 1e-6 critical value, sqrt(-ln(5e-7) / 2 * 2 / n).
    critical = math.sqrt(-math.log(0.5e-6) / 2) * math.sqrt(2 / w.size)
    assert _ks_statistic(w, theirs) < critical
    # Had the fan-in been the other dimension, the two laws would be far apart.
    swapped = w * math.sqrt(ours[0] / ours[1]) if len(ours) == 2 else w / 3
    assert _ks_statistic(swapped, theirs) > 10 * critical


@pytest.mark.parametrize("shape", [(10,), (2, 3, 4), (1, 2, 3, 4, 5), ()])
def test_kaiming_normal_refuses_a_shape_of_another_rank(shape):
    with pytest.raises(ValueError, match=r"\(D, M\).*\(F, C, HH, WW\)"):
        ref.kaiming_normal(shape, np.random.default_rng(0))


def test_kaiming_normal_refuses_sizes_below_one_a_negative_gain_and_a_global_random_module():
    with pytest.raises(ValueError, match="positive integer sizes"):
        ref.kaiming_normal((0, 3), np.random.default_rng(0))
    with pytest.raises(ValueError, match="gain must be a finite number >= 0"):
        ref.kaiming_normal((3, 3), np.random.default_rng(0), gain=-1.0)
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        ref.kaiming_normal((3, 3), np.random)


def test_kaiming_normal_puts_the_same_numbers_on_the_requested_device_and_dtype():
    w = ref.kaiming_normal((6, 4), np.random.default_rng(0), dtype=torch.float32, device="cpu")
    expected = ref.kaiming_normal((6, 4), np.random.default_rng(0))
    assert w.dtype == torch.float32
    torch.testing.assert_close(w, expected.float())


def test_every_twin_is_exported_from_course_utils_reference():
    for name in ref.__all__:
        assert getattr(reference, name) is getattr(ref, name)
        assert name in reference.__all__
