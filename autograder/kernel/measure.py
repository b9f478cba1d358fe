"""Measurements of the student's objects: they run where the student's code runs and report
plain data.

Most checks call a student's function on arrays and compare the arrays it returns. Some need
more: build the student's ``nn.Module`` class, fill its weights, hook its layers; hand a model
to a student's function and see what it changed. Such a check is split in two:

- a **measurement** here runs the student's code on inputs the check chose (constructor
  arguments, a model recipe, a seed) and reports what happened as plain data: numbers,
  strings, NumPy arrays, and lists and dicts of them. An exception of the student's code is
  part of the report (``error``: its type, the names of its classes, its message), so that a
  report never depends on how exceptions cross a process boundary;
- a **judgement** in the check module compares that report with the same measurement of the
  reference, and decides.

This module holds no expected values and no check logic, so it may run in the student's
kernel. With ``cnn-course autograde --isolation sandbox`` it does: the check holds a proxy of
the student's class or function (``autograder.kernel.wire.Remote``), and asks the kernel to
run the measurement on the real object (``Attempt.measure`` in ``autograder.checks._engine``,
through ``autograder.isolation.proxies``). Otherwise the measurement runs in the check's
process. Whichever way, the report is the same, and so is the
verdict. A report forged by the student's code gains nothing: the judgement compares outputs
on weights and inputs the check chose with the reference's, computed where the student's code
cannot reach.
"""

from __future__ import annotations

import functools
import itertools
import zlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = [
    "MEASUREMENTS",
    "measurement",
    "error_report",
    "describe",
    "describe_value",
    "type_name",
    "answer_facts",
]

MEASUREMENTS: dict[str, Callable[..., Any]] = {}


def measurement(func: Callable[..., Any]) -> Callable[..., Any]:
    """Register ``func`` as a measurement that a check can ask for by its name."""
    MEASUREMENTS[func.__name__] = func
    return func


def error_report(exc: BaseException, stage: str) -> dict:
    """An exception as plain data: the stage it came from, its type, the names of its classes
    (so that a judgement can ask "is it a ValueError?") and its message."""
    try:
        message = str(exc)[:4000]
    except Exception:
        message = f"(a {type(exc).__name__} whose message cannot be shown)"
    return {
        "stage": stage,
        "type": type(exc).__name__,
        "types": [klass.__name__ for klass in type(exc).__mro__],
        "message": message,
    }


# --- models: canonical weights and inputs -----------------------------------------------------

# A big tensor repeats a block of this many random numbers: drawing VGG's 100 million fc
# weights one by one would cost seconds, and a repeating pattern tells layers apart as well.
_BLOCK = 1 << 16


def _dtype(name: str):
    import torch

    dtypes = {"float32": torch.float32, "float64": torch.float64}
    if name not in dtypes:
        raise ValueError(f"dtype must be one of {', '.join(dtypes)}; got {name!r}.")
    return dtypes[name]


