"""The checks behind every exercise, and the `cnn-course` command on top of nbgrader."""

__version__ = "0.1.0"
