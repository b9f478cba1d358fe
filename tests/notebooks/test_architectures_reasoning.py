"""Notebook 05's reasoning exercises: the source notebook's solutions agree with the reference,
and its experiments follow the predict-then-run layout.

The checks of make_vgg_layers, layer_table, option A and resnet_cifar are graded in the
notebook's test cells; here the source's own solutions are compared with
``course_utils.reference`` directly, so that a slip in them shows without running a kernel.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch
from torch import nn

from course_utils.reference import architectures as arch
from course_utils.reference.counting import layer_table as reference_table
from tests.notebooks.test_architecture_training import run_notebook_cells
from tests.unit.test_reference_counting import random_network

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "05_architectures.ipynb"


@pytest.fixture(scope="module")
def solved():
    """The setup cell and every solution cell, run in one namespace."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        return run_notebook_cells(monkeypatch, True)


@pytest.mark.parametrize("config", list("ABCDE"))
@pytest.mark.parametrize("batch_norm", [False, True])
def test_the_notebook_make_vgg_layers_builds_the_reference_modules(solved, config, batch_norm):
    cfg = arch.VGG_CONFIGS[config]
    assert solved["VGG_CONFIGS"][config] == cfg
    with torch.device("meta"):
        mine = solved["make_vgg_layers"](cfg, batch_norm=batch_norm)
        theirs = arch.make_vgg_layers(cfg, batch_norm=batch_norm)
    assert str(mine) == str(theirs)
    with torch.device("meta"):
        model = solved["VGG"](config, batch_norm=batch_norm)
        twin = arch.VGG(config, batch_norm=batch_norm)
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert shapes == {k: tuple(v.shape) for k, v in twin.state_dict().items()}


def test_the_notebook_layer_table_equals_the_reference_on_big_and_random_models(solved):
    models = [(arch.LeNet5(), (1, 1, 28, 28))]
    with torch.device("meta"):
        for build in (lambda: arch.VGG("D"), arch.resnet50, arch.GoogLeNet, arch.resnet_cifar):
            models.append((build(), (1, 3, 224, 224)))
    models += [random_network(np.random.default_rng(seed)) for seed in range(6)]
    shared = nn.Linear(3, 3)
    models.append((nn.Sequential(shared, nn.ReLU(), shared), (2, 5, 3)))
    for model, shape in models:
        assert solved["layer_table"](model, shape) == reference_table(model, shape)


@pytest.mark.parametrize("c_in, channels, stride", [(16, 32, 2), (4, 8, 1), (8, 8, 1), (2, 6, 2)])
def test_the_notebook_basic_block_with_option_a_computes_the_reference(
    solved, c_in, channels, stride
):
    torch.manual_seed(0)
    twin = arch.BasicBlock(c_in, channels, stride, shortcut="A").double().eval()
    for module in twin.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.uniform_(-1, 1)
            module.bias.data.uniform_(-1, 1)
    mine = solved["BasicBlock"](c_in, channels, stride, shortcut="A").double().eval()
    mine.load_state_dict(twin.state_dict())
    x = torch.randn(2, c_in, 7, 6, dtype=torch.float64)
    torch.testing.assert_close(mine(x), twin(x))


def test_the_notebook_resnet_cifar_has_the_papers_counts_and_computes_the_reference(solved):
    with torch.device("meta"):
        for depth, count in [(20, 269_722), (56, 853_018), (110, 1_727_962)]:
            assert arch.count_parameters(solved["resnet_cifar"](depth)) == count
    torch.manual_seed(0)
    twin = arch.resnet_cifar(14, num_classes=7, in_channels=1, width=8).double().eval()
    mine = solved["resnet_cifar"](14, num_classes=7, in_channels=1, width=8).double().eval()
    mine.load_state_dict(twin.state_dict())
    x = torch.randn(2, 1, 28, 28, dtype=torch.float64)
    torch.testing.assert_close(mine(x), twin(x))
    with pytest.raises(ValueError):
        solved["resnet_cifar"](10)


def test_each_experiment_has_its_prediction_before_and_its_comparison_after():
    cells = nbformat.read(NOTEBOOK, as_version=4).cells
    ids = [cell.metadata["nbgrader"]["grade_id"] for cell in cells]
    experiments = {
        tag.removeprefix("experiment:"): index
        for index, cell in enumerate(cells)
        for tag in cell.metadata.get("tags", [])
        if tag.startswith("experiment:")
    }
    assert set(experiments) == {"vgg_params_vs_macs", "degradation"}
    for name, index in experiments.items():
        predict, compare = ids.index(f"predict_{name}"), ids.index(f"compare_{name}")
        assert predict < index < compare
        assert "**Predict (1 point).**" in cells[predict - 1].source
        assert cells[predict].metadata["nbgrader"]["points"] == 1
        assert not cells[index].metadata["nbgrader"]["locked"]  # the knobs may be turned


def test_every_hand_graded_answer_carries_a_model_answer_and_a_rubric():
    for cell in nbformat.read(NOTEBOOK, as_version=4).cells:
        meta = cell.metadata["nbgrader"]
        if meta.get("grade") and meta.get("solution"):
            assert "**Model answer.**" in cell.source, meta["grade_id"]
            assert f"**Rubric ({meta['points']} point" in cell.source, meta["grade_id"]
