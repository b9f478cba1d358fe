"""Checks for notebook 03, the optimisers' update rules.

A case is a short optimisation run: a starting ``w``, one gradient ``dw`` per step and a
starting ``config`` (None, some keys, or all of them, sometimes with saved state). The check
calls the student's ``update(w, dw, config)`` once per step on fresh arrays, feeding back the
config it returned (a plain dict of floats and ndarrays), and after every step compares
``next_w`` and the state in ``config`` with the PyTorch twin in ``course_utils.reference``, run
beside it in float64. Every step also checks that the hyper-parameters are in the returned
config, with the contract's defaults where the case left them out.

One case runs two optimisations interleaved (a step of one, a step of the other), each with its
own config: state kept anywhere but in ``config`` (a global, a closure, a default argument)
mixes them up. When a case fails and two calls with identical inputs give different answers,
the diagnosis says that the function keeps state outside ``config``: that is proof.

Hints name a known mistake only when the student's whole run so far equals the run of that
mistaken rule (``_RuleMistake``) on the same case.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from autograder.checks import _legacy_rules as _rules
from autograder.checks._compare import (
    FLOAT32,
    FLOAT64,
    Case,
    CaseFailure,
    CheckResult,
    as_float,
    as_float64_array,
    call_student,
    compare_arrays,
    describe_answer,
    expect_tuple,
    matches,
    run_check,
    select_cases,
    tolerance_for,
)
from autograder.checks._engine import check
from course_utils import reference
from course_utils.reference import optim as reference_optim

__all__ = ["check_sgd", "check_sgd_momentum", "check_adagrad", "check_rmsprop", "check_adam"]

ARG_NAMES = (
    "w",
    "dw (one per step)",
    "config",
    "second run's w",
    "second run's dw",
    "second run's config",
)


class _Shown(dict):
    """A starting config that describes its arrays by shape in a diagnosis (never passed on)."""

    def __repr__(self) -> str:
        parts = []
        for key, value in self.items():
            shown = f"array {value.shape}" if isinstance(value, np.ndarray) else repr(value)
            parts.append(f"{key!r}: {shown}")
        return "{" + ", ".join(parts) + "}"


@dataclass(frozen=True)
class _RuleMistake:
    """A known mistake as the NumPy update rule that makes it, ``(w, dw, config) -> (next_w, config)``."""

    hint: str
    rule: Callable


@dataclass(frozen=True)
class _Optimizer:
    name: str
    twin: Callable
    defaults: dict
    state: tuple[str, ...]
    mistakes: tuple[_RuleMistake, ...]


# --- running a case ---------------------------------------------------------------------------


def _runs(case: Case) -> list[tuple[np.ndarray, np.ndarray, dict | None]]:
    """The case's runs, (w, dw stacked over steps, config): one, or two to interleave."""
    args = case.args
    return [tuple(args[i : i + 3]) for i in range(0, len(args), 3)]


def _schedule(case: Case) -> list[tuple[int, int]]:
    """(run, step) in calling order: run A's steps, interleaved with run B's when there is one."""
    runs = _runs(case)
    steps = max(len(dw) for _, dw, _ in runs)
    return [(r, k) for k in range(steps) for r in range(len(runs)) if k < len(runs[r][1])]


def _plain(config: dict | None) -> dict | None:
    """A fresh plain dict of floats and ndarrays, as a student's code receives it."""
    if config is None:
        return None
    return {key: copy.deepcopy(value) for key, value in config.items()}


def _tensor_config(config: dict | None) -> dict | None:
    if config is None:
        return None
    return {
        key: torch.from_numpy(np.array(value, dtype=np.float64))
        if isinstance(value, np.ndarray)
        else value
        for key, value in config.items()
    }


def _numpy_state(value: Any) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.numpy()
    return np.array([float(value)])


def _snapshot(next_w: np.ndarray, config: dict, state: tuple[str, ...]) -> list[np.ndarray]:
    return [next_w] + [np.atleast_1d(np.asarray(config[key], dtype=np.float64)) for key in state]


