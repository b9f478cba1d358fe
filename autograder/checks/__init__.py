"""One check per exercise. Each takes the student's callable and ``cases="public"`` or
``"hidden"``, prints one line when every case passes, and raises ``AssertionError`` with a
diagnosis otherwise. ``_engine`` is the machinery they all share.

One module per topic, in notebook order: arithmetic (01); layers, convolution, pooling and
losses (02); optim (03); batchnorm (04); architectures, counting and builders (05);
transfer (06); detection, grid_detector and segmentation (07).
"""

from autograder.checks import (
    architectures,
    arithmetic,
    batchnorm,
    builders,
    convolution,
    counting,
    detection,
    grid_detector,
    layers,
    losses,
    optim,
    pooling,
    segmentation,
    transfer,
)
from autograder.checks.architectures import *  # noqa: F401,F403
from autograder.checks.arithmetic import *  # noqa: F401,F403
from autograder.checks.batchnorm import *  # noqa: F401,F403
from autograder.checks.builders import *  # noqa: F401,F403
from autograder.checks.convolution import *  # noqa: F401,F403
from autograder.checks.counting import *  # noqa: F401,F403
from autograder.checks.detection import *  # noqa: F401,F403
from autograder.checks.grid_detector import *  # noqa: F401,F403
from autograder.checks.layers import *  # noqa: F401,F403
from autograder.checks.losses import *  # noqa: F401,F403
from autograder.checks.optim import *  # noqa: F401,F403
from autograder.checks.pooling import *  # noqa: F401,F403
from autograder.checks.segmentation import *  # noqa: F401,F403
from autograder.checks.transfer import *  # noqa: F401,F403

__all__ = [
    name
    for module in (
        arithmetic,
        layers,
        convolution,
        pooling,
        losses,
        optim,
        batchnorm,
        architectures,
        counting,
        builders,
        transfer,
        detection,
        grid_detector,
        segmentation,
    )
    for name in module.__all__
]
