"""Per-layer summary tables: output shape, parameters and FLOPs of every layer of a model.

    with torch.device("meta"):            # no memory, no time: shapes only
        model = VGG("D")
    print(layer_table(model, (1, 3, 224, 224)))
    count_flops(model, (1, 3, 224, 224))  # 30,940,528,640: 15.5 G multiply-adds

Output shapes and parameter counts come from torchinfo; FLOPs from PyTorch's own counter,
``torch.utils.flop_counter.FlopCounterMode``, which counts a multiply-add as **2** FLOPs
(a 3x3 conv from C to F channels on an HxW output costs 2 * 9 * C * F * H * W) and counts
convolutions and matrix products only (batch norm, ReLU, pooling and additions are cheap
and left out). Papers often quote multiply-adds and call them FLOPs: divide by 2 to compare.

Every function runs one forward pass of ``torch.zeros(input_size)`` on the device of the
model's parameters, in eval mode and without gradients, and restores the model's mode. On
a model built under ``torch.device("meta")`` that pass allocates nothing and takes
milliseconds, even for VGG at 224x224.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torchinfo
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

__all__ = [
    "count_flops",
    "flops_by_module",
    "LayerRow",
    "LayerTable",
    "layer_table",
    "format_rows",
    "print_rows",
]


def _device_of(model: nn.Module) -> torch.device:
    for tensor in (*model.parameters(), *model.buffers()):
        return tensor.device
    return torch.device("cpu")


def _check_input_size(input_size: Sequence[int]) -> tuple[int, ...]:
    size = tuple(input_size)
    if not size or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in size):
        raise ValueError(
            f"input_size must be a tuple of positive ints such as (1, 3, 224, 224), got "
            f"{input_size!r}."
        )
    return size


def flops_by_module(model: nn.Module, input_size: Sequence[int]) -> dict[str, int]:
    """FLOPs of one forward pass, per module: ``{"": total, "features.0": ..., ...}``.

    Keys are the names of ``model.named_modules()`` ("" is the whole model); a container's
    FLOPs include its children's. A multiply-add counts as 2 FLOPs.
    """
    size = _check_input_size(input_size)
    counter = FlopCounterMode(display=False)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), counter:
            model(torch.zeros(size, device=_device_of(model)))
    finally:
        model.train(was_training)
    root = type(model).__name__
    flops: dict[str, int] = {}
    for key, by_op in counter.get_flop_counts().items():
        if key == "Global":
            continue
        name = "" if key == root else key.removeprefix(root + ".")
        flops[name] = int(sum(by_op.values()))
    flops.setdefault("", int(counter.get_total_flops()))
    return flops


def count_flops(model: nn.Module, input_size: Sequence[int]) -> int:
    """Total FLOPs of one forward pass of ``torch.zeros(input_size)`` (multiply-add = 2)."""
    return flops_by_module(model, input_size)[""]


@dataclass(frozen=True)
class LayerRow:
    """One row of a ``LayerTable``: a module, its output shape, parameters and FLOPs."""

    name: str  # the module's name in model.named_modules(), e.g. "features.0"
    kind: str  # its class, e.g. "Conv2d"
    depth: int  # 1 for the model's children, 2 for theirs, ...
    output_shape: tuple[int, ...] | None  # None when the module returned no single tensor
    params: int  # its parameters, its children's included
    flops: int  # FLOPs of its forward pass, its children's included


class LayerTable(list):
    """A list of ``LayerRow``s that prints as a table, with totals for the whole model."""

    def __init__(self, rows, total_params: int, total_flops: int, input_size: tuple[int, ...]):
        super().__init__(rows)
        self.total_params = total_params
        self.total_flops = total_flops
        self.input_size = input_size

    def __str__(self) -> str:
        header = ("layer", "type", "output shape", "params", "FLOPs")
        lines = [
            (
                "  " * (row.depth - 1) + row.name,
                row.kind,
                "--" if row.output_shape is None else str(list(row.output_shape)),
                f"{row.params:,}" if row.params else "--",
                f"{row.flops:,}" if row.flops else "--",
            )
            for row in self
        ]
        widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(header)]

        def fmt(cells) -> str:
            left = [c.ljust(w) for c, w in zip(cells[:3], widths[:3])]
            right = [c.rjust(w) for c, w in zip(cells[3:], widths[3:])]
            return "  ".join(left + right)

        rule = "-" * len(fmt(header))
        return "\n".join(
            [
                fmt(header),
                rule,
                *(fmt(line) for line in lines),
                rule,
                f"input {list(self.input_size)}: {self.total_params:,} parameters, "
                f"{self.total_flops:,} FLOPs ({self.total_flops / 2e9:.3g} G multiply-adds)",
            ]
        )

    def __repr__(self) -> str:
        return str(self)


def layer_table(model: nn.Module, input_size: Sequence[int], depth: int = 2) -> LayerTable:
    """Output shape, parameters and FLOPs of every module down to ``depth`` levels.

    Args:
        model: any nn.Module; build big ones under ``torch.device("meta")`` to make this free.
        input_size: the input's full shape, batch included, e.g. (1, 3, 224, 224).
        depth: how many levels of submodules to list (1: the model's children only).

    Returns:
        a ``LayerTable``: one ``LayerRow`` per module call in the order they ran, plus
        ``total_params`` and ``total_flops``; ``print(table)`` shows it as text.
    """
    size = _check_input_size(input_size)
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
        raise ValueError(f"depth must be a positive int, got {depth!r}.")
    was_training = model.training
    try:
        stats = torchinfo.summary(
            model,
            input_data=[torch.zeros(size, device=_device_of(model))],
            depth=depth,
            col_names=("output_size", "num_params"),
            mode="eval",
            verbose=0,
            device=_device_of(model),
        )
    finally:
        model.train(was_training)
    flops = flops_by_module(model, size)
    names = {id(module): name for name, module in model.named_modules()}
    rows = []
    for info in stats.summary_list:
        if info.depth < 1 or info.depth > depth:
            continue
        name = names.get(id(info.module), info.var_name)
        shape = info.output_size
        rows.append(
            LayerRow(
                name=name,
                kind=info.class_name,
                depth=info.depth,
                output_shape=tuple(shape) if shape and isinstance(shape[0], int) else None,
                params=sum(p.numel() for p in info.module.parameters()),
                flops=flops.get(name, 0),
            )
        )
    total_params = sum(p.numel() for p in model.parameters())
    return LayerTable(rows, total_params, flops[""], size)


def format_rows(rows: Sequence[dict], types: Sequence[str] | None = None) -> str:
    """A layer table of notebook 05's ``layer_table`` (a list of row dicts) as text.

    Args:
        rows: dicts with "name", "type", "output_shape", "params" and "macs", one per layer.
        types: show only the rows of these types (e.g. ("Conv2d", "Linear")); the totals
            are always those of all rows.

    Returns:
        one line per row (name, type, output shape, parameters, MACs) and a line of totals.
    """
    keys = ("name", "type", "output_shape", "params", "macs")
    for index, row in enumerate(rows):
        missing = [key for key in keys if key not in row]
        if missing:
            raise ValueError(
                f"row {index} has no {', '.join(repr(k) for k in missing)}; every row must be a "
                f"dict with the keys {', '.join(keys)}. It is {row!r}."
            )
    shown = [row for row in rows if types is None or row["type"] in types]
    header = ("layer", "type", "output shape", "params", "MACs")
    lines = [
        (
            str(row["name"]) or "(model)",
            str(row["type"]),
            "--" if row["output_shape"] is None else str(list(row["output_shape"])),
            f"{row['params']:,}" if row["params"] else "--",
            f"{row['macs']:,}" if row["macs"] else "--",
        )
        for row in shown
    ]
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(header)]

    def fmt(cells) -> str:
        left = [c.ljust(w) for c, w in zip(cells[:3], widths[:3])]
        right = [c.rjust(w) for c, w in zip(cells[3:], widths[3:])]
        return "  ".join(left + right)

    params = sum(int(row["params"]) for row in rows)
    macs = sum(int(row["macs"]) for row in rows)
    rule = "-" * len(fmt(header))
    total = (
        f"{len(rows)} rows: {params:,} parameters, {macs:,} multiply-accumulates "
        f"({2 * macs:,} FLOPs as a FLOP counter counts them)"
    )
    if len(shown) < len(rows):
        total += f"; shown: the {len(shown)} of type {', '.join(types)}"
    return "\n".join([fmt(header), rule, *(fmt(line) for line in lines), rule, total])


def print_rows(rows: Sequence[dict], types: Sequence[str] | None = None) -> None:
    """Print ``format_rows(rows, types)``: a layer table and its totals."""
    print(format_rows(rows, types))