def _same_snapshot(got: list[np.ndarray], predicted: list[np.ndarray]) -> bool:
    """Equal to float32 precision, with nan and inf in the same places."""
    if len(got) != len(predicted):
        return False
    for g, p in zip(got, predicted):
        p = np.asarray(p, dtype=np.float64)
        if g.shape != p.shape:
            return False
        if not np.array_equal(np.isfinite(g), np.isfinite(p)):
            return False
        finite = np.isfinite(g)
        if not np.array_equal(g[~finite], p[~finite], equal_nan=True):
            return False
        if not matches(g[finite], p[finite], FLOAT32):
            return False
    return True


def _mistake_run(rule: Callable, case: Case, state: tuple[str, ...], calls: int):
    """The snapshots of ``rule`` over the case's first ``calls`` calls; None when it fails."""
    runs = _runs(case)
    ws = [np.array(w, dtype=np.float64) for w, _, _ in runs]
    configs = [_plain(config) for _, _, config in runs]
    snapshots = []
    try:
        with np.errstate(all="ignore"):
            for r, k in _schedule(case)[:calls]:
                next_w, configs[r] = rule(ws[r].copy(), runs[r][1][k].copy(), configs[r])
                ws[r] = np.asarray(next_w, dtype=np.float64)
                snapshots.append(_snapshot(ws[r], configs[r], state))
    except Exception:
        return None
    return snapshots


def _diagnose(
    spec: _Optimizer, case: Case, got: list[list[np.ndarray]], expected: list[np.ndarray]
) -> str | None:
    """The hint of the first mistake whose run equals the student's run so far."""
    for mistake in spec.mistakes:
        predicted = _mistake_run(mistake.rule, case, spec.state, len(got))
        if predicted is None or not all(_same_snapshot(g, p) for g, p in zip(got, predicted)):
            continue
        last = predicted[-1]
        same_as_right = all(
            p.shape == e.shape and matches(np.asarray(p, dtype=np.float64), e, FLOAT64)
            for p, e in zip(last, expected)
        )
        if not same_as_right:
            return mistake.hint
    return None


HIDDEN_STATE_HINT = (
    "two calls with identical inputs gave different answers, so your function keeps state "
    "outside config (a global variable, a closure or a default argument). Everything that "
    "must survive to the next step belongs in config, which the caller hands back to you: "
    "one config per parameter is the whole optimiser state."
)


def _keeps_hidden_state(impl: Callable, spec: _Optimizer) -> bool:
    """Call ``impl`` twice on identical fresh inputs; True when the answers differ."""
    rng = np.random.default_rng(7)
    w, dw = rng.standard_normal(4), rng.standard_normal(4)
    answers = []
    for _ in range(2):
        try:
            probe = Case("probe", (w, dw, None))
            next_w, config = expect_tuple(
                call_student(impl, probe, spec.name).value, spec.name, ("next_w", "config")
            )
            answers.append(
                [np.asarray(next_w, dtype=np.float64)]
                + [np.asarray(config.get(k, np.nan), dtype=np.float64) for k in spec.state]
            )
        except Exception:
            return False
    return not all(
        a.shape == b.shape and np.array_equal(a, b, equal_nan=True)
        for a, b in zip(answers[0], answers[1])
    )


def _config_keys(
    spec: _Optimizer, config: Any, went_in: dict | None, expected: dict
) -> dict[str, Any]:
    """The returned config's hyper-parameters (right values) and state (present, converted).

    ``went_in`` is the config this call was given: its hyper-parameters must come back as they
    went in; the missing ones must come back with the contract's defaults.
    """
    if config is None:
        raise CaseFailure(
            f"{spec.name} returned None as its config. When config is None, start a new dict "
            "(config = {}), store the defaults in it, and return it: the caller hands it back "
            "at the next step."
        )
    if not isinstance(config, dict):
        raise CaseFailure(
            f"{spec.name} must return a tuple (next_w, config) with config a dict; config is "
            f"{describe_answer(config).removeprefix('one ')}."
        )
    given = went_in or {}
    for key, default in spec.defaults.items():
        if key not in config:
            raise CaseFailure(
                f'the returned config has no "{key}". When a hyper-parameter is missing, use '
                f"its default and store it back into config, e.g. "
                f'config.setdefault("{key}", {default!r}) (the contract\'s default for '
                f"{spec.name})."
            )
        value = as_float(config[key], spec.name, f'config["{key}"]')
        if not math.isclose(value, expected[key], rel_tol=1e-12, abs_tol=0.0):
            if key in given:
                raise CaseFailure(
                    f'config["{key}"] was {given[key]!r} when it went in and is {value!r} in the '
                    "config you returned: keep the caller's hyper-parameters as they are."
                )
            raise CaseFailure(
                f'config["{key}"] is {value!r}, but the default {key} of {spec.name} is '
                f"{default!r}.\n  Hint: wrong default. The contract's defaults for {spec.name} "
                f"are {spec.defaults}; use them when a key is missing, and store them in config."
            )
    state = {}
    for key in spec.state:
        if key not in config:
            raise CaseFailure(
                f'the returned config has no "{key}".\n  Hint: the optimiser\'s state must be '
                f'stored in config (config["{key}"] = ...), so that the next call, which gets '
                "this config back, continues from it. State kept anywhere else (a global, a "
                "closure) mixes up the runs of different parameters."
            )
        if key == "t":
            state[key] = np.array([as_float(config[key], spec.name, 'config["t"]')])
        else:
            state[key] = as_float64_array(config[key], spec.name, f'config["{key}"]')
    return state


