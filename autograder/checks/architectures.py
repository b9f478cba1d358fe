"""Checks for notebook 05, architectures from LeNet-5 to GoogLeNet (the ResNets are in
``resnet``).

The student writes ``torch.nn.Module`` classes. Each check is a ``ModelExercise``: its cases
(constructor arguments, the published parameter count, the input sizes of the layer-by-layer
shapes and of the output comparison), the reference in ``course_utils.reference.architectures``
and the known mistakes, judged by ``_models.Model`` (the parameter count, the shapes layer by
layer, then the function with the same weights; see ``_models``). ``count_parameters`` is a
function on a model, measured where the student's code runs on models built from recipes.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from autograder.checks._engine import (
    Attempt,
    Case,
    CaseFailure,
    CheckResult,
    Mistake,
    NotApplicable,
    check,
    diagnose,
    not_applicable,
    raised,
)
from autograder.checks._models import (
    Model,
    ModelCase,
    ModelExercise,
    meta_count,
    variant_output,
)
from autograder.kernel.measure import build_recipe, canonical_, model_input
from course_utils.reference import architectures as ref

__all__ = [
    "check_count_parameters",
    "check_lenet5",
    "check_alexnet",
    "check_vgg",
    "check_inception_module",
    "check_googlenet",
]


# --- count_parameters -----------------------------------------------------------------------


@dataclass(frozen=True)
class RecipeCase:
    """A case of ``count_parameters``: a model recipe (``autograder.kernel.measure.
    build_recipe``), plain data, so that the student's function gets the model where it runs,
    and the reference here the same model. The name describes the model; a model printed as
    an "input" would say nothing, so a failure shows none."""

    name: str
    recipe: list

    @property
    def shown(self) -> Case:
        return Case(self.name)


def _count_cases() -> list[RecipeCase]:
    return [
        RecipeCase("nn.Linear(3, 4): 3 * 4 + 4 = 16", ["linear", 3, 4]),
        RecipeCase("nn.Conv2d(3, 6, 5): 6 * 5 * 5 * 3 + 6 = 456", ["conv2d", 3, 6, 5]),
        RecipeCase("LeNet-5 (61,706)", ["lenet5"]),
        RecipeCase(
            "conv (no bias) + batch norm: 36 + 8 (running statistics are buffers)",
            ["sequential", [["conv2d", 1, 4, 3, False], ["batchnorm2d", 4]]],
        ),
        RecipeCase("a layer used twice is counted once", ["shared", ["linear", 4, 4]]),
        RecipeCase(
            "frozen parameters count too",
            ["freeze", 0, ["sequential", [["linear", 3, 3], ["relu"], ["linear", 3, 2]]]],
        ),
        RecipeCase("no parameters at all: nn.ReLU()", ["relu"]),
    ]


def _hidden_count_cases(rng: np.random.Generator) -> list[RecipeCase]:
    cases = []
    for i in range(4):
        c_in, c_out, k = (int(v) for v in rng.integers(1, 9, size=3))
        hidden = int(rng.integers(2, 20))
        recipe = [
            "sequential",
            [
                ["conv2d", c_in, c_out, k, bool(i % 2)],
                ["batchnorm2d", c_out],
                ["flatten"],
                ["linear", c_out, hidden],
                ["linear", hidden, 3],
            ],
        ]
        if i == 3:
            recipe = ["freeze", 3, recipe]
        name = f"hidden {i + 1}: conv {c_in}->{c_out} {k}x{k}, fc {hidden}"
        cases.append(RecipeCase(name, recipe))
    return cases


_COUNT_MISTAKES = (
    Mistake(
        "with_buffers",
        "you counted the buffers too (batch norm's running mean and variance and its "
        "num_batches_tracked): they are state, not parameters. Use model.parameters().",
        lambda model: sum(t.numel() for t in model.state_dict().values()),
    ),
    Mistake(
        "trainable_only",
        "you counted only the trainable parameters (requires_grad); frozen parameters are "
        "parameters too.",
        lambda model: sum(p.numel() for p in model.parameters() if p.requires_grad),
    ),
    Mistake(
        "counts_tensors",
        "you counted parameter tensors, not the numbers in them: add up p.numel().",
        lambda model: len(list(model.parameters())),
    ),
    Mistake(
        "shared_twice",
        "a layer used twice shares its parameters: count each tensor once "
        "(model.parameters() already does).",
        lambda model: sum(p.numel() for _, p in model.named_parameters(remove_duplicate=False)),
    ),
    Mistake(
        "weights_only",
        "you counted only the weights: the biases are parameters too.",
        lambda model: sum(p.numel() for p in model.parameters() if p.dim() > 1),
    ),
)


def _counts_right(attempt: Attempt, case: RecipeCase, borrowed: set[str]) -> None:
    """The student's count of the recipe's model, measured where their code runs, is the
    reference's."""
    report = attempt.measure("call_on_recipe", copy.deepcopy(case.recipe))
    if "error" in report:
        raise raised(report["error"], attempt.name, "this model")
    if "value" not in report:
        raise CaseFailure(
            f"{attempt.name} must return the result as an int; it returned a "
            f"{report['value_type']}."
        )
    got = attempt.integer(report["value"])
    expected = ref.count_parameters(build_recipe(case.recipe))
    if got != expected:
        hint = diagnose(_COUNT_MISTAKES, (build_recipe(case.recipe),), got)
        raise CaseFailure(f"returned {got:,}, expected {expected:,}.", hint)


