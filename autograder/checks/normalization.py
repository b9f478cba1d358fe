"""Checks for notebook 04's normalisations without the batch: layer normalisation and group
normalisation of feature maps. (Kaiming's initialisation is checked in ``initialization``.)

Each check is an ``Exercise``: its cases, the PyTorch twin in
``course_utils.reference.normalization`` (compared in float64) and the known mistakes, run by
the engine in ``_engine``. Layer and group normalisation are batch normalisation's formula
over other axes, so their mistakes are predicted by the NumPy layer that the batch-norm checks
use too (``_normalization.normalised`` and ``staged_backward``), given the values a mistake
takes its statistics over. A backward check gives the student's backward only the cache that
the same student's forward returned (``Backward``).

Every check applies the banned-library rule: no PyTorch, ``course_utils`` or SciPy inside a
NumPy exercise.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from autograder.checks._engine import (
    Backward,
    Case,
    CheckResult,
    Exercise,
    Mistake,
    NotApplicable,
    Returns,
    check,
    not_applicable,
)
from autograder.checks._normalization import backward_mistake, normalised
from autograder.checks.layers import _out
from course_utils.reference import normalization as reference

__all__ = [
    "check_layernorm_forward",
    "check_layernorm_backward",
    "check_spatial_groupnorm_forward",
    "check_spatial_groupnorm_backward",
]

DEFAULT_EPS = reference.DEFAULT_EPS


def _a(values) -> np.ndarray:
    return np.array(values, dtype=np.float64)


# --- what every normalisation check shares ------------------------------------------------------
# Batch, layer, instance and group normalisation differ only in the values that share one mean
# and one variance; a mistake is the right formula over the wrong values, or a wrong formula.


def _eps(param: dict) -> float:
    return param.get("eps", DEFAULT_EPS)


_ONE, _ZERO = np.ones(1), np.zeros(1)


def _x_hat(values: np.ndarray, axes: tuple[int, ...], eps: float, ddof: int = 0) -> np.ndarray:
    """(values - mean) / sqrt(var + eps), the statistics over ``axes``, the variance with
    ``ddof`` (0: biased, as the contract says; 1: unbiased)."""
    return normalised(values, _ONE, _ZERO, eps, axes, ddof=ddof)


def _closed_form_dx(
    dx_hat: np.ndarray, values: np.ndarray, eps: float, stats: int, sums: int, mean_term=True
) -> np.ndarray:
    """dx = (dx_hat - mean(dx_hat) - x_hat * mean(dx_hat * x_hat)) / sqrt(var + eps), x_hat
    and var taken over axis ``stats`` of ``values``, the two means over axis ``sums`` (the same
    axis when right); without the path through the mean when not ``mean_term``."""
    x_hat = _x_hat(values, (stats,), eps)
    dx = dx_hat - x_hat * (dx_hat * x_hat).mean(axis=sums, keepdims=True)
    if mean_term:
        dx = dx - dx_hat.mean(axis=sums, keepdims=True)
    return dx / np.sqrt(values.var(axis=stats, keepdims=True) + eps)


def _with_dout(
    make: Callable[[], list[Case]], seed: int, names: Sequence[str] = ()
) -> Callable[[], list[Case]]:
    """Public backward cases: forward cases (those named in ``names``, else all) with an
    upstream gradient dout ~ N(0, 1) of x's shape appended."""

    def cases() -> list[Case]:
        rng = np.random.default_rng(seed)
        chosen = [c for c in make() if not names or c.name in names]
        return [Case(c.name, (*c.args, rng.standard_normal(c.args[0].shape))) for c in chosen]

    return cases


def _hidden_with_dout(
    make: Callable[[np.random.Generator], list[Case]],
) -> Callable[[np.random.Generator], list[Case]]:
    """Hidden backward cases: the hidden forward cases, each with a dout drawn after them."""

    def cases(rng: np.random.Generator) -> list[Case]:
        made = make(rng)
        return [Case(c.name, (*c.args, rng.standard_normal(c.args[0].shape))) for c in made]

    return cases


def _affine_before(normalise: Callable[[np.ndarray], np.ndarray]) -> Callable[..., np.ndarray]:
    """The prediction of ``normalise(gamma * x + beta)``: gamma and beta applied first."""

    def predict(x, gamma, beta, *rest):
        if np.all(gamma == 1) and np.all(beta == 0):
            raise NotApplicable
        return normalise(gamma * x + beta, *rest)

    return predict


