"""Shared pytest set-up: thread counts, a headless matplotlib, and the `cuda` marker.

The thread variables are set before torch or NumPy start their thread pools, so that the
suite neither oversubscribes a small CI machine nor fights pytest-xdist workers.
"""

import os

_THREADS = max(1, min(4, os.cpu_count() or 1))
for _name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_name, str(_THREADS))
os.environ.setdefault("MPLBACKEND", "Agg")
# Idle OpenMP threads sleep instead of spinning. Kernels started by the tests inherit this; when
# two of them (or a kernel and this process) share the two cores, spinning threads otherwise
# multiply torch's CPU time several times over.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import matplotlib  # noqa: E402

matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(_THREADS)


def pytest_collection_modifyitems(config, items):
    """Skip every test marked `cuda` when there is no CUDA device."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs CUDA")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)