COUNT_PARAMETERS = ModelExercise(
    "count_parameters", "count_parameters", _count_cases, _hidden_count_cases, _counts_right
)


@check
def check_count_parameters(count_parameters: Callable, cases: str = "public") -> CheckResult:
    """Check ``count_parameters(model) -> int``: every parameter once, frozen ones included."""
    return COUNT_PARAMETERS.run(cases, count_parameters)


# --- LeNet-5 ------------------------------------------------------------------------------------


class _LeNet5Tanh(ref.LeNet5):
    def forward(self, x):
        x = self.pool(torch.tanh(self.conv1(x)))
        x = self.pool(torch.tanh(self.conv2(x)))
        x = torch.tanh(self.fc2(torch.tanh(self.fc1(torch.flatten(x, 1)))))
        return self.fc3(x)


class _LeNet5AvgPool(ref.LeNet5):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.pool = nn.AvgPool2d(2, stride=2)


class _LeNet5ReluAtTheEnd(ref.LeNet5):
    def forward(self, x):
        return torch.relu(super().forward(x))


def _lenet_public() -> list[ModelCase]:
    return [
        ModelCase("LeNet5() on 28x28", (), {}, (61_706, "conv1 alone: 6*5*5+6 = 156"),
                  (1, 1, 28, 28)),
        ModelCase("LeNet5(), same weights as the reference", (), {}, functional=(3, 1, 28, 28)),
        ModelCase("LeNet5(num_classes=5, in_channels=3)", (), {"num_classes": 5, "in_channels": 3},
                  trace=(2, 3, 28, 28), functional=(2, 3, 28, 28)),
    ]  # fmt: skip


def _lenet_hidden(rng: np.random.Generator) -> list[ModelCase]:
    classes, channels = int(rng.integers(2, 20)), int(rng.integers(1, 5))
    return [
        ModelCase(
            f"hidden: LeNet5(num_classes={classes}, in_channels={channels})",
            (),
            {"num_classes": classes, "in_channels": channels},
            trace=(1, channels, 28, 28),
            functional=(2, channels, 28, 28),
        )
    ]


LENET5 = ModelExercise(
    "lenet5",
    "LeNet5",
    _lenet_public,
    _lenet_hidden,
    Model(
        ref.LeNet5,
        output_mistakes=(
            Mistake(
                "tanh",
                "you used tanh; this course's LeNet-5 uses ReLU after every conv and hidden fc.",
                variant_output(_LeNet5Tanh),
            ),
            Mistake(
                "avg_pool",
                "you used average pooling; this course's LeNet-5 max-pools (2x2, stride 2).",
                variant_output(_LeNet5AvgPool),
            ),
            Mistake(
                "relu_at_the_end",
                "the last layer returns raw scores: no ReLU after fc3 (cross-entropy applies "
                "the softmax).",
                variant_output(_LeNet5ReluAtTheEnd),
            ),
        ),
    ),
)


@check
def check_lenet5(LeNet5: type, cases: str = "public") -> CheckResult:  # noqa: N803
    """Check ``LeNet5(num_classes=10, in_channels=1)``: 28x28 inputs, conv1 padded by 2."""
    return LENET5.run(cases, LeNet5)


# --- AlexNet ------------------------------------------------------------------------------------


def _alexnet_count(channels: Sequence[int], num_classes: int) -> int:
    """Parameters of a one-tower AlexNet with these five conv widths (kernels 11, 5, 3, 3, 3)."""
    kernels, total, previous = (11, 5, 3, 3, 3), 0, 3
    for c, k in zip(channels, kernels):
        total += c * previous * k * k + c
        previous = c
    features = previous * 6 * 6
    return total + features * 4096 + 4096 + 4096 * 4096 + 4096 + 4096 * num_classes + num_classes


