"""Deliberately wrong notebook 02 models and training loops, one per common mistake, named for it.

Each is a complete NumPy implementation that is right except for its one mistake, so
``check_three_layer_convnet`` and ``check_train_epoch`` must fail it with the hint that names
the mistake. A model ``ThreeLayerConvNet_<mistake>`` goes with the hint id
``three_layer_convnet/<mistake>``; a loop ``train_epoch_<mistake>`` with ``train_epoch/<mistake>``.
The right versions they start from (``CORRECT``) are written here with their own layer
functions, independent of the notebook's solutions, and the checks must pass them too.

What a check needs so that each mistake shows (see also the notes on each one):
- the regularisation and bias mistakes show only with ``reg > 0`` and nonzero biases (a fresh
  model's biases are zero), so a check sets the parameters itself;
- the gradient-scale mistake shows only when N differs from num_classes;
- a forgotten config shows only with an update rule that keeps state in a NEW dict (or with
  ``configs`` missing entries): a rule that updates its config in place hides it;
- the last-batch mistakes show only when N is not a multiple of the batch size.
"""

from __future__ import annotations

import types

import numpy as np

# --- layers of their own (conv stride 1 with "same" padding, 2x2 max pool stride 2) --------------


def _conv_forward(x, w, b):
    """x (N, C, H, W), w (F, C, k, k) with k odd, b (F,) -> out (N, F, H, W), cache."""
    k = w.shape[2]
    p = (k - 1) // 2
    _, _, H, W = x.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    out = np.zeros((x.shape[0], w.shape[0], H, W), dtype=np.result_type(x, w))
    for i in range(k):
        for j in range(k):
            out += np.einsum("nchw,fc->nfhw", x_pad[:, :, i : i + H, j : j + W], w[:, :, i, j])
    return out + b[None, :, None, None], (x_pad, w, p)


def _conv_backward(dout, cache):
    x_pad, w, p = cache
    k = w.shape[2]
    _, _, H, W = dout.shape
    dx_pad = np.zeros_like(x_pad, dtype=dout.dtype)
    dw = np.zeros_like(w, dtype=dout.dtype)
    for i in range(k):
        for j in range(k):
            window = x_pad[:, :, i : i + H, j : j + W]  # (N, C, H, W)
            dw[:, :, i, j] = np.einsum("nfhw,nchw->fc", dout, window)
            dx_pad[:, :, i : i + H, j : j + W] += np.einsum("nfhw,fc->nchw", dout, w[:, :, i, j])
    dx = dx_pad[:, :, p : p + H, p : p + W]
    return dx, dw, dout.sum(axis=(0, 2, 3))


