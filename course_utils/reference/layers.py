"""Twins of notebook 02's functions: layers forward and backward, losses, numerical gradients.

Every twin takes tensors on any device (CPU, CUDA, MPS) in float32 or float64 and returns
tensors on the input's device and in its dtype. Forward functions return ``(out, cache)``;
a backward twin takes only the cache its own forward returned. Losses return the loss as a
0-dimensional tensor.

Conventions that differ from PyTorch's, stated once here and again in each docstring:
- Sizes must fit exactly: a conv or pooling whose ``(W - F + 2P) / S + 1`` is not an integer
  raises ``ValueError`` (PyTorch floors and drops the last rows and columns).
- ``affine_forward``'s ``w`` has shape (D, M) (``torch.nn.Linear`` stores (M, D)).
- Max-pool ties: the whole gradient of a window goes to its FIRST maximum in row-major order,
  on every device (PyTorch's CPU kernel does the same; its CUDA kernel does not promise it).
- Dropout's ``p`` is the probability of DROPPING a unit (as ``torch.nn.Dropout``), inverted:
  kept units are scaled by 1 / (1 - p) at training time, test time is the identity.
- ``svm_loss`` sums the hinge over the classes and averages over N only
  (``F.multi_margin_loss`` also divides by the number of classes C).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from course_utils.reference.arithmetic import conv_output_size

__all__ = [
    "affine_forward",
    "affine_backward",
    "relu_forward",
    "relu_backward",
    "conv_forward_naive",
    "conv_backward_naive",
    "conv_forward_fast",
    "conv_backward_fast",
    "max_pool_forward_naive",
    "max_pool_backward_naive",
    "avg_pool_forward",
    "avg_pool_backward",
    "dropout_forward",
    "dropout_backward",
    "softmax_loss",
    "svm_loss",
    "bce_loss",
    "eval_numerical_gradient_array",
]


def _show(value) -> str:
    """A value for an error message: strings in double quotes (as in the contract), else repr."""
    return f'"{value}"' if isinstance(value, str) else repr(value)


def _require_keys(name: str, params: dict, keys: tuple[str, ...]) -> None:
    if not isinstance(params, dict):
        raise ValueError(
            f"{name} must be a dict with keys {list(keys)}, got {type(params).__name__}."
        )
    missing = [key for key in keys if key not in params]
    if missing:
        raise ValueError(
            f"{name} is missing {missing}; it needs {list(keys)}, got {sorted(params)}."
        )


def _require_dim(name: str, tensor: torch.Tensor, dim: int, layout: str) -> None:
    if not isinstance(tensor, torch.Tensor):
        raise ValueError(
            f"{name} must be a torch.Tensor of shape {layout}, got {type(tensor).__name__}."
        )
    if tensor.dim() != dim:
        raise ValueError(f"{name} must have shape {layout}, got shape {tuple(tensor.shape)}.")


# --- affine -------------------------------------------------------------------------------------


def affine_forward(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor):
    """Twin of notebook 02's affine_forward: x (N, d_1, ..., d_k), w (D, M), b (M,) -> out, cache.

    out = x.reshape(N, D) @ w + b, with D = d_1 * ... * d_k; out has shape (N, M).
    cache = (x, w, b). torch.nn.Linear computes the same with its weight stored as (M, D) = w.T.
    """
    _require_dim("w", w, 2, "(D, M)")
    n = x.shape[0]
    x_flat = x.reshape(n, -1)  # (N, D)
    if x_flat.shape[1] != w.shape[0] or b.shape != (w.shape[1],):
        raise ValueError(
            f"affine_forward needs x (N, D), w (D, M), b (M,); got x {tuple(x.shape)} "
            f"(D = {x_flat.shape[1]}), w {tuple(w.shape)}, b {tuple(b.shape)}."
        )
    out = x_flat @ w + b  # (N, M)
    return out, (x, w, b)


def affine_backward(dout: torch.Tensor, cache):
    """Twin of notebook 02's affine_backward: dout (N, M), cache -> dx, dw, db.

    dx = dout @ w.T reshaped to x's shape (N, d_1, ..., d_k); dw = x.reshape(N, D).T @ dout,
    shape (D, M); db = dout summed over N, shape (M,).
    """
    x, w, _ = cache
    x_flat = x.reshape(x.shape[0], -1)  # (N, D)
    dx = (dout @ w.T).reshape(x.shape)  # (N, D) -> (N, d_1, ..., d_k)
    dw = x_flat.T @ dout  # (D, M)
    db = dout.sum(dim=0)  # (M,)
    return dx, dw, db


# --- ReLU ---------------------------------------------------------------------------------------


def relu_forward(x: torch.Tensor):
    """Twin of notebook 02's relu_forward: x of any shape -> out = max(x, 0), same shape; cache = x."""
    return torch.clamp(x, min=0), x


