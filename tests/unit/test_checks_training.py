"""The checks of notebook 02's training: train_epoch, the two graded sanity checks and the
capstone pass the notebook's solution and fail every known mistake, naming it; the capstone's
verdict reads no clock; and through a kernel, as the sandbox grades, they judge alike."""

import itertools
import time

import numpy as np
import pytest

from autograder.checks import (
    check_capstone,
    check_sanity_initial_loss,
    check_sanity_overfit,
    check_train_epoch,
)
from course_utils.data import load_fashion_mnist
from tests.check_harness import assert_names_the_mistake, fails_each_mistake, passes_the_solution
from tests.solutions import run_cells
from tests.wrong import convnet as wrong

# --- train_epoch --------------------------------------------------------------------------------

test_check_passes_the_notebook_solution = passes_the_solution(
    "02_layers", {"check_train_epoch": ("train_epoch",)}
)


def train_epoch_returns_nothing(model, X, y, update_rule, configs, batch_size=100, rng=None):
    wrong.CORRECT.train_epoch(model, X, y, update_rule, configs, batch_size, rng)


test_check_fails_a_wrong_loop_and_names_the_mistake = fails_each_mistake(
    [(check_train_epoch, (loop,), f"train_epoch/{m}") for m, loop in wrong.WRONG_LOOPS.items()]
    + [
        (check_train_epoch, (wrong.train_epoch_missing_config,), "train_epoch/missing_config"),
        (check_train_epoch, (train_epoch_returns_nothing,), "must return the list of the steps"),
    ]
)


def test_check_train_epoch_passes_the_right_loop_on_hidden_cases(capsys):
    result = check_train_epoch(wrong.CORRECT.train_epoch, cases="hidden")
    assert result.passed == result.total == 5
    assert "train_epoch: 5/5 hidden cases pass" in capsys.readouterr().out


# --- the initial-loss sanity check ---------------------------------------------------------------


@pytest.fixture(scope="module")
def notebook():
    """The notebook's data, sanity and overfit cells, run on its reference solutions."""
    return run_cells("02_layers", "sgd", "load_data", "initial_loss", "overfit")


def _initial_losses(model_class, X, y, reg=10.0, weight_scale=1e-3):
    """The notebook's initial-loss experiment with ``model_class``."""
    model = model_class(
        input_dim=(1, 28, 28),
        num_filters=8,
        filter_size=3,
        hidden_dim=50,
        weight_scale=weight_scale,
        dtype=np.float64,
        seed=0,
    )
    model.reg = 0.0
    initial, _ = model.loss(X, y)
    model.reg = reg
    regularised, _ = model.loss(X, y)
    return model, initial, regularised, reg


@pytest.mark.parametrize("cases", ["public", "hidden"])
def test_check_sanity_initial_loss_passes_the_notebooks_run(notebook, cases, capsys):
    arguments = [notebook[n] for n in ("sanity_model", "initial_loss", "regularised_loss")]
    result = check_sanity_initial_loss(*arguments, notebook["SANITY_REG"], cases=cases)
    assert result.passed == result.total == 1
    assert f"sanity_model: 1/1 {cases} cases pass" in capsys.readouterr().out


@pytest.mark.parametrize("cases", ["public", "hidden"])
@pytest.mark.parametrize(
    "mistake", ["summed_over_batch", "reg_without_half", "reg_missing_from_loss"]
)
def test_check_sanity_initial_loss_names_the_mistake_of_a_wrong_model(notebook, mistake, cases):
    X, y = notebook["X_sanity"], notebook["y_sanity"]
    run = _initial_losses(wrong.WRONG_MODELS[mistake], X, y)
    with pytest.raises(AssertionError) as failure:
        check_sanity_initial_loss(*run, cases=cases)
    assert_names_the_mistake(str(failure.value), f"sanity_initial_loss/{mistake}")


