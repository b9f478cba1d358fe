"""Checks for notebook 04, batch normalisation.

Every check calls the student's NumPy functions with fresh float64 arrays, compares with the
PyTorch twin in ``course_utils.reference.batchnorm`` (in float64), and fails with a diagnosis.

A forward case is a short training run: several calls with the SAME ``bn_param`` dict (modes
such as train, train, test), so the running averages are checked after every call, as the
contract says they are stored into ``bn_param``. A backward check gives the student's backward
only the cache that the same student's forward returned: caches are opaque.

Hints name a common mistake only when the answer equals what that mistake computes on the same
inputs (unbiased variance, momentum and 1 - momentum swapped, test mode on the batch's own
statistics, eps outside the square root, running averages not stored, a missing dvar or dmu
path, spatial statistics over the wrong axes).

Batch size: training mode needs at least two values per statistic (with N = 1 the variance is 0
and the output is beta whatever x is; the twins and PyTorch refuse it), so the checks never call
training mode with one value per feature; test mode is checked with N = 1 too, and spatial
training mode with N = 1 when H * W > 1.

Like the notebook 02 checks, these apply the banned-library rule of ``_rules``: no PyTorch,
``course_utils`` or SciPy inside a NumPy exercise.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from autograder.checks import _legacy_rules as _rules
from autograder.checks._compare import (
    Case,
    CaseFailure,
    CheckResult,
    Tolerance,
    as_float64_array,
    call_student,
    compare_arrays,
    expect_tuple,
    matches,
    run_check,
    select_cases,
    tolerance_for,
)
from autograder.checks._engine import check
from course_utils.reference import batchnorm as twins

__all__ = [
    "check_batchnorm_forward",
    "check_batchnorm_backward",
    "check_spatial_batchnorm_forward",
    "check_spatial_batchnorm_backward",
]

DEFAULT_EPS = twins.DEFAULT_EPS
DEFAULT_MOMENTUM = twins.DEFAULT_MOMENTUM
RUNNING = ("running_mean", "running_var")
FORWARD_ARGS = ("xs", "modes", "gamma", "beta", "bn_param", "(running_mean, running_var) at start")
BACKWARD_ARGS = ("x", "gamma", "beta", "bn_param", "dout")

_FORGOT_TO_STORE = (
    "the running averages were not stored into bn_param. Training mode must end with "
    'bn_param["running_mean"] = running_mean and bn_param["running_var"] = running_var (the '
    "updated values), so the next call and test mode see them."
)


# --- calling the twins and the student's code ----------------------------------------------------


def _tensor(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.array(value, dtype=np.float64, copy=True))
    if isinstance(value, dict):
        return {key: _tensor(item) for key, item in value.items()}
    return value


def _numpy(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy().astype(np.float64)
    if isinstance(value, tuple):
        return tuple(_numpy(v) for v in value)
    return value


def _display_name(impl: Callable, default: str) -> str:
    name = getattr(impl, "__name__", "")
    return name if name.isidentifier() else default


def _guarded(name: str, impls: Sequence[Callable], run: Callable[..., CheckResult]) -> CheckResult:
    """Apply the banned-library rule to ``impls``, then ``run`` the check on guarded versions."""
    _rules.refuse_banned(name, *impls)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the twins see a few hundred numbers: one thread is fastest
    try:
        return run(*(_rules.guard(impl, name) for impl in impls))
    except _rules.BannedCall as banned:
        raise AssertionError(str(banned)) from None
    finally:
        torch.set_num_threads(threads)


def _call(func: Callable, args: tuple, name: str, case: Case) -> Any:
    """Call ``func(*args)`` with these very arguments (bn_param is shared between the steps)."""
    return call_student(lambda: func(*args), Case(case.name), name).value


def _answer(value: Any, name: str, what: str) -> tuple[np.ndarray, Tolerance]:
    """A float64 copy of a returned array and the tolerance its own dtype earns."""
    array = as_float64_array(value, name, what)
    return array, tolerance_for(value)


def _hint(predictions: Sequence[tuple[str, Any]], got: np.ndarray, tol: Tolerance) -> str | None:
    """The hint of the first prediction equal to ``got`` (``None`` predictions do not apply)."""
    for hint, predicted in predictions:
        if predicted is None:
            continue
        predicted = np.asarray(predicted, dtype=np.float64)
        if predicted.shape == got.shape and np.isfinite(predicted).all():
            if matches(got, predicted, tol):
                return hint
    return None


def _compare(
    got: np.ndarray,
    expected: np.ndarray,
    what: str,
    tol: Tolerance,
    predictions: Sequence[tuple[str, Any]] = (),
    where: str = "",
) -> float:
    """compare_arrays, prefixed with ``where``, with the hint of a matching prediction."""
    try:
        return compare_arrays(got, expected, what=what, tol=tol, swapped_layout_hint=False)
    except CaseFailure as failure:
        hint = _hint(predictions, got, tol)
        body = f"{where}{failure}" + (f"\n  Hint: {hint}" if hint else "")
        raise CaseFailure(body) from None


# --- the known mistakes, computed in NumPy -------------------------------------------------------

_HINT_UNBIASED = (
    "you used the unbiased variance (dividing by N - 1, e.g. np.var(x, axis=0, ddof=1)). Batch "
    "normalisation uses the BIASED batch variance, mean((x - mu) ** 2) with 1/N, both to "
    "normalise and in the running average (torch.nn.BatchNorm uses 1/N to normalise too)."
)
_HINT_MOMENTUM = (
    "you swapped momentum and 1 - momentum. The contract keeps `momentum` of the OLD average: "
    "running = momentum * running + (1 - momentum) * batch_statistic, so with momentum 0.9 a new "
    "batch moves it by 10%. (torch.nn.BatchNorm's momentum is the other way round: its 0.1 is "
    "our 0.9.)"
)
_HINT_TEST_ON_BATCH = (
    "in test mode you normalised with the test batch's own mean and variance. Test mode uses "
    'bn_param["running_mean"] and bn_param["running_var"], so that an example\'s output does '
    "not depend on the other examples in its batch (and works for a batch of one)."
)
_HINT_EPS_OUTSIDE = (
    "eps belongs INSIDE the square root: x_hat = (x - mu) / sqrt(var + eps), not "
    "(x - mu) / (sqrt(var) + eps). The two differ by about eps / sqrt(var) relative, most where "
    "a variance is small."
)


def _rows(x: np.ndarray) -> np.ndarray:
    n, c, h, w = x.shape
    return x.transpose(0, 2, 3, 1).reshape(n * h * w, c)  # (N*H*W, C)


def _image(rows: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    n, c, h, w = shape
    return rows.reshape(n, h, w, c).transpose(0, 3, 1, 2)  # (N, C, H, W)


def _simulate(
    xs: Sequence[np.ndarray],
    modes: Sequence[str],
    gamma: np.ndarray,
    beta: np.ndarray,
    bn_param: dict,
    start: tuple,
    variant: str,
    spatial: bool,
) -> list[dict[str, np.ndarray | None]]:
    """What a forward with the mistake ``variant`` returns at every step, and what it leaves in
    bn_param: a list of {"out", "running_mean", "running_var"} (None where it cannot be said)."""
    eps = bn_param.get("eps", DEFAULT_EPS)
    momentum = bn_param.get("momentum", DEFAULT_MOMENTUM)
    d = gamma.shape[0]
    running = {
        "running_mean": np.zeros(d) if start[0] is None else np.array(start[0], dtype=np.float64),
        "running_var": np.zeros(d) if start[1] is None else np.array(start[1], dtype=np.float64),
    }
    ddof_normalise = 1 if variant == "unbiased" else 0
    ddof_running = 1 if variant in ("unbiased", "unbiased_running") else 0
    keep, new = (
        (1 - momentum, momentum) if variant == "momentum_swapped" else (momentum, 1 - momentum)
    )

    def normalise(rows, mu, var):
        if variant == "eps_outside":
            return (rows - mu) / (np.sqrt(var) + eps)
        return (rows - mu) / np.sqrt(var + eps)

    steps = []
    for x, mode in zip(xs, modes):
        rows = _rows(x) if spatial else x
        if rows.shape[0] < 2 and (mode == "train" or variant == "test_on_batch"):
            steps.append({"out": None, **dict.fromkeys(RUNNING)})
            continue
        if mode == "train" or variant == "test_on_batch":
            mu, var = rows.mean(axis=0), rows.var(axis=0, ddof=ddof_normalise)
        else:
            mu, var = running["running_mean"], running["running_var"]
        out = gamma * normalise(rows, mu, var) + beta
        if mode == "train" and variant != "not_stored":
            batch_var = rows.var(axis=0, ddof=ddof_running)
            running = {
                "running_mean": keep * running["running_mean"] + new * mu,
                "running_var": keep * running["running_var"] + new * batch_var,
            }
        steps.append({"out": _image(out, x.shape) if spatial else out, **copy.deepcopy(running)})
    return steps


_FORWARD_VARIANTS = (
    ("not_stored", _FORGOT_TO_STORE),
    ("momentum_swapped", _HINT_MOMENTUM),
    ("unbiased", _HINT_UNBIASED),
    ("unbiased_running", _HINT_UNBIASED),
    ("test_on_batch", _HINT_TEST_ON_BATCH),
    ("eps_outside", _HINT_EPS_OUTSIDE),
)


def _normalised_over(x: np.ndarray, axes: tuple[int, ...], gamma, beta, eps) -> np.ndarray:
    mu = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    return gamma[None, :, None, None] * (x - mu) / np.sqrt(var + eps) + beta[None, :, None, None]


_WRONG_AXES = (
    (
        (1, 2, 3),
        "your statistics are per example, over C, H and W (H * W * C values each). Spatial batch "
        "norm has one mean and one variance per CHANNEL, over N, H and W: view x as "
        "(N * H * W, C) (transpose to (N, H, W, C) first) and normalise each column.",
    ),
    (
        (0,),
        "your statistics are per (channel, row, column) position, over N only (as if x were "
        "(N, C * H * W)). Spatial batch norm shares one mean and one variance per channel over "
        "N, H and W, like the filter it follows, which is shared over all positions.",
    ),
    (
        (2, 3),
        "your statistics are per image and channel, over H and W only (that is instance "
        "normalisation). Batch norm takes each channel's statistics over the whole batch as "
        "well: over N, H and W.",
    ),
    (
        (0, 1, 2, 3),
        "you used one mean and one variance for the whole tensor. Spatial batch norm has one "
        "per channel, over N, H and W.",
    ),
)


def _unpermuted(x: np.ndarray, gamma, beta, eps) -> np.ndarray:
    """x.reshape(-1, C) without the transpose: each "row" mixes channels."""
    n, c, h, w = x.shape
    rows = x.reshape(-1, c)
    out = gamma * (rows - rows.mean(axis=0)) / np.sqrt(rows.var(axis=0) + eps) + beta
    return out.reshape(n, c, h, w)


_HINT_UNPERMUTED = (
    "you reshaped x (N, C, H, W) straight to (N * H * W, C). Without moving C last first "
    "(x.transpose(0, 2, 3, 1)), each row mixes values of different channels. Transpose, "
    "reshape, normalise, then reshape and transpose back."
)


def _forward_predictions(
    args: tuple, step: int, quantity: str, spatial: bool
) -> list[tuple[str, Any]]:
    xs, modes, gamma, beta, bn_param, start = args
    predictions = []
    for variant, hint in _FORWARD_VARIANTS:
        steps = _simulate(xs, modes, gamma, beta, bn_param, start, variant, spatial)
        predictions.append((hint, steps[step][quantity]))
    if spatial and quantity == "out" and modes[step] == "train" and step == 0:
        eps = bn_param.get("eps", DEFAULT_EPS)
        x = xs[0]
        for axes, hint in _WRONG_AXES:
            predictions.append((hint, _normalised_over(x, axes, gamma, beta, eps)))
        predictions.append((_HINT_UNPERMUTED, _unpermuted(x, gamma, beta, eps)))
    return predictions


# --- forward: several steps with one bn_param ----------------------------------------------------


def _start_param(bn_param: dict, start: tuple) -> dict:
    param = copy.deepcopy(bn_param)
    for key, value in zip(RUNNING, start):
        if value is not None:
            param[key] = np.array(value, dtype=np.float64, copy=True)
    return param


def _expected_steps(twin: Callable, args: tuple) -> list[dict[str, np.ndarray]]:
    xs, modes, gamma, beta, bn_param, start = copy.deepcopy(args)
    param = _tensor(_start_param(bn_param, start))
    steps = []
    for x, mode in zip(xs, modes):
        param["mode"] = mode
        out, _ = twin(_tensor(x), _tensor(gamma), _tensor(beta), param)
        steps.append({"out": _numpy(out), **{key: _numpy(param[key]) for key in RUNNING}})
    return steps


def _check_forward(
    name: str,
    impl: Callable,
    cases: str,
    twin: Callable,
    public: Callable[[], list[Case]],
    hidden: Callable[[np.random.Generator], list[Case]],
    spatial: bool,
) -> CheckResult:
    def run(guarded: Callable) -> CheckResult:
        def evaluate(case: Case) -> float:
            args = case.fresh()[0]
            xs, modes, gamma, beta, bn_param, start = args
            expected = _expected_steps(twin, args)
            state = _start_param(bn_param, start)  # the student's bn_param, shared by the steps
            error = 0.0
            for k, (x, mode) in enumerate(zip(xs, modes)):
                where = f"step {k + 1} of {len(xs)} ({mode} mode"
                where += ", same bn_param as before):\n  " if k else "):\n  "
                state["mode"] = mode
                before = {key: copy.deepcopy(state.get(key)) for key in RUNNING}
                x_in = x.copy()
                value = _call(guarded, (x_in, gamma.copy(), beta.copy(), state), name, case)
                if not np.array_equal(x_in, x):
                    raise CaseFailure(
                        f"{where}{name} changed its input x in place. Work on new arrays "
                        "(x - mu returns one)."
                    )
                out, _ = expect_tuple(value, name, ("out", "cache"))
                got, tol = _answer(out, name, "out")
                predictions = _forward_predictions(case.fresh()[0], k, "out", spatial)
                error = max(
                    error, _compare(got, expected[k]["out"], "out", tol, predictions, where)
                )
                for key in RUNNING:
                    error = max(
                        error,
                        _check_running(name, state, key, before[key], expected, case, k, where),
                    )
            return error

        chosen = select_cases(cases, public, hidden, name)
        return run_check(name, chosen, evaluate, kind=cases, arg_names=FORWARD_ARGS)

    return _guarded(name, [impl], run)


def _check_running(
    name: str,
    state: dict,
    key: str,
    before: Any,
    expected: list[dict],
    case: Case,
    k: int,
    where: str,
) -> float:
    """Compare bn_param[key] after step k with the twin's; name a mistake when one explains it."""
    mode = case.args[1][k]
    if key not in state:
        raise CaseFailure(
            f'{where}bn_param has no "{key}" after this call.\n  Hint: {_FORGOT_TO_STORE}'
        )
    got, tol = _answer(state[key], name, f'bn_param["{key}"]')
    want = expected[k][key]
    if mode == "train" and before is not None and got.shape == want.shape:
        unchanged = np.array_equal(got, np.asarray(before, dtype=np.float64))
        if unchanged and not matches(got, want, tol):
            raise CaseFailure(
                f'{where}bn_param["{key}"] is unchanged by a training step.\n'
                f"  Hint: {_FORGOT_TO_STORE}"
            )
    spatial = case.args[0][0].ndim == 4
    predictions = _forward_predictions(case.fresh()[0], k, key, spatial)
    return _compare(got, want, f'bn_param["{key}"]', tol, predictions, where)


