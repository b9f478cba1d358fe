"""layer_table counts what PyTorch's own FLOP counter counts, and the shapes and parameters by hand.

``torch.utils.flop_counter.FlopCounterMode`` counts a multiply-add as 2 FLOPs and counts only
matrix products and convolutions, so twice the MACs of layer_table's convolution and linear
rows must equal its total exactly, on the big models (built on the meta device, free) and on
random small networks with grouped and dilated convolutions, padding, strides, transposed
convolutions and linear layers on inputs with several batch dimensions.
"""

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from course_utils.reference import architectures as arch
from course_utils.reference.counting import layer_table


def counter_flops(model: nn.Module, input_shape: tuple[int, ...]) -> int:
    device = next(model.parameters()).device
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model.eval()(torch.zeros(input_shape, device=device))
    return int(counter.get_total_flops())


def conv_and_linear_macs(rows: list[dict]) -> int:
    kinds = ("Conv1d", "Conv2d", "Conv3d", "ConvTranspose2d", "Linear")
    return sum(row["macs"] for row in rows if row["type"] in kinds)


BIG_MODELS = [
    ("VGG-16", lambda: arch.VGG("D"), (1, 3, 224, 224), 30_940_528_640),
    ("ResNet-50", arch.resnet50, (1, 3, 224, 224), 8_178_368_512),
    ("GoogLeNet", arch.GoogLeNet, (1, 3, 224, 224), 2_996_752_384),
    ("VGG-11 with batch norm, batch 2", lambda: arch.VGG("A", batch_norm=True), (2, 3, 64, 64), None),
    ("ResNet-110 (CIFAR, option A)", lambda: arch.resnet_cifar(110), (2, 3, 32, 32), None),
]  # fmt: skip


@pytest.mark.parametrize("name, build, shape, flops", BIG_MODELS, ids=[m[0] for m in BIG_MODELS])
def test_twice_the_macs_of_the_table_equal_the_flop_counter_on_the_big_models(
    name, build, shape, flops
):
    with torch.device("meta"):
        model = build()
    rows = layer_table(model, shape)
    assert 2 * conv_and_linear_macs(rows) == counter_flops(model, shape)
    assert sum(row["macs"] for row in rows) == conv_and_linear_macs(rows)  # the rest count 0
    if flops is not None:  # the figures notebook 05 quotes: VGG-16 15.5 G MACs, ResNet-50 4.1 G
        assert 2 * conv_and_linear_macs(rows) == flops
    assert sum(row["params"] for row in rows) == arch.count_parameters(model)


