"""The checks of notebook 06 pass the notebook's solutions and fail every known mistake, naming it."""

import numpy as np
import pytest
import torch

from autograder.checks import (
    check_adjust_intensity,
    check_bilinear_sample,
    check_elastic_field,
    check_param_groups,
    check_random_flip,
    check_replace_head,
    check_rotate_scale,
    check_set_trainable,
    check_translate,
)
from tests.solutions import load_solutions
from tests.wrong import transfer as wrong

CHECKS = {
    "random_flip": check_random_flip,
    "translate": check_translate,
    "bilinear_sample": check_bilinear_sample,
    "rotate_scale": check_rotate_scale,
    "elastic_field": check_elastic_field,
    "adjust_intensity": check_adjust_intensity,
    "replace_head": check_replace_head,
    "set_trainable": check_set_trainable,
    "param_groups": check_param_groups,
}


@pytest.fixture(scope="module")
def solutions():
    return load_solutions("06_training_and_transfer")


@pytest.mark.parametrize("name", sorted(CHECKS))
@pytest.mark.parametrize("kind", ["public", "hidden"])
def test_check_passes_the_notebook_solution(solutions, name, kind, capsys):
    result = CHECKS[name](getattr(solutions, name), cases=kind)
    assert result.passed == result.total > 0
    assert f"{name}: {result.total}/{result.total} {kind} cases pass" in capsys.readouterr().out


WRONG = [
    (check_random_flip, wrong.random_flip_vertical, "flipped the rows"),
    (check_random_flip, wrong.random_flip_always, "always flipped"),
    (check_random_flip, wrong.random_flip_global_random, "draw from the rng you are given"),
    (check_random_flip, wrong.random_flip_changes_values, "must not change any pixel"),
    (check_translate, wrong.translate_rolls, "wraps around"),
    (check_translate, wrong.translate_swapped, "swapped dy and dx"),
    (check_translate, wrong.translate_reversed, "the other way"),
    (check_bilinear_sample, wrong.bilinear_sample_swapped, "swapped ys and xs"),
    (check_bilinear_sample, wrong.bilinear_sample_nearest, "nearest pixel"),
    (check_bilinear_sample, wrong.bilinear_sample_clamped, "counts as 0"),
    (check_rotate_scale, wrong.rotate_scale_clockwise, "clockwise"),
    (check_rotate_scale, wrong.rotate_scale_multiplies_scale, "multiplied by scale"),
    (check_rotate_scale, wrong.rotate_scale_about_corner, "top-left corner"),
    (check_rotate_scale, wrong.rotate_scale_degrees_as_radians, "np.deg2rad"),
    (check_elastic_field, wrong.elastic_field_not_smoothed, "smooth the noise"),
    (check_elastic_field, wrong.elastic_field_unnormalised_kernel, "by its sum"),
    (check_elastic_field, wrong.elastic_field_global_random, "draw from the rng"),
    (check_elastic_field, wrong.elastic_field_alpha_ignored, "doubling alpha"),
    (check_elastic_field, wrong.elastic_field_one_map, r"shape \(32, 32\), expected"),
    (check_adjust_intensity, wrong.adjust_intensity_about_zero, "about the mean"),
    (check_adjust_intensity, wrong.adjust_intensity_unclipped, "clip the result"),
    (check_adjust_intensity, wrong.adjust_intensity_channel_mean, "one mean per channel"),
    (check_replace_head, wrong.replace_head_no_return, "return the model"),
    (check_replace_head, wrong.replace_head_hard_coded_features, "model._fc.in_features"),
    (check_replace_head, wrong.replace_head_frozen, "must be trainable"),
    (check_replace_head, wrong.replace_head_appends_layer, "expected an nn.Linear"),
    (check_set_trainable, wrong.set_trainable_first_blocks, "FIRST num_blocks"),
    (check_set_trainable, wrong.set_trainable_forgets_top_layers, "_conv_head and"),
    (check_set_trainable, wrong.set_trainable_head_frozen, "always learn"),
    (check_set_trainable, wrong.set_trainable_off_by_one, "off-by-one"),
    (check_set_trainable, wrong.set_trainable_never_freezes, "nothing is frozen"),
    (check_set_trainable, wrong.set_trainable_no_range_check, "raise ValueError"),
    (check_param_groups, wrong.param_groups_lr_swapped, "learning rates are swapped"),
    (check_param_groups, wrong.param_groups_includes_frozen, "frozen parameter"),
    (check_param_groups, wrong.param_groups_head_twice, "more than one group"),
    (check_param_groups, wrong.param_groups_generators, "list of dicts"),
]


