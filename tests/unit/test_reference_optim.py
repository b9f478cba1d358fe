"""course_utils.reference.optim against torch.optim, with the exact hyper-parameter mapping.

Each twin runs many steps on a fixed gradient sequence beside the matching torch.optim
optimiser (configured as the mapping in the module docstring says) and must agree to float64
round-off at every step. Single steps are also checked against values worked out by hand.
"""

import math

import numpy as np
import pytest
import torch

from course_utils.reference import optim as ref

DOUBLE = torch.float64
STEPS = 60
SHAPES = [(1,), (7,), (4, 3), (2, 3, 3, 3)]
ROUND_OFF = {"rtol": 1e-10, "atol": 1e-13}


def _gradients(shape, seed, steps=STEPS, scale=1.0, dtype=DOUBLE):
    generator = torch.Generator().manual_seed(seed)
    return [scale * torch.randn(shape, generator=generator, dtype=dtype) for _ in range(steps)]


def _run_both(rule, config, torch_optimizer, shape, seed=0, scale=1.0, dtype=DOUBLE):
    """Run ``rule`` and ``torch_optimizer(params)`` on the same gradients; yield both w's."""
    generator = torch.Generator().manual_seed(seed + 1000)
    w0 = torch.randn(shape, generator=generator, dtype=dtype)
    w = w0.clone()
    param = torch.nn.Parameter(w0.clone())
    optimizer = torch_optimizer([param])
    for dw in _gradients(shape, seed, scale=scale, dtype=dtype):
        w, config = rule(w, dw, config)
        param.grad = dw.clone()
        optimizer.step()
        yield w, param.detach(), config


def _assert_same_run(rule, config, torch_optimizer, shape, **kwargs):
    for step, (ours, theirs, _) in enumerate(
        _run_both(rule, config, torch_optimizer, shape, **kwargs), start=1
    ):
        torch.testing.assert_close(
            ours, theirs, **ROUND_OFF, msg=lambda m, step=step: f"step {step}: {m}"
        )


@pytest.mark.parametrize("shape", SHAPES)
def test_sgd_equals_torch_sgd(shape):
    _assert_same_run(
        ref.sgd,
        {"learning_rate": 0.05},
        lambda p: torch.optim.SGD(p, lr=0.05),
        shape,
    )


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("momentum", [0.5, 0.9, 0.99])
def test_sgd_momentum_equals_torch_sgd_with_momentum(shape, momentum):
    _assert_same_run(
        ref.sgd_momentum,
        {"learning_rate": 0.02, "momentum": momentum},
        lambda p: torch.optim.SGD(p, lr=0.02, momentum=momentum),
        shape,
    )


def test_our_velocity_is_minus_lr_times_torchs_momentum_buffer():
    lr, momentum = 0.03, 0.8
    param = torch.nn.Parameter(torch.zeros(5, dtype=DOUBLE))
    optimizer = torch.optim.SGD([param], lr=lr, momentum=momentum)
    w, config = torch.zeros(5, dtype=DOUBLE), {"learning_rate": lr, "momentum": momentum}
    for dw in _gradients((5,), seed=3, steps=20):
        w, config = ref.sgd_momentum(w, dw, config)
        param.grad = dw.clone()
        optimizer.step()
        buffer = optimizer.state[param]["momentum_buffer"]
        torch.testing.assert_close(config["velocity"], -lr * buffer, **ROUND_OFF)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("scale", [1.0, 1e-5])  # tiny gradients: epsilon matters
def test_adagrad_equals_torch_adagrad(shape, scale):
    _assert_same_run(
        ref.adagrad,
        {"learning_rate": 0.1, "epsilon": 1e-8},
        lambda p: torch.optim.Adagrad(p, lr=0.1, lr_decay=0, initial_accumulator_value=0, eps=1e-8),
        shape,
        scale=scale,
    )


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("decay_rate, epsilon", [(0.99, 1e-8), (0.9, 1e-3), (0.5, 0.1)])
def test_rmsprop_equals_torch_rmsprop(shape, decay_rate, epsilon):
    _assert_same_run(
        ref.rmsprop,
        {"learning_rate": 0.01, "decay_rate": decay_rate, "epsilon": epsilon},
        lambda p: torch.optim.RMSprop(
            p, lr=0.01, alpha=decay_rate, eps=epsilon, momentum=0, centered=False
        ),
        shape,
    )


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize(
    "beta1, beta2, epsilon", [(0.9, 0.999, 1e-8), (0.5, 0.9, 1e-3), (0.0, 0.99, 0.1)]
)
def test_adam_equals_torch_adam(shape, beta1, beta2, epsilon):
    _assert_same_run(
        ref.adam,
        {"learning_rate": 0.01, "beta1": beta1, "beta2": beta2, "epsilon": epsilon},
        lambda p: torch.optim.Adam(p, lr=0.01, betas=(beta1, beta2), eps=epsilon),
        shape,
    )


