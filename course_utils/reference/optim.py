"""Twins of notebook 03's update rules, and an optimizer that applies any such rule to a model.

Every rule has the contract's form ``(w, dw, config=None) -> (next_w, config)``: ``w`` and
``dw`` are tensors of one shape (any device, float32 or float64), ``next_w`` is a new tensor
on the same device and in the same dtype, and ``config`` is a plain dict that holds the
hyper-parameters and the optimizer's state. A missing hyper-parameter takes its default and
the default is stored back into ``config``; state starts at zeros (``t`` at 0) and is stored
in ``config`` after every step, so one config per parameter is the whole optimizer state.

How each rule maps onto ``torch.optim`` (the unit tests check every line over many steps):

==================  ================================================================
``sgd``             ``SGD(lr=learning_rate)``
``sgd_momentum``    ``SGD(lr=learning_rate, momentum=momentum)``. PyTorch keeps
                    ``b = momentum * b + dw`` and steps ``w -= lr * b``; ours keeps
                    ``v = momentum * v - lr * dw`` and steps ``w += v``. With a constant
                    learning rate they are the same method, ``v = -lr * b``.
``adagrad``         ``Adagrad(lr, lr_decay=0, initial_accumulator_value=0, eps=epsilon)``
``rmsprop``         ``RMSprop(lr, alpha=decay_rate, eps=epsilon, momentum=0,
                    centered=False)``
``adam``            ``Adam(lr, betas=(beta1, beta2), eps=epsilon)``
==================  ================================================================

Epsilon sits outside the square root everywhere, as in the lecture and in ``torch.optim``.
"""

from __future__ import annotations

import copy
import math
import numbers
from collections.abc import Callable, Iterable

import numpy as np
import torch

__all__ = ["sgd", "sgd_momentum", "adagrad", "rmsprop", "adam", "UpdateRuleOptimizer"]

# The contract's defaults (DESIGN.md), used when a key is missing and stored back into config.
SGD_DEFAULTS = {"learning_rate": 1e-2}
SGD_MOMENTUM_DEFAULTS = {"learning_rate": 1e-2, "momentum": 0.9}
ADAGRAD_DEFAULTS = {"learning_rate": 1e-2, "epsilon": 1e-8}
RMSPROP_DEFAULTS = {"learning_rate": 1e-2, "decay_rate": 0.99, "epsilon": 1e-8}
ADAM_DEFAULTS = {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8}

# Allowed range of each hyper-parameter: (low, high, high is allowed).
_RANGES = {
    "learning_rate": (0.0, math.inf, False),
    "momentum": (0.0, 1.0, False),
    "decay_rate": (0.0, 1.0, False),
    "beta1": (0.0, 1.0, False),
    "beta2": (0.0, 1.0, False),
    "epsilon": (0.0, math.inf, False),
}


def _check_pair(name: str, w: torch.Tensor, dw: torch.Tensor) -> None:
    for what, value in (("w", w), ("dw", dw)):
        if not isinstance(value, torch.Tensor):
            raise ValueError(
                f"{name}: {what} must be a torch.Tensor, got {type(value).__name__}. "
                "Convert NumPy arrays with torch.from_numpy."
            )
        if not value.is_floating_point():
            raise ValueError(f"{name}: {what} must hold floats, got dtype {value.dtype}.")
    if w.shape != dw.shape:
        raise ValueError(
            f"{name}: dw must have the shape of w, {tuple(w.shape)}; got {tuple(dw.shape)}."
        )


def _settings(name: str, config: dict | None, defaults: dict) -> dict:
    """config with every missing hyper-parameter set to its default (in place); checked."""
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise ValueError(f"{name}: config must be a dict or None, got {type(config).__name__}.")
    for key, default in defaults.items():
        config.setdefault(key, default)
        value = config[key]
        low, high, _ = _RANGES[key]
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ValueError(
                f'{name}: config["{key}"] must be a number, got {type(value).__name__} {value!r}.'
            )
        if not (low <= value < high):
            interval = f"[{low:g}, {high:g})" if high != math.inf else f">= {low:g}"
            raise ValueError(f"{name}: invalid {key}: {value!r}; it must be in {interval}.")
    return config


def _state(name: str, config: dict, key: str, w: torch.Tensor) -> torch.Tensor:
    """config[key] as a tensor like w (zeros when missing): the optimizer's state for w."""
    if key not in config:
        return torch.zeros_like(w)
    value = config[key]
    if not isinstance(value, torch.Tensor):
        value = torch.as_tensor(np.asarray(value, dtype=np.float64))
    value = value.to(device=w.device, dtype=w.dtype)
    if value.shape != w.shape:
        raise ValueError(
            f'{name}: config["{key}"] has shape {tuple(value.shape)} but w has shape '
            f"{tuple(w.shape)}. Each parameter needs its own config: start a new one (or None)."
        )
    return value


