"""PyTorch twins of every function a student writes, and the layers later notebooks train with.

Each twin has the student function's name, arguments, returns, shapes and meaning, takes
tensors on any device (CPU, CUDA, MPS) in float32 or float64, and returns results on the
input's device and in its dtype. They are the oracle of every autograder check.
"""

from course_utils.reference.arithmetic import (
    conv_output_size,
    conv_param_count,
    convolve2d,
    cross_correlate2d,
    padding_for,
    receptive_field,
)

__all__ = [
    "conv_output_size",
    "padding_for",
    "conv_param_count",
    "receptive_field",
    "cross_correlate2d",
    "convolve2d",
]
