"""course_utils.plots_architectures: each figure shows what its docstring says (Agg backend)."""

import numpy as np
import pytest
from matplotlib.figure import Figure

from course_utils.plots_architectures import plot_degradation, plot_params_vs_macs
from course_utils.reference import architectures as arch
from course_utils.reference.counting import layer_table


def test_params_vs_macs_has_a_pair_of_bars_and_a_point_per_weighted_layer():
    rows = layer_table(arch.LeNet5(), (1, 1, 28, 28))  # 2 convs, 3 fc layers, 2 pools
    fig = plot_params_vs_macs(rows)
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    bars, scatter = fig.axes
    assert len(bars.patches) == 2 * 5
    heights = [p.get_height() for p in bars.patches]
    assert heights[:5] == pytest.approx([100 * r["params"] / 61_706 for r in rows if r["params"]])
    assert sum(heights[5:]) == pytest.approx(100.0)  # the MAC shares of all weighted layers
    assert sum(len(c.get_offsets()) for c in scatter.collections) == 5
    assert [t.get_text() for t in bars.get_xticklabels()] == ["conv1", "conv2", "fc1", "fc2", "fc3"]


def test_params_vs_macs_refuses_rows_without_weighted_layers():
    with pytest.raises(ValueError, match="layer_table"):
        plot_params_vs_macs([{"name": "0", "type": "ReLU", "params": 0, "macs": 0}])


def test_degradation_puts_plain_nets_left_and_residual_nets_right_with_a_mean_per_net():
    rng = np.random.default_rng(0)
    curves = {
        f"{kind}-{depth}": [
            list(2.3 - np.arange(20) * 0.05 + rng.random(20) * 0.1) for _ in range(3)
        ]
        for depth in (8, 32)
        for kind in ("plain", "ResNet")
    }
    fig = plot_degradation(curves, smooth=1)
    left, right = fig.axes
    assert [line.get_label() for line in left.lines] == ["plain-8", "plain-32"]
    assert [line.get_label() for line in right.lines] == ["ResNet-8", "ResNet-32"]
    mean = np.mean(curves["plain-8"], axis=0)
    np.testing.assert_allclose(left.lines[0].get_ydata(), mean)
    assert left.get_ylim() == right.get_ylim()  # one loss scale


def test_degradation_refuses_an_empty_run():
    with pytest.raises(ValueError, match="plain-8"):
        plot_degradation({"plain-8": [[]]})
    with pytest.raises(ValueError, match="empty"):
        plot_degradation({})