def uniform(shape: Sequence[int], seed: int):
    """Numbers in [-1, 1], a fixed function of ``shape`` and ``seed`` (a float32 tensor)."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    numel = int(np.prod(tuple(shape), dtype=np.int64))
    if numel <= _BLOCK:
        return torch.empty(tuple(shape)).uniform_(-1, 1, generator=generator)
    # A block length coprime to the rows' lengths, so rows do not repeat one another.
    block = torch.empty(_BLOCK + 1).uniform_(-1, 1, generator=generator)
    repeats = -(-numel // block.numel())
    return block.repeat(repeats)[:numel].reshape(tuple(shape))


def _fill_value(u, role: str, name: str, shape):
    """Weights as a fixed function of a tensor's role and shape (u is uniform in [-1, 1])."""
    if role == "bn":
        return {
            "weight": 1 + 0.25 * u,
            "bias": 0.25 * u,
            "running_mean": 0.25 * u,
            "running_var": 1 + 0.5 * u.abs(),
        }.get(name, 0.25 * u)
    if len(shape) >= 2:
        fan_in = max(1, u.numel() // shape[0])
        return u * (6.0 / fan_in) ** 0.5  # He-uniform: the signal keeps its scale through depth
    return 0.1 * u


def canonical_(model, dtype):
    """Materialise ``model`` on the CPU in ``dtype`` with the canonical weights, in eval mode.

    Each parameter and buffer is drawn from a generator seeded by (batch norm or not, its
    name within its module, its shape): two models with the same layers get the same weights
    however they name or order them. Batch norm's eps is set to 1e-5 everywhere.
    """
    import torch
    from torch import nn

    if any(t.is_meta for t in itertools.chain(model.parameters(), model.buffers())):
        model.to_empty(device="cpu")
    model.to(dtype)
    for module in model.modules():
        role = "bn" if isinstance(module, nn.modules.batchnorm._BatchNorm) else "w"
        if role == "bn":
            module.eps = 1e-5
        own = itertools.chain(
            module.named_parameters(recurse=False), module.named_buffers(recurse=False)
        )
        for name, tensor in own:
            if not tensor.is_floating_point():
                with torch.no_grad():
                    tensor.zero_()
                continue
            seed = zlib.crc32(f"{role}:{name}:{tuple(tensor.shape)}".encode())
            u = uniform(tensor.shape, seed)
            with torch.no_grad():
                tensor.copy_(_fill_value(u, role, name, tensor.shape))
    return model.eval()


def model_input(size: Sequence[int], dtype, device: str = "cpu"):
    """The fixed input of a model check: standard normal, seed 5 (zeros on ``meta``)."""
    import torch

    if device == "meta":
        return torch.zeros(tuple(size), device="meta", dtype=dtype)
    generator = torch.Generator().manual_seed(5)
    return torch.randn(tuple(size), generator=generator).to(dtype)


def _trace(model, x) -> tuple[list, Any]:
    """The (layer type, output shape) of every Conv2d and Linear call, and the output."""
    import torch
    from torch import nn

    calls: list[list] = []

    def record(module, inputs, output):
        if isinstance(output, torch.Tensor):
            calls.append([type(module).__name__, list(output.shape)])

    handles = [
        m.register_forward_hook(record)
        for m in model.modules()
        if isinstance(m, (nn.Conv2d, nn.Linear))
    ]
    try:
        with torch.no_grad():
            out = model.eval()(x)
    finally:
        for handle in handles:
            handle.remove()
    return calls, out


def _built_on_meta(factory: Callable, args: Sequence, kwargs: dict) -> tuple[Any, dict | None]:
    """``factory(*args, **kwargs)`` built on the meta device, and None; or None and the report
    that ends the measurement: the build's ``error``, or ``module`` False and ``type`` when
    the factory gave something else than an nn.Module."""
    import torch
    from torch import nn

    try:
        with torch.device("meta"):
            built = factory(*args, **kwargs)
    except Exception as exc:
        return None, {"error": error_report(exc, "build")}
    if not isinstance(built, nn.Module):
        return None, {"module": False, "type": type(built).__name__}
    return built, None


@measurement
def model(
    factory: Callable,
    args: Sequence = (),
    kwargs: dict | None = None,
    trace: Sequence[int] | None = None,
    functional: Sequence[int] | None = None,
    dtype: str = "float64",
) -> dict:
    """Build ``factory(*args, **kwargs)`` on the meta device and report on the model.

    The report holds ``error`` (the exception and the stage that raised it: "build", "trace"
    or "forward") or, as far as it got: ``module`` (False and ``type`` when the factory gave
    something else than an nn.Module), ``count`` (parameters), ``shapes`` (each parameter's
    shape, in order), ``modules`` (the modules that define the classes of the model's layers
    and their bases), with ``trace`` an input size: ``trace`` (every Conv2d and Linear call,
    [layer type, output shape], on meta) and ``trace_output`` (the output's shape), and with
    ``functional`` an input size: ``output``, the float64 output of a second model built the
    same way, with the canonical weights in ``dtype``, in eval mode, on the fixed input.
    A forward that returns no tensor is reported as ``output_type``.
    """
    import torch

    kwargs = dict(kwargs or {})
    built, refused = _built_on_meta(factory, args, kwargs)
    if refused is not None:
        return refused
    report: dict[str, Any] = {
        "module": True,
        "count": int(sum(p.numel() for p in built.parameters())),
        "shapes": [list(p.shape) for p in built.parameters()],
        # Where the model's classes and their bases come from (the reference's, say).
        "modules": sorted({k.__module__ for m in built.modules() for k in type(m).__mro__}),
    }
    if trace is not None:
        try:
            calls, out = _trace(built, model_input(trace, torch.float32, "meta"))
        except Exception as exc:
            report["error"] = error_report(exc, "trace")
            return report
        if not isinstance(out, torch.Tensor):
            report["output_type"] = type(out).__name__
            return report
        report["trace"], report["trace_output"] = calls, list(out.shape)
    del built
    if functional is not None:
        try:
            with torch.device("meta"):
                fresh = factory(*args, **kwargs)
            fresh = canonical_(fresh, _dtype(dtype))
            with torch.no_grad():
                out = fresh(model_input(functional, _dtype(dtype)))
        except Exception as exc:
            report["error"] = error_report(exc, "forward")
            return report
        if not isinstance(out, torch.Tensor):
            report["output_type"] = type(out).__name__
            return report
        report["output"] = out.detach().double().cpu().numpy()
    return report


# --- models from recipes ----------------------------------------------------------------------
# A recipe is plain data that says how to build a small model, so that a check can hand the
# same model to the student's function in the kernel and to the reference in its own process.


def build_recipe(recipe: Sequence):
    """An nn.Module from a recipe: ["linear", in, out, (bias)], ["conv2d", in, out, k,
    (bias)], ["batchnorm2d", c], ["relu"], ["flatten"], ["sequential", [recipe, ...]],
    ["shared", recipe] (the module twice, with a ReLU between: one set of parameters used
    twice), ["frozen", recipe] (requires_grad off), ["freeze", index, recipe] (a Sequential
    with its member ``index`` frozen), ["lenet5"] (course_utils' reference LeNet-5)."""
    from torch import nn

    kind, *rest = recipe
    if kind == "linear":
        return nn.Linear(int(rest[0]), int(rest[1]), bias=bool(rest[2]) if len(rest) > 2 else True)
    if kind == "conv2d":
        bias = bool(rest[3]) if len(rest) > 3 else True
        return nn.Conv2d(int(rest[0]), int(rest[1]), int(rest[2]), bias=bias)
    if kind == "batchnorm2d":
        return nn.BatchNorm2d(int(rest[0]))
    if kind == "relu":
        return nn.ReLU()
    if kind == "flatten":
        return nn.Flatten()
    if kind == "sequential":
        return nn.Sequential(*(build_recipe(r) for r in rest[0]))
    if kind == "shared":
        shared = build_recipe(rest[0])
        return nn.Sequential(shared, nn.ReLU(), shared)
    if kind == "frozen":
        return build_recipe(rest[0]).requires_grad_(False)
    if kind == "freeze":
        built = build_recipe(rest[1])
        built[int(rest[0])].requires_grad_(False)
        return built
    if kind == "lenet5":
        from course_utils.reference.architectures import LeNet5

        return LeNet5()
    raise ValueError(f"unknown model recipe {kind!r}")


@measurement
def call_on_recipe(func: Callable, recipe: Sequence) -> dict:
    """``func(model)`` for the model of ``recipe``: ``{"value": ...}`` when the value is a
    number, ``{"value_type": ...}`` otherwise, or ``{"error": ...}``."""
    built = build_recipe(recipe)
    try:
        value = func(built)
    except Exception as exc:
        return {"error": error_report(exc, "call")}
    return _plain_value(value)


def _plain_value(value: Any) -> dict:
    """A number as itself (NumPy scalars as Python numbers); anything else by its type."""
    if isinstance(value, (bool, np.bool_)):
        return {"value_type": type(value).__name__}
    if isinstance(value, (int, float, np.integer, np.floating)):
        return {"value": value.item() if isinstance(value, np.generic) else value}
    return {"value_type": type(value).__name__}


# --- answers as words -------------------------------------------------------------------------


def type_name(value: Any) -> str:
    kind = type(value)
    module = kind.__module__
    return (
        kind.__qualname__ if module == "builtins" else f"{module.split('.')[0]}.{kind.__qualname__}"
    )


def describe_value(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return str(value.shape)
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, np.ndarray) for v in value):
        return "[" + ", ".join(str(v.shape) for v in value) + "]"
    if callable(value):
        return getattr(value, "__name__", "a function")
    try:
        text = repr(value)
    except Exception:
        text = f"<a {type(value).__name__} whose repr fails>"
    return text if len(text) <= 80 else text[:77] + "..."


