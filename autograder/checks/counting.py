"""Check of notebook 05's ``layer_table``: one row per call of a leaf module, with its output
shape, its parameters and its multiply-accumulates, as ``course_utils.reference.counting``
counts them (twice its MACs are what ``torch.utils.flop_counter`` counts).

The models are recipes (``autograder.kernel.measure.build_network``): plain data, so that the
student's function gets its model where it runs (in the kernel when grading in the sandbox,
through the measurement ``table_of_network``) and the reference the same model here. The big
ones (VGG-16, ResNet-50, GoogLeNet) are built on the meta device, where shapes cost nothing.

A table is compared row by row, field by field, type included (``(1, 6, 28, 28)`` is a
tuple, ``416520`` an int). A wrong table is explained by the first known mistake whose table,
computed here on the same model, is the student's: a bias add counted as a MAC, the groups
forgotten, shapes from a formula that leaves out the padding or the dilation, FLOPs instead of
MACs, a linear layer's batch dims but the first left out, a shared module's parameters counted
again, rows for the containers. A table right but for the output shape as a list, or for
whole numbers as floats, is a near miss. Then the function must have taken its hooks off and
left the model in the mode it was in: the last public case asks that, so that a mistake in the
rows is what a student sees first, and a table right in every row but this earns part of the
points (a near miss).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import torch
from torch import nn

from autograder.checks._engine import (
    Attempt,
    Case,
    CaseFailure,
    CheckResult,
    Exercise,
    Hint,
    Mistake,
    check,
    diagnose,
    raised,
)
from autograder.kernel.measure import build_network, tagged
from course_utils.reference.counting import layer_table as reference_table

__all__ = ["check_layer_table"]

#: The keys of a row, in the order they are compared.
FIELDS = ("name", "type", "output_shape", "params", "macs")


@dataclass(frozen=True)
class Net:
    """A model that a case hands to ``layer_table``: a recipe (plain data, built where the
    function runs and again here), the device it is built on, how a diagnosis names it, and
    whether the case also asks that the function leave no hook behind and the model in its
    training mode (``tidy``)."""

    recipe: list
    label: str
    device: str = "cpu"
    tidy: bool = False

    def __repr__(self) -> str:
        return self.label + (" on the meta device" if self.device == "meta" else "")

    def build(self) -> nn.Module:
        with torch.device(self.device):
            return build_network(self.recipe).train()


# --- tables as plain data -------------------------------------------------------------------------


def _form(rows: Sequence[dict]) -> list[list]:
    """A table as the check compares it: each row's fields, in ``FIELDS`` order, tagged."""
    return [[tagged(row[field]) for field in FIELDS] for row in rows]


class _Shown:
    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _untag(value: list) -> Any:
    """A tagged value back as the Python value it was (anything else as its description)."""
    kind = value[0]
    if kind in ("tuple", "list"):
        items = [_untag(v) for v in value[1]]
        return tuple(items) if kind == "tuple" else items
    if kind == "none":
        return None
    if kind == "other":
        return _Shown(value[1])
    return value[1]


_KINDS = {"int": "an int", "float": "a float", "str": "a str", "tuple": "a tuple",
          "list": "a list", "bool": "a bool", "none": "None", "other": "another type"}  # fmt: skip


def _shown(value: list, field: str) -> str:
    if value[0] == "int" and field in ("params", "macs"):
        return f"{value[1]:,}"
    return repr(_untag(value))


def _row_text(row: Sequence[list]) -> str:
    return ", ".join(f"{field} {_shown(value, field)}" for field, value in zip(FIELDS, row))


def _field_difference(index: int, got: list, expected: list) -> str:
    """What differs between two rows of the same place: the first field that does."""
    where = f'row {index} ("{_untag(expected[0])}", {_untag(expected[1])})'
    for field, mine, theirs in zip(FIELDS, got, expected):
        if mine == theirs:
            continue
        text = f"{where}: {field} is {_shown(mine, field)}, expected {_shown(theirs, field)}"
        if mine[0] != theirs[0]:
            text += f" (yours is {_KINDS[mine[0]]}, it must be {_KINDS[theirs[0]]})"
        return text + "."
    return f"{where} is right."  # unreachable when the rows differ


