"""How a check judges a normalisation layer (notebook 04): statistics over some axes of x.

A normalisation layer computes ``out = gamma * (x - mean) / sqrt(var + eps) + beta`` with the
mean and the biased variance taken over ``axes`` of x, and gamma, beta one value per channel
(axis 1 of x, the feature axis of an (N, D) input): batch norm takes them over ``(0,)`` of
(N, D) or ``(0, 2, 3)`` of (N, C, H, W), layer norm over ``(1,)`` of (N, D). Everything here
is written for any such ``axes``, so the checks of every normalisation layer share it:

- ``normalised`` and ``staged_backward``: the layer and its staged backward in NumPy, each
  with the switches of its common mistakes (the unbiased variance, eps outside the square
  root, a missing path of the graph), to predict what mistaken code returns.
- ``TrainTestRun``: judges a forward with running statistics over a run of calls sharing one
  param dict (modes such as train, train, test): ``out`` after every call, and the running
  averages that the contract says are stored into the dict. A known mistake is a whole
  mistaken forward (``mistaken_batchnorm``), replayed over the run up to the failing call, so
  that it predicts the value it explains (``out`` or a running average at that call).
- ``NormBackward``: the student's forward on the case (its ``out`` compared first: a backward
  needs the cache of a working forward), then the student's backward on that very cache
  (caches are opaque), each gradient compared with the twins'.

The engine's ``diagnose`` names a mistake when its prediction errs as the answer does: it
compares the errors (answer minus right answer), scaled by the answer's largest error
(``_explained``), so that a mistake whose effect is small, as eps outside the square root, is
told from an answer merely off by rounding.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from autograder.checks._engine import (
    Attempt,
    Case,
    CaseFailure,
    Hint,
    Mistake,
    NotApplicable,
    Tolerance,
    as_float64_array,
    compare_arrays,
    diagnose,
    expect_tuple,
    matches,
    to_numpy,
    to_tensor,
    tolerance_for,
)
from course_utils.reference.batchnorm import DEFAULT_EPS, DEFAULT_MOMENTUM

__all__ = [
    "per_channel",
    "normalised",
    "mistaken_batchnorm",
    "FORGOT_TO_STORE",
    "TrainTestRun",
    "staged_backward",
    "backward_mistake",
    "NormBackward",
]

RUNNING = ("running_mean", "running_var")


# --- the layer in NumPy, with its common mistakes ------------------------------------------------


def per_channel(values: np.ndarray, ndim: int) -> np.ndarray:
    """gamma, beta (or a gradient of them) shaped to broadcast along axis 1 of an ndim array."""
    return np.reshape(values, (1, -1) + (1,) * (ndim - 2))


def normalised(
    x: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    eps: float,
    axes: tuple[int, ...],
    *,
    ddof: int = 0,
    eps_outside: bool = False,
) -> np.ndarray:
    """``gamma * (x - mean) / sqrt(var + eps) + beta``, statistics over ``axes`` of x.

    ``ddof=1`` normalises with the unbiased variance; ``eps_outside`` divides by
    ``sqrt(var) + eps``.
    """
    mu = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True, ddof=ddof)
    return _scaled(x, gamma, beta, mu, var, eps, eps_outside)


def _scaled(x, gamma, beta, mu, var, eps, eps_outside):
    std = np.sqrt(var) + eps if eps_outside else np.sqrt(var + eps)
    return per_channel(gamma, x.ndim) * ((x - mu) / std) + per_channel(beta, x.ndim)


def mistaken_batchnorm(
    axes: tuple[int, ...],
    *,
    ddof: int = 0,
    running_ddof: int = 0,
    swap_momentum: bool = False,
    test_on_batch: bool = False,
    eps_outside: bool = False,
    store: bool = True,
) -> Callable[[np.ndarray, np.ndarray, np.ndarray, dict], np.ndarray]:
    """A batch-norm forward ``(x, gamma, beta, bn_param) -> out`` with one mistake, written as
    the notebook's scaffold is (running statistics read with zeros as default, written back).

    Args:
        axes: the axes of x its statistics are taken over ((0,) or (0, 2, 3)).
        ddof, running_ddof: 1 for the unbiased variance, to normalise and in the running
            average.
        swap_momentum: keeps 1 - momentum of the old running average.
        test_on_batch: normalises test-mode batches with their own statistics.
        eps_outside: divides by sqrt(var) + eps.
        store: False writes back the running averages unchanged.

    The forward raises ``NotApplicable`` where its statistics would come from fewer than two
    values (the twins refuse that batch).
    """

    def forward(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, bn_param: dict) -> np.ndarray:
        mode = bn_param["mode"]
        eps = bn_param.get("eps", DEFAULT_EPS)
        momentum = bn_param.get("momentum", DEFAULT_MOMENTUM)
        d = gamma.shape[0]
        running = {
            key: np.asarray(bn_param.get(key, np.zeros(d)), dtype=np.float64) for key in RUNNING
        }
        batch = mode == "train" or test_on_batch
        if batch and math.prod(x.shape[a] for a in axes) < 2:
            raise NotApplicable
        if batch:
            mu = x.mean(axis=axes, keepdims=True)
            var = x.var(axis=axes, keepdims=True, ddof=ddof)
        else:
            shape = tuple(1 if a in axes else n for a, n in enumerate(x.shape))
            mu = running["running_mean"].reshape(shape)
            var = running["running_var"].reshape(shape)
        out = _scaled(x, gamma, beta, mu, var, eps, eps_outside)
        if mode == "train" and store:
            keep = 1 - momentum if swap_momentum else momentum
            batch_var = x.var(axis=axes, ddof=running_ddof)
            running["running_mean"] = keep * running["running_mean"] + (1 - keep) * mu.reshape(-1)
            running["running_var"] = keep * running["running_var"] + (1 - keep) * batch_var
        bn_param.update(running)
        return out

    return forward


# --- forward over a run of train and test calls --------------------------------------------------

FORGOT_TO_STORE = Hint(
    "forgets_running_stats",
    "the running averages were not stored into bn_param. Training mode must end with "
    'bn_param["running_mean"] = running_mean and bn_param["running_var"] = running_var (the '
    "updated values), so the next call and test mode see them.",
)


def _start_param(bn_param: dict, start: tuple) -> dict:
    """The param dict of a run's first call: ``bn_param`` with the starting running averages."""
    param = copy.deepcopy(bn_param)
    for key, value in zip(RUNNING, start):
        if value is not None:
            param[key] = np.array(value, dtype=np.float64, copy=True)
    return param


