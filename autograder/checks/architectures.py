"""Checks for notebook 05, architectures from LeNet-5 to ResNet.

The student writes ``torch.nn.Module`` classes. A check builds the student's model and the
reference (``course_utils.reference.architectures``) with the same arguments and compares, in
this order:

1. **the parameter count**, against the reference and the published figure (VGG-16's
   138,357,544, ResNet-50's 25,557,032, ...). Models are built on the ``meta`` device, which
   allocates nothing, so even VGG costs milliseconds. A wrong count lists the parameter
   shapes that differ, and a hint when the count is that of a known mistake (a missing
   projection shortcut, convolutions with a bias before batch norm, another VGG config);
2. **the output shapes, layer by layer**: the outputs of every ``nn.Conv2d`` and ``nn.Linear``
   in the order they run (branches may run in any order), also on ``meta``. A missing pooling
   stage shows as a conv whose output is larger than expected, and is named;
3. **the function**, on small inputs: both models get the same weights, a fixed function of
   each tensor's role and shape (so how the student names or orders layers does not matter),
   batch-norm eps is set equal, both run in eval mode, and the outputs must agree. A wrong
   shortcut (ReLU before the addition, the stride on the wrong conv), a wrong concatenation
   order or another activation is recognised by computing what that mistake gives.

A model whose layers come from the course's own reference classes (``LeNet5 =
reference.LeNet5``, or a subclass of it) passes all of that without the student writing it, so
it is refused after the comparisons (a wrong model still gets the diagnosis of its mistake).

The student's model is measured by ``autograder.measure.model`` where the student's code runs
(in the kernel when grading in the sandbox); the reference by the same measurement here.
"""

from __future__ import annotations

import collections
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from autograder.checks._compare import (
    Case,
    CaseFailure,
    CheckResult,
    Mistake,
    NotApplicable,
    as_int,
    diagnose,
    raised,
    run_check,
    select_cases,
)
from autograder.checks._engine import check
from autograder.checks._legacy_rules import measure
from autograder.kernel.measure import build_recipe, canonical_, model_input
from course_utils.reference import architectures as ref

__all__ = [
    "check_count_parameters",
    "check_lenet5",
    "check_alexnet",
    "check_vgg",
    "check_inception_module",
    "check_googlenet",
    "check_basic_block",
    "check_bottleneck",
    "check_resnet",
    "check_resnet_builders",
]

# Outputs of the student's model and the reference, with the same weights, must agree this
# closely: relative to the largest output, so that deep float32 models are judged fairly.
OUTPUT_RTOL = 1e-4


# --- building models ------------------------------------------------------------------------------


def _count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@dataclass(frozen=True)
class _Spec:
    """One case of a model check: constructor arguments and what to compare."""

    name: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    published: tuple[int, str] | None = None  # (count, where the figure comes from)
    trace: tuple[int, ...] | None = None  # input size for the layer-by-layer shapes (meta)
    functional: tuple[int, ...] | None = None  # input size for the output comparison
    dtype: torch.dtype = torch.float64
    raises: type[Exception] | None = None  # the constructor must raise this


def _dtype_name(dtype: torch.dtype) -> str:
    return {torch.float32: "float32", torch.float64: "float64"}[dtype]


# Errors a forward pass commonly raises, and what they usually mean.
_FORWARD_ERROR_HINTS = (
    (
        "mat1 and mat2 shapes cannot be multiplied",
        "the flattened features do not fit the first fully connected layer: check the padding "
        "of the convolutions, the pooling stages and (for the ImageNet models) the adaptive "
        "average pooling before the classifier.",
    ),
    (
        "must have same reduction dim",
        "the flattened features do not fit the first fully connected layer: check the padding "
        "of the convolutions, the pooling stages and (for the ImageNet models) the adaptive "
        "average pooling before the classifier.",
    ),
    (
        "Sizes of tensors must match except in dimension 1",
        "the branches of an inception module must keep H and W to be concatenated: padding 1 "
        "for the 3x3 convolutions and for the 3x3 max pool (stride 1).",
    ),
    (
        "must match the size of tensor b",
        "F(x) and the shortcut have different shapes. When the stride or the number of "
        "channels changes, the shortcut is a projection: a 1x1 conv with the block's stride, "
        "followed by batch norm.",
    ),
    (
        "Output size is too small",
        "the feature map shrank to nothing: is there a pooling stage too many, or a "
        "convolution without padding?",
    ),
)


def _failure(report: dict, what: str, spec: _Spec) -> CaseFailure | None:
    """The diagnosis of a measurement that went wrong (None when nothing did)."""
    error = report.get("error")
    if error is not None:
        kind, message = error["type"], error["message"]
        if kind == "NotImplementedError" or error["stage"] == "build":
            return raised(error, what)
        size = spec.trace if error["stage"] == "trace" else spec.functional
        body = f"{what}'s forward raised {kind} on an input of shape {tuple(size)}: {message}"
        for pattern, hint in _FORWARD_ERROR_HINTS:
            if pattern in message:
                body += f"\n  Hint: {hint}"
                break
        return CaseFailure(body)
    if not report.get("module", True):
        return CaseFailure(
            f"{what} must give a torch.nn.Module; it gave a {report['type']}. "
            "Subclass nn.Module and call super().__init__() first in __init__."
        )
    if "output_type" in report:
        return CaseFailure(
            f"{what}'s forward must return a tensor of scores; it returned a "
            f"{report['output_type']}."
        )
    return None


