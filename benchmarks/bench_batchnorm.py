"""Batch-norm speed: notebook 04's NumPy solutions against torch's batch normalisation.

For each size, times (best of several repeats, on the CPU, float64):
- batchnorm_forward (training mode) against torch.nn.functional.batch_norm (training);
- batchnorm_forward followed by batchnorm_backward (staged), and by batchnorm_backward_alt
  (closed form), against torch's batch_norm forward followed by its autograd backward;
- the staged backward against the closed form;
- spatial_batchnorm_forward + spatial_batchnorm_backward against nn.BatchNorm2d forward +
  backward.

Prints each as a ratio, e.g.
    batchnorm_forward + batchnorm_backward_alt (N=256, D=512): 2.1x torch batch_norm forward +
    backward, CPU

Usage:
    python benchmarks/bench_batchnorm.py [--repeat R] [--threads T]
"""

from __future__ import annotations

import argparse
import sys
import timeit
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.solutions import load_solutions  # noqa: E402

FLAT_SIZES = [(64, 128), (256, 512), (1024, 1024)]
SPATIAL_SIZES = [(16, 16, 16, 16), (32, 32, 32, 32)]


def best(func, repeat: int) -> float:
    """Seconds per call, the best of ``repeat`` rounds (each long enough to measure)."""
    number = max(1, int(0.05 / max(1e-6, timeit.timeit(func, number=1))))
    return min(timeit.repeat(func, number=number, repeat=repeat)) / number


def bench_flat(solutions, n: int, d: int, repeat: int) -> None:
    rng = np.random.default_rng(0)
    x, dout = rng.standard_normal((n, d)), rng.standard_normal((n, d))
    gamma, beta = rng.uniform(0.5, 2.0, d), rng.standard_normal(d)
    _, cache = solutions.batchnorm_forward(x, gamma, beta, {"mode": "train"})

    xt = torch.from_numpy(x).requires_grad_()
    gt, bt = torch.from_numpy(gamma).requires_grad_(), torch.from_numpy(beta).requires_grad_()
    dt = torch.from_numpy(dout)

    def torch_forward():
        return F.batch_norm(xt, None, None, gt, bt, training=True)

    def torch_backward():
        torch.autograd.grad(torch_forward(), (xt, gt, bt), dt)

    def ours(backward):
        _, cache = solutions.batchnorm_forward(x, gamma, beta, {"mode": "train"})
        backward(dout, cache)

    t_forward = best(lambda: solutions.batchnorm_forward(x, gamma, beta, {"mode": "train"}), repeat)
    t_staged = best(lambda: solutions.batchnorm_backward(dout, cache), repeat)
    t_closed = best(lambda: solutions.batchnorm_backward_alt(dout, cache), repeat)
    with torch.no_grad():
        t_torch_forward = best(torch_forward, repeat)
    t_torch_both = best(torch_backward, repeat)
    size = f"(N={n}, D={d})"
    print(f"batchnorm_forward {size}: {t_forward / t_torch_forward:.1f}x torch batch_norm, CPU")
    for name, backward in (
        ("batchnorm_backward", solutions.batchnorm_backward),
        ("batchnorm_backward_alt", solutions.batchnorm_backward_alt),
    ):
        ratio = best(lambda backward=backward: ours(backward), repeat) / t_torch_both
        print(
            f"batchnorm_forward + {name} {size}: {ratio:.1f}x torch batch_norm forward + "
            "backward, CPU"
        )
    print(f"batchnorm_backward / batchnorm_backward_alt {size}: {t_staged / t_closed:.2f}x")


def bench_spatial(solutions, shape: tuple[int, int, int, int], repeat: int) -> None:
    rng = np.random.default_rng(1)
    c = shape[1]
    x, dout = rng.standard_normal(shape), rng.standard_normal(shape)
    gamma, beta = rng.uniform(0.5, 2.0, c), rng.standard_normal(c)

    def ours():
        _, cache = solutions.spatial_batchnorm_forward(x, gamma, beta, {"mode": "train"})
        solutions.spatial_batchnorm_backward(dout, cache)

    layer = torch.nn.BatchNorm2d(c, momentum=0.1, dtype=torch.float64)
    xt, dt = torch.from_numpy(x).requires_grad_(), torch.from_numpy(dout)

    def theirs():
        torch.autograd.grad(layer(xt), [xt, *layer.parameters()], dt)

    ratio = best(ours, repeat) / best(theirs, repeat)
    print(
        f"spatial_batchnorm forward+backward (N, C, H, W)={shape}: {ratio:.1f}x "
        "nn.BatchNorm2d forward+backward, CPU"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="timing rounds (best is kept)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (NumPy uses one)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    solutions = load_solutions("04_batchnorm")
    print(f"torch threads: {args.threads}; ratios > 1 mean the NumPy solution is slower")
    for n, d in FLAT_SIZES:
        bench_flat(solutions, n, d, args.repeat)
    for shape in SPATIAL_SIZES:
        bench_spatial(solutions, shape, args.repeat)


if __name__ == "__main__":
    main()
