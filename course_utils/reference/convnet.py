"""Twins of notebook 02's ThreeLayerConvNet and train_epoch: a model and the loop that trains it.

``ThreeLayerConvNet`` has CS231n's constructor, defaults, parameter names and ``loss(X, y=None)``
contract; its parameters are tensors, and ``loss`` takes its gradients from autograd through
the twins of notebook 02's layers. ``train_epoch`` is the contract's loop, line for line: from
the same NumPy generator it visits the same batches in the same order as a student's loop, so
the two leave the same parameters behind.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable

import numpy as np
import torch

from course_utils.reference.layers import (
    affine_forward,
    conv_forward_fast,
    max_pool_forward_naive,
    relu_forward,
    softmax_loss,
)

__all__ = ["ThreeLayerConvNet", "train_epoch"]

#: The names of the parameters, in the order the model creates them (train_epoch updates them
#: in dict order). Only the weights are regularised.
PARAM_NAMES = ("W1", "b1", "W2", "b2", "W3", "b3")
WEIGHT_NAMES = ("W1", "W2", "W3")

_DTYPES = {
    "float32": torch.float32,
    "float64": torch.float64,
}


def _torch_dtype(dtype) -> torch.dtype:
    """np.float32, np.float64, their names, or torch.float32/64 -> the torch dtype."""
    if isinstance(dtype, torch.dtype):
        name = str(dtype).removeprefix("torch.")
    else:
        try:
            name = np.dtype(dtype).name
        except TypeError:
            name = str(dtype)
    if name not in _DTYPES:
        raise ValueError(
            f"dtype must be float32 or float64 (NumPy or torch), got {dtype!r}. The model keeps "
            "its parameters in this dtype."
        )
    return _DTYPES[name]


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    return int(value)


class ThreeLayerConvNet:
    """Twin of notebook 02's ThreeLayerConvNet: conv - relu - 2x2 max pool - affine - relu - affine.

    The architecture and the loss, for X of shape (N, C, H, W):

        conv (F filters fs x fs, stride 1, pad (fs - 1) // 2)    -> (N, F, H, W)
        relu, max pool 2x2 stride 2                               -> (N, F, H/2, W/2)
        affine (flattened, F*H/2*W/2 -> hidden_dim), relu         -> (N, hidden_dim)
        affine (hidden_dim -> num_classes)                        -> scores (N, num_classes)
        loss = softmax_loss(scores, y) + 0.5 * reg * (sum(W1**2) + sum(W2**2) + sum(W3**2))

    Biases are not regularised. ``self.params`` holds W1 (F, C, fs, fs), b1 (F,),
    W2 (F*H/2*W/2, hidden_dim), b2 (hidden_dim,), W3 (hidden_dim, num_classes), b3
    (num_classes,), in that order: weights drawn from N(0, weight_scale**2), biases zero, all
    in ``dtype`` on ``device``. Like CS231n's model, ``loss`` reads the filter size from W1 and
    the hyper-parameters from the attributes, so a caller may replace any parameter (with one
    of the same shape) or ``reg`` at any time.

    Sizes: ``filter_size`` must be odd (so that the convolution keeps H and W) and H and W even
    (so that the 2x2 pooling fits exactly); anything else raises ValueError, where CS231n's
    NumPy code would fail later with a shape error.

    Args:
        input_dim: (C, H, W) of one input.
        num_filters: F, filters of the convolutional layer.
        filter_size: fs, the filters' height and width (odd).
        hidden_dim: units of the hidden affine layer.
        num_classes: scores per input.
        weight_scale: standard deviation of the initial weights.
        reg: strength of the L2 regularisation.
        dtype: float32 or float64 (NumPy or torch dtype), the parameters' dtype.
        seed: seeds the initial weights (None: a fresh random draw each time).
        device: where the parameters live (None: the CPU).
    """

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
        device=None,
    ):
        if len(tuple(input_dim)) != 3:
            raise ValueError(f"input_dim must be (C, H, W), got {input_dim!r}.")
        C, H, W = (_positive_int("each of input_dim's (C, H, W)", v) for v in input_dim)
        F = _positive_int("num_filters", num_filters)
        fs = _positive_int("filter_size", filter_size)
        hidden_dim = _positive_int("hidden_dim", hidden_dim)
        num_classes = _positive_int("num_classes", num_classes)
        if fs % 2 == 0:
            raise ValueError(
                f"filter_size must be odd, got {fs}: with pad (fs - 1) // 2 = {(fs - 1) // 2} an "
                f"even filter shrinks the {H}x{W} input by one, and W2's shape F*H/2*W/2 no "
                "longer fits. Choose 3, 5 or 7."
            )
        if H % 2 or W % 2:
            raise ValueError(
                f"the input's height and width must be even for the 2x2 pooling with stride 2, "
                f"got input_dim {tuple(input_dim)}."
            )
        if not weight_scale >= 0:
            raise ValueError(f"weight_scale must be >= 0, got {weight_scale!r}.")
        self.reg = reg
        self.dtype = _torch_dtype(dtype)
        device = torch.device("cpu") if device is None else torch.device(device)
        generator = torch.Generator()
        if seed is None:
            generator.seed()
        else:
            generator.manual_seed(seed)

        def weights(*shape):
            drawn = torch.randn(*shape, generator=generator, dtype=torch.float64)
            return (weight_scale * drawn).to(device=device, dtype=self.dtype)

        def zeros(size):
            return torch.zeros(size, dtype=self.dtype, device=device)

        self.params = {
            "W1": weights(F, C, fs, fs),
            "b1": zeros(F),
            "W2": weights(F * (H // 2) * (W // 2), hidden_dim),
            "b2": zeros(hidden_dim),
            "W3": weights(hidden_dim, num_classes),
            "b3": zeros(num_classes),
        }

    def _check_input(self, X: torch.Tensor, W1: torch.Tensor, W2: torch.Tensor) -> None:
        if not isinstance(X, torch.Tensor) or X.dim() != 4:
            shape = tuple(X.shape) if isinstance(X, torch.Tensor) else type(X).__name__
            raise ValueError(f"X must be a tensor of shape (N, C, H, W), got {shape}.")
        if X.device != W1.device:
            raise ValueError(
                f"X is on {X.device} but the parameters are on {W1.device}; move X with "
                f"X.to({str(W1.device)!r})."
            )
        F, C = W1.shape[:2]
        N, C_x, H, W = X.shape
        if C_x != C or H % 2 or W % 2 or F * (H // 2) * (W // 2) != W2.shape[0]:
            raise ValueError(
                f"X has shape {tuple(X.shape)}, but W1 {tuple(W1.shape)} and W2 "
                f"{tuple(W2.shape)} need C = {C} channels and an even H x W with "
                f"F*H/2*W/2 = {W2.shape[0]}."
            )

    def _scores(self, X: torch.Tensor, params: dict) -> torch.Tensor:
        W1 = params["W1"]
        fs = W1.shape[2]
        conv_param = {"stride": 1, "pad": (fs - 1) // 2}
        pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
        conv, _ = conv_forward_fast(X, W1, params["b1"], conv_param)  # (N, F, H, W)
        pooled, _ = max_pool_forward_naive(relu_forward(conv)[0], pool_param)  # (N, F, H/2, W/2)
        hidden, _ = affine_forward(pooled, params["W2"], params["b2"])  # (N, hidden_dim)
        scores, _ = affine_forward(relu_forward(hidden)[0], params["W3"], params["b3"])
        return scores  # (N, num_classes)

    def loss(self, X: torch.Tensor, y: torch.Tensor | None = None):
        """Scores, or the loss and the gradient of every parameter.

        Args:
            X: inputs, shape (N, C, H, W), on the parameters' device; cast to their dtype.
            y: integer labels, shape (N,), or None.

        Returns:
            With y None: scores, shape (N, num_classes) (before the softmax).
            Otherwise (loss, grads): loss a 0-dimensional tensor, the batch mean of the softmax
            cross-entropy plus 0.5 * reg * (sum(W1**2) + sum(W2**2) + sum(W3**2)); grads a dict
            with the keys and shapes of ``self.params``, regularisation included (reg * W for
            the weights, nothing for the biases), computed by autograd.
        """
        params = self.params
        self._check_input(X, params["W1"], params["W2"])
        X = X.to(params["W1"].dtype)
        if y is None:
            with torch.no_grad():
                return self._scores(X, params)
        if not isinstance(y, torch.Tensor):
            y = torch.as_tensor(np.asarray(y), device=X.device)
        leaves = {name: value.detach().requires_grad_(True) for name, value in params.items()}
        with torch.enable_grad():
            data_loss, _ = softmax_loss(self._scores(X, leaves), y.to(X.device))
            squares = sum((leaves[name] ** 2).sum() for name in WEIGHT_NAMES)
            loss = data_loss + 0.5 * self.reg * squares
            gradients = torch.autograd.grad(loss, list(leaves.values()))
        return loss.detach(), dict(zip(leaves, gradients))


def _take(a, index: np.ndarray):
    """a[index] for a NumPy array or a tensor (the index moved to the tensor's device)."""
    if isinstance(a, torch.Tensor):
        return a[torch.from_numpy(index).to(a.device)]
    return a[index]


def train_epoch(
    model,
    X,
    y,
    update_rule: Callable,
    configs: dict,
    batch_size: int = 100,
    rng: np.random.Generator | None = None,
) -> list[float]:
    """Twin of notebook 02's train_epoch: one pass of minibatch updates over a permutation of X.

        order = rng.permutation(N)
        for each full batch idx = order[k * batch_size : (k + 1) * batch_size]:
            loss, grads = model.loss(X[idx], y[idx])
            for p in model.params (dict order):
                model.params[p], configs[p] = update_rule(model.params[p], grads[p], configs[p])

    A last batch smaller than ``batch_size`` is dropped, so an epoch makes N // batch_size
    steps. A parameter with no entry in ``configs`` starts with ``{}``; the config each step
    returns is stored back, so ``configs`` holds the optimiser's whole state afterwards. The
    permutation is drawn with NumPy's ``rng.permutation``, so a loop written in NumPy from a
    generator with the same seed visits the same batches in the same order.

    Works for any model with ``params`` and ``loss(X, y) -> (loss, grads)``: the twin
    ThreeLayerConvNet with tensors and the course_utils.reference update rules, or a NumPy
    model with NumPy arrays and NumPy rules.

    Args:
        model: has ``params`` (dict name -> array) and ``loss(X, y) -> (loss, grads)``.
        X: inputs, shape (N, ...), a tensor or an ndarray.
        y: labels, shape (N,).
        update_rule: ``(w, dw, config) -> (next_w, config)``, e.g. notebook 03's sgd.
        configs: dict parameter name -> config dict, updated in place.
        batch_size: inputs per step.
        rng: a numpy.random.Generator (None: np.random.default_rng()).

    Returns:
        The loss of every step, as Python floats, in order (N // batch_size of them).
    """
    batch_size = _positive_int("batch_size", batch_size)
    if len(X) != len(y):
        raise ValueError(
            f"X and y must hold the same number of examples, got {len(X)} and {len(y)}."
        )
    if not isinstance(configs, dict):
        raise ValueError(
            f"configs must be a dict parameter name -> config dict, got {type(configs).__name__}."
        )
    if not callable(update_rule):
        raise ValueError(
            f"update_rule must be a function (w, dw, config) -> (next_w, config), got "
            f"{type(update_rule).__name__}."
        )
    if rng is None:
        rng = np.random.default_rng()
    if not isinstance(rng, np.random.Generator):
        raise ValueError(
            f"rng must be a numpy.random.Generator (np.random.default_rng(seed)) or None, got "
            f"{type(rng).__name__}: the batch order comes from rng.permutation(N)."
        )
    N = len(X)
    order = rng.permutation(N)  # (N,)
    losses = []
    for start in range(0, N - batch_size + 1, batch_size):
        idx = order[start : start + batch_size]  # (batch_size,)
        loss, grads = model.loss(_take(X, idx), _take(y, idx))
        for name in model.params:
            config = configs[name] if name in configs else {}
            model.params[name], configs[name] = update_rule(model.params[name], grads[name], config)
        losses.append(float(loss))
    return losses
