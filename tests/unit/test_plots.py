"""course_utils.plots: each function returns a Figure with the right content (Agg backend)."""

import matplotlib.colors as mcolors
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from course_utils import plots
from course_utils.data import FASHION_MNIST_CLASSES as FASHION
from course_utils.train import History


def image_count(fig):
    return sum(len(ax.images) for ax in fig.axes)


def titles(fig):
    return [ax.get_title() for ax in fig.axes]


def test_show_images_draws_one_titled_image_per_input():
    images = np.random.default_rng(0).random((10, 1, 28, 28)).astype(np.float32)
    fig = plots.show_images(images, labels=np.arange(10), class_names=FASHION, ncols=4)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 10 and image_count(fig) == 10
    assert titles(fig)[9] == "Ankle boot"
    # An opaque face, so that dark text stays readable on a dark notebook theme.
    assert mcolors.to_rgba(fig.get_facecolor())[3] == 1.0


def test_show_images_accepts_rgb_tensors_and_marks_wrong_predictions():
    images = torch.rand(3, 3, 8, 8)
    fig = plots.show_images(images, labels=[0, 1, 2], predictions=[0, 2, 2])
    assert image_count(fig) == 3
    assert fig.axes[0].images[0].get_array().shape == (8, 8, 3)
    assert titles(fig)[1].startswith("\u2717") and not titles(fig)[0].startswith("\u2717")


def test_show_images_refuses_a_shape_it_cannot_draw():
    with pytest.raises(ValueError, match=r"got \(4, 5, 8, 8\)"):
        plots.show_images(np.zeros((4, 5, 8, 8)))
    with pytest.raises(ValueError, match="labels has 2 entries for 3 images"):
        plots.show_images(np.zeros((3, 8, 8)), labels=[0, 1])


def test_plot_filters_normalises_each_filter_to_its_own_range():
    weights = torch.randn(6, 1, 3, 3, requires_grad=True)
    with torch.no_grad():
        weights[1] *= 100  # a strong filter must not wash out the weak ones
    fig = plots.plot_filters(weights)
    assert len(fig.axes) == 6 and image_count(fig) == 6
    for ax in fig.axes:
        shown = np.asarray(ax.images[0].get_array())
        assert shown.min() == pytest.approx(0.0) and shown.max() == pytest.approx(1.0)
    rgb = plots.plot_filters(np.random.default_rng(0).standard_normal((4, 3, 5, 5)))
    assert rgb.axes[0].images[0].get_array().shape == (5, 5, 3)


def test_plot_filters_refuses_filters_with_other_than_one_or_three_channels():
    with pytest.raises(ValueError, match=r"C = 1 or 3.*got \(8, 16, 3, 3\).*weights\[:, :1\]"):
        plots.plot_filters(np.zeros((8, 16, 3, 3)))


def test_plot_feature_maps_shows_one_panel_per_channel_up_to_max_maps():
    fig = plots.plot_feature_maps(torch.rand(1, 5, 14, 14))
    assert len(fig.axes) == 5 and image_count(fig) == 5
    capped = plots.plot_feature_maps(np.random.default_rng(0).random((20, 7, 7)), max_maps=12)
    assert image_count(capped) == 12
    assert "first 12 shown" in capped._suptitle.get_text()


def test_plot_feature_maps_asks_for_one_image_of_a_batch():
    with pytest.raises(ValueError, match=r"got \(2, 5, 14, 14\).*maps\[0\]"):
        plots.plot_feature_maps(np.zeros((2, 5, 14, 14)))


def test_plot_history_draws_train_and_val_curves_with_labelled_axes():
    history = History(
        train_loss=[1.0, 0.6, 0.5],
        train_acc=[0.6, 0.8, 0.85],
        val_loss=[0.9, 0.7, 0.65],
        val_acc=[0.65, 0.75, 0.8],
        seconds=[1, 1, 1],
    )
    fig = plots.plot_history(history)
    assert len(fig.axes) == 2
    loss_ax, acc_ax = fig.axes
    assert loss_ax.get_xlabel() == "epoch" and loss_ax.get_ylabel() == "loss"
    assert acc_ax.get_ylabel() == "accuracy"
    assert [line.get_label() for line in loss_ax.get_lines()] == ["train", "val"]
    np.testing.assert_array_equal(acc_ax.get_lines()[1].get_ydata(), [0.65, 0.75, 0.8])
    train_color, val_color = (line.get_color() for line in loss_ax.get_lines())
    assert train_color != val_color


def test_plot_history_without_validation_draws_train_only_and_refuses_an_empty_history():
    fig = plots.plot_history({"train_loss": [1.0, 0.5], "train_acc": [0.5, 0.7]})
    assert [line.get_label() for line in fig.axes[0].get_lines()] == ["train"]
    with pytest.raises(ValueError, match="no train_loss"):
        plots.plot_history(History())


