"""course_utils.reference.batchnorm against torch.nn.BatchNorm1d / BatchNorm2d.

The exact mapping, tested here step by step: torch's momentum is our 1 - momentum; both
normalise with the biased batch variance, so out and the gradients (through autograd) are
identical; torch's running variance takes the UNBIASED batch variance var * M / (M - 1)
(M = N, or N * H * W per channel), ours the biased one, so from one shared state a step apart
they differ by exactly (1 - momentum) * var / (M - 1), and from zeros with a fixed batch size
theirs is ours times M / (M - 1) at every step.
"""

import numpy as np
import pytest
import torch

from course_utils import reference
from course_utils.reference import batchnorm as ref
from tests.memory_layouts import other_layouts

DOUBLE = torch.float64
TOL = {"float64": {"rtol": 1e-10, "atol": 1e-10}, "float32": {"rtol": 1e-4, "atol": 1e-5}}
DTYPES = [torch.float64, torch.float32]


def _tol(dtype: torch.dtype) -> dict:
    return TOL[str(dtype).removeprefix("torch.")]


def _inputs(shape, dtype=DOUBLE, seed=0, device="cpu"):
    g = torch.Generator().manual_seed(seed)
    c = shape[1]
    view = (1, c) + (1,) * (len(shape) - 2)
    scale = torch.rand(view, generator=g, dtype=DOUBLE) * 3 + 0.5
    shift = torch.randn(view, generator=g, dtype=DOUBLE) * 2
    x = torch.randn(shape, generator=g, dtype=DOUBLE) * scale + shift
    gamma = torch.rand(c, generator=g, dtype=DOUBLE) + 0.5
    beta = torch.randn(c, generator=g, dtype=DOUBLE)
    return (t.to(device=device, dtype=dtype) for t in (x, gamma, beta))


def _torch_bn(c: int, spatial: bool, momentum: float, eps: float, gamma, beta):
    """torch's layer with OUR momentum m mapped to its 1 - m, and our gamma and beta."""
    layer_class = torch.nn.BatchNorm2d if spatial else torch.nn.BatchNorm1d
    layer = layer_class(c, eps=eps, momentum=1 - momentum, dtype=gamma.dtype, device=gamma.device)
    with torch.no_grad():
        layer.weight.copy_(gamma)
        layer.bias.copy_(beta)
    return layer


CASES = [  # (shape, momentum, eps)
    ((6, 4), 0.9, 1e-5),
    ((2, 3), 0.5, 1e-3),
    ((17, 1), 0.99, 1e-5),
    ((3, 2, 4, 5), 0.9, 1e-5),
    ((1, 3, 2, 3), 0.7, 1e-4),  # N = 1 is fine for the spatial layer: H * W = 6 values
    ((4, 1, 1, 1), 0.9, 1e-5),
]


def _twins(shape):
    if len(shape) == 4:
        return ref.spatial_batchnorm_forward, ref.spatial_batchnorm_backward, True
    return ref.batchnorm_forward, ref.batchnorm_backward, False


def _values_per_statistic(shape) -> int:
    return shape[0] * (shape[2] * shape[3] if len(shape) == 4 else 1)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("shape, momentum, eps", CASES)
def test_training_forward_and_running_mean_equal_torch_with_momentum_one_minus_m(
    shape, momentum, eps, dtype
):
    forward, _, spatial = _twins(shape)
    x, gamma, beta = _inputs(shape, dtype)
    layer = _torch_bn(shape[1], spatial, momentum, eps, gamma, beta)
    bn_param = {"mode": "train", "momentum": momentum, "eps": eps}
    for step in range(4):
        x_step = x * (step + 1) + step  # a new batch each step
        out, _ = forward(x_step, gamma, beta, bn_param)
        expected = layer(x_step)
        assert out.dtype == dtype
        torch.testing.assert_close(out, expected, **_tol(dtype))
        torch.testing.assert_close(bn_param["running_mean"], layer.running_mean, **_tol(dtype))