def _conv_out(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def random_network(rng: np.random.Generator) -> tuple[nn.Module, tuple[int, ...]]:
    """A small random CNN: grouped, dilated, padded, strided convs, BN, ReLU, then linear."""
    channels, h, w = (
        int(rng.integers(1, 4)) * 2,
        int(rng.integers(10, 20)),
        int(rng.integers(10, 20)),
    )
    shape = (int(rng.integers(1, 4)), channels, h, w)
    layers: list[nn.Module] = []
    while len(layers) < 3 * int(rng.integers(2, 5)):
        groups = int(rng.choice([g for g in (1, 2) if channels % g == 0]))
        kernel = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
        stride, padding, dilation = (int(v) for v in rng.integers([1, 0, 1], [3, 3, 3]))
        sizes = [_conv_out(n, k, stride, padding, dilation) for n, k in zip((h, w), kernel)]
        if min(sizes) < 1:
            continue
        out = groups * int(rng.integers(1, 4))
        conv = nn.Conv2d(channels, out, kernel, stride, padding, dilation, groups,
                         bias=bool(rng.integers(0, 2)))  # fmt: skip
        layers += [conv, nn.BatchNorm2d(out), nn.ReLU()]
        channels, (h, w) = out, sizes
    layers += [
        nn.AdaptiveAvgPool2d(2),
        nn.Flatten(),
        nn.Linear(channels * 4, int(rng.integers(2, 9))),
    ]
    return nn.Sequential(*layers), shape


@pytest.mark.parametrize("seed", range(12))
def test_twice_the_macs_of_the_table_equal_the_flop_counter_on_random_small_networks(seed):
    model, shape = random_network(np.random.default_rng(seed))
    rows = layer_table(model, shape)
    assert 2 * sum(row["macs"] for row in rows) == counter_flops(model, shape)
    assert [row["output_shape"] for row in rows][-1] == tuple(
        model.eval()(torch.zeros(shape)).shape
    )


def test_conv1d_transposed_conv_and_linear_on_several_batch_dims_match_the_flop_counter():
    class Mixed(nn.Module):
        def __init__(self):
            super().__init__()
            self.up = nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2)
            self.line = nn.Conv1d(6, 5, 3, dilation=2, padding=1)
            self.head = nn.Linear(12, 7)

        def forward(self, x):
            x = self.up(x)  # (N, 6, 8, 8)
            x = self.line(x.flatten(2))  # (N, 5, 62)
            return self.head(x[..., :12].reshape(2, -1, 5, 12))  # (2, N/2, 5, 7)

    model, shape = Mixed(), (4, 4, 4, 4)
    rows = layer_table(model, shape)
    assert [row["output_shape"] for row in rows] == [(4, 6, 8, 8), (4, 5, 62), (2, 2, 5, 7)]
    assert [row["macs"] for row in rows] == [
        4 * 4 * 4 * 4 * (6 // 2) * 3 * 3,  # every input value spreads over C_out / groups x 3 x 3
        4 * 5 * 62 * 6 * 3,
        2 * 2 * 5 * 12 * 7,  # the batch dims (2, 2, 5) multiplied
    ]
    assert 2 * sum(row["macs"] for row in rows) == counter_flops(model, shape)


def test_lenet5_rows_have_the_hand_computed_shapes_parameters_and_macs():
    rows = layer_table(arch.LeNet5(), (1, 1, 28, 28))
    assert rows == [
        {"name": "conv1", "type": "Conv2d", "output_shape": (1, 6, 28, 28), "params": 156,
         "macs": 6 * 28 * 28 * 1 * 5 * 5},
        {"name": "pool", "type": "MaxPool2d", "output_shape": (1, 6, 14, 14), "params": 0, "macs": 0},
        {"name": "conv2", "type": "Conv2d", "output_shape": (1, 16, 10, 10), "params": 2416,
         "macs": 16 * 10 * 10 * 6 * 5 * 5},
        {"name": "pool", "type": "MaxPool2d", "output_shape": (1, 16, 5, 5), "params": 0, "macs": 0},
        {"name": "fc1", "type": "Linear", "output_shape": (1, 120), "params": 48120, "macs": 400 * 120},
        {"name": "fc2", "type": "Linear", "output_shape": (1, 84), "params": 10164, "macs": 120 * 84},
        {"name": "fc3", "type": "Linear", "output_shape": (1, 10), "params": 850, "macs": 84 * 10},
    ]  # fmt: skip


def test_the_lecture_alexnet_conv1_costs_55_by_55_by_96_dot_products_of_363():
    # SEED_CONCEPTS.md section 5 / the deck: 11x11x3 kernels, 96 of them, stride 4, output 55x55.
    (row,) = layer_table(nn.Conv2d(3, 96, 11, stride=4), (1, 3, 227, 227))
    assert row == {"name": "", "type": "Conv2d", "output_shape": (1, 96, 55, 55),
                   "params": 34_944, "macs": 55 * 55 * 96 * 363}  # fmt: skip


def test_bias_adds_are_not_counted_as_macs():
    with_bias = layer_table(nn.Conv2d(3, 8, 3), (2, 3, 6, 6))[0]["macs"]
    without = layer_table(nn.Conv2d(3, 8, 3, bias=False), (2, 3, 6, 6))[0]["macs"]
    assert with_bias == without == 2 * 8 * 4 * 4 * 3 * 3 * 3


def test_a_module_that_runs_twice_gets_two_rows_and_its_parameters_count_once():
    shared = nn.Linear(4, 4)
    rows = layer_table(nn.Sequential(shared, nn.ReLU(), shared), (3, 4))
    assert [(r["name"], r["params"], r["macs"]) for r in rows] == [
        ("0", 20, 48), ("1", 0, 0), ("0", 0, 48),
    ]  # fmt: skip


def test_rows_follow_the_order_the_layers_run_not_the_order_they_were_defined():
    class Backwards(nn.Module):
        def __init__(self):
            super().__init__()
            self.second = nn.Linear(3, 2)
            self.first = nn.Linear(5, 3)

        def forward(self, x):
            return self.second(self.first(x))

    assert [r["name"] for r in layer_table(Backwards(), (1, 5))] == ["first", "second"]


def test_the_option_a_shortcut_and_the_identity_are_rows_without_cost():
    block = arch.BasicBlock(16, 32, stride=2, shortcut="A")
    rows = layer_table(block, (1, 16, 8, 8))
    assert [(r["name"], r["type"]) for r in rows] == [
        ("conv1", "Conv2d"), ("bn1", "BatchNorm2d"), ("conv2", "Conv2d"), ("bn2", "BatchNorm2d"),
        ("shortcut", "ZeroPadShortcut"),
    ]  # fmt: skip
    assert rows[-1]["output_shape"] == (1, 32, 4, 4) and rows[-1]["macs"] == rows[-1]["params"] == 0


def test_layer_table_restores_the_training_mode_and_refuses_a_bad_input_shape():
    model = arch.LeNet5().train()
    layer_table(model, (1, 1, 28, 28))
    assert model.training
    with pytest.raises(ValueError, match="batch included"):
        layer_table(model, (1, 28.0, 28))
    with pytest.raises(ValueError, match="positive ints"):
        layer_table(model, ())