def _check_run(spec: _Optimizer, impl: Callable, case: Case) -> float:
    runs = _runs(case)
    schedule = _schedule(case)
    ws = [np.array(w, dtype=np.float64) for w, _, _ in runs]
    configs = [_plain(config) for _, _, config in runs]
    twin_ws = [torch.from_numpy(w.copy()) for w in ws]
    twin_configs = [_tensor_config(config) for _, _, config in runs]
    got_snapshots: list[list[np.ndarray]] = []
    largest = 0.0
    for r, k in schedule:
        where = f"step {k + 1} of {len(runs[r][1])}" + (
            f" of run {'AB'[r]} (the runs are interleaved)" if len(runs) > 1 else ""
        )
        dw = runs[r][1][k]
        twin_ws[r], twin_configs[r] = spec.twin(
            twin_ws[r], torch.from_numpy(dw.copy()), twin_configs[r]
        )
        expected_w = twin_ws[r].numpy()
        expected_state = {key: _numpy_state(twin_configs[r][key]) for key in spec.state}
        step = Case(case.name, (ws[r], dw, configs[r]))
        try:
            answer = call_student(impl, step, spec.name).value
            next_w, config = expect_tuple(answer, spec.name, ("next_w", "config"))
            raw = next_w
            next_w = as_float64_array(next_w, spec.name, "next_w")
            state = _config_keys(spec, config, configs[r], twin_configs[r])
            got_snapshots.append([next_w] + [state[key] for key in spec.state])
            tol = tolerance_for(raw) if isinstance(raw, np.ndarray) else FLOAT64
            try:
                largest = max(largest, compare_arrays(next_w, expected_w, what="next_w", tol=tol))
                for key in spec.state:
                    what = f'config["{key}"]'
                    expected = expected_state[key]
                    got = state[key]
                    if key == "t":
                        if got.shape != expected.shape or got[0] != expected[0]:
                            raise CaseFailure(
                                f'config["t"] is {got[0]:g}, expected {expected[0]:g}: t counts '
                                "the steps taken, 0 before the first."
                            )
                        continue
                    compare_arrays(got, expected, what=what, tol=tolerance_for(got, tol))
            except CaseFailure as failure:
                expected_snapshot = [expected_w] + [expected_state[key] for key in spec.state]
                hint = _diagnose(spec, case, got_snapshots, expected_snapshot)
                raise CaseFailure(str(failure) + (f"\n  Hint: {hint}" if hint else "")) from None
        except CaseFailure as failure:
            text = str(failure)
            if "Hint:" not in text and _keeps_hidden_state(impl, spec):
                text += f"\n  Hint: {HIDDEN_STATE_HINT}"
            raise CaseFailure(f"at {where}: {text}") from None
        ws[r], configs[r] = next_w, config
    return largest


# --- cases ------------------------------------------------------------------------------------


def _gradients(rng: np.random.Generator, steps: int, shape: tuple, scale: float = 1.0):
    return scale * rng.standard_normal((steps, *shape))


