"""course_utils.reference.convnet against PyTorch: the twin model and the twin training loop.

The model's scores, loss and gradients are compared with an independent torch.nn composition
(nn.Conv2d, nn.ReLU, nn.MaxPool2d, nn.Flatten, nn.Linear, F.cross_entropy, loss.backward())
and with centred differences; the loop with torch.optim.SGD stepping that composition over
the batches the contract names.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course_utils import gradcheck
from course_utils.reference import ThreeLayerConvNet, sgd, train_epoch
from course_utils.reference.convnet import PARAM_NAMES

DOUBLE = torch.float64
TOL = {"rtol": 1e-10, "atol": 1e-12}

# (input_dim, num_filters, filter_size, hidden_dim, num_classes, N)
SHAPE_CASES = [
    ((3, 8, 8), 4, 3, 7, 10, 5),
    ((1, 6, 10), 3, 5, 6, 4, 3),  # non-square input, 5x5 filters
    ((2, 4, 4), 2, 1, 5, 3, 2),  # 1x1 filters: no padding
    ((3, 12, 6), 2, 7, 4, 6, 1),  # batch size 1, CS231n's default 7x7 filters
]


def _randn(*shape, seed=0, dtype=DOUBLE):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def _model(case, reg=0.0, dtype=np.float64, seed=0, weight_scale=0.3):
    input_dim, num_filters, filter_size, hidden_dim, num_classes, _ = case
    return ThreeLayerConvNet(
        input_dim=input_dim,
        num_filters=num_filters,
        filter_size=filter_size,
        hidden_dim=hidden_dim,
        num_classes=num_classes,
        weight_scale=weight_scale,
        reg=reg,
        dtype=dtype,
        seed=seed,
    )


def _data(case, seed=1, dtype=DOUBLE):
    input_dim, *_, num_classes, n = case
    X = _randn(n, *input_dim, seed=seed, dtype=dtype)
    y = torch.randint(num_classes, (n,), generator=torch.Generator().manual_seed(seed + 1))
    return X, y


def _torch_nn(params: dict) -> nn.Sequential:
    """The same network as torch.nn modules, holding copies of the twin's parameters."""
    W1, W2, W3 = params["W1"], params["W2"], params["W3"]
    F_, C, fs, _ = W1.shape
    conv = nn.Conv2d(C, F_, fs, stride=1, padding=(fs - 1) // 2)
    hidden = nn.Linear(W2.shape[0], W2.shape[1])
    output = nn.Linear(W3.shape[0], W3.shape[1])
    with torch.no_grad():
        for module, weight, bias in (
            (conv, W1, params["b1"]),
            (hidden, W2.T, params["b2"]),  # nn.Linear stores (out, in)
            (output, W3.T, params["b3"]),
        ):
            module.weight = nn.Parameter(weight.clone())
            module.bias = nn.Parameter(bias.clone())
    return nn.Sequential(
        conv, nn.ReLU(), nn.MaxPool2d(2, stride=2), nn.Flatten(), hidden, nn.ReLU(), output
    )


def _torch_nn_loss(net: nn.Sequential, X, y, reg):
    weights = (net[0].weight, net[4].weight, net[6].weight)
    return F.cross_entropy(net(X), y) + 0.5 * reg * sum((w**2).sum() for w in weights)


def _torch_nn_grads(net: nn.Sequential) -> dict:
    conv, hidden, output = net[0], net[4], net[6]
    return {
        "W1": conv.weight.grad,
        "b1": conv.bias.grad,
        "W2": hidden.weight.grad.T,
        "b2": hidden.bias.grad,
        "W3": output.weight.grad.T,
        "b3": output.bias.grad,
    }


@pytest.mark.parametrize("case", SHAPE_CASES, ids=lambda c: f"{c[0]}-fs{c[2]}-N{c[5]}")
@pytest.mark.parametrize("reg", [0.0, 0.7])
def test_scores_loss_and_gradients_match_a_torch_nn_composition(case, reg):
    model = _model(case, reg=reg)
    X, y = _data(case)
    net = _torch_nn(model.params)

    scores = model.loss(X)
    torch.testing.assert_close(scores, net(X).detach(), **TOL)

    loss, grads = model.loss(X, y)
    expected = _torch_nn_loss(net, X, y, reg)
    expected.backward()
    torch.testing.assert_close(loss, expected.detach(), **TOL)
    assert list(grads) == list(PARAM_NAMES)
    for name, grad in _torch_nn_grads(net).items():
        torch.testing.assert_close(grads[name], grad, **TOL, msg=f"d{name}")


@pytest.mark.parametrize("reg", [0.0, 0.5])
def test_every_gradient_matches_centred_differences(reg):
    case = ((2, 6, 4), 3, 3, 5, 4, 3)
    model = _model(case, reg=reg)
    X, y = _data(case)
    _, grads = model.loss(X, y)
    for name in PARAM_NAMES:
        numerical = gradcheck.eval_numerical_gradient(
            lambda _: float(model.loss(X, y)[0]), model.params[name]
        )
        assert gradcheck.rel_error(grads[name], numerical) < 1e-7, name


def test_regularisation_adds_half_reg_times_the_squared_weights_and_spares_the_biases():
    case = SHAPE_CASES[0]
    X, y = _data(case)
    plain = _model(case, reg=0.0)
    regularised = _model(case, reg=2.5)
    loss, grads = plain.loss(X, y)
    loss_reg, grads_reg = regularised.loss(X, y)
    squares = sum((plain.params[w] ** 2).sum() for w in ("W1", "W2", "W3"))
    torch.testing.assert_close(loss_reg - loss, 0.5 * 2.5 * squares, **TOL)
    for name in PARAM_NAMES:
        extra = 2.5 * plain.params[name] if name.startswith("W") else 0 * plain.params[name]
        torch.testing.assert_close(grads_reg[name] - grads[name], extra, **TOL)


def test_loss_reads_reg_and_replaced_parameters_at_call_time():
    case = SHAPE_CASES[0]
    X, y = _data(case)
    model = _model(case)
    model.reg = 1.0
    model.params["b3"] = torch.full_like(model.params["b3"], 0.25)
    net = _torch_nn(model.params)
    expected = _torch_nn_loss(net, X, y, 1.0)
    torch.testing.assert_close(model.loss(X, y)[0], expected.detach(), **TOL)


def test_initial_parameters_have_the_contracts_shapes_and_statistics():
    model = ThreeLayerConvNet(seed=0)  # CS231n's defaults: (3, 32, 32), 32 filters 7x7, 100, 10
    shapes = {name: tuple(p.shape) for name, p in model.params.items()}
    assert shapes == {
        "W1": (32, 3, 7, 7),
        "b1": (32,),
        "W2": (32 * 16 * 16, 100),
        "b2": (100,),
        "W3": (100, 10),
        "b3": (10,),
    }
    assert all(p.dtype == torch.float32 for p in model.params.values())
    for name in ("b1", "b2", "b3"):
        assert torch.count_nonzero(model.params[name]) == 0, name
    for name in ("W1", "W2"):  # 4,704 and 819,200 draws
        w = model.params[name].double()
        assert abs(w.std().item() - 1e-3) < 0.05e-3, name
        assert abs(w.mean().item()) < 5 * 1e-3 / np.sqrt(w.numel()), name
    wide = ThreeLayerConvNet(input_dim=(1, 28, 28), weight_scale=0.05, hidden_dim=500, seed=1)
    assert abs(wide.params["W3"].double().std().item() - 0.05) < 0.005


@pytest.mark.parametrize(
    "dtype, expected",
    [
        (np.float32, torch.float32),
        (np.float64, DOUBLE),
        (torch.float64, DOUBLE),
        ("float32", torch.float32),
    ],
)
def test_parameters_and_results_take_the_requested_dtype(dtype, expected):
    case = SHAPE_CASES[0]
    model = _model(case, dtype=dtype)
    assert {p.dtype for p in model.params.values()} == {expected}
    X, y = _data(case)
    loss, grads = model.loss(X, y)  # float64 inputs are cast to the parameters' dtype
    assert loss.dtype == expected and all(g.dtype == expected for g in grads.values())
    assert model.loss(X).dtype == expected


def test_float32_model_agrees_with_float64_to_single_precision():
    case = SHAPE_CASES[1]
    X, y = _data(case)
    single, double = _model(case, dtype=np.float32), _model(case, dtype=np.float64)
    for name in PARAM_NAMES:
        single.params[name] = double.params[name].float()
    loss32, grads32 = single.loss(X.float(), y)
    loss64, grads64 = double.loss(X, y)
    assert abs(loss32.item() - loss64.item()) < 1e-5
    for name in PARAM_NAMES:
        assert gradcheck.rel_error(grads32[name].double(), grads64[name]) < 1e-3


def test_the_same_seed_gives_the_same_parameters_and_none_a_fresh_draw():
    a, b = ThreeLayerConvNet(seed=3), ThreeLayerConvNet(seed=3)
    c, d = ThreeLayerConvNet(seed=None), ThreeLayerConvNet(seed=None)
    assert all(torch.equal(a.params[k], b.params[k]) for k in PARAM_NAMES)
    assert not torch.equal(c.params["W1"], d.params["W1"])


@pytest.mark.parametrize("case", SHAPE_CASES, ids=lambda c: f"{c[0]}-fs{c[2]}-N{c[5]}")
def test_scores_without_labels_have_shape_n_by_num_classes(case):
    X, _ = _data(case)
    assert tuple(_model(case).loss(X).shape) == (case[5], case[4])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"filter_size": 4}, "filter_size must be odd"),
        ({"input_dim": (3, 7, 8)}, "even"),
        ({"dtype": np.int32}, "float32 or float64"),
        ({"num_filters": 0}, "num_filters"),
    ],
)
def test_sizes_that_do_not_fit_raise_value_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ThreeLayerConvNet(**kwargs)