def _shape_difference(got: Sequence, expected: Sequence) -> str:
    """Which parameter shapes the two models do not share, at most four of each."""
    mine = collections.Counter(tuple(shape) for shape in got)
    theirs = collections.Counter(tuple(shape) for shape in expected)

    def listing(counter) -> str:
        items = [f"{n} x {s}" if n > 1 else str(s) for s, n in list(counter.items())[:4]]
        return ", ".join(items) + (" ..." if len(counter) > 4 else "")

    lines = []
    if theirs - mine:
        lines.append(f"  parameter shapes missing from yours: {listing(theirs - mine)}")
    if mine - theirs:
        lines.append(f"  parameter shapes the reference does not have: {listing(mine - theirs)}")
    return "\n".join(lines)


def _compare_trace(got: list, expected: list, what: str) -> None:
    if got == expected or sorted(got) == sorted(expected):
        return
    convs_got = [c for c in got if c[0] == "Conv2d"]
    convs_expected = [c for c in expected if c[0] == "Conv2d"]
    body = (
        f"{what} runs {len(got)} conv/linear layers, expected {len(expected)}."
        if len(got) != len(expected)
        else f"the layer-by-layer output shapes of {what} differ from the reference."
    )
    for index, (mine, theirs) in enumerate(zip(got, expected)):
        if mine != theirs:
            body += (
                f"\n  layer {index + 1} ({mine[0]}) outputs {mine[1]}, expected {theirs[0]} "
                f"with output {theirs[1]}."
            )
            break
    for mine, theirs in zip(convs_got, convs_expected):
        if mine == theirs:
            continue
        (_, a), (_, b) = mine, theirs
        if len(a) == len(b) == 4 and a[1] == b[1]:
            if a[2] >= 2 * b[2] and a[3] >= 2 * b[3]:
                body += (
                    f"\n  Hint: a pooling stage is missing: a conv with {a[1]} output channels "
                    f"sees a {a[2]}x{a[3]} map where the reference's sees {b[2]}x{b[3]}."
                )
            elif a[2] == b[2] - 1 and a[3] == b[3] - 1:
                body += (
                    "\n  Hint: your maps are one pixel smaller: a 3x3 max pool with stride 2 "
                    "must round up here (nn.MaxPool2d(3, stride=2, ceil_mode=True)), or a "
                    "convolution lacks its padding."
                )
            elif a[2] * 2 <= b[2] and a[3] * 2 <= b[3]:
                body += (
                    f"\n  Hint: your maps shrink too early (or once too often): a conv with "
                    f"{a[1]} output channels gives {a[2]}x{a[3]} where the reference's gives "
                    f"{b[2]}x{b[3]}. Check where each stride and pooling stage goes."
                )
        break
    raise CaseFailure(body)


def _outputs_match(got: np.ndarray, expected: np.ndarray) -> bool:
    if got.shape != expected.shape or not np.isfinite(got).all():
        return False
    scale = max(1.0, float(np.abs(expected).max(initial=0.0)))
    return bool(np.all(np.abs(got - expected) <= OUTPUT_RTOL * scale))


