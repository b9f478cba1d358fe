"""The convolution explorer: where a filter sits, what it covers, and how big the output is.

``plot_conv_geometry`` draws one configuration as a matplotlib figure: the zero-padded input
grid, the cells the filter's taps cover at one output position (spread ``dilation`` cells
apart), and the output grid with that position highlighted. ``conv_explorer`` puts sliders
for every number on top of it (ipywidgets), with the output-size formula and the parameter
count written out; without ipywidgets or a widget frontend it returns the static figure.

Geometry is along one spatial dimension and the same for both: inputs are square (W x W),
filters square (F x F). With dilation d a filter covers F_eff = d(F - 1) + 1 cells, and the
output size is (W - F_eff + 2P) / S + 1, which must be an integer (see
``course_utils.reference.conv_output_size``, whose messages the explorer shows).
"""

from __future__ import annotations

import io
import numbers

from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from course_utils.reference.arithmetic import conv_output_size

__all__ = ["effective_filter_size", "describe_conv", "plot_conv_geometry", "conv_explorer"]

# Colours of the drawing (gid names the role of each patch, so a test can count them).
PADDING_COLOR = "#d9d9d9"
INPUT_COLOR = "#ffffff"
WINDOW_COLOR = "#f4a259"
OUTPUT_COLOR = "#ffffff"
CURRENT_COLOR = "#5b8e7d"
UNCOVERED_COLOR = "#bc4b51"


def _check_int(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an int, got {value!r} of type {type(value).__name__}.")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}.")
    return int(value)


def effective_filter_size(f: int, dilation: int = 1) -> int:
    """Cells covered by a filter of size F whose taps are ``dilation`` cells apart: d(F - 1) + 1."""
    f = _check_int("f (the filter size F)", f, 1)
    dilation = _check_int("dilation (d)", dilation, 1)
    return dilation * (f - 1) + 1


def _positions(n: int, f_eff: int, stride: int, pad: int) -> int:
    """Positions along one dimension where the whole filter lies on the padded input (floored)."""
    span = n + 2 * pad - f_eff
    return span // stride + 1 if span >= 0 else 0


def describe_conv(
    n: int,
    f: int,
    stride: int = 1,
    pad: int = 0,
    dilation: int = 1,
    c_in: int = 3,
    c_out: int = 8,
) -> str:
    """The output-size formula with the numbers filled in, and the layer's parameter count.

    When the configuration does not fit, the text says why, in the words of
    ``course_utils.reference.conv_output_size`` (with F standing for F_eff under dilation).

    Args:
        n: input size W (the input is W x W).
        f: filter size F (the filter is F x F).
        stride: S.
        pad: P, zeros on each side.
        dilation: d, distance between the filter's taps (1 = an ordinary filter).
        c_in: input channels C_in, for the parameter count.
        c_out: number of filters C_out, for the parameter count.

    Returns:
        A few lines of plain text.
    """
    n = _check_int("n (the input size W)", n, 1)
    stride = _check_int("stride (S)", stride, 1)
    pad = _check_int("pad (P)", pad, 0)
    c_in = _check_int("c_in", c_in, 1)
    c_out = _check_int("c_out", c_out, 1)
    f_eff = effective_filter_size(f, dilation)
    lines = []
    if dilation > 1:
        lines.append(
            f"effective filter size F_eff = d(F - 1) + 1 = {dilation} * ({f} - 1) + 1 = {f_eff}"
        )
        name = "F_eff"
    else:
        name = "F"
    try:
        out = conv_output_size(n, f_eff, stride, pad)
    except ValueError as error:
        if dilation > 1:
            lines.append(f"{error} (F here is F_eff = {f_eff})")
        else:
            lines.append(str(error))
    else:
        lines.append(
            f"output size (W - {name} + 2P) / S + 1 = ({n} - {f_eff} + {2 * pad}) / {stride} + 1 "
            f"= {out}, so the output is {out}x{out}"
        )
    params = c_out * (c_in * f * f + 1)
    lines.append(
        f"parameters C_out * (C_in * F * F + 1) = {c_out} * ({c_in} * {f} * {f} + 1) = {params:,}"
        + (" (dilation adds none)" if dilation > 1 else "")
    )
    return "\n".join(lines)


def _cell(ax, row: int, col: int, color: str, gid: str, **kwargs) -> Rectangle:
    patch = Rectangle((col, row), 1, 1, facecolor=color, edgecolor="#555555", lw=0.8, **kwargs)
    patch.set_gid(gid)
    ax.add_patch(patch)
    return patch


def _grid_axes(ax, size: int, extent: int, title: str) -> None:
    ax.set_xlim(-0.2, max(size, extent) + 0.2)
    ax.set_ylim(max(size, extent) + 0.2, -0.2)  # row 0 at the top, as in an array
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_title(title, fontsize=10)


