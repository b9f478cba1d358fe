"""Twin of notebook 05's ``layer_table``: what every layer of a network outputs, holds and costs.

    with torch.device("meta"):                  # shapes only: no memory, no time
        model = VGG("D")
    rows = layer_table(model, (1, 3, 224, 224))
    rows[0]  # {"name": "features.0", "type": "Conv2d", "output_shape": (1, 64, 224, 224),
             #  "params": 1792, "macs": 86704128}

A row per call of a leaf module (one without children), in the order the calls run, found
with forward hooks. Multiply-accumulates (MACs) are counted where the work is, convolutions
and linear layers; a bias add is not a MAC, and everything else (ReLU, pooling, batch norm,
the additions of a residual block) counts 0. So ``2 * sum(macs)`` equals the FLOPs that
``torch.utils.flop_counter.FlopCounterMode`` counts, which calls a multiply-add two FLOPs and
counts only matrix products and convolutions (tests/unit/test_reference_counting.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["layer_table", "layer_macs"]


def layer_macs(module: nn.Module, inputs: tuple, output) -> int:
    """Multiply-accumulates of one call of ``module``: ``inputs`` -> ``output`` (its hook's view).

    - convolution ``nn.Conv1d/2d/3d`` with weight (C_out, C_in / groups, *kernel):
      ``N * C_out * prod(output spatial) * (C_in / groups) * prod(kernel)``, i.e.
      ``output.numel() * weight[0].numel()``: every output value is one dot product over
      the C_in / groups input channels of its group and the kernel window. Padding, stride
      and dilation change only the output's size.
    - transposed convolution ``nn.ConvTranspose1d/2d/3d`` with weight (C_in, C_out / groups,
      *kernel): every *input* value is spread over C_out / groups channels and the kernel
      window: ``input.numel() * weight[0].numel()``.
    - ``nn.Linear(in, out)`` on an input (*, in): ``prod(*) * in * out``, all batch dims.
    - anything else: 0. A bias add is not a multiply-accumulate.
    """
    if isinstance(module, nn.modules.conv._ConvTransposeNd):
        return inputs[0].numel() * module.weight[0].numel()
    if isinstance(module, nn.modules.conv._ConvNd):
        return output.numel() * module.weight[0].numel()
    if isinstance(module, nn.Linear):
        return output.numel() * module.in_features
    return 0


def _check_input_shape(input_shape: Sequence[int]) -> tuple[int, ...]:
    shape = tuple(input_shape)
    if not shape or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in shape):
        raise ValueError(
            "input_shape must be a tuple of positive ints, the batch included, such as "
            f"(1, 3, 224, 224); got {input_shape!r}."
        )
    return shape


def layer_table(model: nn.Module, input_shape: Sequence[int]) -> list[dict]:
    """One row per call of a leaf module of ``model`` on ``torch.zeros(input_shape)``.

    The model runs once, in eval mode and without gradients, on the device of its parameters
    (build big models under ``torch.device("meta")``: shapes only, no memory, no time); its
    mode is restored afterwards. A forward hook on every leaf module (one without children)
    records, in the order the calls run:

        name          the module's qualified name in ``model.named_modules()``, e.g.
                      "features.0" ("" when the model itself is a leaf)
        type          its class name, e.g. "Conv2d"
        output_shape  the output's shape, batch included, as a tuple of ints (None when the
                      module returns something other than a tensor)
        params        its parameters (``p.numel()`` summed); a module that runs more than
                      once counts them in its first row only, so the column sums to the
                      parameters the forward pass used
        macs          its multiply-accumulates (see ``layer_macs``)

    Functional calls (``torch.relu``, ``F.pad``, ``x + y``) are not modules and have no row.

    Args:
        model: any ``nn.Module``.
        input_shape: the input's full shape, batch included, e.g. (1, 3, 224, 224).

    Returns:
        a list of dicts with the keys above, e.g. for ``nn.Conv2d(3, 8, 3, padding=1)`` at
        (2, 3, 5, 5): ``[{"name": "", "type": "Conv2d", "output_shape": (2, 8, 5, 5),
        "params": 224, "macs": 2 * 8 * 5 * 5 * 3 * 3 * 3}]``.
    """
    shape = _check_input_shape(input_shape)
    device = next((t.device for t in (*model.parameters(), *model.buffers())), torch.device("cpu"))
    names = {module: name for name, module in model.named_modules()}
    rows: list[dict] = []
    counted: set[int] = set()

    def record(module: nn.Module, inputs: tuple, output) -> None:
        first = id(module) not in counted
        counted.add(id(module))
        is_tensor = isinstance(output, torch.Tensor)
        rows.append(
            {
                "name": names[module],
                "type": type(module).__name__,
                "output_shape": tuple(int(s) for s in output.shape) if is_tensor else None,
                "params": sum(p.numel() for p in module.parameters()) if first else 0,
                "macs": int(layer_macs(module, inputs, output)) if is_tensor else 0,
            }
        )

    leaves = [m for m in model.modules() if next(m.children(), None) is None]
    handles = [m.register_forward_hook(record) for m in leaves]
    was_training = model.training
    try:
        with torch.no_grad():
            model.eval()(torch.zeros(shape, device=device))
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    return rows
