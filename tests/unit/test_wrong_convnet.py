"""The wrong models and loops of tests/wrong/convnet.py are wrong, and the right ones right.

Measured against the reference twins (course_utils.reference.convnet) on small cases built the
way a check must build them (parameters set by the test, nonzero biases, reg > 0, N different
from num_classes, N not a multiple of the batch size, a stateful update rule that returns a new
config), so that none of the wrong implementations is accidentally right and a check written
on these cases can tell each one apart.
"""

import numpy as np
import pytest
import torch

from course_utils import reference
from tests import solutions_cs231n
from tests.wrong import convnet as wrong

PARAM_NAMES = ("W1", "b1", "W2", "b2", "W3", "b3")
# input_dim, num_filters, filter_size, hidden_dim, num_classes, N, reg
MODEL_CASE = ((2, 6, 4), 3, 3, 5, 4, 7, 0.3)


def _parameters(case, seed=0):
    """Parameters a check would set: weights and biases all nonzero, float64."""
    (C, H, W), F, k, hidden, classes, _, _ = case
    rng = np.random.default_rng(seed)
    return {
        "W1": rng.standard_normal((F, C, k, k)),
        "b1": 0.5 * rng.standard_normal(F),
        "W2": rng.standard_normal((F * (H // 2) * (W // 2), hidden)) / 3,
        "b2": 0.5 * rng.standard_normal(hidden),
        "W3": rng.standard_normal((hidden, classes)),
        "b3": 0.5 * rng.standard_normal(classes),
    }


def _data(case, seed=1):
    (C, H, W), *_, classes, n, _ = case
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, C, H, W)), rng.integers(0, classes, n)


def _build(model_class, case, **kwargs):
    input_dim, F, k, hidden, classes, _, reg = case
    return model_class(
        input_dim=input_dim,
        num_filters=F,
        filter_size=k,
        hidden_dim=hidden,
        num_classes=classes,
        reg=reg,
        dtype=np.float64,
        **kwargs,
    )


def _results(model_class, case):
    """(scores, loss, grads) as float64 ndarrays, with the check's parameters set."""
    model = _build(model_class, case)
    model.params = {name: value.copy() for name, value in _parameters(case).items()}
    X, y = _data(case)
    scores = np.asarray(model.loss(X.copy()), dtype=np.float64)
    loss, grads = model.loss(X.copy(), y.copy())
    return scores, float(loss), {k: np.asarray(v, dtype=np.float64) for k, v in grads.items()}


def _reference_results(case):
    model = _build(reference.ThreeLayerConvNet, case, seed=0)
    model.params = {k: torch.from_numpy(v) for k, v in _parameters(case).items()}
    X, y = _data(case)
    scores = model.loss(torch.from_numpy(X)).numpy()
    loss, grads = model.loss(torch.from_numpy(X), torch.from_numpy(y))
    return scores, float(loss), {k: v.numpy() for k, v in grads.items()}


def _close(a, b) -> bool:
    return np.shape(a) == np.shape(b) and np.allclose(a, b, rtol=1e-7, atol=1e-9)


def _agrees(results, expected) -> bool:
    (scores, loss, grads), (e_scores, e_loss, e_grads) = results, expected
    return (
        _close(scores, e_scores)
        and _close(loss, e_loss)
        and sorted(grads) == sorted(e_grads)  # CS231n fills grads from W3 down to W1
        and all(_close(grads[k], e_grads[k]) for k in e_grads)
    )


@pytest.mark.parametrize(
    "model_class",
    [wrong.CORRECT.ThreeLayerConvNet, solutions_cs231n.ThreeLayerConvNet],
    ids=["tests.wrong CORRECT", "CS231n's published style"],
)
def test_the_right_models_agree_with_the_reference_twin(model_class):
    assert _agrees(_results(model_class, MODEL_CASE), _reference_results(MODEL_CASE))


@pytest.mark.parametrize("mistake", wrong.MODEL_MISTAKES)
def test_each_wrong_model_differs_from_the_reference_twin(mistake):
    assert not _agrees(
        _results(wrong.WRONG_MODELS[mistake], MODEL_CASE), _reference_results(MODEL_CASE)
    )


@pytest.mark.parametrize(
    "model_class",
    [wrong.CORRECT.ThreeLayerConvNet, solutions_cs231n.ThreeLayerConvNet],
    ids=["tests.wrong CORRECT", "CS231n's published style"],
)
def test_the_right_models_initialise_as_the_contract_says(model_class):
    model = model_class(input_dim=(1, 28, 28), num_filters=8, filter_size=5, weight_scale=0.01)
    assert {k: v.shape for k, v in model.params.items()} == {
        "W1": (8, 1, 5, 5),
        "b1": (8,),
        "W2": (8 * 14 * 14, 100),
        "b2": (100,),
        "W3": (100, 10),
        "b3": (10,),
    }
    assert all(v.dtype == np.float32 for v in model.params.values())
    assert all(not model.params[b].any() for b in ("b1", "b2", "b3"))
    assert abs(model.params["W2"].std() - 0.01) < 0.0005


# --- the loops ----------------------------------------------------------------------------------


def _momentum_in_a_new_dict(w, dw, config=None):
    """SGD with momentum whose config is a NEW dict each step, as notebook 03 allows."""
    config = dict(config or {})
    config.setdefault("learning_rate", 0.1)
    config.setdefault("momentum", 0.9)
    velocity = config["momentum"] * config.get("velocity", np.zeros_like(w))
    velocity = velocity - config["learning_rate"] * dw
    return w + velocity, {**config, "velocity": velocity}


def _train(loop, n=23, batch_size=5, seed=3):
    case = ((1, 4, 4), 2, 3, 4, 3, n, 0.1)
    model = _build(wrong.CORRECT.ThreeLayerConvNet, case, seed=0, weight_scale=0.3)
    model.params = _parameters(case)
    X, y = _data(case)
    configs = {"W1": {"learning_rate": 0.05}}  # the others missing: they start as {}
    losses = loop(
        model, X, y, _momentum_in_a_new_dict, configs, batch_size, np.random.default_rng(seed)
    )
    return model.params, configs, losses


def _same_training(a, b) -> bool:
    (params, configs, losses), (e_params, e_configs, e_losses) = a, b
    return (
        _close(losses, e_losses)
        and all(_close(params[k], e_params[k]) for k in e_params)
        and sorted(configs) == sorted(e_configs)
        and all(_close(configs[k]["velocity"], e_configs[k]["velocity"]) for k in e_configs)
    )


def test_the_right_loop_agrees_with_the_reference_twin():
    assert _same_training(_train(wrong.CORRECT.train_epoch), _train(reference.train_epoch))


@pytest.mark.parametrize("mistake", wrong.LOOP_MISTAKES)
def test_each_wrong_loop_differs_from_the_reference_twin(mistake):
    assert not _same_training(_train(wrong.WRONG_LOOPS[mistake]), _train(reference.train_epoch))
