"""Deliberately wrong notebook 02 layers (affine, ReLU, dropout), one per common mistake, named
for it.

Each is a plain NumPy implementation that is right except for its one mistake, so a check
must fail it with the hint that names that mistake. The right versions they start from are
the private helpers below (collected in ``CORRECT``); they are independent of the notebook's
solutions, and the checks must pass them too.

The last group breaks the rules instead of the math: it lets the reference twins do the work,
through a helper function.
"""

import types

import numpy as np

# --- the right versions, with a switch per mistake ----------------------------------------------


def _affine_forward(x, w, b, flatten=True):
    x_in = x.reshape(x.shape[0], -1) if flatten else x  # (N, D)
    return x_in @ w + b, (x, w, b)


def _affine_backward(dout, cache, reshape_dx=True, bias_gradient=True, transpose_dw=False):
    x, w, b = cache
    dx = dout @ w.T  # (N, D)
    if reshape_dx:
        dx = dx.reshape(x.shape)
    dw = x.reshape(x.shape[0], -1).T @ dout  # (D, M)
    if transpose_dw:
        dw = dw.T  # (M, D)
    db = dout.sum(axis=0) if bias_gradient else np.zeros_like(b)
    return dx, dw, db


def _relu_forward(x):
    return np.maximum(x, 0), x


def _relu_backward(dout, cache, gate_on_dout=False, gate_at_zero=False):
    x = cache
    gate = dout if gate_on_dout else x
    return dout * (gate >= 0) if gate_at_zero else dout * (gate > 0)


def _dropout_forward(x, dropout_param, scale=True, p_is_keep=False, at_test=False, seeded=True):
    p, mode = dropout_param["p"], dropout_param["mode"]
    rng = np.random.default_rng(dropout_param.get("seed") if seeded else None)
    keep = p if p_is_keep else 1 - p
    if mode == "test" and not at_test:
        return x.copy(), (dropout_param, None)
    mask = (rng.random(x.shape) < keep) / (keep if scale else 1.0)
    return x * mask, (dropout_param, mask)


def _dropout_backward(dout, cache, scale=True, mask_gradient=True):
    dropout_param, mask = cache
    if dropout_param["mode"] == "test" or not mask_gradient:
        return dout.copy()
    if not scale:
        return dout * (mask != 0)
    return dout * mask


# The right versions, for the tests that make sure a check passes a correct implementation.
CORRECT = types.SimpleNamespace(
    affine_forward=_affine_forward,
    affine_backward=_affine_backward,
    relu_forward=_relu_forward,
    relu_backward=_relu_backward,
    dropout_forward=_dropout_forward,
    dropout_backward=_dropout_backward,
)


# --- affine and ReLU -----------------------------------------------------------------------------


def affine_forward_no_flatten(x, w, b):
    return _affine_forward(x, w, b, flatten=False)


def affine_backward_dx_not_reshaped(dout, cache):
    return _affine_backward(dout, cache, reshape_dx=False)


def affine_backward_dw_transposed(dout, cache):
    return _affine_backward(dout, cache, transpose_dw=True)


def affine_backward_no_bias_gradient(dout, cache):
    return _affine_backward(dout, cache, bias_gradient=False)


def relu_backward_on_dout(dout, cache):
    return _relu_backward(dout, cache, gate_on_dout=True)


def relu_backward_gate_includes_zero(dout, cache):
    return _relu_backward(dout, cache, gate_at_zero=True)


# --- dropout -------------------------------------------------------------------------------------


def dropout_forward_no_scaling(x, dropout_param):
    return _dropout_forward(x, dropout_param, scale=False)


def dropout_forward_p_as_keep(x, dropout_param):
    return _dropout_forward(x, dropout_param, p_is_keep=True)


def dropout_forward_active_at_test(x, dropout_param):
    return _dropout_forward(x, dropout_param, at_test=True)


def dropout_forward_ignores_seed(x, dropout_param):
    return _dropout_forward(x, dropout_param, seeded=False)


def dropout_backward_no_scaling(dout, cache):
    return _dropout_backward(dout, cache, scale=False)


def dropout_backward_not_masked(dout, cache):
    return _dropout_backward(dout, cache, mask_gradient=False)


# --- breaking the rules: another library does the work -------------------------------------------


def _relu_by_reference(x):
    import torch

    from course_utils import reference

    return reference.relu_forward(torch.from_numpy(x))[0].numpy()


def relu_forward_calls_reference_twin(x):
    return _relu_by_reference(x), x