def _check_models(
    name: str,
    cases: str,
    public: Callable[[], list[_Spec]],
    hidden: Callable[[np.random.Generator], list[_Spec]],
    student: Callable,
    reference: Callable,
    count_mistakes: Sequence[Mistake] = (),
    output_mistakes: Sequence[Mistake] = (),
    hint_on_wrong_output: str = "",
    student_call: Callable[[tuple, dict], tuple[Callable, tuple, dict]] | None = None,
) -> CheckResult:
    """The engine of every model check; see the module docstring for what it compares.

    ``student`` and ``reference`` are factories called with a case's arguments; when the
    student's factory needs other arguments than the case's (the student's own block classes,
    say), ``student_call(args, kwargs)`` gives (factory, args, kwargs) instead. The student's
    model is measured by ``autograder.measure.model`` where the student's code runs (in the
    kernel under the sandbox), the reference's by the same measurement here. A count
    Mistake's ``predict(*args, **kwargs)`` gives the parameter count of its mistake; an
    output Mistake's ``predict(spec)`` gives the output (a float64 ndarray) it computes on the
    case's functional input.
    """
    specs = public() if cases == "public" else None
    if student_call is None:

        def student_call(args, kwargs):
            return student, args, kwargs

    def hidden_cases(rng):
        nonlocal specs
        specs = hidden(rng)
        return [Case(s.name, s.args, s.kwargs) for s in specs]

    chosen = select_cases(
        cases, lambda: [Case(s.name, s.args, s.kwargs) for s in specs], hidden_cases, name
    )
    by_name = {s.name: s for s in specs}

    def evaluate(case: Case) -> float | None:
        spec = by_name[case.name]
        args, kwargs = case.fresh()
        factory, student_args, student_kwargs = student_call(tuple(args), dict(kwargs))
        if spec.raises is not None:
            report = measure("model", factory, list(student_args), student_kwargs)
            error = report.get("error")
            if error is not None and error["stage"] == "build":
                if spec.raises.__name__ in error["types"]:
                    return None
                raise _failure(report, name, spec)
            raise CaseFailure(
                f"{name} accepted these arguments; it must raise {spec.raises.__name__} "
                "with a message that lists the valid choices."
            )
        options = {"trace": spec.trace, "functional": spec.functional}
        options["dtype"] = _dtype_name(spec.dtype)
        mine = measure("model", factory, list(student_args), student_kwargs, **options)
        if mine.get("error", {}).get("stage") == "build" or not mine.get("module", True):
            raise _failure(mine, name, spec)
        theirs = measure("model", reference, list(args), kwargs, **options)
        if "error" in theirs or "output_type" in theirs:
            raise RuntimeError(f"the reference model failed its own measurement: {theirs}")
        got, expected = int(mine["count"]), int(theirs["count"])
        if got != expected:
            body = f"the model has {got:,} parameters, expected {expected:,}"
            if spec.published is not None:
                body += f" ({spec.published[1]})"
            body += f"; the difference is {got - expected:+,}.\n"
            body += _shape_difference(mine["shapes"], theirs["shapes"])
            hint = diagnose(count_mistakes, case, got)
            raise CaseFailure(body + (f"\n  Hint: {hint}" if hint else ""))
        failure = _failure(mine, name, spec)
        if spec.trace is not None:
            if failure is not None and "trace" not in mine:
                raise failure
            calls = [(str(kind), tuple(shape)) for kind, shape in mine["trace"]]
            wanted = [(str(kind), tuple(shape)) for kind, shape in theirs["trace"]]
            _compare_trace(calls, wanted, name)
            if tuple(mine["trace_output"]) != tuple(theirs["trace_output"]):
                raise CaseFailure(
                    f"the output has shape {tuple(mine['trace_output'])}, expected "
                    f"{tuple(theirs['trace_output'])} for an input {spec.trace}."
                )
        borrowed.update(_borrowed(mine))
        if spec.functional is None:
            return None
        if failure is not None:
            raise failure
        expected_out = np.asarray(theirs["output"], dtype=np.float64)
        got_out = mine.get("output")
        if type(got_out) is not np.ndarray:
            raise CaseFailure(f"{name}'s forward gave no array of scores.")
        got_out = got_out.astype(np.float64, copy=False)
        if got_out.shape != expected_out.shape:
            raise CaseFailure(
                f"the output has shape {got_out.shape}, expected {expected_out.shape} for an "
                f"input {spec.functional}."
            )
        if not _outputs_match(got_out, expected_out):
            diff = np.abs(got_out - expected_out)
            where = np.unravel_index(int(np.argmax(diff)), diff.shape)
            body = (
                f"with the same weights as the reference (in eval mode, input {spec.functional}) "
                f"the output differs: largest error {diff[where]:.3g} at out"
                f"[{', '.join(str(int(i)) for i in where)}] (expected {expected_out[where]:.6g}, "
                f"got {got_out[where]:.6g}). The layers have the right shapes, so the "
                "difference is in what connects them: the order of the operations, the "
                "activations, the pooling kind, or how branches are combined."
            )
            hint = diagnose(output_mistakes, Case(spec.name, (spec,)), got_out)
            if hint:
                body += f"\n  Hint: {hint}"
            elif hint_on_wrong_output:
                body += f"\n  {hint_on_wrong_output}"
            raise CaseFailure(body)
        scale = max(1.0, float(np.abs(expected_out).max(initial=0.0)))
        return float(np.abs(got_out - expected_out).max(initial=0.0) / scale)

    # A model built from the course's own reference classes (subclassed or assigned) would
    # pass every comparison without the student writing it. It is judged after the cases, so
    # that a wrong model still gets the diagnosis of its mistake.
    borrowed: set[str] = set()

    def refuse_borrowed() -> str | None:
        if not borrowed:
            return None
        return (
            f"it is built from the course's reference code ({', '.join(sorted(borrowed))}), "
            "so it earns no credit. Write the model yourself from torch.nn layers (nn.Conv2d, "
            "nn.Linear, ...), as the exercise asks."
        )

    return run_check(name, chosen, evaluate, kind=cases, after=refuse_borrowed)


def _borrowed(report: dict) -> set[str]:
    """The course's own modules among those that define the model's classes."""
    return {
        m for m in report.get("modules", []) if m == "course_utils" or m.startswith("course_utils.")
    }


def _variant_output(build: Callable[..., nn.Module]):
    """A Mistake.predict(spec): the output of ``build(*spec.args, **spec.kwargs)`` with the
    canonical weights, on the spec's functional input."""

    def predict(spec: _Spec):
        if spec.functional is None:
            raise NotApplicable
        with torch.device("meta"):
            model = build(*spec.args, **spec.kwargs)
        model = canonical_(model, spec.dtype)
        with torch.no_grad():
            return model(model_input(spec.functional, spec.dtype)).double().numpy()

    return predict


# --- count_parameters -----------------------------------------------------------------------


# Each case is a model recipe (``autograder.measure.build_recipe``): plain data, so that the
# student's function gets the model where it runs, and the reference here the same model.
def _count_cases() -> list[Case]:
    return [
        Case("nn.Linear(3, 4): 3 * 4 + 4 = 16", (["linear", 3, 4],)),
        Case("nn.Conv2d(3, 6, 5): 6 * 5 * 5 * 3 + 6 = 456", (["conv2d", 3, 6, 5],)),
        Case("LeNet-5 (61,706)", (["lenet5"],)),
        Case(
            "conv (no bias) + batch norm: 36 + 8 (running statistics are buffers)",
            (["sequential", [["conv2d", 1, 4, 3, False], ["batchnorm2d", 4]]],),
        ),
        Case("a layer used twice is counted once", (["shared", ["linear", 4, 4]],)),
        Case(
            "frozen parameters count too",
            (["freeze", 0, ["sequential", [["linear", 3, 3], ["relu"], ["linear", 3, 2]]]],),
        ),
        Case("no parameters at all: nn.ReLU()", (["relu"],)),
    ]