def _affine_before_normalising(normalise: Callable[..., np.ndarray]) -> Mistake:
    return Mistake(
        "affine_before_normalising",
        "your output equals normalising gamma * x + beta. Normalise x first, then "
        "out = gamma * x_hat + beta.",
        _affine_before(normalise),
    )


# --- layer normalisation -------------------------------------------------------------------------

_LN_X = _a([[1, 2, 3, 6], [4, 4, 4, 8]])
_LN_GAMMA, _LN_BETA = _a([1, 2, 0.5, -1]), _a([0, 1, -1, 0.5])


def _rows(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    """x (n, d) whose every row has its own scale U(0.5, 4) and offset U(-3, 3)."""
    scale, offset = rng.uniform(0.5, 4, (n, 1)), rng.uniform(-3, 3, (n, 1))
    return rng.standard_normal((n, d)) * scale + offset


def _layernorm_cases() -> list[Case]:
    rng = np.random.default_rng(4101)
    tiny = _rows(rng, 3, 5)
    tiny[1] = 2 + 0.01 * rng.standard_normal(5)  # variance ~1e-4: eps = 1e-3 changes x_hat
    return [
        Case("x [[1, 2, 3, 6], [4, 4, 4, 8]], gamma = 1, beta = 0",
             (_LN_X, np.ones(4), np.zeros(4), {})),
        Case("x [[1, 2, 3, 6], [4, 4, 4, 8]], gamma (1, 2, 0.5, -1), beta (0, 1, -1, 0.5)",
             (_LN_X, _LN_GAMMA, _LN_BETA, {})),
        Case("batch of one, x (1, 7)",
             (_rows(rng, 1, 7), rng.uniform(0.5, 2, 7), rng.standard_normal(7), {})),
        Case("x (5, 6), each row with its own scale and offset",
             (_rows(rng, 5, 6), rng.uniform(0.5, 2, 6), rng.standard_normal(6), {"eps": 1e-5})),
        Case("eps matters: a row with variance about 1e-4, eps = 1e-3",
             (tiny, rng.uniform(0.5, 2, 5), rng.standard_normal(5), {"eps": 1e-3})),
    ]  # fmt: skip


def _param(rng: np.random.Generator) -> dict:
    """{} (the default eps) or {"eps": 1e-5, 1e-4 or 1e-3}."""
    eps = rng.choice([0.0, 1e-5, 1e-4, 1e-3])
    return {} if eps == 0 else {"eps": float(eps)}


def _hidden_layernorm_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for i in range(6):
        n, d = 1 if i == 0 else int(rng.integers(1, 9)), int(rng.integers(2, 17))
        x = _rows(rng, n, d)
        param = _param(rng)
        args = (x, rng.uniform(0.5, 2, d), rng.standard_normal(d), param)
        cases.append(Case(f"hidden {i + 1}: x {x.shape}, ln_param {param}", args))
    return cases


_LN_ARGS = ("x", "gamma", "beta", "ln_param")
LAYERNORM_FORWARD = Exercise(
    "layernorm_forward",
    args=_LN_ARGS,
    public=_layernorm_cases,
    hidden=_hidden_layernorm_cases,
    judge=Returns(
        _out(reference.layernorm_forward),
        parts=("out", "cache"),
        compared=("out",),
        mistakes=(
            Mistake(
                "over_batch_axis",
                "your output is batch normalisation: the statistics were taken over the batch "
                "(axis 0), one per feature. Layer norm takes one mean and variance per example, "
                "over its D features (axis=1, keepdims=True).",
                lambda x, gamma, beta, p: normalised(x, gamma, beta, _eps(p), (0,)),
            ),
            Mistake(
                "unbiased_var",
                "your variance was divided by D - 1; layer norm uses the biased variance "
                "(divide by D), as batch norm does.",
                lambda x, gamma, beta, p: normalised(x, gamma, beta, _eps(p), (1,), ddof=1),
            ),
            _affine_before_normalising(lambda values, p: _x_hat(values, (1,), _eps(p))),
        ),
    ),
)


@check
def check_layernorm_forward(layernorm_forward: Callable, cases: str = "public") -> CheckResult:
    """Check ``layernorm_forward(x, gamma, beta, ln_param) -> (out, cache)``: each row of x
    (N, D) normalised over its D features (biased variance, eps inside the square root), then
    out = gamma * x_hat + beta, gamma and beta (D,); ln_param may be {} (eps 1e-5)."""
    return LAYERNORM_FORWARD.run(cases, layernorm_forward)


LAYERNORM_BACKWARD = Exercise(
    "layernorm_backward",
    args=(*_LN_ARGS, "dout"),
    public=_with_dout(_layernorm_cases, 4102, names=[c.name for c in _layernorm_cases()[1:]]),
    hidden=_hidden_with_dout(_hidden_layernorm_cases),
    judge=Backward(
        reference.layernorm_forward,
        reference.layernorm_backward,
        ("dx", "dgamma", "dbeta"),
        {
            "dx": [
                backward_mistake(
                    "no_mean_terms",
                    "dx lacks the path through each example's mean: subtract sum_j dx_hat / D "
                    "(the sum over the features j of the example) before scaling.",
                    "dx",
                    (1,),
                    dmu_path=False,
                ),
                backward_mistake(
                    "direct_path_only",
                    "your dx is only dx_hat / sqrt(var + eps): the paths through mu and var "
                    "are missing. Each x_nj reaches the loss through x_hat_nj, but also "
                    "through the mean and the variance of its row.",
                    "dx",
                    (1,),
                    dmu_path=False,
                    dvar_path=False,
                ),
                Mistake(
                    "sums_over_batch_axis",
                    "the sums in dx run over the batch, as in batch norm's backward; in "
                    "layer norm they run over each example's features (axis=1); only dgamma "
                    "and dbeta sum over the batch.",
                    lambda x, gamma, beta, p, dout: _closed_form_dx(
                        dout * gamma, x, _eps(p), stats=1, sums=0
                    ),
                ),
            ],
        },
    ),
    functions=("layernorm_forward", "layernorm_backward"),
)


@check
def check_layernorm_backward(
    layernorm_forward: Callable, layernorm_backward: Callable, cases: str = "public"
) -> CheckResult:
    """Check ``layernorm_backward(dout, cache) -> (dx, dgamma, dbeta)`` with the cache of the
    student's own ``layernorm_forward``: dx (N, D), dgamma and dbeta (D,) summed over the batch."""
    return LAYERNORM_BACKWARD.run(cases, layernorm_forward, layernorm_backward)


# --- group normalisation of feature maps ---------------------------------------------------------


def _maps(rng: np.random.Generator, shape: tuple[int, int, int, int]) -> np.ndarray:
    """x (N, C, H, W) whose every map x[n, c] has its own scale U(0.5, 4) and offset U(-3, 3)."""
    n, c = shape[:2]
    scale, offset = rng.uniform(0.5, 4, (n, c, 1, 1)), rng.uniform(-3, 3, (n, c, 1, 1))
    return rng.standard_normal(shape) * scale + offset


def _channel_params(rng: np.random.Generator, c: int) -> tuple[np.ndarray, np.ndarray]:
    """gamma U(0.5, 2) and beta N(0, 1), shaped (1, C, 1, 1) as CS231n's."""
    return rng.uniform(0.5, 2, (1, c, 1, 1)), rng.standard_normal((1, c, 1, 1))


def _groupnorm_case(
    rng: np.random.Generator, name: str, shape: tuple[int, int, int, int], G: int, param: dict
) -> Case:
    return Case(name, (_maps(rng, shape), *_channel_params(rng, shape[1]), G, param))


_GN_X = _a([[1, 2], [3, 6], [4, 4], [4, 8]]).reshape(1, 4, 1, 2)
_GN_X_NAME = "x (1, 4, 1, 2) with channels [1, 2], [3, 6], [4, 4], [4, 8]"


def _groupnorm_cases() -> list[Case]:
    rng = np.random.default_rng(4103)
    ones, zeros = np.ones((1, 4, 1, 1)), np.zeros((1, 4, 1, 1))
    tiny = _maps(rng, (2, 4, 2, 3))
    tiny[1, 2:] = 2 + 0.01 * rng.standard_normal((2, 2, 3))  # one group with variance ~1e-4
    return [
        Case(f"{_GN_X_NAME}; G = 2, gamma = 1, beta = 0", (_GN_X, ones, zeros, 2, {})),
        Case(f"{_GN_X_NAME}; G = 2, gamma (1, 2, 0.5, -1), beta (0, 1, -1, 0.5)",
             (_GN_X, _LN_GAMMA.reshape(1, 4, 1, 1), _LN_BETA.reshape(1, 4, 1, 1), 2, {})),
        _groupnorm_case(rng, "x (2, 6, 3, 4), G = 3 groups of 2 channels", (2, 6, 3, 4), 3, {}),
        _groupnorm_case(rng, "batch of one, x (1, 4, 3, 5) (non-square), G = 2", (1, 4, 3, 5), 2,
                        {"eps": 1e-5}),
        _groupnorm_case(rng, "G = 1 (layer norm over C, H, W), x (3, 4, 2, 2)", (3, 4, 2, 2),
                        1, {}),
        _groupnorm_case(rng, "G = C = 3 (instance norm), x (2, 3, 4, 4)", (2, 3, 4, 4), 3, {}),
        Case("eps matters: a group with variance about 1e-4, eps = 1e-3, x (2, 4, 2, 3), G = 2",
             (tiny, *_channel_params(rng, 4), 2, {"eps": 1e-3})),
    ]  # fmt: skip


def _hidden_groupnorm_cases(rng: np.random.Generator) -> list[Case]:
    """Six cases: the first a batch of one, the second with 1 < G < C and H * W > 1 (where
    every mistake of the groups shows); at least two values per group everywhere."""
    cases = []
    for i in range(6):
        low = 2 if i == 1 else 1
        G, per_group = int(rng.integers(low, 5)), int(rng.integers(low, 5))
        h, w = int(rng.integers(1, 7)), int(rng.integers(1, 7))
        while per_group * h * w < 2 or (i == 1 and h * w < 2):
            h, w = int(rng.integers(1, 7)), int(rng.integers(1, 7))
        shape = (1 if i == 0 else int(rng.integers(1, 5)), G * per_group, h, w)
        param = _param(rng)
        name = f"hidden {i + 1}: x {shape}, G = {G}, gn_param {param}"
        cases.append(_groupnorm_case(rng, name, shape, G, param))
    return cases


def _by_channel_groups(x: np.ndarray, group_of: np.ndarray, eps: float, ddof: int = 0):
    """x_hat where the channels c with the same ``group_of[c]`` share the statistics of each
    example (over those channels and all positions)."""
    x_hat = np.empty_like(x)
    for g in np.unique(group_of):
        channels = group_of == g
        x_hat[:, channels] = _x_hat(x[:, channels], (1, 2, 3), eps, ddof)
    return x_hat


def _consecutive(c: int, G: int) -> np.ndarray:
    return np.arange(c) // (c // G)  # channels g*C/G .. (g+1)*C/G - 1 form group g


def _group_normalised(x, G, p, ddof: int = 0) -> np.ndarray:
    return _by_channel_groups(x, _consecutive(x.shape[1], G), _eps(p), ddof)


def _interleaved(x, gamma, beta, G, p) -> np.ndarray:
    c = x.shape[1]
    if G in (1, c):
        raise NotApplicable
    return gamma * _by_channel_groups(x, np.arange(c) % G, _eps(p)) + beta


def _groups_of_positions(x, gamma, beta, G, p) -> np.ndarray:
    n, c, h, w = x.shape
    if G == 1 or h * w == 1:
        raise NotApplicable
    rows = x.transpose(0, 2, 3, 1).reshape(n, G, -1)  # (N, G, H*W*C/G), NHWC order
    x_hat = _x_hat(rows, (2,), _eps(p)).reshape(n, h, w, c).transpose(0, 3, 1, 2)
    return gamma * x_hat + beta


_GN_ARGS = ("x", "gamma", "beta", "G", "gn_param")
SPATIAL_GROUPNORM_FORWARD = Exercise(
    "spatial_groupnorm_forward",
    args=_GN_ARGS,
    public=_groupnorm_cases,
    hidden=_hidden_groupnorm_cases,
    judge=Returns(
        _out(reference.spatial_groupnorm_forward),
        parts=("out", "cache"),
        compared=("out",),
        mistakes=(
            Mistake(
                "interleaved_groups",
                "channel c went to group c % G (as after reshape(N, C // G, G, H, W)); group g "
                "holds the consecutive channels g*C/G ... (g+1)*C/G - 1: reshape(N, G, C // G, "
                "H, W).",
                _interleaved,
            ),
            Mistake(
                "groups_of_positions",
                "your groups cut the positions, not the channels (C moved last before "
                "reshape(N, G, -1)); a group is C/G whole channels, with all their H x W "
                "positions.",
                _groups_of_positions,
            ),
            Mistake(
                "ignores_groups",
                "your output is the same for every G: one statistic over all C channels of an "
                "example (G = 1). Each of the G groups of C/G channels has its own mean and "
                "variance.",
                lambda x, gamma, beta, G, p: (
                    gamma * _group_normalised(x, 1, p) + beta if G > 1 else not_applicable()
                ),
            ),
            Mistake(
                "unbiased_var",
                "your variance was divided by C/G*H*W - 1; group norm uses the biased variance "
                "(divide by the C/G*H*W values of the group).",
                lambda x, gamma, beta, G, p: gamma * _group_normalised(x, G, p, ddof=1) + beta,
            ),
            _affine_before_normalising(_group_normalised),
        ),
    ),
)


@check
def check_spatial_groupnorm_forward(
    spatial_groupnorm_forward: Callable, cases: str = "public"
) -> CheckResult:
    """Check ``spatial_groupnorm_forward(x, gamma, beta, G, gn_param) -> (out, cache)``: x
    (N, C, H, W) normalised per example over each group of C/G consecutive channels and all
    positions (biased variance), then out = gamma * x_hat + beta with gamma, beta (1, C, 1, 1)."""
    return SPATIAL_GROUPNORM_FORWARD.run(cases, spatial_groupnorm_forward)


def _gn_dx(x, gamma, beta, G, p, dout, **terms) -> np.ndarray:
    n, c, h, w = x.shape
    rows = x.reshape(n, G, -1)  # (N, G, C/G*H*W): one row per example and group
    dx_hat = (dout * gamma).reshape(n, G, -1)
    return _closed_form_dx(dx_hat, rows, _eps(p), stats=2, sums=2, **terms).reshape(x.shape)


def _gn_parameter_grads(x, gamma, beta, G, p, dout) -> tuple[np.ndarray, np.ndarray]:
    """dgamma and dbeta, (1, C, 1, 1)."""
    x_hat = _group_normalised(x, G, p)
    return (dout * x_hat).sum(axis=(0, 2, 3), keepdims=True), dout.sum(
        axis=(0, 2, 3), keepdims=True
    )


_DGAMMA_SHAPE_C = (
    "the values are right but of shape (C,): dgamma and dbeta have gamma's shape (1, C, 1, 1) "
    "(sum with keepdims=True)."
)

SPATIAL_GROUPNORM_BACKWARD = Exercise(
    "spatial_groupnorm_backward",
    args=(*_GN_ARGS, "dout"),
    public=_with_dout(_groupnorm_cases, 4104, names=[c.name for c in _groupnorm_cases()[1:6]]),
    hidden=_hidden_with_dout(_hidden_groupnorm_cases),
    judge=Backward(
        reference.spatial_groupnorm_forward,
        reference.spatial_groupnorm_backward,
        ("dx", "dgamma", "dbeta"),
        {
            "dx": [
                Mistake(
                    "no_mean_terms",
                    "dx lacks the path through each group's mean: subtract the mean of dx_hat "
                    "over the group's C/G*H*W values before scaling.",
                    lambda *args: _gn_dx(*args, mean_term=False),
                ),
            ],
            # A near miss: the right values, after a reshape; it earns part of the points.
            "dgamma": [
                Mistake(
                    "dgamma_shape_c",
                    _DGAMMA_SHAPE_C,
                    lambda *args: _gn_parameter_grads(*args)[0].ravel(),
                    near_miss=True,
                )
            ],
            "dbeta": [
                Mistake(
                    "dgamma_shape_c",
                    _DGAMMA_SHAPE_C,
                    lambda *args: _gn_parameter_grads(*args)[1].ravel(),
                    near_miss=True,
                )
            ],
        },
    ),
    functions=("spatial_groupnorm_forward", "spatial_groupnorm_backward"),
)


@check
def check_spatial_groupnorm_backward(
    spatial_groupnorm_forward: Callable, spatial_groupnorm_backward: Callable, cases: str = "public"
) -> CheckResult:
    """Check ``spatial_groupnorm_backward(dout, cache) -> (dx, dgamma, dbeta)`` with the cache
    of the student's own ``spatial_groupnorm_forward``: dx (N, C, H, W), dgamma and dbeta
    (1, C, 1, 1) summed over N, H and W."""
    return SPATIAL_GROUPNORM_BACKWARD.run(
        cases, spatial_groupnorm_forward, spatial_groupnorm_backward
    )
