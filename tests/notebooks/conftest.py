"""A Jupyter kernel for the notebook tests that runs the project's own Python.

The kernelspec lives in a temporary directory and is the only one the kernel manager sees,
so a "python3" kernel installed elsewhere on the machine (another Python, other packages)
can never run the course notebooks by accident. The kernel runs in the fast configuration
(``CNN_COURSE_FAST=1``) and imports ``course_utils`` and ``autograder`` from this working tree.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager

REPO = Path(__file__).resolve().parents[2]
KERNEL_NAME = "python3"


def project_python() -> str:
    """The repository's .venv interpreter when there is one, else the one running the tests."""
    venv_python = REPO / ".venv" / "bin" / "python"
    return str(venv_python) if venv_python.exists() else sys.executable


@pytest.fixture(scope="session")
def kernel_spec_manager(tmp_path_factory) -> KernelSpecManager:
    root = tmp_path_factory.mktemp("kernels")
    spec_dir = root / KERNEL_NAME
    spec_dir.mkdir()
    pythonpath = [str(REPO), os.environ.get("PYTHONPATH", "")]
    spec = {
        "argv": [project_python(), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (cnn-course)",
        "language": "python",
        # The working tree's packages come first, installed or not.
        "env": {"CNN_COURSE_FAST": "1", "PYTHONPATH": os.pathsep.join(filter(None, pythonpath))},
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec, indent=1))
    return KernelSpecManager(kernel_dirs=[str(root)], ensure_native_kernel=False)


@pytest.fixture
def kernel_manager(kernel_spec_manager):
    """A fresh, not yet started kernel manager for one notebook run, shut down afterwards.

    nbclient leaves running a kernel whose manager it was given, so the fixture stops it.
    """
    manager = KernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=kernel_spec_manager)
    yield manager
    if manager.has_kernel:
        manager.shutdown_kernel(now=True)
