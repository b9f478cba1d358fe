"""The check of notebook 05's layer_table passes right implementations and fails each wrong one,
naming its mistake; a table right but for a contract detail earns part of the points."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from autograder import checks
from autograder.checks import counting
from autograder.kernel import measure
from autograder.kernel.wire import Codec
from course_utils.reference.counting import layer_table as reference_table
from tests.check_harness import MODEL_IMPORTS, standard_check_tests
from tests.kernel_grading import assert_plain, measured
from tests.wrong import architectures as wrong

FUNCTIONS = {"check_layer_table": ("layer_table",)}


def test_the_check_is_exported_from_autograder_checks_after_the_architectures():
    assert counting.__all__ == ["check_layer_table"]
    assert checks.check_layer_table is counting.check_layer_table
    names = checks.__all__
    assert names.index("check_count_parameters") < names.index("check_layer_table")


MISTAKES = [
    (checks.check_layer_table, (wrong.layer_table_macs_count_bias,), "layer_table/macs_count_bias"),
    (
        checks.check_layer_table,
        (wrong.layer_table_macs_forget_groups,),
        "layer_table/macs_forget_groups",
    ),
    (
        checks.check_layer_table,
        (wrong.layer_table_shapes_ignore_padding,),
        "layer_table/shapes_ignore_padding",
    ),
    (
        checks.check_layer_table,
        (wrong.layer_table_shapes_ignore_dilation,),
        "layer_table/shapes_ignore_dilation",
    ),
    (checks.check_layer_table, (wrong.layer_table_macs_doubled,), "layer_table/macs_doubled"),
    (
        checks.check_layer_table,
        (wrong.layer_table_linear_first_dim_only,),
        "layer_table/linear_first_dim_only",
    ),
    (
        checks.check_layer_table,
        (wrong.layer_table_params_every_call,),
        "layer_table/params_every_call",
    ),
    (checks.check_layer_table, (wrong.layer_table_container_rows,), "layer_table/container_rows"),
    (checks.check_layer_table, (wrong.layer_table_hooks_left,), "layer_table/hooks_left"),
]

NEAR_MISSES = [
    (
        checks.check_layer_table,
        (wrong.layer_table_output_shape_list,),
        "layer_table/output_shape_list",
    ),
    (
        checks.check_layer_table,
        (wrong.layer_table_counts_not_int,),
        "layer_table/counts_not_int",
    ),
    (
        checks.check_layer_table,
        (wrong.layer_table_mode_not_restored,),
        "layer_table/mode_not_restored",
    ),
]

# Hidden cases have no shared module and no padded-and-dilated conv for sure; these mistakes
# show on the random networks and the linear layer of every seed.
SHOWN_IN_HIDDEN = [m for m in MISTAKES if m[2].split("/")[1] in (
    "macs_count_bias", "macs_doubled", "container_rows", "linear_first_dim_only",
)]  # fmt: skip
# Hidden cases do not look at the model's mode after the call: leaving it in eval mode passes them.
NEAR_MISSES_IN_HIDDEN = [m for m in NEAR_MISSES if m[2] != "layer_table/mode_not_restored"]

TestStandardChecks = standard_check_tests(
    "05_architectures",
    FUNCTIONS,
    others=[(checks.check_layer_table, (reference_table,))],
    mistakes=MISTAKES,
    hidden_mistakes=SHOWN_IN_HIDDEN,
    near_misses=NEAR_MISSES,
    hidden_near_misses=NEAR_MISSES_IN_HIDDEN,
    wrong=wrong,
    imports=MODEL_IMPORTS,
)


def test_the_cases_have_the_worked_examples_numbers():
    cases = {case.name: case.args for case in counting._public()}
    totals = {}
    for name, (net, shape) in cases.items():
        rows = reference_table(net.build(), shape)
        totals[name.split(":")[0]] = (sum(r["params"] for r in rows), sum(r["macs"] for r in rows))
    assert totals["the lecture's AlexNet conv1 at 227x227"] == (34_944, 105_415_200)
    assert totals["LeNet5() at 28x28 (its pool runs twice)"] == (61_706, 416_520)
    assert totals["a grouped conv"][1] == 5_400
    assert totals["a padded, dilated, strided conv at 9x7"][1] == 1_080
    assert totals["VGG-16 at 224x224"][1] * 2 == 30_940_528_640
    assert totals["ResNet-50 at 224x224"][1] * 2 == 8_178_368_512
    assert totals["GoogLeNet at 224x224"][1] * 2 == 2_996_752_384


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_mistakes_tables_are_computed_like_the_reference_where_no_mistake_is_made(seed):
    # A mistake's prediction differs from the reference only by its mistake.
    cases = counting._public() + counting._hidden(np.random.default_rng(seed))
    for case in cases:
        net, shape = case.args
        calls = counting._calls(net.build(), shape)
        assert counting._table(calls) == counting._form(reference_table(net.build(), shape))


def test_a_failure_names_the_case_the_model_and_the_first_row_that_differs():
    with pytest.raises(AssertionError) as failure:
        checks.check_layer_table(wrong.layer_table_macs_forget_groups)
    first, inputs, row, hint = str(failure.value).splitlines()
    assert first.startswith('layer_table_macs_forget_groups: case "a grouped conv: 2 * 6')
    assert inputs == (
        "  inputs: model nn.Conv2d(4, 6, 3, padding=1, groups=2, bias=False), "
        "input_shape (2, 4, 5, 5)"
    )
    assert row == '  row 0 ("", Conv2d): macs is 10,800, expected 5,400.'
    assert hint.endswith("[layer_table/macs_forget_groups]")


def test_a_row_of_the_wrong_type_says_which_type_it_must_be():
    def layer_table(model, input_shape):
        rows = reference_table(model, input_shape)
        for row in rows:
            row["macs"] = torch.tensor(row["macs"])
        return rows

    with pytest.raises(AssertionError) as failure:
        checks.check_layer_table(layer_table)
    assert (
        'row 0 ("", Conv2d): macs is a torch.Tensor (tensor(105415200)), expected 105,415,200 '
        "(yours is another type, it must be an int)."
    ) in str(failure.value)


def test_missing_rows_and_missing_keys_are_named():
    def first_rows_only(model, input_shape):
        return reference_table(model, input_shape)[:1]

    with pytest.raises(AssertionError, match="returned 1 rows, expected 7") as failure:
        checks.check_layer_table(first_rows_only)
    assert "The first missing row is row 1: name 'pool', type 'MaxPool2d'" in str(failure.value)

    def no_macs(model, input_shape):
        return [
            {k: v for k, v in r.items() if k != "macs"} for r in reference_table(model, input_shape)
        ]

    with pytest.raises(AssertionError, match="row 0 of no_macs's table has no key 'macs'"):
        checks.check_layer_table(no_macs)


def test_an_answer_that_is_not_a_list_of_dicts_is_refused():
    with pytest.raises(AssertionError, match="must return a list of dicts, one per call"):
        checks.check_layer_table(
            lambda model, input_shape: tuple(reference_table(model, input_shape))
        )
    with pytest.raises(AssertionError, match="must return a list of dicts; row 0 is a tuple"):
        checks.check_layer_table(lambda model, shape: [tuple(r.values()) for r in reference_table(model, shape)])  # fmt: skip


def test_an_unwritten_function_is_told_it_is_not_written_yet():
    def layer_table(model, input_shape):
        raise NotImplementedError()

    with pytest.raises(AssertionError, match="not written yet"):
        checks.check_layer_table(layer_table)


def test_a_function_that_fails_on_the_meta_device_is_told_where_the_input_must_live():
    def layer_table(model, input_shape):
        rows = []
        model(torch.zeros(input_shape))  # on the CPU whatever the model's device
        return reference_table(model, input_shape) + rows

    with pytest.raises(AssertionError, match="VGG-16") as failure:
        checks.check_layer_table(layer_table)
    assert "on the device of the model's parameters" in str(failure.value)


def test_the_report_of_the_biggest_table_fits_the_wire():
    # GoogLeNet's 187 rows must fit the 1 MiB header of a reply from the kernel.
    report = measure.table_of_network(reference_table, ["googlenet"], [1, 3, 224, 224], "meta")
    buffers: list[bytes] = []
    header = Codec(lambda obj: False).encode(report, buffers)
    assert len(report["rows"]) == 187 and not buffers
    assert len(json.dumps(header)) < (1 << 20) // 4


def test_the_measurement_reports_plain_data_for_a_right_and_an_odd_answer():
    def odd(model, input_shape):
        rows = reference_table(model, input_shape)
        rows[0]["output_shape"] = torch.Size(rows[0]["output_shape"])
        return [*rows, ("not", "a dict"), {1: "a key that is no str", "macs": np.int64(3)}]

    for func in (reference_table, odd):
        assert_plain(measured("table_of_network", func, ["lenet5"], [2, 1, 28, 28], "cpu"))
