"""What a student sees in JupyterLab: notebook 01's release, run in a real browser.

One Lab server per test, in a folder holding notebook 01 as released (Colab setup cell on top),
solved the way a student would solve it (`autograder.submissions`, kind "complete"), and once
more with a flipped kernel in `cross_correlate2d`. Screenshots: tests/artifacts/browser/.
"""

from __future__ import annotations

import io
import time

import numpy as np
import pytest
from PIL import Image

from autograder.build import release
from autograder.course import Course
from autograder.submissions import make_submission
from tests.browser.conftest import DARK, screenshot

pytestmark = pytest.mark.slow

NOTEBOOK = "01_conv_arithmetic"
RUN_ALL_TIMEOUT_S = 240

# A student's cross_correlate2d that computes true convolution (the kernel flipped).
FLIPPED_CROSS_CORRELATE = """\
def cross_correlate2d(x, k):
    x = np.asarray(x, dtype=np.float64)
    k = np.asarray(k, dtype=np.float64)[::-1, ::-1]
    out = np.zeros((x.shape[0] - k.shape[0] + 1, x.shape[1] - k.shape[1] + 1))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = np.sum(x[i : i + k.shape[0], j : j + k.shape[1]] * k)
    return out
"""

PLOTS_NOTEBOOK_CELL = """\
%matplotlib inline
from course_utils.plots import plot_history

epochs = range(1, 7)
plot_history({
    "train_loss": [1.0 / e for e in epochs],
    "val_loss": [1.2 / e + 0.05 * e for e in epochs],
    "train_acc": [0.5 + 0.08 * e for e in epochs],
    "val_acc": [0.45 + 0.07 * e for e in epochs],
})
"""


@pytest.fixture(scope="module")
def student_files(tmp_path_factory):
    """name -> notebook text: the release, a solved copy, and a copy with one mistake."""
    course = Course(tmp_path_factory.mktemp("student") / "course")
    release(course, [NOTEBOOK], progress=False)
    source, released = course.source_path(NOTEBOOK), course.release_path(NOTEBOOK)
    import nbformat

    mistake = nbformat.reads(make_submission(source, released, "complete"), as_version=4)
    for cell in mistake.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "cross_correlate2d":
            cell.source = FLIPPED_CROSS_CORRELATE
    return {
        f"{NOTEBOOK}.ipynb": released.read_text(encoding="utf-8"),
        "01_solved.ipynb": make_submission(source, released, "complete"),
        "01_mistake.ipynb": nbformat.writes(mistake),
    }


@pytest.fixture(scope="module")
def student_folder(tmp_path_factory, student_files):
    folder = tmp_path_factory.mktemp("student_lab") / "work"
    folder.mkdir()
    for name, text in student_files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def open_notebook(page, server, name: str) -> None:
    server.shutdown_kernels()
    page.goto(server.url(f"lab/tree/{name}?reset"))  # a fresh workspace: only this notebook
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell")
    # The status bar reads "Python 3 (ipykernel) | Idle" once the kernel is connected.
    page.wait_for_selector(".jp-StatusBar-TextItem:has-text('(ipykernel) | Idle')")


def _run_state(page) -> dict:
    return page.evaluate(
        """() => ({
            prompts: [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]
                .map((e) => e.textContent.trim()),
            idle: !!document.querySelector('.jp-Notebook-ExecutionIndicator[data-status="idle"]'),
            failed: [...document.querySelectorAll('.jp-OutputArea-output')]
                .some((e) => e.innerText.includes('Traceback')
                    || /^\\w*(Error|Exception)\\b/m.test(e.innerText)),
        })"""
    )


def run_all_cells(page) -> list[str]:
    """Run > Run All Cells; wait until the last cell ran or a cell failed; return the prompts.

    Lab runs the cells one after the other and stops at the first error, so "done" is: the
    kernel is idle, no cell is running, and the last cell has a number or an error is shown,
    twice in a row a second apart.
    """
    page.click('.lm-MenuBar-itemLabel:text-is("Run")')
    page.click('.lm-Menu-itemLabel:text-is("Run All Cells")')
    deadline = time.monotonic() + RUN_ALL_TIMEOUT_S
    settled = 0
    while settled < 2:
        if time.monotonic() > deadline:
            pytest.fail(
                f"Run All Cells did not finish in {RUN_ALL_TIMEOUT_S} s: {_run_state(page)}"
            )
        page.wait_for_timeout(1000)
        state = _run_state(page)
        if state["failed"] is False and not state["prompts"][0].strip("[]: "):
            if time.monotonic() > deadline - RUN_ALL_TIMEOUT_S + 30:
                screenshot(page, "run_all_did_not_start")
                pytest.fail(f"Run All Cells did not start a cell in 30 s: {state}")
        prompts = state["prompts"]
        done = (
            state["idle"]
            and prompts
            and not any("*" in p for p in prompts)
            and (any(c.isdigit() for c in prompts[-1]) or state["failed"])
        )
        settled = settled + 1 if done else 0
    return state["prompts"]


def error_outputs(page) -> list[str]:
    return page.eval_on_selector_all(
        ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']",
        "(es) => es.map((e) => e.innerText)",
    )


