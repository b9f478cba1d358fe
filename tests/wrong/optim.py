"""Deliberately wrong implementations of notebook 03's update rules, one per common mistake.

Each must FAIL its check, and the check's hint must name the mistake: ``adagrad_no_sqrt``
is diagnosed as ``adagrad/no_sqrt`` (tests/unit/test_checks_optim.py).
"""

import numpy as np


def _defaults(config, **defaults):
    config = {} if config is None else config
    for key, value in defaults.items():
        config.setdefault(key, value)
    return config


def sgd_default_learning_rate_1e_3(w, dw, config=None):
    config = _defaults(config, learning_rate=1e-3)
    return w - config["learning_rate"] * dw, config


def sgd_defaults_not_stored(w, dw, config=None):
    learning_rate = (config or {}).get("learning_rate", 1e-2)
    return w - learning_rate * dw, config


def sgd_uphill(w, dw, config=None):
    config = _defaults(config, learning_rate=1e-2)
    return w + config["learning_rate"] * dw, config


def sgd_returns_list(w, dw, config=None):
    config = _defaults(config, learning_rate=1e-2)
    return (w - config["learning_rate"] * dw).tolist(), config


def sgd_momentum_wrong_sign(w, dw, config=None):
    config = _defaults(config, learning_rate=1e-2, momentum=0.9)
    v = config.get("velocity", np.zeros_like(w))
    v = config["momentum"] * v + config["learning_rate"] * dw
    config["velocity"] = v
    return w + v, config


def sgd_momentum_wrong_sign_in_step(w, dw, config=None):
    config = _defaults(config, learning_rate=1e-2, momentum=0.9)
    v = config["momentum"] * config.get("velocity", np.zeros_like(w)) - config["learning_rate"] * dw
    config["velocity"] = v
    return w - v, config


def sgd_momentum_old_velocity(w, dw, config=None):
    config = _defaults(config, learning_rate=1e-2, momentum=0.9)
    v = config.get("velocity", np.zeros_like(w))
    config["velocity"] = config["momentum"] * v - config["learning_rate"] * dw
    return w + v, config


def sgd_momentum_pytorch_buffer(w, dw, config=None):
    config = _defaults(config, learning_rate=1e-2, momentum=0.9)
    buffer = config["momentum"] * config.get("velocity", np.zeros_like(w)) + dw
    config["velocity"] = buffer
    return w - config["learning_rate"] * buffer, config


_velocity = {}


def sgd_momentum_state_not_in_config(w, dw, config=None):
    config = _defaults(config, learning_rate=1e-2, momentum=0.9)
    v = _velocity.get("v")
    if v is None or v.shape != w.shape:
        v = np.zeros_like(w)
    v = config["momentum"] * v - config["learning_rate"] * dw
    _velocity["v"] = v
    return w + v, config


def _adam_with_closure_state():
    state = {}

    def adam_hidden_state(w, dw, config=None):
        """Keeps m, v and t in a closure, so that two parameters' runs share them."""
        config = _defaults(config, learning_rate=1e-3, beta1=0.9, beta2=0.999, epsilon=1e-8)
        if state.get("m") is None or state["m"].shape != w.shape:
            state.update(m=np.zeros_like(w), v=np.zeros_like(w), t=0)
        b1, b2 = config["beta1"], config["beta2"]
        state["m"] = b1 * state["m"] + (1 - b1) * dw
        state["v"] = b2 * state["v"] + (1 - b2) * dw**2
        state["t"] += 1
        m_hat = state["m"] / (1 - b1 ** state["t"])
        v_hat = state["v"] / (1 - b2 ** state["t"])
        config.update(m=state["m"].copy(), v=state["v"].copy(), t=state["t"])
        return w - config["learning_rate"] * m_hat / (np.sqrt(v_hat) + config["epsilon"]), config

    return adam_hidden_state


adam_hidden_state = _adam_with_closure_state()


def adagrad_no_sqrt(w, dw, config=None):
    config = _defaults(config, learning_rate=1e-2, epsilon=1e-8)
    cache = config.get("cache", np.zeros_like(w)) + dw**2
    config["cache"] = cache
    return w - config["learning_rate"] * dw / (cache + config["epsilon"]), config


