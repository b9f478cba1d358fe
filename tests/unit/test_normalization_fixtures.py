"""The fixtures the notebook 04 normalisation checks are tested with are what they claim to be.

Every wrong implementation in tests/wrong/normalization.py differs from the twin on a small
case (none is accidentally right), the right helpers they start from and the CS231n-style
solutions in tests/solutions_cs231n_norm.py agree with the twin, and each Kaiming mistake is
caught by the sample-size tolerance proposed for check_kaiming_normal on large shapes.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from course_utils.reference import normalization as twins
from tests import solutions_cs231n_norm as cs231n
from tests.solutions import load_solutions
from tests.wrong import normalization as wrong

LN_SHAPE = (4, 5)
GN_SHAPE, G = (2, 6, 3, 4), 3  # 1 < G < C and C / G > 1, so every group mistake shows
RTOL, ATOL = 1e-9, 1e-11


def _ln_case(seed=0):
    rng = np.random.default_rng(seed)
    n, d = LN_SHAPE
    x = rng.standard_normal((n, d)) * rng.uniform(0.5, 3, (n, 1)) + rng.uniform(-3, 3, (n, 1))
    gamma, beta = rng.uniform(0.5, 2.0, d), rng.standard_normal(d)
    return x, gamma, beta, {"eps": 1e-5}, rng.standard_normal((n, d))


def _gn_case(seed=0):
    rng = np.random.default_rng(seed)
    n, c, h, w = GN_SHAPE
    scale = rng.uniform(0.5, 3, (n, c, 1, 1))
    x = rng.standard_normal(GN_SHAPE) * scale + rng.uniform(-3, 3, (n, c, 1, 1))
    gamma, beta = rng.uniform(0.5, 2.0, (1, c, 1, 1)), rng.standard_normal((1, c, 1, 1))
    return x, gamma, beta, {"eps": 1e-5}, rng.standard_normal(GN_SHAPE)


def _twin(func, *args):
    """The twin's results on NumPy arguments, as NumPy arrays."""
    tensors = [torch.from_numpy(a) if isinstance(a, np.ndarray) else a for a in args]
    return func(*tensors)


def _ln_expected():
    x, gamma, beta, param, dout = _ln_case()
    out, cache = _twin(twins.layernorm_forward, x, gamma, beta, param)
    grads = twins.layernorm_backward(torch.from_numpy(dout), cache)
    return out.numpy(), [g.numpy() for g in grads]


def _gn_expected():
    x, gamma, beta, param, dout = _gn_case()
    out, cache = _twin(twins.spatial_groupnorm_forward, x, gamma, beta, G, param)
    grads = twins.spatial_groupnorm_backward(torch.from_numpy(dout), cache)
    return out.numpy(), [g.numpy() for g in grads]


def _same(actual, expected) -> bool:
    actual = np.asarray(actual)
    return actual.shape == expected.shape and np.allclose(actual, expected, RTOL, ATOL)


# --- the right implementations agree with the twins ------------------------------------------------

RIGHT = [wrong.CORRECT, cs231n, "notebook"]
RIGHT_IDS = ["tests.wrong CORRECT", "cs231n", "notebook 04 solutions"]


def _right(source):
    return load_solutions("04_batchnorm") if source == "notebook" else source


@pytest.mark.parametrize("source", RIGHT, ids=RIGHT_IDS)
def test_right_layernorm_agrees_with_the_twin(source):
    source = _right(source)
    x, gamma, beta, param, dout = _ln_case()
    out, cache = source.layernorm_forward(x, gamma, beta, param)
    expected_out, expected_grads = _ln_expected()
    assert _same(out, expected_out)
    for grad, expected in zip(source.layernorm_backward(dout, cache), expected_grads, strict=True):
        assert _same(grad, expected)