def describe(value: Any) -> str:
    """What a value is, in the words of the checks' diagnoses:
    ``one numpy.ndarray of shape (2, 3)``, ``a list ([1, 2])``, ``None (did you forget a
    `return`?)``."""
    if isinstance(value, np.ndarray):
        return f"one numpy.ndarray of shape {value.shape}"
    if isinstance(value, tuple):
        inner = ", ".join(describe(v).removeprefix("one ") for v in value)
        return f"a tuple of {len(value)} ({inner})"
    if value is None:
        return "None (did you forget a `return`?)"
    return f"a {type_name(value)} ({describe_value(value)})"


def answer_facts(value: Any) -> dict:
    """An answer that is not a plain real ndarray, or one of another shape: its description,
    its type, and for an ndarray its dtype (and its shape when the dtype is real)."""
    facts: dict[str, Any] = {"answer": describe(value), "type": type_name(value)}
    if type(value) is np.ndarray:
        facts["dtype"] = str(value.dtype)
        if value.dtype.kind in "biuf":
            facts["shape"] = list(value.shape)
    return facts


def _real_array(value: Any) -> bool:
    return type(value) is np.ndarray and value.dtype.kind in "biuf"


# --- functions that draw from a NumPy generator -------------------------------------------------
# A numpy Generator cannot cross to the student's kernel; a seed can. These measurements make
# the generators where the student's function runs.


@measurement
def calls_with_one_generator(func: Callable, args: Sequence, seed: int, count: int) -> dict:
    """``func(*args, rng)`` ``count`` times with ONE generator ``np.random.default_rng(seed)``
    (fresh copies of ``args`` each time).

    The report holds ``outputs``: the answers stacked as float64 (count, ...), as long as they
    are real ndarrays of one shape. The first call that raises ends the calls with ``error``,
    the first answer that is something else with ``odd`` (see ``answer_facts``); either way
    ``index`` is that call's number.
    """
    import copy

    generator = np.random.default_rng(seed)
    outputs: list[np.ndarray] = []
    report: dict[str, Any] = {}
    for index in range(int(count)):
        try:
            value = func(*copy.deepcopy(list(args)), generator)
        except Exception as exc:
            report.update(error=error_report(exc, "call"), index=index)
            break
        if not _real_array(value) or (outputs and value.shape != outputs[0].shape):
            report.update(odd=answer_facts(value), index=index)
            break
        outputs.append(np.array(value, dtype=np.float64, copy=True))
    report["outputs"] = np.stack(outputs) if outputs else np.zeros((0,))
    return report


@measurement
def calls_with_fresh_generators(func: Callable, calls: Sequence) -> dict:
    """``func(*args, np.random.default_rng(seed))`` for each ``[args, seed]`` of ``calls``.

    The report holds ``outputs``, the answers as float64 arrays, as long as they are real
    ndarrays; the first call that raises ends the calls with ``error``, the first answer that
    is not a real ndarray with ``odd`` (see ``answer_facts``), and ``index`` is its number.
    """
    import copy

    outputs: list[np.ndarray] = []
    report: dict[str, Any] = {}
    for index, (args, seed) in enumerate(calls):
        try:
            value = func(*copy.deepcopy(list(args)), np.random.default_rng(seed))
        except Exception as exc:
            report.update(error=error_report(exc, "call"), index=index)
            break
        if not _real_array(value):
            report.update(odd=answer_facts(value), index=index)
            break
        outputs.append(np.array(value, dtype=np.float64, copy=True))
    report["outputs"] = outputs
    return report