def _explained(
    mistakes: Sequence[Mistake], args: tuple, got: np.ndarray, right: np.ndarray
) -> Hint | None:
    """The hint of the first of ``mistakes`` whose prediction on ``args`` errs as ``got`` does.

    The engine's ``diagnose`` matches the errors, ``got - right`` and ``predicted - right``,
    both divided by got's largest error: a mistake whose effect is small (eps outside the square
    root changes out by about 1e-5 relative) is recognised to float32 precision of that effect,
    and an answer merely off by rounding is not taken for it. A prediction with a nan or an inf
    proves nothing.
    """
    if got.shape != right.shape:
        return None
    scale = float(np.max(np.abs(got - right), initial=0.0))
    if not np.isfinite(scale) or scale == 0.0:
        return None

    def error(predicted: Any) -> np.ndarray:
        predicted = np.asarray(predicted, dtype=np.float64)
        if predicted.shape != right.shape or not np.isfinite(predicted).all():
            raise NotApplicable
        return (predicted - right) / scale

    return diagnose(mistakes, args, (got - right) / scale, convert=error)


def _replayed(mistake: Mistake, step: int, quantity: str) -> Mistake:
    """``mistake``, a whole mistaken forward, replayed over a run's calls up to ``step``: its
    prediction is ``quantity`` ("out", or a running average in the param dict) at that call."""

    def predict(xs, modes, gamma, beta, bn_param, start) -> np.ndarray:
        param = _start_param(bn_param, start)
        for x, mode in zip(xs[: step + 1], modes):
            param["mode"] = mode
            try:
                out = mistake.predict(x, gamma, beta, param)
                value = out if quantity == "out" else param[quantity]
            except NotApplicable:
                value = None
        if value is None:
            raise NotApplicable
        return value

    return Mistake(mistake.id, mistake.hint, predict)


