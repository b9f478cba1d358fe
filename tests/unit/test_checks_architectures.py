"""The checks of notebook 05's architectures from LeNet-5 to GoogLeNet pass the notebook's
solutions and fail every known mistake, naming it."""

import pytest

from autograder.checks import architectures as architecture_checks
from autograder.checks import (
    check_alexnet,
    check_count_parameters,
    check_googlenet,
    check_inception_module,
    check_lenet5,
    check_vgg,
)
from course_utils.reference import architectures as ref
from tests.check_harness import MODEL_IMPORTS, standard_check_tests
from tests.wrong import architectures as wrong

# check -> the names of the solution's functions and classes it takes, in notebook order.
FUNCTIONS = {
    "check_count_parameters": ("count_parameters",),
    "check_lenet5": ("LeNet5",),
    "check_inception_module": ("InceptionModule",),
}
# Big models: one seed, and marked slow.
BIG_MODELS = {
    "check_alexnet": ("AlexNet",),
    "check_vgg": ("VGG",),
    "check_googlenet": ("GoogLeNet",),
}

MISTAKES = [
    (
        check_count_parameters,
        (wrong.count_parameters_with_buffers,),
        "count_parameters/with_buffers",
    ),
    (
        check_count_parameters,
        (wrong.count_parameters_trainable_only,),
        "count_parameters/trainable_only",
    ),
    (
        check_count_parameters,
        (wrong.count_parameters_counts_tensors,),
        "count_parameters/counts_tensors",
    ),
    (
        check_count_parameters,
        (wrong.count_parameters_weights_only,),
        "count_parameters/weights_only",
    ),
    (check_lenet5, (wrong.LeNet5Tanh,), "lenet5/tanh"),
    (check_lenet5, (wrong.LeNet5NoPadding,), "lenet5/fc_input_size"),
    (check_lenet5, (wrong.LeNet5AvgPool,), "lenet5/avg_pool"),
    (check_lenet5, (wrong.LeNet5ReluAtTheEnd,), "lenet5/relu_at_the_end"),
    (check_lenet5, (wrong.LeNet5PoolTooLarge,), "lenet5/map_vanished"),
    (check_inception_module, (wrong.InceptionModulePoolFirst,), "order pool, 1x1, 3x3, 5x5"),
    (check_inception_module, (wrong.InceptionModulePoolFirst,), "inception_module/branch_order"),
    (
        check_inception_module,
        (wrong.InceptionModuleTrueFiveByFive,),
        "inception_module/true_five_by_five",
    ),
    (check_inception_module, (wrong.InceptionModuleWithBiases,), "inception_module/with_biases"),
    (
        check_inception_module,
        (wrong.InceptionModuleNoBatchNorm,),
        "inception_module/no_batch_norm",
    ),
    (check_inception_module, (wrong.InceptionModuleNoPadding,), "inception_module/branch_sizes"),
]

BIG_MISTAKES = [
    (check_alexnet, (wrong.AlexNetPaperWidths,), "alexnet/paper_widths"),
    (check_vgg, (wrong.VGGMissingPool,), "vgg/missing_pool"),
    (check_vgg, (wrong.VGGConfigCWithThreeByThree,), "vgg/config_c_with_three_by_three"),
    (check_vgg, (wrong.VGGOtherConfig,), "vgg/other_config"),
    (check_vgg, (wrong.VGGNoBatchNorm,), "vgg/no_batch_norm"),
    (check_googlenet, (wrong.GoogLeNetFloorPools,), "googlenet/one_pixel_smaller"),
    (check_googlenet, (wrong.GoogLeNetTrueFiveByFive,), "googlenet/true_five_by_five"),
    (check_googlenet, (wrong.GoogLeNetWithBiases,), "googlenet/with_biases"),
    (check_googlenet, (wrong.GoogLeNetNoBatchNorm,), "googlenet/no_batch_norm"),
]

# Through a kernel the student's classes are proxies, and the measurements run there.
TestStandardChecks = standard_check_tests(
    "05_architectures",
    FUNCTIONS,
    modules=[architecture_checks],
    mistakes=MISTAKES,
    wrong=wrong,
    imports=MODEL_IMPORTS,
)

TestStandardChecksOfBigModels = standard_check_tests(
    "05_architectures", BIG_MODELS, seeds=("1",), mistakes=BIG_MISTAKES, slow=True
)


def test_counting_a_shared_layer_twice_is_predicted_by_its_mistake():
    # On the one case with a shared layer, counting the state dict gives the same number and
    # that mistake is tried first (count_parameters/with_buffers); this one must still be right.
    from autograder.checks._engine import diagnose
    from autograder.checks.architectures import _COUNT_MISTAKES
    from autograder.kernel.measure import build_recipe

    model = build_recipe(["shared", ["linear", 4, 4]])
    shared_twice = [m for m in _COUNT_MISTAKES if m.id == "shared_twice"]
    hint = diagnose(shared_twice, (model,), wrong.count_parameters_shared_twice(model))
    assert hint is not None and hint.id == "shared_twice"


def test_a_model_check_names_the_class_in_its_line(capsys):
    from tests.solutions import load_solutions

    check_lenet5(load_solutions("05_architectures").LeNet5)
    assert "LeNet5: 3/3 public cases pass" in capsys.readouterr().out


@pytest.mark.parametrize(
    "message, hint",
    [
        ("mat1 and mat2 shapes cannot be multiplied (2x400 and 256x120)", "fc_input_size"),
        ("Sizes of tensors must match except in dimension 1. Expected 8 but got 6", "branch_sizes"),
        (
            "The size of tensor a (4) must match the size of tensor b (8) at non-singleton "
            "dimension 3",
            "shortcut_shape",
        ),
        (
            "Given input size: (16x3x3). Calculated output size: (16x0x0). Output size is too small",
            "map_vanished",
        ),
        ("something else went wrong", None),
    ],
)
def test_a_forward_error_is_explained_by_what_its_message_says(message, hint):
    # On the meta device, where the layer-by-layer shapes are traced first, PyTorch words a
    # failed addition differently ("Attempting to broadcast a dimension ..."), so a ResNet
    # block whose shortcut has the wrong shape reaches its hint only on real tensors.
    from autograder.checks._models import ModelCase, broken

    error = {"type": "RuntimeError", "types": ["RuntimeError"], "stage": "forward"}
    failure = broken(
        {"error": {**error, "message": message}},
        "LeNet5",
        ModelCase("a case", functional=(2, 1, 28, 28)),
    )
    assert "LeNet5's forward raised RuntimeError" in str(failure)
    assert (failure.hint and failure.hint.id) == hint


def test_a_stub_is_reported_as_not_written_yet():
    class Stub(ref.LeNet5):
        def __init__(self, num_classes=10, in_channels=1):
            raise NotImplementedError()

    with pytest.raises(AssertionError, match="not written yet"):
        check_lenet5(Stub)


def test_the_courses_own_reference_model_earns_no_credit():
    # Assigned or subclassed, the reference passes every comparison: it is refused after them.
    with pytest.raises(AssertionError, match="built from the course's reference code"):
        check_lenet5(ref.LeNet5)

    class Renamed(ref.InceptionModule):
        pass

    with pytest.raises(AssertionError, match="course_utils.reference.architectures"):
        check_inception_module(Renamed)