@pytest.mark.parametrize("source", RIGHT, ids=RIGHT_IDS)
@pytest.mark.parametrize("shape, groups", [(GN_SHAPE, G), ((1, 4, 2, 5), 1), ((3, 4, 3, 1), 4)])
def test_right_spatial_groupnorm_agrees_with_the_twin(source, shape, groups):
    source = _right(source)
    rng = np.random.default_rng(1)
    c = shape[1]
    x = rng.standard_normal(shape) * 2 + 1
    gamma, beta = rng.uniform(0.5, 2.0, (1, c, 1, 1)), rng.standard_normal((1, c, 1, 1))
    dout = rng.standard_normal(shape)
    out, cache = source.spatial_groupnorm_forward(x, gamma, beta, groups, {})
    expected_out, expected_cache = _twin(
        twins.spatial_groupnorm_forward, x, gamma, beta, groups, {}
    )
    assert _same(out, expected_out.numpy())
    expected_grads = twins.spatial_groupnorm_backward(torch.from_numpy(dout), expected_cache)
    for grad, expected in zip(
        source.spatial_groupnorm_backward(dout, cache), expected_grads, strict=True
    ):
        assert _same(grad, expected.numpy())


@pytest.mark.parametrize("source", [wrong.CORRECT, "notebook"], ids=RIGHT_IDS[::2])
@pytest.mark.parametrize("shape", [(30, 7), (4, 3, 3, 2)])
def test_right_kaiming_normal_draws_the_twins_array(source, shape):
    ours = _right(source).kaiming_normal(shape, np.random.default_rng(9), 1.3)
    assert _same(ours, twins.kaiming_normal(shape, np.random.default_rng(9), 1.3).numpy())


def test_notebook_kaiming_normal_refuses_a_shape_of_another_rank():
    with pytest.raises(ValueError, match="3 dimensions"):
        load_solutions("04_batchnorm").kaiming_normal((2, 3, 4), np.random.default_rng(0))


# --- every wrong implementation differs from the twin ----------------------------------------------


@pytest.mark.parametrize("impl", wrong.MISTAKES["layernorm_forward"], ids=lambda f: f.__name__)
def test_wrong_layernorm_forward_differs_from_the_twin(impl):
    x, gamma, beta, param, _ = _ln_case()
    out, _ = impl(x, gamma, beta, param)
    assert not _same(out, _ln_expected()[0])


@pytest.mark.parametrize("impl", wrong.MISTAKES["layernorm_backward"], ids=lambda f: f.__name__)
def test_wrong_layernorm_backward_differs_from_the_twin_after_the_right_forward(impl):
    x, gamma, beta, param, dout = _ln_case()
    _, cache = wrong.CORRECT.layernorm_forward(x, gamma, beta, param)
    grads = impl(dout, cache)
    assert not all(_same(g, e) for g, e in zip(grads, _ln_expected()[1], strict=True))


@pytest.mark.parametrize(
    "impl", wrong.MISTAKES["spatial_groupnorm_forward"], ids=lambda f: f.__name__
)
def test_wrong_spatial_groupnorm_forward_differs_from_the_twin(impl):
    x, gamma, beta, param, _ = _gn_case()
    out, _ = impl(x, gamma, beta, G, param)
    assert not _same(out, _gn_expected()[0])


@pytest.mark.parametrize(
    "impl", wrong.MISTAKES["spatial_groupnorm_backward"], ids=lambda f: f.__name__
)
def test_wrong_spatial_groupnorm_backward_differs_from_the_twin_after_the_right_forward(impl):
    x, gamma, beta, param, dout = _gn_case()
    _, cache = wrong.CORRECT.spatial_groupnorm_forward(x, gamma, beta, G, param)
    grads = impl(dout, cache)
    assert not all(_same(g, e) for g, e in zip(grads, _gn_expected()[1], strict=True))


