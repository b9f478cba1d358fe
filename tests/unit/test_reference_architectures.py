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


# --- make_vgg_layers and torchvision's state dicts ---------------------------------------------
# The keys and shapes of torchvision's VGG state dicts: its make_layers and cfgs
# (torchvision/models/vgg.py: int -> [conv2d, (BatchNorm2d,) ReLU(inplace=True)], "M" ->
# MaxPool2d(2, 2)) and VGG.classifier (Linear, ReLU, Dropout, Linear, ReLU, Dropout, Linear),
# which are the weights published as vgg11-bbd30ac9.pth, vgg16-397923af.pth and
# vgg16_bn-6c64b313.pth. Written out here because torchvision cannot be installed.
# fmt: off
VGG11_STATE_DICT = {
    "features.0.weight": (64, 3, 3, 3), "features.0.bias": (64,),
    "features.3.weight": (128, 64, 3, 3), "features.3.bias": (128,),
    "features.6.weight": (256, 128, 3, 3), "features.6.bias": (256,),
    "features.8.weight": (256, 256, 3, 3), "features.8.bias": (256,),
    "features.11.weight": (512, 256, 3, 3), "features.11.bias": (512,),
    "features.13.weight": (512, 512, 3, 3), "features.13.bias": (512,),
    "features.16.weight": (512, 512, 3, 3), "features.16.bias": (512,),
    "features.18.weight": (512, 512, 3, 3), "features.18.bias": (512,),
    "classifier.0.weight": (4096, 25088), "classifier.0.bias": (4096,),
    "classifier.3.weight": (4096, 4096), "classifier.3.bias": (4096,),
    "classifier.6.weight": (1000, 4096), "classifier.6.bias": (1000,),
}
VGG16_STATE_DICT = {
    "features.0.weight": (64, 3, 3, 3), "features.0.bias": (64,),
    "features.2.weight": (64, 64, 3, 3), "features.2.bias": (64,),
    "features.5.weight": (128, 64, 3, 3), "features.5.bias": (128,),
    "features.7.weight": (128, 128, 3, 3), "features.7.bias": (128,),
    "features.10.weight": (256, 128, 3, 3), "features.10.bias": (256,),
    "features.12.weight": (256, 256, 3, 3), "features.12.bias": (256,),
    "features.14.weight": (256, 256, 3, 3), "features.14.bias": (256,),
    "features.17.weight": (512, 256, 3, 3), "features.17.bias": (512,),
    "features.19.weight": (512, 512, 3, 3), "features.19.bias": (512,),
    "features.21.weight": (512, 512, 3, 3), "features.21.bias": (512,),
    "features.24.weight": (512, 512, 3, 3), "features.24.bias": (512,),
    "features.26.weight": (512, 512, 3, 3), "features.26.bias": (512,),
    "features.28.weight": (512, 512, 3, 3), "features.28.bias": (512,),
    "classifier.0.weight": (4096, 25088), "classifier.0.bias": (4096,),
    "classifier.3.weight": (4096, 4096), "classifier.3.bias": (4096,),
    "classifier.6.weight": (1000, 4096), "classifier.6.bias": (1000,),
}
VGG16_BN_STATE_DICT = {
    "features.0.weight": (64, 3, 3, 3), "features.0.bias": (64,), "features.1.weight": (64,),
    "features.1.bias": (64,), "features.1.running_mean": (64,), "features.1.running_var": (64,),
    "features.1.num_batches_tracked": (), "features.3.weight": (64, 64, 3, 3),
    "features.3.bias": (64,), "features.4.weight": (64,), "features.4.bias": (64,),
    "features.4.running_mean": (64,), "features.4.running_var": (64,),
    "features.4.num_batches_tracked": (), "features.7.weight": (128, 64, 3, 3),
    "features.7.bias": (128,), "features.8.weight": (128,), "features.8.bias": (128,),
    "features.8.running_mean": (128,), "features.8.running_var": (128,),
    "features.8.num_batches_tracked": (), "features.10.weight": (128, 128, 3, 3),
    "features.10.bias": (128,), "features.11.weight": (128,), "features.11.bias": (128,),
    "features.11.running_mean": (128,), "features.11.running_var": (128,),
    "features.11.num_batches_tracked": (), "features.14.weight": (256, 128, 3, 3),
    "features.14.bias": (256,), "features.15.weight": (256,), "features.15.bias": (256,),
    "features.15.running_mean": (256,), "features.15.running_var": (256,),
    "features.15.num_batches_tracked": (), "features.17.weight": (256, 256, 3, 3),
    "features.17.bias": (256,), "features.18.weight": (256,), "features.18.bias": (256,),
    "features.18.running_mean": (256,), "features.18.running_var": (256,),
    "features.18.num_batches_tracked": (), "features.20.weight": (256, 256, 3, 3),
    "features.20.bias": (256,), "features.21.weight": (256,), "features.21.bias": (256,),
    "features.21.running_mean": (256,), "features.21.running_var": (256,),
    "features.21.num_batches_tracked": (), "features.24.weight": (512, 256, 3, 3),
    "features.24.bias": (512,), "features.25.weight": (512,), "features.25.bias": (512,),
    "features.25.running_mean": (512,), "features.25.running_var": (512,),
    "features.25.num_batches_tracked": (), "features.27.weight": (512, 512, 3, 3),
    "features.27.bias": (512,), "features.28.weight": (512,), "features.28.bias": (512,),
    "features.28.running_mean": (512,), "features.28.running_var": (512,),
    "features.28.num_batches_tracked": (), "features.30.weight": (512, 512, 3, 3),
    "features.30.bias": (512,), "features.31.weight": (512,), "features.31.bias": (512,),
    "features.31.running_mean": (512,), "features.31.running_var": (512,),
    "features.31.num_batches_tracked": (), "features.34.weight": (512, 512, 3, 3),
    "features.34.bias": (512,), "features.35.weight": (512,), "features.35.bias": (512,),
    "features.35.running_mean": (512,), "features.35.running_var": (512,),
    "features.35.num_batches_tracked": (), "features.37.weight": (512, 512, 3, 3),
    "features.37.bias": (512,), "features.38.weight": (512,), "features.38.bias": (512,),
    "features.38.running_mean": (512,), "features.38.running_var": (512,),
    "features.38.num_batches_tracked": (), "features.40.weight": (512, 512, 3, 3),
    "features.40.bias": (512,), "features.41.weight": (512,), "features.41.bias": (512,),
    "features.41.running_mean": (512,), "features.41.running_var": (512,),
    "features.41.num_batches_tracked": (), "classifier.0.weight": (4096, 25088),
    "classifier.0.bias": (4096,), "classifier.3.weight": (4096, 4096),
    "classifier.3.bias": (4096,), "classifier.6.weight": (1000, 4096),
    "classifier.6.bias": (1000,),
}
# fmt: on
STATE_DICTS = [
    ("vgg11", lambda: arch.VGG("A"), VGG11_STATE_DICT),
    ("vgg16", lambda: arch.VGG("D"), VGG16_STATE_DICT),
    ("vgg16_bn", lambda: arch.VGG("D", batch_norm=True), VGG16_BN_STATE_DICT),
]


