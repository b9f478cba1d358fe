"""course_utils.plots_detection: the figures of notebook 07 hold what they claim (Agg backend)."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure

from course_utils import plots_detection as plots


def _anchors():
    # A 2 x 2 map, stride 16, two anchors per position: a 16x16 and a 32x16 box at each centre.
    rows = []
    for cy in (8, 24):
        for cx in (8, 24):
            rows += [[cx - 8, cy - 8, cx + 8, cy + 8], [cx - 16, cy - 8, cx + 16, cy + 8]]
    return np.array(rows, dtype=float)


def test_show_anchors_draws_the_anchors_of_one_position_and_every_centre():
    fig = plots.show_anchors(np.zeros((3, 32, 32)), _anchors(), 2, position=3)
    ax = fig.axes[0]
    assert len(ax.patches) == 2  # the two anchors of position 3
    assert len(ax.collections[0].get_offsets()) == 4  # one dot per position
    assert "position 3" in ax.get_title()


def test_show_anchors_refuses_a_count_per_position_that_does_not_divide_the_anchors():
    with pytest.raises(ValueError, match="must divide the 8 anchors, got 3"):
        plots.show_anchors(np.zeros((3, 32, 32)), _anchors(), 3)


def test_plot_precision_recall_draws_one_panel_per_threshold_and_labels_the_ap():
    tp = np.array([True, False, True, True])
    panels = {"IoU 0.5": {"circle": (tp, 4), "square": (np.zeros(0, bool), 2)}, "IoU 0.75": {}}
    fig = plots.plot_precision_recall(panels, lambda tp, num_gt: 0.25)
    assert isinstance(fig, Figure) and [ax.get_title() for ax in fig.axes] == list(panels)
    labels = [text.get_text() for text in fig.axes[0].get_legend().get_texts()]
    assert labels == ["circle (AP 0.25)", "square (AP 0.25)"]


def test_plot_precision_recall_draws_the_envelope_as_steps_from_recall_zero():
    tp = np.array([True, False, True])  # precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1
    fig = plots.plot_precision_recall({"p": {"c": (tp, 2)}})
    envelope = [line for line in fig.axes[0].lines if line.get_label() == "c"][0]
    assert envelope.get_xdata()[0] == 0
    assert np.max(envelope.get_ydata()) == 1 and np.min(envelope.get_ydata()) == pytest.approx(
        2 / 3
    )


def test_show_conv_matrices_draws_both_and_refuses_a_transpose_of_the_wrong_shape():
    fig = plots.show_conv_matrices(np.ones((9, 25)), np.ones((25, 9)))
    assert [ax.images[0].get_array().shape for ax in fig.axes[:2]] == [(9, 25), (25, 9)]
    with pytest.raises(ValueError, match=r"\(9, 25\) and \(9, 25\)"):
        plots.show_conv_matrices(np.ones((9, 25)), np.ones((9, 25)))


def test_show_maps_titles_each_map_with_its_size_and_refuses_other_than_2d():
    fig = plots.show_maps({"a": np.zeros((3, 4)), "b": np.ones((5, 5))})
    assert [ax.get_title() for ax in fig.axes if ax.images] == ["a (3x4)", "b (5x5)"]
    with pytest.raises(ValueError, match=r"maps\['c'\] must be a 2-D array"):
        plots.show_maps({"c": np.zeros((2, 2, 2))})


def test_no_figure_of_notebook_07_is_left_open_in_pyplot():
    before = len(plt.get_fignums())
    plots.show_anchors(np.zeros((3, 32, 32)), _anchors(), 2)
    plots.plot_precision_recall({"p": {"c": (np.array([True]), 1)}})
    plots.show_maps({"a": np.zeros((2, 2))})
    assert len(plt.get_fignums()) == before
