"""The reference architectures have the published parameter counts and the hand-computed shapes.

torchvision cannot be installed here, so the counts are compared with the figures torchvision
publishes for its models (the "num_params" of each model's weights documentation, e.g.
https://pytorch.org/vision/stable/models/generated/torchvision.models.resnet50.html) and the
lecture's LeNet-5 conv1 (SEED_CONCEPTS.md section 5). Models are built on the meta device, which
allocates nothing; shapes are traced there too.
"""

import pytest
import torch
from torch import nn

from course_utils.reference import architectures as arch

PUBLISHED_COUNTS = [
    ("alexnet", lambda: arch.AlexNet(), 61_100_840),
    ("vgg11 (A)", lambda: arch.VGG("A"), 132_863_336),
    ("vgg13 (B)", lambda: arch.VGG("B"), 133_047_848),
    ("vgg16 (D)", lambda: arch.VGG("D"), 138_357_544),
    ("vgg16 is the default", lambda: arch.VGG(), 138_357_544),
    ("vgg19 (E)", lambda: arch.VGG("E"), 143_667_240),
    ("vgg16_bn", lambda: arch.VGG("D", batch_norm=True), 138_365_992),
    ("googlenet without aux heads", lambda: arch.GoogLeNet(), 6_624_904),
    ("googlenet with aux heads", lambda: arch.GoogLeNet(aux_logits=True), 13_004_888),
    ("resnet18", lambda: arch.resnet18(), 11_689_512),
    ("resnet34", lambda: arch.resnet34(), 21_797_672),
    ("resnet50", lambda: arch.resnet50(), 25_557_032),
]


@pytest.mark.parametrize(
    "name, build, count", PUBLISHED_COUNTS, ids=[c[0] for c in PUBLISHED_COUNTS]
)
def test_reference_models_have_the_published_parameter_counts(name, build, count):
    with torch.device("meta"):
        assert arch.count_parameters(build()) == count


def test_vgg_c_is_b_plus_three_one_by_one_convs_from_the_paper_table():
    # Table 1: C adds conv1-256 to stage 3 and conv1-512 to stages 4 and 5 of B.
    one_by_one = (256 * 256 + 256) + 2 * (512 * 512 + 512)
    with torch.device("meta"):
        b, c = arch.VGG("B"), arch.VGG("C")
        kernels = [m.kernel_size for m in c.modules() if isinstance(m, nn.Conv2d)]
    assert arch.count_parameters(c) == arch.count_parameters(b) + one_by_one == 133_638_952
    assert kernels.count((1, 1)) == 3


def test_lenet5_conv1_has_the_lecture_156_parameters_and_61706_in_all():
    model = arch.LeNet5()
    assert arch.count_parameters(model.conv1) == 6 * 5 * 5 + 6 == 156
    assert arch.count_parameters(model) == 156 + 2416 + 48120 + 10164 + 850


def test_alexnet_with_the_paper_widths_would_have_the_lecture_62_3_million():
    widths, kernels, previous, total = (96, 256, 384, 384, 256), (11, 5, 3, 3, 3), 3, 0
    for width, kernel in zip(widths, kernels):
        total += width * previous * kernel * kernel + width
        previous = width
    total += 9216 * 4096 + 4096 + 4096 * 4096 + 4096 + 4096 * 1000 + 1000
    assert total == 62_378_344
    with torch.device("meta"):
        assert arch.count_parameters(arch.AlexNet()) == total - 1_277_504


def conv_and_pool_shapes(model, size):
    shapes = []
    hooks = [
        m.register_forward_hook(lambda m, i, o: shapes.append(tuple(o.shape[1:])))
        for m in model.modules()
        if isinstance(m, (nn.Conv2d, nn.MaxPool2d))
    ]
    model.eval()(torch.zeros(size, device="meta"))
    for hook in hooks:
        hook.remove()
    return shapes


def test_alexnet_shapes_follow_the_hand_computed_sizes_at_224():
    # (224 + 4 - 11) / 4 + 1 = 55; pool (55 - 3) / 2 + 1 = 27; 27; pool 13; 13, 13, 13; pool 6.
    with torch.device("meta"):
        model = arch.AlexNet()
    assert conv_and_pool_shapes(model, (1, 3, 224, 224)) == [
        (64, 55, 55), (64, 27, 27), (192, 27, 27), (192, 13, 13),
        (384, 13, 13), (256, 13, 13), (256, 13, 13), (256, 6, 6),
    ]  # fmt: skip


def test_zfnet_shapes_follow_the_paper_figure():
    with torch.device("meta"):
        model = arch.ZFNet()
    assert conv_and_pool_shapes(model, (1, 3, 224, 224)) == [
        (96, 110, 110), (96, 55, 55), (256, 26, 26), (256, 13, 13),
        (384, 13, 13), (384, 13, 13), (256, 13, 13), (256, 6, 6),
    ]  # fmt: skip