def _difference(got: list, expected: list, count: int) -> str:
    """The diagnosis body of two tables that differ."""
    lines = []
    if count != len(expected):
        lines.append(
            f"returned {count} rows, expected {len(expected)}: one per call of a leaf module "
            "(a module without children), in the order the calls run."
        )
    for index, (mine, theirs) in enumerate(zip(got, expected)):
        if mine != theirs:
            if count != len(expected):
                lines.append(f"  The first difference is row {index}:")
                lines.append(f"    yours:    {_row_text(mine)}")
                lines.append(f"    expected: {_row_text(theirs)}")
            else:
                lines.append(_field_difference(index, mine, theirs))
            break
    else:
        if len(got) > len(expected):
            lines.append(
                f"  Your extra rows start with row {len(expected)}: "
                f"{_row_text(got[len(expected)])}."
            )
        else:
            lines.append(
                f"  The first missing row is row {len(got)}: {_row_text(expected[len(got)])}."
            )
    return "\n".join(lines)


def _student_rows(report: dict, name: str) -> list[list]:
    """The student's rows from a ``table_of_network`` report, each the ``FIELDS`` tagged."""
    rows = []
    for index, row in enumerate(report["rows"]):
        if "answer" in row:
            raise CaseFailure(
                f"{name} must return a list of dicts; row {index} is {row['answer']}."
            )
        missing = [field for field in FIELDS if field not in row["items"]]
        if missing:
            raise CaseFailure(
                f"row {index} of {name}'s table has no key {', '.join(repr(m) for m in missing)}: "
                f"every row is a dict with the keys {', '.join(repr(f) for f in FIELDS)}."
            )
        rows.append([row["items"][field] for field in FIELDS])
    return rows


# --- the known mistakes, as tables computed here -------------------------------------------------


def _calls(model: nn.Module, input_shape: tuple) -> list[dict]:
    """Every call of every module of ``model`` (containers too, each after its children) on
    ``torch.zeros(input_shape)``, in eval mode, as plain facts: ``name``, ``type``, ``leaf``,
    ``module`` (its number, the same for every call of one module), ``input`` and ``output``
    (shapes), ``params``, and for a convolution ``conv`` / a linear layer ``linear``, the
    attributes its count depends on. Every table a mistake makes is computed from these, so
    that the model runs once however many mistakes are tried."""
    numbers = {module: i for i, module in enumerate(model.modules())}
    names = {module: name for name, module in model.named_modules()}
    calls: list[dict] = []

    def record(module: nn.Module, inputs: tuple, output: Any) -> None:
        facts = {
            "name": names[module],
            "type": type(module).__name__,
            "leaf": next(module.children(), None) is None,
            "module": numbers[module],
            "input": tuple(int(s) for s in inputs[0].shape),
            "output": tuple(int(s) for s in output.shape),
            "params": sum(p.numel() for p in module.parameters()),
        }
        if isinstance(module, nn.Conv2d):
            facts["conv"] = {
                "in_channels": module.in_channels,
                "out_channels": module.out_channels,
                "groups": module.groups,
                "kernel_size": tuple(module.kernel_size),
                "stride": tuple(module.stride),
                "padding": tuple(module.padding),
                "dilation": tuple(module.dilation),
                "bias": module.bias is not None,
            }
        elif isinstance(module, nn.Linear):
            facts["linear"] = {
                "in_features": module.in_features,
                "out_features": module.out_features,
                "bias": module.bias is not None,
            }
        calls.append(facts)

    handles = [m.register_forward_hook(record) for m in model.modules()]
    device = next((t.device for t in (*model.parameters(), *model.buffers())), torch.device("cpu"))
    try:
        with torch.no_grad():
            model.eval()(torch.zeros(input_shape, device=device))
    finally:
        for handle in handles:
            handle.remove()
    return calls


