"""The checks of notebook 05's networks built from a configuration (make_vgg_layers, BasicBlock's
shortcut option A, resnet_cifar) pass right implementations and fail each wrong one, naming
its mistake."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from autograder import checks
from autograder.checks import builders
from course_utils.reference import architectures as ref
from tests.check_harness import MODEL_IMPORTS, standard_check_tests
from tests.kernel_grading import assert_plain, measured
from tests.wrong import architectures as wrong

# check -> the names of the solution's functions and classes it takes, in notebook order.
FUNCTIONS = {
    "check_make_vgg_layers": ("make_vgg_layers",),
    "check_basic_block_option_a": ("BasicBlock",),
    "check_resnet_cifar": ("resnet_cifar",),
}


def test_every_check_is_exported_from_autograder_checks_in_notebook_order():
    assert builders.__all__ == list(FUNCTIONS)
    names = checks.__all__
    for name in builders.__all__:
        assert getattr(checks, name) is getattr(builders, name)
    assert (
        names.index("check_layer_table")
        < names.index("check_make_vgg_layers")
        < names.index("check_basic_block_option_a")
        < names.index("check_resnet_cifar")
    )


MISTAKES = [
    (
        checks.check_make_vgg_layers,
        (wrong.make_vgg_layers_pool_after_every_conv,),
        "make_vgg_layers/pool_after_every_conv",
    ),
    (
        checks.check_make_vgg_layers,
        (wrong.make_vgg_layers_relu_before_bn,),
        "make_vgg_layers/relu_before_bn",
    ),
    (
        checks.check_basic_block_option_a,
        (wrong.BasicBlockOptionAPadOneSide,),
        "basic_block_option_a/pad_one_side",
    ),
    (
        checks.check_basic_block_option_a,
        (wrong.BasicBlockOptionAWrongPhase,),
        "basic_block_option_a/wrong_phase",
    ),
    (
        checks.check_basic_block_option_a,
        (wrong.BasicBlockOptionAProjection,),
        "basic_block_option_a/projection",
    ),
    (
        checks.check_basic_block_option_a,
        (wrong.BasicBlockOptionAAveragePool,),
        "basic_block_option_a/average_pool",
    ),
    (
        checks.check_resnet_cifar,
        (wrong.resnet_cifar_projection_shortcut,),
        "resnet_cifar/projection_shortcut",
    ),
    (checks.check_resnet_cifar, (wrong.resnet_cifar_n_off_by_one,), "resnet_cifar/n_off_by_one"),
    (checks.check_resnet_cifar, (wrong.resnet_cifar_ignores_width,), "resnet_cifar/ignores_width"),
    (
        checks.check_resnet_cifar,
        (wrong.resnet_cifar_ignores_in_channels,),
        "resnet_cifar/ignores_in_channels",
    ),
    (
        checks.check_resnet_cifar,
        (wrong.resnet_cifar_stride_in_first_stage,),
        "resnet_cifar/stride_in_first_stage",
    ),
]

# The hidden cases of seed 1 show each of these mistakes on their first failing case. (Option
# A's subsampling mistakes need even sides to be told apart, and ignoring in_channels needs a
# case with another number of channels than 3.)
SHOWN_IN_HIDDEN = {
    "make_vgg_layers/pool_after_every_conv",
    "make_vgg_layers/relu_before_bn",
    "basic_block_option_a/pad_one_side",
    "basic_block_option_a/projection",
    "resnet_cifar/projection_shortcut",
    "resnet_cifar/n_off_by_one",
    "resnet_cifar/ignores_width",
    "resnet_cifar/stride_in_first_stage",
}

TestStandardChecks = standard_check_tests(
    "05_architectures",
    FUNCTIONS,
    others=[(checks.check_make_vgg_layers, (ref.make_vgg_layers,))],
    mistakes=MISTAKES,
    hidden_mistakes=[m for m in MISTAKES if m[2] in SHOWN_IN_HIDDEN],
    hidden_seed="1",
    wrong=wrong,
    imports=MODEL_IMPORTS,
)


def test_a_model_made_of_the_reference_classes_is_refused_after_passing_every_case(capsys):
    class BasicBlock(ref.BasicBlock):
        pass

    with pytest.raises(AssertionError, match=r"built from the course's reference code \(course"):
        checks.check_basic_block_option_a(BasicBlock)
    with pytest.raises(AssertionError, match="reference code") as failure:
        checks.check_resnet_cifar(ref.resnet_cifar)
    assert str(failure.value).startswith("resnet_cifar: it is built from the course's")


def test_a_failure_names_the_case_the_call_and_the_layer_that_differs():
    with pytest.raises(AssertionError) as failure:
        checks.check_make_vgg_layers(wrong.make_vgg_layers_relu_before_bn)
    first, inputs, what, yours, expected, hint = str(failure.value).splitlines()
    assert first.startswith(
        'make_vgg_layers_relu_before_bn: case "VGG_CONFIGS["D"], batch_norm=True'
    )
    assert inputs.startswith("  inputs: model make_vgg_layers([64, 64, 'M', 128, 128, 'M',")
    assert (
        what
        == "  the model has 44 layers, expected 44; layer 1 is ReLU where BatchNorm2d was expected."
    )
    assert yours == "  yours:    0 Conv2d, 1 ReLU, 2 BatchNorm2d, 3 Conv2d ..."
    assert expected == "  expected: 0 Conv2d, 1 BatchNorm2d, 2 ReLU, 3 Conv2d ..."
    assert hint.endswith("[make_vgg_layers/relu_before_bn]")


def test_layers_that_are_right_but_nested_are_told_that_the_keys_differ():
    def make_vgg_layers(cfg, in_channels=3, batch_norm=False):
        return nn.Sequential(ref.make_vgg_layers(cfg, in_channels, batch_norm))

    with pytest.raises(AssertionError, match='entry 0 is "0.0.weight" \\(64, 3, 3, 3\\), '
                       'expected "0.weight"'):  # fmt: skip
        checks.check_make_vgg_layers(make_vgg_layers)


def test_a_conv_without_padding_is_named_by_its_attribute():
    def make_vgg_layers(cfg, in_channels=3, batch_norm=False):
        layers = ref.make_vgg_layers(cfg, in_channels, batch_norm)
        for layer in layers:
            if isinstance(layer, nn.Conv2d):
                layer.padding = (0, 0)
        return layers

    with pytest.raises(AssertionError, match=r'layer "0" \(Conv2d\) has padding \[0, 0\], '
                       r"expected \[1, 1\]"):  # fmt: skip
        checks.check_make_vgg_layers(make_vgg_layers)


def test_a_builder_that_accepts_a_bad_argument_must_raise_value_error():
    def make_vgg_layers(cfg, in_channels=3, batch_norm=False):
        return ref.make_vgg_layers([c for c in cfg if c != "N"], in_channels, batch_norm)

    with pytest.raises(AssertionError, match="accepted these arguments; it must raise ValueError"):
        checks.check_make_vgg_layers(make_vgg_layers)

    def resnet_cifar(depth=20, num_classes=10, shortcut="A", in_channels=3, width=16):
        if depth == 10:
            raise KeyError(depth)
        return ref.resnet_cifar(depth, num_classes, shortcut, in_channels, width)

    with pytest.raises(AssertionError, match="raised KeyError: 10\n  It must raise ValueError"):
        checks.check_resnet_cifar(resnet_cifar)


def test_unwritten_builders_are_told_they_are_not_written_yet():
    class BasicBlock(nn.Module):
        def __init__(self, in_channels, channels, stride=1, shortcut="B"):
            super().__init__()
            raise NotImplementedError()

    def make_vgg_layers(cfg, in_channels=3, batch_norm=False):
        raise NotImplementedError()

    def resnet_cifar(depth=20, num_classes=10, shortcut="A", in_channels=3, width=16):
        raise NotImplementedError()

    for check, impl in [
        (checks.check_basic_block_option_a, BasicBlock),
        (checks.check_make_vgg_layers, make_vgg_layers),
        (checks.check_resnet_cifar, resnet_cifar),
    ]:
        with pytest.raises(AssertionError, match="not written yet"):
            check(impl)


def test_a_block_whose_forward_fails_is_told_on_which_input():
    class BasicBlock(ref.BasicBlock):
        def forward(self, x):
            return self.bn2(self.conv2(self.conv1(x))) + x  # no shortcut at all

    with pytest.raises(AssertionError, match=r"forward raised RuntimeError on an input of shape "
                       r"\(2, 16, 8, 8\)"):  # fmt: skip
        checks.check_basic_block_option_a(BasicBlock)


def test_the_cases_carry_the_papers_parameter_counts():
    counts = {}
    for case in builders._cifar_public():
        build = case.args[0]
        if build.raises is None:
            with torch.device("meta"):
                model = ref.resnet_cifar(*build.args, **build.kwargs)
            counts[repr(build)] = ref.count_parameters(model)
    assert counts["resnet_cifar()"] == 269_722
    assert [counts[f"resnet_cifar({d})"] for d in (32, 44, 56, 110)] == [
        464_154, 658_586, 853_018, 1_727_962,
    ]  # fmt: skip
    assert counts["resnet_cifar(8, num_classes=7, in_channels=1, width=8)"] == 18_975
    assert counts["resnet_cifar(14, shortcut='B')"] == 175_258


def test_the_layout_measurement_reports_plain_data():
    report = measured(
        "model_layout",
        ref.make_vgg_layers,
        [[4, (1, 6), "M"]],
        {"in_channels": 2},
        None,
        [1, 2, 7, 6],
    )
    assert_plain(report)
    assert report["layers"][2] == [
        "2", "Conv2d",
        {"in_channels": 4, "out_channels": 6, "kernel_size": [1, 1], "stride": [1, 1],
         "padding": [0, 0], "dilation": [1, 1], "groups": 1, "bias": True},
    ]  # fmt: skip
    assert report["state"][:2] == [["0.weight", [4, 2, 3, 3]], ["0.bias", [4]]]
