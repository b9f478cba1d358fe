"""Notebook 05's training experiments rest on nets that behave as its prose says.

The fast configuration's results (every small model over 80%, the deep plain net training worse
and the residual one not) are asserted in the notebook's own cells, so every run of the notebook
in the suite (tests/notebooks/test_student_env.py, tests/e2e/test_demo.py) checks them. Here: the
degradation nets' structure and start-up behaviour, and the GPU configuration (``FAST = False``),
which runs the notebook's cells in this process only with CUDA and the original Fashion-MNIST
files.
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


def test_unnormalised_degradation_nets_have_6n_plus_2_weight_layers_and_no_batch_norm():
    for depth in (8, 32):
        for residual in (False, True):
            model = arch.degradation_net(depth, residual, batch_norm=False)
            assert not any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
            weighted = [
                m for name, m in model.named_modules()
                if isinstance(m, (nn.Conv2d, nn.Linear)) and "shortcut" not in name
            ]  # fmt: skip
            assert len(weighted) == depth
            assert tuple(model(torch.zeros(2, 1, 28, 28)).shape) == (2, 10)


def test_unnormalised_residual_blocks_with_identity_shortcuts_start_as_the_identity():
    torch.manual_seed(0)
    model = arch.degradation_net(20, residual=True, width=8, batch_norm=False)
    blocks = [m for m in model if hasattr(m, "shortcut") and isinstance(m.shortcut, nn.Identity)]
    assert len(blocks) == 7  # 3 blocks a stage, less the first block of stages 2 and 3
    for block in blocks:
        channels = block.conv1.in_channels
        x = torch.rand(2, channels, 7, 7)  # non-negative, as it comes out of a ReLU
        torch.testing.assert_close(block(x), x, rtol=0, atol=0)


def test_at_initialisation_a_deep_plain_net_weakens_the_signal_and_a_residual_one_does_not():
    # He initialisation keeps the signal's scale only on average: at 8 channels a 32-layer
    # plain stack shrinks it (median over seeds), while residual blocks start as the identity.
    x = torch.rand(16, 1, 28, 28)

    def median_rms(depth: int, residual: bool) -> float:
        values = []
        for seed in range(7):
            torch.manual_seed(seed)
            model = arch.degradation_net(depth, residual, width=8, batch_norm=False)
            with torch.no_grad():
                values.append(model[:-1](x).pow(2).mean().sqrt().item())  # pooled features
        return sorted(values)[len(values) // 2]

    shallow, deep, residual = median_rms(8, False), median_rms(32, False), median_rms(32, True)
    assert deep < 0.5 * shallow, (deep, shallow)
    assert residual > 0.5 * shallow, (residual, shallow)


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
