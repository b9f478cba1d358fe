"""course_utils.gradcheck: relative error, centred differences, the one-call check."""

import numpy as np
import pytest
import torch

from course_utils.gradcheck import (
    check_gradients,
    eval_numerical_gradient,
    eval_numerical_gradient_array,
    rel_error,
    verdict,
)


def affine_forward(x, w, b):
    out = x.reshape(x.shape[0], -1) @ w + b
    return out, (x, w, b)


def affine_backward(dout, cache):
    x, w, b = cache
    dx = (dout @ w.T).reshape(x.shape)
    dw = x.reshape(x.shape[0], -1).T @ dout
    db = dout.sum(axis=0)
    return dx, dw, db


def affine_backward_dw_missing_batch_sum(dout, cache):
    """A common mistake: dw from the first example only, not summed over the batch."""
    x, w, b = cache
    dx, _, db = affine_backward(dout, cache)
    dw = np.outer(x.reshape(x.shape[0], -1)[0], dout[0])
    return dx, dw, db


def relu_forward(x):
    return np.maximum(0, x), x


def relu_backward(dout, cache):
    return dout * (cache > 0)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def test_rel_error_is_the_elementwise_maximum_as_in_cs231n():
    x = np.array([1.0, 2.0, 0.0])
    y = np.array([1.0, 2.2, 0.0])
    assert rel_error(x, y) == pytest.approx(0.2 / 4.2)
    # Two zeros: the 1e-8 floor keeps the ratio at 0, not nan.
    assert rel_error(np.zeros(3), np.zeros(3)) == 0.0


def test_rel_error_accepts_tensors_and_refuses_different_shapes():
    assert rel_error(torch.tensor([1.0, 3.0]), np.array([1.0, 3.0])) == 0.0
    with pytest.raises(ValueError, match=r"\(2,\) and \(3,\)"):
        rel_error(np.zeros(2), np.zeros(3))


def test_numerical_gradient_of_a_known_scalar_function_matches_its_derivative(rng):
    x = rng.standard_normal((3, 4))
    grad = eval_numerical_gradient(lambda v: np.sum(np.sin(v) * v), x)
    assert rel_error(grad, np.cos(x) * x + np.sin(x)) < 1e-8


def test_numerical_gradient_uses_centred_not_forward_differences():
    # f(x) = x**3 at x = 2 with h = 1e-3: f' = 12. A forward difference is off by
    # 3 x h + h**2 = 6e-3 (relative 5e-4); the centred one by h**2 = 1e-6 (relative 8e-8).
    x = np.array([2.0])
    grad = eval_numerical_gradient(lambda v: float(v[0] ** 3), x, h=1e-3)
    assert abs(grad[0] - 12.0) < 2e-6
    forward_difference = ((2.0 + 1e-3) ** 3 - 2.0**3) / 1e-3
    assert abs(forward_difference - 12.0) > 5e-3


def test_numerical_gradient_restores_x_in_place_after_perturbing_it(rng):
    x = rng.standard_normal((2, 3))
    original = x.copy()
    seen = []

    def f(v):
        seen.append(v is x)
        return np.sum(v**2)

    eval_numerical_gradient(f, x)
    assert all(seen), "f must see x itself, perturbed in place"
    np.testing.assert_array_equal(x, original)


def test_numerical_gradient_restores_x_even_when_f_raises():
    x = np.array([1.0, 2.0])

    def f(v):
        if v[0] > 1.0:
            raise RuntimeError("boom")
        return v.sum()

    with pytest.raises(RuntimeError):
        eval_numerical_gradient(f, x)
    np.testing.assert_array_equal(x, [1.0, 2.0])


def test_numerical_gradient_refuses_integer_arrays():
    with pytest.raises(TypeError, match="int64"):
        eval_numerical_gradient(np.sum, np.arange(3))


def test_numerical_gradient_array_contracts_with_the_upstream_gradient(rng):
    x = rng.standard_normal((4, 5))
    w = rng.standard_normal((5, 3))
    b = rng.standard_normal(3)
    dout = rng.standard_normal((4, 3))
    original = x.copy()
    dx = eval_numerical_gradient_array(lambda v: affine_forward(v, w, b)[0], x, dout)
    np.testing.assert_array_equal(x, original)
    torch_x = torch.tensor(x, requires_grad=True)
    (torch_x @ torch.tensor(w) + torch.tensor(b)).backward(torch.tensor(dout))
    assert rel_error(dx, torch_x.grad) < 1e-8


