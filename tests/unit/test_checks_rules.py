"""The rules of NumPy exercises: banned libraries are found, vectorised code is told apart."""

from __future__ import annotations

import functools
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from autograder.kernel import rules as _rules
from course_utils import reference


def _helper_with_torch(x):
    return F.relu(torch.from_numpy(x)).numpy()


def relu_through_global_helper(x):
    return _helper_with_torch(x)


def _make_closure():
    helper = _helper_with_torch

    def relu_through_closure(x):
        return helper(x)

    return relu_through_closure


def relu_through_partial(x):
    return functools.partial(_helper_with_torch)(x)


def relu_importing_the_reference(x):
    from course_utils import reference as twins

    return twins.relu_forward(x)


def relu_checking_for_tensors(x):
    if isinstance(x, torch.Tensor):
        raise TypeError("NumPy arrays only")
    return np.maximum(x, 0)


def conv_with_local_names_like_libraries(x, w):
    F, C, HH, WW = w.shape  # a local F, not torch.nn.functional
    windows = np.lib.stride_tricks.sliding_window_view(x, (HH, WW), axis=(2, 3))
    return np.einsum("nchwpq,fcpq->nfhw", windows, w), F * C


def test_find_banned_follows_helpers_through_globals_closures_and_partials():
    for func in (relu_through_global_helper, _make_closure(), relu_through_partial):
        found = _rules.find_banned(func)
        assert any("torch.relu" in use or "relu (as F.relu" in use for use in found), found
        assert any("in _helper_with_torch" in use for use in found), found


def test_find_banned_names_the_alias_the_student_wrote():
    found = _rules.find_banned(relu_through_global_helper)
    assert any(
        "as F.relu" in use and "called from relu_through_global_helper" in use for use in found
    )


def test_find_banned_sees_an_import_inside_the_function():
    found = _rules.find_banned(relu_importing_the_reference)
    assert any("from course_utils import reference" in use for use in found)
    assert any(
        "course_utils.reference.layers.relu_forward (as twins.relu_forward" in use for use in found
    )


def test_find_banned_allows_isinstance_checks_on_library_classes():
    assert _rules.find_banned(relu_checking_for_tensors) == []


def test_find_banned_allows_stride_tricks_and_local_names_that_shadow_libraries():
    assert _rules.find_banned(conv_with_local_names_like_libraries) == []


def test_find_banned_does_not_read_library_code():
    assert _rules.find_banned(np.pad.__wrapped__) == []


def test_refuse_banned_raises_an_assertion_that_states_the_rule():
    with pytest.raises(AssertionError, match="This is a NumPy exercise") as failure:
        _rules.refuse_banned("relu_forward", relu_through_global_helper)
    assert str(failure.value).startswith("relu_forward: relu_through_global_helper uses ")


def test_guard_stops_at_the_first_banned_call_even_past_except_exception():
    def sneaky(x):
        try:
            return __import__("tor" + "ch").from_numpy(x)
        except Exception:
            return "caught"

    with pytest.raises(_rules.BannedCall, match="your code called torch.from_numpy"):
        _rules.guard(sneaky, "relu_forward")(np.ones(3))


def test_guard_stops_a_call_into_python_code_of_a_banned_module():
    def calls_the_twin(x):
        return reference.relu_forward(x)

    with pytest.raises(_rules.BannedCall, match="course_utils.reference.layers.relu_forward"):
        _rules.guard(calls_the_twin, "relu_forward")(torch.ones(3))


def test_guard_lets_numpy_code_run_and_restores_the_profiler():
    previous = sys.getprofile()
    out = _rules.guard(conv_with_local_names_like_libraries, "conv")(
        np.ones((1, 2, 4, 4)), np.ones((3, 2, 2, 2))
    )
    assert out[0].shape == (1, 3, 3, 3)
    assert sys.getprofile() is previous


def _loop(n):
    total = 0
    for i in range(n):
        total += i
    return total


def _pad_once(x):
    return np.pad(x, 1)


def test_count_lines_counts_every_line_of_a_python_loop():
    result, count = _rules.count_lines(_loop, 100)
    assert result == 4950
    assert count >= 200  # the for line and the body, at every iteration


def test_count_lines_ignores_the_lines_numpy_runs():
    # np.pad is Python code inside NumPy; its lines must not count.
    assert np.pad.__wrapped__.__code__.co_filename.startswith(np.__path__[0])
    _, count = _rules.count_lines(_pad_once, np.ones((3, 3)))
    assert count == 1


def test_count_lines_abandons_a_call_past_its_limit_and_restores_the_tracer():
    previous = sys.gettrace()
    result, count = _rules.count_lines(_loop, 10**9, stop_after=50)
    assert result is None and count == 51
    assert sys.gettrace() is previous


def test_student_code_is_told_apart_from_libraries_and_the_course_package():
    assert _rules.is_student_code(_loop.__code__)
    assert not _rules.is_student_code(np.pad.__wrapped__.__code__)
    assert not _rules.is_student_code(_rules.count_lines.__code__)
    assert not _rules.is_student_code(reference.relu_forward.__code__)
    cell = compile("def f():\n    return 1\n", "02_layers.ipynb:cell7", "exec")
    assert _rules.is_student_code(cell)


@pytest.mark.parametrize(
    "module, banned",
    [("torch", True), ("torch.nn.functional", True), ("scipy.signal", True),
     ("course_utils.reference", True), ("numpy", False), ("numpy.lib.stride_tricks", False),
     ("torchvision_like", False), ("math", False)],
)  # fmt: skip
def test_banned_prefix_matches_whole_module_names(module, banned):
    assert bool(_rules.banned_prefix(module)) is banned