@pytest.mark.parametrize("name, build, expected", STATE_DICTS, ids=[s[0] for s in STATE_DICTS])
def test_vgg_state_dicts_have_torchvision_keys_and_shapes_so_its_weights_load(
    name, build, expected
):
    with torch.device("meta"):
        model = build()
    state = {key: tuple(value.shape) for key, value in model.state_dict().items()}
    assert list(state) == list(expected)  # the same keys, in the same order
    assert state == expected
    features = {k.removeprefix("features."): v for k, v in expected.items() if "features" in k}
    cfg = arch.VGG_CONFIGS["A" if name == "vgg11" else "D"]
    with torch.device("meta"):
        layers = arch.make_vgg_layers(cfg, batch_norm=name.endswith("_bn"))
    assert {k: tuple(v.shape) for k, v in layers.state_dict().items()} == features
    with torch.device("meta"):  # load_state_dict takes it: strict, every key and shape
        model.load_state_dict({k: torch.zeros(v) for k, v in expected.items()}, assign=True)


def test_make_vgg_layers_builds_torchvision_modules_in_order():
    layers = arch.make_vgg_layers([8, "M", 16, 16, "M"], in_channels=2, batch_norm=True)
    kinds = [type(m).__name__ for m in layers]
    assert kinds == ["Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d",
                     "Conv2d", "BatchNorm2d", "ReLU", "Conv2d", "BatchNorm2d", "ReLU",
                     "MaxPool2d"]  # fmt: skip
    convs = [m for m in layers if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels) for c in convs] == [(2, 8), (8, 16), (16, 16)]
    assert all(
        c.kernel_size == (3, 3) and c.padding == (1, 1) and c.bias is not None for c in convs
    )
    pools = [m for m in layers if isinstance(m, nn.MaxPool2d)]
    assert all(p.kernel_size == 2 and p.stride == 2 for p in pools)
    assert all(m.inplace for m in layers if isinstance(m, nn.ReLU))
    assert tuple(layers(torch.zeros(1, 2, 12, 10)).shape) == (1, 16, 3, 2)
    plain = arch.make_vgg_layers([8, "M", 16, 16, "M"], in_channels=2)
    assert [type(m).__name__ for m in plain] == [k for k in kinds if k != "BatchNorm2d"]