def test_groupnorm_dgamma_of_shape_c_is_a_near_miss_right_after_a_reshape():
    x, gamma, beta, param, dout = _gn_case()
    _, cache = wrong.CORRECT.spatial_groupnorm_forward(x, gamma, beta, G, param)
    _, dgamma, dbeta = wrong.spatial_groupnorm_backward_dgamma_shape_c(dout, cache)
    _, expected_dgamma, expected_dbeta = _gn_expected()[1]
    assert dgamma.shape == dbeta.shape == (GN_SHAPE[1],)
    assert _same(dgamma.reshape(1, -1, 1, 1), expected_dgamma)
    assert _same(dbeta.reshape(1, -1, 1, 1), expected_dbeta)


def test_layernorm_over_the_batch_axis_is_batchnorm_in_training_mode():
    from course_utils.reference import batchnorm_forward

    x, gamma, beta, param, _ = _ln_case()
    out, _ = wrong.layernorm_forward_over_batch_axis(x, gamma, beta, param)
    expected, _ = _twin(batchnorm_forward, x, gamma, beta, {"mode": "train"})
    assert _same(out, expected.numpy())


# Kaiming: the layout each mistake shows on (conv_fan_in_channels is right for affine weights;
# ignores_gain shows with another gain than the default, no_value_error on no weight at all).
KAIMING_SHOWS_ON = {
    "kaiming_normal_fan_out": [(256, 64), (32, 16, 3, 3)],
    "kaiming_normal_no_gain": [(256, 64), (32, 16, 3, 3)],
    "kaiming_normal_ignores_gain": [],
    "kaiming_normal_no_value_error": [],
    "kaiming_normal_variance_as_std": [(256, 64), (32, 16, 3, 3)],
    "kaiming_normal_conv_fan_in_channels": [(32, 16, 3, 3)],
    "kaiming_normal_torch_layout": [(256, 64)],
    "kaiming_normal_global_rng": [(256, 64), (32, 16, 3, 3)],
    "kaiming_normal_uniform": [(256, 64), (32, 16, 3, 3)],
}


def test_every_kaiming_mistake_says_where_it_shows():
    assert set(KAIMING_SHOWS_ON) == {f.__name__ for f in wrong.MISTAKES["kaiming_normal"]}


@pytest.mark.parametrize("impl", wrong.MISTAKES["kaiming_normal"], ids=lambda f: f.__name__)
def test_wrong_kaiming_normal_differs_from_the_twins_draw(impl):
    for shape in KAIMING_SHOWS_ON[impl.__name__]:
        ours = impl(shape, np.random.default_rng(3))
        assert not _same(ours, twins.kaiming_normal(shape, np.random.default_rng(3)).numpy())


def test_kaiming_that_ignores_the_gain_is_right_only_for_the_default_gain():
    for shape in [(256, 64), (32, 16, 3, 3)]:
        ours = wrong.kaiming_normal_ignores_gain(shape, np.random.default_rng(3))
        assert _same(ours, twins.kaiming_normal(shape, np.random.default_rng(3)).numpy())
        ours = wrong.kaiming_normal_ignores_gain(shape, np.random.default_rng(3), 1.0)
        assert not _same(ours, twins.kaiming_normal(shape, np.random.default_rng(3), 1.0).numpy())


def test_kaiming_without_a_value_error_draws_both_layouts_right_and_refuses_no_shape():
    for shape in [(256, 64), (32, 16, 3, 3)]:
        ours = wrong.kaiming_normal_no_value_error(shape, np.random.default_rng(3))
        assert _same(ours, twins.kaiming_normal(shape, np.random.default_rng(3)).numpy())
    for shape in [(10,), (2, 3, 4), (1, 2, 3, 4, 5)]:
        assert wrong.kaiming_normal_no_value_error(shape, np.random.default_rng(3)).shape == shape


def test_kaiming_with_a_convolutions_fan_in_of_c_is_right_for_an_affine_weight():
    shape = (40, 10)
    ours = wrong.kaiming_normal_conv_fan_in_channels(shape, np.random.default_rng(3))
    assert _same(ours, twins.kaiming_normal(shape, np.random.default_rng(3)).numpy())