def _forward_case(
    name: str,
    xs: list[np.ndarray],
    modes: tuple[str, ...],
    gamma: np.ndarray,
    beta: np.ndarray,
    bn_param: dict | None = None,
    start: tuple = (None, None),
) -> Case:
    return Case(name, (xs, modes, gamma, beta, dict(bn_param or {}), start))


def _features(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    """(N, D) features with their own scale and offset per column, as a layer's activations."""
    scale = rng.uniform(0.5, 4.0, size=d)
    shift = rng.uniform(-3.0, 3.0, size=d)
    return rng.standard_normal((n, d)) * scale + shift


def _affine_params(rng: np.random.Generator, d: int) -> tuple[np.ndarray, np.ndarray]:
    return rng.uniform(0.5, 2.0, size=d), rng.standard_normal(d)


def _flat_forward_cases() -> list[Case]:
    rng = np.random.default_rng(4004)
    gamma, beta = _affine_params(rng, 5)
    tiny = _features(rng, 8, 3)
    tiny[:, 1] = 5.0 + 1e-2 * rng.standard_normal(8)  # variance ~1e-4: eps matters
    return [
        _forward_case(
            "one training step, running statistics absent (start at zeros)",
            [_features(rng, 4, 5)],
            ("train",),
            gamma,
            beta,
            {},
        ),
        _forward_case(
            "three training steps, then test mode (defaults eps 1e-5, momentum 0.9)",
            [_features(rng, 6, 5) for _ in range(3)] + [_features(rng, 3, 5)],
            ("train", "train", "train", "test"),
            gamma,
            beta,
            {},
        ),
        _forward_case(
            "momentum 0.7, eps 1e-3, running statistics given",
            [_features(rng, 5, 5), _features(rng, 5, 5), _features(rng, 2, 5)],
            ("train", "train", "test"),
            gamma,
            beta,
            {"momentum": 0.7, "eps": 1e-3},
            (rng.standard_normal(5), rng.uniform(0.5, 2.0, 5)),
        ),
        _forward_case(
            "test mode first, with given running statistics, then a single example (N=1)",
            [_features(rng, 4, 5), _features(rng, 1, 5)],
            ("test", "test"),
            gamma,
            beta,
            {},
            (rng.standard_normal(5), rng.uniform(0.5, 2.0, 5)),
        ),
        _forward_case(
            "a feature with tiny variance (1e-4), where eps matters",
            [tiny, tiny + 0.01],
            ("train", "test"),
            *_affine_params(rng, 3),
            {},
        ),
        _forward_case(
            "batch of 2 (the smallest for training), one feature",
            [_features(rng, 2, 1), _features(rng, 2, 1), _features(rng, 3, 1)],
            ("train", "train", "test"),
            *_affine_params(rng, 1),
            {"momentum": 0.5},
        ),
    ]


def _modes(rng: np.random.Generator) -> tuple[str, ...]:
    steps = int(rng.integers(1, 4))
    return ("train",) * steps + ("test",) * int(rng.integers(1, 3))


def _bn_param(rng: np.random.Generator) -> dict:
    param: dict = {}
    if rng.random() < 0.5:
        param["momentum"] = float(rng.choice([0.0, 0.5, 0.8, 0.95, 0.99]))
    if rng.random() < 0.5:
        param["eps"] = float(rng.choice([1e-5, 1e-4, 1e-3]))
    return param


def _start(rng: np.random.Generator, d: int) -> tuple:
    if rng.random() < 0.5:
        return (None, None)
    return (rng.standard_normal(d), rng.uniform(0.2, 3.0, d))


def _hidden_flat_forward_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for i in range(6):
        d = int(rng.integers(1, 13))
        modes = _modes(rng)
        xs = [
            _features(rng, int(rng.integers(2, 17)) if m == "train" else int(rng.integers(1, 9)), d)
            for m in modes
        ]
        cases.append(
            _forward_case(
                f"hidden {i + 1}: D={d}, modes {', '.join(modes)}",
                xs,
                modes,
                *_affine_params(rng, d),
                _bn_param(rng),
                _start(rng, d),
            )
        )
    return cases


@check
def check_batchnorm_forward(batchnorm_forward: Callable, cases: str = "public") -> CheckResult:
    """Check ``batchnorm_forward(x, gamma, beta, bn_param) -> (out, cache)``, x (N, D).

    Each case calls it several times with one bn_param dict (training steps, then test mode) and
    compares ``out`` and the running statistics stored into bn_param after every call.
    """
    name = _display_name(batchnorm_forward, "batchnorm_forward")
    return _check_forward(
        name,
        batchnorm_forward,
        cases,
        twins.batchnorm_forward,
        _flat_forward_cases,
        _hidden_flat_forward_cases,
        spatial=False,
    )


def _images(rng: np.random.Generator, shape: tuple[int, int, int, int]) -> np.ndarray:
    """(N, C, H, W) activations with their own scale and offset per channel."""
    c = shape[1]
    scale = rng.uniform(0.5, 4.0, size=(1, c, 1, 1))
    shift = rng.uniform(-3.0, 3.0, size=(1, c, 1, 1))
    return rng.standard_normal(shape) * scale + shift


def _spatial_forward_cases() -> list[Case]:
    rng = np.random.default_rng(4044)
    gamma, beta = _affine_params(rng, 3)
    return [
        _forward_case(
            "x (2, 3, 4, 5), one training step",
            [_images(rng, (2, 3, 4, 5))],
            ("train",),
            gamma,
            beta,
            {},
        ),
        _forward_case(
            "x (4, 3, 3, 2), two training steps, then test mode",
            [_images(rng, (4, 3, 3, 2)) for _ in range(2)] + [_images(rng, (2, 3, 3, 2))],
            ("train", "train", "test"),
            gamma,
            beta,
            {"momentum": 0.8},
        ),
        _forward_case(
            "N=1 in training mode (H * W = 12 values per channel), then test mode",
            [_images(rng, (1, 3, 3, 4)), _images(rng, (1, 3, 3, 4))],
            ("train", "test"),
            gamma,
            beta,
            {"eps": 1e-3},
            (rng.standard_normal(3), rng.uniform(0.5, 2.0, 3)),
        ),
        _forward_case(
            "one channel, 1x1 images (N=5)",
            [_images(rng, (5, 1, 1, 1)), _images(rng, (2, 1, 1, 1))],
            ("train", "test"),
            *_affine_params(rng, 1),
            {},
        ),
    ]


def _hidden_spatial_forward_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for i in range(5):
        c, h, w = (int(v) for v in rng.integers(1, 6, size=3))
        modes = _modes(rng)
        xs = []
        for mode in modes:
            n = int(rng.integers(1, 5))
            if mode == "train" and n * h * w < 2:
                n = 2
            xs.append(_images(rng, (n, c, h, w)))
        cases.append(
            _forward_case(
                f"hidden {i + 1}: C={c}, {h}x{w}, modes {', '.join(modes)}",
                xs,
                modes,
                *_affine_params(rng, c),
                _bn_param(rng),
                _start(rng, c),
            )
        )
    return cases


@check
def check_spatial_batchnorm_forward(
    spatial_batchnorm_forward: Callable, cases: str = "public"
) -> CheckResult:
    """Check ``spatial_batchnorm_forward(x, gamma, beta, bn_param) -> (out, cache)``,
    x (N, C, H, W): one mean and variance per channel over N, H, W; running statistics (C,)."""
    name = _display_name(spatial_batchnorm_forward, "spatial_batchnorm_forward")
    return _check_forward(
        name,
        spatial_batchnorm_forward,
        cases,
        twins.spatial_batchnorm_forward,
        _spatial_forward_cases,
        _hidden_spatial_forward_cases,
        spatial=True,
    )


# --- backward: the student's forward's cache goes to the student's backward ---------------------


def _flat_grads(x: np.ndarray, gamma: np.ndarray, eps: float, dout: np.ndarray, path: str):
    """(dx, dgamma, dbeta) of a backward that keeps only some paths of the staged graph."""
    n = x.shape[0]
    mu = x.mean(axis=0)
    x_mu = x - mu
    var = x.var(axis=0)
    inv_std = 1.0 / np.sqrt(var + eps)
    x_hat = x_mu * inv_std
    dx_hat = dout * gamma
    dvar = np.sum(dx_hat * x_mu, axis=0) * -0.5 * inv_std**3
    dmu = np.sum(-dx_hat * inv_std, axis=0)
    dx = dx_hat * inv_std
    if path in ("no_dmu", "full"):
        dx = dx + dvar * 2 * x_mu / n
    if path in ("no_dvar", "full"):
        dx = dx + dmu / n
    dgamma = np.sum(dout * x_hat, axis=0)
    if path == "dgamma_with_x":
        dgamma = np.sum(dout * x, axis=0)
    return dx, dgamma, np.sum(dout, axis=0)


_BACKWARD_MISTAKES = (
    (
        "no_dvar",
        "dx",
        "your dx has no dvar path: var depends on every x_i, so dx needs "
        "dvar * 2 (x_i - mu) / N, with dvar = sum_i dx_hat_i (x_i - mu) * (-1/2) (var + eps)^(-3/2).",
    ),
    (
        "no_dmu",
        "dx",
        "your dx has no dmu path: mu depends on every x_i, so dx needs dmu / N, with "
        "dmu = sum_i -dx_hat_i / sqrt(var + eps) + dvar * mean(-2 (x - mu)).",
    ),
    (
        "direct_only",
        "dx",
        "your dx is only dout * gamma / sqrt(var + eps), as if mu and var were constants. In "
        "training mode they are computed from the batch: add the dvar and dmu paths.",
    ),
    (
        "dgamma_with_x",
        "dgamma",
        "dgamma is sum(dout * x), but gamma multiplies the NORMALISED x_hat: "
        "dgamma = sum over the batch of dout * x_hat.",
    ),
)


def _backward_predictions(args: tuple, grad: str, spatial: bool) -> list[tuple[str, Any]]:
    x, gamma, _, bn_param, dout = args
    eps = bn_param.get("eps", DEFAULT_EPS)
    index = ("dx", "dgamma", "dbeta").index(grad)
    rows, drows = (_rows(x), _rows(dout)) if spatial else (x, dout)
    predictions = []
    for path, applies_to, hint in _BACKWARD_MISTAKES:
        if applies_to != grad:
            continue
        value = _flat_grads(rows, gamma, eps, drows, path)[index]
        predictions.append((hint, _image(value, x.shape) if spatial and grad == "dx" else value))
    return predictions


def _check_backward(
    name: str,
    forward: Callable,
    backward: Callable,
    cases: str,
    twin_forward: Callable,
    twin_backward: Callable,
    public: Callable[[], list[Case]],
    hidden: Callable[[np.random.Generator], list[Case]],
    spatial: bool,
) -> CheckResult:
    forward_name = _display_name(forward, "forward")

    def run(forward_impl: Callable, backward_impl: Callable) -> CheckResult:
        def evaluate(case: Case) -> float:
            x, gamma, beta, bn_param, dout = case.fresh()[0]
            twin_out, twin_cache = twin_forward(
                _tensor(x), _tensor(gamma), _tensor(beta), _tensor(dict(bn_param))
            )
            expected = _numpy(twin_backward(_tensor(dout), twin_cache))
            try:
                value = _call(forward_impl, (x, gamma, beta, dict(bn_param)), forward_name, case)
                out, cache = expect_tuple(value, forward_name, ("out", "cache"))
                got_out, tol = _answer(out, forward_name, "out")
                compare_arrays(got_out, _numpy(twin_out), what="out", tol=tol)
            except CaseFailure as failure:
                raise CaseFailure(
                    f"{failure}\n  {name} needs the cache of a working {forward_name}: fix "
                    f"{forward_name} first (its own check says what is wrong)."
                ) from None
            value = _call(backward_impl, (dout.copy(), cache), name, case)
            answer = expect_tuple(value, name, ("dx", "dgamma", "dbeta"))
            error = 0.0
            for grad, got, want in zip(("dx", "dgamma", "dbeta"), answer, expected):
                got, tol = _answer(got, name, grad)
                if spatial and grad != "dx" and got.shape == x.shape[1:]:
                    raise CaseFailure(
                        f"{grad} has shape {got.shape}, expected {want.shape}.\n  Hint: sum over "
                        f"N, H and W: {grad} has one value per channel, like gamma and beta."
                    )
                predictions = _backward_predictions(case.fresh()[0], grad, spatial)
                error = max(error, _compare(got, want, grad, tol, predictions))
            return error

        chosen = select_cases(cases, public, hidden, name)
        return run_check(name, chosen, evaluate, kind=cases, arg_names=BACKWARD_ARGS)

    return _guarded(name, [forward, backward], run)


def _flat_backward_cases() -> list[Case]:
    rng = np.random.default_rng(4104)
    cases = []
    for label, n, d, param in (
        ("x (4, 5)", 4, 5, {"mode": "train"}),
        ("x (10, 3), eps 1e-3", 10, 3, {"mode": "train", "eps": 1e-3}),
        ("batch of 2, one feature", 2, 1, {"mode": "train"}),
        (
            "x (7, 6), momentum 0.5 (backward does not depend on it)",
            7,
            6,
            {"mode": "train", "momentum": 0.5},
        ),
    ):
        x = _features(rng, n, d)
        gamma, beta = _affine_params(rng, d)
        cases.append(Case(label, (x, gamma, beta, param, rng.standard_normal((n, d)))))
    return cases


def _hidden_flat_backward_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for i in range(5):
        n, d = int(rng.integers(2, 17)), int(rng.integers(1, 11))
        param = {"mode": "train", **_bn_param(rng)}
        x = _features(rng, n, d)
        gamma, beta = _affine_params(rng, d)
        cases.append(
            Case(
                f"hidden {i + 1}: x ({n}, {d})",
                (x, gamma, beta, param, rng.standard_normal((n, d))),
            )
        )
    return cases


@check
def check_batchnorm_backward(
    batchnorm_forward: Callable, batchnorm_backward: Callable, cases: str = "public"
) -> CheckResult:
    """Check ``batchnorm_backward(dout, cache) -> (dx, dgamma, dbeta)`` (or
    ``batchnorm_backward_alt``) with the cache of the student's own training-mode forward:
    dx (N, D), dgamma (D,), dbeta (D,)."""
    name = _display_name(batchnorm_backward, "batchnorm_backward")
    return _check_backward(
        name,
        batchnorm_forward,
        batchnorm_backward,
        cases,
        twins.batchnorm_forward,
        twins.batchnorm_backward,
        _flat_backward_cases,
        _hidden_flat_backward_cases,
        spatial=False,
    )


def _spatial_backward_cases() -> list[Case]:
    rng = np.random.default_rng(4144)
    cases = []
    for label, shape, param in (
        ("x (2, 3, 4, 5)", (2, 3, 4, 5), {"mode": "train"}),
        ("x (3, 2, 2, 3), eps 1e-3", (3, 2, 2, 3), {"mode": "train", "eps": 1e-3}),
        ("N=1, x (1, 4, 3, 3)", (1, 4, 3, 3), {"mode": "train"}),
    ):
        x = _images(rng, shape)
        gamma, beta = _affine_params(rng, shape[1])
        cases.append(Case(label, (x, gamma, beta, param, rng.standard_normal(shape))))
    return cases


def _hidden_spatial_backward_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for i in range(4):
        n, c, h, w = (int(v) for v in rng.integers(1, 6, size=4))
        if n * h * w < 2:
            n = 2
        shape = (n, c, h, w)
        x = _images(rng, shape)
        gamma, beta = _affine_params(rng, c)
        param = {"mode": "train", **_bn_param(rng)}
        cases.append(
            Case(f"hidden {i + 1}: x {shape}", (x, gamma, beta, param, rng.standard_normal(shape)))
        )
    return cases


@check
def check_spatial_batchnorm_backward(
    spatial_batchnorm_forward: Callable, spatial_batchnorm_backward: Callable, cases: str = "public"
) -> CheckResult:
    """Check ``spatial_batchnorm_backward(dout, cache) -> (dx, dgamma, dbeta)`` with the cache of
    the student's own training-mode forward: dx (N, C, H, W), dgamma (C,), dbeta (C,)."""
    name = _display_name(spatial_batchnorm_backward, "spatial_batchnorm_backward")
    return _check_backward(
        name,
        spatial_batchnorm_forward,
        spatial_batchnorm_backward,
        cases,
        twins.spatial_batchnorm_forward,
        twins.spatial_batchnorm_backward,
        _spatial_backward_cases,
        _hidden_spatial_backward_cases,
        spatial=True,
    )