def test_make_vgg_layers_takes_configuration_c_one_by_one_convs_and_refuses_other_items():
    layers = arch.make_vgg_layers([4, (1, 6)], in_channels=1)
    assert layers[2].kernel_size == (1, 1) and layers[2].padding == (0, 0)
    with pytest.raises(ValueError, match="'N'"):
        arch.make_vgg_layers([4, "N"])


def test_small_vgg_features_are_make_vgg_layers():
    model = arch.small_vgg(width=4)
    features = arch.make_vgg_layers(
        [4, 4, "M", 8, 8, "M", 16, 16, "M"], in_channels=1, batch_norm=True
    )
    assert [type(m) for m in model[: len(features)]] == [type(m) for m in features]


# --- option A and the CIFAR ResNets ----------------------------------------------------------


def option_a_by_hand(x: torch.Tensor, out_channels: int, stride: int) -> torch.Tensor:
    """Option A built another way: pick rows and columns 0, stride, 2 stride ... by index, then
    stack zero maps around the input's channels."""
    n, c, h, w = x.shape
    rows, cols = torch.arange(0, h, stride), torch.arange(0, w, stride)
    picked = x.index_select(2, rows).index_select(3, cols)
    side = (out_channels - c) // 2
    zeros = torch.zeros(n, side, len(rows), len(cols), dtype=x.dtype)
    return torch.cat([zeros, picked, zeros], dim=1)


@pytest.mark.parametrize("c_in, c_out, stride, h, w", [(16, 32, 2, 8, 8), (4, 8, 2, 7, 5),
                                                       (3, 7, 1, 4, 6), (2, 2, 2, 5, 5)])  # fmt: skip
def test_option_a_shortcut_equals_an_independent_construction(c_in, c_out, stride, h, w):
    x = torch.randn(2, c_in, h, w, dtype=torch.float64)
    shortcut = arch.ZeroPadShortcut(c_in, c_out, stride)
    torch.testing.assert_close(shortcut(x), option_a_by_hand(x, c_out, stride), rtol=0, atol=0)
    assert not list(shortcut.parameters())


def test_option_a_puts_the_input_channels_in_the_middle_at_the_even_positions():
    x = torch.arange(1.0, 1 + 2 * 4 * 4).reshape(1, 2, 4, 4)
    out = arch.ZeroPadShortcut(2, 6, 2)(x)
    assert out[0, :2].abs().sum() == 0 and out[0, 4:].abs().sum() == 0
    torch.testing.assert_close(out[0, 2:4], torch.tensor([[[1.0, 3.0], [9.0, 11.0]],
                                                           [[17.0, 19.0], [25.0, 27.0]]]))  # fmt: skip


def test_basic_block_with_option_a_matches_a_hand_written_residual_and_has_no_shortcut_weights():
    torch.manual_seed(0)
    block = arch.BasicBlock(4, 8, stride=2, shortcut="A").double().eval()
    x = torch.randn(2, 4, 7, 6, dtype=torch.float64)
    main = block.bn2(block.conv2(torch.relu(block.bn1(block.conv1(x)))))
    torch.testing.assert_close(block(x), torch.relu(main + option_a_by_hand(x, 8, 2)))
    with torch.device("meta"):
        a, b = arch.BasicBlock(16, 32, 2, shortcut="A"), arch.BasicBlock(16, 32, 2)
    assert arch.count_parameters(b) - arch.count_parameters(a) == 16 * 32 + 2 * 32
    assert isinstance(arch.BasicBlock(8, 8, shortcut="A").shortcut, nn.Identity)


def test_option_a_refuses_what_it_cannot_pad_and_basic_block_refuses_an_unknown_option():
    with pytest.raises(ValueError, match="even"):
        arch.ZeroPadShortcut(4, 7, 2)
    with pytest.raises(ValueError, match="even and not negative"):
        arch.BasicBlock(8, 4, shortcut="A")
    with pytest.raises(ValueError, match='"A"'):
        arch.BasicBlock(4, 8, 2, shortcut="C")


# The paper's Table 6 quotes 0.27M, 0.46M, 0.66M, 0.85M and 1.7M; these are the exact counts with
# option A and 10 classes (DESIGN.md, notebook 05).
CIFAR_COUNTS = [(20, 269_722), (32, 464_154), (44, 658_586), (56, 853_018), (110, 1_727_962)]


