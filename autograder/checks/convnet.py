"""Checks for notebook 02's ThreeLayerConvNet, the student's first model.

The student's class is measured where the student's code runs (``autograder.kernel.measure``'s
``convnet``: in the sandboxed kernel when grading with ``--isolation sandbox``, here otherwise)
on inputs the check chose, and the plain data that comes back is judged here against the
reference twin (``course_utils.reference.ThreeLayerConvNet``) in float64:

- the model is built with CS231n's constructor (never a ``seed``: CS231n's class has none) and
  its initialisation judged: shapes, dtype, zero biases, the weights' scale;
- then the check sets all six parameters itself (nonzero biases, ``reg > 0`` in most cases, N
  different from num_classes, inputs clear of every ReLU kink and pooling tie, so that every
  mistake shows) and compares the scores of ``loss(X)``, and the loss and every gradient of
  ``loss(X, y)``. A float32 model may answer in float64 (CS231n's layers do).

Known mistakes (regularisation missing, halved, or on the biases; pooling before the
convolution; flattening channels last; probabilities for scores; gradients scaled by the
wrong count) are named when the answer equals what they compute.
"""

from __future__ import annotations

import math
import types
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from autograder.checks._engine import (
    ATOL_FLOAT32,
    FLOAT64,
    RTOL_FLOAT32,
    Attempt,
    Case,
    CaseFailure,
    CheckResult,
    Exercise,
    Mistake,
    NotApplicable,
    Tolerance,
    check,
    compare_arrays,
    diagnose,
    not_applicable,
    raised,
    tensor_advice,
)
from autograder.kernel import rules
from course_utils import reference

__all__ = ["check_three_layer_convnet"]

PARAM_NAMES = ("W1", "b1", "W2", "b2", "W3", "b3")
WEIGHT_NAMES = ("W1", "W2", "W3")

#: A float32 model's answers hold about 7 digits, whatever dtype it returns them in (CS231n's
#: layers return float64 computed from float32 numbers).
FLOAT32_MODEL = Tolerance(
    RTOL_FLOAT32,
    ATOL_FLOAT32,
    "the model is float32 (dtype=np.float32), whose numbers hold only ~7 digits, so it is "
    "judged to 1e-4 relative",
)


def not_an_array(what: str, odd: dict) -> str:
    """``what`` must be an ndarray, but the student's code gave ``odd`` (a report's
    description of it)."""
    advice = tensor_advice(odd.get("type", ""))
    return f"{what} must be a numpy.ndarray of real numbers; it is {odd['answer']}.{advice}"


# --- ThreeLayerConvNet ------------------------------------------------------------------------


def _refuse_banned_class(impl: Any, exercise: str) -> None:
    """The banned-library rule for a class defined here: its methods are read as functions
    are (``rules.find_banned``), and a class that is, or derives from, a class of a banned
    library (the course's reference twin, say) is refused. (The engine reads functions only; a
    proxy's class is read from the notebook's source by the isolation layer.)"""
    if not isinstance(impl, type):
        return
    found: list[str] = []
    for klass in impl.__mro__:
        if klass is object:
            continue
        if rules.banned_prefix(klass.__module__):
            found.append(f"{klass.__module__}.{klass.__qualname__} (the class or a base of it)")
            continue
        for attribute in vars(klass).values():
            function = getattr(attribute, "__func__", attribute)
            if isinstance(function, types.FunctionType):
                found.extend(rules.find_banned(function))
    if found:
        unique = list(dict.fromkeys(found))
        uses = "; ".join(unique[:3]) + (f"; and {len(unique) - 3} more" if len(unique) > 3 else "")
        raise AssertionError(f"{exercise}: {impl.__name__} uses {uses}.\n  {rules.RULE}")