@pytest.mark.parametrize("shape, momentum, eps", CASES)
def test_one_step_from_a_shared_state_differs_from_torch_by_the_unbiased_correction(
    shape, momentum, eps
):
    forward, _, spatial = _twins(shape)
    x, gamma, beta = _inputs(shape)
    m = _values_per_statistic(shape)
    layer = _torch_bn(shape[1], spatial, momentum, eps, gamma, beta)
    bn_param = {"mode": "train", "momentum": momentum, "eps": eps}
    bn_param["running_var"] = torch.linspace(0.2, 3.0, shape[1], dtype=DOUBLE)
    dims = (0, 2, 3) if spatial else (0,)
    for step in range(3):
        x_step = x + 0.5 * step
        with torch.no_grad():
            layer.running_var.copy_(bn_param["running_var"])  # the same state before the step
        forward(x_step, gamma, beta, bn_param)
        layer(x_step)
        batch_var = x_step.var(dim=dims, unbiased=False)
        # torch: m * rv + (1 - m) * var * M / (M - 1); ours: m * rv + (1 - m) * var.
        torch.testing.assert_close(
            layer.running_var - bn_param["running_var"],
            (1 - momentum) * batch_var / (m - 1),
            **TOL["float64"],
        )


@pytest.mark.parametrize("shape, momentum, eps", CASES)
def test_from_zeros_torch_running_var_is_ours_times_m_over_m_minus_one(shape, momentum, eps):
    forward, _, spatial = _twins(shape)
    x, gamma, beta = _inputs(shape, seed=3)
    m = _values_per_statistic(shape)
    layer = _torch_bn(shape[1], spatial, momentum, eps, gamma, beta)
    with torch.no_grad():
        layer.running_var.zero_()  # ours start at zeros, torch's at ones
    bn_param = {"mode": "train", "momentum": momentum, "eps": eps}
    for step in range(5):
        x_step = x * (1 + 0.3 * step) - step
        forward(x_step, gamma, beta, bn_param)
        layer(x_step)
        torch.testing.assert_close(layer.running_var, bn_param["running_var"] * m / (m - 1))


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("shape, momentum, eps", CASES)
def test_test_mode_equals_torch_eval_with_the_same_running_statistics(shape, momentum, eps, dtype):
    forward, _, spatial = _twins(shape)
    x, gamma, beta = _inputs(shape, dtype, seed=5)
    c = shape[1]
    running_mean = torch.linspace(-1, 1, c, dtype=dtype)
    running_var = torch.linspace(0.5, 2, c, dtype=dtype)
    layer = _torch_bn(c, spatial, momentum, eps, gamma, beta).eval()
    with torch.no_grad():
        layer.running_mean.copy_(running_mean)
        layer.running_var.copy_(running_var)
    bn_param = {
        "mode": "test",
        "eps": eps,
        "running_mean": running_mean,
        "running_var": running_var,
    }
    out, _ = forward(x, gamma, beta, bn_param)
    torch.testing.assert_close(out, layer(x), **_tol(dtype))
    torch.testing.assert_close(bn_param["running_mean"], running_mean)  # test mode stores nothing
    torch.testing.assert_close(bn_param["running_var"], running_var)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("shape, momentum, eps", CASES)
def test_both_backward_twins_equal_torch_autograd_through_batchnorm(shape, momentum, eps, dtype):
    forward, backward, spatial = _twins(shape)
    x, gamma, beta = _inputs(shape, dtype, seed=7)
    dout = torch.randn(shape, generator=torch.Generator().manual_seed(8), dtype=DOUBLE).to(dtype)
    layer = _torch_bn(shape[1], spatial, momentum, eps, gamma, beta)
    x_leaf = x.clone().requires_grad_()
    layer(x_leaf).backward(dout)
    _, cache = forward(x, gamma, beta, {"mode": "train", "momentum": momentum, "eps": eps})
    backwards = [backward] + ([ref.batchnorm_backward_alt] if not spatial else [])
    for backward_twin in backwards:
        dx, dgamma, dbeta = backward_twin(dout, cache)
        torch.testing.assert_close(dx, x_leaf.grad, **_tol(dtype))
        torch.testing.assert_close(dgamma, layer.weight.grad, **_tol(dtype))
        torch.testing.assert_close(dbeta, layer.bias.grad, **_tol(dtype))