def _public_cases(spec: _Optimizer, hyper: dict, state_start: Callable) -> list[Case]:
    """The public cases of every optimiser; ``hyper`` is a full set of other hyper-parameters."""
    rng = np.random.default_rng(303)
    first_key = next(iter(spec.defaults))
    sparse = _gradients(rng, 6, (3, 4))
    sparse[:, 0, :] = 0.0  # a dead unit: its gradient is exactly zero at every step
    w_a, w_b = rng.standard_normal((2, 5))
    resume = _Shown({**hyper, **state_start(rng, (2, 3))})
    cases = [
        Case(
            "config=None: every default", (rng.standard_normal(5), _gradients(rng, 6, (5,)), None)
        ),
        Case(
            f'only "{first_key}" given: the rest default',
            (rng.standard_normal(4), _gradients(rng, 6, (4,)), _Shown({first_key: 0.05})),
        ),
        Case(
            "2-D weights (4, 3), every hyper-parameter given",
            (rng.standard_normal((4, 3)), _gradients(rng, 8, (4, 3)), _Shown(hyper)),
        ),
        Case(
            "4-D conv weights (2, 3, 3, 3)",
            (rng.standard_normal((2, 3, 3, 3)), _gradients(rng, 5, (2, 3, 3, 3)), _Shown(hyper)),
        ),
        Case(
            "a scalar weight as a 1-element array",
            (np.array([1.5]), _gradients(rng, 10, (1,)), _Shown(hyper)),
        ),
        Case(
            "tiny gradients (about 1e-5)",
            (rng.standard_normal(6), _gradients(rng, 6, (6,), scale=1e-5), None),
        ),
        Case(
            "gradients exactly zero for one unit",
            (rng.standard_normal((3, 4)), sparse, _Shown(hyper)),
        ),
        Case(
            "two runs interleaved, each with its own config",
            (w_a, _gradients(rng, 6, (5,)), None, w_b, _gradients(rng, 6, (5,)), None),
        ),
    ]
    if spec.state:
        w, dw = rng.standard_normal((2, 3)), _gradients(rng, 6, (2, 3))
        cases.append(Case("resuming from a saved state", (w, dw, resume)))
    return cases


def _hidden_cases(
    spec: _Optimizer,
    rng: np.random.Generator,
    draw_hyper: Callable,
    state_start: Callable,
) -> list[Case]:
    shapes = [
        (1,),
        (int(rng.integers(2, 9)),),
        tuple(int(n) for n in rng.integers(1, 6, size=2)),
        tuple(int(n) for n in rng.integers(1, 4, size=4)),
    ]
    cases = []
    for i, shape in enumerate(shapes):
        steps = int(rng.integers(5, 11))
        scale = float(10 ** rng.uniform(-2, 1))
        cases.append(
            Case(
                f"hidden {i + 1}: w {shape}, {steps} steps, drawn hyper-parameters",
                (
                    rng.standard_normal(shape),
                    _gradients(rng, steps, shape, scale),
                    _Shown(draw_hyper(rng)),
                ),
            )
        )
    shape = shapes[2]
    cases += [
        Case(
            "hidden: config=None",
            (rng.standard_normal(shape), _gradients(rng, int(rng.integers(5, 11)), shape), None),
        ),
        Case(
            "hidden: tiny gradients",
            (
                rng.standard_normal(shape),
                _gradients(rng, 6, shape, float(10 ** rng.uniform(-7, -5))),
                _Shown({k: v for k, v in draw_hyper(rng).items() if k != "epsilon"}),
            ),
        ),
        Case(
            "hidden: resuming from a saved state" if spec.state else "hidden: five more steps",
            (
                rng.standard_normal(shape),
                _gradients(rng, 5, shape),
                _Shown({**draw_hyper(rng), **state_start(rng, shape)}),
            ),
        ),
        Case(
            "hidden: two runs interleaved",
            (
                rng.standard_normal(shape),
                _gradients(rng, 5, shape),
                _Shown(draw_hyper(rng)),
                rng.standard_normal(shape),
                _gradients(rng, 5, shape),
                None,
            ),
        ),
    ]
    return cases


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(10 ** rng.uniform(math.log10(low), math.log10(high)))


def _no_state(rng, shape) -> dict:
    return {}


