"""Checks for notebook 03, the optimisers' update rules.

Each check is an ``Exercise`` made by ``update_rule_exercise`` (``_update_rules``): its public
hyper-parameters and the way its hidden ones are drawn, the twin in ``course_utils.reference``,
the keys of its state in ``config``, and its known mistakes. A known mistake is the whole
mistaken update rule, written below in NumPy as a student would write it: the judge runs it
over the case and names it only when the student's whole run so far equals that rule's run.
Every rule's check also names a wrong default, state missing from the returned config and
state kept outside config.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from autograder.checks._engine import CheckResult, Mistake, check
from autograder.checks._update_rules import UpdateRun, log_uniform, update_rule_exercise
from course_utils import reference
from course_utils.reference import optim as reference_optim

__all__ = ["check_sgd", "check_sgd_momentum", "check_adagrad", "check_rmsprop", "check_adam"]


# --- the rules as the known mistakes write them (NumPy) -----------------------------------------


def _settings(config: dict | None, defaults: dict) -> dict:
    config = {} if config is None else config
    for key, value in defaults.items():
        config.setdefault(key, value)
    return config


# sgd


def _sgd_uphill(w, dw, config=None):
    config = _settings(config, reference_optim.SGD_DEFAULTS)
    return w + config["learning_rate"] * dw, config


def _draw_learning_rate(rng: np.random.Generator) -> dict:
    return {"learning_rate": log_uniform(rng, 1e-3, 1e-1)}


SGD = update_rule_exercise(
    "sgd",
    UpdateRun(
        reference.sgd,
        reference_optim.SGD_DEFAULTS,
        (),
        (
            Mistake(
                "uphill",
                "you stepped uphill (w + learning_rate * dw). The gradient points to where the "
                "loss grows: step against it, w - learning_rate * dw.",
                _sgd_uphill,
            ),
        ),
    ),
    {"learning_rate": 0.1},
    _draw_learning_rate,
)


@check
def check_sgd(sgd: Callable, cases: str = "public") -> CheckResult:
    """Check ``sgd(w, dw, config=None) -> (next_w, config)``: ``w - learning_rate * dw``."""
    return SGD.run(cases, sgd)


# sgd_momentum


def _momentum_flipped(w, dw, config=None):
    config = _settings(config, reference_optim.SGD_MOMENTUM_DEFAULTS)
    v = config.get("velocity", np.zeros_like(w))
    v = config["momentum"] * v + config["learning_rate"] * dw
    config["velocity"] = v
    return w + v, config


def _momentum_subtracted(w, dw, config=None):
    config = _settings(config, reference_optim.SGD_MOMENTUM_DEFAULTS)
    v = config.get("velocity", np.zeros_like(w))
    v = config["momentum"] * v - config["learning_rate"] * dw
    config["velocity"] = v
    return w - v, config


def _momentum_torch_buffer(w, dw, config=None):
    config = _settings(config, reference_optim.SGD_MOMENTUM_DEFAULTS)
    b = config["momentum"] * config.get("velocity", np.zeros_like(w)) + dw
    config["velocity"] = b
    return w - config["learning_rate"] * b, config


def _momentum_old_velocity(w, dw, config=None):
    config = _settings(config, reference_optim.SGD_MOMENTUM_DEFAULTS)
    v = config.get("velocity", np.zeros_like(w))
    next_w = w + v
    config["velocity"] = config["momentum"] * v - config["learning_rate"] * dw
    return next_w, config


MOMENTUM_SIGN_HINT = (
    "momentum with the wrong sign. The velocity accumulates NEGATIVE gradients, "
    "v = momentum * v - learning_rate * dw, and the step adds it: w + v. With a sign flipped, "
    "the weights climb the loss."
)


def _draw_momentum(rng: np.random.Generator) -> dict:
    return {"learning_rate": log_uniform(rng, 1e-3, 1e-1), "momentum": rng.uniform(0.5, 0.99)}


def _velocity_start(rng: np.random.Generator, shape: tuple) -> dict:
    return {"velocity": 0.1 * rng.standard_normal(shape)}


SGD_MOMENTUM = update_rule_exercise(
    "sgd_momentum",
    UpdateRun(
        reference.sgd_momentum,
        reference_optim.SGD_MOMENTUM_DEFAULTS,
        ("velocity",),
        (
            Mistake("wrong_sign", MOMENTUM_SIGN_HINT, _momentum_flipped),
            Mistake("wrong_sign_in_step", MOMENTUM_SIGN_HINT, _momentum_subtracted),
            Mistake(
                "pytorch_buffer",
                "your weights follow PyTorch's SGD, but config[\"velocity\"] holds PyTorch's "
                "buffer b = momentum * b + dw. The contract's velocity (the lecture's) is "
                "v = momentum * v - learning_rate * dw, the step itself, and next_w = w + v "
                "(v = -learning_rate * b).",
                _momentum_torch_buffer,
            ),
            Mistake(
                "old_velocity",
                "you moved w with the OLD velocity. Update the velocity first, "
                "v = momentum * v - learning_rate * dw, then step with the new one: w + v.",
                _momentum_old_velocity,
            ),
        ),
    ),
    {"learning_rate": 0.05, "momentum": 0.8},
    _draw_momentum,
    _velocity_start,
)


@check
def check_sgd_momentum(sgd_momentum: Callable, cases: str = "public") -> CheckResult:
    """Check ``sgd_momentum``: ``v = momentum * v - learning_rate * dw; next_w = w + v``."""
    return SGD_MOMENTUM.run(cases, sgd_momentum)


# adagrad and rmsprop


def _adaptive(rule_name: str, cache_update: Callable, scale: Callable) -> Callable:
    """An AdaGrad/RMSProp-like rule: cache = cache_update(cache, dw, config); step by scale."""
    defaults = {
        "adagrad": reference_optim.ADAGRAD_DEFAULTS,
        "rmsprop": reference_optim.RMSPROP_DEFAULTS,
    }[rule_name]

    def rule(w, dw, config=None):
        config = _settings(config, defaults)
        cache = cache_update(config.get("cache", np.zeros_like(w)), dw, config)
        config["cache"] = cache
        return w - config["learning_rate"] * dw / scale(cache, config["epsilon"]), config

    return rule


def _sqrt_plus_eps(cache, eps):
    return np.sqrt(cache) + eps


def _no_sqrt(cache, eps):
    return cache + eps


def _eps_inside(cache, eps):
    return np.sqrt(cache + eps)


def _accumulate(cache, dw, config):
    return cache + dw * dw


def _forget(cache, dw, config):
    return dw * dw


def _leak(cache, dw, config):
    rho = config["decay_rate"]
    return rho * cache + (1 - rho) * dw * dw


def _leak_swapped(cache, dw, config):
    rho = config["decay_rate"]
    return (1 - rho) * cache + rho * dw * dw


NO_SQRT_HINT = (
    "you divided by the cache itself, without the square root. The cache holds squared "
    "gradients, so its square root has the gradient's scale: "
    "w - learning_rate * dw / (sqrt(cache) + epsilon)."
)
EPS_INSIDE_HINT = (
    "epsilon sits inside the square root. The lecture (and torch.optim) add it outside: "
    "sqrt(cache) + epsilon. Inside, it changes the step whenever the gradients are small."
)


def _draw_epsilon(rng: np.random.Generator) -> float:
    return float(rng.choice([1e-8, 1e-7, 1e-6, 1e-4]))


def _draw_adagrad(rng: np.random.Generator) -> dict:
    return {"learning_rate": log_uniform(rng, 1e-3, 1.0), "epsilon": _draw_epsilon(rng)}


def _cache_start(rng: np.random.Generator, shape: tuple) -> dict:
    return {"cache": rng.uniform(0.1, 2.0, size=shape)}


ADAGRAD = update_rule_exercise(
    "adagrad",
    UpdateRun(
        reference.adagrad,
        reference_optim.ADAGRAD_DEFAULTS,
        ("cache",),
        (
            Mistake("no_sqrt", NO_SQRT_HINT, _adaptive("adagrad", _accumulate, _no_sqrt)),
            Mistake(
                "epsilon_inside_sqrt",
                EPS_INSIDE_HINT,
                _adaptive("adagrad", _accumulate, _eps_inside),
            ),
            Mistake(
                "cache_forgets",
                "your cache forgets: AdaGrad ADDS every squared gradient to it "
                "(cache += dw**2), so the steps only ever shrink.",
                _adaptive("adagrad", _forget, _sqrt_plus_eps),
            ),
        ),
    ),
    {"learning_rate": 0.1, "epsilon": 1e-6},
    _draw_adagrad,
    _cache_start,
)


@check
def check_adagrad(adagrad: Callable, cases: str = "public") -> CheckResult:
    """Check ``adagrad``: ``cache += dw**2; next_w = w - lr * dw / (sqrt(cache) + epsilon)``."""
    return ADAGRAD.run(cases, adagrad)


def _draw_rmsprop(rng: np.random.Generator) -> dict:
    return {
        "learning_rate": log_uniform(rng, 1e-3, 1e-1),
        "decay_rate": float(rng.uniform(0.5, 0.999)),
        "epsilon": _draw_epsilon(rng),
    }


RMSPROP = update_rule_exercise(
    "rmsprop",
    UpdateRun(
        reference.rmsprop,
        reference_optim.RMSPROP_DEFAULTS,
        ("cache",),
        (
            Mistake(
                "decay_on_wrong_term",
                "the decay is on the wrong term: decay_rate keeps the OLD cache, "
                "cache = decay_rate * cache + (1 - decay_rate) * dw**2 (decay_rate 0.99 "
                "remembers about the last 100 steps).",
                _adaptive("rmsprop", _leak_swapped, _sqrt_plus_eps),
            ),
            Mistake("no_sqrt", NO_SQRT_HINT, _adaptive("rmsprop", _leak, _no_sqrt)),
            Mistake(
                "epsilon_inside_sqrt", EPS_INSIDE_HINT, _adaptive("rmsprop", _leak, _eps_inside)
            ),
            Mistake(
                "adagrad_cache",
                "your cache is AdaGrad's running sum (cache += dw**2). RMSProp lets old "
                "gradients fade: cache = decay_rate * cache + (1 - decay_rate) * dw**2.",
                _adaptive("rmsprop", _accumulate, _sqrt_plus_eps),
            ),
        ),
    ),
    {"learning_rate": 0.02, "decay_rate": 0.9, "epsilon": 1e-6},
    _draw_rmsprop,
    _cache_start,
)


@check
def check_rmsprop(rmsprop: Callable, cases: str = "public") -> CheckResult:
    """Check ``rmsprop``: ``cache = rho * cache + (1 - rho) * dw**2``, then AdaGrad's step."""
    return RMSPROP.run(cases, rmsprop)


