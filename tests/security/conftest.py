"""The security tests grade the tiny assignment, released once per session (tests/e2e)."""

from tests.e2e.conftest import _released_template, released_course  # noqa: F401