def set_slider(page, slider, value: int, until, shows: str, attempts: int = 3) -> None:
    """Type `value` into a slider's readout, as a student may, until `until` shows `shows`.

    `until` is a locator, looked up again while waiting: the HTML widget replaces its element
    when its value changes, so a handle taken before the edit would never show the new text.
    On a busy machine the notebook may still be laying out outputs when the readout is
    clicked, so the edit is tried again (a few times) when nothing changed.
    """
    from playwright.sync_api import expect  # imported here: without it the tests skip

    readout = slider.locator(".widget-readout")
    for _ in range(attempts):
        readout.scroll_into_view_if_needed()
        readout.click()
        readout.fill(str(value))
        readout.press("Enter")
        try:
            expect(until).to_contain_text(shows, timeout=30_000)
            return
        except AssertionError:  # what expect raises when the text did not come
            continue
    screenshot(page, "slider_did_not_respond")
    pytest.fail(f"the explorer did not show {shows!r} after setting the slider to {value}")


def test_the_solved_release_runs_top_to_bottom_and_the_explorer_follows_its_sliders(
    page, lab_server, student_folder, artifacts
):
    server = lab_server(student_folder)
    open_notebook(page, server, "01_solved.ipynb")
    prompts = run_all_cells(page)
    assert all(prompt[1:-2].isdigit() for prompt in prompts), f"cells not run: {prompts}"
    errors = [text for text in error_outputs(page) if "Error" in text]
    assert not errors, f"the solved notebook shows errors: {errors[:2]}"

    explorer = page.locator(".jp-OutputArea-output .widget-vbox").first
    explorer.scroll_into_view_if_needed()
    assert page.locator(".widget-slider").count() >= 6  # W, F, S, P, d and the position
    formula = explorer.locator(".widget-html pre")
    assert "(7 - 3 + 2) / 2 + 1 = 4, so the output is 4x4" in formula.inner_text()
    image = explorer.locator("img").first
    before = image.get_attribute("src")
    screenshot(page, "student_01_explorer_stride_2")

    stride = explorer.locator(".widget-slider", has_text="stride S")
    set_slider(page, stride, 3, until=formula, shows="so the output is 3x3")
    assert "(7 - 3 + 2) / 3 + 1 = 3" in formula.inner_text()
    from playwright.sync_api import expect

    expect(image).not_to_have_attribute("src", before)  # the picture follows the slider
    screenshot(page, "student_01_explorer_stride_3")


def test_a_failing_check_shows_its_diagnosis_in_the_notebook(
    page, lab_server, student_folder, artifacts
):
    server = lab_server(student_folder)
    open_notebook(page, server, "01_mistake.ipynb")
    run_all_cells(page)
    failing = page.locator(".jp-CodeCell", has_text="check_cross_correlate2d(cross_correlate2d)")
    output = failing.locator(
        ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
    )
    output.scroll_into_view_if_needed()
    text = output.inner_text()
    screenshot(page, "student_01_failing_check")
    assert "AssertionError" in text
    assert "cross_correlate2d: case" in text and "Hint:" in text and "flipped" in text, text
    diagnosis = text[text.index("AssertionError") :]
    assert "\x1b[" not in diagnosis, "raw terminal colour codes reach the student"
    assert len(diagnosis.splitlines()) >= 3, "the diagnosis must keep its line breaks"


def test_the_blank_release_opens_with_its_title_then_the_colab_cell_and_fails_its_first_test(
    page, lab_server, student_folder, artifacts
):
    server = lab_server(student_folder)
    open_notebook(page, server, f"{NOTEBOOK}.ipynb")
    first_cell = page.locator(".jp-Cell").first
    assert "Assignment 01" in first_cell.inner_text(), "the release must open with its title"
    first_code = page.locator(".jp-CodeCell").first
    assert "Google Colab only" in first_code.inner_text()
    prompts = run_all_cells(page)
    assert prompts[0] == "[1]:" and prompts[1] == "[2]:", prompts  # setup cells ran cleanly
    errors = error_outputs(page)
    assert any("NotImplementedError" in text for text in errors), errors
    screenshot(page, "student_01_blank_release")


def test_course_plots_stay_readable_in_the_dark_theme(page, lab_server, tmp_path, artifacts):
    import nbformat

    folder = tmp_path / "plots"
    folder.mkdir()
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    notebook.cells = [nbformat.v4.new_code_cell(PLOTS_NOTEBOOK_CELL)]
    nbformat.write(notebook, str(folder / "plots.ipynb"))
    server = lab_server(folder, theme=DARK)
    open_notebook(page, server, "plots.ipynb")
    run_all_cells(page)
    assert not [text for text in error_outputs(page) if "Error" in text], error_outputs(page)
    figure = page.locator(".jp-OutputArea-output img").first
    figure.scroll_into_view_if_needed()
    screenshot(page, "dark_theme_plot_history")

    page_rgb = np.asarray(Image.open(io.BytesIO(page.screenshot())).convert("RGB"), float)
    figure_rgb = np.asarray(Image.open(io.BytesIO(figure.screenshot())).convert("RGB"), float)
    assert page_rgb.mean() < 110, "the dark theme is not on"
    corner = figure_rgb[:5, :5].reshape(-1, 3).mean(axis=0)
    assert corner.min() > 240, f"the figure background is not opaque white: {corner}"
    dark_pixels = (figure_rgb.max(axis=2) < 90).mean()
    assert dark_pixels > 0.003, "no dark text or lines on the figure"