def _hidden_count_cases(rng: np.random.Generator) -> list[Case]:
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
        cases.append(Case(name, (recipe,)))
    return cases


@check
def check_count_parameters(count_parameters: Callable, cases: str = "public") -> CheckResult:
    """Check ``count_parameters(model) -> int``: every parameter once, frozen ones included."""
    name = "count_parameters"
    mistakes = [
        Mistake(
            "you counted the buffers too (batch norm's running mean and variance and its "
            "num_batches_tracked): they are state, not parameters. Use model.parameters().",
            lambda model: sum(t.numel() for t in model.state_dict().values()),
        ),
        Mistake(
            "you counted only the trainable parameters (requires_grad); frozen parameters are "
            "parameters too.",
            lambda model: sum(p.numel() for p in model.parameters() if p.requires_grad),
        ),
        Mistake(
            "you counted parameter tensors, not the numbers in them: add up p.numel().",
            lambda model: len(list(model.parameters())),
        ),
        Mistake(
            "a layer used twice shares its parameters: count each tensor once "
            "(model.parameters() already does).",
            lambda model: sum(p.numel() for _, p in model.named_parameters(remove_duplicate=False)),
        ),
        Mistake(
            "you counted only the weights: the biases are parameters too.",
            lambda model: sum(p.numel() for p in model.parameters() if p.dim() > 1),
        ),
    ]

    def evaluate(listed: Case) -> None:
        recipe = by_name[listed.name].fresh()[0][0]
        report = measure("call_on_recipe", count_parameters, recipe)
        if "error" in report:
            raise raised(report["error"], name, "this model")
        if "value" not in report:
            raise CaseFailure(
                f"{name} must return the result as an int; it returned a {report['value_type']}."
            )
        got = as_int(report["value"], name)
        expected = ref.count_parameters(build_recipe(recipe))
        if got != expected:
            case = Case(listed.name, (build_recipe(recipe),))
            hint = diagnose(mistakes, case, got)
            raise CaseFailure(
                f"returned {got:,}, expected {expected:,}." + (f"\n  Hint: {hint}" if hint else "")
            )

    chosen = select_cases(cases, _count_cases, _hidden_count_cases, name)
    by_name = {case.name: case for case in chosen}
    # The case names describe the models; a model printed as an "input" would say nothing.
    listed = [Case(case.name, kind=case.kind) for case in chosen]
    return run_check(name, listed, evaluate, kind=cases)


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


def _lenet_public() -> list[_Spec]:
    return [
        _Spec("LeNet5() on 28x28", (), {}, (61_706, "conv1 alone: 6*5*5+6 = 156"), (1, 1, 28, 28)),
        _Spec("LeNet5(), same weights as the reference", (), {}, functional=(3, 1, 28, 28)),
        _Spec("LeNet5(num_classes=5, in_channels=3)", (), {"num_classes": 5, "in_channels": 3},
              trace=(2, 3, 28, 28), functional=(2, 3, 28, 28)),
    ]  # fmt: skip


def _lenet_hidden(rng: np.random.Generator) -> list[_Spec]:
    classes, channels = int(rng.integers(2, 20)), int(rng.integers(1, 5))
    return [
        _Spec(
            f"hidden: LeNet5(num_classes={classes}, in_channels={channels})",
            (),
            {"num_classes": classes, "in_channels": channels},
            trace=(1, channels, 28, 28),
            functional=(2, channels, 28, 28),
        )
    ]


@check
def check_lenet5(LeNet5: type, cases: str = "public") -> CheckResult:  # noqa: N803
    """Check ``LeNet5(num_classes=10, in_channels=1)``: 28x28 inputs, conv1 padded by 2."""
    mistakes = [
        Mistake(
            "you used tanh; this course's LeNet-5 uses ReLU after every conv and hidden fc.",
            _variant_output(_LeNet5Tanh),
        ),
        Mistake(
            "you used average pooling; this course's LeNet-5 max-pools (2x2, stride 2).",
            _variant_output(_LeNet5AvgPool),
        ),
        Mistake(
            "the last layer returns raw scores: no ReLU after fc3 (cross-entropy applies the "
            "softmax).",
            _variant_output(_LeNet5ReluAtTheEnd),
        ),
    ]
    return _check_models(
        "LeNet5",
        cases,
        _lenet_public,
        _lenet_hidden,
        LeNet5,
        ref.LeNet5,
        output_mistakes=mistakes,
    )


# --- AlexNet ------------------------------------------------------------------------------------


def _alexnet_count(channels: Sequence[int], num_classes: int) -> int:
    """Parameters of a one-tower AlexNet with these five conv widths (kernels 11, 5, 3, 3, 3)."""
    kernels, total, previous = (11, 5, 3, 3, 3), 0, 3
    for c, k in zip(channels, kernels):
        total += c * previous * k * k + c
        previous = c
    features = previous * 6 * 6
    return total + features * 4096 + 4096 + 4096 * 4096 + 4096 + 4096 * num_classes + num_classes


def _alexnet_public() -> list[_Spec]:
    return [
        _Spec("AlexNet() at 224x224", (), {}, (61_100_840, "torchvision's alexnet"),
              trace=(1, 3, 224, 224)),
        _Spec("AlexNet() at its smallest input, 63x63", (), {}, trace=(1, 3, 63, 63)),
        _Spec("AlexNet(num_classes=10), same weights as the reference, 64x64",
              (), {"num_classes": 10}, functional=(2, 3, 64, 64), dtype=torch.float32),
    ]  # fmt: skip