@measurement
def draws(func: Callable, calls: Sequence) -> dict:
    """``func(*args, np.random.default_rng(seed), **kwargs)`` for each ``[args, kwargs, seed]``
    of ``calls``, every call made whatever the others did (a generator's keyword arguments,
    such as ``gain``, follow it; an exception may be the answer, such as a ``ValueError``).

    The report holds ``results``, one per call: ``{"output": ..., "dtype": ...}`` for a real
    ndarray (its values as float64, its own dtype's name), ``{"error": ...}`` when the call
    raised (see ``error_report``), ``{"odd": ...}`` for any other answer (see ``answer_facts``).
    """
    import copy

    results: list[dict] = []
    for args, kwargs, seed in calls:
        try:
            value = func(
                *copy.deepcopy(list(args)), np.random.default_rng(seed), **copy.deepcopy(kwargs)
            )
        except Exception as exc:
            results.append({"error": error_report(exc, "call")})
            continue
        if _real_array(value):
            output = np.array(value, dtype=np.float64, copy=True)
            results.append({"output": output, "dtype": str(value.dtype)})
        else:
            results.append({"odd": answer_facts(value)})
    return {"results": results}


# --- models with EfficientNet's layout ----------------------------------------------------------
# A spec is plain data: ("small", blocks, width, head_width, classes) for a small network with
# EfficientNet's attribute names, or ("lite0", classes) for EfficientNet-Lite0 (the package
# efficientnet-lite-pytorch). The same spec gives the same model, weights included.


@functools.cache
def _lite_like() -> type:
    import torch
    from torch import nn

    class LiteLike(nn.Module):
        """A small network with EfficientNet's attribute layout (``_conv_stem``, ``_bn0``,
        ``_blocks``, ``_conv_head``, ``_bn1``, ``_fc``)."""

        def __init__(self, num_blocks: int, width: int, head_width: int, num_classes: int):
            super().__init__()
            self._conv_stem = nn.Conv2d(3, width, 3, stride=2, padding=1, bias=False)
            self._bn0 = nn.BatchNorm2d(width)
            self._blocks = nn.ModuleList(
                nn.Sequential(
                    nn.Conv2d(width, width, 3, padding=1, bias=False),
                    nn.BatchNorm2d(width),
                    nn.ReLU6(),
                )
                for _ in range(num_blocks)
            )
            self._conv_head = nn.Conv2d(width, head_width, 1, bias=False)
            self._bn1 = nn.BatchNorm2d(head_width)
            self._avg_pooling = nn.AdaptiveAvgPool2d(1)
            self._dropout = nn.Dropout(0.2)
            self._fc = nn.Linear(head_width, num_classes)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = torch.relu(self._bn0(self._conv_stem(x)))
            for block in self._blocks:
                x = block(x)
            x = torch.relu(self._bn1(self._conv_head(x)))
            return self._fc(self._dropout(self._avg_pooling(x).flatten(1)))

    LiteLike.__qualname__ = "LiteLike"
    return LiteLike


def build_spec(spec: Sequence):
    """A fresh model from a spec (see above), built after ``torch.manual_seed(0)``."""
    import torch

    kind, *rest = spec
    torch.manual_seed(0)
    if kind == "lite0":
        from efficientnet_lite_pytorch import EfficientNet

        return EfficientNet.from_name("efficientnet-lite0", num_classes=int(rest[0]))
    if kind == "small":
        return _lite_like()(*(int(v) for v in rest))
    raise ValueError(f"unknown model spec {kind!r}")


def _returned(value: Any, model: Any) -> str:
    """What a function that was handed ``model`` gave back: "same" (the model), "module"
    (another nn.Module), "none" or "other"."""
    from torch import nn

    if value is model:
        return "same"
    if value is None:
        return "none"
    return "module" if isinstance(value, nn.Module) else "other"


@measurement
def head_replacement(func: Callable, spec: Sequence, num_classes: int) -> dict:
    """``func(model, num_classes)`` on the model of ``spec``, and what it did to the model.

    The report holds ``error``, or ``returned`` (see ``_returned``) and ``answer`` (the value's
    description); for a returned nn.Module also ``head``, facts about its ``_fc`` (``linear``:
    an nn.Linear?, ``answer``, ``old``: the model's original ``_fc``?, and for a Linear
    ``in_features``, ``out_features``, ``bias``, ``requires_grad`` of each parameter), and
    ``changed``: the names of its parameters that are new or differ from the model's before
    the call, in order.
    """
    import torch
    from torch import nn

    model = build_spec(spec)
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    old_head = model._fc
    try:
        value = func(model, num_classes)
    except Exception as exc:
        return {"error": error_report(exc, "call")}
    report: dict[str, Any] = {"returned": _returned(value, model), "answer": describe(value)}
    if not isinstance(value, nn.Module):
        return report
    try:
        head = getattr(value, "_fc", None)
        facts: dict[str, Any] = {
            "linear": isinstance(head, nn.Linear),
            "answer": describe(head),
            "old": head is old_head,
        }
        if isinstance(head, nn.Linear):
            facts.update(
                in_features=int(head.in_features),
                out_features=int(head.out_features),
                bias=head.bias is not None,
                requires_grad=[bool(p.requires_grad) for p in head.parameters()],
            )
        changed = []
        for name, p in value.named_parameters():
            old = before.get(name)
            same = (
                old is not None
                and old.shape == p.shape
                and old.dtype == p.dtype
                and old.device == p.device
                and bool(torch.equal(old, p.detach()))
            )
            if not same:
                changed.append(name)
    except Exception as exc:
        return {"error": error_report(exc, "inspect")}
    report.update(head=facts, changed=changed)
    return report


