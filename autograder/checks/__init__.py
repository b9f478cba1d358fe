"""One check per exercise. Each takes the student's callable and ``cases="public"`` or
``"hidden"``, prints one line when every case passes, and raises ``AssertionError`` with a
diagnosis otherwise. See ``_compare`` for the shared machinery.

One module per notebook: arithmetic (01), layers (02), optim (03), batchnorm (04),
architectures (05), transfer (06), detection (07).

The checks exported here are wrapped so that a failure reaches the student's cell as a fresh
``AssertionError`` with the same diagnosis and no frames of the check code: the notebook's
traceback ends at the student's own line (IPython and pytest hide the wrapper's frame, which
sets ``__tracebackhide__``).
"""

import functools as _functools

from autograder.checks import (
    architectures,
    arithmetic,
    batchnorm,
    detection,
    layers,
    optim,
    transfer,
)
from autograder.checks.architectures import *  # noqa: F401,F403
from autograder.checks.arithmetic import *  # noqa: F401,F403
from autograder.checks.batchnorm import *  # noqa: F401,F403
from autograder.checks.detection import *  # noqa: F401,F403
from autograder.checks.layers import *  # noqa: F401,F403
from autograder.checks.optim import *  # noqa: F401,F403
from autograder.checks.transfer import *  # noqa: F401,F403

__all__ = [
    name
    for module in (arithmetic, layers, optim, batchnorm, architectures, transfer, detection)
    for name in module.__all__
]


def _student_facing(check):
    @_functools.wraps(check)
    def run(*args, **kwargs):
        __tracebackhide__ = True  # noqa: F841 (read by IPython and pytest)
        try:
            return check(*args, **kwargs)
        except AssertionError as failure:
            raise AssertionError(*failure.args) from None

    return run


for _name in __all__:
    globals()[_name] = _student_facing(globals()[_name])
del _name