def _run_check(
    spec: _Optimizer,
    impl: Callable,
    cases: str,
    hyper: dict,
    draw_hyper: Callable,
    state_start: Callable = _no_state,
) -> CheckResult:
    _rules.refuse_banned(spec.name, impl)
    guarded = _rules.guard(impl, spec.name)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        chosen = select_cases(
            cases,
            lambda: _public_cases(spec, hyper, state_start),
            lambda rng: _hidden_cases(spec, rng, draw_hyper, state_start),
            spec.name,
        )
        return run_check(
            spec.name,
            chosen,
            lambda case: _check_run(spec, guarded, case),
            kind=cases,
            arg_names=ARG_NAMES,
        )
    except _rules.BannedCall as banned:
        raise AssertionError(str(banned)) from None
    finally:
        torch.set_num_threads(threads)


# --- the rules as the known mistakes write them (NumPy) -----------------------------------------


def _settings(config: dict | None, defaults: dict) -> dict:
    config = {} if config is None else config
    for key, value in defaults.items():
        config.setdefault(key, value)
    return config


def _sgd_uphill(w, dw, config=None):
    config = _settings(config, reference_optim.SGD_DEFAULTS)
    return w + config["learning_rate"] * dw, config


@check
def check_sgd(sgd: Callable, cases: str = "public") -> CheckResult:
    """Check ``sgd(w, dw, config=None) -> (next_w, config)``: ``w - learning_rate * dw``."""
    spec = _Optimizer(
        "sgd",
        reference.sgd,
        reference_optim.SGD_DEFAULTS,
        (),
        (
            _RuleMistake(
                "you stepped uphill (w + learning_rate * dw). The gradient points to where the "
                "loss grows: step against it, w - learning_rate * dw.",
                _sgd_uphill,
            ),
        ),
    )
    return _run_check(spec, sgd, cases, {"learning_rate": 0.1}, _draw_learning_rate)


def _draw_learning_rate(rng: np.random.Generator) -> dict:
    return {"learning_rate": _log_uniform(rng, 1e-3, 1e-1)}


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


@check
def check_sgd_momentum(sgd_momentum: Callable, cases: str = "public") -> CheckResult:
    """Check ``sgd_momentum``: ``v = momentum * v - learning_rate * dw; next_w = w + v``."""
    spec = _Optimizer(
        "sgd_momentum",
        reference.sgd_momentum,
        reference_optim.SGD_MOMENTUM_DEFAULTS,
        ("velocity",),
        (
            _RuleMistake(MOMENTUM_SIGN_HINT, _momentum_flipped),
            _RuleMistake(MOMENTUM_SIGN_HINT, _momentum_subtracted),
            _RuleMistake(
                "your weights follow PyTorch's SGD, but config[\"velocity\"] holds PyTorch's "
                "buffer b = momentum * b + dw. The contract's velocity (the lecture's) is "
                "v = momentum * v - learning_rate * dw, the step itself, and next_w = w + v "
                "(v = -learning_rate * b).",
                _momentum_torch_buffer,
            ),
            _RuleMistake(
                "you moved w with the OLD velocity. Update the velocity first, "
                "v = momentum * v - learning_rate * dw, then step with the new one: w + v.",
                _momentum_old_velocity,
            ),
        ),
    )
    hyper = {"learning_rate": 0.05, "momentum": 0.8}
    return _run_check(spec, sgd_momentum, cases, hyper, _draw_momentum, _velocity_start)


def _draw_momentum(rng: np.random.Generator) -> dict:
    return {"learning_rate": _log_uniform(rng, 1e-3, 1e-1), "momentum": rng.uniform(0.5, 0.99)}


def _velocity_start(rng: np.random.Generator, shape: tuple) -> dict:
    return {"velocity": 0.1 * rng.standard_normal(shape)}


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