# The tolerance proposed for check_kaiming_normal: the sample standard deviation of n values
# (about the known mean 0) is within Z / sqrt(2 n) of the true one, relatively; Z = 6 gives a
# false failure with probability about 2e-9 per comparison.
Z = 6.0
LARGE = [(1024, 256), (128, 64, 3, 3)]  # 262,144 and 73,728 values


def _relative_std_error(w: np.ndarray, shape) -> float:
    std = math.sqrt(2.0) / math.sqrt(shape[0] if len(shape) == 2 else np.prod(shape[1:]))
    return abs(math.sqrt(np.mean(w**2)) / std - 1)


@pytest.mark.parametrize("shape", LARGE)
def test_the_proposed_tolerance_passes_the_right_kaiming_on_large_shapes(shape):
    for seed in range(5):
        w = twins.kaiming_normal(shape, np.random.default_rng(seed)).numpy()
        assert _relative_std_error(w, shape) <= Z / math.sqrt(2 * w.size)


@pytest.mark.parametrize(
    "impl",
    [
        wrong.kaiming_normal_fan_out,
        wrong.kaiming_normal_no_gain,
        wrong.kaiming_normal_variance_as_std,
        wrong.kaiming_normal_conv_fan_in_channels,
        wrong.kaiming_normal_torch_layout,
    ],
    ids=lambda f: f.__name__,
)
def test_the_proposed_tolerance_fails_each_kaiming_scale_mistake_on_large_shapes(impl):
    ranks = {len(shape) for shape in KAIMING_SHOWS_ON[impl.__name__]}
    shows = [shape for shape in LARGE if len(shape) in ranks]
    for shape in shows:
        w = impl(shape, np.random.default_rng(0))
        assert _relative_std_error(w, shape) > 10 * Z / math.sqrt(2 * w.size)


def test_uniform_kaiming_has_the_right_scale_but_the_wrong_fourth_moment():
    # Kurtosis E[w^4] / E[w^2]^2 is 3 for a normal law, 1.8 for a uniform one; its sample
    # standard error is about sqrt(24 / n).
    shape = LARGE[0]
    w = wrong.kaiming_normal_uniform(shape, np.random.default_rng(0))
    assert _relative_std_error(w, shape) <= Z / math.sqrt(2 * w.size)
    kurtosis = np.mean(w**4) / np.mean(w**2) ** 2
    assert abs(kurtosis - 3) > 10 * Z * math.sqrt(24 / w.size)


def test_torch_layout_kaiming_is_right_for_a_convolution_and_refuses_no_shape():
    shape = (8, 4, 3, 3)
    ours = wrong.kaiming_normal_torch_layout(shape, np.random.default_rng(1))
    assert _same(ours, twins.kaiming_normal(shape, np.random.default_rng(1)).numpy())
    assert wrong.kaiming_normal_torch_layout((2, 3, 4), np.random.default_rng(1)).shape == (2, 3, 4)


def test_global_rng_kaiming_gives_two_arrays_for_one_generator_state():
    first = wrong.kaiming_normal_global_rng((20, 10), np.random.default_rng(0))
    second = wrong.kaiming_normal_global_rng((20, 10), np.random.default_rng(0))
    assert not np.array_equal(first, second)


def test_each_mistake_has_the_hint_id_of_its_exercise():
    ids = [wrong.mistake_id(f) for funcs in wrong.MISTAKES.values() for f in funcs]
    assert len(ids) == len(set(ids))
    assert "layernorm_forward/over_batch_axis" in ids
    assert "spatial_groupnorm_forward/interleaved_groups" in ids
    assert "kaiming_normal/conv_fan_in_channels" in ids
    assert all("/" in i and " " not in i for i in ids)
