"""Checks of notebook 05's networks built from a configuration: ``make_vgg_layers`` (VGG's
feature extractor from a list of channel counts and "M", module for module as torchvision's),
``BasicBlock`` with ResNet's shortcut option A, and the paper's CIFAR ResNets,
``resnet_cifar``.

Each case is a ``Build``: the student's function or class called with arguments the check
chose, where the student's code runs, and measured like the reference of
``course_utils.reference.architectures``; ``BuiltModel`` (in ``_builds``) compares the layout,
the parameter count, the trace and the function, each only as far as the case asks.

A difference is explained by the first known mistake whose model, built and measured here,
gives the student's answer: a pool after every conv, the ReLU before the batch norm; option A
padding one side, subsampling at the odd positions, average pooling, a projection; a
projection in resnet_cifar, one block too many or too few per stage, a stride in the first
stage, the width or the input channels ignored. A model built from the course's own reference
classes is refused once every case has passed.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np
import torch.nn.functional as F
from torch import nn

from autograder.checks._builds import Build, BuiltModel, refuse_reference_classes, variant
from autograder.checks._engine import (
    Case,
    CheckResult,
    Exercise,
    Mistake,
    NotApplicable,
    check,
)
from course_utils.reference import architectures as reference

__all__ = ["check_make_vgg_layers", "check_basic_block_option_a", "check_resnet_cifar"]


# --- make_vgg_layers ------------------------------------------------------------------------------


def _vgg_layers(pool_every_conv: bool = False, relu_first: bool = False) -> Callable:
    """make_vgg_layers as a mistake builds it: a pool after every conv ("M" ignored), or the
    ReLU before the batch norm."""

    def build(cfg, in_channels=3, batch_norm=False):
        layers: list[nn.Module] = []
        channels = in_channels
        for item in cfg:
            if item == "M":
                if not pool_every_conv:
                    layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
                continue
            kernel, out = (3, item) if isinstance(item, int) else item
            conv = nn.Conv2d(channels, out, kernel_size=kernel, padding=kernel // 2)
            norm = [nn.BatchNorm2d(out)] if batch_norm else []
            relu = [nn.ReLU(inplace=True)]
            layers += [conv, *relu, *norm] if relu_first else [conv, *norm, *relu]
            if pool_every_conv:
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            channels = out
        return nn.Sequential(*layers)

    return build


def _vgg_build(cfg: list, **kwargs: Any) -> Build:
    return Build("make_vgg_layers", (cfg,), kwargs, layout=True)


def _vgg_public() -> list[Case]:
    configs = reference.VGG_CONFIGS
    small = [8, "M", 16, 16, "M"]
    return [
        Case('VGG_CONFIGS["A"]: the convs are layers 0, 3, 6, 8, 11, 13, 16, 18, the pools '
             "2, 5, 10, 15, 20", (_vgg_build(configs["A"]),)),
        Case('VGG_CONFIGS["D"], batch_norm=True: each conv is followed by its BatchNorm2d, then '
             "the ReLU (keys 0.weight, 1.running_mean, ...)",
             (_vgg_build(configs["D"], batch_norm=True),)),
        Case("[8, 'M', 16, 16, 'M'], in_channels=1, batch_norm=True, same weights, on "
             "(2, 1, 12, 10)",
             (Build("make_vgg_layers", (small,), {"in_channels": 1, "batch_norm": True},
                    layout=True, functional=(2, 1, 12, 10)),)),
        Case("[4, (1, 6), 'M'], in_channels=2: a 1x1 conv (padding 0), same weights, on "
             "(1, 2, 7, 6)",
             (Build("make_vgg_layers", ([4, (1, 6), "M"],), {"in_channels": 2}, layout=True,
                    functional=(1, 2, 7, 6)),)),
        Case("an unknown item, [8, 'N'], raises ValueError",
             (Build("make_vgg_layers", ([8, "N"],), raises="ValueError"),)),
    ]  # fmt: skip


def _vgg_hidden(rng: np.random.Generator) -> list[Case]:
    cases = []
    for index in range(2):
        cfg: list = [int(rng.integers(1, 17))]
        for _ in range(int(rng.integers(1, 6))):
            draw = rng.random()
            if draw < 0.3:
                cfg.append("M")
            elif draw < 0.5:
                cfg.append((1, int(rng.integers(1, 17))))
            else:
                cfg.append(int(rng.integers(1, 17)))
        pools = cfg.count("M")
        in_channels, batch_norm = int(rng.integers(1, 5)), bool(rng.integers(0, 2))
        h, w = (int(v) for v in rng.integers(2**pools, 2**pools + 8, size=2))
        size = (int(rng.integers(1, 3)), in_channels, h, w)
        kwargs = {"in_channels": in_channels, "batch_norm": batch_norm}
        cases.append(
            Case(
                f"hidden {index + 1}: {cfg}, in_channels={in_channels}, batch_norm={batch_norm}, "
                f"same weights, on {size}",
                (Build("make_vgg_layers", (cfg,), kwargs, layout=True, functional=size),),
            )
        )
    config, batch_norm = str(rng.choice(list("ABDE"))), bool(rng.integers(0, 2))
    cases.append(
        Case(
            f'hidden 3: VGG_CONFIGS["{config}"], batch_norm={batch_norm}: layers and keys',
            (_vgg_build(reference.VGG_CONFIGS[config], batch_norm=batch_norm),),
        )
    )
    return cases


MAKE_VGG_LAYERS = Exercise(
    "make_vgg_layers",
    args=("model",),
    public=_vgg_public,
    hidden=_vgg_hidden,
    judge=BuiltModel(
        reference.make_vgg_layers,
        (
            Mistake(
                "pool_after_every_conv",
                'a max pool comes only where cfg says "M"; each number is a conv (+ BN) + '
                "ReLU with no pool after it.",
                variant(_vgg_layers(pool_every_conv=True)),
            ),
            Mistake(
                "relu_before_bn",
                "with batch_norm=True the order is conv -> BatchNorm2d -> ReLU; with the ReLU "
                "first every batch norm sits one position later, so torchvision's vgg*_bn keys "
                "(features.1.running_mean, ...) do not match and its weights cannot load.",
                variant(_vgg_layers(relu_first=True)),
            ),
        ),
    ),
    functions=("make_vgg_layers",),
    numpy_only=False,
)


@check
def check_make_vgg_layers(make_vgg_layers: Callable, cases: str = "public") -> CheckResult:
    """Check ``make_vgg_layers(cfg, in_channels=3, batch_norm=False) -> nn.Sequential``: the
    layers and state-dict keys of torchvision's ``vgg.make_layers``, and what they compute."""
    return MAKE_VGG_LAYERS.run(cases, make_vgg_layers)


