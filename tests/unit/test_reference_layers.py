"""course_utils.reference.layers against independent PyTorch formulations and lecture vectors.

Forward values are compared with loop-based or torch.nn.functional formulations; backward
twins (fed only their own forward's cache) with torch.autograd.grad through those
formulations, in float64.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from course_utils.reference import layers as ref
from tests import lecture_vectors as lv
from tests.memory_layouts import other_layouts

DOUBLE = torch.float64
TOL = {"rtol": 1e-10, "atol": 1e-10}

# (N, C, F, HH, WW, S, P, H_out, W_out); H = (H_out - 1) * S + HH - 2P so the sizes fit.
CONV_CASES = [
    (1, 1, 1, 3, 3, 1, 0, 3, 3),
    (2, 3, 4, 3, 5, 2, 1, 4, 3),
    (1, 2, 3, 2, 3, 3, 2, 3, 2),
    (3, 1, 2, 1, 1, 1, 0, 5, 4),
    (2, 4, 5, 5, 3, 2, 2, 3, 4),
    (1, 3, 2, 4, 2, 3, 1, 2, 3),
]
# (N, C, HH, WW, S, H_out, W_out); H = (H_out - 1) * S + HH.
POOL_CASES = [
    (1, 1, 2, 2, 2, 3, 3),
    (2, 3, 3, 3, 1, 4, 5),
    (1, 2, 2, 3, 3, 2, 2),
    (2, 1, 3, 2, 2, 3, 2),
    (2, 3, 5, 4, 1, 1, 1),  # global pooling of a 5x4 input
    (2, 3, 3, 3, 3, 2, 2),  # windows that tile the input
    (1, 2, 1, 1, 1, 3, 2),
]


def _t(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(array, dtype=np.float64))


def _randn(*shape, seed=0, dtype=DOUBLE):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=generator, dtype=dtype)


def _conv_case(case, seed=0):
    n, c, f, hh, ww, s, p, h_out, w_out = case
    h, w = (h_out - 1) * s + hh - 2 * p, (w_out - 1) * s + ww - 2 * p
    x = _randn(n, c, h, w, seed=seed)
    weight = _randn(f, c, hh, ww, seed=seed + 1)
    b = _randn(f, seed=seed + 2)
    return x, weight, b, {"stride": s, "pad": p}, (n, f, h_out, w_out)


def _pool_case(case, seed=0):
    n, c, hh, ww, s, h_out, w_out = case
    x = _randn(n, c, (h_out - 1) * s + hh, (w_out - 1) * s + ww, seed=seed)
    return x, {"pool_height": hh, "pool_width": ww, "stride": s}, (n, c, h_out, w_out)


def _conv_loops(x, w, b, conv_param):
    """out[n, f, i, j] = b[f] + sum_{c,p,q} w[f, c, p, q] * x_pad[n, c, i*S + p, j*S + q]."""
    s, p = conv_param["stride"], conv_param["pad"]
    x_pad = F.pad(x, (p, p, p, p))
    hh, ww = w.shape[2:]
    h_out = (x_pad.shape[2] - hh) // s + 1
    w_out = (x_pad.shape[3] - ww) // s + 1
    rows = []
    for i in range(h_out):
        row = []
        for j in range(w_out):
            window = x_pad[:, :, i * s : i * s + hh, j * s : j * s + ww]
            row.append(torch.einsum("nchw,fchw->nf", window, w) + b)
        rows.append(torch.stack(row, dim=-1))
    return torch.stack(rows, dim=-2)


def _pool_loops(x, pool_param, reduce):
    hh, ww, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    h_out, w_out = (x.shape[2] - hh) // s + 1, (x.shape[3] - ww) // s + 1
    rows = []
    for i in range(h_out):
        row = []
        for j in range(w_out):
            window = x[:, :, i * s : i * s + hh, j * s : j * s + ww].reshape(*x.shape[:2], -1)
            row.append(reduce(window))
        rows.append(torch.stack(row, dim=-1))
    return torch.stack(rows, dim=-2)


def _max_pool_first_max_loops(x: np.ndarray, dout: np.ndarray, hh: int, ww: int, s: int):
    """dx with each window's gradient sent to np.argmax's choice: the first maximum."""
    dx = np.zeros_like(x)
    for n in range(x.shape[0]):
        for c in range(x.shape[1]):
            for i in range(dout.shape[2]):
                for j in range(dout.shape[3]):
                    window = x[n, c, i * s : i * s + hh, j * s : j * s + ww]
                    p, q = np.unravel_index(np.argmax(window), window.shape)
                    dx[n, c, i * s + p, j * s + q] += dout[n, c, i, j]
    return dx


def _grads(output, inputs, dout):
    return torch.autograd.grad(output, inputs, grad_outputs=dout)


# --- affine and ReLU ----------------------------------------------------------------------------


@pytest.mark.parametrize("x_shape, m", [((1, 5), 3), ((4, 2, 3), 7), ((3, 2, 3, 2), 1)])
def test_affine_matches_linear_and_its_autograd_gradients(x_shape, m):
    d = int(np.prod(x_shape[1:]))
    x, w, b = _randn(*x_shape), _randn(d, m, seed=1), _randn(m, seed=2)
    out, cache = ref.affine_forward(x, w, b)
    x_, w_, b_ = (t.clone().requires_grad_() for t in (x, w, b))
    expected = F.linear(x_.flatten(1), w_.T, b_)
    torch.testing.assert_close(out, expected.detach(), **TOL)
    dout = _randn(*out.shape, seed=3)
    for got, want in zip(ref.affine_backward(dout, cache), _grads(expected, (x_, w_, b_), dout)):
        assert got.shape == want.shape
        torch.testing.assert_close(got, want, **TOL)


def test_affine_forward_refuses_mismatched_shapes_and_names_them():
    with pytest.raises(ValueError, match=r"D = 6"):
        ref.affine_forward(_randn(2, 2, 3), _randn(5, 4), _randn(4))


def test_relu_matches_torch_relu_and_its_gradient():
    x = _randn(3, 4, 5)
    x[0, 0, :2] = 0.0  # the derivative at 0 is 0, as torch.relu's
    out, cache = ref.relu_forward(x)
    x_ = x.clone().requires_grad_()
    expected = torch.relu(x_)
    torch.testing.assert_close(out, expected.detach(), **TOL)
    dout = _randn(3, 4, 5, seed=1)
    (want,) = _grads(expected, (x_,), dout)
    torch.testing.assert_close(ref.relu_backward(dout, cache), want, **TOL)


# --- convolution --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "forward, backward",
    [
        (ref.conv_forward_naive, ref.conv_backward_naive),
        (ref.conv_forward_fast, ref.conv_backward_fast),
    ],
)
@pytest.mark.parametrize("case", CONV_CASES)
def test_conv_matches_loops_forward_and_backward(forward, backward, case):
    x, w, b, conv_param, out_shape = _conv_case(case)
    out, cache = forward(x, w, b, conv_param)
    assert tuple(out.shape) == out_shape
    x_, w_, b_ = (t.clone().requires_grad_() for t in (x, w, b))
    expected = _conv_loops(x_, w_, b_, conv_param)
    torch.testing.assert_close(out, expected.detach(), **TOL)
    dout = _randn(*out_shape, seed=7)
    for got, want in zip(backward(dout, cache), _grads(expected, (x_, w_, b_), dout)):
        assert got.shape == want.shape
        torch.testing.assert_close(got, want, **TOL)


@pytest.mark.parametrize("name", ["B", "C"])
def test_conv_forward_reproduces_lecture_vectors_b_and_c(name):
    vec = getattr(lv, f"CONV_VECTOR_{name}")
    out, _ = ref.conv_forward_naive(_t(vec["x"]), _t(vec["w"]), _t(vec["b"]), vec["conv_param"])
    assert torch.equal(out, _t(vec["out"]))


def test_conv_forward_reproduces_lecture_vector_a_and_its_channel_sums():
    vec = lv.CONV_VECTOR_A
    x, w, b = _t(vec["x"]), _t(vec["w"]), _t(vec["b"])
    out, _ = ref.conv_forward_naive(x, w, b, vec["conv_param"])
    assert tuple(out.shape) == vec["out_shape"]
    assert out[vec["out_index"]].item() == vec["out_value"] == -25.0
    for c, expected in enumerate(vec["channel_sums"]):
        part, _ = ref.conv_forward_naive(
            x[:, c : c + 1], w[:, c : c + 1], torch.zeros(1, dtype=DOUBLE), vec["conv_param"]
        )
        assert part[0, 0, 0, 0].item() == expected


def test_conv_backward_sums_a_shared_weight_over_every_position():
    # With dout all ones and one filter, dw[0, c, p, q] is the sum of the inputs it touched.
    x = _randn(1, 2, 4, 5)
    w, b = _randn(1, 2, 2, 2, seed=1), torch.zeros(1, dtype=DOUBLE)
    out, cache = ref.conv_forward_naive(x, w, b, {"stride": 1, "pad": 0})
    _, dw, db = ref.conv_backward_naive(torch.ones_like(out), cache)
    for p in range(2):
        for q in range(2):
            torch.testing.assert_close(
                dw[0, :, p, q], x[0, :, p : p + 3, q : q + 4].sum(dim=(1, 2))
            )
    assert db.item() == out.numel()


def test_conv_forward_refuses_the_4x4_input_with_f3_s2():
    x = _t(lv.STRIDE_INPUT_4X4)[None, None]  # (1, 1, 4, 4)
    f, s, shown = lv.STRIDE_MISFIT
    with pytest.raises(ValueError, match=shown.replace(".", r"\.")):
        ref.conv_forward_fast(x, _randn(1, 1, f, f), _randn(1), {"stride": s, "pad": 0})


def test_stride_examples_on_the_4x4_input_give_the_lecture_sizes():
    x = _t(lv.STRIDE_INPUT_4X4)[None, None]  # (1, 1, 4, 4)
    for f, s, size in lv.STRIDE_EXAMPLES:
        out, _ = ref.conv_forward_naive(x, _randn(1, 1, f, f), _randn(1), {"stride": s, "pad": 0})
        assert tuple(out.shape) == (1, 1, size, size)
        pooled, _ = ref.max_pool_forward_naive(x, {"pool_height": f, "pool_width": f, "stride": s})
        assert tuple(pooled.shape) == (1, 1, size, size)


def test_conv_forward_refuses_sizes_that_conv2d_would_floor():
    x, w, b = _randn(1, 1, 10, 10), _randn(1, 1, 3, 3), _randn(1)
    with pytest.raises(ValueError, match=r"4\.5 is not an integer"):
        ref.conv_forward_naive(x, w, b, {"stride": 2, "pad": 0})


def test_conv_forward_refuses_channel_mismatch_and_a_missing_key():
    with pytest.raises(ValueError, match="matching C"):
        ref.conv_forward_naive(
            _randn(1, 2, 5, 5), _randn(1, 3, 3, 3), _randn(1), {"stride": 1, "pad": 0}
        )
    with pytest.raises(ValueError, match="pad"):
        ref.conv_forward_naive(_randn(1, 3, 5, 5), _randn(1, 3, 3, 3), _randn(1), {"stride": 1})


# --- pooling ------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", POOL_CASES)
def test_max_pool_matches_loops_forward_and_backward(case):
    x, pool_param, out_shape = _pool_case(case)  # random normals: no ties
    out, cache = ref.max_pool_forward_naive(x, pool_param)
    assert tuple(out.shape) == out_shape
    x_ = x.clone().requires_grad_()
    expected = _pool_loops(x_, pool_param, lambda window: window.max(dim=-1).values)
    torch.testing.assert_close(out, expected.detach(), **TOL)
    dout = _randn(*out_shape, seed=5)
    (want,) = _grads(expected, (x_,), dout)
    torch.testing.assert_close(ref.max_pool_backward_naive(dout, cache), want, **TOL)


@pytest.mark.parametrize("case", POOL_CASES)
def test_max_pool_agrees_with_f_max_pool2d_on_the_cpu(case):
    x, pool_param, _ = _pool_case(case, seed=11)
    kernel = (pool_param["pool_height"], pool_param["pool_width"])
    out, _ = ref.max_pool_forward_naive(x, pool_param)
    torch.testing.assert_close(out, F.max_pool2d(x, kernel, stride=pool_param["stride"]), **TOL)


def test_max_pool_reproduces_the_lecture_example():
    vec = lv.MAX_POOL_VECTOR
    out, _ = ref.max_pool_forward_naive(_t(vec["x"]), vec["pool_param"])
    assert torch.equal(out, _t(vec["out"]))


def test_max_pool_backward_sends_a_tied_window_gradient_to_the_first_maximum():
    # The lecture example is full of ties (several 3s per window) and windows overlap.
    vec = lv.MAX_POOL_VECTOR
    x = _t(vec["x"])
    out, cache = ref.max_pool_forward_naive(x, vec["pool_param"])
    dout = _randn(*out.shape, seed=3)
    p = vec["pool_param"]
    expected = _max_pool_first_max_loops(
        x.numpy(), dout.numpy(), p["pool_height"], p["pool_width"], p["stride"]
    )
    torch.testing.assert_close(ref.max_pool_backward_naive(dout, cache), _t(expected), **TOL)


def test_max_pool_backward_on_ties_matches_pytorch_on_the_cpu():
    x = torch.tensor([[[[1.0, 1.0, 0.0, 2.0], [1.0, 1.0, 2.0, 2.0]]]], dtype=DOUBLE)  # (1, 1, 2, 4)
    pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
    out, cache = ref.max_pool_forward_naive(x, pool_param)
    x_ = x.clone().requires_grad_()
    (want,) = torch.autograd.grad(F.max_pool2d(x_, 2, 2).sum(), x_)
    got = ref.max_pool_backward_naive(torch.ones_like(out), cache)
    assert got.tolist() == [[[[1.0, 0.0, 0.0, 1.0], [0.0, 0.0, 0.0, 0.0]]]]
    torch.testing.assert_close(got, want)


def test_max_pool_forward_autograd_also_follows_the_first_maximum_rule():
    x = torch.zeros(1, 1, 2, 2, dtype=DOUBLE, requires_grad=True)
    out, _ = ref.max_pool_forward_naive(x, {"pool_height": 2, "pool_width": 2, "stride": 2})
    (grad,) = torch.autograd.grad(out.sum(), x)
    assert grad.tolist() == [[[[1.0, 0.0], [0.0, 0.0]]]]


@pytest.mark.parametrize("case", POOL_CASES)
def test_avg_pool_matches_loops_forward_and_backward(case):
    x, pool_param, out_shape = _pool_case(case, seed=4)
    out, cache = ref.avg_pool_forward(x, pool_param)
    assert tuple(out.shape) == out_shape
    x_ = x.clone().requires_grad_()
    expected = _pool_loops(x_, pool_param, lambda window: window.mean(dim=-1))
    torch.testing.assert_close(out, expected.detach(), **TOL)
    dout = _randn(*out_shape, seed=6)
    (want,) = _grads(expected, (x_,), dout)
    torch.testing.assert_close(ref.avg_pool_backward(dout, cache), want, **TOL)


@pytest.mark.parametrize("forward", [ref.max_pool_forward_naive, ref.avg_pool_forward])
def test_pooling_refuses_a_window_that_does_not_fit(forward):
    x = _t(lv.STRIDE_INPUT_4X4)[None, None]
    with pytest.raises(ValueError, match=r"1\.5 is not an integer"):
        forward(x, {"pool_height": 3, "pool_width": 3, "stride": 2})
    with pytest.raises(ValueError, match="pool_width"):
        forward(x, {"pool_height": 2, "stride": 2})


# --- dropout ------------------------------------------------------------------------------------


def test_dropout_with_the_same_seed_gives_the_same_mask():
    x = _randn(4, 50)
    first, _ = ref.dropout_forward(x, {"p": 0.3, "mode": "train", "seed": 7})
    again, _ = ref.dropout_forward(x, {"p": 0.3, "mode": "train", "seed": 7})
    other, _ = ref.dropout_forward(x, {"p": 0.3, "mode": "train", "seed": 8})
    assert torch.equal(first, again)
    assert not torch.equal(first, other)


def test_dropout_does_not_touch_the_global_generator():
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    ref.dropout_forward(_randn(10), {"p": 0.5, "mode": "train", "seed": 1})
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_drops_a_fraction_near_p_and_scales_the_rest(p):
    x = torch.ones(200_000, dtype=DOUBLE)
    out, _ = ref.dropout_forward(x, {"p": p, "mode": "train", "seed": 0})
    dropped = (out == 0).double().mean().item()
    assert abs(dropped - p) < 0.01
    kept = out[out != 0]
    torch.testing.assert_close(kept, torch.full_like(kept, 1 / (1 - p)))
    # Inverted dropout keeps the expectation: E[out] = x.
    assert abs(out.mean().item() - 1.0) < 0.02


def test_dropout_is_the_identity_at_test_time():
    x = _randn(3, 4)
    out, cache = ref.dropout_forward(x, {"p": 0.9, "mode": "test", "seed": 0})
    assert torch.equal(out, x)
    dout = _randn(3, 4, seed=1)
    assert torch.equal(ref.dropout_backward(dout, cache), dout)


def test_dropout_with_p_zero_keeps_everything_in_training():
    x = _randn(5, 6)
    out, _ = ref.dropout_forward(x, {"p": 0.0, "mode": "train", "seed": 3})
    assert torch.equal(out, x)


def test_dropout_backward_matches_autograd_through_the_same_mask():
    x = _randn(6, 7)
    dropout_param = {"p": 0.4, "mode": "train", "seed": 2}
    _, cache = ref.dropout_forward(x, dropout_param)
    x_ = x.clone().requires_grad_()
    out, _ = ref.dropout_forward(x_, dropout_param)
    dout = _randn(6, 7, seed=9)
    (want,) = _grads(out, (x_,), dout)
    torch.testing.assert_close(ref.dropout_backward(dout, cache), want, **TOL)
    assert torch.equal(want == 0, out.detach() == 0)


def test_dropout_refuses_p_of_one_with_the_house_message():
    message = (
        'dropout_param["p"] is the probability of dropping a unit; it must be in [0, 1), got 1.0.'
    )
    with pytest.raises(ValueError) as info:
        ref.dropout_forward(_randn(3), {"p": 1.0, "mode": "train"})
    assert str(info.value) == message


@pytest.mark.parametrize("p", [-0.1, 1.5, "0.5", None])
def test_dropout_refuses_p_outside_zero_one(p):
    with pytest.raises(ValueError, match="probability of dropping"):
        ref.dropout_forward(_randn(3), {"p": p, "mode": "train"})


def test_dropout_refuses_an_unknown_mode_with_the_house_message():
    with pytest.raises(ValueError) as info:
        ref.dropout_forward(_randn(3), {"p": 0.5, "mode": "eval"})
    assert str(info.value) == 'dropout_param["mode"] must be "train" or "test", got "eval".'


# --- losses -------------------------------------------------------------------------------------


def _labels(n, c, seed=0):
    return torch.randint(0, c, (n,), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("n, c", [(1, 2), (5, 3), (16, 10)])
def test_softmax_loss_matches_cross_entropy_and_its_gradient(n, c):
    scores, y = _randn(n, c), _labels(n, c)
    loss, dscores = ref.softmax_loss(scores, y)
    scores_ = scores.clone().requires_grad_()
    expected = F.cross_entropy(scores_, y)
    torch.testing.assert_close(loss, expected.detach(), **TOL)
    (want,) = torch.autograd.grad(expected, scores_)
    torch.testing.assert_close(dscores, want, **TOL)


@pytest.mark.parametrize("n, c", [(1, 2), (5, 3), (16, 10)])
def test_svm_loss_is_c_times_multi_margin_loss_with_the_same_gradient(n, c):
    scores, y = _randn(n, c, seed=1), _labels(n, c, seed=1)
    loss, dscores = ref.svm_loss(scores, y)
    scores_ = scores.clone().requires_grad_()
    expected = c * F.multi_margin_loss(scores_, y, margin=1.0)
    torch.testing.assert_close(loss, expected.detach(), **TOL)
    (want,) = torch.autograd.grad(expected, scores_)
    torch.testing.assert_close(dscores, want, **TOL)


def test_svm_loss_excludes_the_correct_class_from_the_hinge():
    # All scores equal: each wrong class has margin 1, the correct class none.
    loss, _ = ref.svm_loss(torch.zeros(2, 4, dtype=DOUBLE), torch.tensor([0, 3]))
    assert loss.item() == 3.0


@pytest.mark.parametrize("shape", [(1,), (7,), (4, 3)])
def test_bce_loss_matches_bce_with_logits_and_its_gradient(shape):
    logits = 3 * _randn(*shape, seed=2)
    y = (_randn(*shape, seed=3) > 0).to(DOUBLE)
    loss, dlogits = ref.bce_loss(logits, y)
    logits_ = logits.clone().requires_grad_()
    expected = F.binary_cross_entropy_with_logits(logits_, y)
    torch.testing.assert_close(loss, expected.detach(), **TOL)
    (want,) = torch.autograd.grad(expected, logits_)
    torch.testing.assert_close(dlogits, want, **TOL)


def test_bce_loss_refuses_targets_of_another_shape():
    with pytest.raises(ValueError, match="logits' shape"):
        ref.bce_loss(_randn(4, 2), torch.zeros(4, dtype=DOUBLE))


def test_naive_softmax_overflows_on_the_lecture_logits_in_float32():
    logits = torch.tensor(lv.SOFTMAX_STABILITY_LOGITS, dtype=torch.float32)
    naive = torch.exp(logits) / torch.exp(logits).sum()
    assert not torch.isfinite(naive).all()
    scaled = torch.tensor(lv.SOFTMAX_STABILITY_LOGITS * lv.SOFTMAX_OVERFLOW_SCALE, dtype=DOUBLE)
    assert not torch.isfinite(torch.exp(scaled) / torch.exp(scaled).sum()).all()


@pytest.mark.parametrize(
    "dtype, scale", [(torch.float32, 1.0), (DOUBLE, lv.SOFTMAX_OVERFLOW_SCALE)]
)
def test_softmax_loss_stays_finite_on_the_lecture_logits(dtype, scale):
    scores = torch.tensor(lv.SOFTMAX_STABILITY_LOGITS * scale, dtype=dtype)[None]  # (1, 3)
    for label in range(3):
        y = torch.tensor([label])
        loss, dscores = ref.softmax_loss(scores, y)
        assert loss.dtype == dtype and torch.isfinite(loss) and torch.isfinite(dscores).all()
        torch.testing.assert_close(loss, F.cross_entropy(scores, y))


@pytest.mark.parametrize("dtype", [torch.float32, DOUBLE])
def test_bce_loss_stays_finite_on_the_lecture_logits(dtype):
    logits = torch.tensor(lv.SOFTMAX_STABILITY_LOGITS, dtype=dtype)
    for target in (0.0, 1.0):
        y = torch.full_like(logits, target)
        loss, dlogits = ref.bce_loss(logits, y)
        assert torch.isfinite(loss) and torch.isfinite(dlogits).all()
        torch.testing.assert_close(loss, F.binary_cross_entropy_with_logits(logits, y))
    single = torch.tensor([lv.BCE_STABILITY_LOGIT], dtype=dtype)
    loss, _ = ref.bce_loss(single, torch.zeros_like(single))
    torch.testing.assert_close(loss, torch.tensor(lv.BCE_STABILITY_LOGIT, dtype=dtype))


def test_losses_refuse_labels_out_of_range():
    with pytest.raises(ValueError, match=r"\[0, 2\]"):
        ref.softmax_loss(_randn(2, 3), torch.tensor([0, 3]))
    with pytest.raises(ValueError, match="integer class labels"):
        ref.svm_loss(_randn(2, 3), torch.tensor([0.0, 1.0]))


# --- numerical gradient -------------------------------------------------------------------------


def test_numerical_gradient_matches_the_analytic_one_and_restores_x():
    x = _randn(3, 4)
    original = x.clone()
    df = _randn(3, 4, seed=1)
    grad = ref.eval_numerical_gradient_array(lambda t: t**3, x, df)
    assert torch.equal(x, original)
    torch.testing.assert_close(grad, 3 * original**2 * df, rtol=1e-7, atol=1e-8)


def test_numerical_gradient_is_centred():
    # For f(x) = x^2, centred differences are exact; one-sided ones are off by h.
    x = torch.tensor([1.0, -2.0], dtype=DOUBLE)
    grad = ref.eval_numerical_gradient_array(lambda t: t**2, x, torch.ones(2, dtype=DOUBLE), h=1e-3)
    torch.testing.assert_close(grad, 2 * x, rtol=0, atol=1e-9)


def test_numerical_gradient_perturbs_x_in_place():
    seen = []
    x = torch.zeros(2, dtype=DOUBLE)
    ref.eval_numerical_gradient_array(
        lambda t: seen.append(t) or t.clone(), x, torch.ones(2, dtype=DOUBLE)
    )
    assert all(t is x for t in seen)


def test_numerical_gradient_of_numpy_arrays_is_a_numpy_array():
    x = np.array([[1.0, 2.0], [3.0, -1.0]])
    grad = ref.eval_numerical_gradient_array(np.sin, x, np.ones_like(x))
    assert isinstance(grad, np.ndarray)
    np.testing.assert_allclose(grad, np.cos(x), rtol=1e-8)


def test_numerical_gradient_agrees_with_conv_backward():
    x, w, b, conv_param, out_shape = _conv_case(CONV_CASES[1])
    out, cache = ref.conv_forward_naive(x, w, b, conv_param)
    dout = _randn(*out_shape, seed=4)
    dx, dw, db = ref.conv_backward_naive(dout, cache)
    forward = lambda: ref.conv_forward_naive(x, w, b, conv_param)[0]  # noqa: E731
    for tensor, analytic in ((x, dx), (w, dw), (b, db)):
        numeric = ref.eval_numerical_gradient_array(lambda _: forward(), tensor, dout)
        torch.testing.assert_close(numeric, analytic, rtol=1e-6, atol=1e-8)


# --- dtypes and devices -------------------------------------------------------------------------


def _run_every_twin(dtype, device):
    """Every layer twin on one small input; returns {name: output tensor}."""
    options = {"dtype": dtype, "device": device}
    x = _randn(2, 3, 7, 7).to(**options)
    w, b = _randn(4, 3, 3, 3, seed=1).to(**options), _randn(4, seed=2).to(**options)
    results = {}
    out, cache = ref.affine_forward(x, _randn(147, 5, seed=3).to(**options), b.repeat(2)[:5])
    results["affine_forward"] = out
    results["affine_backward.dx"] = ref.affine_backward(torch.ones_like(out), cache)[0]
    out, cache = ref.relu_forward(x)
    results["relu_forward"] = out
    results["relu_backward"] = ref.relu_backward(x, cache)
    out, cache = ref.conv_forward_fast(x, w, b, {"stride": 2, "pad": 1})
    results["conv_forward_fast"] = out
    for name, grad in zip(("dx", "dw", "db"), ref.conv_backward_fast(out, cache)):
        results[f"conv_backward_fast.{name}"] = grad
    tied = torch.round(x * 2)  # many ties
    pool_param = {"pool_height": 3, "pool_width": 2, "stride": 1}
    out, cache = ref.max_pool_forward_naive(tied, pool_param)
    results["max_pool_forward_naive"] = out
    results["max_pool_backward_naive"] = ref.max_pool_backward_naive(torch.ones_like(out), cache)
    out, cache = ref.avg_pool_forward(x, pool_param)
    results["avg_pool_forward"] = out
    results["avg_pool_backward"] = ref.avg_pool_backward(out, cache)
    scores, y = x.reshape(2, -1)[:, :10], torch.tensor([1, 7], device=device)
    for loss in (ref.softmax_loss, ref.svm_loss):
        value, grad = loss(scores, y)
        results[loss.__name__], results[f"{loss.__name__}.grad"] = value, grad
    value, grad = ref.bce_loss(scores, (scores > 0).to(dtype))
    results["bce_loss"], results["bce_loss.grad"] = value, grad
    out, cache = ref.dropout_forward(x, {"p": 0.5, "mode": "train", "seed": 0})
    results["dropout_forward"] = out
    results["dropout_backward"] = ref.dropout_backward(x, cache)
    return results


@pytest.mark.parametrize("dtype", [torch.float32, DOUBLE])
def test_every_twin_keeps_the_input_dtype(dtype):
    for name, tensor in _run_every_twin(dtype, "cpu").items():
        assert tensor.dtype == dtype, f"{name} returned {tensor.dtype} for {dtype} input"


@pytest.mark.cuda
def test_twins_on_cuda_match_the_cpu():
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    cpu = _run_every_twin(DOUBLE, "cpu")
    cuda = _run_every_twin(DOUBLE, "cuda")
    for name, tensor in cuda.items():
        assert tensor.device.type == "cuda", name
        if name.startswith("dropout"):
            continue  # CPU and CUDA generators draw different masks for one seed
        torch.testing.assert_close(tensor.cpu(), cpu[name], rtol=1e-10, atol=1e-10, msg=name)


@pytest.mark.cuda
def test_dropout_on_cuda_repeats_its_mask_for_a_seed_and_keeps_p():
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    x = torch.ones(100_000, device="cuda")
    first, _ = ref.dropout_forward(x, {"p": 0.25, "mode": "train", "seed": 5})
    again, _ = ref.dropout_forward(x, {"p": 0.25, "mode": "train", "seed": 5})
    assert torch.equal(first, again)
    assert abs((first == 0).float().mean().item() - 0.25) < 0.01


@pytest.mark.parametrize("case", POOL_CASES)
def test_the_any_device_max_pool_path_keeps_the_first_maximum_of_tied_windows(case):
    # The path that CUDA and MPS take, run here on the CPU: rounded inputs make many ties.
    x, pool_param, _ = _pool_case(case, seed=13)
    x = torch.round(x)
    hh, ww, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    h_out, w_out = (x.shape[2] - hh) // s + 1, (x.shape[3] - ww) // s + 1
    out, index = ref._first_max_by_offsets(x, hh, ww, s, h_out, w_out)
    torch.testing.assert_close(out, F.max_pool2d(x, (hh, ww), stride=s), **TOL)
    dout = _randn(*out.shape, seed=14)
    dx = ref.max_pool_backward_naive(dout, (x, pool_param, index))
    expected = _max_pool_first_max_loops(x.numpy(), dout.numpy(), hh, ww, s)
    torch.testing.assert_close(dx, _t(expected), **TOL)


@pytest.mark.parametrize("dtype", [torch.float32, DOUBLE], ids=str)
@pytest.mark.parametrize("layout", ["channels_last", "transposed", "every_other_column"])
@pytest.mark.parametrize("case", POOL_CASES)
def test_pool_twins_give_the_same_values_for_non_contiguous_tied_inputs(case, layout, dtype):
    x, pool_param, out_shape = _pool_case(case, seed=17)
    x = torch.round(x * 2).to(dtype)  # many ties
    dout = _randn(*out_shape, seed=18).to(dtype)
    x_other, dout_other = other_layouts(x)[layout], other_layouts(dout)[layout]
    hh, ww, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    first_max = _t(_max_pool_first_max_loops(x.double().numpy(), dout.double().numpy(), hh, ww, s))
    for forward, backward in (
        (ref.max_pool_forward_naive, ref.max_pool_backward_naive),
        (ref.avg_pool_forward, ref.avg_pool_backward),
    ):
        out, cache = forward(x, pool_param)
        dx = backward(dout, cache)
        out_other, cache_other = forward(x_other, pool_param)
        dx_other = backward(dout_other, cache_other)
        assert out_other.dtype == dx_other.dtype == dtype
        torch.testing.assert_close(out_other, out, rtol=0, atol=1e-6)
        torch.testing.assert_close(dx_other, dx, rtol=1e-6, atol=1e-6)
        if forward is ref.max_pool_forward_naive:
            torch.testing.assert_close(dx_other.double(), first_max, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("case", POOL_CASES)
def test_the_any_device_max_pool_path_handles_non_contiguous_float32_input(case):
    x, pool_param, _ = _pool_case(case, seed=19)
    x = torch.round(x * 2).to(torch.float32)
    hh, ww, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    h_out, w_out = (x.shape[2] - hh) // s + 1, (x.shape[3] - ww) // s + 1
    for other in other_layouts(x).values():
        out, index = ref._first_max_by_offsets(other, hh, ww, s, h_out, w_out)
        cpu_out, cpu_index = F.max_pool2d(x, (hh, ww), stride=s, return_indices=True)
        assert torch.equal(out, cpu_out)
        assert torch.equal(index, cpu_index)  # the CPU kernel keeps the first maximum too


@pytest.mark.parametrize("dtype", [torch.float32, DOUBLE], ids=str)
@pytest.mark.parametrize("case", CONV_CASES)
def test_conv_twins_give_the_same_values_for_non_contiguous_inputs(case, dtype):
    x, w, b, conv_param, out_shape = _conv_case(case, seed=21)
    x, w, b = x.to(dtype), w.to(dtype), b.to(dtype)
    dout = _randn(*out_shape, seed=22).to(dtype)
    out, cache = ref.conv_forward_fast(x, w, b, conv_param)
    grads = ref.conv_backward_fast(dout, cache)
    tol = {"rtol": 1e-5, "atol": 1e-5} if dtype == torch.float32 else TOL
    for layout, x_other in other_layouts(x).items():
        out_other, cache_other = ref.conv_forward_fast(x_other, w, b, conv_param)
        assert out_other.dtype == dtype, layout
        torch.testing.assert_close(out_other, out, **tol)
        dout_other = other_layouts(dout)[layout]
        for got, want in zip(ref.conv_backward_fast(dout_other, cache_other), grads):
            torch.testing.assert_close(got, want, **tol)
