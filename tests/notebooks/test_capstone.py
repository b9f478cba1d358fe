"""Notebook 02's capstone: a CNN made of the reference NumPy layers trains to 80% test accuracy.

The model is built by the notebook's own ``capstone_model`` cell, run on the notebook's
reference solutions (``tests/solutions.py``), and trained as the ``capstone_train`` cell does,
in the fast configuration (the setup cell's ``CAPSTONE_EPOCHS``). So the test fails when a
change to a layer, to the bridge, to the data or to the training loop would leave the
students' capstone short of its goal. It trains without the notebook's time budget, so that a
busy machine changes how long it takes (about 15 s on two idle cores) but not its result.
"""

from __future__ import annotations

import nbformat
import pytest
import torch

from course_utils.data import fashion_mnist_loaders
from course_utils.train import evaluate, fit
from tests.solutions import NOTEBOOKS, load_solutions

NOTEBOOK = NOTEBOOKS / "02_layers.ipynb"
TARGET_ACCURACY = 0.80


def _cell_source(grade_id: str) -> str:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            return cell.source
    raise LookupError(f"{NOTEBOOK.name} has no cell with grade_id {grade_id!r}")


def _capstone_namespace() -> dict:
    """The reference solutions plus what the notebook's capstone_model cell defines."""
    namespace = dict(vars(load_solutions("02_layers")))
    namespace["generator"] = torch.Generator().manual_seed(namespace["SEED"])
    exec(compile(_cell_source("capstone_model"), "02_layers:capstone_model", "exec"), namespace)
    return namespace


def test_capstone_model_is_made_of_the_notebooks_numpy_layers():
    namespace = _capstone_namespace()
    model = namespace["model"]
    forwards = [layer._forward_name for layer in model]
    assert forwards == [
        "conv_forward_fast",
        "relu_forward",
        "max_pool_forward_naive",
        "affine_forward",
    ]
    scores = model(torch.zeros(2, 1, 28, 28))
    assert scores.shape == (2, 10)


@pytest.mark.slow
def test_capstone_cnn_reaches_80_percent_test_accuracy_in_the_fast_configuration():
    namespace = _capstone_namespace()
    torch.manual_seed(namespace["SEED"])
    train_loader, test_loader = fashion_mnist_loaders(
        batch_size=64, device="cpu", seed=namespace["SEED"]
    )
    history = fit(
        namespace["model"],
        train_loader,
        epochs=namespace["CAPSTONE_EPOCHS"],
        loss_fn=namespace["numpy_softmax_loss"],
        device="cpu",
        lr=2e-3,
        seed=namespace["SEED"],
        progress=False,
    )
    _, accuracy = evaluate(namespace["model"], test_loader, device="cpu")
    assert accuracy >= TARGET_ACCURACY, (
        f"capstone test accuracy {accuracy:.1%} < {TARGET_ACCURACY:.0%} after "
        f"{history.epochs} epoch(s); training loss per epoch {history.train_loss}"
    )