def _expected_shapes(kwargs: dict) -> dict[str, tuple[int, ...]]:
    C, H, W = kwargs["input_dim"]
    F_, fs, hidden = kwargs["num_filters"], kwargs["filter_size"], kwargs["hidden_dim"]
    classes = kwargs["num_classes"]
    return {
        "W1": (F_, C, fs, fs),
        "b1": (F_,),
        "W2": (F_ * (H // 2) * (W // 2), hidden),
        "b2": (hidden,),
        "W3": (hidden, classes),
        "b3": (classes,),
    }


def _built_params(params: Any, kwargs: dict, name: str) -> dict[str, np.ndarray]:
    """The parameters a fresh model holds: the six names, each an ndarray of the contract's
    shape and of the dtype asked for (float32 by default)."""
    made = f"{name}({', '.join(f'{k}={v!r}' for k, v in kwargs.items())})"
    if "odd" in params:
        raise CaseFailure(f"{made}.params must be a dict; it is {params['odd']['answer']}.")
    if sorted(params) != sorted(PARAM_NAMES):
        missing = [p for p in PARAM_NAMES if p not in params]
        extra = [p for p in params if p not in PARAM_NAMES]
        raise CaseFailure(
            f"{made}.params has the keys {list(params)}, expected {list(PARAM_NAMES)}"
            + (f" (missing {missing})" if missing else "")
            + (f" (not in the contract: {extra})" if extra else "")
            + "."
        )
    dtype = kwargs.get("dtype", "float32")
    for param, shape in _expected_shapes(kwargs).items():
        value = params[param]
        if isinstance(value, dict):
            raise CaseFailure(not_an_array(f"{made}.params[{param!r}]", value["odd"]))
        if value.shape != shape:
            raise CaseFailure(
                f"{made}.params[{param!r}] has shape {value.shape}, expected {shape} "
                "(see the table of layers above the class)."
            )
        if value.dtype != np.dtype(dtype):
            raise CaseFailure(
                f"{made}.params[{param!r}] is {value.dtype}, expected {dtype}"
                + (" (the default dtype is np.float32)" if "dtype" not in kwargs else "")
                + ": cast every parameter to dtype, as the last lines of __init__ do."
            )
    return params


def _judge_initialisation(params: dict, kwargs: dict, name: str) -> None:
    """Biases exactly zero; weights drawn from N(0, weight_scale**2): W2's standard deviation
    within 5% of weight_scale and its mean within five standard errors of 0 (W2 has hundreds
    of thousands of numbers), W1's and W3's (hundreds) within 25%."""
    scale = kwargs["weight_scale"]
    for bias in ("b1", "b2", "b3"):
        if np.any(params[bias] != 0):
            raise CaseFailure(f"params[{bias!r}] must start at zero; it holds {params[bias][:4]}.")
    for weight, slack in (("W2", 0.05), ("W1", 0.25), ("W3", 0.25)):
        value = params[weight].astype(np.float64)
        std, mean = float(value.std()), float(value.mean())
        if abs(std - scale) > slack * scale or (
            weight == "W2" and abs(mean) > 5 * scale / math.sqrt(value.size)
        ):
            raise CaseFailure(
                f"params[{weight!r}] has mean {mean:.3g} and standard deviation {std:.3g}; with "
                f"weight_scale={scale} the weights must be drawn from N(0, weight_scale**2): "
                f"mean about 0 and standard deviation {scale} (weight_scale * "
                "rng.standard_normal(shape))."
            )


@dataclass(frozen=True)
class _Truth:
    """The twin's results on one case, with what the mistakes' predictions need."""

    X: np.ndarray
    params: dict
    reg: float
    scores: np.ndarray
    loss: float
    grads: dict

    @property
    def n(self) -> int:
        return len(self.X)

    @property
    def classes(self) -> int:
        return self.scores.shape[1]

    def squares(self, names: Sequence[str]) -> float:
        return float(sum(np.sum(self.params[p] ** 2) for p in names))


def _twin_truth(kwargs: dict, params: dict, X: np.ndarray, y: np.ndarray) -> _Truth:
    """The reference ThreeLayerConvNet in float64 with the case's parameters."""
    sizes = {k: v for k, v in kwargs.items() if k != "dtype"}
    model = reference.ThreeLayerConvNet(**sizes, dtype=np.float64, seed=0)
    values = {p: np.asarray(v, dtype=np.float64) for p, v in params.items()}
    model.params = {p: torch.from_numpy(v.copy()) for p, v in values.items()}
    X64 = np.asarray(X, dtype=np.float64)
    scores = model.loss(torch.from_numpy(X64.copy())).numpy()
    loss, grads = model.loss(torch.from_numpy(X64.copy()), torch.from_numpy(np.asarray(y)))
    return _Truth(
        X64, values, kwargs["reg"], scores, float(loss), {p: g.numpy() for p, g in grads.items()}
    )


def _scores_of(truth: _Truth, pool_first: bool = False, channels_last: bool = False):
    """The scores of the model with a mistake in its forward pass (float64)."""
    p = {k: torch.from_numpy(v) for k, v in truth.params.items()}
    x = torch.from_numpy(truth.X)
    pad = (p["W1"].shape[2] - 1) // 2
    if pool_first:
        features = F.relu(F.conv2d(F.max_pool2d(x, 2), p["W1"], p["b1"], padding=pad))
    else:
        features = F.max_pool2d(F.relu(F.conv2d(x, p["W1"], p["b1"], padding=pad)), 2)
    if channels_last:
        if features.shape[1] == 1 or features.shape[2] * features.shape[3] == 1:
            raise NotApplicable
        features = features.permute(0, 2, 3, 1)
    hidden = F.relu(features.reshape(len(x), -1) @ p["W2"] + p["b2"])
    return (hidden @ p["W3"] + p["b3"]).numpy()


def _with_reg(truth: _Truth) -> _Truth:
    if truth.reg == 0:
        raise NotApplicable
    return truth


SCORE_MISTAKES = (
    Mistake(
        "pool_before_conv",
        "the scores equal max pooling applied BEFORE the convolution; the order is conv - relu "
        "- pool",
        lambda t: _scores_of(t, pool_first=True),
    ),
    Mistake(
        "flatten_channels_last",
        "the pooled (N, F, H/2, W/2) maps were flattened in (N, H/2, W/2, F) order; flatten "
        "them as they are",
        lambda t: _scores_of(t, channels_last=True),
    ),
    Mistake(
        "scores_after_softmax",
        "loss(X) returned probabilities (rows sum to 1); return the scores before the softmax",
        lambda t: np.exp(t.scores) / np.exp(t.scores).sum(axis=1, keepdims=True),
    ),
)

_BIASES_HINT = "the biases are regularised too; only W1, W2, W3 are"
_SUMMED_HINT = (
    "the loss is summed over the batch: average it (divide by N), as softmax_loss does, and "
    "the gradients with it"
)
_OVER_CLASSES_HINT = (
    "the gradients are N/C times the expected: average over the batch (divide by N), not over "
    "the classes"
)


def _data_loss(t: _Truth) -> float:
    return t.loss - 0.5 * t.reg * t.squares(WEIGHT_NAMES)


LOSS_MISTAKES = (
    Mistake(
        "reg_missing_from_loss",
        "the loss lacks 0.5 * reg * (sum(W1**2) + sum(W2**2) + sum(W3**2)), though the "
        "gradients have reg * W",
        lambda t: _data_loss(_with_reg(t)),
    ),
    Mistake(
        "reg_without_half",
        "the penalty is reg * sum(W**2): the contract has 0.5 * reg * sum(W**2), whose gradient "
        "is reg * W",
        lambda t: _with_reg(t).loss + 0.5 * t.reg * t.squares(WEIGHT_NAMES),
    ),
    Mistake(
        "biases_regularised",
        _BIASES_HINT,
        lambda t: _with_reg(t).loss + 0.5 * t.reg * t.squares(("b1", "b2", "b3")),
    ),
    Mistake(
        "summed_over_batch",
        _SUMMED_HINT,
        lambda t: t.loss + (t.n - 1) * _data_loss(t) if t.n > 1 else not_applicable(),
    ),
)


def _weight_or_bias(t: _Truth, param: str, weight: Callable, bias: Callable) -> np.ndarray:
    g = t.grads[param]
    if param in WEIGHT_NAMES:
        return weight(g - t.reg * t.params[param], t.reg * t.params[param])
    return bias(g, t.params[param])


def _grad_mistakes(param: str) -> tuple[Mistake, ...]:
    """The mistakes that change the gradient of ``param``, predicted from the twin's."""
    is_weight = param in WEIGHT_NAMES

    def scaled(factor: Callable[[_Truth], float]) -> Callable[[_Truth], np.ndarray]:
        def predict(t: _Truth) -> np.ndarray:
            k = factor(t)
            if k == 1:
                raise NotApplicable
            return _weight_or_bias(t, param, lambda data, pen: data * k + pen, lambda g, b: g * k)

        return predict

    mistakes = [
        Mistake(
            "grads_averaged_over_classes", _OVER_CLASSES_HINT, scaled(lambda t: t.n / t.classes)
        ),
        Mistake("summed_over_batch", _SUMMED_HINT, scaled(lambda t: t.n)),
    ]
    if is_weight:
        mistakes.insert(
            0,
            Mistake(
                "reg_missing_from_gradients",
                "the loss has the penalty but the weight gradients lack reg * W",
                lambda t: _with_reg(t).grads[param] - t.reg * t.params[param],
            ),
        )
    else:
        mistakes.insert(
            0,
            Mistake(
                "biases_regularised",
                _BIASES_HINT,
                lambda t: _with_reg(t).grads[param] + t.reg * t.params[param],
            ),
        )
    return tuple(mistakes)


GRAD_MISTAKES = {param: _grad_mistakes(param) for param in PARAM_NAMES}


def _compare_number(got: float, expected: float, what: str, tol: Tolerance) -> float:
    error = abs(got - expected)
    if not math.isfinite(got) or error > tol.atol + tol.rtol * abs(expected):
        raise CaseFailure(
            f"{what} is {got:.8g}, expected {expected:.8g} (error {error:.3g}; allowed "
            f"{tol.rtol:.0e} relative: {tol.why})."
        )
    return error / max(1e-8, abs(got) + abs(expected))


def stage_failure(report: dict, name: str) -> CaseFailure:
    """The diagnosis of the student's code raising in a measurement."""
    error = report["error"]
    where = {
        "build": f"{name}(...)",
        "params": f"setting model.params of {name}",
        "scores": f"{name}.loss(X)",
        "loss": f"{name}.loss(X, y)",
    }.get(error["stage"], name)
    return raised(error, where, "the inputs shown")


def _judge_model(attempt: Attempt, case: Case) -> float | None:
    """Build the model; judge its initialisation, or set the case's parameters and compare
    the scores, the loss and every gradient with the twin's."""
    name = attempt.name
    kwargs = dict(case.kwargs)
    if not case.args:
        report = attempt.measure("convnet", kwargs)
        if "error" in report:
            raise stage_failure(report, name)
        _judge_initialisation(_built_params(report["initial"], kwargs, name), kwargs, name)
        return None
    X, y, values = case.fresh()[0]
    params = dict(zip(PARAM_NAMES, values))
    report = attempt.measure("convnet", kwargs, params, X, y)
    if "initial" in report:
        _built_params(report["initial"], kwargs, name)
    if "error" in report:
        raise stage_failure(report, name)
    truth = _twin_truth(kwargs, params, X, y)
    tol = FLOAT32_MODEL if kwargs["dtype"] == "float32" else FLOAT64

    def compare(got: Any, expected: Any, what: str, mistakes: Sequence[Mistake]) -> float:
        if isinstance(got, dict):
            raise CaseFailure(not_an_array(what, got["odd"]))
        got = np.asarray(got, dtype=np.float64)
        try:
            if got.ndim == 0 and np.ndim(expected) == 0:
                return _compare_number(float(got), float(expected), what, tol)
            return compare_arrays(got, np.asarray(expected), what=what, tol=tol)
        except CaseFailure as failure:
            raise failure.with_hint(diagnose(mistakes, (truth,), got)) from None

    errors = [compare(report["scores"], truth.scores, "scores", SCORE_MISTAKES)]
    if "pair" in report:
        raise CaseFailure(
            f"{name}.loss(X, y) must return a pair (loss, grads); it returned {report['pair']}."
        )
    errors.append(compare(report["loss"], truth.loss, "loss", LOSS_MISTAKES))
    grads = report["grads"]
    if "odd" in grads:
        raise CaseFailure(
            f"the grads of loss(X, y) must be a dict with the keys of params; it is "
            f"{grads['odd']['answer']}."
        )
    if sorted(grads) != sorted(PARAM_NAMES):
        raise CaseFailure(
            f"grads has the keys {sorted(grads)}, expected those of params: {list(PARAM_NAMES)} "
            "(one gradient per parameter, the biases' too)."
        )
    for param in PARAM_NAMES:
        what = f"grads[{param!r}]"
        errors.append(compare(grads[param], truth.grads[param], what, GRAD_MISTAKES[param]))
    return max(errors)


# Sizes of the value cases: input_dim, num_filters, filter_size, hidden_dim, num_classes, N,
# reg, dtype. N differs from num_classes and most have reg > 0, so that every mistake shows.
MODEL_SIZES = (
    ((3, 8, 8), 4, 3, 10, 6, 5, 0.0, "float64"),
    ((3, 8, 8), 4, 3, 10, 6, 5, 0.3, "float64"),
    ((1, 6, 4), 2, 5, 7, 3, 1, 0.2, "float64"),
    ((2, 6, 6), 3, 3, 5, 4, 7, 0.1, "float32"),
)
HIDDEN_MODEL_SIZES = (
    ((3, 10, 12), 5, 7, 9, 5, 3, 0.4, "float64"),
    ((1, 4, 8), 2, 1, 6, 2, 4, 0.05, "float64"),
    ((4, 8, 6), 3, 5, 8, 7, 2, 0.3, "float32"),
)
# A margin that float32 rounding cannot cross: no pre-activation this close to a ReLU's kink,
# and no two positive values of a pooling window this close (the gradient's route would flip).
_KINK_MARGIN = 1e-4


def _clear_of_kinks(X: np.ndarray, params: dict) -> bool:
    p = {k: torch.from_numpy(np.asarray(v, dtype=np.float64)) for k, v in params.items()}
    pad = (p["W1"].shape[2] - 1) // 2
    conv = F.conv2d(
        torch.from_numpy(np.asarray(X, dtype=np.float64)), p["W1"], p["b1"], padding=pad
    )
    windows = F.relu(conv).unfold(2, 2, 2).unfold(3, 2, 2).flatten(-2)  # (N, F, H/2, W/2, 4)
    top2 = windows.topk(2, dim=-1).values
    tied = (top2[..., 0] > 0) & (top2[..., 0] - top2[..., 1] < _KINK_MARGIN)
    hidden = F.max_pool2d(F.relu(conv), 2).flatten(1) @ p["W2"] + p["b2"]
    return bool(
        conv.abs().min() > _KINK_MARGIN and not tied.any() and hidden.abs().min() > _KINK_MARGIN
    )


def _model_case(rng: np.random.Generator, sizes: tuple, label: str) -> Case:
    """Parameters set by the check (weights ~ 1/sqrt(fan_in), biases nonzero) and a
    standard-normal input, redrawn until it is clear of every kink."""
    (C, H, W), F_, fs, hidden, classes, n, reg, dtype = sizes
    kwargs = dict(
        input_dim=(C, H, W),
        num_filters=F_,
        filter_size=fs,
        hidden_dim=hidden,
        num_classes=classes,
        reg=reg,
        dtype=dtype,
    )
    shapes = _expected_shapes(kwargs)
    for _ in range(200):
        params = {
            p: rng.standard_normal(shape) / math.sqrt(np.prod(shape[1:]) if p == "W1" else shape[0])
            if p in WEIGHT_NAMES
            else 0.5 * rng.standard_normal(shape)
            for p, shape in shapes.items()
        }
        params = {p: v.astype(dtype) for p, v in params.items()}
        X = rng.standard_normal((n, C, H, W)).astype(dtype)
        if _clear_of_kinks(X, params):
            break
    y = rng.integers(0, classes, n)
    name = (
        f"{label}: input ({C}, {H}, {W}), {F_} filters {fs}x{fs}, hidden {hidden}, {classes} "
        f"classes, N={n}, reg={reg}, {dtype}"
    )
    return Case(name, (X, y, tuple(params[p] for p in PARAM_NAMES)), kwargs)


def _init_case(label: str, dtype: str | None, **sizes: Any) -> Case:
    kwargs = dict(sizes, **({"dtype": dtype} if dtype else {}))
    return Case(f"initialisation, {label}", (), kwargs)


def _model_public() -> list[Case]:
    rng = np.random.default_rng(202)
    sizes = dict(input_dim=(1, 28, 28), num_filters=16, filter_size=5, hidden_dim=64)
    return [
        _init_case("default dtype (float32)", None, **sizes, num_classes=10, weight_scale=0.02),
        _init_case("dtype=np.float64", "float64", **sizes, num_classes=10, weight_scale=0.02),
        *(_model_case(rng, s, f"values {i + 1}") for i, s in enumerate(MODEL_SIZES)),
    ]


def _model_hidden(rng: np.random.Generator) -> list[Case]:
    scale = float(rng.uniform(0.005, 0.1))
    sizes = dict(input_dim=(3, 16, 16), num_filters=32, filter_size=3, hidden_dim=64)
    return [
        _init_case("default dtype (float32)", None, **sizes, num_classes=7, weight_scale=scale),
        _init_case("dtype=np.float64", "float64", **sizes, num_classes=7, weight_scale=scale),
        *(
            _model_case(rng, s, f"hidden {i + 1}")
            for i, s in enumerate(MODEL_SIZES + HIDDEN_MODEL_SIZES)
        ),
    ]


THREE_LAYER_CONVNET = Exercise(
    "three_layer_convnet",
    args=("X", "y", "params"),
    public=_model_public,
    hidden=_model_hidden,
    judge=_judge_model,
    functions=("ThreeLayerConvNet",),
)


@check
def check_three_layer_convnet(ThreeLayerConvNet: Any, cases: str = "public") -> CheckResult:
    """Check the class ``ThreeLayerConvNet``: CS231n's constructor and initialisation, and
    ``loss(X, y=None)``'s scores, loss and gradients, with the parameters the check sets."""
    _refuse_banned_class(ThreeLayerConvNet, THREE_LAYER_CONVNET.name)
    return THREE_LAYER_CONVNET.run(cases, ThreeLayerConvNet)
