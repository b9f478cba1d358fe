"""The checks of notebook 05 pass the notebook's solutions and fail every known mistake, naming it."""

import pytest

from autograder.checks import (
    check_alexnet,
    check_basic_block,
    check_bottleneck,
    check_count_parameters,
    check_googlenet,
    check_inception_module,
    check_lenet5,
    check_resnet,
    check_resnet_builders,
    check_vgg,
)
from course_utils.reference import architectures as ref
from tests.solutions import load_solutions
from tests.wrong import architectures as wrong


@pytest.fixture(scope="module")
def solutions():
    return load_solutions("05_architectures")


CHEAP = {
    "count_parameters": lambda s, kind: check_count_parameters(s.count_parameters, cases=kind),
    "LeNet5": lambda s, kind: check_lenet5(s.LeNet5, cases=kind),
    "InceptionModule": lambda s, kind: check_inception_module(s.InceptionModule, cases=kind),
    "BasicBlock": lambda s, kind: check_basic_block(s.BasicBlock, cases=kind),
    "Bottleneck": lambda s, kind: check_bottleneck(s.Bottleneck, cases=kind),
    "resnet18/34/50": lambda s, kind: check_resnet_builders(
        s.resnet18, s.resnet34, s.resnet50, cases=kind
    ),
}
BIG = {
    "AlexNet": lambda s, kind: check_alexnet(s.AlexNet, cases=kind),
    "VGG": lambda s, kind: check_vgg(s.VGG, cases=kind),
    "GoogLeNet": lambda s, kind: check_googlenet(s.GoogLeNet, cases=kind),
    "ResNet": lambda s, kind: check_resnet(s.ResNet, s.BasicBlock, s.Bottleneck, cases=kind),
}


@pytest.mark.parametrize("name", sorted(CHEAP))
@pytest.mark.parametrize("kind", ["public", "hidden"])
def test_check_passes_the_notebook_solution(solutions, name, kind, capsys):
    result = CHEAP[name](solutions, kind)
    assert result.passed == result.total > 0
    assert f"{name}: {result.total}/{result.total} {kind} cases pass" in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(BIG))
@pytest.mark.parametrize("kind", ["public", "hidden"])
def test_check_passes_the_notebook_solution_of_a_big_model(solutions, name, kind, capsys):
    result = BIG[name](solutions, kind)
    assert result.passed == result.total > 0
    assert f"{name}: {result.total}/{result.total} {kind} cases pass" in capsys.readouterr().out


WRONG = [
    (check_count_parameters, wrong.count_parameters_with_buffers, "buffers"),
    (check_count_parameters, wrong.count_parameters_trainable_only, "only the trainable"),
    (check_count_parameters, wrong.count_parameters_counts_tensors, "numel"),
    (check_lenet5, wrong.LeNet5Tanh, "tanh"),
    (check_lenet5, wrong.LeNet5NoPadding, "first fully connected layer"),
    (check_inception_module, wrong.InceptionModulePoolFirst, "order pool, 1x1, 3x3, 5x5"),
    (check_inception_module, wrong.InceptionModuleTrueFiveByFive, "3x3 conv"),
    (check_basic_block, wrong.BasicBlockNoProjection, "no projection shortcut"),
    (check_basic_block, wrong.BasicBlockProjectionWithoutBN, "lacks its batch norm"),
    (check_basic_block, wrong.BasicBlockReluBeforeAdd, "ReLU comes before the addition"),
    (check_bottleneck, wrong.BottleneckStrideOnFirstConv, "stride"),
    (check_bottleneck, wrong.BottleneckWithBiases, "bias=False"),
]


@pytest.mark.parametrize("check, impl, mistake", WRONG)
def test_check_fails_a_wrong_model_and_names_the_mistake(check, impl, mistake):
    with pytest.raises(AssertionError, match=mistake):
        check(impl)


@pytest.mark.slow
@pytest.mark.parametrize(
    "check, impl, mistake",
    [
        (check_alexnet, wrong.AlexNetPaperWidths, "62.3M"),
        (check_vgg, wrong.VGGMissingPool, "pooling stage is missing"),
        (check_vgg, wrong.VGGConfigCWithThreeByThree, "1x1 conv"),
        (check_googlenet, wrong.GoogLeNetFloorPools, "ceil_mode=True"),
    ],
)
def test_check_fails_a_wrong_big_model_and_names_the_mistake(check, impl, mistake):
    with pytest.raises(AssertionError, match=mistake):
        check(impl)


@pytest.mark.slow
def test_check_resnet_names_a_missing_stem_pool():
    with pytest.raises(AssertionError, match="pooling stage is missing"):
        check_resnet(wrong.ResNetNoStemPool, ref.BasicBlock, ref.Bottleneck)


def test_a_block_without_the_expansion_attribute_is_told_so():
    class NoExpansion(ref.BasicBlock):
        expansion = None

    with pytest.raises(AssertionError, match="expansion must be 1"):
        check_basic_block(NoExpansion)


def test_a_stub_is_reported_as_not_written_yet():
    class Stub(ref.LeNet5):
        def __init__(self, num_classes=10, in_channels=1):
            raise NotImplementedError()

    with pytest.raises(AssertionError, match="not written yet"):
        check_lenet5(Stub)


# --- through a kernel: the student's classes are proxies, the measurements run there ----------


@pytest.mark.slow
def test_through_a_kernel_the_model_checks_pass_the_solutions_and_name_each_mistake(tmp_path):
    from tests.kernel_grading import expect_mistake, failing_tests, module_body, solutions_source

    imports = (
        "import numpy as np\nimport torch\nimport torch.nn.functional as F\nfrom torch import nn\n"
    )
    calls = [
        "check_count_parameters(count_parameters{})",
        "check_lenet5(LeNet5{})",
        "check_inception_module(InceptionModule{})",
        "check_basic_block(BasicBlock{})",
        "check_bottleneck(Bottleneck{})",
        "check_resnet_builders(resnet18, resnet34, resnet50{})",
    ]
    tests = [
        "from autograder.checks import *\n" + call.format("") + "\n" + call.format(", 'hidden'")
        for call in calls
    ]
    tests += [expect_mistake(c.__name__, impl.__name__, mistake) for c, impl, mistake in WRONG]
    student = solutions_source("05_architectures") + "\n\n" + module_body(wrong)
    assert failing_tests(tmp_path, imports, student, tests) == []


def test_the_courses_own_reference_model_earns_no_credit():
    # Assigned or subclassed, the reference passes every comparison: it is refused after them.
    with pytest.raises(AssertionError, match="built from the course's reference code"):
        check_lenet5(ref.LeNet5)

    class Renamed(ref.BasicBlock):
        pass

    with pytest.raises(AssertionError, match="course_utils.reference.architectures"):
        check_basic_block(Renamed)
    with pytest.raises(AssertionError, match="reference code"):
        check_resnet_builders(ref.resnet18, ref.resnet34, ref.resnet50)
