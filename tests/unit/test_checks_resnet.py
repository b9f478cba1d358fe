"""The checks of notebook 05's residual networks pass the notebook's solutions and fail every
known mistake, naming it."""

import pytest

from autograder.checks import (
    check_basic_block,
    check_bottleneck,
    check_resnet,
    check_resnet_builders,
)
from course_utils.reference import architectures as ref
from tests.check_harness import fails_each_mistake, passes_the_solution
from tests.kernel_grading import grades_through_a_kernel
from tests.wrong import architectures as wrong

test_check_passes_the_notebook_solution = passes_the_solution(
    "05_architectures",
    {
        "check_basic_block": ("BasicBlock",),
        "check_bottleneck": ("Bottleneck",),
        "check_resnet_builders": ("resnet18", "resnet34", "resnet50"),
    },
)

test_check_passes_the_notebook_solution_of_a_big_model = pytest.mark.slow(
    passes_the_solution(
        "05_architectures", {"check_resnet": ("ResNet", "BasicBlock", "Bottleneck")}, seeds=("1",)
    )
)

MODEL_IMPORTS = (
    "import numpy as np\nimport torch\nimport torch.nn.functional as F\nfrom torch import nn\n"
)

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

test_check_fails_a_wrong_block_and_names_the_mistake = fails_each_mistake(MISTAKES)

test_check_fails_a_wrong_resnet_and_names_the_mistake = pytest.mark.slow(
    fails_each_mistake(
        [
            (
                check_resnet,
                (wrong.ResNetNoStemPool, ref.BasicBlock, ref.Bottleneck),
                "resnet/missing_pool",
            ),
        ]
    )
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


# --- through a kernel: the student's classes are proxies, the measurements run there ----------


test_through_a_kernel_the_checks_pass_the_solution_and_name_each_mistake = grades_through_a_kernel(
    "05_architectures",
    [
        ("check_basic_block", ("BasicBlock",)),
        ("check_bottleneck", ("Bottleneck",)),
        ("check_resnet_builders", ("resnet18", "resnet34", "resnet50")),
    ],
    MISTAKES,
    wrong,
    imports=MODEL_IMPORTS,
)
