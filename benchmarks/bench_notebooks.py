"""How long every course notebook takes, top to bottom, on this machine's device.

Each source notebook (`notebooks/*.ipynb`, solutions inside, so every test cell passes) runs
in a fresh kernel of this Python with nbclient, from `notebooks/`, in the fast configuration
(`CNN_COURSE_FAST=1`) or the full one (`--full`, `CNN_COURSE_FAST=0`). The device is the one
`course_utils.device.default_device()` picks (CUDA, else MPS, else the CPU); set
`CNN_COURSE_DEVICE=cpu` to time the CPU on a GPU machine. Prints one row per notebook:

    notebook                      device            FAST   seconds  result
    01_conv_arithmetic            cpu               True      14.2  ok

Usage:

    python benchmarks/bench_notebooks.py [--full] [--timeout S] [--save DIR] [NOTEBOOK_STEM ...]

Under each row, the notebook's three slowest cells (their grade id or first line, and seconds,
from the timings nbclient records in each cell's metadata): where a notebook's time goes; and
the cells grading runs (`autograder.isolation.needed`): how many, their seconds in all and the
slowest of them, what a notebook's grading `cell_timeout` and `budget` must cover.

`--save DIR` writes each executed notebook, outputs included (as far as it got when a cell
failed), to DIR, so that a long run's printed accuracies and plots can be read afterwards.

A notebook whose cell fails is reported with the cell and the error, and the script exits 1.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _device_name() -> str:
    from course_utils.device import default_device

    device = default_device()
    if device.type == "cuda":
        import torch

        return f"cuda ({torch.cuda.get_device_name(device)})"
    return device.type


def _cell_times(notebook, only: list[bool] | None = None) -> list[tuple[str, float]]:
    """(grade id or first line, seconds) of each timed code cell, in order; with `only`, of the
    cells whose flag is true."""
    from datetime import datetime

    timed = []
    for index, cell in enumerate(notebook.cells):
        timing = cell.get("metadata", {}).get("execution", {})
        start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
        if cell.cell_type != "code" or not start or not end or (only and not only[index]):
            continue
        seconds = (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
        name = cell.metadata.get("nbgrader", {}).get("grade_id")
        first = (cell.source.strip().splitlines() or [""])[0][:40]
        timed.append((f"cell {index} ({name or first})", seconds))
    return timed


def slowest_cells(notebook, count: int = 3) -> list[tuple[str, float]]:
    """The `count` slowest code cells of an executed notebook: (grade id or first line, s)."""
    return sorted(_cell_times(notebook), key=lambda item: -item[1])[:count]


def graded_cells(notebook) -> tuple[int, float, tuple[str, float]]:
    """The cells grading runs in an executed notebook: (how many, their seconds, the slowest)."""
    from autograder.isolation.needed import cells_to_run

    timed = _cell_times(notebook, cells_to_run(notebook.cells))
    slowest = max(timed, key=lambda item: item[1], default=("none", 0.0))
    return len(timed), sum(seconds for _, seconds in timed), slowest


def time_notebook(path: Path, fast: bool, timeout: int, save: Path | None = None):
    """Run one notebook in a fresh kernel; return (seconds, "ok" or what failed, the executed
    notebook). With `save`, the executed notebook is written there, whatever the outcome."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    notebook = nbformat.read(path, as_version=4)
    env = {
        **os.environ,
        "CNN_COURSE_FAST": "1" if fast else "0",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    start = time.perf_counter()
    try:
        client.execute(env=env)
        result = "ok"
    except CellExecutionError as error:
        last = str(error).strip().splitlines()[-1] if str(error).strip() else repr(error)
        result = f"failed: {last}"
    except TimeoutError:
        result = f"a cell ran over {timeout} s"
    seconds = time.perf_counter() - start
    if save is not None:
        save.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, save / path.name)
    return seconds, result, notebook


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", metavar="NOTEBOOK_STEM", help="default: all")
    parser.add_argument("--full", action="store_true", help="FAST = False (full-size runs)")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds one cell may run")
    parser.add_argument(
        "--save", type=Path, metavar="DIR", help="write the executed notebooks here"
    )
    args = parser.parse_args(argv)

    available = {path.stem: path for path in sorted((ROOT / "notebooks").glob("*.ipynb"))}
    unknown = [name for name in args.notebooks if name not in available]
    if unknown:
        print(
            f"bench_notebooks: no notebook {', '.join(unknown)} in {ROOT / 'notebooks'}; "
            f"choose from {', '.join(available)}.",
            file=sys.stderr,
        )
        return 2
    chosen = [available[name] for name in args.notebooks] or list(available.values())
    device = _device_name()
    fast = not args.full
    print(f"{'notebook':<30}{'device':<26}{'FAST':<7}{'seconds':>9}  result", flush=True)
    failed = 0
    total = 0.0
    for path in chosen:
        seconds, result, executed = time_notebook(path, fast, args.timeout, args.save)
        total += seconds
        failed += result != "ok"
        print(f"{path.stem:<30}{device:<26}{fast!s:<7}{seconds:>9.1f}  {result}", flush=True)
        slowest = slowest_cells(executed)
        print("    slowest: " + ", ".join(f"{name} {s:.1f} s" for name, s in slowest), flush=True)
        count, graded, (name, most) = graded_cells(executed)
        print(f"    graded: {count} cells, {graded:.1f} s; slowest {name} {most:.1f} s", flush=True)
    print(f"{'total':<30}{'':<26}{'':<7}{total:>9.1f}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