@measurement
def trainable_after(func: Callable, spec: Sequence, num_blocks: int) -> dict:
    """``func(model, num_blocks)`` on the model of ``spec``. The report holds ``error``, or
    ``returned`` (see ``_returned``), ``answer`` (the value's description) and, for a returned
    nn.Module, ``trainable``: the sorted names of its parameters that require grad."""
    from torch import nn

    model = build_spec(spec)
    try:
        value = func(model, num_blocks)
    except Exception as exc:
        return {"error": error_report(exc, "call")}
    report: dict[str, Any] = {"returned": _returned(value, model), "answer": describe(value)}
    if isinstance(value, nn.Module):
        try:
            report["trainable"] = sorted(
                str(name) for name, p in value.named_parameters() if p.requires_grad
            )
        except Exception as exc:
            return {"error": error_report(exc, "inspect")}
    return report


def _number_or_answer(value: Any) -> dict:
    """``{"number": float(value)}`` when float() takes it, else ``{"answer": ...}``."""
    if not isinstance(value, str):
        try:
            return {"number": float(value)}
        except Exception:
            pass
    return {"answer": describe(value)}


@measurement
def optimizer_groups(
    func: Callable, spec: Sequence, trainable: Sequence[str], lr: float, factor: float
) -> dict:
    """``func(model, lr, factor)`` on the model of ``spec`` whose parameters named in
    ``trainable`` require grad (the others not), and the parameter groups it returned.

    The report holds ``error``; or ``malformed`` (the value's description) when the value is
    not a list or tuple of dicts; or ``groups``, one per dict: ``keys`` (as strings),
    ``params`` (the name in ``model.named_parameters()`` of each item of its "params", None
    for an item that is not one of the model's parameters; None when there is no "params",
    with ``params_answer`` when "params" cannot be iterated) and ``values``: every other key's
    value as ``{"number": ...}`` or ``{"answer": ...}``.
    """
    model = build_spec(spec)
    wanted = set(trainable)
    for name, p in model.named_parameters():
        p.requires_grad = name in wanted
    names = {id(p): name for name, p in model.named_parameters()}
    try:
        value = func(model, lr, factor)
    except Exception as exc:
        return {"error": error_report(exc, "call")}
    if not isinstance(value, (list, tuple)) or not all(isinstance(g, dict) for g in value):
        return {"malformed": describe(value)}
    groups = []
    for group in value:
        entry: dict[str, Any] = {
            "keys": [k if isinstance(k, str) else repr(k) for k in group],
            "params": None,
            "values": {},
        }
        for key, item in group.items():
            if key == "params":
                try:
                    entry["params"] = [names.get(id(p)) for p in item]
                except Exception:
                    entry["params_answer"] = describe(item)
            else:
                entry["values"][key if isinstance(key, str) else repr(key)] = _number_or_answer(
                    item
                )
        groups.append(entry)
    return {"groups": groups}


# --- notebook 02: a NumPy model and the loop that trains it --------------------------------------
# A student's ThreeLayerConvNet is a class whose instances keep their parameters in a dict and
# compute their gradients in ``loss``; a check cannot set a parameter of an instance that lives
# in the kernel, nor hand that kernel a model of its own. These measurements build or take the
# model where the student's code runs, set what the check chose, and report plain data.

_NUMPY_DTYPES = {"float32": np.float32, "float64": np.float64}


def _answer(value: Any) -> Any:
    """A real ndarray as a copy of itself; anything else as ``{"odd": ...}`` (see
    ``answer_facts``), so that a report always crosses the wire."""
    if _real_array(value):
        return np.array(value, copy=True)
    return {"odd": answer_facts(value)}


def _number(value: Any) -> Any:
    """A real number (a Python or NumPy scalar, or a 0-d real ndarray) as a float; anything
    else as ``{"odd": ...}``."""
    if type(value) is np.ndarray and value.ndim == 0 and value.dtype.kind in "biuf":
        value = value[()]
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)
    ):
        return float(value)
    return {"odd": answer_facts(value)}


def _arrays(mapping: Any, names: Sequence[str] | None = None) -> Any:
    """A dict of arrays, each through ``_answer`` (keys as strings; only ``names`` when given);
    ``{"odd": ...}`` when it is not a dict."""
    if not isinstance(mapping, dict):
        return {"odd": answer_facts(mapping)}
    return {
        str(key): _answer(value)
        for key, value in mapping.items()
        if names is None or str(key) in names
    }


def _constructor_kwargs(kwargs: dict) -> dict:
    """The keyword arguments of a model's constructor: a ``dtype`` named by a string
    ("float32", "float64") becomes NumPy's type (a type cannot cross the wire)."""
    kwargs = dict(kwargs)
    if isinstance(kwargs.get("dtype"), str):
        kwargs["dtype"] = _NUMPY_DTYPES[kwargs["dtype"]]
    return kwargs


