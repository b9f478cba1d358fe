"""Batch-norm speed: notebook 04's NumPy solutions against torch's batch normalisation.

For each size, times (best of several repeats, on the CPU, float64):
- batchnorm_forward (training mode) against torch.nn.functional.batch_norm (training);
- batchnorm_forward followed by batchnorm_backward (staged), and by batchnorm_backward_alt
  (closed form), against torch's batch_norm forward followed by its autograd backward;
- the staged backward against the closed form;
- spatial_batchnorm_forward + spatial_batchnorm_backward against nn.BatchNorm2d forward +
  backward;
- the PyTorch twins of ``course_utils.reference.batchnorm`` (the checks' oracle and the
  layers later notebooks train with): spatial_batchnorm_forward (training mode) against
  F.batch_norm, and spatial_batchnorm_backward against F.batch_norm's autograd backward, on
  64x64x32x32 in float32 and float64, each pair timed in turn (goal, float32 on one thread:
  forward and backward within 2x).

Prints each as a ratio, e.g.
    batchnorm_forward + batchnorm_backward_alt (N=256, D=512): 2.1x torch batch_norm forward +
    backward, CPU

Usage:
    python benchmarks/bench_batchnorm.py [--repeat R] [--threads T] [--clock cpu] [--twins-only]

``--clock cpu`` measures the CPU time of the process instead of wall-clock time: on a machine
shared with other jobs it leaves out the time spent waiting for a core (with one thread, the
steadiest measure of the work itself).
"""

from __future__ import annotations

import argparse
import sys
import time
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
TWIN_SHAPE = (64, 64, 32, 32)  # bench_conv.py's large case
GOAL_TWIN = 2.0  # twin / torch, float32, forward and backward, at most
TIMER = timeit.default_timer  # time.process_time with --clock cpu


def best(func, repeat: int) -> float:
    """Seconds per call, the best of ``repeat`` rounds (each long enough to measure)."""
    number = max(1, int(0.05 / max(1e-6, timeit.timeit(func, number=1, timer=TIMER))))
    return min(timeit.repeat(func, number=number, repeat=repeat, timer=TIMER)) / number


def best_in_turn(functions, repeat: int) -> list[float]:
    """Seconds per call of each function, the best of ``repeat`` rounds; within a round the
    functions take turns, so a burst of load from other jobs falls on both sides of a ratio.
    Three warm-up calls each first: a fresh process pays page faults for its first large
    allocations (about 5 ms per 16 MB output here), which is not the operation's cost."""
    for function in functions:
        for _ in range(3):
            function()
    numbers = [
        max(1, int(0.05 / max(1e-6, timeit.timeit(f, number=1, timer=TIMER)))) for f in functions
    ]
    times = [[] for _ in functions]
    for _ in range(repeat):
        for function, number, measured in zip(functions, numbers, times):
            measured.append(timeit.timeit(function, number=number, timer=TIMER) / number)
    return [min(measured) for measured in times]


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


def time_twins(twins, dtype: torch.dtype, repeat: int) -> list[float]:
    """[twin forward, F.batch_norm forward, twin backward, autograd backward] seconds."""
    generator = torch.Generator().manual_seed(2)
    c = TWIN_SHAPE[1]
    x = torch.randn(TWIN_SHAPE, generator=generator, dtype=dtype)
    dout = torch.randn(TWIN_SHAPE, generator=generator, dtype=dtype)
    gamma = torch.rand(c, generator=generator, dtype=dtype) + 0.5
    beta = torch.randn(c, generator=generator, dtype=dtype)
    _, cache = twins.spatial_batchnorm_forward(x, gamma, beta, {"mode": "train"})
    leaves = [t.clone().requires_grad_() for t in (x, gamma, beta)]
    recorded = F.batch_norm(leaves[0], None, None, leaves[1], leaves[2], training=True)

    def twin_forward():
        with torch.no_grad():
            return twins.spatial_batchnorm_forward(x, gamma, beta, {"mode": "train"})

    def torch_forward():
        with torch.no_grad():
            return F.batch_norm(x, None, None, gamma, beta, training=True)

    return best_in_turn(
        [
            twin_forward,
            torch_forward,
            lambda: twins.spatial_batchnorm_backward(dout, cache),
            lambda: torch.autograd.grad(recorded, leaves, dout, retain_graph=True),
        ],
        repeat,
    )


def bench_twins(repeat: int) -> None:
    """course_utils.reference's spatial batch norm twins against F.batch_norm, forward and
    backward separately."""
    from course_utils.reference import batchnorm as twins

    shape = "x".join(str(s) for s in TWIN_SHAPE)
    print(f"course_utils.reference twins (training mode) on {shape}, each pair timed in turn:")
    for dtype in (torch.float32, torch.float64):
        ours_f, theirs_f, ours_b, theirs_b = time_twins(twins, dtype, repeat)
        name = str(dtype).removeprefix("torch.")
        for label, ours, theirs in (
            ("spatial_batchnorm_forward / F.batch_norm", ours_f, theirs_f),
            ("spatial_batchnorm_backward / F.batch_norm autograd", ours_b, theirs_b),
        ):
            ratio = ours / theirs
            met = "met" if ratio <= GOAL_TWIN else "NOT met"
            print(
                f"  {name} {label}: {ratio:.2f}x ({ours * 1e3:.2f} ms vs {theirs * 1e3:.2f} ms; "
                f"goal <= {GOAL_TWIN:g}x: {met}), CPU"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="timing rounds (best is kept)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (NumPy uses one)")
    parser.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="wall-clock time, or CPU time of this process (steadier on a busy machine)",
    )
    parser.add_argument(
        "--twins-only",
        action="store_true",
        help="time only the course_utils.reference twins, not the notebook's solutions",
    )
    args = parser.parse_args()
    global TIMER
    TIMER = time.process_time if args.clock == "cpu" else timeit.default_timer
    torch.set_num_threads(args.threads)
    print(f"torch threads: {args.threads}; {args.clock} clock; best of {args.repeat} rounds")
    if args.twins_only:
        bench_twins(args.repeat)
        return
    solutions = load_solutions("04_batchnorm")
    print("ratios > 1 mean the NumPy solution is slower")
    for n, d in FLAT_SIZES:
        bench_flat(solutions, n, d, args.repeat)
    for shape in SPATIAL_SIZES:
        bench_spatial(solutions, shape, args.repeat)
    bench_twins(args.repeat)


if __name__ == "__main__":
    main()