def relu_backward(dout: torch.Tensor, cache):
    """Twin of notebook 02's relu_backward: dout, cache -> dx = dout where x > 0, else 0.

    The derivative at exactly x = 0 is taken as 0, as torch.relu's.
    """
    x = cache
    return dout * (x > 0).to(dout.dtype)


# --- convolution --------------------------------------------------------------------------------


def _conv_shapes(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor, conv_param: dict):
    """Validate a conv layer's inputs; return (stride, pad, H_out, W_out)."""
    _require_dim("x", x, 4, "(N, C, H, W)")
    _require_dim("w", w, 4, "(F, C, HH, WW)")
    _require_keys("conv_param", conv_param, ("stride", "pad"))
    if x.shape[1] != w.shape[1] or tuple(b.shape) != (w.shape[0],):
        raise ValueError(
            f"conv layer needs x (N, C, H, W), w (F, C, HH, WW), b (F,) with matching C and F; "
            f"got x {tuple(x.shape)}, w {tuple(w.shape)}, b {tuple(b.shape)}."
        )
    stride, pad = conv_param["stride"], conv_param["pad"]
    h_out = conv_output_size(x.shape[2], w.shape[2], stride=stride, pad=pad)
    w_out = conv_output_size(x.shape[3], w.shape[3], stride=stride, pad=pad)
    return stride, pad, h_out, w_out


def _conv_forward(x, w, b, conv_param):
    stride, pad, _, _ = _conv_shapes(x, w, b, conv_param)
    out = F.conv2d(x, w, b, stride=stride, padding=pad)  # (N, F, H_out, W_out)
    return out, (x, w, b, conv_param)


def _conv_backward(dout, cache):
    x, w, _, conv_param = cache
    stride, pad = conv_param["stride"], conv_param["pad"]
    # The sizes fit exactly (checked in forward), so no output padding is ever needed.
    dx = torch.nn.grad.conv2d_input(x.shape, w, dout, stride=stride, padding=pad)  # (N, C, H, W)
    # A shared weight's gradient is the sum of its gradients at every output position.
    dw = torch.nn.grad.conv2d_weight(x, w.shape, dout, stride=stride, padding=pad)  # (F, C, HH, WW)
    db = dout.sum(dim=(0, 2, 3))  # (F,)
    return dx, dw, db


def conv_forward_naive(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor, conv_param: dict):
    """Twin of notebook 02's conv_forward_naive: x (N, C, H, W), w (F, C, HH, WW), b (F,).

    out[n, f, i, j] = b[f] + sum_{c,p,q} w[f, c, p, q] * x_pad[n, c, i*S + p, j*S + q]
    (cross-correlation, as F.conv2d), with conv_param = {"stride": S, "pad": P}, P zeros on
    each side of H and W.

    Returns:
        out: shape (N, F, H_out, W_out), H_out = 1 + (H + 2P - HH) / S, likewise W_out.
        cache: (x, w, b, conv_param).

    Raises:
        ValueError: when H_out or W_out is not an integer (F.conv2d floors instead), or when
            the shapes disagree.
    """
    return _conv_forward(x, w, b, conv_param)


def conv_backward_naive(dout: torch.Tensor, cache):
    """Twin of notebook 02's conv_backward_naive: dout (N, F, H_out, W_out), cache -> dx, dw, db.

    dx (N, C, H, W), dw (F, C, HH, WW) (summed over every position the filter visited),
    db (F,) (dout summed over N, H_out, W_out). Same values as autograd through F.conv2d.
    """
    return _conv_backward(dout, cache)


def conv_forward_fast(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor, conv_param: dict):
    """Twin of notebook 02's conv_forward_fast: the same function as conv_forward_naive.

    x (N, C, H, W), w (F, C, HH, WW), b (F,), conv_param {"stride", "pad"} ->
    out (N, F, H_out, W_out), cache (x, w, b, conv_param). Sizes that do not fit raise
    ValueError (F.conv2d floors).
    """
    return _conv_forward(x, w, b, conv_param)


def conv_backward_fast(dout: torch.Tensor, cache):
    """Twin of notebook 02's conv_backward_fast: the same function as conv_backward_naive.

    dout (N, F, H_out, W_out), cache from conv_forward_fast -> dx (N, C, H, W),
    dw (F, C, HH, WW), db (F,).
    """
    return _conv_backward(dout, cache)