@check
def check_adagrad(adagrad: Callable, cases: str = "public") -> CheckResult:
    """Check ``adagrad``: ``cache += dw**2; next_w = w - lr * dw / (sqrt(cache) + epsilon)``."""
    spec = _Optimizer(
        "adagrad",
        reference.adagrad,
        reference_optim.ADAGRAD_DEFAULTS,
        ("cache",),
        (
            _RuleMistake(NO_SQRT_HINT, _adaptive("adagrad", _accumulate, _no_sqrt)),
            _RuleMistake(EPS_INSIDE_HINT, _adaptive("adagrad", _accumulate, _eps_inside)),
            _RuleMistake(
                "your cache forgets: AdaGrad ADDS every squared gradient to it "
                "(cache += dw**2), so the steps only ever shrink.",
                _adaptive("adagrad", lambda cache, dw, config: dw * dw, _sqrt_plus_eps),
            ),
        ),
    )
    hyper = {"learning_rate": 0.1, "epsilon": 1e-6}
    return _run_check(spec, adagrad, cases, hyper, _draw_adagrad, _cache_start)


def _draw_epsilon(rng: np.random.Generator) -> float:
    return float(rng.choice([1e-8, 1e-7, 1e-6, 1e-4]))


def _draw_adagrad(rng: np.random.Generator) -> dict:
    return {"learning_rate": _log_uniform(rng, 1e-3, 1.0), "epsilon": _draw_epsilon(rng)}


def _cache_start(rng: np.random.Generator, shape: tuple) -> dict:
    return {"cache": rng.uniform(0.1, 2.0, size=shape)}


@check
def check_rmsprop(rmsprop: Callable, cases: str = "public") -> CheckResult:
    """Check ``rmsprop``: ``cache = rho * cache + (1 - rho) * dw**2``, then AdaGrad's step."""
    spec = _Optimizer(
        "rmsprop",
        reference.rmsprop,
        reference_optim.RMSPROP_DEFAULTS,
        ("cache",),
        (
            _RuleMistake(
                "the decay is on the wrong term: decay_rate keeps the OLD cache, "
                "cache = decay_rate * cache + (1 - decay_rate) * dw**2 (decay_rate 0.99 "
                "remembers about the last 100 steps).",
                _adaptive("rmsprop", _leak_swapped, _sqrt_plus_eps),
            ),
            _RuleMistake(NO_SQRT_HINT, _adaptive("rmsprop", _leak, _no_sqrt)),
            _RuleMistake(EPS_INSIDE_HINT, _adaptive("rmsprop", _leak, _eps_inside)),
            _RuleMistake(
                "your cache is AdaGrad's running sum (cache += dw**2). RMSProp lets old "
                "gradients fade: cache = decay_rate * cache + (1 - decay_rate) * dw**2.",
                _adaptive("rmsprop", _accumulate, _sqrt_plus_eps),
            ),
        ),
    )
    hyper = {"learning_rate": 0.02, "decay_rate": 0.9, "epsilon": 1e-6}
    return _run_check(spec, rmsprop, cases, hyper, _draw_rmsprop, _cache_start)


def _draw_rmsprop(rng: np.random.Generator) -> dict:
    return {
        "learning_rate": _log_uniform(rng, 1e-3, 1e-1),
        "decay_rate": float(rng.uniform(0.5, 0.999)),
        "epsilon": _draw_epsilon(rng),
    }


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


@check
def check_adam(adam: Callable, cases: str = "public") -> CheckResult:
    """Check ``adam``: moments m, v, ``t += 1`` first, bias-corrected step, epsilon outside."""
    spec = _Optimizer(
        "adam",
        reference.adam,
        reference_optim.ADAM_DEFAULTS,
        ("m", "v", "t"),
        (
            _RuleMistake(
                "no bias correction. m and v start at zero, so early on they are too small; "
                "divide by (1 - beta1**t) and (1 - beta2**t): "
                "w - learning_rate * m_hat / (sqrt(v_hat) + epsilon).",
                _adam_rule(correct=False),
            ),
            _RuleMistake(ADAM_LATE_T_HINT, _adam_rule(late_t=True)),
            _RuleMistake(ADAM_LATE_T_HINT, _adam_rule(late_t=True, t_start=1)),
            _RuleMistake(EPS_INSIDE_HINT, _adam_rule(eps_inside=True)),
        ),
    )
    hyper = {"learning_rate": 0.01, "beta1": 0.8, "beta2": 0.95, "epsilon": 1e-6}
    return _run_check(spec, adam, cases, hyper, _draw_adam, _adam_start)


def _draw_adam(rng: np.random.Generator) -> dict:
    return {
        "learning_rate": _log_uniform(rng, 1e-4, 1e-1),
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