@pytest.mark.parametrize("depth, count", CIFAR_COUNTS)
def test_resnet_cifar_has_the_papers_parameter_counts_and_the_plain_twin_the_same(depth, count):
    with torch.device("meta"):
        assert arch.count_parameters(arch.resnet_cifar(depth)) == count
        assert arch.count_parameters(arch.plain_cifar(depth)) == count


def test_resnet_20_by_hand():
    stem = 3 * 16 * 9 + 2 * 16
    stage1 = 3 * (2 * 16 * 16 * 9 + 4 * 16)
    stage2 = (16 * 32 * 9 + 32 * 32 * 9 + 4 * 32) + 2 * (2 * 32 * 32 * 9 + 4 * 32)
    stage3 = (32 * 64 * 9 + 64 * 64 * 9 + 4 * 64) + 2 * (2 * 64 * 64 * 9 + 4 * 64)
    assert stem + stage1 + stage2 + stage3 + 64 * 10 + 10 == 269_722


def test_resnet_cifar_shapes_blocks_and_options():
    model = arch.resnet_cifar(20)
    blocks = [m for m in model if isinstance(m, arch.BasicBlock)]
    assert len(blocks) == 9
    assert [type(b.shortcut).__name__ for b in blocks].count("ZeroPadShortcut") == 2
    assert [b.conv1.stride for b in blocks] == [(1, 1)] * 3 + [(2, 2), (1, 1), (1, 1)] * 2
    x = torch.zeros(2, 3, 32, 32)
    assert tuple(model(x).shape) == (2, 10)
    assert tuple(model[:-3](x).shape) == (2, 64, 8, 8)
    small = arch.resnet_cifar(8, num_classes=5, in_channels=1, width=8)
    assert tuple(small(torch.zeros(2, 1, 28, 28)).shape) == (2, 5)
    with torch.device("meta"):
        b = arch.resnet_cifar(20, shortcut="B")
    assert arch.count_parameters(b) - 269_722 == (16 * 32 + 2 * 32) + (32 * 64 + 2 * 64)


@pytest.mark.parametrize("depth", [7, 10, 2, 20.0, True])
def test_resnet_cifar_refuses_a_depth_that_is_not_6n_plus_2(depth):
    with pytest.raises(ValueError, match="6n \\+ 2"):
        arch.resnet_cifar(depth)


# --- degradation_net without batch norm ---------------------------------------------------------


def test_unnormalised_degradation_nets_have_6n_plus_2_weight_layers_and_no_batch_norm():
    for depth in (8, 32):
        for residual in (False, True):
            model = arch.degradation_net(depth, residual, batch_norm=False)
            assert not any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
            weighted = [
                m for name, m in model.named_modules()
                if isinstance(m, (nn.Conv2d, nn.Linear)) and "shortcut" not in name
            ]  # fmt: skip
            assert len(weighted) == depth
            assert tuple(model(torch.zeros(2, 1, 28, 28)).shape) == (2, 10)


def test_unnormalised_residual_blocks_with_identity_shortcuts_start_as_the_identity():
    torch.manual_seed(0)
    model = arch.degradation_net(20, residual=True, width=8, batch_norm=False)
    blocks = [m for m in model if hasattr(m, "shortcut") and isinstance(m.shortcut, nn.Identity)]
    assert len(blocks) == 7  # 3 blocks a stage, less the first block of stages 2 and 3
    for block in blocks:
        channels = block.conv1.in_channels
        x = torch.rand(2, channels, 7, 7)  # non-negative, as it comes out of a ReLU
        torch.testing.assert_close(block(x), x, rtol=0, atol=0)


def test_at_initialisation_a_deep_plain_net_weakens_the_signal_and_a_residual_one_does_not():
    # He initialisation keeps the signal's scale only on average: at 8 channels a 32-layer
    # plain stack shrinks it (median over seeds), while residual blocks start as the identity.
    x = torch.rand(16, 1, 28, 28)

    def median_rms(depth: int, residual: bool) -> float:
        values = []
        for seed in range(7):
            torch.manual_seed(seed)
            model = arch.degradation_net(depth, residual, width=8, batch_norm=False)
            with torch.no_grad():
                values.append(model[:-1](x).pow(2).mean().sqrt().item())  # pooled features
        return sorted(values)[len(values) // 2]

    shallow, deep, residual = median_rms(8, False), median_rms(32, False), median_rms(32, True)
    assert deep < 0.5 * shallow, (deep, shallow)
    assert residual > 0.5 * shallow, (residual, shallow)