def test_numerical_gradient_array_perturbs_a_tensor_and_returns_a_tensor():
    x = torch.randn(3, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    original = x.clone()
    dout = torch.ones(3, 2, dtype=torch.float64)
    grad = eval_numerical_gradient_array(torch.tanh, x, dout)
    assert isinstance(grad, torch.Tensor) and grad.dtype == torch.float64
    torch.testing.assert_close(x, original, rtol=0, atol=0)
    assert rel_error(grad, 1 - torch.tanh(x) ** 2) < 1e-8


def test_check_gradients_passes_a_correct_affine_backward_in_float64(rng, capsys):
    x, w, b = rng.standard_normal((4, 2, 3)), rng.standard_normal((6, 5)), rng.standard_normal(5)
    report = check_gradients(affine_forward, {"x": x, "w": w, "b": b}, affine_backward)
    assert report.passed
    assert set(report.errors) == {"dx", "dw", "db"}
    assert max(report.errors.values()) < 1e-7
    printed = capsys.readouterr().out
    assert "dw:" in printed and "excellent for float64" in printed


def test_check_gradients_flags_a_wrong_backward_and_shows_where(rng, capsys):
    x, w, b = rng.standard_normal((4, 6)), rng.standard_normal((6, 5)), rng.standard_normal(5)
    report = check_gradients(
        affine_forward, {"x": x, "w": w, "b": b}, affine_backward_dw_missing_batch_sum
    )
    assert not report.passed
    assert report.errors["dw"] > 0.1
    assert report.errors["dx"] < 1e-7
    printed = capsys.readouterr().out
    assert "too large for float64; your backward is probably wrong" in printed
    assert "worst at dw[" in printed


def test_check_gradients_handles_a_single_gradient_backward(rng):
    # Keep inputs away from the kink at 0, where a finite difference straddles it.
    x = rng.standard_normal((3, 4))
    x[np.abs(x) < 0.01] = 0.5
    report = check_gradients(relu_forward, {"x": x}, relu_backward, verbose=False)
    assert report.passed


def test_check_gradients_accepts_precomputed_gradients_of_a_scalar_loss(rng):
    scores = rng.standard_normal((5, 3))

    def loss(s):
        return 0.5 * np.sum(s**2) / s.shape[0]

    report = check_gradients(loss, {"scores": scores}, scores / 5, verbose=False)
    assert report.passed
    wrong = check_gradients(loss, {"scores": scores}, scores, verbose=False)
    assert not wrong.passed


def test_check_gradients_never_changes_the_callers_arrays(rng):
    x = rng.standard_normal((2, 3))
    original = x.copy()
    check_gradients(relu_forward, [x], relu_backward, verbose=False)
    np.testing.assert_array_equal(x, original)


def test_check_gradients_names_the_wrong_number_of_gradients(rng):
    x, w, b = rng.standard_normal((2, 3)), rng.standard_normal((3, 4)), rng.standard_normal(4)

    def affine_backward_forgets_db(dout, cache):
        return affine_backward(dout, cache)[:2]

    with pytest.raises(ValueError, match=r"2 gradients, expected 3 \(dx, dw, db\)"):
        check_gradients(affine_forward, {"x": x, "w": w, "b": b}, affine_backward_forgets_db)


def test_check_gradients_names_a_gradient_of_the_wrong_shape(rng):
    x, w, b = rng.standard_normal((2, 3)), rng.standard_normal((3, 4)), rng.standard_normal(4)

    def affine_backward_transposed(dout, cache):
        dx, dw, db = affine_backward(dout, cache)
        return dx, dw.T, db

    with pytest.raises(ValueError, match=r"dw has shape \(4, 3\), expected \(3, 4\)"):
        check_gradients(affine_forward, {"x": x, "w": w, "b": b}, affine_backward_transposed)


def test_float32_checks_use_their_own_step_and_thresholds(rng):
    x = rng.uniform(0.5, 1.5, size=(3, 4)).astype(np.float32)
    good = check_gradients(
        lambda v: v**2, {"x": x}, lambda dout, cache: 2 * x * dout, verbose=False
    )
    assert good.dtype == "float32" and good.h == 1e-3
    assert good.passed
    bad = check_gradients(
        lambda v: v**2, {"x": x}, lambda dout, cache: 2.1 * x * dout, verbose=False
    )
    assert not bad.passed


def test_float32_checks_do_not_fail_a_correct_backward_on_tiny_gradient_elements():
    # With seed 0, one element of dw is about 1e-3 of the largest; float32 rounding alone
    # gives it a relative error near 0.5 under the float64 floor.
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((4, 2, 3)), rng.standard_normal((6, 5)), rng.standard_normal(5)
    inputs = {"x": x, "w": w, "b": b}
    inputs32 = {name: a.astype(np.float32) for name, a in inputs.items()}
    assert check_gradients(affine_forward, inputs32, affine_backward, verbose=False).passed
    wrong = check_gradients(
        affine_forward, inputs32, affine_backward_dw_missing_batch_sum, verbose=False
    )
    assert not wrong.passed


def test_verdict_judges_the_error_for_the_dtype():
    assert verdict(2.1e-10, np.float64) == "2.1e-10: excellent for float64"
    assert verdict(3e-4, "float64") == (
        "3.0e-04: too large for float64; your backward is probably wrong"
    )
    assert "acceptable" in verdict(1e-6, "float64")
    assert "excellent for float32" in verdict(3e-4, torch.float32)
    with pytest.raises(ValueError, match="float16"):
        verdict(1e-3, np.float16)