def test_vgg16_stages_halve_224_down_to_7():
    with torch.device("meta"):
        model = arch.VGG("D")
    sides = sorted({s[1] for s in conv_and_pool_shapes(model, (1, 3, 224, 224))}, reverse=True)
    assert sides == [224, 112, 56, 28, 14, 7]


def test_resnet50_stages_have_the_hand_computed_shapes():
    with torch.device("meta"):
        model = arch.resnet50()
        x = torch.zeros(1, 3, 224, 224)
        x = model.stem(x)
        assert tuple(x.shape) == (1, 64, 56, 56)
        for layer, shape in zip(
            (model.layer1, model.layer2, model.layer3, model.layer4),
            ((256, 56, 56), (512, 28, 28), (1024, 14, 14), (2048, 7, 7)),
        ):
            x = layer(x)
            assert tuple(x.shape[1:]) == shape


def test_googlenet_inception_outputs_have_the_paper_table_channels():
    with torch.device("meta"):
        model = arch.GoogLeNet()
    outputs = {
        name: spec[1] + spec[3] + spec[5] + spec[6]
        for name, spec in arch.GOOGLENET_INCEPTIONS.items()
    }
    assert outputs == {"3a": 256, "3b": 480, "4a": 512, "4b": 512, "4c": 512, "4d": 528,
                       "4e": 832, "5a": 832, "5b": 1024}  # fmt: skip
    assert tuple(model.eval()(torch.zeros(1, 3, 224, 224, device="meta")).shape) == (1, 1000)


@pytest.mark.parametrize(
    "build, side",
    [(arch.AlexNet, 63), (arch.VGG, 32), (arch.GoogLeNet, 32), (arch.resnet18, 32),
     (arch.resnet50, 32)],
)  # fmt: skip
def test_imagenet_models_take_their_smallest_inputs(build, side):
    with torch.device("meta"):
        model = build(num_classes=7)
    assert tuple(model.eval()(torch.zeros(2, 3, side, side, device="meta")).shape) == (2, 7)


def test_alexnet_refuses_an_input_below_63():
    with torch.device("meta"):
        model = arch.AlexNet()
    with pytest.raises(RuntimeError):
        model(torch.zeros(1, 3, 62, 62, device="meta"))


def test_basic_block_matches_a_hand_written_residual_with_projection():
    torch.manual_seed(0)
    block = arch.BasicBlock(4, 8, stride=2).double().eval()
    x = torch.randn(2, 4, 6, 6, dtype=torch.float64)
    main = block.bn2(block.conv2(torch.relu(block.bn1(block.conv1(x)))))
    projection = block.shortcut[1](
        torch.nn.functional.conv2d(x, block.shortcut[0].weight, stride=2)
    )
    torch.testing.assert_close(block(x), torch.relu(main + projection))


def test_bottleneck_keeps_the_identity_when_the_shape_is_kept():
    block = arch.Bottleneck(32, 8)
    assert isinstance(block.shortcut, nn.Identity)
    assert block.conv2.stride == (1, 1) and arch.Bottleneck(32, 8, 2).conv2.stride == (2, 2)


def test_googlenet_returns_the_auxiliary_scores_only_in_training_mode():
    model = arch.GoogLeNet(num_classes=5, aux_logits=True)
    outputs = model.train()(torch.zeros(2, 3, 64, 64))
    assert [tuple(o.shape) for o in outputs] == [(2, 5)] * 3
    assert tuple(model.eval()(torch.zeros(2, 3, 64, 64)).shape) == (2, 5)


def test_vgg_refuses_an_unknown_configuration_and_names_the_valid_ones():
    with pytest.raises(ValueError, match="'A', 'A-LRN', 'B', 'C', 'D', 'E'"):
        arch.VGG("F")


@pytest.mark.parametrize(
    "build",
    [arch.LeNet5, arch.small_vgg, arch.small_resnet, lambda: arch.degradation_net(14, False)],
)
def test_small_models_map_fashion_mnist_images_to_ten_scores(build):
    assert tuple(build()(torch.zeros(3, 1, 28, 28)).shape) == (3, 10)


def test_degradation_nets_have_6n_plus_2_weight_layers_and_refuse_other_depths():
    for depth in (8, 20):
        for residual in (False, True):
            model = arch.degradation_net(depth, residual)
            weighted = [
                m for name, m in model.named_modules()
                if isinstance(m, (nn.Conv2d, nn.Linear)) and "shortcut" not in name
            ]  # fmt: skip
            assert len(weighted) == depth
    with pytest.raises(ValueError, match="6n \\+ 2"):
        arch.degradation_net(10, True)


def test_count_parameters_counts_shared_and_frozen_parameters_once_and_skips_buffers():
    shared = nn.Linear(2, 2)
    frozen = nn.Linear(2, 1).requires_grad_(False)
    model = nn.Sequential(shared, shared, frozen, nn.BatchNorm1d(1))
    assert arch.count_parameters(model) == 6 + 3 + 2
