"""Checks for notebook 05's residual networks: the blocks, ResNet, and its builders.

Like the other model checks (``architectures``), each is a ``ModelExercise`` judged by
``_models.Model``: the parameter count, the shapes layer by layer, then the function with the
same weights. A block's known mistakes are recognised by what they change: the count (a
missing projection shortcut or its batch norm, convolutions with biases) or the output (the
ReLU before the addition or missing, the stride on the wrong conv).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from autograder.checks._engine import Attempt, CheckResult, Mistake, NotApplicable, check
from autograder.checks._models import (
    Model,
    ModelCase,
    ModelExercise,
    count_of,
    variant_output,
)
from course_utils.reference import architectures as ref

__all__ = [
    "check_basic_block",
    "check_bottleneck",
    "check_resnet",
    "check_resnet_builders",
]


# --- ResNet blocks ----------------------------------------------------------------------------


def _block_public(expansion: int) -> list[ModelCase]:
    c = 16 // expansion  # 16 output channels at stride 1
    entry = 128 * expansion  # the input of stage 4's first block in ResNet-18 / ResNet-50
    return [
        ModelCase(f"identity shortcut: (16, {c}, stride=1)", (16, c, 1),
                  trace=(2, 16, 8, 8), functional=(2, 16, 8, 8)),
        ModelCase(f"projection, stride 2: (16, {2 * c}, stride=2)", (16, 2 * c, 2),
                  trace=(2, 16, 8, 8), functional=(2, 16, 8, 8)),
        ModelCase(f"projection, channels change at stride 1: (8, {c}, stride=1)", (8, c, 1),
                  trace=(1, 8, 6, 7), functional=(1, 8, 6, 7)),
        ModelCase(f"stage 4's first block: ({entry}, 256, stride=2) at 14x14", (entry, 256, 2),
                  trace=(1, entry, 14, 14)),
    ]  # fmt: skip


def _block_hidden(expansion: int) -> Callable[[np.random.Generator], list[ModelCase]]:
    def draw(rng: np.random.Generator) -> list[ModelCase]:
        cases = []
        for i in range(3):
            channels = int(rng.integers(1, 9))
            stride = int(rng.integers(1, 3))
            c_in = channels * expansion if i == 0 else int(rng.integers(1, 17))
            stride = 1 if i == 0 else stride
            h, w = (int(v) for v in rng.integers(4, 11, size=2))
            cases.append(
                ModelCase(
                    f"hidden {i + 1}: ({c_in}, {channels}, stride={stride}) on {h}x{w}",
                    (c_in, channels, stride),
                    trace=(2, c_in, h, w),
                    functional=(2, c_in, h, w),
                )
            )
        return cases

    return draw


class _ReluBeforeAdd(nn.Module):
    """What a block computes when its last ReLU comes before the addition."""

    def __init__(self, block: nn.Module, relu_after: bool):
        super().__init__()
        self.block, self.relu_after = block, relu_after

    def forward(self, x):
        block = self.block
        main = _main_path(block, x)
        out = torch.relu(main) + block.shortcut(x)
        return torch.relu(out) if self.relu_after else out


class _NoFinalRelu(_ReluBeforeAdd):
    def forward(self, x):
        return _main_path(self.block, x) + self.block.shortcut(x)


def _main_path(block: nn.Module, x: torch.Tensor) -> torch.Tensor:
    out = torch.relu(block.bn1(block.conv1(x)))
    if isinstance(block, ref.Bottleneck):
        out = torch.relu(block.bn2(block.conv2(out)))
        return block.bn3(block.conv3(out))
    return block.bn2(block.conv2(out))


def _moved_stride(block_class: type, to: str):
    def build(c_in, channels, stride=1):
        block = block_class(c_in, channels, stride)
        if stride == 1:
            raise NotApplicable
        block.conv2.stride = (1, 1) if to == "conv1" else (stride, stride)
        if to == "conv1":
            block.conv1.stride = (stride, stride)
        else:
            block.conv1.stride = (1, 1)
        return block

    return build


def _block_count_mistakes(block_class: type) -> list[Mistake]:
    """What a block's parameter count is with each known mistake."""

    def no_projection(c_in, channels, stride=1):
        with torch.device("meta"):
            block = block_class(c_in, channels, stride)
        if isinstance(block.shortcut, nn.Identity):
            raise NotApplicable
        return count_of(block) - count_of(block.shortcut)

    def projection_without_bn(c_in, channels, stride=1):
        with torch.device("meta"):
            block = block_class(c_in, channels, stride)
        if isinstance(block.shortcut, nn.Identity):
            raise NotApplicable
        return count_of(block) - 2 * channels * block_class.expansion

    def with_biases(c_in, channels, stride=1):
        with torch.device("meta"):
            block = block_class(c_in, channels, stride)
        return count_of(block) + sum(
            m.out_channels for m in block.modules() if isinstance(m, nn.Conv2d)
        )

    return [
        Mistake(
            "no_projection",
            "your block has no projection shortcut: when the stride or the number of channels "
            "changes, x cannot be added as it is; the shortcut must be a 1x1 conv (with the "
            "block's stride, no bias) followed by batch norm.",
            no_projection,
        ),
        Mistake(
            "projection_without_bn",
            "your projection shortcut lacks its batch norm: 1x1 conv (stride, no bias) -> "
            "BatchNorm2d.",
            projection_without_bn,
        ),
        Mistake(
            "with_biases",
            "your convs have biases; a conv followed by batch norm needs none (bias=False).",
            with_biases,
        ),
    ]