def test_adam_counts_steps_in_t_as_torch_does():
    runs = _run_both(ref.adam, None, lambda p: torch.optim.Adam(p, lr=1e-3), (3,), seed=5)
    for step, (_, _, config) in enumerate(runs, start=1):
        assert config["t"] == step


@pytest.mark.parametrize(
    "rule, torch_optimizer",
    [
        (ref.sgd, lambda p: torch.optim.SGD(p, lr=1e-2)),
        (ref.sgd_momentum, lambda p: torch.optim.SGD(p, lr=1e-2, momentum=0.9)),
        (ref.adagrad, lambda p: torch.optim.Adagrad(p, lr=1e-2, eps=1e-8)),
        (ref.rmsprop, lambda p: torch.optim.RMSprop(p, lr=1e-2, alpha=0.99, eps=1e-8)),
        (ref.adam, lambda p: torch.optim.Adam(p, lr=1e-3, betas=(0.9, 0.999), eps=1e-8)),
    ],
)
def test_defaults_from_config_none_match_the_contract_in_torch_terms(rule, torch_optimizer):
    _assert_same_run(rule, None, torch_optimizer, (4, 3))


@pytest.mark.parametrize(
    "rule, defaults",
    [
        (ref.sgd, {"learning_rate": 1e-2}),
        (ref.sgd_momentum, {"learning_rate": 1e-2, "momentum": 0.9}),
        (ref.adagrad, {"learning_rate": 1e-2, "epsilon": 1e-8}),
        (ref.rmsprop, {"learning_rate": 1e-2, "decay_rate": 0.99, "epsilon": 1e-8}),
        (ref.adam, {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8}),
    ],
)
def test_missing_hyper_parameters_take_the_contracts_defaults_and_are_stored(rule, defaults):
    _, config = rule(torch.ones(2, dtype=DOUBLE), torch.ones(2, dtype=DOUBLE), None)
    assert {key: config[key] for key in defaults} == defaults
    given = {"learning_rate": 0.5}
    _, config = rule(torch.ones(2, dtype=DOUBLE), torch.ones(2, dtype=DOUBLE), given)
    assert config is given and config["learning_rate"] == 0.5
    assert {key: config[key] for key in defaults if key != "learning_rate"} == {
        key: value for key, value in defaults.items() if key != "learning_rate"
    }


# Single steps worked out by hand (w = [1, -2], dw = [0.5, -4]).
W, DW = [1.0, -2.0], [0.5, -4.0]


def _step(rule, config):
    next_w, config = rule(torch.tensor(W, dtype=DOUBLE), torch.tensor(DW, dtype=DOUBLE), config)
    return next_w.tolist(), config


def test_sgd_step_by_hand():
    next_w, _ = _step(ref.sgd, {"learning_rate": 0.1})
    assert next_w == pytest.approx([0.95, -1.6])


def test_sgd_momentum_step_by_hand_from_a_saved_velocity():
    # v = 0.9 * [1, 1] - 0.1 * [0.5, -4] = [0.85, 1.3]; w + v = [1.85, -0.7]
    config = {"learning_rate": 0.1, "momentum": 0.9, "velocity": torch.ones(2, dtype=DOUBLE)}
    next_w, config = _step(ref.sgd_momentum, config)
    assert next_w == pytest.approx([1.85, -0.7])
    assert config["velocity"].tolist() == pytest.approx([0.85, 1.3])


def test_adagrad_first_step_by_hand_moves_every_weight_by_the_learning_rate():
    # cache = dw**2, so dw / sqrt(cache) = sign(dw): each weight moves by lr (minus epsilon's bit)
    next_w, config = _step(ref.adagrad, {"learning_rate": 0.1, "epsilon": 0.0})
    assert next_w == pytest.approx([0.9, -1.9])
    assert config["cache"].tolist() == pytest.approx([0.25, 16.0])


def test_rmsprop_first_step_by_hand():
    # cache = 0.75 * dw**2 = [0.1875, 12]; step = 0.1 * dw / sqrt(cache) = 0.1 * sign / sqrt(0.75)
    next_w, _ = _step(ref.rmsprop, {"learning_rate": 0.1, "decay_rate": 0.25, "epsilon": 0.0})
    step = 0.1 / math.sqrt(0.75)
    assert next_w == pytest.approx([1.0 - step, -2.0 + step])