def _first_call(mistake: Mistake) -> Mistake:
    """``mistake``, a forward ``(x, gamma, beta, bn_param) -> out``, on a run's first call."""

    def predict(xs, modes, gamma, beta, bn_param, start) -> np.ndarray:
        return mistake.predict(xs[0], gamma, beta, bn_param)

    return Mistake(mistake.id, mistake.hint, predict)


@dataclass(frozen=True)
class TrainTestRun:
    """Judge a forward with running statistics over a run of calls that share one bn_param.

    A case's arguments are ``(xs, modes, gamma, beta, bn_param, start)``: one input and one
    mode ("train" or "test") per call, the affine parameters, bn_param's other keys, and the
    running averages it starts with (``(None, None)``: absent). The student's function gets
    the SAME dict at every call, as a training loop passes it; after every call, ``out`` and
    each running average stored into the dict are compared with the twin's, run beside it.

    Args:
        twin: the reference forward (tensors; it stores its running averages into its dict).
        mistakes: whole mistaken forwards ``(x, gamma, beta, bn_param) -> out`` that update
            bn_param as that code would (``mistaken_batchnorm``), replayed over the run.
        first_call: mistakes predicting ``out`` of the first call alone, judged there when it
            is in training mode (statistics over the wrong axes).
    """

    twin: Callable
    mistakes: Sequence[Mistake]
    first_call: Sequence[Mistake] = ()

    def __call__(self, attempt: Attempt, case: Case) -> float:
        xs, modes, gamma, beta, bn_param, start = case.fresh()[0]
        expected = self._expected(case)
        state = _start_param(bn_param, start)  # the student's bn_param, shared by the calls
        error = 0.0
        for k, (x, mode) in enumerate(zip(xs, modes)):
            where = f"step {k + 1} of {len(xs)} ({mode} mode"
            where += ", same bn_param as before):\n  " if k else "):\n  "
            state["mode"] = mode
            before = {key: copy.deepcopy(state.get(key)) for key in RUNNING}
            x_in = x.copy()
            value = attempt.call((x_in, gamma.copy(), beta.copy(), state))
            if not np.array_equal(x_in, x):
                raise CaseFailure(
                    f"{where}{attempt.name} changed its input x in place. Work on new arrays "
                    "(x - mu returns one)."
                )
            out, _ = attempt.tuple(value, ("out", "cache"))
            got = attempt.array(out, "out")
            right = expected[k]["out"]
            error = max(error, self._compare(case, k, "out", got, right, tolerance_for(out), where))
            for key in RUNNING:
                error = max(
                    error, self._running(attempt, case, k, key, state, before[key], expected, where)
                )
        return error

    def _expected(self, case: Case) -> list[dict[str, np.ndarray]]:
        """The twin's run: ``out`` and the running averages after every call."""
        xs, modes, gamma, beta, bn_param, start = case.fresh()[0]
        param = {key: to_tensor(value) for key, value in _start_param(bn_param, start).items()}
        steps = []
        for x, mode in zip(xs, modes):
            param["mode"] = mode
            out, _ = self.twin(to_tensor(x), to_tensor(gamma), to_tensor(beta), param)
            steps.append({"out": to_numpy(out), **{key: to_numpy(param[key]) for key in RUNNING}})
        return steps

    def _running(
        self,
        attempt: Attempt,
        case: Case,
        step: int,
        key: str,
        state: dict,
        before: Any,
        expected: list[dict[str, np.ndarray]],
        where: str,
    ) -> float:
        """Compare bn_param[key] after call ``step`` with the twin's."""
        if key not in state:
            raise CaseFailure(f'{where}bn_param has no "{key}" after this call.', FORGOT_TO_STORE)
        got = attempt.array(state[key], f'bn_param["{key}"]')
        tol = tolerance_for(state[key])
        right = expected[step][key]
        if case.args[1][step] == "train" and before is not None and got.shape == right.shape:
            unchanged = np.array_equal(got, np.asarray(before, dtype=np.float64))
            if unchanged and not matches(got, right, tol):
                raise CaseFailure(
                    f'{where}bn_param["{key}"] is unchanged by a training step.', FORGOT_TO_STORE
                )
        return self._compare(case, step, key, got, right, tol, where)

    def _compare(
        self,
        case: Case,
        step: int,
        quantity: str,
        got: np.ndarray,
        right: np.ndarray,
        tol: Tolerance,
        where: str,
    ) -> float:
        """compare_arrays, prefixed with ``where``, explained by the first mistake whose value
        at this call equals ``got``."""
        what = "out" if quantity == "out" else f'bn_param["{quantity}"]'
        try:
            return compare_arrays(got, right, what=what, tol=tol, swapped_layout_hint=False)
        except CaseFailure as failure:
            mistakes = [_replayed(m, step, quantity) for m in self.mistakes]
            if quantity == "out" and step == 0 and case.args[1][0] == "train":
                mistakes += [_first_call(m) for m in self.first_call]
            hint = _explained(mistakes, case.args, got, right)
            raise CaseFailure(f"{where}{failure}", hint, failure.difference) from None


