"""Each wrong implementation of notebook 05's reasoning exercises differs from the reference on a
small case, in the way its name says, and agrees with it where its mistake does not matter.

These are the mistakes that ``check_make_vgg_layers``, ``check_layer_table``,
``check_basic_block_option_a`` and ``check_resnet_cifar`` must name (hint ids
``make_vgg_layers/pool_after_every_conv``, ``layer_table/macs_count_bias`` ...): a case on which
a mistake gives the reference's answer cannot catch it.
"""

import pytest
import torch
from torch import nn

from course_utils.reference import architectures as arch
from course_utils.reference.counting import layer_table
from tests.wrong import architectures as wrong


def test_pooling_after_every_conv_shrinks_the_maps_once_per_conv():
    cfg = [4, 4, "M"]
    x = torch.zeros(1, 2, 8, 8)
    assert tuple(arch.make_vgg_layers(cfg, in_channels=2)(x).shape) == (1, 4, 4, 4)
    assert tuple(wrong.make_vgg_layers_pool_after_every_conv(cfg, in_channels=2)(x).shape) == (
        1, 4, 2, 2,
    )  # fmt: skip
    one_conv = [4, "M"]  # one conv, one pool: the mistake does not show
    assert [type(m) for m in wrong.make_vgg_layers_pool_after_every_conv(one_conv)] == [
        type(m) for m in arch.make_vgg_layers(one_conv)
    ]


def test_relu_before_bn_moves_the_batch_norm_keys_and_changes_the_function():
    cfg = [4, "M"]
    good = arch.make_vgg_layers(cfg, in_channels=2, batch_norm=True)
    bad = wrong.make_vgg_layers_relu_before_bn(cfg, in_channels=2, batch_norm=True)
    assert "1.running_mean" in good.state_dict() and "2.running_mean" in bad.state_dict()
    torch.manual_seed(0)
    for module in (good, bad):  # the same weights and statistics, in eval mode
        module[0].load_state_dict(good[0].state_dict())
    bn_good = next(m for m in good if isinstance(m, nn.BatchNorm2d))
    bn_bad = next(m for m in bad if isinstance(m, nn.BatchNorm2d))
    bn_good.running_mean.uniform_(-1, 1)
    bn_good.bias.data.uniform_(-1, 1)
    bn_bad.load_state_dict(bn_good.state_dict())
    x = torch.randn(2, 2, 4, 4)
    assert not torch.allclose(good.eval()(x), bad.eval()(x))
    plain = [type(m) for m in wrong.make_vgg_layers_relu_before_bn(cfg)]
    assert plain == [type(m) for m in arch.make_vgg_layers(cfg)]  # no BN: no mistake


CASES = {
    # name: (model, input shape, the reference row that the mistake changes)
    "bias": (nn.Conv2d(2, 3, 3), (1, 2, 5, 5)),
    "no bias": (nn.Conv2d(2, 3, 3, bias=False), (1, 2, 5, 5)),
    "linear with bias": (nn.Linear(4, 3), (2, 4)),
    "groups": (nn.Conv2d(4, 4, 3, groups=2, bias=False), (1, 4, 5, 5)),
    "padding": (nn.Conv2d(2, 3, 3, padding=1, bias=False), (1, 2, 6, 6)),
    "dilation": (nn.Conv2d(2, 3, 3, dilation=2, bias=False), (1, 2, 8, 8)),
}
MISTAKES = [
    (wrong.layer_table_macs_count_bias, {"bias", "linear with bias"}),
    (wrong.layer_table_macs_forget_groups, {"groups"}),
    (wrong.layer_table_shapes_ignore_padding, {"padding"}),
    (wrong.layer_table_shapes_ignore_dilation, {"dilation"}),
]


@pytest.mark.parametrize("impl, differs_on", MISTAKES, ids=[m[0].__name__ for m in MISTAKES])
def test_each_wrong_layer_table_differs_exactly_on_the_cases_its_mistake_touches(impl, differs_on):
    differs = {
        name for name, (model, shape) in CASES.items()
        if impl(model, shape) != layer_table(model, shape)
    }  # fmt: skip
    assert differs == differs_on


def test_the_wrong_layer_tables_get_the_shapes_and_macs_their_formulas_give():
    model, shape = CASES["padding"]
    assert wrong.layer_table_shapes_ignore_padding(model, shape)[0]["output_shape"] == (1, 3, 4, 4)
    model, shape = CASES["dilation"]
    row = wrong.layer_table_shapes_ignore_dilation(model, shape)[0]
    assert row["output_shape"] == (1, 3, 6, 6) and row["macs"] == 3 * 6 * 6 * 2 * 9
    model, shape = CASES["bias"]
    assert wrong.layer_table_macs_count_bias(model, shape)[0]["macs"] == 3 * 9 * (18 + 1)
    model, shape = CASES["groups"]
    assert wrong.layer_table_macs_forget_groups(model, shape)[0]["macs"] == 4 * 9 * 4 * 9


@pytest.mark.parametrize(
    "block", [wrong.BasicBlockOptionAPadOneSide, wrong.BasicBlockOptionAWrongPhase]
)
def test_each_wrong_option_a_differs_from_the_reference_on_a_small_block(block):
    torch.manual_seed(0)
    good = arch.BasicBlock(4, 8, 2, shortcut="A").double().eval()
    bad = block(4, 8, 2, shortcut="A").double().eval()
    bad.load_state_dict(good.state_dict())  # no shortcut weights: the same keys
    x = torch.randn(2, 4, 6, 6, dtype=torch.float64)
    assert not torch.allclose(good(x), bad(x))
    assert not torch.allclose(good.shortcut(x), bad.shortcut(x))
    same_shape = (arch.BasicBlock(4, 4, shortcut="A"), block(4, 4, shortcut="A"))
    assert all(isinstance(b.shortcut, nn.Identity) for b in same_shape)  # nothing to get wrong


def test_a_one_sided_pad_puts_the_input_first_and_the_wrong_phase_takes_the_odd_positions():
    x = torch.arange(1.0, 17.0).reshape(1, 1, 4, 4).repeat(1, 2, 1, 1)
    one_sided = wrong.BasicBlockOptionAPadOneSide(2, 4, 2, shortcut="A").shortcut(x)
    assert one_sided[0, 2:].abs().sum() == 0 and one_sided[0, 0, 0, 0] == 1.0
    odd = wrong.BasicBlockOptionAWrongPhase(2, 4, 2, shortcut="A").shortcut(x)
    assert odd[0, 1].tolist() == [[6.0, 8.0], [14.0, 16.0]]


def test_projection_shortcuts_in_resnet_cifar_add_two_projections_of_parameters():
    with torch.device("meta"):
        bad = arch.count_parameters(wrong.resnet_cifar_projection_shortcut(20))
    assert bad - 269_722 == (16 * 32 + 2 * 32) + (32 * 64 + 2 * 64)