def test_adam_first_step_by_hand_is_the_learning_rate_times_the_sign():
    # bias correction makes m_hat = dw and v_hat = dw**2 at t = 1
    next_w, config = _step(ref.adam, {"learning_rate": 0.1, "epsilon": 0.0})
    assert next_w == pytest.approx([0.9, -1.9])
    assert config["t"] == 1
    assert config["m"].tolist() == pytest.approx([0.05, -0.4])
    assert config["v"].tolist() == pytest.approx([0.00025, 0.016])


def test_twins_keep_dtype_and_agree_in_float32():
    for rule in (ref.sgd, ref.sgd_momentum, ref.adagrad, ref.rmsprop, ref.adam):
        w32, w64, c32, c64 = torch.ones(3), torch.ones(3, dtype=DOUBLE), None, None
        for dw in _gradients((3,), seed=9, steps=10):
            w32, c32 = rule(w32, dw.float(), c32)
            w64, c64 = rule(w64, dw, c64)
        assert w32.dtype == torch.float32
        torch.testing.assert_close(w32.double(), w64, rtol=1e-5, atol=1e-6)


def test_twins_accept_state_saved_as_numpy_arrays():
    config = {"velocity": np.full(2, 0.5), "learning_rate": 0.1, "momentum": 0.5}
    next_w, config = _step(ref.sgd_momentum, config)
    assert isinstance(config["velocity"], torch.Tensor)
    assert next_w == pytest.approx([1.0 + 0.25 - 0.05, -2.0 + 0.25 + 0.4])


@pytest.mark.parametrize(
    "rule, config, message",
    [
        (ref.sgd, {"learning_rate": -0.1}, "invalid learning_rate: -0.1"),
        (ref.sgd_momentum, {"momentum": 1.0}, r"invalid momentum: 1.0; it must be in \[0, 1\)"),
        (ref.rmsprop, {"decay_rate": "0.9"}, "must be a number"),
        (ref.adam, {"t": 1.5}, "counts the steps"),
        (ref.adagrad, {"cache": np.zeros(3)}, "Each parameter needs its own config"),
        (ref.sgd, [0.1], "config must be a dict or None"),
    ],
)
def test_bad_configs_are_refused_with_the_value(rule, config, message):
    with pytest.raises(ValueError, match=message):
        _step(rule, config)


def test_w_and_dw_of_different_shapes_are_refused():
    with pytest.raises(ValueError, match=r"dw must have the shape of w, \(2,\); got \(3,\)"):
        ref.sgd(torch.ones(2), torch.ones(3))


def test_the_twins_do_not_change_their_inputs():
    for rule in (ref.sgd, ref.sgd_momentum, ref.adagrad, ref.rmsprop, ref.adam):
        w, dw = torch.tensor(W, dtype=DOUBLE), torch.tensor(DW, dtype=DOUBLE)
        rule(w, dw, None)
        assert w.tolist() == W and dw.tolist() == DW


def _model(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Tanh(), torch.nn.Linear(3, 2))


def _train(model, optimizer, steps=15):
    generator = torch.Generator().manual_seed(1)
    for _ in range(steps):
        x = torch.randn(8, 4, generator=generator)
        loss = model(x).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return [p.detach().clone() for p in model.parameters()]


def test_update_rule_optimizer_with_the_adam_twin_trains_like_torch_adam():
    ours = _train(model := _model(), ref.UpdateRuleOptimizer(model.parameters(), ref.adam))
    theirs = _train(model := _model(), torch.optim.Adam(model.parameters(), lr=1e-3))
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_update_rule_optimizer_applies_a_numpy_rule_per_parameter():
    def numpy_momentum(w, dw, config):
        assert isinstance(w, np.ndarray) and w.dtype == np.float64
        config.setdefault("velocity", np.zeros_like(w))
        config["velocity"] = 0.9 * config["velocity"] - 0.05 * dw
        return w + config["velocity"], config

    model = _model()
    ours = _train(model, ref.UpdateRuleOptimizer(model.parameters(), numpy_momentum, numpy=True))
    model = _model()
    theirs = _train(model, torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9))
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.cuda
def test_twins_run_on_cuda_and_match_the_cpu():
    for rule in (ref.sgd, ref.sgd_momentum, ref.adagrad, ref.rmsprop, ref.adam):
        w_cpu, w_gpu, c_cpu, c_gpu = torch.ones(6, dtype=DOUBLE), None, None, None
        w_gpu = w_cpu.cuda()
        for dw in _gradients((6,), seed=2, steps=10):
            w_cpu, c_cpu = rule(w_cpu, dw, c_cpu)
            w_gpu, c_gpu = rule(w_gpu, dw.cuda(), c_gpu)
        assert w_gpu.is_cuda
        torch.testing.assert_close(w_gpu.cpu(), w_cpu, **ROUND_OFF)