def test_plot_step_losses_draws_each_run_raw_and_as_a_moving_average():
    losses = list(np.linspace(2.3, 0.5, 50))
    fig = plots.plot_step_losses({"learned": losses, "random": np.full(50, 1.0)}, smoothing=10)
    (ax,) = fig.axes
    assert len(ax.lines) == 4  # raw and smoothed, per run
    raw, smoothed = ax.lines[0], ax.lines[1]
    assert len(raw.get_xdata()) == 50 and len(smoothed.get_xdata()) == 41
    assert smoothed.get_xdata()[0] == 10
    np.testing.assert_allclose(smoothed.get_ydata()[0], np.mean(losses[:10]))
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["learned", "random"]
    assert ax.get_xlabel() == "step" and ax.get_title() == "training loss per step"


def test_plot_step_losses_refuses_an_empty_run_and_a_bad_smoothing():
    with pytest.raises(ValueError, match="non-empty list of step losses"):
        plots.plot_step_losses({"run": []})
    with pytest.raises(ValueError, match="smoothing must be a positive integer"):
        plots.plot_step_losses({"run": [1.0, 2.0]}, smoothing=0)


def test_plot_filters_takes_a_title():
    fig = plots.plot_filters(np.random.default_rng(0).random((4, 1, 3, 3)), title="random")
    assert fig._suptitle.get_text() == "random"


def test_plot_sweeps_draws_one_panel_per_knob_and_marks_the_best_setting():
    sweeps = {
        "learning rate": {1e-4: 0.3, 1e-3: 0.7, 1e-2: 0.6, 1e-1: 0.1},
        "width": {4: 0.6, 16: 0.7, 32: 0.72},
    }
    fig = plots.plot_sweeps(sweeps, chance=0.1, notes={"width": {4: "10k", 32: "90k"}})
    assert isinstance(fig, Figure) and titles(fig) == ["learning rate", "width"]
    lr, width = fig.axes
    assert lr.get_xscale() == "log" and width.get_xscale() == "linear"
    best = [line for line in width.get_lines() if line.get_marker() == "*"][0]
    assert list(best.get_xdata()) == [32] and list(best.get_ydata()) == [0.72]
    assert [t.get_text() for t in width.texts] == ["10k", "90k"]
    assert lr.get_ylabel() == "validation accuracy"


def test_plot_sweeps_refuses_an_empty_sweep_and_settings_that_are_not_positive():
    with pytest.raises(ValueError, match="empty"):
        plots.plot_sweeps({})
    with pytest.raises(ValueError, match="'width' has no settings"):
        plots.plot_sweeps({"width": {}})
    with pytest.raises(ValueError, match="positive numbers; got \\[0\\]"):
        plots.plot_sweeps({"width": {0: 0.5, 4: 0.6}})


def test_confusion_matrix_counts_true_rows_and_predicted_columns():
    matrix = plots.confusion_matrix([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 0, 2])
    np.testing.assert_array_equal(matrix, [[1, 1, 0], [0, 1, 0], [1, 0, 2]])


def test_plot_confusion_matrix_writes_every_cell_and_normalises_rows():
    y_true = torch.tensor([0, 0, 1, 2, 2, 2])
    y_pred = torch.tensor([0, 1, 1, 2, 0, 2])
    fig = plots.plot_confusion_matrix(y_true, y_pred, class_names=["a", "b", "c"])
    ax = fig.axes[0]
    assert len(fig.axes) == 2  # the matrix and its colour bar
    assert ax.get_xlabel() == "predicted label" and ax.get_ylabel() == "true label"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    assert [t.get_text() for t in ax.texts] == ["1", "1", "0", "0", "1", "0", "1", "0", "2"]
    normalised = plots.plot_confusion_matrix(y_true, y_pred, normalize="true")
    shown = np.asarray(normalised.axes[0].images[0].get_array())
    np.testing.assert_allclose(shown.sum(axis=1), 1.0)
    np.testing.assert_allclose(shown[2], [1 / 3, 0, 2 / 3])


def test_plot_confusion_matrix_refuses_bad_arguments():
    with pytest.raises(ValueError, match="normalize"):
        plots.plot_confusion_matrix([0, 1], [0, 1], normalize="rows")
    with pytest.raises(ValueError, match="y_true has 2 labels but y_pred has 3"):
        plots.plot_confusion_matrix([0, 1], [0, 1, 1])
    with pytest.raises(ValueError, match="label 3 does not fit 2 classes"):
        plots.plot_confusion_matrix([0, 3], [0, 1], class_names=["a", "b"])


def test_no_figure_is_left_open_in_pyplot():
    import matplotlib.pyplot as plt

    before = len(plt.get_fignums())
    plots.plot_filters(np.zeros((2, 1, 3, 3)))
    plots.plot_history({"train_loss": [1.0], "train_acc": [0.5]})
    assert len(plt.get_fignums()) == before