def _alexnet_public() -> list[ModelCase]:
    return [
        ModelCase("AlexNet() at 224x224", (), {}, (61_100_840, "torchvision's alexnet"),
                  trace=(1, 3, 224, 224)),
        ModelCase("AlexNet() at its smallest input, 63x63", (), {}, trace=(1, 3, 63, 63)),
        ModelCase("AlexNet(num_classes=10), same weights as the reference, 64x64",
                  (), {"num_classes": 10}, functional=(2, 3, 64, 64), dtype=torch.float32),
    ]  # fmt: skip


def _alexnet_hidden(rng: np.random.Generator) -> list[ModelCase]:
    classes, side = int(rng.integers(2, 50)), int(rng.integers(63, 100))
    return [
        ModelCase(f"hidden: AlexNet(num_classes={classes}) at {side}x{side}", (),
                  {"num_classes": classes}, trace=(1, 3, side, side)),
        ModelCase(f"hidden: AlexNet(num_classes={classes}), same weights, {side}x{side}", (),
                  {"num_classes": classes}, functional=(1, 3, side, side), dtype=torch.float32),
    ]  # fmt: skip


ALEXNET = ModelExercise(
    "alexnet",
    "AlexNet",
    _alexnet_public,
    _alexnet_hidden,
    Model(
        ref.AlexNet,
        count_mistakes=(
            Mistake(
                "paper_widths",
                "that is the lecture's 62.3M: the paper's widths 96, 256, 384, 384, 256 in one "
                "tower. Build torchvision's variant, with 64, 192, 384, 256, 256 channels.",
                lambda num_classes=1000: _alexnet_count((96, 256, 384, 384, 256), num_classes),
            ),
        ),
    ),
)


@check
def check_alexnet(AlexNet: type, cases: str = "public") -> CheckResult:  # noqa: N803
    """Check ``AlexNet(num_classes=1000)``, torchvision's variant (61,100,840 parameters)."""
    return ALEXNET.run(cases, AlexNet)


# --- VGG ----------------------------------------------------------------------------------------

_VGG_FIGURES = {
    "A": (132_863_336, "torchvision's vgg11"),
    "B": (133_047_848, "torchvision's vgg13"),
    "C": (133_638_952, "configuration B plus three 1x1 convs"),
    "D": (138_357_544, "VGG-16, torchvision's vgg16"),
    "E": (143_667_240, "VGG-19, torchvision's vgg19"),
}


def _vgg_public() -> list[ModelCase]:
    cases = [
        ModelCase(f'VGG(config="{c}")', (), {"config": c}, published=_VGG_FIGURES[c])
        for c in "ABCDE"
    ]
    cases += [
        ModelCase("VGG() is configuration D", (), {}, published=_VGG_FIGURES["D"]),
        ModelCase('VGG(config="D", batch_norm=True)', (), {"config": "D", "batch_norm": True},
                  published=(138_365_992, "torchvision's vgg16_bn")),
        ModelCase('VGG(config="D") at 224x224', (), {"config": "D"}, trace=(1, 3, 224, 224)),
        ModelCase('VGG(config="C", num_classes=10) at 32x32', (),
                  {"config": "C", "num_classes": 10}, trace=(1, 3, 32, 32)),
        ModelCase('VGG(config="A", batch_norm=True, num_classes=10), same weights, 32x32', (),
                  {"config": "A", "batch_norm": True, "num_classes": 10},
                  functional=(2, 3, 32, 32), dtype=torch.float32),
        ModelCase('an unknown configuration: VGG(config="F")', (), {"config": "F"},
                  raises=ValueError),
    ]  # fmt: skip
    return cases


def _vgg_hidden(rng: np.random.Generator) -> list[ModelCase]:
    config = str(rng.choice(list("ABCDE")))
    classes, side = int(rng.integers(2, 50)), int(rng.integers(32, 80))
    kwargs = {"config": config, "num_classes": classes, "batch_norm": bool(rng.integers(0, 2))}
    return [
        ModelCase(
            f"hidden: VGG(**{kwargs}) at {side}x{side}", (), kwargs, trace=(1, 3, side, side)
        ),
        ModelCase(
            f'hidden: VGG(config="{config}", num_classes={classes}), same weights',
            (),
            {**kwargs, "batch_norm": True},
            functional=(1, 3, 32, 32),
            dtype=torch.float32,
        ),
    ]


def _vgg_other_config(wrong: str):
    def predict(config="D", num_classes=1000, batch_norm=False):
        if config == wrong:
            raise NotApplicable
        return meta_count(ref.VGG)(wrong, num_classes, batch_norm)

    return predict


