"""One check per exercise. Each takes the student's callable and ``cases="public"`` or
``"hidden"``, prints one line when every case passes, and raises ``AssertionError`` with a
diagnosis otherwise. See ``_compare`` for the shared machinery.
"""

from autograder.checks.architectures import *  # noqa: F401,F403
from autograder.checks.arithmetic import *  # noqa: F401,F403
from autograder.checks.arithmetic import __all__ as _arithmetic
from autograder.checks.batchnorm import *  # noqa: F401,F403
from autograder.checks.detection import *  # noqa: F401,F403
from autograder.checks.layers import *  # noqa: F401,F403
from autograder.checks.optim import *  # noqa: F401,F403
from autograder.checks.transfer import *  # noqa: F401,F403

__all__ = [*_arithmetic]