@measurement
def convnet(
    factory: Callable,
    kwargs: dict,
    params: dict | None = None,
    X: np.ndarray | None = None,
    y: np.ndarray | None = None,
) -> dict:
    """Build ``factory(**kwargs)`` (a ThreeLayerConvNet class) and report on the model.

    The report holds ``initial``: the model's ``params`` as built (see ``_arrays``). With
    ``params``, each ``model.params[name]`` is then set to the given array, and the report adds
    ``scores``, the answer of ``model.loss(X)``, and, with ``y``, ``loss`` (a number) and
    ``grads`` (a dict of arrays) from ``model.loss(X, y)`` (or ``pair``, the description of an
    answer that is not a pair). An exception of the student's code ends the report with
    ``error``, whose stage is "build", "params", "scores" or "loss".
    """
    try:
        model = factory(**_constructor_kwargs(kwargs))
    except Exception as exc:
        return {"error": error_report(exc, "build")}
    report: dict[str, Any] = {"initial": _arrays(getattr(model, "params", None))}
    if params is None:
        return report
    try:
        for name, value in params.items():
            model.params[name] = np.array(value, copy=True)
    except Exception as exc:
        report["error"] = error_report(exc, "params")
        return report
    try:
        report["scores"] = _answer(model.loss(np.array(X, copy=True)))
    except Exception as exc:
        report["error"] = error_report(exc, "scores")
        return report
    if y is None:
        return report
    try:
        value = model.loss(np.array(X, copy=True), np.array(y, copy=True))
    except Exception as exc:
        report["error"] = error_report(exc, "loss")
        return report
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        report["pair"] = describe(value)
        return report
    report["loss"], report["grads"] = _number(value[0]), _arrays(value[1])
    return report


@measurement
def model_outputs(
    model: Any, names: Sequence[str] | None = None, X: np.ndarray | None = None, batch_size=500
) -> dict:
    """The state of a model instance: ``params`` (those in ``names``, or all; see ``_arrays``)
    and, with ``X``, ``scores``: ``model.loss(X[i : i + batch_size])`` for consecutive batches,
    stacked (N, num_classes). A batch that raises ends the report with ``error`` (stage
    "scores"); one whose scores are not a real (batch, classes) ndarray, with ``odd``."""
    report: dict[str, Any] = {"params": _arrays(getattr(model, "params", None), names)}
    if X is None:
        return report
    parts = []
    for start in range(0, len(X), int(batch_size)):
        batch = np.array(X[start : start + int(batch_size)], copy=True)
        try:
            scores = model.loss(batch)
        except Exception as exc:
            report["error"] = error_report(exc, "scores")
            return report
        if not _real_array(scores) or scores.ndim != 2 or len(scores) != len(batch):
            report["odd"] = answer_facts(scores)
            return report
        parts.append(np.array(scores, dtype=np.float64))
    report["scores"] = np.concatenate(parts) if parts else np.zeros((0, 0))
    return report


@measurement
def fresh_model_losses(
    model: Any, kwargs: dict, X: np.ndarray, y: np.ndarray, regs: Sequence[float]
) -> dict:
    """Build a fresh model of the class of ``model`` with ``kwargs`` and, for each of
    ``regs``, set ``fresh.reg`` and evaluate ``fresh.loss(X, y)``.

    The report holds ``params`` (the fresh model's, see ``_arrays``) and ``losses``, one
    number per reg (``_number``: the first item of each answer); or ``error`` (stage "build"
    or "loss"), or ``pair`` (the description of an answer that is not a pair).
    """
    try:
        fresh = type(model)(**_constructor_kwargs(kwargs))
    except Exception as exc:
        return {"error": error_report(exc, "build")}
    report: dict[str, Any] = {"params": _arrays(getattr(fresh, "params", None)), "losses": []}
    for reg in regs:
        try:
            fresh.reg = reg
            value = fresh.loss(np.array(X, copy=True), np.array(y, copy=True))
        except Exception as exc:
            report["error"] = error_report(exc, "loss")
            return report
        if not isinstance(value, (tuple, list)) or len(value) != 2:
            report["pair"] = describe(value)
            return report
        report["losses"].append(_number(value[0]))
    return report


