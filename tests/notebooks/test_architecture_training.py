"""Notebook 05's training experiments rest on nets that behave as its prose says.

The fast configuration's results (every small model over 70%, the deep plain net training worse
and the residual one not) are asserted in the notebook's own cells, so every run of the notebook
in the suite (tests/notebooks/test_student_env.py, tests/e2e/test_demo.py) checks them. Here: the
degradation nets' structure, and the GPU configuration (``FAST = False``), which runs the
notebook's cells in this process only with CUDA and the original Fashion-MNIST files.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
import torch
from torch import nn

from course_utils.data import load_fashion_mnist
from course_utils.reference import architectures as arch

pytestmark = pytest.mark.slow

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "05_architectures.ipynb"


def _source(cell) -> str:
    return "\n".join(
        line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!"))
    )


def run_notebook_cells(monkeypatch, fast: bool, *grade_ids: str) -> dict:
    """Run the setup cell, every solution cell and the named cells; return their namespace."""
    monkeypatch.setenv("CNN_COURSE_FAST", "1" if fast else "0")
    cells = [c for c in nbformat.read(NOTEBOOK, as_version=4).cells if c.cell_type == "code"]
    by_id = {c.metadata["nbgrader"]["grade_id"]: c for c in cells}
    missing = [g for g in grade_ids if g not in by_id]
    assert not missing, f"{NOTEBOOK.name} has no code cells with grade ids {missing}"
    solutions = [c for c in cells if c.metadata["nbgrader"].get("solution")]
    namespace: dict = {"__name__": "notebook_05"}
    for cell in [cells[0], *solutions, *(by_id[g] for g in grade_ids)]:
        exec(compile(_source(cell), cell.metadata["nbgrader"]["grade_id"], "exec"), namespace)
    assert namespace["FAST"] is fast
    return namespace


def test_fast_degradation_nets_differ_only_in_their_shortcuts():
    # The notebook's FAST nets: reference.plain_cifar and the student's resnet_cifar (here the
    # reference's), depths 8 and 32, 8 channels, batch norm in every block.
    for depth in (8, 32):
        plain = arch.plain_cifar(depth, in_channels=1, width=8)
        residual = arch.resnet_cifar(depth, in_channels=1, width=8)
        weighted = [m for m in plain.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
        assert len(weighted) == depth
        assert sum(isinstance(m, nn.BatchNorm2d) for m in plain.modules()) == depth - 1
        shapes = [tuple(p.shape) for p in plain.parameters()]
        assert shapes == [tuple(p.shape) for p in residual.parameters()]  # option A: no weights
        for model in (plain, residual):
            assert tuple(model(torch.zeros(2, 1, 28, 28)).shape) == (2, 10)


@pytest.mark.cuda
def test_gpu_configuration_gets_the_small_resnet_to_93_percent_on_full_fashion_mnist(
    monkeypatch,
):
    try:
        load_fashion_mnist("test", subset=False)
    except FileNotFoundError as error:
        pytest.skip(f"the original Fashion-MNIST files are not here: {error}")
    namespace = run_notebook_cells(monkeypatch, False, "gpu_full")
    accuracy = namespace["full_history"]["val_acc"][-1]
    assert len(namespace["full_history"]["val_acc"]) == namespace["FULL_EPOCHS"]
    assert accuracy >= 0.93, f"test accuracy {accuracy:.4f} < 0.93"
