"""Speed of notebook 02's reference layers against PyTorch on the CPU, printed as ratios.

    python benchmarks/bench_conv.py [--threads 2] [--repeats 5] [--clock wall] [--no-naive]

Times the reference solutions of ``notebooks/02_layers.ipynb`` (loaded with
``tests.solutions.load_solutions``, so the notebook's own code is measured):

- ``conv_forward_fast`` / ``conv_backward_fast`` against ``torch.nn.functional.conv2d``
  (forward under ``torch.no_grad``; backward = ``torch.autograd.grad`` through the recorded
  graph, i.e. what ``loss.backward()`` costs), in float32 and float64, on a small
  (50x3x32x32, 25 filters 3x3, pad 1) and a large (64x64x32x32, 64 filters 3x3, pad 1) case;
- ``conv_forward_naive`` / ``conv_backward_naive`` on the small case (float64);
- max pooling and average pooling (2x2, stride 2) against ``F.max_pool2d`` / ``F.avg_pool2d``;
- spatial batch normalisation against ``F.batch_norm`` when notebook 04 has its solutions;
- the PyTorch twins of ``course_utils.reference`` (the checks' oracle and the layers later
  notebooks train with): ``conv_forward_fast`` / ``conv_backward_fast`` on the large case and
  max and average pooling, against the same PyTorch operations, each pair timed in turn
  (``--twins-only`` times these alone).

Both sides get the same number of threads: ``--threads`` sets OMP_NUM_THREADS,
OPENBLAS_NUM_THREADS and MKL_NUM_THREADS (NumPy's BLAS) before NumPy and PyTorch are imported,
and ``torch.set_num_threads``. Each time is the fastest of ``--repeats`` runs after one
warm-up, so a busy machine disturbs it as little as possible. ``--clock cpu`` measures the CPU
time of the process (all its threads) instead of wall-clock time: on a machine shared with
other jobs it does not count the time spent waiting for a core, so with ``--threads 1`` it is
the steadiest measure of the work itself (with more threads it also counts threads that spin
while they wait for work). A ratio is NumPy time / PyTorch
time: 2.0x means NumPy takes twice as long. The goals of the reference solution: forward
within 2x and backward within 3x of PyTorch float32, and at least 500x faster than the naive
loops. The goals of the twins, float32 on one thread: conv forward within 1.5x and backward
within 2x of PyTorch, pooling forward and backward within 2x. This script measures; it
asserts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

SMALL = {"x": (50, 3, 32, 32), "w": (25, 3, 3, 3), "conv_param": {"stride": 1, "pad": 1}}
LARGE = {"x": (64, 64, 32, 32), "w": (64, 64, 3, 3), "conv_param": {"stride": 1, "pad": 1}}
POOL_SHAPE = (64, 64, 32, 32)
POOL_PARAM = {"pool_height": 2, "pool_width": 2, "stride": 2}
GOAL_FORWARD = 2.0  # NumPy float32 forward / PyTorch float32 forward, at most
GOAL_BACKWARD = 3.0  # NumPy float32 backward / PyTorch float32 backward, at most
GOAL_NAIVE = 500.0  # naive time / fast time, at least
GOAL_TWIN_CONV_FORWARD = 1.5  # course_utils.reference twin / PyTorch, float32, at most
GOAL_TWIN_CONV_BACKWARD = 2.0
GOAL_TWIN_POOL = 2.0  # forward and backward


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2, help="threads for NumPy and PyTorch")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per measurement")
    parser.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="wall-clock time, or CPU time of this process (steadier on a busy machine)",
    )
    parser.add_argument("--no-naive", action="store_true", help="skip the (slow) naive loops")
    parser.add_argument(
        "--twins-only",
        action="store_true",
        help="time only the course_utils.reference twins, not the notebook's solutions",
    )
    return parser.parse_args(argv)


ARGS = parse_args()
for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_variable] = str(ARGS.threads)  # before NumPy and PyTorch start their pools
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from tests.solutions import NOTEBOOKS, load_solutions  # noqa: E402

CLOCK = time.perf_counter if ARGS.clock == "wall" else time.process_time


def best_time(function: Callable[[], object], repeats: int) -> float:
    """Seconds of the fastest of `repeats` calls, after one warm-up call."""
    function()
    times = []
    for _ in range(repeats):
        start = CLOCK()
        function()
        times.append(CLOCK() - start)
    return min(times)


def best_times_in_turn(functions: list[Callable[[], object]], repeats: int) -> list[float]:
    """Seconds of the fastest of `repeats` calls of each function, after warm-up calls.

    The functions are called in turn within each repeat, so a burst of load from other jobs
    falls on both sides of a ratio rather than on one. Three warm-up calls each: a fresh
    process pays page faults for its first large allocations, which is not the operation's cost.
    """
    for function in functions:
        for _ in range(3):
            function()
    times = [[] for _ in functions]
    for _ in range(repeats):
        for function, measured in zip(functions, times):
            start = CLOCK()
            function()
            measured.append(CLOCK() - start)
    return [min(measured) for measured in times]


def describe(case: dict) -> str:
    n, c, h, w = case["x"]
    f, _, hh, ww = case["w"]
    return f"N={n}, C={c}, {h}x{w}, F={f}, {hh}x{ww}, pad {case['conv_param']['pad']}"


def fmt_ms(seconds: float) -> str:
    return f"{seconds * 1e3:9.2f} ms"


def verdict(ratio: float, goal: float, at_most: bool = True) -> str:
    met = ratio <= goal if at_most else ratio >= goal
    return f"goal {'<=' if at_most else '>='} {goal:g}x: {'met' if met else 'NOT met'}"


def conv_inputs(case: dict, dtype, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(case["x"]).astype(dtype)
    w = rng.standard_normal(case["w"]).astype(dtype)
    b = rng.standard_normal(case["w"][0]).astype(dtype)
    return x, w, b


def time_numpy_conv(forward, backward, case: dict, dtype, repeats: int) -> tuple[float, float]:
    x, w, b = conv_inputs(case, dtype)
    out, cache = forward(x, w, b, case["conv_param"])
    dout = np.random.default_rng(1).standard_normal(out.shape).astype(dtype)
    t_forward = best_time(lambda: forward(x, w, b, case["conv_param"]), repeats)
    t_backward = best_time(lambda: backward(dout, cache), repeats)
    return t_forward, t_backward


def time_torch_conv(case: dict, dtype, repeats: int) -> tuple[float, float]:
    x, w, b = (torch.from_numpy(a).requires_grad_() for a in conv_inputs(case, dtype))
    stride, pad = case["conv_param"]["stride"], case["conv_param"]["pad"]

    def forward():
        with torch.no_grad():
            return F.conv2d(x, w, b, stride=stride, padding=pad)

    out = F.conv2d(x, w, b, stride=stride, padding=pad)
    dout = torch.from_numpy(np.random.default_rng(1).standard_normal(out.shape).astype(dtype))

    def backward():
        return torch.autograd.grad(out, (x, w, b), dout, retain_graph=True)

    return best_time(forward, repeats), best_time(backward, repeats)


def check_agreement(solutions, case: dict) -> float:
    """Largest relative difference of conv_forward_fast from F.conv2d (float64, small case)."""
    x, w, b = conv_inputs(case, np.float64)
    out, _ = solutions.conv_forward_fast(x, w, b, case["conv_param"])
    expected = F.conv2d(
        torch.from_numpy(x),
        torch.from_numpy(w),
        torch.from_numpy(b),
        stride=case["conv_param"]["stride"],
        padding=case["conv_param"]["pad"],
    ).numpy()
    return float(np.max(np.abs(out - expected)) / np.max(np.abs(expected)))


def bench_conv(solutions, repeats: int) -> None:
    print("\n== convolution: conv_forward_fast / conv_backward_fast vs F.conv2d")
    for name, case in (("small", SMALL), ("large", LARGE)):
        print(f"\n{name} case ({describe(case)})")
        results = {}
        for dtype in (np.float32, np.float64):
            ours = time_numpy_conv(
                solutions.conv_forward_fast, solutions.conv_backward_fast, case, dtype, repeats
            )
            theirs = time_torch_conv(case, dtype, repeats)
            results[np.dtype(dtype).name] = (ours, theirs)
            for i, direction in enumerate(("forward", "backward")):
                print(
                    f"  {direction:8s} {np.dtype(dtype).name}: NumPy {fmt_ms(ours[i])}, PyTorch "
                    f"{fmt_ms(theirs[i])}  ratio {ours[i] / theirs[i]:5.2f}x"
                )
        (ours32, torch32), (ours64, _) = results["float32"], results["float64"]
        for i, (direction, goal) in enumerate(
            (("forward", GOAL_FORWARD), ("backward", GOAL_BACKWARD))
        ):
            same = ours32[i] / torch32[i]
            course = ours64[i] / torch32[i]
            print(
                f"  {direction:8s} vs PyTorch float32: NumPy float32 {same:5.2f}x "
                f"({verdict(same, goal)}); NumPy float64 (the course's dtype) {course:5.2f}x"
            )


def bench_naive(solutions, repeats: int) -> None:
    print(f"\n== naive loops vs the vectorised version (small case, float64, {describe(SMALL)})")
    x, w, b = conv_inputs(SMALL, np.float64)
    conv_param = SMALL["conv_param"]
    start = CLOCK()
    out, cache = solutions.conv_forward_naive(x, w, b, conv_param)
    t_naive_forward = CLOCK() - start
    dout = np.random.default_rng(1).standard_normal(out.shape)
    start = CLOCK()
    solutions.conv_backward_naive(dout, cache)
    t_naive_backward = CLOCK() - start
    t_fast_forward, t_fast_backward = time_numpy_conv(
        solutions.conv_forward_fast, solutions.conv_backward_fast, SMALL, np.float64, repeats
    )
    for direction, naive, fast in (
        ("forward", t_naive_forward, t_fast_forward),
        ("backward", t_naive_backward, t_fast_backward),
    ):
        speedup = naive / fast
        print(
            f"  {direction:8s}: naive {fmt_ms(naive)}, fast {fmt_ms(fast)}: fast is "
            f"{speedup:6.0f}x faster ({verdict(speedup, GOAL_NAIVE, at_most=False)})"
        )


def time_pool(forward, backward, torch_pool, dtype, repeats: int):
    """((NumPy forward, backward), (PyTorch forward, backward)) seconds for one pooling pair."""
    x = np.random.default_rng(0).standard_normal(POOL_SHAPE).astype(dtype)
    out, cache = forward(x, POOL_PARAM)
    dout = np.random.default_rng(1).standard_normal(out.shape).astype(dtype)
    ours = (
        best_time(lambda: forward(x, POOL_PARAM), repeats),
        best_time(lambda: backward(dout, cache), repeats),
    )
    x_t = torch.from_numpy(x).requires_grad_()
    out_t = torch_pool(x_t, kernel_size=2, stride=2)
    dout_t = torch.from_numpy(dout)

    def torch_forward():
        with torch.no_grad():
            return torch_pool(x_t, kernel_size=2, stride=2)

    theirs = (
        best_time(torch_forward, repeats),
        best_time(lambda: torch.autograd.grad(out_t, x_t, dout_t, retain_graph=True), repeats),
    )
    return ours, theirs


def print_ratios(label: str, ours: tuple[float, float], theirs: tuple[float, float]) -> None:
    print(
        f"  {label}: forward {ours[0] / theirs[0]:5.2f}x ({fmt_ms(ours[0])} vs "
        f"{fmt_ms(theirs[0])}), backward {ours[1] / theirs[1]:5.2f}x ({fmt_ms(ours[1])} vs "
        f"{fmt_ms(theirs[1])})"
    )


def bench_pool(solutions, repeats: int) -> None:
    shape = "x".join(str(s) for s in POOL_SHAPE)
    print(f"\n== pooling 2x2, stride 2, on {shape}: reference solution vs PyTorch")
    pairs = (
        (
            "max_pool",
            solutions.max_pool_forward_naive,
            solutions.max_pool_backward_naive,
            F.max_pool2d,
        ),
        ("avg_pool", solutions.avg_pool_forward, solutions.avg_pool_backward, F.avg_pool2d),
    )
    for name, forward, backward, torch_pool in pairs:
        for dtype in (np.float32, np.float64):
            ours, theirs = time_pool(forward, backward, torch_pool, dtype, repeats)
            print_ratios(f"{name} {np.dtype(dtype).name}", ours, theirs)


def time_batchnorm(forward, backward, dtype, repeats: int):
    """((NumPy forward, backward), (PyTorch forward, backward)) seconds, training mode."""
    n, c, h, w = LARGE["x"]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    gamma = rng.standard_normal(c).astype(dtype)
    beta = rng.standard_normal(c).astype(dtype)

    def bn_param():
        return {"mode": "train", "eps": 1e-5, "momentum": 0.9}

    out, cache = forward(x, gamma, beta, bn_param())
    dout = rng.standard_normal(out.shape).astype(dtype)
    ours = (
        best_time(lambda: forward(x, gamma, beta, bn_param()), repeats),
        best_time(lambda: backward(dout, cache), repeats),
    )
    x_t, g_t, b_t = (torch.from_numpy(a).requires_grad_() for a in (x, gamma, beta))

    def torch_forward():
        with torch.no_grad():
            return F.batch_norm(x_t, None, None, g_t, b_t, training=True, eps=1e-5)

    out_t = F.batch_norm(x_t, None, None, g_t, b_t, training=True, eps=1e-5)
    dout_t = torch.from_numpy(dout)
    theirs = (
        best_time(torch_forward, repeats),
        best_time(
            lambda: torch.autograd.grad(out_t, (x_t, g_t, b_t), dout_t, retain_graph=True),
            repeats,
        ),
    )
    return ours, theirs


def bench_batchnorm(repeats: int) -> None:
    shape = "x".join(str(s) for s in LARGE["x"])
    print(f"\n== spatial batch normalisation (training mode) on {shape} vs F.batch_norm")
    path = NOTEBOOKS / "04_batchnorm.ipynb"
    if not path.exists():
        print(f"  skipped: {path.relative_to(REPO)} does not exist yet")
        return
    with contextlib.redirect_stdout(io.StringIO()):
        solutions = load_solutions("04_batchnorm")
    forward = getattr(solutions, "spatial_batchnorm_forward", None)
    backward = getattr(solutions, "spatial_batchnorm_backward", None)
    if forward is None or backward is None:
        print(f"  skipped: {path.name} has no spatial_batchnorm_forward/backward solution yet")
        return
    for dtype in (np.float32, np.float64):
        ours, theirs = time_batchnorm(forward, backward, dtype, repeats)
        print_ratios(np.dtype(dtype).name, ours, theirs)


def twin_ratio(label: str, ours: float, theirs: float, goal: float) -> None:
    ratio = ours / theirs
    print(
        f"  {label + ':':43s} {ratio:5.2f}x ({fmt_ms(ours)} vs {fmt_ms(theirs)}; "
        f"{verdict(ratio, goal)})"
    )


def time_twin_conv(twins, dtype, repeats: int) -> list[float]:
    """[twin forward, F.conv2d forward, twin backward, autograd backward] seconds, large case."""
    stride, pad = LARGE["conv_param"]["stride"], LARGE["conv_param"]["pad"]
    x, w, b = (torch.from_numpy(a) for a in conv_inputs(LARGE, dtype))
    out, cache = twins.conv_forward_fast(x, w, b, LARGE["conv_param"])
    dout = torch.from_numpy(np.random.default_rng(1).standard_normal(out.shape).astype(dtype))
    leaves = [t.clone().requires_grad_() for t in (x, w, b)]
    recorded = F.conv2d(*leaves, stride=stride, padding=pad)

    def twin_forward():
        with torch.no_grad():
            return twins.conv_forward_fast(x, w, b, LARGE["conv_param"])

    def torch_forward():
        with torch.no_grad():
            return F.conv2d(x, w, b, stride=stride, padding=pad)

    return best_times_in_turn(
        [
            twin_forward,
            torch_forward,
            lambda: twins.conv_backward_fast(dout, cache),
            lambda: torch.autograd.grad(recorded, leaves, dout, retain_graph=True),
        ],
        repeats,
    )


def time_twin_pool(forward, backward, torch_pool, dtype, repeats: int) -> list[float]:
    """[twin forward, torch forward, twin backward, autograd backward] seconds, 2x2 stride 2."""
    x = torch.from_numpy(np.random.default_rng(0).standard_normal(POOL_SHAPE).astype(dtype))
    out, cache = forward(x, POOL_PARAM)
    dout = torch.from_numpy(np.random.default_rng(1).standard_normal(out.shape).astype(dtype))
    leaf = x.clone().requires_grad_()
    recorded = torch_pool(leaf, kernel_size=2, stride=2)

    def twin_forward():
        with torch.no_grad():
            return forward(x, POOL_PARAM)

    def torch_forward():
        with torch.no_grad():
            return torch_pool(x, kernel_size=2, stride=2)

    return best_times_in_turn(
        [
            twin_forward,
            torch_forward,
            lambda: backward(dout, cache),
            lambda: torch.autograd.grad(recorded, leaf, dout, retain_graph=True),
        ],
        repeats,
    )


def bench_twins(repeats: int) -> None:
    """course_utils.reference's conv and pooling twins against the same PyTorch operations."""
    from course_utils.reference import layers as twins

    print("\n== course_utils.reference twins vs PyTorch, each pair timed in turn")
    pool_shape = "x".join(str(s) for s in POOL_SHAPE)
    for dtype in (np.float32, np.float64):
        name = np.dtype(dtype).name
        print(f"\n{name}, conv on the large case ({describe(LARGE)})")
        ours_f, theirs_f, ours_b, theirs_b = time_twin_conv(twins, dtype, repeats)
        twin_ratio("conv_forward_fast / F.conv2d", ours_f, theirs_f, GOAL_TWIN_CONV_FORWARD)
        twin_ratio(
            "conv_backward_fast / F.conv2d autograd", ours_b, theirs_b, GOAL_TWIN_CONV_BACKWARD
        )
        print(f"{name}, pooling 2x2, stride 2, on {pool_shape}")
        pairs = (
            ("max_pool", twins.max_pool_forward_naive, twins.max_pool_backward_naive, F.max_pool2d),
            ("avg_pool", twins.avg_pool_forward, twins.avg_pool_backward, F.avg_pool2d),
        )
        for label, forward, backward, torch_pool in pairs:
            ours_f, theirs_f, ours_b, theirs_b = time_twin_pool(
                forward, backward, torch_pool, dtype, repeats
            )
            torch_name = torch_pool.__name__
            twin_ratio(f"{label} forward / F.{torch_name}", ours_f, theirs_f, GOAL_TWIN_POOL)
            twin_ratio(
                f"{label} backward / F.{torch_name} autograd", ours_b, theirs_b, GOAL_TWIN_POOL
            )