VGGNET = ModelExercise(
    "vgg",
    "VGG",
    _vgg_public,
    _vgg_hidden,
    Model(
        ref.VGG,
        count_mistakes=(
            Mistake(
                "config_c_with_three_by_three",
                "configuration C ends stages 3, 4 and 5 with a 1x1 conv; you built D's 3x3 there.",
                lambda config="D", num_classes=1000, batch_norm=False: (
                    _vgg_other_config("D")(config, num_classes, batch_norm)
                    if config == "C"
                    else not_applicable()
                ),
            ),
            *[
                Mistake(
                    "other_config",
                    f"your model has the parameters of configuration {c}: look up the requested "
                    "column of the paper's Table 1 (VGG_CONFIGS).",
                    _vgg_other_config(c),
                )
                for c in "ABCDE"
            ],
            Mistake(
                "no_batch_norm",
                "with batch_norm=True every conv is followed by nn.BatchNorm2d (2 parameters per "
                "channel) before its ReLU.",
                lambda config="D", num_classes=1000, batch_norm=False: (
                    meta_count(ref.VGG)(config, num_classes, False)
                    if batch_norm
                    else not_applicable()
                ),
            ),
        ),
    ),
)


@check
def check_vgg(VGG: type, cases: str = "public") -> CheckResult:  # noqa: N803
    """Check ``VGG(config="D", num_classes=1000, batch_norm=False)``, configurations A to E."""
    return VGGNET.run(cases, VGG)


# --- GoogLeNet ----------------------------------------------------------------------------------

_INCEPTION_ORDER = ("1x1", "3x3", "5x5", "pool")


def _inception_branches(*args, dtype, size) -> list[np.ndarray]:
    with torch.device("meta"):
        module = ref.InceptionModule(*args)
    module = canonical_(module, dtype)
    x = model_input(size, dtype)
    with torch.no_grad():
        return [
            b(x).double().numpy()
            for b in (module.branch1, module.branch2, module.branch3, module.branch4)
        ]


def _inception_public() -> list[ModelCase]:
    return [
        ModelCase("inception 3a: InceptionModule(192, 64, 96, 128, 16, 32, 32)",
                  (192, 64, 96, 128, 16, 32, 32), published=(155_872, "torchvision's inception3a"),
                  trace=(2, 192, 28, 28)),
        ModelCase("InceptionModule(8, 4, 3, 5, 2, 6, 7), same weights, 6x6",
                  (8, 4, 3, 5, 2, 6, 7), functional=(2, 8, 6, 6)),
        ModelCase("InceptionModule(5, 3, 4, 2, 6, 5, 1), same weights, non-square 7x5",
                  (5, 3, 4, 2, 6, 5, 1), functional=(1, 5, 7, 5)),
    ]  # fmt: skip


def _inception_hidden(rng: np.random.Generator) -> list[ModelCase]:
    cases = []
    for i in range(2):
        channels = tuple(int(v) for v in rng.choice(np.arange(1, 17), size=7, replace=False))
        h, w = (int(v) for v in rng.integers(3, 10, size=2))
        cases.append(
            ModelCase(
                f"hidden {i + 1}: InceptionModule{channels}, {h}x{w}",
                channels,
                functional=(2, channels[0], h, w),
            )
        )
    return cases


def _branches_in_order(order: tuple[int, ...]) -> Callable[[ModelCase], np.ndarray]:
    """The output of an inception module whose branches are concatenated in ``order``."""

    def predict(case: ModelCase) -> np.ndarray:
        if case.functional is None:
            raise NotApplicable
        branches = _inception_branches(*case.args, dtype=case.dtype, size=case.functional)
        return np.concatenate([branches[i] for i in order], axis=1)

    return predict


def _inception_extra_count(kind: str):
    """Counts of inception modules with a known mistake, per module args."""

    def per_module(i, c1, r3, c3, r5, c5, pool):
        convs = (c1, r3, c3, r5, c5, pool)
        if kind == "true_five_by_five":
            return 16 * r5 * c5
        if kind == "with_biases":
            return sum(convs)
        if kind == "no_batch_norm":
            return -2 * sum(convs)
        raise AssertionError(kind)

    return per_module


_INCEPTION_COUNT_HINTS = {
    "true_five_by_five": 'your "5x5" branch has a 5x5 kernel. This course follows torchvision, '
    'whose "5x5" branch uses a 3x3 conv (padding 1); the 5x5 of the paper costs 16 * ch5x5red '
    "* ch5x5 more weights per module.",
    "with_biases": "a conv followed by batch norm needs no bias (the norm's beta replaces it): "
    "use bias=False.",
    "no_batch_norm": "every conv is conv -> BatchNorm2d(eps=0.001) -> ReLU (torchvision's "
    "BasicConv2d); yours lack the batch norm.",
}