@pytest.mark.parametrize("check, impl, mistake", WRONG)
def test_check_fails_a_wrong_implementation_and_names_the_mistake(check, impl, mistake):
    with pytest.raises(AssertionError, match=mistake):
        check(impl)


def test_augmentation_checks_refuse_torch_inside_the_function():
    import torch

    def translate_with_torch(x, dy, dx):
        return torch.roll(torch.from_numpy(x), (dy, dx), dims=(1, 2)).numpy()

    with pytest.raises(AssertionError, match="NumPy exercise"):
        check_translate(translate_with_torch)


def test_a_stub_fails_with_not_written_yet():
    def set_trainable(model, num_blocks):
        raise NotImplementedError()

    with pytest.raises(AssertionError, match="not written yet"):
        check_set_trainable(set_trainable)


def test_the_guard_refuses_torch_that_only_shows_when_the_function_runs():
    # No global or attribute the static reading could see names torch: the guard, around
    # every call the measurement makes, stops it.
    import sys

    def random_flip(x, rng):
        library = sys.modules["tor" + "ch"]
        if rng.random() < 0.5:
            return getattr(library, "fl" + "ip")(library.from_numpy(x.copy()), (2,)).numpy()
        return x.copy()

    def elastic_field(shape, alpha, sigma, rng):
        library = sys.modules["tor" + "ch"]
        noise = rng.uniform(-1.0, 1.0, size=(2, *shape))
        return alpha * getattr(library, "ze" + "ros")(2, *shape).numpy() + noise

    with pytest.raises(AssertionError, match="your code called torch"):
        check_random_flip(random_flip)
    with pytest.raises(AssertionError, match="your code called torch"):
        check_elastic_field(elastic_field)


# --- the measurements' reports cross the wire to the grader: plain data only --------------------


def _assert_plain(value, where="report"):
    """Fail unless ``value`` is dict (str keys) / list / str / int / float / bool / None /
    real numeric np.ndarray, recursively."""
    if value is None or type(value) in (str, int, float, bool):
        return
    if type(value) is np.ndarray:
        assert value.dtype.kind in "biuf", f"{where} is an array of dtype {value.dtype}"
        return
    if type(value) is list:
        for index, item in enumerate(value):
            _assert_plain(item, f"{where}[{index}]")
        return
    if type(value) is dict:
        for key, item in value.items():
            assert type(key) is str, f"{where} has the key {key!r}, not a str"
            _assert_plain(item, f"{where}[{key!r}]")
        return
    raise AssertionError(f"{where} is a {type(value).__qualname__}, not plain data")


@pytest.mark.parametrize(
    "value",
    [(1, 2), {"a": [np.random.default_rng(0)]}, {1: "a"}, np.array(["a"]), np.float64(1.0)],
    ids=["tuple", "generator", "int key", "str array", "numpy scalar"],
)
def test_assert_plain_refuses_what_cannot_cross(value):
    with pytest.raises(AssertionError):
        _assert_plain(value)


def _raises(*args, **kwargs):
    raise RuntimeError("no")


def _stub(*args, **kwargs):
    raise NotImplementedError()


def test_calls_with_one_generator_reports_plain_data(solutions):
    from autograder.checks._legacy_rules import measure

    x = np.random.default_rng(1).random((3, 4, 5))
    report = measure("calls_with_one_generator", solutions.random_flip, [x], 7, 20)
    _assert_plain(report)
    assert report["outputs"].shape == (20, 3, 4, 5) and set(report) == {"outputs"}
    for odd in (lambda x, rng: [1.0], lambda x, rng: x.astype(complex), _raises):
        report = measure("calls_with_one_generator", odd, [x], 7, 20)
        _assert_plain(report)
        assert report["index"] == 0 and ("odd" in report or "error" in report)
    shapes = iter([(3, 4, 5), (3, 5, 4)])
    report = measure("calls_with_one_generator", lambda x, rng: np.zeros(next(shapes)), [x], 0, 2)
    _assert_plain(report)
    assert report["index"] == 1 and report["odd"]["shape"] == [3, 5, 4]


def test_calls_with_fresh_generators_reports_plain_data(solutions):
    import torch

    from autograder.checks._legacy_rules import measure

    calls = [[[(8, 9), 2.0, 2.0], 0], [[(8, 9), 4.0, 2.0], 1]]
    report = measure("calls_with_fresh_generators", solutions.elastic_field, calls)
    _assert_plain(report)
    assert [o.shape for o in report["outputs"]] == [(2, 8, 9)] * 2
    tensor = measure("calls_with_fresh_generators", lambda *a: torch.zeros(2), calls)
    stub = measure("calls_with_fresh_generators", _stub, calls)
    for report in (tensor, stub):
        _assert_plain(report)
    assert tensor["odd"]["type"] == "torch.Tensor"
    assert stub["error"]["type"] == "NotImplementedError"