def main() -> None:
    torch.set_num_threads(ARGS.threads)
    if ARGS.twins_only:
        print(
            f"bench_conv --twins-only: PyTorch {torch.__version__}, "
            f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; "
            f"torch.get_num_threads() = {torch.get_num_threads()}; best of {ARGS.repeats} runs, "
            f"{ARGS.clock} clock"
        )
        bench_twins(ARGS.repeats)
        return
    with contextlib.redirect_stdout(io.StringIO()):  # the notebook's setup cell prints its knobs
        solutions = load_solutions("02_layers")
    print(
        f"bench_conv: NumPy {np.__version__}, PyTorch {torch.__version__}, "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; "
        f"{ARGS.threads} threads for both NumPy's BLAS and PyTorch "
        f"(torch.get_num_threads() = {torch.get_num_threads()}); best of {ARGS.repeats} runs, "
        f"{ARGS.clock} clock"
    )
    print(f"conv_forward_fast agrees with F.conv2d to {check_agreement(solutions, SMALL):.1e}")
    bench_conv(solutions, ARGS.repeats)
    if not ARGS.no_naive:
        bench_naive(solutions, ARGS.repeats)
    bench_pool(solutions, ARGS.repeats)
    bench_batchnorm(ARGS.repeats)
    bench_twins(ARGS.repeats)


if __name__ == "__main__":
    main()