def _conv_shape(call: dict, *, padding: bool = True, dilation: bool = True) -> tuple:
    """A convolution's output shape from the formula, with the padding or the dilation left
    out when told; other layers keep the shape their hook saw."""
    conv = call.get("conv")
    if conv is None:
        return call["output"]
    n, _, *sizes = call["input"]
    sides = []
    for size, k, s, p, d in zip(
        sizes, conv["kernel_size"], conv["stride"], conv["padding"], conv["dilation"]
    ):
        p, d = (p if padding else 0), (d if dilation else 1)
        sides.append((size + 2 * p - d * (k - 1) - 1) // s + 1)
    return (n, conv["out_channels"], *sides)


def _macs(call: dict, out_shape: tuple, *, bias: bool = False, groups: bool = True,
          factor: int = 1, first_dim_only: bool = False) -> int:  # fmt: skip
    """MACs of one call from its output shape: the right count, or a mistaken one (a bias add
    counted, every input channel counted, FLOPs, only the first of a linear's batch dims)."""
    outputs = math.prod(out_shape)
    if "conv" in call:
        layer = call["conv"]
        per_output = layer["in_channels"] // (layer["groups"] if groups else 1)
        count = outputs * per_output * math.prod(layer["kernel_size"])
    elif "linear" in call:
        layer = call["linear"]
        vectors = out_shape[0] if first_dim_only else outputs // layer["out_features"]
        count = vectors * layer["in_features"] * layer["out_features"]
    else:
        return 0
    if bias and layer["bias"]:
        count += outputs
    return factor * count


def _table(
    calls: list[dict],
    *,
    shape: Callable[[dict], tuple] = _conv_shape,
    macs: Callable[[dict, tuple], int] = _macs,
    every_call: bool = False,
    containers: bool = False,
    as_list: bool = False,
) -> list[list]:
    """The layer table of ``calls`` (``_calls``) as the reference makes it, or as a mistake
    makes it: the output shape from ``shape(call)``, the MACs from ``macs(call, shape)``, the
    parameters in every row of a module (``every_call``), rows for the containers too
    (``containers``), the output shape as a list (``as_list``); in ``_form``."""
    rows: list[dict] = []
    seen: set[int] = set()
    for call in calls:
        if not (call["leaf"] or containers):
            continue
        out = shape(call)
        first = call["module"] not in seen
        seen.add(call["module"])
        rows.append(
            {
                "name": call["name"],
                "type": call["type"],
                "output_shape": list(out) if as_list else tuple(out),
                "params": call["params"] if first or every_call else 0,
                "macs": int(macs(call, out)),
            }
        )
    return _form(rows)


def _mistaken(**options: Any) -> Callable[[list[dict]], list[list]]:
    """A ``Mistake.predict``: the table that a mistake gives on a case's model, from the
    model's calls (``_calls``)."""
    return lambda calls: _table(calls, **options)


MISTAKES = (
    Mistake(
        "macs_count_bias",
        "a bias add is an addition, not a multiply-accumulate; count "
        "N*C_out*H_out*W_out*(C_in/groups)*kh*kw only.",
        _mistaken(macs=partial(_macs, bias=True)),
    ),
    Mistake(
        "macs_forget_groups",
        "in a grouped convolution each output channel sees C_in/groups input channels "
        "(module.groups).",
        _mistaken(macs=partial(_macs, groups=False)),
    ),
    Mistake(
        "shapes_ignore_padding",
        "your output shapes leave out the padding: H_out = (H + 2P - D(K-1) - 1)/S + 1; take "
        "the shape from the hook's output tensor.",
        _mistaken(shape=partial(_conv_shape, padding=False)),
    ),
    Mistake(
        "shapes_ignore_dilation",
        "a kernel dilated by D spans D(K-1)+1 pixels: H_out = (H + 2P - D(K-1) - 1)/S + 1; "
        "take the shape from the hook's output.",
        _mistaken(shape=partial(_conv_shape, dilation=False)),
    ),
    Mistake(
        "macs_doubled",
        "these are FLOPs: a FLOP counter counts a multiply-accumulate as two operations, a "
        "multiply and an add; the table counts it once, "
        "N*C_out*H_out*W_out*(C_in/groups)*kh*kw for a convolution.",
        _mistaken(macs=partial(_macs, factor=2)),
    ),
    Mistake(
        "linear_first_dim_only",
        "a linear layer on an input (N, T, in) computes N*T dot products of length in, one per "
        "vector: multiply all its batch dims (output.numel() // out_features), not only "
        "shape[0].",
        _mistaken(macs=partial(_macs, first_dim_only=True)),
    ),
    Mistake(
        "params_every_call",
        "a module that runs twice holds one set of parameters: count them in its first row "
        "only (0 in its later rows), so that the column sums to the parameters the model used.",
        _mistaken(every_call=True),
    ),
    Mistake(
        "container_rows",
        "your table has rows for the containers too (nn.Sequential, the model itself): hook "
        "only the leaf modules, those with no children (next(m.children(), None) is None).",
        _mistaken(containers=True),
    ),
    Mistake(
        "output_shape_list",
        "output_shape must be a tuple, such as (1, 64, 224, 224): tuple(output.shape). This "
        "earns part of the points; the tuple earns the rest.",
        _mistaken(as_list=True),
        near_miss=True,
    ),
)

COUNTS_NOT_INT = Hint(
    "counts_not_int",
    "params and macs must be ints: yours are right but floats (in Python 3, C_in / groups is "
    "a float; use C_in // groups, or int(...)). This earns part of the points; ints earn the "
    "rest.",
    near_miss=True,
)


def _counts_as_ints(rows: list[list]) -> list[list]:
    """The rows with whole-numbered float params and macs made ints (``COUNTS_NOT_INT``)."""

    def whole(value: list) -> list:
        if value[0] == "float" and float(value[1]).is_integer():
            return ["int", int(value[1])]
        return value

    return [[*row[:3], whole(row[3]), whole(row[4])] for row in rows]


HOOKS_LEFT = Hint(
    "hooks_left",
    "every register_forward_hook returns a handle: call handle.remove() on each when the "
    "forward pass is done, in a finally: block so that it happens even when the pass raises; "
    "hooks left behind add rows to every later forward pass.",
)
MODE_NOT_RESTORED = Hint(
    "mode_not_restored",
    "remember model.training before model.eval() and put it back afterwards "
    "(model.train(was_training)): a model being trained must stay in training mode. This "
    "earns part of the points.",
    near_miss=True,
)


# --- the judge ------------------------------------------------------------------------------------


def _judge(attempt: Attempt, case: Case) -> None:
    net, input_shape = case.fresh()[0]
    name = attempt.name
    report = attempt.measure("table_of_network", net.recipe, list(input_shape), net.device)
    if "error" in report:
        failure = raised(report["error"], name, "this model")
        if net.device == "meta" and "NotImplementedError" != report["error"]["type"]:
            failure = failure.noted(
                "This model lives on the meta device (shapes without values): make the input "
                "on the device of the model's parameters, and take every number from shapes "
                "and module attributes, never from values."
            )
        raise failure
    if "answer" in report:
        raise CaseFailure(
            f"{name} must return a list of dicts, one per call of a leaf module; it returned "
            f"{report['answer']}."
        )
    got = _student_rows(report, name)
    expected = _form(reference_table(net.build(), tuple(input_shape)))
    if got != expected or report["count"] != len(expected):
        hint = None
        if report["count"] == len(got):
            if _counts_as_ints(got) == expected:
                hint = COUNTS_NOT_INT
            else:
                hint = diagnose(MISTAKES, (_calls(net.build(), tuple(input_shape)),), got)
        raise CaseFailure(_difference(got, expected, report["count"]), hint)
    if not net.tidy:
        return None
    if report["hooks_left"]:
        raise CaseFailure(
            f"the table is right, but {name} left {report['hooks_left']} forward hook(s) on "
            "the model.",
            HOOKS_LEFT,
        )
    if not report["training"]:
        raise CaseFailure(
            f"the table is right, but {name} left the model in eval mode; it was in training mode.",
            MODE_NOT_RESTORED,
        )
    return None


# --- the cases ------------------------------------------------------------------------------------


def _public() -> list[Case]:
    shared = "nn.Sequential(shared, nn.ReLU(), shared), shared = nn.Linear(3, 3)"
    linears = "nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 2))"
    return [
        Case("the lecture's AlexNet conv1 at 227x227: one row, name \"\", 34,944 parameters, "
             "105,415,200 MACs",
             (Net(["conv", 3, 96, 11, {"stride": 4}], "nn.Conv2d(3, 96, 11, stride=4)"),
              (1, 3, 227, 227))),
        Case("LeNet5() at 28x28 (its pool runs twice): 61,706 parameters, 416,520 MACs",
             (Net(["lenet5"], "LeNet5()"), (1, 1, 28, 28))),
        Case("a grouped conv: 2 * 6 * 5 * 5 * (4 / 2) * 3 * 3 = 5,400 MACs",
             (Net(["conv", 4, 6, 3, {"padding": 1, "groups": 2, "bias": False}],
                  "nn.Conv2d(4, 6, 3, padding=1, groups=2, bias=False)"), (2, 4, 5, 5))),
        Case("a padded, dilated, strided conv at 9x7: output (1, 3, 5, 4), 1,080 MACs",
             (Net(["conv", 2, 3, 3, {"stride": 2, "padding": 2, "dilation": 2}],
                  "nn.Conv2d(2, 3, 3, stride=2, padding=2, dilation=2)"), (1, 2, 9, 7))),
        Case("linear layers on (2, 3, 4): every batch dim counts, 120 and 60 MACs",
             (Net(["sequential", [["linear", 4, 5], ["relu"], ["linear", 5, 2]]], linears),
              (2, 3, 4))),
        Case("a Linear(3, 3) used twice: 12 parameters in its first row, 0 in its second",
             (Net(["shared", ["linear", 3, 3]], shared), (2, 3))),
        Case("VGG-16 at 224x224: 15,470,264,320 MACs (30,940,528,640 FLOPs)",
             (Net(["vgg", "D", False], "VGG('D')", "meta"), (1, 3, 224, 224))),
        Case("ResNet-50 at 224x224: 4,089,184,256 MACs (8,178,368,512 FLOPs)",
             (Net(["resnet", 50], "resnet50()", "meta"), (1, 3, 224, 224))),
        Case("GoogLeNet at 224x224: 1,498,376,192 MACs (2,996,752,384 FLOPs)",
             (Net(["googlenet"], "GoogLeNet()", "meta"), (1, 3, 224, 224))),
        Case("LeNet5() in training mode: afterwards no hook is left on it, and it is still in "
             "training mode", (Net(["lenet5"], "LeNet5()", tidy=True), (2, 1, 28, 28))),
    ]  # fmt: skip


def _conv_out(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def random_network(rng: np.random.Generator) -> tuple[list, tuple[int, ...], str]:
    """A small random CNN as a recipe: 2-4 convs (kernels 1-3 per side, stride 1-2, padding
    0-2, dilation 1-2, groups 1 or 2, bias or not), each followed by batch norm and ReLU, then
    adaptive average pooling to 2x2, flatten and a linear layer; its input shape; a label."""
    channels = int(rng.integers(1, 4)) * 2
    h, w = (int(v) for v in rng.integers(10, 20, size=2))
    shape = (int(rng.integers(1, 4)), channels, h, w)
    convs = int(rng.integers(2, 5))
    layers: list[list] = []
    while len(layers) < 3 * convs:
        groups = int(rng.choice([g for g in (1, 2) if channels % g == 0]))
        kernel = [int(rng.integers(1, 4)), int(rng.integers(1, 4))]
        stride, padding, dilation = (int(v) for v in rng.integers([1, 0, 1], [3, 3, 3]))
        sizes = [_conv_out(n, k, stride, padding, dilation) for n, k in zip((h, w), kernel)]
        if min(sizes) < 1:
            continue
        out = groups * int(rng.integers(1, 4))
        options = {"stride": stride, "padding": padding, "dilation": dilation,
                   "groups": groups, "bias": bool(rng.integers(0, 2))}  # fmt: skip
        layers += [["conv", channels, out, kernel, options], ["batchnorm2d", out], ["relu"]]
        channels, (h, w) = out, sizes
    layers += [
        ["adaptiveavgpool2d", 2],
        ["flatten"],
        ["linear", 4 * channels, int(rng.integers(2, 9))],
    ]
    label = f"nn.Sequential of {convs} conv-BN-ReLU blocks, nn.AdaptiveAvgPool2d(2), a linear layer"
    return ["sequential", layers], shape, label


_BIG = {
    "vgg": lambda rng: (["vgg", str(rng.choice(list("ABDE"))), bool(rng.integers(0, 2))]),
    "resnet": lambda rng: (["resnet", int(rng.choice([18, 34, 50]))]),
    "googlenet": lambda rng: ["googlenet"],
    "alexnet": lambda rng: ["alexnet"],
}


def _hidden(rng: np.random.Generator) -> list[Case]:
    cases = []
    for index in range(3):
        recipe, shape, label = random_network(rng)
        cases.append(
            Case(f"hidden {index + 1}: a random CNN on {shape}", (Net(recipe, label), shape))
        )
    n, t, d_in, d_out = (int(v) for v in rng.integers([1, 2, 2, 2], [4, 6, 9, 9]))
    bias = bool(rng.integers(0, 2))
    linear = Net(["linear", d_in, d_out, bias], f"nn.Linear({d_in}, {d_out}, bias={bias})")
    cases.append(
        Case(f"hidden 4: a linear layer on a 3-d input {(n, t, d_in)}", (linear, (n, t, d_in)))
    )
    kind = str(rng.choice(list(_BIG)))
    recipe = _BIG[kind](rng)
    batch, side = int(rng.integers(1, 3)), int(rng.integers(64, 161))
    label = "(" + ", ".join(str(v) for v in recipe) + ")"
    cases.append(
        Case(
            f"hidden 5: the model {label} at {side}x{side}, batch {batch}",
            (Net(recipe, f"reference model {label}", "meta"), (batch, 3, side, side)),
        )
    )
    return cases


LAYER_TABLE = Exercise(
    "layer_table",
    args=("model", "input_shape"),
    public=_public,
    hidden=_hidden,
    judge=_judge,
    functions=("layer_table",),
    numpy_only=False,
)


@check
def check_layer_table(layer_table: Callable, cases: str = "public") -> CheckResult:
    """Check ``layer_table(model, input_shape) -> list[dict]``: one row per call of a leaf
    module with ``name``, ``type``, ``output_shape`` (a tuple), ``params`` (a module's first
    call only) and ``macs`` (convolutions and linear layers; a bias add is not a MAC)."""
    return LAYER_TABLE.run(cases, layer_table)