def test_inputs_of_the_wrong_shape_raise_value_error_naming_the_shapes():
    model = ThreeLayerConvNet(input_dim=(1, 8, 8), num_filters=2, filter_size=3, seed=0)
    with pytest.raises(ValueError, match=r"\(2, 1, 10, 10\)"):
        model.loss(torch.zeros(2, 1, 10, 10))


@pytest.mark.cuda
def test_loss_runs_on_the_device_of_its_parameters_and_inputs():
    case = SHAPE_CASES[0]
    cpu = _model(case)
    cuda = _model(case)
    cuda.params = {k: v.cuda() for k, v in cpu.params.items()}
    X, y = _data(case)
    loss, grads = cuda.loss(X.cuda(), y.cuda())
    expected, expected_grads = cpu.loss(X, y)
    assert loss.device.type == "cuda"
    torch.testing.assert_close(loss.cpu(), expected)
    for name in PARAM_NAMES:
        torch.testing.assert_close(grads[name].cpu(), expected_grads[name])


# --- train_epoch ----------------------------------------------------------------------------------


class _RecordingModel:
    """A model whose loss records the batch it saw (X holds each example's index)."""

    def __init__(self):
        self.params = {"w": np.zeros(1), "b": np.zeros(1)}
        self.batches = []

    def loss(self, X, y):
        self.batches.append(np.asarray(X).copy())
        return float(len(self.batches)), {"w": np.ones(1), "b": np.ones(1)}