def _alexnet_hidden(rng: np.random.Generator) -> list[_Spec]:
    classes, side = int(rng.integers(2, 50)), int(rng.integers(63, 100))
    return [
        _Spec(f"hidden: AlexNet(num_classes={classes}) at {side}x{side}", (),
              {"num_classes": classes}, trace=(1, 3, side, side)),
        _Spec(f"hidden: AlexNet(num_classes={classes}), same weights, {side}x{side}", (),
              {"num_classes": classes}, functional=(1, 3, side, side), dtype=torch.float32),
    ]  # fmt: skip


@check
def check_alexnet(AlexNet: type, cases: str = "public") -> CheckResult:  # noqa: N803
    """Check ``AlexNet(num_classes=1000)``, torchvision's variant (61,100,840 parameters)."""
    count_mistakes = [
        Mistake(
            "that is the lecture's 62.3M: the paper's widths 96, 256, 384, 384, 256 in one tower. "
            "Build torchvision's variant, with 64, 192, 384, 256, 256 channels.",
            lambda num_classes=1000: _alexnet_count((96, 256, 384, 384, 256), num_classes),
        ),
    ]
    return _check_models(
        "AlexNet",
        cases,
        _alexnet_public,
        _alexnet_hidden,
        AlexNet,
        ref.AlexNet,
        count_mistakes=count_mistakes,
    )


# --- VGG ----------------------------------------------------------------------------------------

_VGG_FIGURES = {
    "A": (132_863_336, "torchvision's vgg11"),
    "B": (133_047_848, "torchvision's vgg13"),
    "C": (133_638_952, "configuration B plus three 1x1 convs"),
    "D": (138_357_544, "VGG-16, torchvision's vgg16"),
    "E": (143_667_240, "VGG-19, torchvision's vgg19"),
}


def _vgg_public() -> list[_Spec]:
    specs = [
        _Spec(f'VGG(config="{c}")', (), {"config": c}, published=_VGG_FIGURES[c]) for c in "ABCDE"
    ]
    specs += [
        _Spec("VGG() is configuration D", (), {}, published=_VGG_FIGURES["D"]),
        _Spec('VGG(config="D", batch_norm=True)', (), {"config": "D", "batch_norm": True},
              published=(138_365_992, "torchvision's vgg16_bn")),
        _Spec('VGG(config="D") at 224x224', (), {"config": "D"}, trace=(1, 3, 224, 224)),
        _Spec('VGG(config="C", num_classes=10) at 32x32', (), {"config": "C", "num_classes": 10},
              trace=(1, 3, 32, 32)),
        _Spec('VGG(config="A", batch_norm=True, num_classes=10), same weights, 32x32', (),
              {"config": "A", "batch_norm": True, "num_classes": 10},
              functional=(2, 3, 32, 32), dtype=torch.float32),
        _Spec('an unknown configuration: VGG(config="F")', (), {"config": "F"}, raises=ValueError),
    ]  # fmt: skip
    return specs