# --- backward: the student's forward's cache goes to the student's backward ---------------------


def staged_backward(
    x: np.ndarray,
    gamma: np.ndarray,
    eps: float,
    dout: np.ndarray,
    axes: tuple[int, ...],
    *,
    dvar_path: bool = True,
    dmu_path: bool = True,
    dgamma_with_x: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(dx, dgamma, dbeta)`` of ``normalised`` (training mode, statistics over ``axes``), by
    the lecture's staged graph; the switches drop a path of dx or take dgamma from x.

        dx_hat = dout * gamma
        dvar   = sum(dx_hat * (x - mu)) * -1/2 * (var + eps)^(-3/2)
        dmu    = sum(-dx_hat / sqrt(var + eps))
        dx     = dx_hat / sqrt(var + eps) + dvar * 2 (x - mu) / M + dmu / M
        dgamma = sum(dout * x_hat),  dbeta = sum(dout)

    with sums and M over ``axes``, and dgamma, dbeta summed over every axis but 1, shaped as
    gamma.
    """
    m = math.prod(x.shape[a] for a in axes)
    x_mu = x - x.mean(axis=axes, keepdims=True)
    inv_std = 1.0 / np.sqrt(x.var(axis=axes, keepdims=True) + eps)
    x_hat = x_mu * inv_std
    dx_hat = dout * per_channel(gamma, x.ndim)
    dx = dx_hat * inv_std
    if dvar_path:
        dvar = np.sum(dx_hat * x_mu, axis=axes, keepdims=True) * -0.5 * inv_std**3
        dx = dx + dvar * 2 * x_mu / m
    if dmu_path:
        dx = dx + np.sum(-dx_hat * inv_std, axis=axes, keepdims=True) / m
    others = tuple(a for a in range(x.ndim) if a != 1)
    dgamma = np.sum(dout * (x if dgamma_with_x else x_hat), axis=others).reshape(gamma.shape)
    return dx, dgamma, np.sum(dout, axis=others).reshape(gamma.shape)


GRADS = ("dx", "dgamma", "dbeta")


def backward_mistake(
    id: str, hint: str, grad: str, axes: tuple[int, ...], **paths: bool
) -> Mistake:
    """The mistake of a staged backward with ``paths`` switched (see ``staged_backward``),
    predicting ``grad`` from a case's ``(x, gamma, beta, param, dout)``."""

    def predict(x, gamma, beta, param, dout) -> np.ndarray:
        eps = param.get("eps", DEFAULT_EPS)
        return staged_backward(x, gamma, eps, dout, axes, **paths)[GRADS.index(grad)]

    return Mistake(id, hint, predict)


def _tensors(value: Any) -> Any:
    """A twin's argument: ndarrays as tensors, inside a param dict too (a fresh dict)."""
    if isinstance(value, dict):
        return {key: _tensors(item) for key, item in value.items()}
    return to_tensor(value)


@dataclass(frozen=True)
class NormBackward:
    """Judge a normalisation's backward ``(dout, cache) -> (dx, dgamma, dbeta)``.

    The student's forward (function 0) runs on the case's arguments but the last, and its
    ``out`` must match the twin's (a backward needs the cache of a working forward); then the
    student's backward (function 1) gets ``dout`` and that very cache, and each gradient is
    compared with the twins'.

    Args:
        forward_twin, backward_twin: the reference pair (tensors).
        mistakes: per gradient name, mistakes predicting it from the case's arguments
            (``backward_mistake``).
        summed_over: the axes that dgamma and dbeta sum over, in words ("N, H and W"): a
            gradient of x's shape without the batch axis is diagnosed as summed over the batch
            only. None where that shape is the right one (x of shape (N, D)).
    """

    forward_twin: Callable
    backward_twin: Callable
    mistakes: dict[str, Sequence[Mistake]] = field(default_factory=dict)
    summed_over: str | None = None

    def __call__(self, attempt: Attempt, case: Case) -> float:
        *forward_args, dout = case.fresh()[0]
        x = forward_args[0]
        twin_out, twin_cache = self.forward_twin(*(_tensors(a) for a in forward_args))
        expected = to_numpy(self.backward_twin(to_tensor(dout), twin_cache))
        cache = self._forward(attempt, forward_args, to_numpy(twin_out))
        answer = attempt.tuple(attempt.call((dout.copy(), cache), which=1), GRADS)
        error = 0.0
        for grad, value, right in zip(GRADS, answer, expected):
            got, tol = attempt.array(value, grad), tolerance_for(value)
            if self.summed_over and grad != "dx" and got.shape == x.shape[1:]:
                raise CaseFailure(
                    f"{grad} has shape {got.shape}, expected {right.shape}.",
                    Hint(
                        f"{grad}_over_batch_only",
                        f"sum over {self.summed_over}: {grad} has one value per channel, like "
                        "gamma and beta.",
                    ),
                )
            try:
                error = max(
                    error,
                    compare_arrays(got, right, what=grad, tol=tol, swapped_layout_hint=False),
                )
            except CaseFailure as failure:
                mistakes = self.mistakes.get(grad, ())
                raise failure.with_hint(_explained(mistakes, case.args, got, right)) from None
        return error

    @staticmethod
    def _forward(attempt: Attempt, forward_args: list, right: np.ndarray) -> Any:
        """The cache of the student's forward, whose ``out`` must be right."""
        name = attempt.names[0]
        try:
            out, cache = expect_tuple(
                attempt.call(tuple(forward_args), which=0), name, ("out", "cache")
            )
            compare_arrays(
                as_float64_array(out, name, "out"), right, what="out", tol=tolerance_for(out)
            )
        except CaseFailure as failure:
            raise CaseFailure(
                f"{failure}\n  {attempt.name} needs the cache of a working {name}: fix {name} "
                "first (its own check says what is wrong).",
                failure.hint,
                failure.difference,
            ) from None
        return cache
