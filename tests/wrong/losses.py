"""Deliberately wrong notebook 02 losses and numerical gradients, one per common mistake,
named for it.

Each is a plain NumPy implementation that is right except for its one mistake, so a check
must fail it with the hint that names that mistake. The right versions they start from are
the private helpers below (collected in ``CORRECT``); they are independent of the notebook's
solutions, and the checks must pass them too.

The last one breaks the rules instead of the math: it lets PyTorch do the work, importing it
under a name built while it runs.
"""

import importlib
import types

import numpy as np

# --- the right versions, with a switch per mistake ----------------------------------------------


def _softmax_loss(scores, y, shift=True, average=True, log_of_probs=False):
    n = scores.shape[0]
    shifted = scores - scores.max(axis=1, keepdims=True) if shift else scores
    exps = np.exp(shifted)
    probs = exps / exps.sum(axis=1, keepdims=True)
    log_probs = np.log(probs) if log_of_probs else shifted - np.log(exps.sum(axis=1, keepdims=True))
    divisor = n if average else 1
    loss = -log_probs[np.arange(n), y].sum() / divisor
    dscores = probs.copy()
    dscores[np.arange(n), y] -= 1
    return loss, dscores / divisor


def _svm_loss(scores, y, count_correct_class=False, average=True):
    n = scores.shape[0]
    correct = scores[np.arange(n), y][:, None]
    margins = np.maximum(0, scores - correct + 1)
    if not count_correct_class:
        margins[np.arange(n), y] = 0
    divisor = n if average else 1
    loss = margins.sum() / divisor
    positive = (margins > 0).astype(np.float64)
    positive[np.arange(n), y] = 0
    positive[np.arange(n), y] = -positive.sum(axis=1)
    return loss, positive / divisor


def _bce_loss(logits, y, lecture_sign=False, stable=True, average=True):
    s = 1 / (1 + np.exp(-logits))
    if lecture_sign:
        elements = -y * np.log(s) + (1 - y) * np.log(1 - s)
    elif stable:
        elements = np.maximum(logits, 0) - logits * y + np.log1p(np.exp(-np.abs(logits)))
    else:
        elements = -(y * np.log(s) + (1 - y) * np.log(1 - s))
    divisor = logits.size if average else 1
    return elements.sum() / divisor, (s - y) / divisor


def _eval_numerical_gradient_array(
    f, x, df, h=1e-5, centred=True, restore=True, copy=False, weighted=True, step=None
):
    """step: the h actually used (None: the h given)."""
    h = h if step is None else step
    grad = np.zeros_like(x)
    weights = df if weighted else np.ones_like(df)
    target = x.copy() if copy else x
    base = None if centred else f(target).copy()
    for index in np.ndindex(*x.shape):
        old = target[index]
        target[index] = old + h
        positive = f(target).copy()
        if centred:
            target[index] = old - h
            negative = f(target).copy()
            grad[index] = np.sum((positive - negative) * weights) / (2 * h)
        else:
            grad[index] = np.sum((positive - base) * weights) / h
        if restore:
            target[index] = old
    return grad


# The right versions, for the tests that make sure a check passes a correct implementation.
CORRECT = types.SimpleNamespace(
    softmax_loss=_softmax_loss,
    svm_loss=_svm_loss,
    bce_loss=_bce_loss,
    eval_numerical_gradient_array=_eval_numerical_gradient_array,
)


# --- losses --------------------------------------------------------------------------------------


def softmax_loss_no_max_subtraction(scores, y):
    return _softmax_loss(scores, y, shift=False)


def softmax_loss_log_of_underflowed_probability(scores, y):
    return _softmax_loss(scores, y, log_of_probs=True)


def softmax_loss_summed(scores, y):
    return _softmax_loss(scores, y, average=False)


def svm_loss_counts_correct_class(scores, y):
    return _svm_loss(scores, y, count_correct_class=True)


def svm_loss_summed(scores, y):
    return _svm_loss(scores, y, average=False)


def bce_loss_lecture_sign(logits, y):
    return _bce_loss(logits, y, lecture_sign=True)


def bce_loss_log_of_sigmoid(logits, y):
    return _bce_loss(logits, y, stable=False)


def bce_loss_summed(logits, y):
    return _bce_loss(logits, y, average=False)


# --- the numerical gradient ----------------------------------------------------------------------


def eval_numerical_gradient_array_forward_differences(f, x, df, h=1e-5):
    return _eval_numerical_gradient_array(f, x, df, h, centred=False)


def eval_numerical_gradient_array_ignores_df(f, x, df, h=1e-5):
    return _eval_numerical_gradient_array(f, x, df, h, weighted=False)


def eval_numerical_gradient_array_ignores_h(f, x, df, h=1e-5):
    return _eval_numerical_gradient_array(f, x, df, h, step=1e-5)


def eval_numerical_gradient_array_not_restored(f, x, df, h=1e-5):
    return _eval_numerical_gradient_array(f, x, df, h, restore=False)


def eval_numerical_gradient_array_on_a_copy(f, x, df, h=1e-5):
    return _eval_numerical_gradient_array(f, x, df, h, copy=True)


# --- breaking the rules: another library does the work -------------------------------------------


def softmax_loss_imports_torch_at_run_time(scores, y):
    """Only a run-time watch sees this: the module name is built while the function runs."""
    torch = importlib.import_module("tor" + "ch")
    loss = torch.nn.functional.cross_entropy(torch.from_numpy(scores), torch.from_numpy(y))
    return _softmax_loss(scores, y)[0] * 0 + float(loss), _softmax_loss(scores, y)[1]