def _vgg_hidden(rng: np.random.Generator) -> list[_Spec]:
    config = str(rng.choice(list("ABCDE")))
    classes, side = int(rng.integers(2, 50)), int(rng.integers(32, 80))
    kwargs = {"config": config, "num_classes": classes, "batch_norm": bool(rng.integers(0, 2))}
    return [
        _Spec(f"hidden: VGG(**{kwargs}) at {side}x{side}", (), kwargs, trace=(1, 3, side, side)),
        _Spec(
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
        with torch.device("meta"):
            return _count(ref.VGG(wrong, num_classes, batch_norm))

    return predict


@check
def check_vgg(VGG: type, cases: str = "public") -> CheckResult:  # noqa: N803
    """Check ``VGG(config="D", num_classes=1000, batch_norm=False)``, configurations A to E."""
    count_mistakes = [
        Mistake(
            "configuration C ends stages 3, 4 and 5 with a 1x1 conv; you built D's 3x3 there.",
            lambda config="D", num_classes=1000, batch_norm=False: (
                _vgg_other_config("D")(config, num_classes, batch_norm)
                if config == "C"
                else _raise_not_applicable()
            ),
        ),
        *[
            Mistake(
                f"your model has the parameters of configuration {c}: look up the requested "
                "column of the paper's Table 1 (VGG_CONFIGS).",
                _vgg_other_config(c),
            )
            for c in "ABCDE"
        ],
        Mistake(
            "with batch_norm=True every conv is followed by nn.BatchNorm2d (2 parameters per "
            "channel) before its ReLU.",
            lambda config="D", num_classes=1000, batch_norm=False: (
                _ref_count(ref.VGG)(config, num_classes, False)
                if batch_norm
                else _raise_not_applicable()
            ),
        ),
    ]
    return _check_models(
        "VGG", cases, _vgg_public, _vgg_hidden, VGG, ref.VGG, count_mistakes=count_mistakes
    )


def _raise_not_applicable():
    raise NotApplicable


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


def _inception_public() -> list[_Spec]:
    return [
        _Spec("inception 3a: InceptionModule(192, 64, 96, 128, 16, 32, 32)",
              (192, 64, 96, 128, 16, 32, 32), published=(155_872, "torchvision's inception3a"),
              trace=(2, 192, 28, 28)),
        _Spec("InceptionModule(8, 4, 3, 5, 2, 6, 7), same weights, 6x6",
              (8, 4, 3, 5, 2, 6, 7), functional=(2, 8, 6, 6)),
        _Spec("InceptionModule(5, 3, 4, 2, 6, 5, 1), same weights, non-square 7x5",
              (5, 3, 4, 2, 6, 5, 1), functional=(1, 5, 7, 5)),
    ]  # fmt: skip


def _inception_hidden(rng: np.random.Generator) -> list[_Spec]:
    specs = []
    for i in range(2):
        channels = tuple(int(v) for v in rng.choice(np.arange(1, 17), size=7, replace=False))
        h, w = (int(v) for v in rng.integers(3, 10, size=2))
        specs.append(
            _Spec(
                f"hidden {i + 1}: InceptionModule{channels}, {h}x{w}",
                channels,
                functional=(2, channels[0], h, w),
            )
        )
    return specs


def _inception_extra_count(kind: str):
    """Counts of inception modules with a known mistake, per module args."""

    def per_module(i, c1, r3, c3, r5, c5, pool):
        convs = (c1, r3, c3, r5, c5, pool)
        if kind == "5x5":
            return 16 * r5 * c5
        if kind == "bias":
            return sum(convs)
        if kind == "no_bn":
            return -2 * sum(convs)
        raise AssertionError(kind)

    return per_module


def _inception_count_mistakes(modules: Callable[..., list[tuple]], base: Callable[..., int]):
    hints = {
        "5x5": 'your "5x5" branch has a 5x5 kernel. This course follows torchvision, whose '
        '"5x5" branch uses a 3x3 conv (padding 1); the 5x5 of the paper costs 16 * ch5x5red '
        "* ch5x5 more weights per module.",
        "bias": "a conv followed by batch norm needs no bias (the norm's beta replaces it): "
        "use bias=False.",
        "no_bn": "every conv is conv -> BatchNorm2d(eps=0.001) -> ReLU (torchvision's "
        "BasicConv2d); yours lack the batch norm.",
    }
    mistakes = []
    for kind, hint in hints.items():
        extra = _inception_extra_count(kind)

        def predict(*args, extra=extra, **kwargs):
            return base(*args, **kwargs) + sum(extra(*m) for m in modules(*args, **kwargs))

        mistakes.append(Mistake(hint, predict))
    return mistakes


def _ref_count(factory):
    def count(*args, **kwargs):
        with torch.device("meta"):
            return _count(factory(*args, **kwargs))

    return count


@check
def check_inception_module(InceptionModule: type, cases: str = "public") -> CheckResult:  # noqa: N803
    """Check ``InceptionModule(in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj)``."""

    def permuted(order):
        def predict(spec: _Spec):
            if spec.functional is None:
                raise NotApplicable
            branches = _inception_branches(*spec.args, dtype=spec.dtype, size=spec.functional)
            return np.concatenate([branches[i] for i in order], axis=1)

        return predict

    output_mistakes = [
        Mistake(
            "your branches are concatenated in the order "
            + ", ".join(_INCEPTION_ORDER[i] for i in order)
            + "; the order is 1x1, 3x3, 5x5, pool (torch.cat along dim 1).",
            permuted(order),
        )
        for order in itertools.permutations(range(4))
        if order != (0, 1, 2, 3)
    ]
    return _check_models(
        "InceptionModule",
        cases,
        _inception_public,
        _inception_hidden,
        InceptionModule,
        ref.InceptionModule,
        count_mistakes=_inception_count_mistakes(
            lambda *args: [args], _ref_count(ref.InceptionModule)
        ),
        output_mistakes=output_mistakes,
    )


def _googlenet_public() -> list[_Spec]:
    return [
        _Spec("GoogLeNet() at 224x224", (), {}, (6_624_904, "torchvision's googlenet, no aux"),
              trace=(1, 3, 224, 224)),
        _Spec("GoogLeNet(aux_logits=True)", (), {"aux_logits": True},
              (13_004_888, "torchvision's googlenet with its two auxiliary classifiers")),
        _Spec("GoogLeNet(num_classes=10) at 32x32", (), {"num_classes": 10},
              trace=(1, 3, 32, 32)),
        _Spec("GoogLeNet(num_classes=10), same weights, 32x32", (), {"num_classes": 10},
              functional=(2, 3, 32, 32)),
    ]  # fmt: skip


def _googlenet_hidden(rng: np.random.Generator) -> list[_Spec]:
    classes, side = int(rng.integers(2, 50)), int(rng.integers(32, 96))
    return [
        _Spec(f"hidden: GoogLeNet(num_classes={classes}) at {side}x{side}", (),
              {"num_classes": classes}, trace=(1, 3, side, side)),
        _Spec(f"hidden: GoogLeNet(num_classes={classes}), same weights", (),
              {"num_classes": classes}, functional=(1, 3, 32, 32)),
    ]  # fmt: skip


@check
def check_googlenet(GoogLeNet: type, cases: str = "public") -> CheckResult:  # noqa: N803
    """Check ``GoogLeNet(num_classes=1000, aux_logits=False)`` (6,624,904 parameters)."""

    def modules(num_classes=1000, aux_logits=False):
        return list(ref.GOOGLENET_INCEPTIONS.values())

    def stem_extra_bias(num_classes=1000, aux_logits=False):
        return 64 + 64 + 192 + (256 if aux_logits else 0)

    count_mistakes = _inception_count_mistakes(modules, _ref_count(ref.GoogLeNet))
    bias_mistake = count_mistakes[1]
    count_mistakes[1] = Mistake(
        bias_mistake.hint,
        lambda *a, **k: bias_mistake.predict(*a, **k) + stem_extra_bias(*a, **k),
    )
    return _check_models(
        "GoogLeNet",
        cases,
        _googlenet_public,
        _googlenet_hidden,
        GoogLeNet,
        ref.GoogLeNet,
        count_mistakes=count_mistakes,
        hint_on_wrong_output=(
            "Run check_inception_module first; if it passes, compare the stem and the max "
            "pools between the stages (3x3, stride 2, ceil_mode=True; 2x2 before 5a)."
        ),
    )


# --- ResNet blocks ----------------------------------------------------------------------------


def _block_public(expansion: int) -> list[_Spec]:
    c = 16 // expansion  # 16 output channels at stride 1
    entry = 128 * expansion  # the input of stage 4's first block in ResNet-18 / ResNet-50
    return [
        _Spec(f"identity shortcut: (16, {c}, stride=1)", (16, c, 1),
              trace=(2, 16, 8, 8), functional=(2, 16, 8, 8)),
        _Spec(f"projection, stride 2: (16, {2 * c}, stride=2)", (16, 2 * c, 2),
              trace=(2, 16, 8, 8), functional=(2, 16, 8, 8)),
        _Spec(f"projection, channels change at stride 1: (8, {c}, stride=1)", (8, c, 1),
              trace=(1, 8, 6, 7), functional=(1, 8, 6, 7)),
        _Spec(f"stage 4's first block: ({entry}, 256, stride=2) at 14x14", (entry, 256, 2),
              trace=(1, entry, 14, 14)),
    ]  # fmt: skip


def _block_hidden(expansion: int):
    def draw(rng: np.random.Generator) -> list[_Spec]:
        specs = []
        for i in range(3):
            channels = int(rng.integers(1, 9))
            stride = int(rng.integers(1, 3))
            c_in = channels * expansion if i == 0 else int(rng.integers(1, 17))
            stride = 1 if i == 0 else stride
            h, w = (int(v) for v in rng.integers(4, 11, size=2))
            specs.append(
                _Spec(
                    f"hidden {i + 1}: ({c_in}, {channels}, stride={stride}) on {h}x{w}",
                    (c_in, channels, stride),
                    trace=(2, c_in, h, w),
                    functional=(2, c_in, h, w),
                )
            )
        return specs

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


def _block_mistakes(block_class: type):
    def no_projection(c_in, channels, stride=1):
        with torch.device("meta"):
            block = block_class(c_in, channels, stride)
        if isinstance(block.shortcut, nn.Identity):
            raise NotApplicable
        return _count(block) - _count(block.shortcut)

    def no_projection_bn(c_in, channels, stride=1):
        with torch.device("meta"):
            block = block_class(c_in, channels, stride)
        if isinstance(block.shortcut, nn.Identity):
            raise NotApplicable
        return _count(block) - 2 * channels * block_class.expansion

    def with_biases(c_in, channels, stride=1):
        with torch.device("meta"):
            block = block_class(c_in, channels, stride)
        return _count(block) + sum(
            m.out_channels for m in block.modules() if isinstance(m, nn.Conv2d)
        )

    count_mistakes = [
        Mistake(
            "your block has no projection shortcut: when the stride or the number of channels "
            "changes, x cannot be added as it is; the shortcut must be a 1x1 conv (with the "
            "block's stride, no bias) followed by batch norm.",
            no_projection,
        ),
        Mistake(
            "your projection shortcut lacks its batch norm: 1x1 conv (stride, no bias) -> "
            "BatchNorm2d.",
            no_projection_bn,
        ),
        Mistake(
            "your convs have biases; a conv followed by batch norm needs none (bias=False).",
            with_biases,
        ),
    ]
    output_mistakes = [
        Mistake(
            "the ReLU comes before the addition in your block; it must come after: "
            "out = relu(F(x) + shortcut(x)), with F ending in batch norm.",
            _variant_output(lambda *a: _ReluBeforeAdd(block_class(*a), True)),
        ),
        Mistake(
            "the ReLU comes before the addition in your block; it must come after: "
            "out = relu(F(x) + shortcut(x)), with F ending in batch norm.",
            _variant_output(lambda *a: _ReluBeforeAdd(block_class(*a), False)),
        ),
        Mistake(
            "the block ends without its ReLU: out = relu(F(x) + shortcut(x)).",
            _variant_output(lambda *a: _NoFinalRelu(block_class(*a), False)),
        ),
    ]
    if block_class is ref.Bottleneck:
        output_mistakes.append(
            Mistake(
                "your stride sits on the first 1x1 conv, as in the paper; this course follows "
                "torchvision (ResNet v1.5) and puts it on the 3x3 conv.",
                _variant_output(_moved_stride(block_class, "conv1")),
            )
        )
    else:
        output_mistakes.append(
            Mistake(
                "your stride sits on the second conv; it belongs on the first 3x3 conv.",
                _variant_output(_moved_stride(block_class, "conv2")),
            )
        )
    return count_mistakes, output_mistakes


def _check_block(name, impl, cases, block_class, expansion) -> CheckResult:
    got = getattr(impl, "expansion", None)
    if got != expansion:
        raise AssertionError(
            f"{name}: the class attribute {name}.expansion must be {expansion} (output channels "
            f"= expansion * channels; ResNet reads it to size the next stage); it is {got!r}."
        )
    count_mistakes, output_mistakes = _block_mistakes(block_class)
    return _check_models(
        name,
        cases,
        lambda: _block_public(expansion),
        _block_hidden(expansion),
        impl,
        block_class,
        count_mistakes,
        output_mistakes,
    )


@check
def check_basic_block(BasicBlock: type, cases: str = "public") -> CheckResult:  # noqa: N803
    """Check ``BasicBlock(in_channels, channels, stride=1)``, ``expansion = 1``."""
    return _check_block("BasicBlock", BasicBlock, cases, ref.BasicBlock, 1)


@check
def check_bottleneck(Bottleneck: type, cases: str = "public") -> CheckResult:  # noqa: N803
    """Check ``Bottleneck(in_channels, channels, stride=1)``, ``expansion = 4``."""
    return _check_block("Bottleneck", Bottleneck, cases, ref.Bottleneck, 4)


# --- ResNet -------------------------------------------------------------------------------------

_RESNET_FIGURES = {
    ("BasicBlock", (2, 2, 2, 2)): (11_689_512, "ResNet-18, torchvision's resnet18"),
    ("BasicBlock", (3, 4, 6, 3)): (21_797_672, "ResNet-34, torchvision's resnet34"),
    ("Bottleneck", (3, 4, 6, 3)): (25_557_032, "ResNet-50, torchvision's resnet50"),
}


def _resnet_public() -> list[_Spec]:
    specs = [
        _Spec(f"ResNet({block}, {list(layers)})", (block, list(layers)), {}, figure)
        for (block, layers), figure in _RESNET_FIGURES.items()
    ]
    specs += [
        _Spec("ResNet(Bottleneck, [3, 4, 6, 3]) at 224x224", ("Bottleneck", [3, 4, 6, 3]),
              trace=(1, 3, 224, 224)),
        _Spec("ResNet(BasicBlock, [2, 2, 2, 2], num_classes=10) at 32x32",
              ("BasicBlock", [2, 2, 2, 2]), {"num_classes": 10}, trace=(1, 3, 32, 32)),
        _Spec("ResNet(BasicBlock, [1, 1, 1, 1], num_classes=10), same weights, 32x32",
              ("BasicBlock", [1, 1, 1, 1]), {"num_classes": 10}, functional=(2, 3, 32, 32)),
        _Spec("ResNet(Bottleneck, [1, 1, 1, 1], num_classes=7), same weights, 32x32",
              ("Bottleneck", [1, 1, 1, 1]), {"num_classes": 7}, functional=(1, 3, 32, 32)),
    ]  # fmt: skip
    return specs


def _resnet_hidden(rng: np.random.Generator) -> list[_Spec]:
    block = str(rng.choice(["BasicBlock", "Bottleneck"]))
    layers = [int(v) for v in rng.integers(1, 3, size=4)]
    classes, side = int(rng.integers(2, 50)), int(rng.integers(32, 96))
    return [
        _Spec(f"hidden: ResNet({block}, {layers}, num_classes={classes}) at {side}x{side}",
              (block, layers), {"num_classes": classes}, trace=(1, 3, side, side)),
        _Spec(f"hidden: ResNet({block}, [1, 1, 1, 1], num_classes={classes}), same weights",
              (block, [1, 1, 1, 1]), {"num_classes": classes}, functional=(1, 3, 32, 32)),
    ]  # fmt: skip


@check
def check_resnet(
    ResNet: type,  # noqa: N803
    BasicBlock: type,  # noqa: N803
    Bottleneck: type,  # noqa: N803
    cases: str = "public",
) -> CheckResult:
    """Check ``ResNet(block, layers, num_classes=1000)`` built with the student's own blocks."""
    students = {"BasicBlock": BasicBlock, "Bottleneck": Bottleneck}
    references = {"BasicBlock": ref.BasicBlock, "Bottleneck": ref.Bottleneck}

    def student_call(args, kwargs):
        block, layers = args
        return ResNet, (students[block], layers), kwargs

    def reference(block, layers, **kwargs):
        return ref.ResNet(references[block], layers, **kwargs)

    return _check_models(
        "ResNet",
        cases,
        _resnet_public,
        _resnet_hidden,
        ResNet,
        reference,
        student_call=student_call,
        hint_on_wrong_output=(
            "Run check_basic_block and check_bottleneck first; if they pass, compare the stem "
            "(7x7/2 conv, BN, ReLU, 3x3/2 max pool with padding 1) and the strides of the "
            "stages (1, 2, 2, 2, on the first block of each)."
        ),
    )


@check
def check_resnet_builders(
    resnet18: Callable,
    resnet34: Callable,
    resnet50: Callable,
    cases: str = "public",
) -> CheckResult:
    """Check ``resnet18/34/50(num_classes=1000)``: the published counts, and num_classes."""
    builders = {"resnet18": resnet18, "resnet34": resnet34, "resnet50": resnet50}
    figures = dict(zip(builders, _RESNET_FIGURES.values()))
    references = {"resnet18": ref.resnet18, "resnet34": ref.resnet34, "resnet50": ref.resnet50}

    def public():
        specs = [_Spec(f"{n}()", (n,), {}, figures[n]) for n in builders]
        specs += [
            _Spec(f"{n}(num_classes=10) at 32x32", (n,), {"num_classes": 10}, trace=(1, 3, 32, 32))
            for n in builders
        ]
        return specs

    def hidden(rng):
        classes = int(rng.integers(2, 100))
        return [
            _Spec(f"hidden: {n}(num_classes={classes})", (n,), {"num_classes": classes})
            for n in builders
        ]

    return _check_models(
        "resnet18/34/50",
        cases,
        public,
        hidden,
        builders,
        lambda which, **kwargs: references[which](**kwargs),
        student_call=lambda args, kwargs: (builders[args[0]], (), kwargs),
    )
