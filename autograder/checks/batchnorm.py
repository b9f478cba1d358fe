"""Checks for notebook 04, batch normalisation.

Each check is an ``Exercise``: its cases, the PyTorch twin in ``course_utils.reference.batchnorm``
(run in float64) and its known mistakes, judged by the normalisation judges of
``_normalization`` with the statistics over ``(0,)`` of x (N, D) or ``(0, 2, 3)`` of
x (N, C, H, W).

A forward case is a short training run: several calls with the SAME ``bn_param`` dict (modes
such as train, train, test), so the running averages are checked after every call, as the
contract says they are stored into ``bn_param`` (``TrainTestRun``). A backward check gives the
student's backward only the cache that the same student's forward returned: caches are opaque
(``NormBackward``).

Hints name a common mistake only when the answer equals what that mistake computes on the same
inputs: a forward mistake is the whole mistaken forward, replayed over the run (unbiased
variance, momentum and 1 - momentum swapped, test mode on the batch's own statistics, eps
outside the square root, running averages not stored); spatial statistics over the wrong axes
are judged on the first call; a backward mistake is a staged backward missing its dvar or dmu
path, or dgamma taken from x.

Batch size: training mode needs at least two values per statistic (with N = 1 the variance is 0
and the output is beta whatever x is; the twins and PyTorch refuse it), so the checks never call
training mode with one value per feature; test mode is checked with N = 1 too, and spatial
training mode with N = 1 when H * W > 1.

Like the notebook 02 checks, these apply the banned-library rule: no PyTorch, ``course_utils``
or SciPy inside a NumPy exercise.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from autograder.checks._engine import (
    Case,
    CheckResult,
    Exercise,
    Mistake,
    check,
)
from autograder.checks._normalization import (
    FORGOT_TO_STORE,
    NormBackward,
    TrainTestRun,
    backward_mistake,
    mistaken_batchnorm,
    normalised,
)
from course_utils.reference import batchnorm as twins

__all__ = [
    "check_batchnorm_forward",
    "check_batchnorm_backward",
    "check_spatial_batchnorm_forward",
    "check_spatial_batchnorm_backward",
]

FLAT = (0,)  # the axes of x (N, D) that batch norm takes its statistics over
SPATIAL = (0, 2, 3)  # ... and of x (N, C, H, W)
FORWARD_ARGS = ("xs", "modes", "gamma", "beta", "bn_param", "(running_mean, running_var) at start")
BACKWARD_ARGS = ("x", "gamma", "beta", "bn_param", "dout")


# --- the known mistakes of a forward ----------------------------------------------------------

_HINT_UNBIASED = (
    "you used the unbiased variance (dividing by N - 1, e.g. np.var(x, axis=0, ddof=1)). Batch "
    "normalisation uses the BIASED batch variance, mean((x - mu) ** 2) with 1/N, both to "
    "normalise and in the running average (torch.nn.BatchNorm uses 1/N to normalise too)."
)


def _forward_mistakes(axes: tuple[int, ...]) -> tuple[Mistake, ...]:
    """The mistakes of a batch-norm forward whose statistics are over ``axes``, each a whole
    mistaken forward."""
    return (
        Mistake(FORGOT_TO_STORE.id, FORGOT_TO_STORE.text, mistaken_batchnorm(axes, store=False)),
        Mistake(
            "momentum_swapped",
            "you swapped momentum and 1 - momentum. The contract keeps `momentum` of the OLD "
            "average: running = momentum * running + (1 - momentum) * batch_statistic, so with "
            "momentum 0.9 a new batch moves it by 10%. (torch.nn.BatchNorm's momentum is the "
            "other way round: its 0.1 is our 0.9.)",
            mistaken_batchnorm(axes, swap_momentum=True),
        ),
        # unbiased_running_var first: both leave the same running variance, and only the other
        # changes out (compared before the running averages), so each is named for its own.
        Mistake("unbiased_running_var", _HINT_UNBIASED, mistaken_batchnorm(axes, running_ddof=1)),
        Mistake("unbiased_var", _HINT_UNBIASED, mistaken_batchnorm(axes, ddof=1, running_ddof=1)),
        Mistake(
            "test_mode_on_batch_stats",
            "in test mode you normalised with the test batch's own mean and variance. Test mode "
            'uses bn_param["running_mean"] and bn_param["running_var"], so that an example\'s '
            "output does not depend on the other examples in its batch (and works for a batch of "
            "one).",
            mistaken_batchnorm(axes, test_on_batch=True),
        ),
        Mistake(
            "eps_outside_sqrt",
            "eps belongs INSIDE the square root: x_hat = (x - mu) / sqrt(var + eps), not "
            "(x - mu) / (sqrt(var) + eps). The two differ by about eps / sqrt(var) relative, most "
            "where a variance is small.",
            mistaken_batchnorm(axes, eps_outside=True),
        ),
    )


def _over(axes: tuple[int, ...]) -> Callable:
    """A training-mode forward with its statistics over ``axes`` of x (N, C, H, W)."""
    return lambda x, gamma, beta, bn_param: normalised(
        x, gamma, beta, bn_param.get("eps", twins.DEFAULT_EPS), axes
    )


def _unpermuted(x, gamma, beta, bn_param):
    """x.reshape(-1, C) without the transpose: each "row" mixes channels."""
    n, c, h, w = x.shape
    rows = normalised(x.reshape(-1, c), gamma, beta, bn_param.get("eps", twins.DEFAULT_EPS), FLAT)
    return rows.reshape(n, c, h, w)


_WRONG_AXES = (
    Mistake(
        "stats_per_example",
        "your statistics are per example, over C, H and W (H * W * C values each). Spatial batch "
        "norm has one mean and one variance per CHANNEL, over N, H and W: view x as "
        "(N * H * W, C) (transpose to (N, H, W, C) first) and normalise each column.",
        _over((1, 2, 3)),
    ),
    Mistake(
        "stats_per_position",
        "your statistics are per (channel, row, column) position, over N only (as if x were "
        "(N, C * H * W)). Spatial batch norm shares one mean and one variance per channel over "
        "N, H and W, like the filter it follows, which is shared over all positions.",
        _over((0,)),
    ),
    Mistake(
        "stats_per_image_channel",
        "your statistics are per image and channel, over H and W only (that is instance "
        "normalisation). Batch norm takes each channel's statistics over the whole batch as "
        "well: over N, H and W.",
        _over((2, 3)),
    ),
    Mistake(
        "stats_per_tensor",
        "you used one mean and one variance for the whole tensor. Spatial batch norm has one "
        "per channel, over N, H and W.",
        _over((0, 1, 2, 3)),
    ),
    Mistake(
        "reshape_without_transpose",
        "you reshaped x (N, C, H, W) straight to (N * H * W, C). Without moving C last first "
        "(x.transpose(0, 2, 3, 1)), each row mixes values of different channels. Transpose, "
        "reshape, normalise, then reshape and transpose back.",
        _unpermuted,
    ),
)


# --- batchnorm_forward: several calls with one bn_param ------------------------------------------


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


BATCHNORM_FORWARD = Exercise(
    "batchnorm_forward",
    args=FORWARD_ARGS,
    public=_flat_forward_cases,
    hidden=_hidden_flat_forward_cases,
    judge=TrainTestRun(twins.batchnorm_forward, _forward_mistakes(FLAT)),
    functions=("batchnorm_forward",),
)


@check
def check_batchnorm_forward(batchnorm_forward: Callable, cases: str = "public") -> CheckResult:
    """Check ``batchnorm_forward(x, gamma, beta, bn_param) -> (out, cache)``, x (N, D).

    Each case calls it several times with one bn_param dict (training steps, then test mode) and
    compares ``out`` and the running statistics stored into bn_param after every call.
    """
    return BATCHNORM_FORWARD.run(cases, batchnorm_forward)


# --- spatial_batchnorm_forward ------------------------------------------------------------------


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


SPATIAL_BATCHNORM_FORWARD = Exercise(
    "spatial_batchnorm_forward",
    args=FORWARD_ARGS,
    public=_spatial_forward_cases,
    hidden=_hidden_spatial_forward_cases,
    judge=TrainTestRun(
        twins.spatial_batchnorm_forward, _forward_mistakes(SPATIAL), first_call=_WRONG_AXES
    ),
    functions=("spatial_batchnorm_forward",),
)


@check
def check_spatial_batchnorm_forward(
    spatial_batchnorm_forward: Callable, cases: str = "public"
) -> CheckResult:
    """Check ``spatial_batchnorm_forward(x, gamma, beta, bn_param) -> (out, cache)``,
    x (N, C, H, W): one mean and variance per channel over N, H, W; running statistics (C,)."""
    return SPATIAL_BATCHNORM_FORWARD.run(cases, spatial_batchnorm_forward)


# --- backward: the student's forward's cache goes to the student's backward ---------------------


def _backward_mistakes(axes: tuple[int, ...]) -> dict[str, tuple[Mistake, ...]]:
    """The mistakes of a staged batch-norm backward, per gradient."""
    return {
        "dx": (
            backward_mistake(
                "no_dvar_path",
                "your dx has no dvar path: var depends on every x_i, so dx needs "
                "dvar * 2 (x_i - mu) / N, with dvar = sum_i dx_hat_i (x_i - mu) * (-1/2) "
                "(var + eps)^(-3/2).",
                "dx",
                axes,
                dvar_path=False,
            ),
            backward_mistake(
                "no_dmu_path",
                "your dx has no dmu path: mu depends on every x_i, so dx needs dmu / N, with "
                "dmu = sum_i -dx_hat_i / sqrt(var + eps) + dvar * mean(-2 (x - mu)).",
                "dx",
                axes,
                dmu_path=False,
            ),
            backward_mistake(
                "direct_path_only",
                "your dx is only dout * gamma / sqrt(var + eps), as if mu and var were constants. "
                "In training mode they are computed from the batch: add the dvar and dmu paths.",
                "dx",
                axes,
                dvar_path=False,
                dmu_path=False,
            ),
        ),
        "dgamma": (
            backward_mistake(
                "dgamma_with_x",
                "dgamma is sum(dout * x), but gamma multiplies the NORMALISED x_hat: "
                "dgamma = sum over the batch of dout * x_hat.",
                "dgamma",
                axes,
                dgamma_with_x=True,
            ),
        ),
    }


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


BATCHNORM_BACKWARD = Exercise(
    "batchnorm_backward",
    args=BACKWARD_ARGS,
    public=_flat_backward_cases,
    hidden=_hidden_flat_backward_cases,
    judge=NormBackward(twins.batchnorm_forward, twins.batchnorm_backward, _backward_mistakes(FLAT)),
    functions=("batchnorm_forward", "batchnorm_backward"),
)


@check
def check_batchnorm_backward(
    batchnorm_forward: Callable, batchnorm_backward: Callable, cases: str = "public"
) -> CheckResult:
    """Check ``batchnorm_backward(dout, cache) -> (dx, dgamma, dbeta)`` (or
    ``batchnorm_backward_alt``) with the cache of the student's own training-mode forward:
    dx (N, D), dgamma (D,), dbeta (D,)."""
    return BATCHNORM_BACKWARD.run(cases, batchnorm_forward, batchnorm_backward)


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


SPATIAL_BATCHNORM_BACKWARD = Exercise(
    "spatial_batchnorm_backward",
    args=BACKWARD_ARGS,
    public=_spatial_backward_cases,
    hidden=_hidden_spatial_backward_cases,
    judge=NormBackward(
        twins.spatial_batchnorm_forward,
        twins.spatial_batchnorm_backward,
        _backward_mistakes(SPATIAL),
        summed_over="N, H and W",
    ),
    functions=("spatial_batchnorm_forward", "spatial_batchnorm_backward"),
)


@check
def check_spatial_batchnorm_backward(
    spatial_batchnorm_forward: Callable, spatial_batchnorm_backward: Callable, cases: str = "public"
) -> CheckResult:
    """Check ``spatial_batchnorm_backward(dout, cache) -> (dx, dgamma, dbeta)`` with the cache of
    the student's own training-mode forward: dx (N, C, H, W), dgamma (C,), dbeta (C,)."""
    return SPATIAL_BATCHNORM_BACKWARD.run(
        cases, spatial_batchnorm_forward, spatial_batchnorm_backward
    )