def adagrad_epsilon_inside_sqrt(w, dw, config=None):
    config = _defaults(config, learning_rate=1e-2, epsilon=1e-8)
    cache = config.get("cache", np.zeros_like(w)) + dw**2
    config["cache"] = cache
    return w - config["learning_rate"] * dw / np.sqrt(cache + config["epsilon"]), config


def adagrad_cache_forgets(w, dw, config=None):
    config = _defaults(config, learning_rate=1e-2, epsilon=1e-8)
    config["cache"] = dw**2
    return w - config["learning_rate"] * dw / (np.sqrt(config["cache"]) + config["epsilon"]), config


def rmsprop_decay_on_wrong_term(w, dw, config=None):
    config = _defaults(config, learning_rate=1e-2, decay_rate=0.99, epsilon=1e-8)
    rho = config["decay_rate"]
    cache = (1 - rho) * config.get("cache", np.zeros_like(w)) + rho * dw**2
    config["cache"] = cache
    return w - config["learning_rate"] * dw / (np.sqrt(cache) + config["epsilon"]), config


def rmsprop_epsilon_inside_sqrt(w, dw, config=None):
    config = _defaults(config, learning_rate=1e-2, decay_rate=0.99, epsilon=1e-8)
    rho = config["decay_rate"]
    cache = rho * config.get("cache", np.zeros_like(w)) + (1 - rho) * dw**2
    config["cache"] = cache
    return w - config["learning_rate"] * dw / np.sqrt(cache + config["epsilon"]), config


def rmsprop_no_sqrt(w, dw, config=None):
    config = _defaults(config, learning_rate=1e-2, decay_rate=0.99, epsilon=1e-8)
    rho = config["decay_rate"]
    cache = rho * config.get("cache", np.zeros_like(w)) + (1 - rho) * dw**2
    config["cache"] = cache
    return w - config["learning_rate"] * dw / (cache + config["epsilon"]), config


def rmsprop_adagrad_cache(w, dw, config=None):
    config = _defaults(config, learning_rate=1e-2, decay_rate=0.99, epsilon=1e-8)
    cache = config.get("cache", np.zeros_like(w)) + dw**2
    config["cache"] = cache
    return w - config["learning_rate"] * dw / (np.sqrt(cache) + config["epsilon"]), config


def rmsprop_default_decay_rate_0_9(w, dw, config=None):
    config = _defaults(config, learning_rate=1e-2, decay_rate=0.9, epsilon=1e-8)
    rho = config["decay_rate"]
    cache = rho * config.get("cache", np.zeros_like(w)) + (1 - rho) * dw**2
    config["cache"] = cache
    return w - config["learning_rate"] * dw / (np.sqrt(cache) + config["epsilon"]), config


def _adam(w, dw, config, *, correct=True, late_t=False, t_start=0, eps_inside=False, lr=1e-3):
    config = _defaults(config, learning_rate=lr, beta1=0.9, beta2=0.999, epsilon=1e-8)
    b1, b2 = config["beta1"], config["beta2"]
    m = b1 * config.get("m", np.zeros_like(w)) + (1 - b1) * dw
    v = b2 * config.get("v", np.zeros_like(w)) + (1 - b2) * dw**2
    t = config.get("t", t_start)
    if not late_t:
        t += 1
    m_hat, v_hat = (m / (1 - b1**t), v / (1 - b2**t)) if correct else (m, v)
    if late_t:
        t += 1
    scale = np.sqrt(v_hat + config["epsilon"]) if eps_inside else np.sqrt(v_hat) + config["epsilon"]
    config.update(m=m, v=v, t=t)
    return w - config["learning_rate"] * m_hat / scale, config


def adam_no_bias_correction(w, dw, config=None):
    return _adam(w, dw, config, correct=False)


def adam_t_incremented_late(w, dw, config=None):
    return _adam(w, dw, config, late_t=True)


def adam_t_incremented_late_from_one(w, dw, config=None):
    """Starts t at 1 so that the first correction does not divide by zero, then counts late."""
    return _adam(w, dw, config, late_t=True, t_start=1)


def adam_epsilon_inside_sqrt(w, dw, config=None):
    return _adam(w, dw, config, eps_inside=True)


def adam_default_learning_rate_1e_2(w, dw, config=None):
    return _adam(w, dw, config, lr=1e-2)


def sgd_momentum_velocity_as_list(w, dw, config=None):
    next_w, config = sgd_momentum_pytorch_buffer(w, dw, config)
    config["velocity"] = (next_w - w).tolist()
    return next_w, config
