"""The checks of notebook 05's residual networks pass the notebook's solutions and fail every
known mistake, naming it."""

import pytest

from autograder.checks import (
    check_basic_block,
    check_bottleneck,
    check_resnet,
    check_resnet_builders,
)
from autograder.checks import resnet as resnet_checks
from course_utils.reference import architectures as ref
from tests.check_harness import MODEL_IMPORTS, standard_check_tests
from tests.wrong import architectures as wrong

# check -> the names of the solution's classes and functions it takes, in notebook order.
FUNCTIONS = {
    "check_basic_block": ("BasicBlock",),
    "check_bottleneck": ("Bottleneck",),
    "check_resnet_builders": ("resnet18", "resnet34", "resnet50"),
}
# A whole ResNet is big: one seed, and marked slow.
BIG_MODELS = {"check_resnet": ("ResNet", "BasicBlock", "Bottleneck")}

MISTAKES = [
    (check_basic_block, (wrong.BasicBlockNoProjection,), "basic_block/no_projection"),
    (
        check_basic_block,
        (wrong.BasicBlockProjectionWithoutBN,),
        "basic_block/projection_without_bn",
    ),
    (check_basic_block, (wrong.BasicBlockReluBeforeAdd,), "basic_block/relu_before_add"),
    (check_basic_block, (wrong.BasicBlockNoFinalRelu,), "basic_block/no_final_relu"),
    (check_basic_block, (wrong.BasicBlockWithBiases,), "basic_block/with_biases"),
    # The layer-by-layer shapes name a stride on the wrong conv before the output could.
    (check_bottleneck, (wrong.BottleneckStrideOnFirstConv,), "bottleneck/shrinks_early"),
    (check_bottleneck, (wrong.BottleneckWithBiases,), "bottleneck/with_biases"),
    (check_bottleneck, (wrong.BottleneckNoProjection,), "bottleneck/no_projection"),
    (
        check_bottleneck,
        (wrong.BottleneckProjectionWithoutBN,),
        "bottleneck/projection_without_bn",
    ),
    (check_bottleneck, (wrong.BottleneckReluBeforeAdd,), "bottleneck/relu_before_add"),
    (check_bottleneck, (wrong.BottleneckNoFinalRelu,), "bottleneck/no_final_relu"),
]

BIG_MISTAKES = [
    (check_resnet, (wrong.ResNetNoStemPool, ref.BasicBlock, ref.Bottleneck), "resnet/missing_pool"),
]

# Through a kernel the student's classes are proxies, and the measurements run there.
TestStandardChecks = standard_check_tests(
    "05_architectures",
    FUNCTIONS,
    modules=[resnet_checks],
    mistakes=MISTAKES,
    wrong=wrong,
    imports=MODEL_IMPORTS,
)

TestStandardChecksOfABigModel = standard_check_tests(
    "05_architectures", BIG_MODELS, seeds=("1",), mistakes=BIG_MISTAKES, slow=True
)


@pytest.mark.parametrize(
    "exercise, block, mistake",
    [
        ("BOTTLENECK", wrong.BottleneckStrideOnFirstConv, "stride_on_first_conv"),
        ("BASIC_BLOCK", wrong.BasicBlockStrideOnSecondConv, "stride_on_second_conv"),
    ],
)
def test_a_stride_on_the_wrong_conv_is_predicted_by_its_mistake(exercise, block, mistake):
    # The check meets such a block's layer-by-layer shapes first, and names what they show
    # (see bottleneck/shrinks_early above); the output mistake must still predict it right.
    from autograder.checks import resnet
    from autograder.checks._engine import diagnose
    from autograder.checks._models import ModelCase, variant_output

    case = ModelCase("stride 2", (16, 8, 2), functional=(2, 16, 8, 8))
    mistakes = getattr(resnet, exercise).judge.output_mistakes
    assert diagnose(mistakes, (case,), variant_output(block)(case)).id == mistake


def test_the_builders_check_names_all_three_in_its_line(capsys):
    from tests.solutions import load_solutions

    solutions = load_solutions("05_architectures")
    check_resnet_builders(solutions.resnet18, solutions.resnet34, solutions.resnet50)
    assert "resnet18/34/50: 6/6 public cases pass" in capsys.readouterr().out


def test_a_block_without_the_expansion_attribute_is_told_so():
    class NoExpansion(ref.BasicBlock):
        expansion = None

    with pytest.raises(AssertionError, match="expansion must be 1"):
        check_basic_block(NoExpansion)


def test_the_courses_own_reference_blocks_and_builders_earn_no_credit():
    class Renamed(ref.BasicBlock):
        pass

    with pytest.raises(AssertionError, match="course_utils.reference.architectures"):
        check_basic_block(Renamed)
    with pytest.raises(AssertionError, match="reference code"):
        check_resnet_builders(ref.resnet18, ref.resnet34, ref.resnet50)