# adam


def _adam_rule(*, correct: bool = True, late_t: bool = False, t_start: int = 0, eps_inside=False):
    def rule(w, dw, config=None):
        config = _settings(config, reference_optim.ADAM_DEFAULTS)
        b1, b2 = config["beta1"], config["beta2"]
        m = b1 * config.get("m", np.zeros_like(w)) + (1 - b1) * dw
        v = b2 * config.get("v", np.zeros_like(w)) + (1 - b2) * dw * dw
        t = config.get("t", t_start)
        if not late_t:
            t += 1
        m_hat, v_hat = (m / (1 - b1**t), v / (1 - b2**t)) if correct else (m, v)
        if late_t:
            t += 1
        eps = config["epsilon"]
        scale = np.sqrt(v_hat + eps) if eps_inside else np.sqrt(v_hat) + eps
        config.update(m=m, v=v, t=t)
        return w - config["learning_rate"] * m_hat / scale, config

    return rule


ADAM_LATE_T_HINT = (
    "t is incremented late, after the bias correction. t counts the steps taken: increment "
    "it first, so the first step corrects with t = 1 (1 - beta1**0 = 0 would divide by zero) "
    "and stores t = 1."
)


def _draw_adam(rng: np.random.Generator) -> dict:
    return {
        "learning_rate": log_uniform(rng, 1e-4, 1e-1),
        "beta1": float(rng.uniform(0.5, 0.95)),
        "beta2": float(rng.uniform(0.9, 0.9999)),
        "epsilon": _draw_epsilon(rng),
    }