# --- pooling ------------------------------------------------------------------------------------


def _pool_shapes(x: torch.Tensor, pool_param: dict):
    """Validate a pooling layer's inputs; return (HH, WW, stride, H_out, W_out)."""
    _require_dim("x", x, 4, "(N, C, H, W)")
    _require_keys("pool_param", pool_param, ("pool_height", "pool_width", "stride"))
    hh, ww, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    h_out = conv_output_size(x.shape[2], hh, stride=stride, pad=0)
    w_out = conv_output_size(x.shape[3], ww, stride=stride, pad=0)
    return hh, ww, stride, h_out, w_out


def _first_max_by_offsets(x: torch.Tensor, hh: int, ww: int, stride: int, h_out: int, w_out: int):
    """Window maxima and the plane index h * W + w of each window's FIRST maximum, any device.

    Visits the window offsets (p, q) in row-major order; a later offset wins only when it is
    STRICTLY larger, so a tie keeps the first maximum whatever the device's kernels do.
    """
    rows_end, cols_end = stride * (h_out - 1) + 1, stride * (w_out - 1) + 1
    out = x[:, :, 0:rows_end:stride, 0:cols_end:stride]  # offset (0, 0): (N, C, H_out, W_out)
    offset = torch.zeros(out.shape, dtype=torch.int64, device=x.device)  # p * WW + q
    for p in range(hh):
        for q in range(ww):
            if p == q == 0:
                continue
            candidate = x[:, :, p : p + rows_end : stride, q : q + cols_end : stride]
            better = candidate > out  # (N, C, H_out, W_out)
            out = torch.where(better, candidate, out)
            offset.masked_fill_(better, p * ww + q)
    rows = torch.arange(h_out, device=x.device).view(h_out, 1) * stride + offset // ww
    cols = torch.arange(w_out, device=x.device).view(1, w_out) * stride + offset % ww
    return out.clone(), rows * x.shape[3] + cols  # (N, C, H_out, W_out) each


def max_pool_forward_naive(x: torch.Tensor, pool_param: dict):
    """Twin of notebook 02's max_pool_forward_naive: x (N, C, H, W) -> out, cache.

    out[n, c, i, j] = max_{p < HH, q < WW} x[n, c, i*S + p, j*S + q], shape (N, C, H_out, W_out),
    H_out = 1 + (H - HH) / S, with pool_param = {"pool_height": HH, "pool_width": WW,
    "stride": S}; no padding. cache = (x, pool_param, index), index (N, C, H_out, W_out) the
    position h * W + w in x's (H, W) plane of each window's FIRST maximum in row-major order.
    Differentiable: autograd sends a window's gradient to that first maximum too.

    Differs from F.max_pool2d: sizes that do not fit raise ValueError instead of being floored,
    and the first-maximum tie rule holds on every device. On the CPU, F.max_pool2d's kernel
    already keeps the first maximum and is used; elsewhere the maximum is found here.
    """
    hh, ww, stride, h_out, w_out = _pool_shapes(x, pool_param)
    if x.device.type == "cpu":
        out, index = F.max_pool2d(x, (hh, ww), stride=stride, return_indices=True)
    else:
        out, index = _first_max_by_offsets(x, hh, ww, stride, h_out, w_out)
    return out, (x, pool_param, index)


def max_pool_backward_naive(dout: torch.Tensor, cache):
    """Twin of notebook 02's max_pool_backward_naive: dout (N, C, H_out, W_out) -> dx (N, C, H, W).

    Each window's whole upstream gradient goes to its first maximum in row-major order (ties
    included); where windows overlap (S < HH or S < WW), the contributions add up.
    """
    x, _, index = cache
    n, c, h, w = x.shape
    dx = torch.zeros(n, c, h * w, dtype=dout.dtype, device=dout.device)  # (N, C, H*W)
    dx.scatter_add_(2, index.reshape(n, c, -1), dout.reshape(n, c, -1))
    return dx.reshape(n, c, h, w)


def avg_pool_forward(x: torch.Tensor, pool_param: dict):
    """Twin of notebook 02's avg_pool_forward: x (N, C, H, W) -> out, cache.

    out[n, c, i, j] = mean_{p < HH, q < WW} x[n, c, i*S + p, j*S + q], shape
    (N, C, H_out, W_out), H_out = 1 + (H - HH) / S; pool_param as max_pool_forward_naive's.
    Global average pooling is HH = H, WW = W. cache = (x.shape, pool_param). Same values as
    F.avg_pool2d(x, (HH, WW), S), except that sizes that do not fit raise ValueError.
    """
    hh, ww, stride, _, _ = _pool_shapes(x, pool_param)
    out = F.avg_pool2d(x, (hh, ww), stride=stride)  # (N, C, H_out, W_out)
    return out, (tuple(x.shape), pool_param)


