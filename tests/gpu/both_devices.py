"""The same computation on the CPU and on CUDA, compared: the helpers of the GPU tests."""

from __future__ import annotations

import torch

# float64 on both devices: only the order of summation differs.
RTOL, ATOL = 1e-9, 1e-11


def on_both(*shapes, seed: int = 0):
    """The same float64 tensors on the CPU and on CUDA."""
    generator = torch.Generator().manual_seed(seed)
    cpu = [torch.randn(*shape, generator=generator, dtype=torch.float64) for shape in shapes]
    return cpu, [t.cuda() for t in cpu]


def assert_same(cpu_result, cuda_result):
    """``cuda_result`` lives on CUDA and equals ``cpu_result`` (tensors, or tuples of them)."""
    if isinstance(cpu_result, (tuple, list)):
        for a, b in zip(cpu_result, cuda_result, strict=True):
            assert_same(a, b)
        return
    assert cuda_result.device.type == "cuda"
    torch.testing.assert_close(cuda_result.cpu(), cpu_result, rtol=RTOL, atol=ATOL)