def test_staged_and_closed_form_backward_agree_to_rounding():
    x, gamma, beta = _inputs((9, 5), seed=11)
    dout = torch.randn(9, 5, dtype=DOUBLE, generator=torch.Generator().manual_seed(12))
    _, cache = ref.batchnorm_forward(x, gamma, beta, {"mode": "train"})
    for staged, closed in zip(
        ref.batchnorm_backward(dout, cache), ref.batchnorm_backward_alt(dout, cache)
    ):
        torch.testing.assert_close(staged, closed, rtol=1e-12, atol=1e-12)


def test_gradients_pass_torch_gradcheck_through_the_twin_formulas():
    x, gamma, beta = _inputs((5, 3), seed=13)

    def function(x, gamma, beta):
        return ref.batchnorm_forward(x, gamma, beta, {"mode": "train"})[0]

    inputs = tuple(t.clone().requires_grad_() for t in (x, gamma, beta))
    assert torch.autograd.gradcheck(function, inputs)


def test_missing_keys_take_the_contract_defaults_and_zeros():
    x, gamma, beta = _inputs((6, 4), seed=17)
    bn_param = {"mode": "train"}
    out, _ = ref.batchnorm_forward(x, gamma, beta, bn_param)
    explicit = {
        "mode": "train",
        "eps": 1e-5,
        "momentum": 0.9,
        "running_mean": torch.zeros(4, dtype=DOUBLE),
        "running_var": torch.zeros(4, dtype=DOUBLE),
    }
    out_explicit, _ = ref.batchnorm_forward(x, gamma, beta, explicit)
    torch.testing.assert_close(out, out_explicit, rtol=0, atol=0)
    torch.testing.assert_close(bn_param["running_mean"], 0.1 * x.mean(dim=0))
    torch.testing.assert_close(bn_param["running_var"], 0.1 * x.var(dim=0, unbiased=False))


def test_running_statistics_given_as_numpy_arrays_are_accepted():
    x, gamma, beta = _inputs((4, 3), seed=19)
    bn_param = {"mode": "test", "running_mean": np.zeros(3), "running_var": np.ones(3)}
    out, _ = ref.batchnorm_forward(x, gamma, beta, bn_param)
    torch.testing.assert_close(out, gamma * x / np.sqrt(1 + 1e-5) + beta)


def test_spatial_statistics_are_per_channel_over_n_h_w():
    x, gamma, beta = _inputs((3, 2, 4, 5), seed=23)
    out, _ = ref.spatial_batchnorm_forward(
        x, torch.ones(2, dtype=DOUBLE), beta * 0, {"mode": "train"}
    )
    torch.testing.assert_close(out.mean(dim=(0, 2, 3)), torch.zeros(2, dtype=DOUBLE))
    torch.testing.assert_close(
        out.var(dim=(0, 2, 3), unbiased=False),
        x.var(dim=(0, 2, 3), unbiased=False) / (x.var(dim=(0, 2, 3), unbiased=False) + 1e-5),
    )


def test_twins_are_exported_from_course_utils_reference_once_listed():
    for name in ref.__all__:
        if hasattr(reference, name):
            assert getattr(reference, name) is getattr(ref, name)


@pytest.mark.parametrize(
    "bn_param, match",
    [
        ({"mode": "eval"}, 'must be "train" or "test", got "eval"'),
        ({}, 'has no "mode"'),
        ({"mode": "train", "momentum": 1.5}, "must be in \\[0, 1\\], got 1.5"),
        ({"mode": "train", "eps": -1.0}, "must be a number >= 0"),
        ({"mode": "test", "running_mean": torch.zeros(3)}, r"running_mean.*shape \(4,\)"),
        ("train", "must be a dict"),
    ],
)
def test_forward_refuses_a_bad_bn_param_with_the_value(bn_param, match):
    x, gamma, beta = _inputs((5, 4))
    with pytest.raises(ValueError, match=match):
        ref.batchnorm_forward(x, gamma, beta, bn_param)