class _RecordingModel:
    """Softmax regression that records its batches: column 0 of X holds each example's index,
    the other columns its features. ``params``: W (D, K), b (K,)."""

    def __init__(self, params: dict) -> None:
        self.params = {name: np.array(value, dtype=np.float64) for name, value in params.items()}
        self.batches: list[np.ndarray] = []

    def loss(self, X, y=None):
        X = np.asarray(X, dtype=np.float64)
        self.batches.append(X[:, 0].astype(np.int64))
        features = X[:, 1:]  # (n, D)
        scores = features @ self.params["W"] + self.params["b"]  # (n, K)
        if y is None:
            return scores
        y = np.asarray(y)
        n = len(X)
        shifted = scores - scores.max(axis=1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        loss = -log_probs[np.arange(n), y].mean()
        dscores = np.exp(log_probs)
        dscores[np.arange(n), y] -= 1
        dscores /= n
        return float(loss), {"W": features.T @ dscores, "b": dscores.sum(axis=0)}


def _sgd(w, dw, config=None):
    """Notebook 03's sgd: the config is filled in and returned (the same dict)."""
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    return w - config["learning_rate"] * dw, config


def _momentum(w, dw, config=None):
    """SGD with momentum whose config is a NEW dict each step (notebook 03 allows it), so a
    loop that does not store the returned config loses the velocity."""
    config = dict(config or {})
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    velocity = config["momentum"] * config.get("velocity", np.zeros_like(w))
    config["velocity"] = velocity - config["learning_rate"] * dw
    return w + config["velocity"], config


UPDATE_RULES = {"sgd": _sgd, "momentum": _momentum}


def _config(config: Any) -> Any:
    """A config dict as plain data: numbers as floats, arrays as copies, others described."""
    if not isinstance(config, dict):
        return {"odd": answer_facts(config)}
    plain: dict[str, Any] = {}
    for key, value in config.items():
        plain[str(key)] = _answer(value) if isinstance(value, np.ndarray) else _number(value)
    return plain


@measurement
def train_epoch_run(
    func: Callable,
    X: np.ndarray,
    y: np.ndarray,
    params: dict,
    rule: str,
    configs: dict,
    batch_size: int,
    seed: int,
) -> dict:
    """``func(model, X, y, update_rule, configs, batch_size, np.random.default_rng(seed))``
    (a train_epoch) with a softmax-regression model that records the examples of every
    ``model.loss`` call, and the update rule named ``rule`` ("sgd" or "momentum").

    The report holds ``batches`` (the example indices of each loss call, in order),
    ``params`` and ``configs`` as the call left them, and ``losses``: the returned list as
    floats (``{"odd": ...}`` when it is not a list or tuple of numbers); or ``error``.
    """
    model = _RecordingModel(params)
    configs = {name: dict(config) for name, config in configs.items()}
    try:
        value = func(
            model,
            np.array(X, copy=True),
            np.array(y, copy=True),
            UPDATE_RULES[rule],
            configs,
            int(batch_size),
            np.random.default_rng(int(seed)),
        )
    except Exception as exc:
        return {"error": error_report(exc, "call"), "batches": model.batches}
    if isinstance(value, (list, tuple)):
        losses = [_number(v) for v in value]
        if any(isinstance(v, dict) for v in losses):
            losses = {"odd": answer_facts(value)}
    else:
        losses = {"odd": answer_facts(value)}
    return {
        "batches": model.batches,
        "losses": losses,
        "params": _arrays(model.params),
        "configs": {str(name): _config(config) for name, config in configs.items()},
    }


# --- notebook 05: models built from a configuration, and layer tables -------------------------
# make_vgg_layers, option A and resnet_cifar are judged by their modules and state-dict keys as
# well as by what they compute; layer_table by the rows it gives for models built from recipes.


def tagged(value: Any, depth: int = 0) -> list:
    """A value of a student's answer as plain, type-exact data: ``["int", 3]``, ``["str",
    "fc1"]``, ``["tuple", [...]]`` (a ``torch.Size`` is a tuple), ``["list", [...]]``,
    ``["float", 0.5]``, ``["bool", True]``, ``["none"]``, or ``["other", its description]``.
    Two answers are equal exactly when their tagged forms are: ``3`` and ``3.0``, or ``(1, 2)``
    and ``[1, 2]``, are not."""
    if value is None:
        return ["none"]
    if isinstance(value, (bool, np.bool_)):
        return ["bool", bool(value)]
    if isinstance(value, (int, np.integer)):
        number = int(value)
        return ["int", number] if type(number) is int else ["other", describe(value)]
    if isinstance(value, (float, np.floating)):
        return ["float", float(value)]
    if isinstance(value, str):
        return ["str", str.__str__(value)[:200]]
    if isinstance(value, (tuple, list)) and depth < 3 and len(value) <= 64:
        kind = "tuple" if isinstance(value, tuple) else "list"
        return [kind, [tagged(item, depth + 1) for item in value]]
    return ["other", describe(value)]


def _pair(value: Any) -> Any:
    """A size of a 2-d layer as a list of two ints (an int n is [n, n]); a string as itself."""
    if isinstance(value, str):
        return str(value)
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return [int(value)] * 2
    return [int(v) for v in value]


def _attributes(module: Any) -> dict:
    """What decides the function of a convolution, a pooling layer, a batch norm or a linear
    layer, as plain data (empty for every other layer)."""
    from torch import nn

    if isinstance(module, nn.modules.conv._ConvNd):
        return {
            "in_channels": int(module.in_channels),
            "out_channels": int(module.out_channels),
            "kernel_size": _pair(module.kernel_size),
            "stride": _pair(module.stride),
            "padding": _pair(module.padding),
            "dilation": _pair(module.dilation),
            "groups": int(module.groups),
            "bias": module.bias is not None,
        }
    if isinstance(module, (nn.modules.pooling._MaxPoolNd, nn.modules.pooling._AvgPoolNd)):
        facts = {
            "kernel_size": _pair(module.kernel_size),
            "stride": _pair(module.stride),
            "padding": _pair(module.padding),
            "ceil_mode": bool(module.ceil_mode),
        }
        if isinstance(module, nn.modules.pooling._MaxPoolNd):
            facts["dilation"] = _pair(module.dilation)
        return facts
    if isinstance(module, nn.modules.batchnorm._BatchNorm):
        return {
            "num_features": int(module.num_features),
            "affine": bool(module.affine),
            "track_running_stats": bool(module.track_running_stats),
        }
    if isinstance(module, nn.Linear):
        return {
            "in_features": int(module.in_features),
            "out_features": int(module.out_features),
            "bias": module.bias is not None,
        }
    return {}


@measurement
def model_layout(
    factory: Callable,
    args: Sequence = (),
    kwargs: dict | None = None,
    trace: Sequence[int] | None = None,
    functional: Sequence[int] | None = None,
    dtype: str = "float64",
) -> dict:
    """``model``'s report of ``factory(*args, **kwargs)``, with the model's layout first.

    Built on the meta device, the layout is ``layers``: one ``[name, type, attributes]`` per
    leaf module (one without children) in the order of ``named_modules()``, the attributes
    those that decide what a convolution, pooling layer, batch norm or linear layer computes
    (see ``_attributes``); and ``state``: ``[key, shape]`` of every state-dict entry in order,
    the keys by which saved weights load. A layout that cannot be read is an ``error`` of the
    stage "layout"; a build that fails is ``model``'s report alone.
    """
    kwargs = dict(kwargs or {})
    built, refused = _built_on_meta(factory, args, kwargs)
    if refused is not None:
        return refused
    try:
        layers = [
            [str(name), type(module).__name__, _attributes(module)]
            for name, module in built.named_modules()
            if next(module.children(), None) is None
        ]
        state = [[str(k), [int(s) for s in t.shape]] for k, t in built.state_dict().items()]
    except Exception as exc:
        return {"module": True, "error": error_report(exc, "layout")}
    del built
    report = model(factory, args, kwargs, trace=trace, functional=functional, dtype=dtype)
    report.update(layers=layers, state=state)
    return report


def build_network(recipe: Sequence):
    """An nn.Module from a recipe in ``build_recipe``'s language, or of these kinds:
    ["conv", in, out, kernel, options] (kernel an int or [kh, kw]; options nn.Conv2d's
    keywords stride, padding, dilation, groups, bias), ["maxpool2d", kernel, stride],
    ["adaptiveavgpool2d", size], ["vgg", config, batch_norm], ["resnet", 18 | 34 | 50],
    ["googlenet"], ["alexnet"] (course_utils' reference models), and ["sequential",
    [recipe, ...]] and ["shared", recipe] made of any of them."""
    from torch import nn

    kind, *rest = recipe
    if kind == "conv":
        kernel = rest[2] if isinstance(rest[2], int) else tuple(int(k) for k in rest[2])
        options = dict(rest[3]) if len(rest) > 3 else {}
        return nn.Conv2d(int(rest[0]), int(rest[1]), kernel, **options)
    if kind == "maxpool2d":
        return nn.MaxPool2d(int(rest[0]), stride=int(rest[1]))
    if kind == "adaptiveavgpool2d":
        return nn.AdaptiveAvgPool2d(int(rest[0]))
    if kind == "sequential":
        return nn.Sequential(*(build_network(r) for r in rest[0]))
    if kind == "shared":
        shared = build_network(rest[0])
        return nn.Sequential(shared, nn.ReLU(), shared)
    if kind in ("vgg", "resnet", "googlenet", "alexnet"):
        from course_utils.reference import architectures as reference

        if kind == "vgg":
            return reference.VGG(str(rest[0]), batch_norm=bool(rest[1]))
        if kind == "resnet":
            return {18: reference.resnet18, 34: reference.resnet34, 50: reference.resnet50}[
                int(rest[0])
            ]()
        return reference.GoogLeNet() if kind == "googlenet" else reference.AlexNet()
    return build_recipe(recipe)


def _hooks(model: Any) -> int:
    """The forward hooks on ``model``'s modules, and the global ones."""
    from torch.nn.modules import module as torch_module

    own = sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())
    return own + len(torch_module._global_forward_hooks)


