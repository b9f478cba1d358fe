"""Gradient checking: relative error, centred finite differences, and a one-call check.

The idea (notebook 02): a backward pass is a formula you derived by hand; a finite
difference is a formula nobody can get wrong. For a scalar function f,

    df/dx[i] ~= (f(x + h e_i) - f(x - h e_i)) / (2h)            (centred difference)

whose error is O(h^2), where the one-sided (f(x + h e_i) - f(x)) / h has an O(h) error.
Compare the two with the elementwise relative error

    rel_error(a, b) = max_i |a_i - b_i| / max(1e-8, |a_i| + |b_i|)

Everything here works on NumPy arrays; torch tensors are accepted too (``rel_error`` and the
numerical gradients take them and return the same kind of object they were given).

How small must the relative error be? It depends on the precision the check ran in:

==========  ===================  ==========================  ====================
dtype       excellent            acceptable (near a kink)    too large
==========  ===================  ==========================  ====================
float64     < 1e-7               1e-7 .. 1e-5                >= 1e-5
float32     < 1e-3               1e-3 .. 1e-2                >= 1e-2
==========  ===================  ==========================  ====================

In float64 (the default everywhere in this course) a correct backward typically lands
between 1e-12 and 1e-8. float32 keeps only about 7 digits and the difference quotient loses
about half of them, so its verdicts are coarse: check in float64 whenever you can. For the
same reason check_gradients judges a float32 element that is tiny next to the gradient's
largest one on the largest one's scale (FLOAT32_FLOOR), not on its own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

#: (excellent below, too large from) for the worst relative error, per dtype.
THRESHOLDS: dict[str, tuple[float, float]] = {
    "float64": (1e-7, 1e-5),
    "float32": (1e-3, 1e-2),
}

#: In float32, elements are compared relative to at least this fraction of the gradient's
#: largest |analytic| + |numerical| (float64 keeps the CS231n floor of 1e-8).
FLOAT32_FLOOR = 1e-2

#: Default step h per dtype: about the cube root of the machine epsilon, where the O(h^2)
#: truncation error of the centred difference and the rounding error eps * |f| / h balance.
DEFAULT_STEP: dict[str, float] = {"float64": 1e-5, "float32": 1e-3}


def _to_numpy(a) -> np.ndarray:
    """Any array-like (ndarray, tensor on any device, number) -> ndarray, no copy if possible."""
    if isinstance(a, torch.Tensor):
        return a.detach().cpu().numpy()
    return np.asarray(a)


def rel_error(x, y) -> float:
    """Largest elementwise relative error between two arrays of the same shape.

        rel_error(x, y) = max_i |x_i - y_i| / max(1e-8, |x_i| + |y_i|)

    Args:
        x, y: arrays (or tensors, or numbers) of the same shape, any shape.

    Returns:
        The worst relative error, a Python float (0.0 for two empty arrays).
    """
    x = _to_numpy(x).astype(np.float64)
    y = _to_numpy(y).astype(np.float64)
    if x.shape != y.shape:
        raise ValueError(
            f"rel_error compares arrays of the same shape; got {x.shape} and {y.shape}."
        )
    if x.size == 0:
        return 0.0
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))


def _set(x, index, value) -> None:
    """x[index] = value, in place, for an ndarray or a tensor (even a leaf that needs grad)."""
    if isinstance(x, torch.Tensor):
        with torch.no_grad():
            x[index] = value
    else:
        x[index] = value


def _check_perturbable(x, who: str) -> None:
    if isinstance(x, torch.Tensor):
        if not x.is_floating_point():
            raise TypeError(f"{who}: x must be a floating-point tensor, got dtype {x.dtype}.")
        return
    if not isinstance(x, np.ndarray):
        raise TypeError(
            f"{who}: x must be a NumPy array (it is perturbed in place), got "
            f"{type(x).__name__}. Use np.asarray(x, dtype=np.float64) first."
        )
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(
            f"{who}: x must hold floating-point numbers, got dtype {x.dtype}; an integer "
            "array cannot hold x + h. Use x.astype(np.float64)."
        )


def _like(grad: np.ndarray, x):
    """The gradient as the same kind of object as x (ndarray or tensor on x's device)."""
    if isinstance(x, torch.Tensor):
        return torch.as_tensor(grad, dtype=x.dtype, device=x.device)
    return grad.astype(x.dtype, copy=False)


def eval_numerical_gradient(f: Callable, x, verbose: bool = False, h: float = 1e-5):
    """Numerical gradient of a scalar function f at x, by centred differences.

        grad[i] = (f(x + h e_i) - f(x - h e_i)) / (2h)

    x is perturbed in place, one element at a time, and every element is restored to its
    original value before the function returns (also when f raises).

    Args:
        f: function of one argument returning a scalar (a float, a 0-d array or tensor).
            It is called as f(x) with x itself, so it sees every perturbation.
        x: float array (or float tensor) of any shape; the point to differentiate at.
        verbose: print every index and its numerical derivative.
        h: the step.

    Returns:
        grad: same shape (and kind) as x, the numerical df/dx.
    """
    _check_perturbable(x, "eval_numerical_gradient")
    grad = np.zeros(tuple(x.shape), dtype=np.float64)
    for index in np.ndindex(*x.shape):
        old = float(x[index])
        try:
            _set(x, index, old + h)
            f_plus = float(f(x))
            _set(x, index, old - h)
            f_minus = float(f(x))
        finally:
            _set(x, index, old)
        grad[index] = (f_plus - f_minus) / (2 * h)
        if verbose:
            print(index, grad[index])
    return _like(grad, x)


def eval_numerical_gradient_array(f: Callable, x, df, h: float = 1e-5):
    """Numerical gradient of an array-valued function f at x, contracted with df.

    For out = f(x) and an upstream gradient df = dL/dout of the same shape as out, this is
    the gradient that a backward pass must return:

        grad[i] = sum_j df[j] * (f(x + h e_i)[j] - f(x - h e_i)[j]) / (2h)

    x is perturbed in place, one element at a time, and restored afterwards.

    Args:
        f: function of one argument returning an array; called as f(x).
        x: float array (or float tensor), any shape.
        df: upstream gradient, same shape as f(x).
        h: the step.

    Returns:
        grad: same shape (and kind) as x.
    """
    _check_perturbable(x, "eval_numerical_gradient_array")
    df = _to_numpy(df).astype(np.float64)
    grad = np.zeros(tuple(x.shape), dtype=np.float64)
    for index in np.ndindex(*x.shape):
        old = float(x[index])
        try:
            _set(x, index, old + h)
            pos = _to_numpy(f(x)).astype(np.float64)  # astype copies: f may reuse its buffer
            _set(x, index, old - h)
            neg = _to_numpy(f(x)).astype(np.float64)
        finally:
            _set(x, index, old)
        if pos.shape != df.shape:
            raise ValueError(
                f"eval_numerical_gradient_array: f(x) has shape {pos.shape} but df has shape "
                f"{df.shape}; df must be the upstream gradient of f's output."
            )
        grad[index] = np.sum((pos - neg) * df) / (2 * h)
    return _like(grad, x)


def verdict(error: float, dtype="float64") -> str:
    """A relative error judged in words for the precision it was measured in.

    Args:
        error: the worst relative error, e.g. from rel_error.
        dtype: "float64" or "float32" (a NumPy or torch dtype works too).

    Returns:
        e.g. "2.1e-10: excellent for float64" or
        "3.0e-04: too large for float64; your backward is probably wrong".
    """
    name = _dtype_name(dtype)
    excellent, too_large = THRESHOLDS[name]
    if not np.isfinite(error):
        return f"{error}: not a number; the forward or backward produced inf or nan"
    if error < excellent:
        return f"{error:.1e}: excellent for {name}"
    if error < too_large:
        return (
            f"{error:.1e}: acceptable for {name} only near a kink (ReLU at 0, a tie in a max); "
            "otherwise look again"
        )
    return f"{error:.1e}: too large for {name}; your backward is probably wrong"


def _dtype_name(dtype) -> str:
    if isinstance(dtype, torch.dtype):
        name = str(dtype).replace("torch.", "")
    else:
        name = np.dtype(dtype).name
    if name not in THRESHOLDS:
        raise ValueError(
            f"gradient checks are judged for float64 or float32, got {name}. "
            "Convert your inputs with x.astype(np.float64)."
        )
    return name


@dataclass
class GradCheckResult:
    """One input's comparison: worst relative error, where, and both values there."""

    name: str
    error: float
    index: tuple
    analytic: float
    numerical: float
    passed: bool
    verdict: str


@dataclass
class GradCheckReport:
    """What check_gradients found, one GradCheckResult per input.

    ``passed`` is True when no input's error is "too large" for the dtype. ``str(report)``
    (also what check_gradients prints) reads, for example:

        gradient check in float64 (centred differences, h=1e-05)
          dx: 2.1e-10: excellent for float64
          dw: 3.0e-04: too large for float64; your backward is probably wrong
              worst at dw[1, 0, 2, 2]: analytic 0.3125, numerical 0.5312
    """

    dtype: str
    h: float
    results: list[GradCheckResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    @property
    def errors(self) -> dict[str, float]:
        """Worst relative error per input, keyed by the gradient's name ("dx", "dw", ...)."""
        return {r.name: r.error for r in self.results}

    def __str__(self) -> str:
        lines = [f"gradient check in {self.dtype} (centred differences, h={self.h:g})"]
        for r in self.results:
            lines.append(f"  {r.name}: {r.verdict}")
            if not r.passed and r.index is not None:
                where = ", ".join(str(i) for i in r.index)
                lines.append(
                    f"      worst at {r.name}[{where}]: analytic {r.analytic:.6g}, "
                    f"numerical {r.numerical:.6g}"
                )
        return "\n".join(lines)


def _compare(name: str, analytic: np.ndarray, numerical: np.ndarray, dtype: str):
    a = analytic.astype(np.float64)
    n = numerical.astype(np.float64)
    if a.size == 0:
        return GradCheckResult(name, 0.0, None, 0.0, 0.0, True, verdict(0.0, dtype))
    floor = 1e-8
    if dtype == "float32":
        # An element far smaller than the gradient's largest one is lost in float32 rounding
        # (about 1e-4 of the output's scale per difference quotient), so it is judged on the
        # scale of the largest element instead of its own.
        floor = max(floor, FLOAT32_FLOOR * float(np.max(np.abs(a) + np.abs(n))))
    rel = np.abs(a - n) / np.maximum(floor, np.abs(a) + np.abs(n))
    if np.all(np.isfinite(rel)):
        flat = int(np.argmax(rel))
    else:
        flat = int(np.argmax(~np.isfinite(rel)))
    index = np.unravel_index(flat, a.shape)
    error = float(rel[index]) if np.isfinite(rel[index]) else float("nan")
    too_large = THRESHOLDS[dtype][1]
    passed = bool(np.isfinite(error) and error < too_large)
    return GradCheckResult(
        name,
        error,
        tuple(int(i) for i in index),
        float(a[index]),
        float(n[index]),
        passed,
        verdict(error, dtype),
    )


def _split_output(result):
    """forward's result -> (out, cache); a bare array is (out, None)."""
    if isinstance(result, tuple) and len(result) == 2:
        return result
    return result, None


def check_gradients(
    forward: Callable,
    inputs: Mapping[str, np.ndarray] | Sequence[np.ndarray],
    analytic,
    *,
    dout=None,
    h: float | None = None,
    seed: int = 0,
    verbose: bool = True,
) -> GradCheckReport:
    """Check every input's analytic gradient against centred differences, in one call.

    Typical use with a layer written to the course contract:

        x, w, b = rng.standard_normal((2, 3, 5, 5)), ..., ...
        conv_param = {"stride": 1, "pad": 1}
        check_gradients(
            lambda x, w, b: conv_forward_naive(x, w, b, conv_param),
            {"x": x, "w": w, "b": b},
            conv_backward_naive,
        )

    and with a loss (the analytic gradient already computed):

        loss, dscores = softmax_loss(scores, y)
        check_gradients(lambda s: softmax_loss(s, y)[0], {"scores": scores}, dscores)

    Args:
        forward: called as forward(*inputs); returns out, or (out, cache) as every forward
            of the course does. out is an array of any shape (or a scalar loss).
        inputs: the float arrays to differentiate with respect to, in forward's argument
            order: a dict {name: array} (gradients are reported as "d" + name) or a list.
            They are copied; your arrays are never changed.
        analytic: either backward, called as backward(dout, cache) and returning one
            gradient or a tuple with one gradient per input; or the gradients themselves
            (one array, a list in input order, or a dict keyed like inputs).
        dout: upstream gradient, same shape as out. Default: standard normal numbers drawn
            with ``seed`` (1.0 when out is a scalar).
        h: finite-difference step; default 1e-5 in float64 and 1e-3 in float32.
        seed: seed of the default dout.
        verbose: print the report.

    Returns:
        A GradCheckReport: ``report.passed``, ``report.errors`` ({"dx": 2.1e-10, ...}) and
        one GradCheckResult per input with the worst element's index and values.
    """
    if isinstance(inputs, Mapping):
        names = [f"d{name}" for name in inputs]
        arrays = list(inputs.values())
    else:
        arrays = list(inputs)
        names = ["dx"] if len(arrays) == 1 else [f"d(input {i})" for i in range(len(arrays))]
    if not arrays:
        raise ValueError("check_gradients needs at least one input to differentiate.")
    arrays = [_to_numpy(a).copy() for a in arrays]
    for name, a in zip(names, arrays):
        if not np.issubdtype(a.dtype, np.floating):
            raise TypeError(
                f"check_gradients: input {name[1:]!r} has dtype {a.dtype}; gradients are "
                "checked for float arrays only. Pass integer arguments (labels, sizes) "
                "through a lambda instead."
            )
    dtype = _dtype_name(np.result_type(*arrays))
    step = DEFAULT_STEP[dtype] if h is None else h

    out, cache = _split_output(forward(*arrays))
    out = _to_numpy(out)
    if dout is None:
        rng = np.random.default_rng(seed)
        dout = np.ones(()) if out.ndim == 0 else rng.standard_normal(out.shape)
        dout = dout.astype(out.dtype if np.issubdtype(out.dtype, np.floating) else np.float64)
    dout_np = _to_numpy(dout)
    if dout_np.shape != out.shape:
        raise ValueError(
            f"check_gradients: dout has shape {dout_np.shape}, expected {out.shape}, the shape "
            "of forward's output."
        )

    grads = _analytic_gradients(analytic, dout, cache, names, inputs)
    for name, g, a in zip(names, grads, arrays):
        if g.shape != a.shape:
            raise ValueError(
                f"check_gradients: {name} has shape {g.shape}, expected {a.shape}, the shape "
                f"of {name[1:]}."
            )

    report = GradCheckReport(dtype=dtype, h=step)
    for i, (name, a, g) in enumerate(zip(names, arrays, grads)):

        def f_i(x_i, i=i):
            args = arrays[:i] + [x_i] + arrays[i + 1 :]
            return _to_numpy(_split_output(forward(*args))[0])

        numerical = eval_numerical_gradient_array(f_i, a, dout_np, h=step)
        report.results.append(_compare(name, g, numerical, dtype))
    if verbose:
        print(report)
    return report


def _analytic_gradients(analytic, dout, cache, names, inputs) -> list[np.ndarray]:
    count = len(names)
    if callable(analytic):
        who = getattr(analytic, "__name__", "backward")
        grads = analytic(dout, cache)
        if count == 1 and not isinstance(grads, (tuple, list)):
            grads = (grads,)
        if not isinstance(grads, (tuple, list)):
            raise TypeError(
                f"{who} must return a tuple of {count} gradients ({', '.join(names)}); it "
                f"returned one {type(grads).__name__}."
            )
    elif isinstance(analytic, Mapping):
        if not isinstance(inputs, Mapping):
            raise TypeError("analytic gradients given as a dict need inputs given as a dict.")
        missing = [name for name in inputs if name not in analytic and f"d{name}" not in analytic]
        if missing:
            raise KeyError(f"analytic gradients missing for {missing}; got {list(analytic)}.")
        grads = [analytic[n] if n in analytic else analytic[f"d{n}"] for n in inputs]
        who = "analytic"
    elif isinstance(analytic, (tuple, list)):
        grads, who = analytic, "analytic"
    else:
        grads, who = (analytic,), "analytic"
    if len(grads) != count:
        raise ValueError(
            f"{who} gave {len(grads)} gradients, expected {count} ({', '.join(names)}), one "
            "per input."
        )
    return [_to_numpy(g) for g in grads]