def avg_pool_backward(dout: torch.Tensor, cache):
    """Twin of notebook 02's avg_pool_backward: dout (N, C, H_out, W_out) -> dx (N, C, H, W).

    Every input of a window receives dout / (HH * WW); overlapping windows add up.
    """
    (n, c, h, w), pool_param = cache
    hh, ww, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    h_out, w_out = dout.shape[2], dout.shape[3]
    if stride == hh == ww:
        # Windows tile x exactly (the sizes fit): each share is copied over its own window.
        share = (dout / (hh * ww)).reshape(n, c, h_out, 1, w_out, 1)  # (N, C, H_out, 1, W_out, 1)
        return share.expand(n, c, h_out, hh, w_out, ww).reshape(n, c, h, w)  # (N, C, H, W)
    length = h_out * w_out
    share = (dout / (hh * ww)).reshape(n, c, 1, length)  # (N, C, 1, H_out*W_out)
    columns = share.expand(n, c, hh * ww, length).reshape(n, c * hh * ww, length)
    return F.fold(columns, output_size=(h, w), kernel_size=(hh, ww), stride=stride)  # (N, C, H, W)


# --- dropout ------------------------------------------------------------------------------------


def _dropout_settings(dropout_param: dict) -> tuple[float, str]:
    _require_keys("dropout_param", dropout_param, ("p", "mode"))
    p, mode = dropout_param["p"], dropout_param["mode"]
    if mode not in ("train", "test"):
        raise ValueError(f'dropout_param["mode"] must be "train" or "test", got {_show(mode)}.')
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p < 1:
        raise ValueError(
            'dropout_param["p"] is the probability of dropping a unit; it must be in [0, 1), '
            f"got {_show(p)}."
        )
    return float(p), mode


def dropout_forward(x: torch.Tensor, dropout_param: dict):
    """Twin of notebook 02's dropout_forward: x of any shape -> out (same shape), cache.

    dropout_param = {"p": probability of DROPPING a unit, in [0, 1); "mode": "train" or
    "test"; "seed": optional int}. Inverted dropout: at training time
    out = x * mask, mask = (u >= p) / (1 - p) with u uniform in [0, 1); at test time out = x.
    The same seed gives the same mask (a torch.Generator on x's device); without a seed, torch's
    default generator is used (and never reseeded). cache = (dropout_param, mask), mask None
    at test time. Same p as torch.nn.Dropout, but the masks differ from F.dropout's for a seed.
    """
    p, mode = _dropout_settings(dropout_param)
    if mode == "test":
        return x, (dropout_param, None)
    seed = dropout_param.get("seed")
    generator = None
    if seed is not None:
        generator = torch.Generator(device=x.device)
        generator.manual_seed(int(seed))
    u = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)  # x's shape
    mask = (u >= p).to(x.dtype) / (1 - p)
    return x * mask, (dropout_param, mask)


def dropout_backward(dout: torch.Tensor, cache):
    """Twin of notebook 02's dropout_backward: dout (x's shape) -> dx = dout * mask (train)
    or dout (test), with the mask (scaled by 1 / (1 - p)) that forward stored in the cache."""
    dropout_param, mask = cache
    _, mode = _dropout_settings(dropout_param)
    if mode == "test":
        return dout
    return dout * mask


# --- losses -------------------------------------------------------------------------------------


def _check_scores_labels(name: str, scores: torch.Tensor, y: torch.Tensor) -> None:
    _require_dim("scores", scores, 2, "(N, C)")
    if not isinstance(y, torch.Tensor) or y.shape != (scores.shape[0],):
        shape = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
        raise ValueError(
            f"{name} needs scores (N, C) and labels y (N,); got {tuple(scores.shape)} and {shape}."
        )
    if y.dtype.is_floating_point or y.dtype == torch.bool:
        raise ValueError(f"{name} needs integer class labels y, got dtype {y.dtype}.")
    if y.numel() and (int(y.min()) < 0 or int(y.max()) >= scores.shape[1]):
        raise ValueError(
            f"{name}: labels must be in [0, {scores.shape[1] - 1}] for C = {scores.shape[1]} "
            f"classes, got labels from {int(y.min())} to {int(y.max())}."
        )