def test_forward_refuses_shapes_that_do_not_match():
    x, gamma, beta = _inputs((5, 4))
    with pytest.raises(ValueError, match=r"x must have shape \(N, D\), got shape \(5, 4, 1\)"):
        ref.batchnorm_forward(x[..., None], gamma, beta, {"mode": "train"})
    with pytest.raises(ValueError, match=r"gamma must have shape \(4,\).*got shape \(3,\)"):
        ref.batchnorm_forward(x, gamma[:3], beta, {"mode": "train"})
    with pytest.raises(ValueError, match=r"x must have shape \(N, C, H, W\)"):
        ref.spatial_batchnorm_forward(x, gamma, beta, {"mode": "train"})
    with pytest.raises(ValueError, match=r"beta must have shape \(2,\)"):
        ref.spatial_batchnorm_forward(x.reshape(5, 2, 2, 1), gamma[:2], beta, {"mode": "train"})


def test_training_mode_refuses_one_value_per_statistic_like_torch():
    x, gamma, beta = _inputs((1, 4))
    with pytest.raises(ValueError, match="batch of 1"):
        ref.batchnorm_forward(x, gamma, beta, {"mode": "train"})
    with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
        torch.nn.BatchNorm1d(4, dtype=DOUBLE)(x)
    with pytest.raises(ValueError, match="N \\* H \\* W = 1"):
        ref.spatial_batchnorm_forward(x.reshape(1, 4, 1, 1), gamma, beta, {"mode": "train"})
    out, _ = ref.batchnorm_forward(
        x,
        gamma,
        beta,
        {"mode": "test", "running_mean": torch.zeros(4), "running_var": torch.ones(4)},
    )
    assert out.shape == (1, 4)  # test mode takes a single example


def test_backward_refuses_a_test_mode_cache():
    x, gamma, beta = _inputs((5, 4))
    _, cache = ref.batchnorm_forward(x, gamma, beta, {"mode": "test"})
    for backward in (ref.batchnorm_backward, ref.batchnorm_backward_alt):
        with pytest.raises(ValueError, match="training mode only"):
            backward(torch.ones_like(x), cache)


