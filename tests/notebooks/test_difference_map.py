"""In a student's own notebook (a Jupyter kernel), a check whose array answer is wrong shows
the heat map of where it differs above its diagnosis; a right answer shows none."""

from __future__ import annotations

import nbformat
from nbclient import NotebookClient

WRONG = """
import numpy as np
from autograder.checks import check_nhwc_to_nchw


def nhwc_to_nchw(x):
    n, h, w, c = x.shape
    return x.reshape(n, c, h, w)


check_nhwc_to_nchw(nhwc_to_nchw)
"""
RIGHT = WRONG.replace("x.reshape(n, c, h, w)", "np.transpose(x, (0, 3, 1, 2))")


def _outputs(source: str) -> list[dict]:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source)]
    NotebookClient(notebook, timeout=120, allow_errors=True, kernel_name="python3").execute()
    return notebook.cells[0].outputs


def test_a_wrong_array_answer_shows_where_it_differs_above_the_diagnosis():
    outputs = _outputs(WRONG)
    kinds = [o["output_type"] for o in outputs]
    assert kinds[-1] == "error" and "[nhwc_to_nchw/reshape]" in outputs[-1]["evalue"]
    pictures = [o for o in outputs if o["output_type"] == "display_data"]
    assert len(pictures) == 1 and pictures[0]["data"]["image/png"]
    assert kinds.index("display_data") < kinds.index("error")


def test_a_right_answer_shows_no_picture():
    outputs = _outputs(RIGHT)
    assert [o["output_type"] for o in outputs] == ["stream"]