def plot_conv_geometry(
    n: int,
    f: int,
    stride: int = 1,
    pad: int = 0,
    dilation: int = 1,
    position: int = 0,
) -> Figure:
    """Draw one filter position on the padded input, and the output grid.

    Left: the (W + 2P) x (W + 2P) padded input (padding grey), the F x F cells the filter's
    taps cover at this position (orange; ``dilation`` - 1 cells between taps) inside the
    F_eff x F_eff outline of its window, and, when S does not divide W - F_eff + 2P, the rows
    and columns no window reaches (red). Right: the output grid with the current cell (green).

    Patches carry a gid: "padding", "input", "window" (one per tap, F * F of them),
    "uncovered", "output", "output-current" (one).

    Args:
        n: input size W.
        f: filter size F.
        stride: S.
        pad: P, zeros on each side.
        dilation: d, distance between taps.
        position: output cell, row-major index in [0, H_out * W_out) where H_out = W_out is
            the number of positions that fit (floored when S does not divide).

    Returns:
        A matplotlib Figure (not managed by pyplot: display it, or ``fig.savefig(...)``).

    Raises:
        ValueError: a size is not an int in its range, or ``position`` is out of range.
    """
    n = _check_int("n (the input size W)", n, 1)
    stride = _check_int("stride (S)", stride, 1)
    pad = _check_int("pad (P)", pad, 0)
    position = _check_int("position", position, 0)
    f_eff = effective_filter_size(f, dilation)
    size = n + 2 * pad
    m = _positions(n, f_eff, stride, pad)
    if m == 0:
        if position != 0:
            raise ValueError(f"position must be 0 when the filter does not fit, got {position}.")
        row0 = col0 = 0
    else:
        if position >= m * m:
            raise ValueError(
                f"position must be in [0, {m * m}) for a {m}x{m} output, got {position}."
            )
        row0, col0 = (index * stride for index in divmod(position, m))
    reach = (m - 1) * stride + f_eff if m else 0  # cells reached by some window, per dimension

    fig = Figure(figsize=(9.5, 4.6), layout="constrained")
    ax_in, ax_out = fig.subplots(1, 2, width_ratios=[max(size, f_eff), max(m, 1) + 2])

    for row in range(size):
        for col in range(size):
            inside = pad <= row < pad + n and pad <= col < pad + n
            _cell(
                ax_in,
                row,
                col,
                INPUT_COLOR if inside else PADDING_COLOR,
                "input" if inside else "padding",
            )
    if m and reach < size:
        for row in range(size):
            for col in range(size):
                if row >= reach or col >= reach:
                    patch = _cell(ax_in, row, col, "none", "uncovered", hatch="///")
                    patch.set_edgecolor(UNCOVERED_COLOR)
    for p in range(f):
        for q in range(f):
            _cell(
                ax_in, row0 + p * dilation, col0 + q * dilation, WINDOW_COLOR, "window", alpha=0.9
            )
    outline = Rectangle(
        (col0, row0),
        f_eff,
        f_eff,
        fill=False,
        edgecolor=UNCOVERED_COLOR if m == 0 else "#222222",
        lw=2.5,
        ls="--" if m == 0 else "-",
    )
    outline.set_gid("window-outline")
    ax_in.add_patch(outline)
    pad_text = f", padded to {size}x{size} (P = {pad})" if pad else ""
    _grid_axes(
        ax_in,
        size,
        f_eff,
        f"input {n}x{n}{pad_text}; filter {f}x{f}" + (f", d = {dilation}" if dilation > 1 else ""),
    )

    try:
        conv_output_size(n, f_eff, stride, pad)
        out_title = f"output {m}x{m}, cell {divmod(position, m)}"
    except ValueError:
        out_title = (
            f"does not fit: {m}x{m} windows;\n{size - reach} row(s) and column(s) never covered"
            if m
            else "does not fit: filter larger than the padded input"
        )
    for row in range(m):
        for col in range(m):
            current = row * m + col == position
            _cell(
                ax_out,
                row,
                col,
                CURRENT_COLOR if current else OUTPUT_COLOR,
                "output-current" if current else "output",
            )
    _grid_axes(ax_out, max(m, 1), 0, out_title)
    fig.suptitle(f"W = {n}, F = {f}, S = {stride}, P = {pad}, d = {dilation}", fontsize=11)
    return fig


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80)
    return buffer.getvalue()


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_static_reasons_shown: set[str] = set()


def _widget_frontend() -> str | None:
    """None when widgets can be shown here, else the reason they cannot."""
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return "ipywidgets is not installed (pip install ipywidgets)"
    try:
        from IPython import get_ipython
    except ImportError:
        return "IPython is not installed"
    shell = get_ipython()
    if shell is None or getattr(shell, "kernel", None) is None:
        return "this is not a Jupyter kernel, so no widget frontend can show sliders"
    return None