def _identity_rule(w, dw, config):
    return w, config


@pytest.mark.parametrize("n, batch_size", [(250, 100), (300, 100), (7, 3), (5, 5), (4, 5)])
def test_train_epoch_visits_the_permutation_in_full_batches_and_drops_the_rest(n, batch_size):
    model = _RecordingModel()
    X = np.arange(n)
    losses = train_epoch(model, X, X, _identity_rule, {}, batch_size, np.random.default_rng(5))
    order = np.random.default_rng(5).permutation(n)
    steps = n // batch_size
    assert len(model.batches) == steps and losses == [float(k + 1) for k in range(steps)]
    for k, batch in enumerate(model.batches):
        np.testing.assert_array_equal(batch, order[k * batch_size : (k + 1) * batch_size])


def test_train_epoch_takes_batches_of_tensors_by_the_same_permutation():
    model = _RecordingModel()
    X = torch.arange(10)
    train_epoch(model, X, X, _identity_rule, {}, 4, np.random.default_rng(0))
    order = np.random.default_rng(0).permutation(10)
    assert [b.tolist() for b in model.batches] == [order[:4].tolist(), order[4:8].tolist()]


def test_train_epoch_updates_in_dict_order_and_stores_each_config_back():
    seen = []

    def counting_rule(w, dw, config):
        seen.append(dict(config))
        new_config = {**config, "steps": config.get("steps", 0) + 1}  # a NEW dict each step
        return w - dw, new_config

    model = _RecordingModel()
    configs = {"b": {"steps": 10}}
    train_epoch(
        model, np.arange(6), np.arange(6), counting_rule, configs, 2, np.random.default_rng(1)
    )
    assert configs == {"b": {"steps": 13}, "w": {"steps": 3}}
    assert seen[:2] == [{}, {"steps": 10}]  # w first (dict order): it had no entry, so {}
    np.testing.assert_array_equal(model.params["w"], [-3.0])


def test_train_epoch_without_a_generator_draws_a_fresh_permutation():
    model = _RecordingModel()
    train_epoch(model, np.arange(40), np.arange(40), _identity_rule, {}, 40)
    assert sorted(model.batches[0]) == list(range(40))


def test_train_epoch_refuses_a_seed_in_place_of_a_generator():
    with pytest.raises(ValueError, match="numpy.random.Generator"):
        train_epoch(_RecordingModel(), np.arange(4), np.arange(4), _identity_rule, {}, 2, rng=0)


def test_train_epoch_with_sgd_matches_torch_optim_sgd_over_the_same_batches():
    case = ((1, 8, 8), 3, 3, 6, 4, 23)
    model = _model(case, reg=0.01, weight_scale=0.2)
    X, y = _data(case)
    net = _torch_nn(model.params)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.05)
    configs = {name: {"learning_rate": 0.05} for name in PARAM_NAMES}

    losses = train_epoch(model, X, y, sgd, configs, batch_size=5, rng=np.random.default_rng(2))

    order = np.random.default_rng(2).permutation(23)
    expected_losses = []
    for k in range(23 // 5):
        idx = torch.from_numpy(order[k * 5 : (k + 1) * 5])
        optimizer.zero_grad()
        loss = _torch_nn_loss(net, X[idx], y[idx], 0.01)
        loss.backward()
        optimizer.step()
        expected_losses.append(loss.item())
    np.testing.assert_allclose(losses, expected_losses, rtol=1e-10)
    trained_twin = _torch_nn(model.params)  # the twin's parameters in nn.Module layout
    for module, twin_module in zip(net, trained_twin):
        for expected, got in zip(module.parameters(), twin_module.parameters()):
            torch.testing.assert_close(got, expected.detach(), **TOL)