def _adam_start(rng: np.random.Generator, shape: tuple) -> dict:
    return {
        "m": 0.1 * rng.standard_normal(shape),
        "v": rng.uniform(0.01, 0.1, size=shape),
        "t": int(rng.integers(1, 20)),
    }


ADAM = update_rule_exercise(
    "adam",
    UpdateRun(
        reference.adam,
        reference_optim.ADAM_DEFAULTS,
        ("m", "v", "t"),
        (
            Mistake(
                "no_bias_correction",
                "no bias correction. m and v start at zero, so early on they are too small; "
                "divide by (1 - beta1**t) and (1 - beta2**t): "
                "w - learning_rate * m_hat / (sqrt(v_hat) + epsilon).",
                _adam_rule(correct=False),
            ),
            Mistake("t_incremented_late", ADAM_LATE_T_HINT, _adam_rule(late_t=True)),
            Mistake(
                "t_incremented_late_from_one",
                ADAM_LATE_T_HINT,
                _adam_rule(late_t=True, t_start=1),
            ),
            Mistake("epsilon_inside_sqrt", EPS_INSIDE_HINT, _adam_rule(eps_inside=True)),
        ),
    ),
    {"learning_rate": 0.01, "beta1": 0.8, "beta2": 0.95, "epsilon": 1e-6},
    _draw_adam,
    _adam_start,
)


@check
def check_adam(adam: Callable, cases: str = "public") -> CheckResult:
    """Check ``adam``: moments m, v, ``t += 1`` first, bias-corrected step, epsilon outside."""
    return ADAM.run(cases, adam)