# --- BasicBlock with shortcut option A --------------------------------------------------------


class _MistakenOptionA(nn.Module):
    """Option A as a mistake computes it: ``phase`` the first row and column kept, ``zeros``
    "before" or "after" the input's channels (None: half on each side), ``average`` an average
    pool instead of the subsampling."""

    def __init__(self, in_channels, out_channels, stride, phase=0, zeros=None, average=False):
        super().__init__()
        self.in_channels, self.out_channels, self.stride = in_channels, out_channels, stride
        self.phase, self.zeros, self.average = phase, zeros, average

    def forward(self, x):
        s = self.stride
        if self.average:
            if s == 1:
                raise NotApplicable
            x = F.avg_pool2d(x, s)
        else:
            x = x[:, :, self.phase :: s, self.phase :: s]
        extra = self.out_channels - self.in_channels
        before = {None: extra // 2, "before": extra, "after": 0}[self.zeros]
        return F.pad(x, (0, 0, 0, 0, before, extra - before))


def _option_a_block(**mistake: Any) -> Callable:
    def build(in_channels, channels, stride=1, shortcut="B"):
        block = reference.BasicBlock(in_channels, channels, stride, shortcut=shortcut)
        if not isinstance(block.shortcut, reference.ZeroPadShortcut):
            raise NotApplicable
        block.shortcut = _MistakenOptionA(in_channels, channels, stride, **mistake)
        return block

    return build


def _projection_block(in_channels, channels, stride=1, shortcut="B"):
    if shortcut != "A" or (stride == 1 and in_channels == channels):
        raise NotApplicable
    return reference.BasicBlock(in_channels, channels, stride, shortcut="B")


def _block_build(c_in: int, channels: int, stride: int, size: tuple[int, ...]) -> Build:
    return Build("BasicBlock", (c_in, channels, stride), {"shortcut": "A"}, trace=size,
                 functional=size)  # fmt: skip


def _block_public() -> list[Case]:
    return [
        Case('ResNet-20\'s first block of stage 2: BasicBlock(16, 32, 2, shortcut="A") on '
             "(2, 16, 8, 8), 8 zero channels on each side",
             (_block_build(16, 32, 2, (2, 16, 8, 8)),)),
        Case("odd sides: (4, 8, 2) on (1, 4, 7, 5), x[:, :, ::2, ::2] keeps rows 0, 2, 4, 6",
             (_block_build(4, 8, 2, (1, 4, 7, 5)),)),
        Case("the shape is kept: (8, 8, 1) on (2, 8, 6, 6), the identity",
             (_block_build(8, 8, 1, (2, 8, 6, 6)),)),
        Case("channels only: (4, 8, 1) on (1, 4, 5, 5), 2 zero channels on each side",
             (_block_build(4, 8, 1, (1, 4, 5, 5)),)),
    ]  # fmt: skip


def _block_hidden(rng: np.random.Generator) -> list[Case]:
    cases = []
    for index in range(3):
        c_in = int(rng.integers(1, 9))
        channels = c_in + 2 * int(rng.integers(1, 5))
        stride = int(rng.integers(1, 3))
        h, w = (int(v) for v in rng.integers(4, 12, size=2))
        size = (int(rng.integers(1, 3)), c_in, h, w)
        cases.append(
            Case(
                f"hidden {index + 1}: ({c_in}, {channels}, {stride}) on {size}",
                (_block_build(c_in, channels, stride, size),),
            )
        )
    return cases


BASIC_BLOCK_OPTION_A = Exercise(
    "basic_block_option_a",
    args=("model",),
    public=_block_public,
    hidden=_block_hidden,
    judge=BuiltModel(
        reference.BasicBlock,
        (
            Mistake(
                "projection",
                'option A has no parameters: with shortcut="A" the shortcut is the identity, '
                "subsampled and zero-padded, not a 1x1 conv and batch norm (that is option B).",
                variant(_projection_block),
            ),
            *(
                Mistake(
                    "pad_one_side",
                    "option A puts (channels - in_channels)//2 zero channels before the input's "
                    "channels and as many after: F.pad(x, (0,0,0,0,side,side)).",
                    variant(_option_a_block(zeros=side)),
                )
                for side in ("after", "before")
            ),
            Mistake(
                "wrong_phase",
                "option A keeps rows and columns 0, 2, 4, ... (x[:, :, ::2, ::2]), the "
                "positions the stride-2 3x3 conv with padding 1 centres on; yours starts at 1.",
                variant(_option_a_block(phase=1)),
            ),
            Mistake(
                "average_pool",
                "option A subsamples: it keeps every stride-th row and column, "
                "x[:, :, ::stride, ::stride]; an average pool mixes neighbouring pixels "
                "into the shortcut.",
                variant(_option_a_block(average=True)),
            ),
        ),
        advice="Run check_basic_block first: it checks the rest of the block.",
    ),
    functions=("BasicBlock",),
    numpy_only=False,
    after=refuse_reference_classes(_block_build(4, 8, 2, (1, 4, 4, 4))),
)


@check
def check_basic_block_option_a(BasicBlock: type, cases: str = "public") -> CheckResult:  # noqa: N803
    """Check ``BasicBlock(in_channels, channels, stride, shortcut="A")``: the parameter-free
    shortcut ``x[:, :, ::stride, ::stride]`` with ``(channels - in_channels) // 2`` zero
    channels on each side."""
    return BASIC_BLOCK_OPTION_A.run(cases, BasicBlock)


# --- resnet_cifar -------------------------------------------------------------------------------

_CIFAR_SIGNATURE = inspect.signature(reference.resnet_cifar)


def _cifar(**changes: Callable[[Any], Any]) -> Callable:
    """resnet_cifar as a mistake builds it: the reference with arguments changed (a mistake
    that changes nothing on a case cannot be told apart there)."""

    def build(*args, **kwargs):
        bound = _CIFAR_SIGNATURE.bind(*args, **kwargs)
        bound.apply_defaults()
        arguments = dict(bound.arguments)
        for key, change in changes.items():
            new = change(arguments[key])
            if new == arguments[key]:
                raise NotApplicable
            arguments[key] = new
        return reference.resnet_cifar(**arguments)

    return build


def _cifar_first_stage_stride(*args, **kwargs):
    """The first block of stage 1 with stride 2 as well (strides 2, 2, 2)."""
    bound = _CIFAR_SIGNATURE.bind(*args, **kwargs)
    bound.apply_defaults()
    model = reference.resnet_cifar(**bound.arguments)
    block = model[3]
    width = block.conv1.in_channels
    block.conv1.stride = (2, 2)
    if bound.arguments["shortcut"] == "A":
        block.shortcut = reference.ZeroPadShortcut(width, width, 2)
    else:
        block.shortcut = nn.Sequential(
            nn.Conv2d(width, width, 1, stride=2, bias=False), nn.BatchNorm2d(width)
        )
    return model


def _cifar_build(*args: Any, trace=None, functional=None, **kwargs: Any) -> Build:
    return Build("resnet_cifar", args, kwargs, trace=trace, functional=functional)


_CIFAR_COUNTS = {20: 269_722, 32: 464_154, 44: 658_586, 56: 853_018, 110: 1_727_962}


def _cifar_public() -> list[Case]:
    cases = [Case("resnet_cifar(): ResNet-20 with option A, 269,722 parameters", (_cifar_build(),))]
    cases += [
        Case(f"ResNet-{depth}: {count:,} parameters", (_cifar_build(depth),))
        for depth, count in _CIFAR_COUNTS.items()
        if depth != 20
    ]
    cases += [
        Case("ResNet-20 at 32x32: the maps go 32 -> 16 -> 8, the output is (1, 10)",
             (_cifar_build(20, trace=(1, 3, 32, 32)),)),
        Case("resnet_cifar(8, num_classes=7, in_channels=1, width=8): 18,975 parameters, same "
             "weights, on (2, 1, 28, 28)",
             (_cifar_build(8, num_classes=7, in_channels=1, width=8, trace=(2, 1, 28, 28),
                           functional=(2, 1, 28, 28)),)),
        Case('resnet_cifar(14, shortcut="B"): 175,258 parameters (172,506 with option A)',
             (_cifar_build(14, shortcut="B"),)),
        Case("depth 10 is not 6n + 2: ValueError",
             (Build("resnet_cifar", (10,), raises="ValueError"),)),
    ]  # fmt: skip
    return cases


def _cifar_hidden(rng: np.random.Generator) -> list[Case]:
    n, width = int(rng.integers(1, 5)), int(rng.choice([4, 6, 8]))
    in_channels, classes, side = (int(v) for v in rng.integers([1, 2, 8], [4, 21, 33]))
    size = (int(rng.integers(1, 3)), in_channels, side, side)
    kwargs = {"num_classes": classes, "in_channels": in_channels, "width": width}
    deep = int(rng.integers(1, 19))
    classes_deep = int(rng.integers(2, 101))
    n_b, width_b = int(rng.integers(1, 4)), int(rng.choice([4, 8, 16]))
    return [
        Case(f"hidden 1: resnet_cifar({6 * n + 2}, **{kwargs}), same weights, on {size}",
             (_cifar_build(6 * n + 2, trace=size, functional=size, **kwargs),)),
        Case(f"hidden 2: resnet_cifar({6 * deep + 2}, num_classes={classes_deep})",
             (_cifar_build(6 * deep + 2, num_classes=classes_deep),)),
        Case(f'hidden 3: resnet_cifar({6 * n_b + 2}, shortcut="B", width={width_b}) at 32x32',
             (_cifar_build(6 * n_b + 2, shortcut="B", width=width_b, trace=(1, 3, 32, 32)),)),
    ]  # fmt: skip


RESNET_CIFAR = Exercise(
    "resnet_cifar",
    args=("model",),
    public=_cifar_public,
    hidden=_cifar_hidden,
    judge=BuiltModel(
        reference.resnet_cifar,
        (
            Mistake(
                "projection_shortcut",
                'with shortcut="A" the blocks that change shape use the parameter-free '
                "zero-padded identity; pass shortcut on to BasicBlock.",
                variant(_cifar(shortcut=lambda s: "B" if s == "A" else s)),
            ),
            *(
                Mistake(
                    "n_off_by_one",
                    "your net has the parameters of the next depth (6 more or fewer layers): "
                    "depth = 6n + 2 counts the first conv, the 2n convs of each of the three "
                    "stages and the fc layer, so each stage has n = (depth - 2) // 6 blocks.",
                    variant(_cifar(depth=lambda d, step=step: d + step)),
                )
                for step in (6, -6)
            ),
            Mistake(
                "ignores_width",
                "the stages have width, 2 * width and 4 * width channels: use the width "
                "argument (16 only by default).",
                variant(_cifar(width=lambda w: 16)),
            ),
            Mistake(
                "ignores_in_channels",
                "the first conv takes in_channels input channels (1 for Fashion-MNIST), not "
                "always 3.",
                variant(_cifar(in_channels=lambda c: 3)),
            ),
            Mistake(
                "stride_in_first_stage",
                "the first stage keeps the input's size: its first block has stride 1; only the "
                "first blocks of stages 2 and 3 have stride 2 (32 -> 32 -> 16 -> 8).",
                variant(_cifar_first_stage_stride),
            ),
        ),
        advice="Run check_basic_block and check_basic_block_option_a first; if they pass, "
        "compare the first conv (3x3, no bias), its batch norm and the head (global average "
        "pool, flatten, fc).",
    ),
    functions=("resnet_cifar",),
    numpy_only=False,
    after=refuse_reference_classes(_cifar_build(8, width=4)),
)


@check
def check_resnet_cifar(resnet_cifar: Callable, cases: str = "public") -> CheckResult:
    """Check ``resnet_cifar(depth=20, num_classes=10, shortcut="A", in_channels=3, width=16)``:
    the paper's CIFAR ResNets (ResNet-20 269,722 parameters, ResNet-110 1,727,962)."""
    return RESNET_CIFAR.run(cases, resnet_cifar)