def _pool_forward(x):
    """2x2 max pooling, stride 2: x (N, C, H, W) -> (N, C, H/2, W/2); ties go to the first."""
    N, C, H, W = x.shape
    windows = x.reshape(N, C, H // 2, 2, W // 2, 2).transpose(0, 1, 2, 4, 3, 5)
    windows = windows.reshape(N, C, H // 2, W // 2, 4)  # row-major order inside each window
    first_max = windows.argmax(axis=-1)  # (N, C, H/2, W/2)
    out = np.take_along_axis(windows, first_max[..., None], axis=-1)[..., 0]
    return out, (x.shape, first_max)


def _pool_backward(dout, cache):
    (N, C, H, W), first_max = cache
    dwindows = np.zeros((N, C, H // 2, W // 2, 4), dtype=dout.dtype)
    np.put_along_axis(dwindows, first_max[..., None], dout[..., None], axis=-1)
    dx = dwindows.reshape(N, C, H // 2, W // 2, 2, 2).transpose(0, 1, 2, 4, 3, 5)
    return dx.reshape(N, C, H, W)


def _softmax(scores):
    shifted = scores - scores.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)


# --- the model, with a switch per mistake ---------------------------------------------------------

MODEL_MISTAKES = (
    "reg_missing_from_loss",  # loss has no 0.5 * reg * sum(W**2); the gradients have reg * W
    "reg_missing_from_gradients",  # the loss has the term; no reg * W in the weight gradients
    "reg_without_half",  # loss adds reg * sum(W**2) (0.5 dropped); gradients reg * W as they should
    "biases_regularised",  # b1, b2, b3 in the penalty and in its gradient too
    "pool_before_conv",  # max pool on the input, then conv - relu: same shapes, other numbers
    "flatten_channels_last",  # the pooled (N, F, H', W') flattened as (N, H', W', F)
    "scores_after_softmax",  # loss(X) returns probabilities instead of scores
    "grads_averaged_over_classes",  # dscores divided by num_classes instead of N; loss right
    "summed_over_batch",  # the data loss summed over the batch, dscores not divided by N
)


class _ThreeLayerConvNet:
    """conv - relu - 2x2 max pool - affine - relu - affine - softmax, as DESIGN.md fixes it.

    ``mistake`` (a class attribute) is None for the right model or one of MODEL_MISTAKES.
    """

    mistake: str | None = None

    def __init__(
        self,
        input_dim=(3, 32, 32),
        num_filters=32,
        filter_size=7,
        hidden_dim=100,
        num_classes=10,
        weight_scale=1e-3,
        reg=0.0,
        dtype=np.float32,
        seed=None,
    ):
        rng = np.random.default_rng(seed)
        C, H, W = input_dim
        F, k = num_filters, filter_size
        self.reg = reg
        self.dtype = dtype
        self.params = {
            "W1": weight_scale * rng.standard_normal((F, C, k, k)),
            "b1": np.zeros(F),
            "W2": weight_scale * rng.standard_normal((F * (H // 2) * (W // 2), hidden_dim)),
            "b2": np.zeros(hidden_dim),
            "W3": weight_scale * rng.standard_normal((hidden_dim, num_classes)),
            "b3": np.zeros(num_classes),
        }
        self.params = {name: value.astype(dtype) for name, value in self.params.items()}

    def loss(self, X, y=None):
        p, mistake = self.params, self.mistake
        N = X.shape[0]
        if mistake == "pool_before_conv":
            pooled_x, pool_cache = _pool_forward(X)
            conv, conv_cache = _conv_forward(pooled_x, p["W1"], p["b1"])
            features = np.maximum(conv, 0)  # (N, F, H/2, W/2)
        else:
            conv, conv_cache = _conv_forward(X, p["W1"], p["b1"])
            features, pool_cache = _pool_forward(np.maximum(conv, 0))  # (N, F, H/2, W/2)
        if mistake == "flatten_channels_last":
            flat = features.transpose(0, 2, 3, 1).reshape(N, -1)
        else:
            flat = features.reshape(N, -1)
        hidden = flat @ p["W2"] + p["b2"]
        relu_hidden = np.maximum(hidden, 0)
        scores = relu_hidden @ p["W3"] + p["b3"]
        if y is None:
            return _softmax(scores) if mistake == "scores_after_softmax" else scores

        probs = _softmax(scores)
        loss = -np.mean(np.log(probs[np.arange(N), y]))
        if mistake == "summed_over_batch":
            loss *= N
        penalised = ["W1", "W2", "W3"]
        if mistake == "biases_regularised":
            penalised += ["b1", "b2", "b3"]
        squares = sum(np.sum(p[name] ** 2) for name in penalised)
        if mistake != "reg_missing_from_loss":
            loss += (1.0 if mistake == "reg_without_half" else 0.5) * self.reg * squares

        dscores = probs.copy()
        dscores[np.arange(N), y] -= 1
        if mistake == "grads_averaged_over_classes":
            dscores /= scores.shape[1]
        elif mistake != "summed_over_batch":
            dscores /= N
        grads = {"W3": relu_hidden.T @ dscores, "b3": dscores.sum(axis=0)}
        dhidden = (dscores @ p["W3"].T) * (hidden > 0)
        grads["W2"], grads["b2"] = flat.T @ dhidden, dhidden.sum(axis=0)
        dflat = dhidden @ p["W2"].T
        if mistake == "flatten_channels_last":
            n, f, h, w = features.shape
            dfeatures = dflat.reshape(n, h, w, f).transpose(0, 3, 1, 2)
        else:
            dfeatures = dflat.reshape(features.shape)
        if mistake == "pool_before_conv":
            dconv = dfeatures * (conv > 0)
            _, grads["W1"], grads["b1"] = _conv_backward(dconv, conv_cache)
        else:
            dconv = _pool_backward(dfeatures, pool_cache) * (conv > 0)
            _, grads["W1"], grads["b1"] = _conv_backward(dconv, conv_cache)
        if mistake != "reg_missing_from_gradients":
            for name in penalised:
                grads[name] = grads[name] + self.reg * p[name]
        return loss, {name: grads[name] for name in p}


def _model_with(mistake: str) -> type:
    return type(f"ThreeLayerConvNet_{mistake}", (_ThreeLayerConvNet,), {"mistake": mistake})


ThreeLayerConvNet_reg_missing_from_loss = _model_with("reg_missing_from_loss")
ThreeLayerConvNet_reg_missing_from_gradients = _model_with("reg_missing_from_gradients")
ThreeLayerConvNet_reg_without_half = _model_with("reg_without_half")
ThreeLayerConvNet_biases_regularised = _model_with("biases_regularised")
ThreeLayerConvNet_pool_before_conv = _model_with("pool_before_conv")
ThreeLayerConvNet_flatten_channels_last = _model_with("flatten_channels_last")
ThreeLayerConvNet_scores_after_softmax = _model_with("scores_after_softmax")
ThreeLayerConvNet_grads_averaged_over_classes = _model_with("grads_averaged_over_classes")
ThreeLayerConvNet_summed_over_batch = _model_with("summed_over_batch")

WRONG_MODELS = {mistake: globals()[f"ThreeLayerConvNet_{mistake}"] for mistake in MODEL_MISTAKES}


# --- the training loop, with a switch per mistake -------------------------------------------------

LOOP_MISTAKES = (
    "in_order",  # batches in the order 0, 1, ..., N - 1: rng never used
    "keeps_last_batch",  # a last batch smaller than batch_size is trained on (the contract drops it)
    "last_batch_twice",  # the partial last batch runs in the loop AND again after it
    "config_not_stored",  # the config update_rule returns is thrown away
    "stale_gradients",  # each step applies the PREVIOUS batch's gradients (the first none)
)


def _train_epoch(model, X, y, update_rule, configs, batch_size=100, rng=None, mistake=None):
    if rng is None:
        rng = np.random.default_rng()
    N = X.shape[0]
    order = np.arange(N) if mistake == "in_order" else rng.permutation(N)
    if mistake in ("keeps_last_batch", "last_batch_twice"):
        starts = list(range(0, N, batch_size))
        if mistake == "last_batch_twice" and N % batch_size:
            starts.append(starts[-1])  # "and the remainder": already in the loop
    else:
        starts = list(range(0, N - batch_size + 1, batch_size))
    losses, previous = [], None
    for start in starts:
        idx = order[start : start + batch_size]
        loss, grads = model.loss(X[idx], y[idx])
        step = grads
        if mistake == "stale_gradients":
            step, previous = previous, grads
        if step is not None:
            for name in model.params:
                config = configs.get(name, {})
                new_value, new_config = update_rule(model.params[name], step[name], config)
                model.params[name] = new_value
                if mistake != "config_not_stored":
                    configs[name] = new_config
        losses.append(float(loss))
    return losses


def _loop_with(mistake: str):
    def train_epoch(model, X, y, update_rule, configs, batch_size=100, rng=None):
        return _train_epoch(model, X, y, update_rule, configs, batch_size, rng, mistake=mistake)

    train_epoch.__name__ = train_epoch.__qualname__ = f"train_epoch_{mistake}"
    return train_epoch


train_epoch_in_order = _loop_with("in_order")
train_epoch_keeps_last_batch = _loop_with("keeps_last_batch")
train_epoch_last_batch_twice = _loop_with("last_batch_twice")
train_epoch_config_not_stored = _loop_with("config_not_stored")
train_epoch_stale_gradients = _loop_with("stale_gradients")

WRONG_LOOPS = {mistake: globals()[f"train_epoch_{mistake}"] for mistake in LOOP_MISTAKES}


def train_epoch_missing_config(model, X, y, update_rule, configs, batch_size=100, rng=None):
    """Right, except that it reads configs[name] for every parameter: a parameter without an
    entry raises KeyError, where the contract starts it from {}."""
    if rng is None:
        rng = np.random.default_rng()
    order = rng.permutation(len(X))
    losses = []
    for start in range(0, len(X) - batch_size + 1, batch_size):
        idx = order[start : start + batch_size]
        loss, grads = model.loss(X[idx], y[idx])
        for name in model.params:
            model.params[name], configs[name] = update_rule(
                model.params[name], grads[name], configs[name]
            )
        losses.append(float(loss))
    return losses


def _right_train_epoch(model, X, y, update_rule, configs, batch_size=100, rng=None):
    return _train_epoch(model, X, y, update_rule, configs, batch_size, rng)


_right_train_epoch.__name__ = _right_train_epoch.__qualname__ = "train_epoch"

# The right versions, for the tests that make sure a check passes a correct implementation.
CORRECT = types.SimpleNamespace(
    ThreeLayerConvNet=type("ThreeLayerConvNet", (_ThreeLayerConvNet,), {}),
    train_epoch=_right_train_epoch,
)
