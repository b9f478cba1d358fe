"""course_utils.plots_batchnorm: the figures of notebook 04's normalisation and initialisation
parts (Agg backend)."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure

from course_utils import plots_batchnorm


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_statistic_masks_mark_the_values_that_share_one_mean_and_variance():
    n, c, h, w = 4, 6, 2, 3
    masks = plots_batchnorm.statistic_masks((n, c, h, w), groups=3)
    assert list(masks) == ["batch norm", "layer norm", "instance norm", "group norm"]
    counts = {name: int(mask.sum()) for name, mask in masks.items()}
    assert counts == {
        "batch norm": n * h * w,
        "layer norm": c * h * w,
        "instance norm": h * w,
        "group norm": c // 3 * h * w,
    }
    assert masks["batch norm"][:, 0].all() and not masks["batch norm"][:, 1:].any()
    assert masks["group norm"][0, :2].all() and not masks["group norm"][1:].any()
    for mask in masks.values():
        assert mask[0, 0, 0, 0]


def test_statistic_masks_refuse_a_group_count_that_does_not_divide_c():
    with pytest.raises(ValueError, match="groups = 4 must be a positive divisor of C = 6"):
        plots_batchnorm.statistic_masks((2, 6, 2, 2), groups=4)


def test_plot_normalisation_axes_draws_one_cube_per_normalisation():
    fig = plots_batchnorm.plot_normalisation_axes()
    assert isinstance(fig, Figure)
    assert [ax.get_title() for ax in fig.axes] == [
        "batch norm",
        "layer norm",
        "instance norm",
        "group norm",
    ]
    assert all(ax.name == "3d" for ax in fig.axes)


def test_plot_normalisation_axes_refuses_masks_of_different_shapes():
    masks = {"a": np.ones((2, 2, 1, 1), bool), "b": np.ones((2, 3, 1, 1), bool)}
    with pytest.raises(ValueError, match="same shape"):
        plots_batchnorm.plot_normalisation_axes(masks)


def test_plot_activation_histograms_stacks_every_layer_and_plots_the_spread():
    rng = np.random.default_rng(0)
    layers = {
        "small": [rng.standard_normal(500) * 0.1**k for k in range(5)],
        "Kaiming": [rng.standard_normal(500) for _ in range(5)],
    }
    fig = plots_batchnorm.plot_activation_histograms(layers)
    assert len(fig.axes) == 3
    assert [ax.get_title() for ax in fig.axes] == ["small", "Kaiming", "spread per layer"]
    spread = fig.axes[-1]
    assert spread.get_yscale() == "log"
    np.testing.assert_allclose(
        spread.lines[0].get_ydata(), [np.std(v) for v in layers["small"]], rtol=1e-12
    )


def test_plot_training_losses_draws_one_line_per_model_and_chance():
    fig = plots_batchnorm.plot_training_losses({"Xavier": [2.3] * 20, "Kaiming": [2.0] * 20})
    ax = fig.axes[0]
    assert len(ax.lines) == 3  # two models and the dotted ln 10
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["Xavier", "Kaiming"]