def softmax_loss(scores: torch.Tensor, y: torch.Tensor):
    """Twin of notebook 02's softmax_loss: scores (N, C), integer labels y (N,) -> loss, dscores.

    loss = -(1/N) sum_n log softmax(scores[n])[y[n]], computed stably by subtracting each row's
    maximum (finite for any finite scores); dscores = (softmax(scores) - onehot(y)) / N, shape
    (N, C). loss is a 0-dimensional tensor; equals F.cross_entropy(scores, y).
    """
    _check_scores_labels("softmax_loss", scores, y)
    n = scores.shape[0]
    shifted = scores - scores.amax(dim=1, keepdim=True)  # (N, C), largest entry 0
    log_probs = shifted - torch.logsumexp(shifted, dim=1, keepdim=True)  # (N, C)
    rows = torch.arange(n, device=scores.device)
    loss = -log_probs[rows, y].mean()
    dscores = log_probs.exp()  # (N, C) softmax
    dscores[rows, y] -= 1
    return loss, dscores / n


def svm_loss(scores: torch.Tensor, y: torch.Tensor):
    """Twin of notebook 02's svm_loss: scores (N, C), integer labels y (N,) -> loss, dscores.

    Multiclass hinge with margin 1, the correct class excluded, averaged over N:
        loss = (1/N) sum_n sum_{j != y_n} max(0, scores[n, j] - scores[n, y_n] + 1).
    dscores (N, C): 1/N for each j with a positive margin, minus their count / N at y_n (a
    margin of exactly 0 contributes 0). F.multi_margin_loss(scores, y) equals loss / C: it
    also divides by the number of classes.
    """
    _check_scores_labels("svm_loss", scores, y)
    n = scores.shape[0]
    rows = torch.arange(n, device=scores.device)
    correct = scores[rows, y].unsqueeze(1)  # (N, 1)
    margins = torch.clamp(scores - correct + 1, min=0)  # (N, C)
    margins[rows, y] = 0
    loss = margins.sum() / n
    positive = (margins > 0).to(scores.dtype)  # (N, C)
    positive[rows, y] = -positive.sum(dim=1)
    return loss, positive / n


def bce_loss(logits: torch.Tensor, y: torch.Tensor):
    """Twin of notebook 02's bce_loss: logits (N,) or (N, K), 0/1 targets y of the same shape.

    loss = -mean[y log sigmoid(z) + (1 - y) log(1 - sigmoid(z))] over ALL elements, computed as
    mean[max(z, 0) - z * y + log(1 + exp(-|z|))], finite for any finite logits (as
    torch.nn.BCEWithLogitsLoss); dlogits = (sigmoid(z) - y) / (number of elements), logits'
    shape. loss is a 0-dimensional tensor.
    """
    if not isinstance(logits, torch.Tensor) or logits.dim() not in (1, 2):
        shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise ValueError(f"bce_loss needs logits of shape (N,) or (N, K), got {shape}.")
    if not isinstance(y, torch.Tensor) or y.shape != logits.shape:
        shape = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
        raise ValueError(
            f"bce_loss needs targets y of the logits' shape {tuple(logits.shape)}, got {shape}."
        )
    y = y.to(logits.dtype)
    loss = (torch.clamp(logits, min=0) - logits * y + torch.log1p(torch.exp(-logits.abs()))).mean()
    dlogits = (torch.sigmoid(logits) - y) / logits.numel()
    return loss, dlogits


# --- numerical gradient -------------------------------------------------------------------------


def eval_numerical_gradient_array(f: Callable, x, df, h: float = 1e-5):
    """Twin of notebook 02's eval_numerical_gradient_array: the gradient of sum(f(x) * df).

    Centred differences, one element at a time:
        grad[i] = sum((f(x + h e_i) - f(x - h e_i)) * df) / (2h).
    x is perturbed IN PLACE and each element is restored before the next, so f must read the
    array it is given. x and df are tensors (any device) or NumPy arrays; grad has x's shape,
    type, device and dtype. Runs under torch.no_grad().
    """
    is_tensor = isinstance(x, torch.Tensor)
    grad = torch.zeros_like(x) if is_tensor else np.zeros_like(x)

    def evaluate():
        value = f(x)
        return value.clone() if isinstance(value, torch.Tensor) else np.array(value, copy=True)

    with torch.no_grad():
        for index in np.ndindex(*x.shape):
            old = x[index].item() if is_tensor else x[index]
            x[index] = old + h
            positive = evaluate()
            x[index] = old - h
            negative = evaluate()
            x[index] = old
            grad[index] = ((positive - negative) * df).sum() / (2 * h)
    return grad