_RELU_BEFORE_ADD = (
    "the ReLU comes before the addition in your block; it must come after: "
    "out = relu(F(x) + shortcut(x)), with F ending in batch norm."
)


def _block_output_mistakes(block_class: type) -> list[Mistake]:
    """What a block computes with each known mistake of how its layers connect."""
    mistakes = [
        Mistake(
            "relu_before_add",
            _RELU_BEFORE_ADD,
            variant_output(lambda *a: _ReluBeforeAdd(block_class(*a), True)),
        ),
        Mistake(
            "relu_before_add",
            _RELU_BEFORE_ADD,
            variant_output(lambda *a: _ReluBeforeAdd(block_class(*a), False)),
        ),
        Mistake(
            "no_final_relu",
            "the block ends without its ReLU: out = relu(F(x) + shortcut(x)).",
            variant_output(lambda *a: _NoFinalRelu(block_class(*a), False)),
        ),
    ]
    if block_class is ref.Bottleneck:
        mistakes.append(
            Mistake(
                "stride_on_first_conv",
                "your stride sits on the first 1x1 conv, as in the paper; this course follows "
                "torchvision (ResNet v1.5) and puts it on the 3x3 conv.",
                variant_output(_moved_stride(block_class, "conv1")),
            )
        )
    else:
        mistakes.append(
            Mistake(
                "stride_on_second_conv",
                "your stride sits on the second conv; it belongs on the first 3x3 conv.",
                variant_output(_moved_stride(block_class, "conv2")),
            )
        )
    return mistakes


def _block_exercise(name: str, title: str, block_class: type) -> ModelExercise:
    expansion = block_class.expansion
    return ModelExercise(
        name,
        title,
        lambda: _block_public(expansion),
        _block_hidden(expansion),
        Model(
            block_class,
            count_mistakes=_block_count_mistakes(block_class),
            output_mistakes=_block_output_mistakes(block_class),
        ),
    )


BASIC_BLOCK = _block_exercise("basic_block", "BasicBlock", ref.BasicBlock)
BOTTLENECK = _block_exercise("bottleneck", "Bottleneck", ref.Bottleneck)


def _has_expansion(impl: type, name: str, expansion: int) -> None:
    """Refuse a block class without the ``expansion`` the ResNet reads to size its stages."""
    got = getattr(impl, "expansion", None)
    if got != expansion:
        raise AssertionError(
            f"{name}: the class attribute {name}.expansion must be {expansion} (output channels "
            f"= expansion * channels; ResNet reads it to size the next stage); it is {got!r}."
        )


@check
def check_basic_block(BasicBlock: type, cases: str = "public") -> CheckResult:  # noqa: N803
    """Check ``BasicBlock(in_channels, channels, stride=1)``, ``expansion = 1``."""
    _has_expansion(BasicBlock, "BasicBlock", 1)
    return BASIC_BLOCK.run(cases, BasicBlock)


@check
def check_bottleneck(Bottleneck: type, cases: str = "public") -> CheckResult:  # noqa: N803
    """Check ``Bottleneck(in_channels, channels, stride=1)``, ``expansion = 4``."""
    _has_expansion(Bottleneck, "Bottleneck", 4)
    return BOTTLENECK.run(cases, Bottleneck)


# --- ResNet -------------------------------------------------------------------------------------

_RESNET_FIGURES = {
    ("BasicBlock", (2, 2, 2, 2)): (11_689_512, "ResNet-18, torchvision's resnet18"),
    ("BasicBlock", (3, 4, 6, 3)): (21_797_672, "ResNet-34, torchvision's resnet34"),
    ("Bottleneck", (3, 4, 6, 3)): (25_557_032, "ResNet-50, torchvision's resnet50"),
}