def _static(n, f, stride, pad, dilation, c_in, c_out, reason: str) -> Figure:
    if reason not in _static_reasons_shown:
        _static_reasons_shown.add(reason)
        print(f"conv_explorer: {reason}; showing a static figure instead.")
    print(describe_conv(n, f, stride, pad, dilation, c_in, c_out))
    return plot_conv_geometry(n, f, stride, pad, dilation, position=0)


def conv_explorer(
    n: int = 7,
    f: int = 3,
    stride: int = 1,
    pad: int = 0,
    dilation: int = 1,
    *,
    c_in: int = 3,
    c_out: int = 8,
    interactive: bool | None = None,
):
    """Sliders for W, F, S, P, d and the output position over ``plot_conv_geometry``'s drawing.

    Under the sliders: ``describe_conv``'s text (the output-size formula with the numbers, or
    why the configuration does not fit, and the parameter count for C_in and C_out), and the
    figure. The position slider (with a play button) walks the filter over the input.

    Args:
        n, f, stride, pad, dilation: the starting configuration (W, F, S, P, d).
        c_in, c_out: channels for the parameter count.
        interactive: True builds the widget, False returns the static figure; None (default)
            builds the widget when ipywidgets is importable and this runs in a Jupyter kernel.

    Returns:
        An ``ipywidgets.VBox`` (display it, or leave it as a cell's last expression), or, without
        ipywidgets or a widget frontend, a static matplotlib Figure of position 0 (the reason
        is printed once per session, the formula every time).
    """
    for name, value, minimum in (
        ("n (the input size W)", n, 1),
        ("f (the filter size F)", f, 1),
        ("stride (S)", stride, 1),
        ("pad (P)", pad, 0),
        ("dilation (d)", dilation, 1),
        ("c_in", c_in, 1),
        ("c_out", c_out, 1),
    ):
        _check_int(name, value, minimum)
    reason = _widget_frontend()
    if interactive is False:
        return _static(n, f, stride, pad, dilation, c_in, c_out, "static figure requested")
    if reason is not None and (interactive is None or reason.startswith("ipywidgets")):
        return _static(n, f, stride, pad, dilation, c_in, c_out, reason)

    import ipywidgets as widgets

    def slider(description, value, minimum, maximum):
        return widgets.IntSlider(
            value=value,
            min=minimum,
            max=max(maximum, value),
            description=description,
            continuous_update=False,
            style={"description_width": "90px"},
        )

    controls = {
        "n": slider("input W", n, 1, 16),
        "f": slider("filter F", f, 1, 7),
        "stride": slider("stride S", stride, 1, 4),
        "pad": slider("padding P", pad, 0, 4),
        "dilation": slider("dilation d", dilation, 1, 3),
    }
    channels = {
        "c_in": widgets.BoundedIntText(
            value=c_in, min=1, max=4096, description="C_in", layout={"width": "160px"}
        ),
        "c_out": widgets.BoundedIntText(
            value=c_out, min=1, max=4096, description="C_out", layout={"width": "160px"}
        ),
    }
    position = widgets.IntSlider(
        value=0, min=0, max=0, description="position", continuous_update=True
    )
    play = widgets.Play(value=0, min=0, max=0, interval=600, description="play")
    widgets.jslink((play, "value"), (position, "value"))
    text = widgets.HTML()
    image = widgets.Image(format="png")
    updating = {"busy": False}

    def config():
        values = {name: control.value for name, control in controls.items()}
        values.update({name: box.value for name, box in channels.items()})
        return values

    def redraw(_change=None):
        if updating["busy"]:
            return
        updating["busy"] = True
        try:
            values = config()
            f_eff = effective_filter_size(values["f"], values["dilation"])
            m = _positions(values["n"], f_eff, values["stride"], values["pad"])
            last = max(m * m - 1, 0)
            for widget in (position, play):
                if widget.value > last:
                    widget.value = last
                widget.max = last
            position.disabled = play.disabled = m == 0
            description = describe_conv(
                values["n"],
                values["f"],
                values["stride"],
                values["pad"],
                values["dilation"],
                values["c_in"],
                values["c_out"],
            )
            text.value = "<pre style='line-height:1.3'>" + _escape(description) + "</pre>"
            fig = plot_conv_geometry(
                values["n"],
                values["f"],
                values["stride"],
                values["pad"],
                values["dilation"],
                position.value,
            )
            image.value = _png(fig)
        finally:
            updating["busy"] = False

    for control in (*controls.values(), *channels.values(), position):
        control.observe(redraw, names="value")
    redraw()
    return widgets.VBox(
        [
            widgets.HBox(
                [
                    widgets.VBox(list(controls.values())[:3]),
                    widgets.VBox(list(controls.values())[3:]),
                ]
            ),
            widgets.HBox([position, play, *channels.values()]),
            text,
            image,
        ]
    )