def _inception_count_mistakes(
    modules: Callable[..., list[tuple]], base: Callable[..., int]
) -> list[Mistake]:
    """The count mistakes of a model made of the inception ``modules(*args, **kwargs)`` (their
    arguments), whose right count is ``base(*args, **kwargs)``."""
    mistakes = []
    for kind, hint in _INCEPTION_COUNT_HINTS.items():
        extra = _inception_extra_count(kind)

        def predict(*args, extra=extra, **kwargs):
            return base(*args, **kwargs) + sum(extra(*m) for m in modules(*args, **kwargs))

        mistakes.append(Mistake(kind, hint, predict))
    return mistakes


INCEPTION_MODULE = ModelExercise(
    "inception_module",
    "InceptionModule",
    _inception_public,
    _inception_hidden,
    Model(
        ref.InceptionModule,
        count_mistakes=_inception_count_mistakes(
            lambda *args: [args], meta_count(ref.InceptionModule)
        ),
        output_mistakes=[
            Mistake(
                "branch_order",
                "your branches are concatenated in the order "
                + ", ".join(_INCEPTION_ORDER[i] for i in order)
                + "; the order is 1x1, 3x3, 5x5, pool (torch.cat along dim 1).",
                _branches_in_order(order),
            )
            for order in itertools.permutations(range(4))
            if order != (0, 1, 2, 3)
        ],
    ),
)


@check
def check_inception_module(InceptionModule: type, cases: str = "public") -> CheckResult:  # noqa: N803
    """Check ``InceptionModule(in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj)``."""
    return INCEPTION_MODULE.run(cases, InceptionModule)


def _googlenet_public() -> list[ModelCase]:
    return [
        ModelCase("GoogLeNet() at 224x224", (), {}, (6_624_904, "torchvision's googlenet, no aux"),
                  trace=(1, 3, 224, 224)),
        ModelCase("GoogLeNet(aux_logits=True)", (), {"aux_logits": True},
                  (13_004_888, "torchvision's googlenet with its two auxiliary classifiers")),
        ModelCase("GoogLeNet(num_classes=10) at 32x32", (), {"num_classes": 10},
                  trace=(1, 3, 32, 32)),
        ModelCase("GoogLeNet(num_classes=10), same weights, 32x32", (), {"num_classes": 10},
                  functional=(2, 3, 32, 32)),
    ]  # fmt: skip


def _googlenet_hidden(rng: np.random.Generator) -> list[ModelCase]:
    classes, side = int(rng.integers(2, 50)), int(rng.integers(32, 96))
    return [
        ModelCase(f"hidden: GoogLeNet(num_classes={classes}) at {side}x{side}", (),
                  {"num_classes": classes}, trace=(1, 3, side, side)),
        ModelCase(f"hidden: GoogLeNet(num_classes={classes}), same weights", (),
                  {"num_classes": classes}, functional=(1, 3, 32, 32)),
    ]  # fmt: skip


def _googlenet_count_mistakes() -> list[Mistake]:
    """The inception modules' count mistakes, over GoogLeNet's nine modules; with biases, the
    stem's three convs (and the auxiliary classifiers' two) have theirs too."""

    def modules(num_classes=1000, aux_logits=False):
        return list(ref.GOOGLENET_INCEPTIONS.values())

    def stem_extra_bias(num_classes=1000, aux_logits=False):
        return 64 + 64 + 192 + (256 if aux_logits else 0)

    mistakes = _inception_count_mistakes(modules, meta_count(ref.GoogLeNet))
    biases = mistakes[1]
    mistakes[1] = dataclasses.replace(
        biases, predict=lambda *a, **k: biases.predict(*a, **k) + stem_extra_bias(*a, **k)
    )
    return mistakes


GOOGLENET = ModelExercise(
    "googlenet",
    "GoogLeNet",
    _googlenet_public,
    _googlenet_hidden,
    Model(
        ref.GoogLeNet,
        count_mistakes=_googlenet_count_mistakes(),
        advice=(
            "Run check_inception_module first; if it passes, compare the stem and the max "
            "pools between the stages (3x3, stride 2, ceil_mode=True; 2x2 before 5a)."
        ),
    ),
)


@check
def check_googlenet(GoogLeNet: type, cases: str = "public") -> CheckResult:  # noqa: N803
    """Check ``GoogLeNet(num_classes=1000, aux_logits=False)`` (6,624,904 parameters)."""
    return GOOGLENET.run(cases, GoogLeNet)