def test_check_sanity_initial_loss_needs_small_weights_and_numbers(notebook):
    X, y = notebook["X_sanity"], notebook["y_sanity"]
    model, initial, regularised, reg = _initial_losses(wrong.CORRECT.ThreeLayerConvNet, X, y)
    with pytest.raises(AssertionError, match="initial_loss must be a number; it is a str"):
        check_sanity_initial_loss(model, "2.30", regularised, reg)
    large = _initial_losses(wrong.CORRECT.ThreeLayerConvNet, X, y, weight_scale=0.1)
    with pytest.raises(AssertionError, match="weights are not small: W1 has standard deviation"):
        check_sanity_initial_loss(*large)


# --- the overfitting sanity check ----------------------------------------------------------------


def _sgd(w, dw, config=None):
    config = {} if config is None else config
    config.setdefault("learning_rate", 1e-2)
    return w - config["learning_rate"] * dw, config


def _overfit(notebook, learning_rate, steps, model_class=wrong.CORRECT.ThreeLayerConvNet):
    """The notebook's overfitting experiment, with tests.wrong's fast model and loop."""
    X, y = notebook["X_overfit"], notebook["y_overfit"]
    model = model_class(
        input_dim=(1, 28, 28), num_filters=8, filter_size=3, hidden_dim=50, weight_scale=0.1, seed=0
    )
    configs = {name: {"learning_rate": learning_rate} for name in model.params}
    rng, losses = np.random.default_rng(0), []
    while len(losses) < steps:
        with np.errstate(all="ignore"):
            losses += wrong.CORRECT.train_epoch(model, X, y, _sgd, configs, 25, rng)
    return model, X, y, losses[:steps]


@pytest.mark.parametrize("cases", ["public", "hidden"])
def test_check_sanity_overfit_passes_the_notebooks_run(notebook, cases, capsys):
    arguments = [notebook[n] for n in ("overfit_model", "X_overfit", "y_overfit", "overfit_losses")]
    result = check_sanity_overfit(*arguments, cases=cases)
    assert result.passed == result.total == 1
    assert f"overfit_model: 1/1 {cases} cases pass" in capsys.readouterr().out


def test_check_sanity_overfit_names_a_flat_loss_and_a_diverged_one(notebook):
    for learning_rate, hint in ((1e-7, "flat_loss"), (1e4, "nan_loss")):
        with pytest.raises(AssertionError) as failure:
            check_sanity_overfit(*_overfit(notebook, learning_rate, steps=20))
        assert_names_the_mistake(str(failure.value), f"sanity_overfit/{hint}")


def test_check_sanity_overfit_wants_50_training_images_their_labels_and_300_steps(notebook):
    model, X, y, losses = (
        notebook["overfit_model"],
        notebook["X_overfit"],
        notebook["y_overfit"],
        notebook["overfit_losses"],
    )
    wrong_runs = {
        "y_overfit\\[0\\] is .*, but that image's label is": (X, np.roll(y, 1), losses),
        "X_overfit\\[0\\] is not an image of the training subset": (X * 0.5, y, losses),
        "X_overfit\\[0\\] and X_overfit\\[1\\] are the same image": (
            X[[0] * 50],
            y[[0] * 50],
            losses,
        ),
        "X_overfit must be 50 training images": (X[:40], y[:40], losses),
        "holds 400 losses: the check asks for 1 to 300": (X, y, list(losses) * 2),
    }
    for message, (images, labels, run) in wrong_runs.items():
        with pytest.raises(AssertionError, match=message):
            check_sanity_overfit(model, images, labels, run)


# --- the capstone ---------------------------------------------------------------------------------


class _Lookup:
    """A stand-in for a trained model: it recognises the test images by their pixels and
    answers the right label for the first ``right`` of them, a wrong one for the others."""

    def __init__(self, right: int, W1: np.ndarray) -> None:
        X, y = load_fashion_mnist("test")
        self.answers = {
            row.tobytes(): int(label if i < right else (label + 1) % 10)
            for i, (row, label) in enumerate(zip(X.reshape(len(X), -1), y))
        }
        self.params = {"W1": W1}

    def loss(self, X, y=None):
        return np.eye(10)[[self.answers[row.tobytes()] for row in X.reshape(len(X), -1)]]


FILTERS = np.random.default_rng(0).standard_normal((8, 1, 3, 3))
LOSSES = [1.0] * 400


