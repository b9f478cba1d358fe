"""The convolution explorer: the widget, its text, its static fallback and the geometry drawing.

Sizes are checked against torch.nn.functional.conv2d and parameter counts against
torch.nn.Conv2d; the lecture's examples (SEED_CONCEPTS.md section 1) are the worked cases.
"""

from __future__ import annotations

import re
import sys
from collections import Counter

import pytest
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure

from course_utils import widgets
from course_utils.widgets import (
    conv_explorer,
    describe_conv,
    effective_filter_size,
    plot_conv_geometry,
)

ipywidgets = pytest.importorskip("ipywidgets")

PNG_MAGIC = b"\x89PNG"


def parts(ui) -> dict:
    """Every widget under ui, by description; the formula text as "text", the figure as "image"."""
    found = {}
    stack = [ui]
    while stack:
        widget = stack.pop()
        stack.extend(getattr(widget, "children", ()))
        if isinstance(widget, ipywidgets.HTML):
            found["text"] = widget
        elif isinstance(widget, ipywidgets.Image):
            found["image"] = widget
        elif getattr(widget, "description", ""):
            found[widget.description] = widget
    return found


def torch_output_size(n, f, stride, pad, dilation):
    x = torch.zeros(1, 1, n, n)
    w = torch.zeros(1, 1, f, f)
    return F.conv2d(x, w, stride=stride, padding=pad, dilation=dilation).shape[-1]


def gids(fig: Figure) -> Counter:
    return Counter(patch.get_gid() for ax in fig.axes for patch in ax.patches)


def window_cells(fig: Figure) -> set[tuple[int, int]]:
    """(row, col) of every highlighted filter tap."""
    return {
        (int(patch.get_y()), int(patch.get_x()))
        for ax in fig.axes
        for patch in ax.patches
        if patch.get_gid() == "window"
    }


@pytest.fixture
def explorer():
    return parts(conv_explorer(n=7, f=3, stride=1, pad=0, dilation=1, interactive=True))


# --- the widget ---------------------------------------------------------------------------


def test_explorer_builds_sliders_for_every_number_and_draws_the_first_position(explorer):
    for name in (
        "input W",
        "filter F",
        "stride S",
        "padding P",
        "dilation d",
        "position",
        "C_in",
        "C_out",
    ):
        assert name in explorer, f"no control named {name!r}"
    assert isinstance(explorer["play"], ipywidgets.Play)
    assert "(7 - 3 + 0) / 1 + 1 = 5, so the output is 5x5" in explorer["text"].value
    assert bytes(explorer["image"].value).startswith(PNG_MAGIC)
    assert explorer["position"].max == 5 * 5 - 1


def test_changing_the_stride_updates_the_formula_the_positions_and_the_figure(explorer):
    before = explorer["image"].value
    explorer["stride S"].value = 2  # lecture: 7x7 input, 3x3 filter, stride 2 -> 3
    assert "(7 - 3 + 0) / 2 + 1 = 3, so the output is 3x3" in explorer["text"].value
    assert explorer["position"].max == 3 * 3 - 1
    assert bytes(explorer["image"].value).startswith(PNG_MAGIC)
    assert explorer["image"].value != before


def test_moving_the_position_redraws_the_figure_but_keeps_the_formula(explorer):
    text, before = explorer["text"].value, explorer["image"].value
    explorer["position"].value = 7
    assert explorer["image"].value != before
    assert explorer["text"].value == text


def test_a_position_beyond_a_smaller_output_is_brought_back_inside(explorer):
    explorer["position"].value = 24  # last cell of the 5x5 output
    explorer["filter F"].value = 5  # output 3x3
    assert explorer["position"].max == 8
    assert explorer["position"].value == 8


def test_a_stride_that_does_not_divide_shows_why_it_does_not_fit(explorer):
    explorer["stride S"].value = 3  # lecture: 7x7, 3x3, stride 3 -> 2.33, "doesn't fit"
    text = explorer["text"].value
    assert "filter does not fit" in text
    assert "(7 - 3 + 0) / 3 + 1 = 2.33 is not an integer" in text
    assert "so the output is" not in text


def test_padding_repairs_a_configuration_that_did_not_fit(explorer):
    explorer["stride S"].value = 3
    explorer["padding P"].value = 1  # (7 - 3 + 2) / 3 + 1 = 3
    assert "(7 - 3 + 2) / 3 + 1 = 3, so the output is 3x3" in explorer["text"].value


def test_a_filter_larger_than_the_padded_input_disables_the_position(explorer):
    explorer["input W"].value = 3
    explorer["filter F"].value = 5
    assert "larger than the padded input" in explorer["text"].value
    assert explorer["position"].disabled
    explorer["padding P"].value = 1  # 3 + 2 = 5 cells: one position
    assert not explorer["position"].disabled
    assert "(3 - 5 + 2) / 1 + 1 = 1" in explorer["text"].value


def test_dilation_shows_the_effective_filter_size(explorer):
    explorer["dilation d"].value = 2
    text = explorer["text"].value
    assert "F_eff = d(F - 1) + 1 = 2 * (3 - 1) + 1 = 5" in text
    assert "(7 - 5 + 0) / 1 + 1 = 3, so the output is 3x3" in text


def test_channels_change_the_parameter_count(explorer):
    # Lecture: ten 5x5 filters on a 32x32x3 input have 760 parameters.
    explorer["filter F"].value = 5
    explorer["C_in"].value = 3
    explorer["C_out"].value = 10
    assert "= 760" in explorer["text"].value


# --- the static fallback ------------------------------------------------------------------


