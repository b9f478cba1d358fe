"""Notebook 04's normalisation and initialisation twins give the same results on CUDA as on the
CPU. Skipped without CUDA (tests/conftest.py); `make test-gpu` runs them."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from course_utils import reference
from tests.gpu.both_devices import assert_same, on_both

pytestmark = pytest.mark.cuda


def test_layernorm_forward_and_backward_agree_on_cuda_and_cpu_and_with_torch():
    (x, gamma, beta, dout), (xg, gammag, betag, doutg) = on_both((1, 7), (7,), (7,), (1, 7))
    x, xg = x * 3 + 2, xg * 3 + 2
    out, cache = reference.layernorm_forward(x, gamma, beta, {})
    outg, cacheg = reference.layernorm_forward(xg, gammag, betag, {})
    assert_same(out, outg)
    assert_same(outg.cpu(), F.layer_norm(xg, (7,), gammag, betag, 1e-5))
    assert_same(
        reference.layernorm_backward(dout, cache), reference.layernorm_backward(doutg, cacheg)
    )


@pytest.mark.parametrize("shape, G", [((2, 6, 3, 5), 3), ((1, 4, 2, 7), 1), ((3, 4, 4, 2), 4)])
def test_spatial_groupnorm_forward_and_backward_agree_on_cuda_and_cpu_and_with_torch(shape, G):
    c = shape[1]
    (x, gamma, beta, dout), (xg, gammag, betag, doutg) = on_both(
        shape, (1, c, 1, 1), (1, c, 1, 1), shape
    )
    out, cache = reference.spatial_groupnorm_forward(x, gamma, beta, G, {"eps": 1e-4})
    outg, cacheg = reference.spatial_groupnorm_forward(xg, gammag, betag, G, {"eps": 1e-4})
    assert_same(out, outg)
    assert_same(outg.cpu(), F.group_norm(xg, G, gammag.flatten(), betag.flatten(), 1e-4))
    assert_same(
        reference.spatial_groupnorm_backward(dout, cache),
        reference.spatial_groupnorm_backward(doutg, cacheg),
    )


@pytest.mark.parametrize("shape", [(300, 40), (16, 3, 3, 3)])
def test_kaiming_normal_puts_the_same_numbers_on_cuda(shape):
    cpu = reference.kaiming_normal(shape, np.random.default_rng(4))
    cuda = reference.kaiming_normal(shape, np.random.default_rng(4), device="cuda")
    assert cuda.device.type == "cuda"
    assert torch.equal(cuda.cpu(), cpu)
