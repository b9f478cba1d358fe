"""The checks of notebook 06's transfer learning pass the notebook's solutions and fail every
known mistake, naming it; the measurements they rest on report plain data."""

import numpy as np
import pytest
import torch

from autograder.checks import check_param_groups, check_replace_head, check_set_trainable
from autograder.checks import transfer as transfer_checks
from tests.check_harness import standard_check_tests
from tests.kernel_grading import assert_plain, measured
from tests.solutions import load_solutions
from tests.wrong import transfer as wrong


@pytest.fixture(scope="module")
def solutions():
    return load_solutions("06_training_and_transfer")


# check -> the names of the solution functions it takes, in notebook order.
FUNCTIONS = {
    "check_replace_head": ("replace_head",),
    "check_set_trainable": ("set_trainable",),
    "check_param_groups": ("param_groups",),
}

MISTAKES = [
    (check_replace_head, (wrong.replace_head_no_return,), "return the model"),
    (
        check_replace_head,
        (wrong.replace_head_hard_coded_features,),
        "replace_head/hard_coded_features",
    ),
    (check_replace_head, (wrong.replace_head_frozen,), "must be trainable"),
    (check_replace_head, (wrong.replace_head_appends_layer,), "expected an nn.Linear"),
    (check_set_trainable, (wrong.set_trainable_first_blocks,), "set_trainable/first_blocks"),
    (
        check_set_trainable,
        (wrong.set_trainable_forgets_top_layers,),
        "set_trainable/forgets_top_layers",
    ),
    (check_set_trainable, (wrong.set_trainable_head_frozen,), "set_trainable/head_frozen"),
    (check_set_trainable, (wrong.set_trainable_off_by_one,), "set_trainable/off_by_one"),
    (check_set_trainable, (wrong.set_trainable_never_freezes,), "set_trainable/never_freezes"),
    (check_set_trainable, (wrong.set_trainable_no_range_check,), "raise ValueError"),
    (check_param_groups, (wrong.param_groups_lr_swapped,), "param_groups/lr_swapped"),
    (check_param_groups, (wrong.param_groups_includes_frozen,), "param_groups/includes_frozen"),
    (check_param_groups, (wrong.param_groups_head_twice,), "param_groups/head_twice"),
    (check_param_groups, (wrong.param_groups_generators,), "list of dicts"),
]

# Through a kernel the student's functions are proxies, and the measurements run there.
TestStandardChecks = standard_check_tests(
    "06_training_and_transfer",
    FUNCTIONS,
    modules=[transfer_checks],
    mistakes=MISTAKES,
    wrong=wrong,
    imports="import random\nimport numpy as np\nimport torch\n",
)


def test_a_stub_fails_with_not_written_yet():
    def set_trainable(model, num_blocks):
        raise NotImplementedError()

    with pytest.raises(AssertionError, match="not written yet"):
        check_set_trainable(set_trainable)


# --- the measurements' reports cross the wire to the grader: plain data only --------------------


def _raises(*args, **kwargs):
    raise RuntimeError("no")


SMALL = ["small", 3, 4, 6, 1000]


def test_head_replacement_reports_plain_data(solutions):
    report = measured("head_replacement", solutions.replace_head, SMALL, 5)
    assert_plain(report)
    assert report["returned"] == "same"
    head = report["head"]
    assert head["linear"] and not head["old"]
    assert (head["in_features"], head["out_features"], head["bias"]) == (6, 5, True)
    assert sorted(report["changed"]) == ["_fc.bias", "_fc.weight"]
    for impl in (wrong.replace_head_no_return, wrong.replace_head_appends_layer, _raises):
        assert_plain(measured("head_replacement", impl, SMALL, 5))


def test_trainable_after_reports_plain_data(solutions):
    report = measured("trainable_after", solutions.set_trainable, SMALL, 1)
    assert_plain(report)
    assert report["trainable"] == sorted(
        ["_fc.weight", "_fc.bias", "_conv_head.weight", "_bn1.weight", "_bn1.bias"]
        + ["_blocks.2.0.weight", "_blocks.2.1.weight", "_blocks.2.1.bias"]
    )
    error = measured("trainable_after", solutions.set_trainable, SMALL, 9)
    assert_plain(error)
    assert "ValueError" in error["error"]["types"]
    assert_plain(measured("trainable_after", lambda model, k: 3, SMALL, 1))


def test_optimizer_groups_reports_plain_data(solutions):
    trainable = ["_fc.weight", "_fc.bias", "_bn1.weight"]
    report = measured("optimizer_groups", solutions.param_groups, SMALL, trainable, 0.1, 0.5)
    assert_plain(report)
    assert [g["params"] for g in report["groups"]] == [["_fc.weight", "_fc.bias"], ["_bn1.weight"]]
    assert [g["values"]["lr"] for g in report["groups"]] == [{"number": 0.1}, {"number": 0.05}]

    def odd_groups(model, lr, backbone_factor=0.1):
        stranger = torch.nn.Parameter(torch.zeros(1))
        return [{"params": [stranger, model._fc.bias], 1: "x"}, {"params": 3, "lr": "fast"}]

    report = measured("optimizer_groups", odd_groups, SMALL, trainable, 0.1, 0.5)
    assert_plain(report)
    first, second = report["groups"]
    assert first["params"] == [None, "_fc.bias"] and first["keys"] == ["params", "1"]
    assert second["params"] is None and second["params_answer"] == "a int (3)"
    assert second["values"]["lr"] == {"answer": "a str ('fast')"}
    for impl in (wrong.param_groups_generators, _raises):
        assert_plain(measured("optimizer_groups", impl, SMALL, trainable, 0.1, 0.5))


def test_the_checks_describe_an_answer_with_the_measurements_words():
    from autograder.checks._engine import describe_answer
    from autograder.kernel.measure import describe

    assert describe_answer is describe  # one text, wherever the answer was looked at
    assert describe(None) == "None (did you forget a `return`?)"
    assert describe(np.zeros((2, 3))) == "one numpy.ndarray of shape (2, 3)"
    assert describe((np.zeros(2), 4)).startswith("a tuple of 2 (numpy.ndarray of shape (2,), ")
    assert describe(torch.zeros(2)).startswith("a torch.Tensor (")
    assert describe("x" * 200).endswith("...)") and len(describe("x" * 200)) < 100
