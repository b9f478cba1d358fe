"""course_utils.bridge: NumPy layers as autograd functions and as nn.Modules.

The NumPy layers below are test fixtures in the CS231n conventions (loops for the small
gradient checks, stride tricks for the training run), not the course's solutions.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from numpy.lib.stride_tricks import sliding_window_view
from torch import nn

from course_utils.bridge import NumpyLayer, as_autograd
from course_utils.data import load_fashion_mnist

# ---------------------------------------------------------------------------------------
# NumPy fixtures


def affine_forward(x, w, b):
    out = x.reshape(x.shape[0], -1) @ w + b  # (N, M)
    return out, (x, w, b)


def affine_backward(dout, cache):
    x, w, b = cache
    dx = (dout @ w.T).reshape(x.shape)
    dw = x.reshape(x.shape[0], -1).T @ dout
    return dx, dw, dout.sum(axis=0)


def relu_forward(x):
    return np.maximum(0, x), x


def relu_backward(dout, cache):
    return dout * (cache > 0)


def conv_forward_loops(x, w, b, conv_param):
    S, P = conv_param["stride"], conv_param["pad"]
    N, C, H, W = x.shape
    F_, _, HH, WW = w.shape
    H_out, W_out = 1 + (H + 2 * P - HH) // S, 1 + (W + 2 * P - WW) // S
    x_pad = np.pad(x, ((0, 0), (0, 0), (P, P), (P, P)))
    out = np.zeros((N, F_, H_out, W_out))
    for n in range(N):
        for f in range(F_):
            for i in range(H_out):
                for j in range(W_out):
                    window = x_pad[n, :, i * S : i * S + HH, j * S : j * S + WW]
                    out[n, f, i, j] = np.sum(window * w[f]) + b[f]
    return out, (x, w, b, conv_param)


def conv_backward_loops(dout, cache):
    x, w, b, conv_param = cache
    S, P = conv_param["stride"], conv_param["pad"]
    _, _, HH, WW = w.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (P, P), (P, P)))
    dx_pad = np.zeros_like(x_pad)
    dw = np.zeros_like(w)
    N, F_, H_out, W_out = dout.shape
    for n in range(N):
        for f in range(F_):
            for i in range(H_out):
                for j in range(W_out):
                    window = (slice(i * S, i * S + HH), slice(j * S, j * S + WW))
                    dw[f] += dout[n, f, i, j] * x_pad[n, :, window[0], window[1]]
                    dx_pad[n, :, window[0], window[1]] += dout[n, f, i, j] * w[f]
    dx = dx_pad[:, :, P : P + x.shape[2], P : P + x.shape[3]]
    return dx, dw, dout.sum(axis=(0, 2, 3))


def conv_forward_strided(x, w, b, conv_param):
    S, P = conv_param["stride"], conv_param["pad"]
    _, _, HH, WW = w.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (P, P), (P, P)))
    windows = sliding_window_view(x_pad, (HH, WW), axis=(2, 3))[:, :, ::S, ::S]
    # windows: (N, C, H_out, W_out, HH, WW)
    out = np.einsum("nchwpq,fcpq->nfhw", windows, w, optimize=True) + b[None, :, None, None]
    return out, (x, w, b, conv_param)


def conv_backward_strided(dout, cache):
    x, w, b, conv_param = cache
    S, P = conv_param["stride"], conv_param["pad"]
    _, _, HH, WW = w.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (P, P), (P, P)))
    windows = sliding_window_view(x_pad, (HH, WW), axis=(2, 3))[:, :, ::S, ::S]
    dw = np.einsum("nchwpq,nfhw->fcpq", windows, dout, optimize=True)
    dx_pad = np.zeros_like(x_pad)
    H_out, W_out = dout.shape[2], dout.shape[3]
    for p in range(HH):
        for q in range(WW):
            # Every output position (i, j) read x_pad[:, :, i*S + p, j*S + q] with w[:, :, p, q].
            dx_pad[:, :, p : p + S * H_out : S, q : q + S * W_out : S] += np.einsum(
                "nfhw,fc->nchw", dout, w[:, :, p, q]
            )
    dx = dx_pad[:, :, P : P + x.shape[2], P : P + x.shape[3]]
    return dx, dw, dout.sum(axis=(0, 2, 3))


def max_pool_forward_loops(x, pool_param):
    PH, PW, S = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, H, W = x.shape
    H_out, W_out = 1 + (H - PH) // S, 1 + (W - PW) // S
    out = np.zeros((N, C, H_out, W_out))
    for i in range(H_out):
        for j in range(W_out):
            out[:, :, i, j] = x[:, :, i * S : i * S + PH, j * S : j * S + PW].max(axis=(2, 3))
    return out, (x, pool_param)


def max_pool_backward_loops(dout, cache):
    x, pool_param = cache
    PH, PW, S = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    dx = np.zeros_like(x)
    N, C, H_out, W_out = dout.shape
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    window = x[n, c, i * S : i * S + PH, j * S : j * S + PW]
                    p, q = np.unravel_index(np.argmax(window), window.shape)
                    dx[n, c, i * S + p, j * S + q] += dout[n, c, i, j]
    return dx


def max_pool_forward_2x2(x, pool_param):
    N, C, H, W = x.shape
    blocks = x.reshape(N, C, H // 2, 2, W // 2, 2)
    out = blocks.max(axis=(3, 5))  # (N, C, H/2, W/2)
    return out, (x, out)


def max_pool_backward_2x2(dout, cache):
    x, out = cache
    N, C, H, W = x.shape
    blocks = x.reshape(N, C, H // 2, 2, W // 2, 2)
    mask = blocks == out[:, :, :, None, :, None]  # ties are absent in trained float data
    dx = mask * dout[:, :, :, None, :, None]
    return dx.reshape(N, C, H, W)


def dropout_forward(x, dropout_param):
    p, mode = dropout_param["p"], dropout_param["mode"]
    if mode == "test":
        return x, None
    mask = (np.random.default_rng(dropout_param["seed"]).random(x.shape) >= p) / (1 - p)
    return x * mask, mask


def dropout_backward(dout, cache):
    return dout if cache is None else dout * cache


# ---------------------------------------------------------------------------------------
# Gradients against torch.autograd.gradcheck and the equivalent torch ops


def double(*shape, seed=0, requires_grad=True):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, dtype=torch.float64, generator=generator).requires_grad_(
        requires_grad
    )


def test_bridged_affine_passes_torch_gradcheck_and_matches_torch_linear_algebra():
    x, w, b = double(3, 2, 4, seed=0), double(8, 5, seed=1), double(5, seed=2)
    affine = as_autograd(affine_forward, affine_backward)
    assert torch.autograd.gradcheck(affine, (x, w, b))
    torch.testing.assert_close(affine(x, w, b), x.reshape(3, -1) @ w + b)


def test_bridged_relu_with_a_single_gradient_backward_passes_gradcheck():
    x = double(4, 5)
    with torch.no_grad():
        x[x.abs() < 0.05] = 0.5  # away from the kink, where finite differences straddle it
    relu = as_autograd(relu_forward, relu_backward)
    assert torch.autograd.gradcheck(relu, (x,))
    torch.testing.assert_close(relu(x), F.relu(x))


@pytest.mark.parametrize(
    "forward, backward",
    [(conv_forward_loops, conv_backward_loops), (conv_forward_strided, conv_backward_strided)],
)
@pytest.mark.parametrize("stride, pad", [(1, 1), (2, 1), (1, 0)])
def test_bridged_conv_matches_f_conv2d_and_passes_gradcheck(forward, backward, stride, pad):
    x, w, b = double(2, 3, 5, 5, seed=3), double(4, 3, 3, 3, seed=4), double(4, seed=5)
    conv = as_autograd(forward, backward, config={"stride": stride, "pad": pad})
    torch.testing.assert_close(conv(x, w, b), F.conv2d(x, w, b, stride=stride, padding=pad))
    assert torch.autograd.gradcheck(conv, (x, w, b))
    # Gradients against autograd through F.conv2d, for one upstream gradient.
    dout = double(*F.conv2d(x, w, b, stride=stride, padding=pad).shape, seed=6, requires_grad=False)
    ours = torch.autograd.grad(conv(x, w, b), (x, w, b), dout)
    theirs = torch.autograd.grad(F.conv2d(x, w, b, stride=stride, padding=pad), (x, w, b), dout)
    for a, t in zip(ours, theirs):
        torch.testing.assert_close(a, t)


def test_bridged_max_pool_matches_f_max_pool2d_and_passes_gradcheck():
    x = double(2, 3, 6, 6, seed=7)  # continuous random numbers: no ties
    pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
    pool = as_autograd(max_pool_forward_loops, max_pool_backward_loops, config=pool_param)
    torch.testing.assert_close(pool(x), F.max_pool2d(x, 2, 2))
    assert torch.autograd.gradcheck(pool, (x,))
    dout = double(2, 3, 3, 3, seed=8, requires_grad=False)
    (ours,) = torch.autograd.grad(pool(x), x, dout)
    (theirs,) = torch.autograd.grad(F.max_pool2d(x, 2, 2), x, dout)
    torch.testing.assert_close(ours, theirs)


def test_bridged_output_and_gradients_keep_the_input_dtype():
    x = torch.randn(2, 3, requires_grad=True)  # float32
    relu = as_autograd(relu_forward, relu_backward)
    out = relu(x)
    assert out.dtype == torch.float32
    out.sum().backward()
    assert x.grad.dtype == torch.float32
    torch.testing.assert_close(x.grad, (x > 0).float())


def test_the_bridge_hands_the_student_copies_that_may_be_changed_in_place():
    def relu_forward_in_place(x):
        np.maximum(x, 0, out=x)
        return x, x > 0

    def relu_backward_from_mask(dout, cache):
        return dout * cache

    x = torch.tensor([-1.0, 2.0], dtype=torch.float64)
    out = as_autograd(relu_forward_in_place, relu_backward_from_mask)(x)
    torch.testing.assert_close(out, torch.tensor([0.0, 2.0], dtype=torch.float64))
    torch.testing.assert_close(x, torch.tensor([-1.0, 2.0], dtype=torch.float64))


# ---------------------------------------------------------------------------------------
# NumpyLayer


def test_numpy_layer_registers_its_params_in_order_and_follows_train_and_eval():
    layer = NumpyLayer(
        conv_forward_strided,
        conv_backward_strided,
        params={"w": torch.randn(4, 1, 3, 3), "b": np.zeros(4)},
        config={"stride": 1, "pad": 1},
    )
    assert [name for name, _ in layer.named_parameters()] == ["w", "b"]
    assert layer.b.dtype == torch.float64  # a NumPy array keeps its dtype
    assert "conv_forward_strided" in repr(layer) and "w=(4, 1, 3, 3)" in repr(layer)

    dropout = NumpyLayer(
        dropout_forward, dropout_backward, config={"p": 0.5, "mode": "train", "seed": 0}
    )
    x = torch.ones(4, 10)
    dropped = dropout(x)
    assert set(dropped.unique().tolist()) <= {0.0, 2.0} and (dropped == 0).any()
    dropout.eval()
    torch.testing.assert_close(dropout(x), x)
    assert dropout.config["mode"] == "test"


def test_numpy_layer_moves_with_to_and_state_dict():
    layer = NumpyLayer(
        affine_forward, affine_backward, params={"w": torch.ones(3, 2), "b": torch.zeros(2)}
    )
    layer = layer.to(torch.float64)
    assert layer.w.dtype == torch.float64
    assert set(layer.state_dict()) == {"w", "b"}


@pytest.mark.slow
def test_a_model_of_bridged_numpy_layers_learns_fashion_mnist():
    images, labels = load_fashion_mnist("train")
    # The first 128 images of the shipped subset: every class, 9 to 17 of each.
    x = torch.from_numpy(images[:128])
    y = torch.from_numpy(labels[:128])
    generator = torch.Generator().manual_seed(0)
    model = nn.Sequential(
        NumpyLayer(
            conv_forward_strided,
            conv_backward_strided,
            params={
                "w": torch.randn(8, 1, 3, 3, generator=generator) * (2 / 9) ** 0.5,
                "b": torch.zeros(8),
            },
            config={"stride": 1, "pad": 1},
        ),
        NumpyLayer(relu_forward, relu_backward),
        NumpyLayer(
            max_pool_forward_2x2,
            max_pool_backward_2x2,
            config={"pool_height": 2, "pool_width": 2, "stride": 2},
        ),
        NumpyLayer(
            affine_forward,
            affine_backward,
            params={
                "w": torch.randn(8 * 14 * 14, 10, generator=generator) * (1 / 1568) ** 0.5,
                "b": torch.zeros(10),
            },
        ),
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(20):
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[0] > 1.9  # about ln(10) = 2.3 at the start
    assert losses[-1] < 0.5 * losses[0]
    accuracy = (model(x).argmax(1) == y).float().mean().item()
    assert accuracy > 0.7


# ---------------------------------------------------------------------------------------
# What a student sees when a function returns the wrong thing


def test_a_forward_that_returns_only_out_is_named_with_what_it_returned():
    def relu_forward_no_cache(x):
        return np.maximum(0, x)

    relu = as_autograd(relu_forward_no_cache, relu_backward)
    with pytest.raises(
        TypeError,
        match=r"relu_forward_no_cache must return a tuple \(out, cache\); it returned one "
        r"numpy.ndarray of shape \(2, 3\)",
    ):
        relu(torch.zeros(2, 3))


def test_a_forward_that_returns_a_tensor_is_told_to_use_numpy():
    def relu_forward_torch(x):
        return torch.relu(torch.from_numpy(x)), x

    with pytest.raises(TypeError, match="relu_forward_torch must return out as a NumPy array"):
        as_autograd(relu_forward_torch, relu_backward)(torch.zeros(2))


def test_a_backward_with_too_few_gradients_is_named_with_expected_and_got():
    def conv_backward_no_db(dout, cache):
        return conv_backward_loops(dout, cache)[:2]

    conv = as_autograd(conv_forward_loops, conv_backward_no_db, config={"stride": 1, "pad": 0})
    out = conv(double(1, 1, 3, 3), double(1, 1, 2, 2, seed=1), double(1, seed=2))
    with pytest.raises(
        ValueError,
        match=r"conv_backward_no_db returned 2 gradients, expected 3 \(dx, dw, db\)",
    ):
        out.sum().backward()


def test_a_backward_gradient_of_the_wrong_shape_is_named_with_both_shapes():
    def affine_backward_transposed_dw(dout, cache):
        dx, dw, db = affine_backward(dout, cache)
        return dx, dw.T, db

    affine = as_autograd(affine_forward, affine_backward_transposed_dw)
    out = affine(double(2, 3), double(3, 4, seed=1), double(4, seed=2))
    with pytest.raises(
        ValueError, match=r"dw of shape \(4, 3\), expected \(3, 4\), the shape of w"
    ):
        out.sum().backward()


def test_a_multi_gradient_backward_that_returns_one_array_is_refused():
    def affine_backward_only_dx(dout, cache):
        return affine_backward(dout, cache)[0]

    affine = as_autograd(affine_forward, affine_backward_only_dx)
    out = affine(double(2, 3), double(3, 4, seed=1), double(4, seed=2))
    with pytest.raises(TypeError, match=r"must return a tuple of 3 gradients \(dx, dw, db\)"):
        out.sum().backward()


def test_a_layer_whose_params_do_not_fit_the_forward_signature_is_refused_at_once():
    with pytest.raises(ValueError, match=r"conv_forward_loops takes \(x, w, b, conv_param\)"):
        NumpyLayer(
            conv_forward_loops,
            conv_backward_loops,
            params={"w": torch.zeros(1, 1, 3, 3)},
            config={"stride": 1, "pad": 1},
        )


@pytest.mark.cuda
def test_a_bridged_layer_in_a_cuda_model_returns_cuda_tensors_and_gradients():
    layer = NumpyLayer(
        affine_forward, affine_backward, params={"w": torch.randn(6, 4), "b": torch.zeros(4)}
    ).to("cuda")
    x = torch.randn(3, 2, 3, device="cuda", requires_grad=True)
    out = layer(x)
    assert out.device.type == "cuda" and out.dtype == torch.float32
    out.sum().backward()
    assert x.grad.device.type == "cuda" and layer.w.grad.device.type == "cuda"
    torch.testing.assert_close(out, x.reshape(3, -1) @ layer.w + layer.b)
