"""The checks of notebook 06's random augmentations pass the notebook's solutions and fail
every known mistake, naming it; the measurements they rest on report plain data."""

import numpy as np
import pytest

from autograder.checks import check_elastic_field, check_random_flip
from autograder.checks import random_augment as augment_checks
from tests.check_harness import standard_check_tests
from tests.kernel_grading import assert_plain, measured
from tests.solutions import load_solutions
from tests.wrong import random_augment as wrong


@pytest.fixture(scope="module")
def solutions():
    return load_solutions("06_training_and_transfer")


# check -> the names of the solution functions it takes, in notebook order.
FUNCTIONS = {"check_random_flip": ("random_flip",), "check_elastic_field": ("elastic_field",)}

MISTAKES = [
    (check_random_flip, (wrong.random_flip_vertical,), "random_flip/vertical"),
    (check_random_flip, (wrong.random_flip_same_every_call,), "random_flip/same_every_call"),
    (check_random_flip, (wrong.random_flip_global_random,), "random_flip/global_random"),
    (check_random_flip, (wrong.random_flip_changes_values,), "must not change any pixel"),
    (check_elastic_field, (wrong.elastic_field_not_smoothed,), "elastic_field/not_smoothed"),
    (
        check_elastic_field,
        (wrong.elastic_field_unnormalised_kernel,),
        "elastic_field/unnormalised_kernel",
    ),
    (check_elastic_field, (wrong.elastic_field_global_random,), "elastic_field/global_random"),
    (check_elastic_field, (wrong.elastic_field_alpha_ignored,), "doubling alpha"),
    (check_elastic_field, (wrong.elastic_field_one_map,), r"shape \(32, 32\), expected"),
]

# Through a kernel the student's functions are proxies, and the measurements run there.
TestStandardChecks = standard_check_tests(
    "06_training_and_transfer",
    FUNCTIONS,
    modules=[augment_checks],
    mistakes=MISTAKES,
    wrong=wrong,
    imports="import random\nimport numpy as np\nimport torch\n",
)


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


@pytest.mark.parametrize(
    "value",
    [(1, 2), {"a": [np.random.default_rng(0)]}, {1: "a"}, np.array(["a"]), np.float64(1.0)],
    ids=["tuple", "generator", "int key", "str array", "numpy scalar"],
)
def test_assert_plain_refuses_what_cannot_cross(value):
    with pytest.raises(AssertionError):
        assert_plain(value)


def _raises(*args, **kwargs):
    raise RuntimeError("no")


def _stub(*args, **kwargs):
    raise NotImplementedError()


def test_calls_with_one_generator_reports_plain_data(solutions):
    x = np.random.default_rng(1).random((3, 4, 5))
    report = measured("calls_with_one_generator", solutions.random_flip, [x], 7, 20)
    assert_plain(report)
    assert report["outputs"].shape == (20, 3, 4, 5) and set(report) == {"outputs"}
    for odd in (lambda x, rng: [1.0], lambda x, rng: x.astype(complex), _raises):
        report = measured("calls_with_one_generator", odd, [x], 7, 20)
        assert_plain(report)
        assert report["index"] == 0 and ("odd" in report or "error" in report)
    shapes = iter([(3, 4, 5), (3, 5, 4)])
    report = measured("calls_with_one_generator", lambda x, rng: np.zeros(next(shapes)), [x], 0, 2)
    assert_plain(report)
    assert report["index"] == 1 and report["odd"]["shape"] == [3, 5, 4]


def test_calls_with_fresh_generators_reports_plain_data(solutions):
    import torch

    calls = [[[(8, 9), 2.0, 2.0], 0], [[(8, 9), 4.0, 2.0], 1]]
    report = measured("calls_with_fresh_generators", solutions.elastic_field, calls)
    assert_plain(report)
    assert [o.shape for o in report["outputs"]] == [(2, 8, 9)] * 2
    tensor = measured("calls_with_fresh_generators", lambda *a: torch.zeros(2), calls)
    stub = measured("calls_with_fresh_generators", _stub, calls)
    for report in (tensor, stub):
        assert_plain(report)
    assert tensor["odd"]["type"] == "torch.Tensor"
    assert stub["error"]["type"] == "NotImplementedError"