def test_without_ipywidgets_the_explorer_returns_a_static_figure_and_says_why_once(
    monkeypatch, capsys
):
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # makes `import ipywidgets` fail
    monkeypatch.setattr(widgets, "_static_reasons_shown", set())
    first = conv_explorer(n=7, f=3, stride=2)
    out = capsys.readouterr().out
    assert isinstance(first, Figure)
    assert "ipywidgets is not installed" in out
    assert "(7 - 3 + 0) / 2 + 1 = 3" in out
    second = conv_explorer(n=7, f=3, stride=2, interactive=True)
    assert isinstance(second, Figure)
    assert "ipywidgets is not installed" not in capsys.readouterr().out


def test_outside_a_jupyter_kernel_the_explorer_returns_a_static_figure(monkeypatch, capsys):
    monkeypatch.setattr(widgets, "_static_reasons_shown", set())
    result = conv_explorer(n=10, f=3, stride=2)
    assert isinstance(result, Figure)
    out = capsys.readouterr().out
    assert "not a Jupyter kernel" in out
    assert "4.5 is not an integer" in out


def test_the_static_figure_draws_the_first_window(monkeypatch):
    monkeypatch.setattr(widgets, "_static_reasons_shown", {"static figure requested"})
    fig = conv_explorer(n=5, f=3, interactive=False)
    assert window_cells(fig) == {(p, q) for p in range(3) for q in range(3)}


def test_the_explorer_refuses_a_bad_starting_value():
    with pytest.raises(ValueError, match="stride"):
        conv_explorer(stride=0, interactive=False)


# --- the geometry figure ------------------------------------------------------------------


@pytest.mark.parametrize(
    "n, f, stride, pad, dilation, position",
    [
        (7, 3, 1, 0, 1, 0),
        (7, 3, 2, 1, 1, 5),
        (5, 3, 1, 1, 2, 4),
        (10, 5, 1, 2, 1, 99),
        (7, 3, 3, 0, 1, 3),  # does not fit: 2x2 windows
    ],
)
def test_geometry_highlights_every_tap_and_one_output_cell(n, f, stride, pad, dilation, position):
    fig = plot_conv_geometry(n, f, stride, pad, dilation, position)
    counts = gids(fig)
    outputs = ((n + 2 * pad - effective_filter_size(f, dilation)) // stride + 1) ** 2
    assert counts["window"] == f * f
    assert counts["output-current"] == 1
    assert counts["output"] + counts["output-current"] == outputs
    assert counts["padding"] == (n + 2 * pad) ** 2 - n * n
    assert counts["input"] == n * n


def test_geometry_spreads_dilated_taps_apart():
    fig = plot_conv_geometry(7, 3, stride=1, pad=0, dilation=2, position=0)
    assert window_cells(fig) == {(p, q) for p in (0, 2, 4) for q in (0, 2, 4)}


def test_geometry_moves_the_window_by_the_stride_in_row_major_order():
    # 7x7 input, 3x3 filter, stride 2: a 3x3 output; position 5 is row 1, column 2.
    fig = plot_conv_geometry(7, 3, stride=2, pad=0, dilation=1, position=5)
    assert min(window_cells(fig)) == (2, 4)


def test_geometry_marks_the_cells_no_window_reaches():
    # 7x7, 3x3, stride 3: windows start at 0 and 3 and reach 6 cells; row 6 and column 6 are left.
    assert gids(plot_conv_geometry(7, 3, stride=3, position=0))["uncovered"] == 7 * 7 - 6 * 6
    assert gids(plot_conv_geometry(7, 3, stride=2, position=0))["uncovered"] == 0


def test_geometry_refuses_a_position_outside_the_output():
    with pytest.raises(ValueError, match=r"position must be in \[0, 25\)"):
        plot_conv_geometry(7, 3, position=25)


# --- the text -----------------------------------------------------------------------------


def test_describe_conv_says_why_the_lecture_example_does_not_fit():
    # STYLE.md section 4 / SEED_CONCEPTS.md section 1: W=10, F=3, S=2, P=0 -> 4.5.
    text = describe_conv(10, 3, stride=2)
    assert "(W - F + 2P) / S + 1 = (10 - 3 + 0) / 2 + 1 = 4.5 is not an integer" in text
    assert "S divides W - F + 2P = 7" in text


@pytest.mark.parametrize(
    "n, f, stride, pad, dilation",
    [
        (7, 3, 1, 0, 1),
        (7, 3, 2, 0, 1),
        (32, 5, 1, 2, 1),
        (227, 11, 4, 0, 1),
        (9, 3, 1, 0, 3),
        (9, 2, 2, 1, 2),
    ],
)
def test_describe_conv_output_size_agrees_with_torch(n, f, stride, pad, dilation):
    text = describe_conv(n, f, stride, pad, dilation)
    size = int(re.search(r"the output is (\d+)x\1", text).group(1))
    assert size == torch_output_size(n, f, stride, pad, dilation)


@pytest.mark.parametrize("c_in, c_out, f", [(3, 10, 5), (3, 96, 11), (20, 7, 3)])
def test_describe_conv_parameter_count_agrees_with_torch(c_in, c_out, f):
    expected = sum(p.numel() for p in torch.nn.Conv2d(c_in, c_out, f).parameters())
    assert f"= {expected:,}" in describe_conv(32, f, c_in=c_in, c_out=c_out, pad=f // 2)


def test_effective_filter_size_adds_the_gaps():
    assert [effective_filter_size(3, d) for d in (1, 2, 3)] == [3, 5, 7]