@pytest.mark.cuda
def test_twins_on_cuda_match_torch_and_the_cpu():
    for shape in ((6, 4), (3, 2, 4, 5)):
        forward, backward, spatial = _twins(shape)
        x, gamma, beta = _inputs(shape, device="cuda")
        dout = torch.ones(shape, dtype=DOUBLE, device="cuda")
        bn_param = {"mode": "train"}
        out, cache = forward(x, gamma, beta, bn_param)
        assert out.device.type == "cuda" and bn_param["running_var"].device.type == "cuda"
        cpu_param = {"mode": "train"}
        cpu_out, cpu_cache = forward(x.cpu(), gamma.cpu(), beta.cpu(), cpu_param)
        torch.testing.assert_close(out.cpu(), cpu_out)
        torch.testing.assert_close(bn_param["running_var"].cpu(), cpu_param["running_var"])
        for got, want in zip(backward(dout, cache), backward(dout.cpu(), cpu_cache)):
            assert got.device.type == "cuda"
            torch.testing.assert_close(got.cpu(), want)
        layer = _torch_bn(shape[1], spatial, 0.9, 1e-5, gamma, beta)
        torch.testing.assert_close(out, layer(x))


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("layout", ["channels_last", "transposed", "every_other_column"])
def test_spatial_twins_give_the_same_values_for_non_contiguous_inputs(layout, dtype):
    x, gamma, beta = _inputs((3, 4, 5, 6), dtype, seed=29)
    dout = torch.randn(3, 4, 5, 6, generator=torch.Generator().manual_seed(30), dtype=dtype)
    plain = {"mode": "train"}
    out, cache = ref.spatial_batchnorm_forward(x, gamma, beta, plain)
    grads = ref.spatial_batchnorm_backward(dout, cache)
    strided = {"mode": "train"}
    x_other, dout_other = other_layouts(x)[layout], other_layouts(dout)[layout]
    assert not x_other.is_contiguous()
    out_other, cache_other = ref.spatial_batchnorm_forward(x_other, gamma, beta, strided)
    torch.testing.assert_close(out_other, out, **_tol(dtype))
    for key in ("running_mean", "running_var"):
        torch.testing.assert_close(strided[key], plain[key], **_tol(dtype))
    for got, want in zip(ref.spatial_batchnorm_backward(dout_other, cache_other), grads):
        torch.testing.assert_close(got, want, **_tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_spatial_twins_equal_the_flat_twins_on_rows_of_channels(dtype):
    x, gamma, beta = _inputs((2, 3, 4, 5), dtype, seed=31)
    dout = torch.randn(2, 3, 4, 5, generator=torch.Generator().manual_seed(32), dtype=dtype)
    rows = x.permute(0, 2, 3, 1).reshape(-1, 3)  # (N*H*W, C)
    spatial, flat = {"mode": "train", "momentum": 0.8}, {"mode": "train", "momentum": 0.8}
    out, cache = ref.spatial_batchnorm_forward(x, gamma, beta, spatial)
    out_rows, cache_rows = ref.batchnorm_forward(rows, gamma, beta, flat)
    torch.testing.assert_close(out.permute(0, 2, 3, 1).reshape(-1, 3), out_rows, **_tol(dtype))
    for key in ("running_mean", "running_var"):
        torch.testing.assert_close(spatial[key], flat[key], **_tol(dtype))
    dx, dgamma, dbeta = ref.spatial_batchnorm_backward(dout, cache)
    dx_rows, dgamma_rows, dbeta_rows = ref.batchnorm_backward_alt(
        dout.permute(0, 2, 3, 1).reshape(-1, 3), cache_rows
    )
    torch.testing.assert_close(dx.permute(0, 2, 3, 1).reshape(-1, 3), dx_rows, **_tol(dtype))
    torch.testing.assert_close(dgamma, dgamma_rows, **_tol(dtype))
    torch.testing.assert_close(dbeta, dbeta_rows, **_tol(dtype))


def test_spatial_forward_is_differentiable_and_its_gradients_pass_gradcheck():
    x, gamma, beta = _inputs((2, 3, 2, 3), seed=37)

    def function(x, gamma, beta):
        return ref.spatial_batchnorm_forward(x, gamma, beta, {"mode": "train"})[0]

    inputs = tuple(t.clone().requires_grad_() for t in (x, gamma, beta))
    assert torch.autograd.gradcheck(function, inputs)


def test_spatial_running_statistics_carry_no_autograd_history():
    x, gamma, beta = _inputs((2, 3, 2, 3), seed=41)
    bn_param = {"mode": "train"}
    ref.spatial_batchnorm_forward(x.requires_grad_(), gamma, beta, bn_param)
    assert bn_param["running_mean"].grad_fn is None
    assert bn_param["running_var"].grad_fn is None


def test_spatial_backward_refuses_a_test_mode_cache():
    x, gamma, beta = _inputs((2, 3, 2, 3))
    _, cache = ref.spatial_batchnorm_forward(x, gamma, beta, {"mode": "test"})
    with pytest.raises(ValueError, match="training mode only"):
        ref.spatial_batchnorm_backward(torch.ones_like(x), cache)


def test_spatial_backward_refuses_dout_of_another_shape():
    x, gamma, beta = _inputs((2, 3, 2, 3))
    _, cache = ref.spatial_batchnorm_forward(x, gamma, beta, {"mode": "train"})
    with pytest.raises(ValueError, match=r"dout must have the shape of x, \(2, 3, 2, 3\)"):
        ref.spatial_batchnorm_backward(torch.ones(2, 3, 3, 2, dtype=DOUBLE), cache)