def sgd(w: torch.Tensor, dw: torch.Tensor, config: dict | None = None):
    """Twin of notebook 03's sgd: vanilla stochastic gradient descent.

        next_w = w - learning_rate * dw

    Args:
        w: weights, any shape.
        dw: gradient of the loss with respect to w, same shape.
        config: dict with "learning_rate" (default 1e-2), or None.

    Returns:
        next_w: the updated weights, same shape, device and dtype as w.
        config: the same dict (a new one for None) with the defaults filled in.
    """
    _check_pair("sgd", w, dw)
    config = _settings("sgd", config, SGD_DEFAULTS)
    with torch.no_grad():
        next_w = w - config["learning_rate"] * dw
    return next_w, config


def sgd_momentum(w: torch.Tensor, dw: torch.Tensor, config: dict | None = None):
    """Twin of notebook 03's sgd_momentum: SGD with momentum, in the lecture's form.

        v = momentum * v - learning_rate * dw
        next_w = w + v

    torch.optim.SGD(momentum=...) keeps b = momentum * b + dw and steps w -= lr * b: the same
    method with v = -lr * b (while the learning rate is constant).

    Args:
        w: weights, any shape.
        dw: gradient, same shape.
        config: dict with "learning_rate" (1e-2), "momentum" (0.9) and "velocity" (shape of
            w, zeros when missing), or None.

    Returns:
        next_w: same shape, device and dtype as w.
        config: with the defaults and the new "velocity".
    """
    _check_pair("sgd_momentum", w, dw)
    config = _settings("sgd_momentum", config, SGD_MOMENTUM_DEFAULTS)
    with torch.no_grad():
        v = _state("sgd_momentum", config, "velocity", w)
        v = config["momentum"] * v - config["learning_rate"] * dw
        next_w = w + v
    config["velocity"] = v
    return next_w, config


def adagrad(w: torch.Tensor, dw: torch.Tensor, config: dict | None = None):
    """Twin of notebook 03's adagrad: per-weight step sizes from the sum of squared gradients.

        cache = cache + dw ** 2
        next_w = w - learning_rate * dw / (sqrt(cache) + epsilon)

    Equals torch.optim.Adagrad(lr, lr_decay=0, initial_accumulator_value=0, eps=epsilon).

    Args:
        w: weights, any shape.
        dw: gradient, same shape.
        config: dict with "learning_rate" (1e-2), "epsilon" (1e-8) and "cache" (shape of w,
            zeros when missing), or None.

    Returns:
        next_w: same shape, device and dtype as w.
        config: with the defaults and the new "cache".
    """
    _check_pair("adagrad", w, dw)
    config = _settings("adagrad", config, ADAGRAD_DEFAULTS)
    with torch.no_grad():
        cache = _state("adagrad", config, "cache", w) + dw * dw
        next_w = w - config["learning_rate"] * dw / (cache.sqrt() + config["epsilon"])
    config["cache"] = cache
    return next_w, config


def rmsprop(w: torch.Tensor, dw: torch.Tensor, config: dict | None = None):
    """Twin of notebook 03's rmsprop: AdaGrad with a leaky (moving-average) cache.

        cache = decay_rate * cache + (1 - decay_rate) * dw ** 2
        next_w = w - learning_rate * dw / (sqrt(cache) + epsilon)

    Equals torch.optim.RMSprop(lr, alpha=decay_rate, eps=epsilon, momentum=0, centered=False).

    Args:
        w: weights, any shape.
        dw: gradient, same shape.
        config: dict with "learning_rate" (1e-2), "decay_rate" (0.99), "epsilon" (1e-8) and
            "cache" (shape of w, zeros when missing), or None.

    Returns:
        next_w: same shape, device and dtype as w.
        config: with the defaults and the new "cache".
    """
    _check_pair("rmsprop", w, dw)
    config = _settings("rmsprop", config, RMSPROP_DEFAULTS)
    rho = config["decay_rate"]
    with torch.no_grad():
        cache = rho * _state("rmsprop", config, "cache", w) + (1 - rho) * dw * dw
        next_w = w - config["learning_rate"] * dw / (cache.sqrt() + config["epsilon"])
    config["cache"] = cache
    return next_w, config