def _capstone(right: int, baseline_right: int) -> tuple:
    """check_capstone's arguments: the model answers ``right`` of the 2,000 test images right,
    its baseline ``baseline_right``; both trained for 400 steps, the baseline's filters kept."""
    model, baseline = _Lookup(right, FILTERS + 0.1), _Lookup(baseline_right, FILTERS.copy())
    return model, baseline, FILTERS.copy(), LOSSES, LOSSES


@pytest.mark.parametrize("cases", ["public", "hidden"])
def test_check_capstone_passes_a_model_over_the_bar_and_ahead_of_its_baseline(cases, capsys):
    result = check_capstone(*_capstone(1500, 1460), cases=cases)  # 75%, 73%
    assert result.passed == result.total == 1
    assert f"capstone_model: 1/1 {cases} cases pass" in capsys.readouterr().out


def test_check_capstone_fails_a_model_under_the_bar_or_too_close_to_its_baseline():
    model, baseline, filters, losses, _ = _capstone(1600, 1500)
    failures = {
        "capstone_model reached 74.9% .* baseline 50.0%; the pass mark is 75%": _capstone(
            1498, 1000
        ),
        "a lead of 1.5 points, where the check asks for 2": _capstone(1600, 1570),
        "the baseline's W1 is not initial_filters": (model, model, filters, losses, losses),
        "capstone_model's W1 still equals initial_filters": (
            baseline,
            baseline,
            filters,
            losses,
            losses,
        ),
        "capstone_losses must hold the losses of the 400 steps": (
            model,
            baseline,
            filters,
            losses[:200],
            losses,
        ),
        "baseline_losses must hold the losses of the 400 steps": (
            model,
            baseline,
            filters,
            losses,
            "losses",
        ),
    }
    for message, arguments in failures.items():
        with pytest.raises(AssertionError, match=message):
            check_capstone(*arguments)


def _verdict(arguments: tuple) -> str:
    try:
        return repr(check_capstone(*arguments))
    except AssertionError as failure:
        return f"failed: {failure}"


CLOCKS = {
    "stopped": lambda: lambda: 1000.0,
    "crawling (a nanosecond per reading)": lambda: itertools.count(1000.0, 1e-9).__next__,
    "racing (an hour per reading)": lambda: itertools.count(1000.0, 3600.0).__next__,
}


@pytest.mark.parametrize("clock", list(CLOCKS))
def test_the_capstones_verdict_is_the_same_under_any_clock(monkeypatch, clock):
    runs = {"passes": _capstone(1600, 1500), "fails": _capstone(1600, 1570)}
    expected = {name: _verdict(arguments) for name, arguments in runs.items()}
    assert expected["passes"].startswith("capstone_model: 1/1")
    assert expected["fails"].startswith("failed:")
    for name in ("time", "monotonic", "perf_counter", "process_time", "thread_time"):
        seconds = CLOCKS[clock]()
        monkeypatch.setattr(time, name, seconds)
        monkeypatch.setattr(time, f"{name}_ns", lambda seconds=seconds: int(seconds() * 1e9))
    assert {name: _verdict(arguments) for name, arguments in runs.items()} == expected


# --- through a kernel: models, loops and values live there, the checks judge here ---------------

