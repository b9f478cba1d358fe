"""A kernel for the GPU runs of the notebooks: the project's Python, FAST = False, on CUDA.

Like tests/notebooks/conftest.py, the kernelspec lives in a temporary folder and is the only
one the kernel manager sees; its environment sets the full-size configuration and the device.
"""

from __future__ import annotations

import json
import os

import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager

from tests.notebooks.conftest import REPO, project_python

KERNEL_NAME = "python3-gpu"


@pytest.fixture(scope="session")
def gpu_kernel_spec_manager(tmp_path_factory) -> KernelSpecManager:
    root = tmp_path_factory.mktemp("gpu_kernels")
    (root / KERNEL_NAME).mkdir()
    pythonpath = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH", "")]))
    spec = {
        "argv": [project_python(), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (cnn-course, GPU, full size)",
        "language": "python",
        "env": {"CNN_COURSE_FAST": "0", "CNN_COURSE_DEVICE": "cuda", "PYTHONPATH": pythonpath},
    }
    (root / KERNEL_NAME / "kernel.json").write_text(json.dumps(spec, indent=1))
    return KernelSpecManager(kernel_dirs=[str(root)], ensure_native_kernel=False)


@pytest.fixture
def gpu_kernel_manager(gpu_kernel_spec_manager):
    """A kernel manager for one notebook run; its kernel is shut down after the test (nbclient
    leaves running a kernel whose manager it was given)."""
    manager = KernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=gpu_kernel_spec_manager)
    yield manager
    if manager.has_kernel:
        manager.shutdown_kernel(now=True)