def adam(w: torch.Tensor, dw: torch.Tensor, config: dict | None = None):
    """Twin of notebook 03's adam: momentum on the gradient and RMSProp's scaling, bias-corrected.

        m = beta1 * m + (1 - beta1) * dw
        v = beta2 * v + (1 - beta2) * dw ** 2
        t = t + 1                                   (before the correction: the first step is t = 1)
        m_hat = m / (1 - beta1 ** t),  v_hat = v / (1 - beta2 ** t)
        next_w = w - learning_rate * m_hat / (sqrt(v_hat) + epsilon)

    Equals torch.optim.Adam(lr, betas=(beta1, beta2), eps=epsilon); PyTorch rearranges the
    same formula (lr / (1 - beta1 ** t) times m / (sqrt(v) / sqrt(1 - beta2 ** t) + eps)).

    Args:
        w: weights, any shape.
        dw: gradient, same shape.
        config: dict with "learning_rate" (1e-3), "beta1" (0.9), "beta2" (0.999), "epsilon"
            (1e-8), "m" and "v" (shape of w, zeros when missing) and "t" (0 when missing),
            or None.

    Returns:
        next_w: same shape, device and dtype as w.
        config: with the defaults and the new "m", "v" and "t".
    """
    _check_pair("adam", w, dw)
    config = _settings("adam", config, ADAM_DEFAULTS)
    t = config.get("t", 0)
    if isinstance(t, bool) or not isinstance(t, numbers.Real) or t < 0 or t != int(t):
        raise ValueError(
            f'adam: config["t"] counts the steps taken; it must be an int >= 0, got {t!r}.'
        )
    beta1, beta2 = config["beta1"], config["beta2"]
    with torch.no_grad():
        m = beta1 * _state("adam", config, "m", w) + (1 - beta1) * dw
        v = beta2 * _state("adam", config, "v", w) + (1 - beta2) * dw * dw
        t = int(t) + 1
        m_hat = m / (1 - beta1**t)
        v_hat = v / (1 - beta2**t)
        next_w = w - config["learning_rate"] * m_hat / (v_hat.sqrt() + config["epsilon"])
    config.update(m=m, v=v, t=t)
    return next_w, config


# --- applying a rule to every parameter of a model --------------------------------------------


class UpdateRuleOptimizer(torch.optim.Optimizer):
    """A ``torch.optim.Optimizer`` that applies an update rule ``(w, dw, config)`` to each parameter.

    Each parameter keeps its own config (``self.state[p]["config"]``), starting as a deep copy
    of ``config``, so the rule's state (velocity, cache, m, v, t) is per parameter, as in
    CS231n's Solver. Works with ``course_utils.train.fit`` like any torch optimizer:

        optimizer = UpdateRuleOptimizer(model.parameters(), adam, {"learning_rate": 1e-3})
        optimizer = UpdateRuleOptimizer(model.parameters(), my_numpy_adam, numpy=True)

    Args:
        params: the parameters (or parameter groups) to update.
        update: the rule, ``(w, dw, config) -> (next_w, config)``.
        config: the starting config of every parameter (hyper-parameters), or None for the
            rule's defaults.
        numpy: the rule works on NumPy arrays: each step hands it float64 copies of w and dw
            (moved to the CPU) and copies next_w back into the parameter, on its device and in
            its dtype. False: the rule gets the tensors themselves (e.g. the twins here).
    """

    def __init__(
        self,
        params: Iterable,
        update: Callable,
        config: dict | None = None,
        numpy: bool = False,
    ):
        if not callable(update):
            raise ValueError(
                f"update must be a function (w, dw, config) -> (next_w, config), got {update!r}."
            )
        if config is not None and not isinstance(config, dict):
            raise ValueError(f"config must be a dict or None, got {type(config).__name__}.")
        super().__init__(params, defaults={})
        self.update = update
        self.config = {} if config is None else copy.deepcopy(config)
        self.numpy = numpy

    @torch.no_grad()
    def step(self, closure: Callable | None = None):
        """One update of every parameter that has a gradient; returns closure() if given."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        name = getattr(self.update, "__name__", "the update rule")
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                config = state.get("config", copy.deepcopy(self.config))
                if self.numpy:
                    w = p.detach().cpu().numpy().astype(np.float64)
                    dw = p.grad.detach().cpu().numpy().astype(np.float64)
                else:
                    w, dw = p.detach().clone(), p.grad.detach().clone()
                result = self.update(w, dw, config)
                if not isinstance(result, (tuple, list)) or len(result) != 2:
                    raise ValueError(
                        f"{name} must return a tuple (next_w, config); it returned "
                        f"{type(result).__name__}."
                    )
                next_w, state["config"] = result
                next_w = torch.as_tensor(next_w)
                if next_w.shape != p.shape:
                    raise ValueError(
                        f"{name} returned next_w of shape {tuple(next_w.shape)} for a "
                        f"parameter of shape {tuple(p.shape)}."
                    )
                p.copy_(next_w.to(device=p.device, dtype=p.dtype))
        return loss