KERNEL_RUNS = """
X_train, y_train = load_fashion_mnist("train")
SANITY_REG = 10.0
sanity_model = ThreeLayerConvNet(input_dim=(1, 28, 28), num_filters=8, filter_size=3,
                                 hidden_dim=50, weight_scale=1e-3, dtype=np.float64, seed=0)
X_sanity, y_sanity = X_train[:50].astype(np.float64), y_train[:50]
sanity_model.reg = 0.0
initial_loss, _ = sanity_model.loss(X_sanity, y_sanity)
sanity_model.reg = SANITY_REG
regularised_loss, _ = sanity_model.loss(X_sanity, y_sanity)
halved = ThreeLayerConvNet_reg_without_half(input_dim=(1, 28, 28), num_filters=8, filter_size=3,
                                            hidden_dim=50, dtype=np.float64, seed=0)
halved.reg = 0.0
halved_initial, _ = halved.loss(X_sanity, y_sanity)
halved.reg = SANITY_REG
halved_regularised, _ = halved.loss(X_sanity, y_sanity)


def sgd(w, dw, config=None):
    config = {} if config is None else config
    config.setdefault("learning_rate", 1e-2)
    return w - config["learning_rate"] * dw, config


X_overfit, y_overfit = X_train[:50], y_train[:50]
overfit_model = ThreeLayerConvNet(input_dim=(1, 28, 28), num_filters=8, filter_size=3,
                                  hidden_dim=50, weight_scale=0.1, seed=0)
overfit_configs = {name: {"learning_rate": 0.1} for name in overfit_model.params}
overfit_rng = np.random.default_rng(0)
overfit_losses = []
while len(overfit_losses) < 200:
    overfit_losses += train_epoch(overfit_model, X_overfit, y_overfit, sgd, overfit_configs,
                                  batch_size=25, rng=overfit_rng)


class Lookup:
    def __init__(self, right, W1):
        X, y = load_fashion_mnist("test")
        self.answers = {row.tobytes(): int(label if i < right else (label + 1) % 10)
                        for i, (row, label) in enumerate(zip(X.reshape(len(X), -1), y))}
        self.params = {"W1": W1}

    def loss(self, X, y=None):
        return np.eye(10)[[self.answers[row.tobytes()] for row in X.reshape(len(X), -1)]]


initial_filters = np.random.default_rng(0).standard_normal((8, 1, 3, 3))
capstone_model, baseline = Lookup(1600, initial_filters + 0.1), Lookup(1500, initial_filters.copy())
close_baseline = Lookup(1570, initial_filters.copy())
capstone_losses = baseline_losses = [1.0] * 400
"""


@pytest.mark.slow
def test_through_a_kernel_the_training_checks_pass_the_solutions_and_name_each_mistake(tmp_path):
    from tests.kernel_grading import expect_mistake, failing_tests, module_body, solutions_source

    imports = (
        "import types\n\nimport numpy as np\n\nfrom course_utils.data import load_fashion_mnist\n"
    )

    def both(call: str) -> str:
        hidden = ", cases='hidden'"
        return "\n" + call.format("") + "\n" + call.format(hidden) + "\n"

    tests = [
        "from autograder.checks import *\n" + both("check_train_epoch(train_epoch{})"),
        "from autograder.checks import *\n"
        + both(
            "check_sanity_initial_loss(sanity_model, initial_loss, regularised_loss, SANITY_REG{})"
        ),
        "from autograder.checks import *\n"
        + both("check_sanity_overfit(overfit_model, X_overfit, y_overfit, overfit_losses{})"),
        "from autograder.checks import *\n"
        + both(
            "check_capstone(capstone_model, baseline, initial_filters, capstone_losses, "
            "baseline_losses{})"
        ),
        expect_mistake(
            "check_sanity_initial_loss",
            "halved, halved_initial, halved_regularised, SANITY_REG",
            r"\[sanity_initial_loss/reg_without_half\]",
        ),
        expect_mistake(
            "check_sanity_initial_loss",
            "ThreeLayerConvNet_summed_over_batch(), 2.3, 2.3, 1.0, cases='hidden'",
            r"\[sanity_initial_loss/summed_over_batch\]",
        ),
        expect_mistake(
            "check_capstone",
            "capstone_model, close_baseline, initial_filters, capstone_losses, baseline_losses",
            "a lead of 1.5 points",
        ),
        expect_mistake(
            "check_train_epoch", "train_epoch_missing_config", r"\[train_epoch/missing_config\]"
        ),
    ]
    tests += [
        expect_mistake("check_train_epoch", f"train_epoch_{m}", rf"\[train_epoch/{m}\]")
        for m in wrong.LOOP_MISTAKES
    ]
    student = "\n\n".join(
        [
            solutions_source("02_layers"),
            module_body(wrong).replace("from __future__ import annotations", ""),
            KERNEL_RUNS,
        ]
    )
    assert failing_tests(tmp_path, imports, student, tests) == []