def _resnet_public() -> list[ModelCase]:
    cases = [
        ModelCase(f"ResNet({block}, {list(layers)})", (block, list(layers)), {}, figure)
        for (block, layers), figure in _RESNET_FIGURES.items()
    ]
    cases += [
        ModelCase("ResNet(Bottleneck, [3, 4, 6, 3]) at 224x224", ("Bottleneck", [3, 4, 6, 3]),
                  trace=(1, 3, 224, 224)),
        ModelCase("ResNet(BasicBlock, [2, 2, 2, 2], num_classes=10) at 32x32",
                  ("BasicBlock", [2, 2, 2, 2]), {"num_classes": 10}, trace=(1, 3, 32, 32)),
        ModelCase("ResNet(BasicBlock, [1, 1, 1, 1], num_classes=10), same weights, 32x32",
                  ("BasicBlock", [1, 1, 1, 1]), {"num_classes": 10}, functional=(2, 3, 32, 32)),
        ModelCase("ResNet(Bottleneck, [1, 1, 1, 1], num_classes=7), same weights, 32x32",
                  ("Bottleneck", [1, 1, 1, 1]), {"num_classes": 7}, functional=(1, 3, 32, 32)),
    ]  # fmt: skip
    return cases


def _resnet_hidden(rng: np.random.Generator) -> list[ModelCase]:
    block = str(rng.choice(["BasicBlock", "Bottleneck"]))
    layers = [int(v) for v in rng.integers(1, 3, size=4)]
    classes, side = int(rng.integers(2, 50)), int(rng.integers(32, 96))
    return [
        ModelCase(f"hidden: ResNet({block}, {layers}, num_classes={classes}) at {side}x{side}",
                  (block, layers), {"num_classes": classes}, trace=(1, 3, side, side)),
        ModelCase(f"hidden: ResNet({block}, [1, 1, 1, 1], num_classes={classes}), same weights",
                  (block, [1, 1, 1, 1]), {"num_classes": classes}, functional=(1, 3, 32, 32)),
    ]  # fmt: skip


# The blocks a case names, in the order check_resnet takes them after ResNet.
_BLOCKS = ("BasicBlock", "Bottleneck")


def _with_own_blocks(attempt: Attempt, args: tuple, kwargs: dict) -> tuple[int, tuple, dict]:
    """The student's ResNet (function 0), built with the student's own block classes."""
    block, layers = args
    return 0, (attempt.subjects[1 + _BLOCKS.index(block)].target, layers), kwargs


def _reference_resnet(block: str, layers: list[int], **kwargs) -> nn.Module:
    blocks = {"BasicBlock": ref.BasicBlock, "Bottleneck": ref.Bottleneck}
    return ref.ResNet(blocks[block], layers, **kwargs)


RESNET = ModelExercise(
    "resnet",
    "ResNet",
    _resnet_public,
    _resnet_hidden,
    Model(
        _reference_resnet,
        advice=(
            "Run check_basic_block and check_bottleneck first; if they pass, compare the stem "
            "(7x7/2 conv, BN, ReLU, 3x3/2 max pool with padding 1) and the strides of the "
            "stages (1, 2, 2, 2, on the first block of each)."
        ),
        student=_with_own_blocks,
    ),
)


@check
def check_resnet(
    ResNet: type,  # noqa: N803
    BasicBlock: type,  # noqa: N803
    Bottleneck: type,  # noqa: N803
    cases: str = "public",
) -> CheckResult:
    """Check ``ResNet(block, layers, num_classes=1000)`` built with the student's own blocks."""
    return RESNET.run(cases, ResNet, BasicBlock, Bottleneck)


# --- the builders -------------------------------------------------------------------------------

# The builders, in the order check_resnet_builders takes them, with their published counts.
_BUILDERS = {
    "resnet18": ref.resnet18,
    "resnet34": ref.resnet34,
    "resnet50": ref.resnet50,
}
_BUILDER_FIGURES = dict(zip(_BUILDERS, _RESNET_FIGURES.values()))


def _builders_public() -> list[ModelCase]:
    cases = [ModelCase(f"{n}()", (n,), {}, _BUILDER_FIGURES[n]) for n in _BUILDERS]
    cases += [
        ModelCase(f"{n}(num_classes=10) at 32x32", (n,), {"num_classes": 10}, trace=(1, 3, 32, 32))
        for n in _BUILDERS
    ]
    return cases


def _builders_hidden(rng: np.random.Generator) -> list[ModelCase]:
    classes = int(rng.integers(2, 100))
    return [
        ModelCase(f"hidden: {n}(num_classes={classes})", (n,), {"num_classes": classes})
        for n in _BUILDERS
    ]


def _builder(attempt: Attempt, args: tuple, kwargs: dict) -> tuple[int, tuple, dict]:
    """The student's builder the case names, called with the case's keyword arguments."""
    return list(_BUILDERS).index(args[0]), (), kwargs


RESNET_BUILDERS = ModelExercise(
    "resnet_builders",
    "resnet18/34/50",
    _builders_public,
    _builders_hidden,
    Model(lambda which, **kwargs: _BUILDERS[which](**kwargs), student=_builder),
)


@check
def check_resnet_builders(
    resnet18: Callable,
    resnet34: Callable,
    resnet50: Callable,
    cases: str = "public",
) -> CheckResult:
    """Check ``resnet18/34/50(num_classes=1000)``: the published counts, and num_classes."""
    return RESNET_BUILDERS.run(cases, resnet18, resnet34, resnet50)
