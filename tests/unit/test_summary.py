"""layer_table and count_flops agree with hand-computed shapes, parameters and FLOPs."""

import pytest
import torch
from torch import nn

from course_utils.reference import architectures as arch
from course_utils.reference.counting import layer_table as reference_layer_table
from course_utils.summary import count_flops, flops_by_module, format_rows, layer_table


def test_count_flops_counts_a_multiply_add_as_two_flops():
    # conv 3 -> 8, 3x3, on a 10x10 output: 8 * 10 * 10 * (3 * 9) multiply-adds.
    model = nn.Conv2d(3, 8, 3, padding=1)
    assert count_flops(model, (1, 3, 10, 10)) == 2 * 8 * 10 * 10 * 27


def test_lenet5_table_has_the_hand_computed_shapes_parameters_and_flops():
    table = layer_table(arch.LeNet5(), (1, 1, 28, 28))
    rows = {row.name: row for row in table}
    assert rows["conv1"].output_shape == (1, 6, 28, 28) and rows["conv1"].params == 156
    assert rows["conv1"].flops == 2 * 6 * 28 * 28 * 25
    assert rows["conv2"].output_shape == (1, 16, 10, 10)
    assert rows["fc1"].params == 400 * 120 + 120 and rows["fc1"].flops == 2 * 400 * 120
    assert table.total_params == 61_706
    assert "61,706 parameters" in str(table)


def test_vgg16_on_meta_costs_nothing_and_gives_15_5_giga_multiply_adds():
    with torch.device("meta"):
        model = arch.VGG("D")
    flops = count_flops(model, (1, 3, 224, 224))
    assert flops == 30_940_528_640  # conv + fc multiply-adds, times 2
    by_module = flops_by_module(model, (1, 3, 224, 224))
    assert by_module["features"] + by_module["classifier"] == flops


def test_layer_table_restores_training_mode():
    model = arch.LeNet5().train()
    layer_table(model, (1, 1, 28, 28))
    assert model.training


def test_layer_table_refuses_a_bad_input_size():
    with pytest.raises(ValueError, match="input_size"):
        layer_table(arch.LeNet5(), (1, 1, 28.0, 28))


def test_format_rows_prints_a_layer_table_with_its_totals_and_a_filter():
    rows = reference_layer_table(arch.LeNet5(), (1, 1, 28, 28))
    text = format_rows(rows)
    assert "conv2  Conv2d     [1, 16, 10, 10]   2,416  240,000" in text
    assert text.splitlines()[-1].startswith(
        "7 rows: 61,706 parameters, 416,520 multiply-accumulates"
    )
    only = format_rows(rows, types=("Linear",))
    assert "conv1" not in only and "fc3" in only and "61,706 parameters" in only
    with pytest.raises(ValueError, match="'macs'"):
        format_rows([{"name": "x", "type": "ReLU", "output_shape": (1,), "params": 0}])