SMALL = ["small", 3, 4, 6, 1000]


def test_head_replacement_reports_plain_data(solutions):
    from autograder.checks._legacy_rules import measure

    report = measure("head_replacement", solutions.replace_head, SMALL, 5)
    _assert_plain(report)
    assert report["returned"] == "same"
    head = report["head"]
    assert head["linear"] and not head["old"]
    assert (head["in_features"], head["out_features"], head["bias"]) == (6, 5, True)
    assert sorted(report["changed"]) == ["_fc.bias", "_fc.weight"]
    for impl in (wrong.replace_head_no_return, wrong.replace_head_appends_layer, _raises):
        _assert_plain(measure("head_replacement", impl, SMALL, 5))


def test_trainable_after_reports_plain_data(solutions):
    from autograder.checks._legacy_rules import measure

    report = measure("trainable_after", solutions.set_trainable, SMALL, 1)
    _assert_plain(report)
    assert report["trainable"] == sorted(
        ["_fc.weight", "_fc.bias", "_conv_head.weight", "_bn1.weight", "_bn1.bias"]
        + ["_blocks.2.0.weight", "_blocks.2.1.weight", "_blocks.2.1.bias"]
    )
    error = measure("trainable_after", solutions.set_trainable, SMALL, 9)
    _assert_plain(error)
    assert "ValueError" in error["error"]["types"]
    _assert_plain(measure("trainable_after", lambda model, k: 3, SMALL, 1))


def test_optimizer_groups_reports_plain_data(solutions):
    from autograder.checks._legacy_rules import measure

    trainable = ["_fc.weight", "_fc.bias", "_bn1.weight"]
    report = measure("optimizer_groups", solutions.param_groups, SMALL, trainable, 0.1, 0.5)
    _assert_plain(report)
    assert [g["params"] for g in report["groups"]] == [["_fc.weight", "_fc.bias"], ["_bn1.weight"]]
    assert [g["values"]["lr"] for g in report["groups"]] == [{"number": 0.1}, {"number": 0.05}]

    def odd_groups(model, lr, backbone_factor=0.1):
        stranger = torch.nn.Parameter(torch.zeros(1))
        return [{"params": [stranger, model._fc.bias], 1: "x"}, {"params": 3, "lr": "fast"}]

    report = measure("optimizer_groups", odd_groups, SMALL, trainable, 0.1, 0.5)
    _assert_plain(report)
    first, second = report["groups"]
    assert first["params"] == [None, "_fc.bias"] and first["keys"] == ["params", "1"]
    assert second["params"] is None and second["params_answer"] == "a int (3)"
    assert second["values"]["lr"] == {"answer": "a str ('fast')"}
    for impl in (wrong.param_groups_generators, _raises):
        _assert_plain(measure("optimizer_groups", impl, SMALL, trainable, 0.1, 0.5))


def test_the_checks_describe_an_answer_with_the_measurements_words():
    from autograder.checks._compare import describe_answer
    from autograder.kernel.measure import describe

    assert describe_answer is describe  # one text, wherever the answer was looked at
    assert describe(None) == "None (did you forget a `return`?)"
    assert describe(np.zeros((2, 3))) == "one numpy.ndarray of shape (2, 3)"
    assert describe((np.zeros(2), 4)).startswith("a tuple of 2 (numpy.ndarray of shape (2,), ")
    assert describe(torch.zeros(2)).startswith("a torch.Tensor (")
    assert describe("x" * 200).endswith("...)") and len(describe("x" * 200)) < 100


# --- through a kernel: the student's functions are proxies, the measurements run there ---------

MEASURED = [check_random_flip, check_elastic_field, check_replace_head]
MEASURED += [check_set_trainable, check_param_groups]


@pytest.mark.slow
def test_through_a_kernel_the_measured_checks_pass_the_solutions_and_name_each_mistake(tmp_path):
    from tests.kernel_grading import expect_mistake, failing_tests, module_body, solutions_source

    tests = [
        f"from autograder.checks import {check.__name__}\n"
        f"{check.__name__}({check.__name__.removeprefix('check_')})\n"
        f"{check.__name__}({check.__name__.removeprefix('check_')}, cases='hidden')\n"
        for check in MEASURED
    ]
    tests += [
        expect_mistake(check.__name__, impl.__name__, mistake)
        for check, impl, mistake in WRONG
        if check in MEASURED
    ]
    student = solutions_source("06_training_and_transfer") + "\n\n" + module_body(wrong)
    imports = "import random\nimport numpy as np\nimport torch\n"
    assert failing_tests(tmp_path, imports, student, tests) == []