# A report must fit the wire's 1 MiB header: GoogLeNet at 224x224 has 187 rows.
_MAX_ROWS, _MAX_KEYS = 2000, 16


@measurement
def table_of_network(
    func: Callable, recipe: Sequence, input_shape: Sequence[int], device: str = "cpu"
) -> dict:
    """``func(model, input_shape)`` for the model of ``recipe`` (``build_network``), built on
    ``device`` ("cpu" or "meta") in training mode.

    The report holds ``error``; or ``answer`` (its description) when the answer is not a list;
    or ``rows``, one per item of the list (the first 2,000; ``count`` says how many there
    are): ``{"items": {key: tagged value}}`` for a dict (its first 16 string keys),
    ``{"answer": description}`` for anything else. With the rows come
    ``hooks_left`` (forward hooks that the call added and left on the model or globally) and
    ``training`` (the model's mode after the call).
    """
    import torch

    with torch.device(device):
        built = build_network(recipe)
    built.train()
    hooks_before = _hooks(built)
    try:
        value = func(built, tuple(int(s) for s in input_shape))
    except Exception as exc:
        return {"error": error_report(exc, "call")}
    if not isinstance(value, list):
        return {"answer": describe(value)}
    rows = []
    for row in value[:_MAX_ROWS]:
        if isinstance(row, dict):
            keys = [k for k in row if isinstance(k, str)][:_MAX_KEYS]
            rows.append({"items": {str.__str__(k): tagged(row[k]) for k in keys}})
        else:
            rows.append({"answer": describe(row)})
    return {
        "rows": rows,
        "count": len(value),
        "hooks_left": int(_hooks(built) - hooks_before),
        "training": bool(built.training),
    }
