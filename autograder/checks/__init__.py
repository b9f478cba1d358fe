"""One check per exercise. Each takes the student's callable and ``cases="public"`` or
``"hidden"``, prints one line when every case passes, and raises ``AssertionError`` with a
diagnosis otherwise. ``_engine`` is the machinery they all share.

One module per topic, in notebook order: arithmetic (01); layers, convolution, pooling, losses,
convnet and training (02); optim (03); batchnorm, initialization and normalization (04);
architectures, counting, builders and resnet (05); random_augment, augment and transfer (06);
detection, grid_detector, matching, evaluation and segmentation (07).
"""

from autograder.checks import (
    architectures,
    arithmetic,
    augment,
    batchnorm,
    builders,
    convnet,
    convolution,
    counting,
    detection,
    evaluation,
    grid_detector,
    initialization,
    layers,
    losses,
    matching,
    normalization,
    optim,
    pooling,
    random_augment,
    resnet,
    segmentation,
    training,
    transfer,
)
from autograder.checks.architectures import *  # noqa: F401,F403
from autograder.checks.arithmetic import *  # noqa: F401,F403
from autograder.checks.augment import *  # noqa: F401,F403
from autograder.checks.batchnorm import *  # noqa: F401,F403
from autograder.checks.builders import *  # noqa: F401,F403
from autograder.checks.convnet import *  # noqa: F401,F403
from autograder.checks.convolution import *  # noqa: F401,F403
from autograder.checks.counting import *  # noqa: F401,F403
from autograder.checks.detection import *  # noqa: F401,F403
from autograder.checks.evaluation import *  # noqa: F401,F403
from autograder.checks.grid_detector import *  # noqa: F401,F403
from autograder.checks.initialization import *  # noqa: F401,F403
from autograder.checks.layers import *  # noqa: F401,F403
from autograder.checks.losses import *  # noqa: F401,F403
from autograder.checks.matching import *  # noqa: F401,F403
from autograder.checks.normalization import *  # noqa: F401,F403
from autograder.checks.optim import *  # noqa: F401,F403
from autograder.checks.pooling import *  # noqa: F401,F403
from autograder.checks.random_augment import *  # noqa: F401,F403
from autograder.checks.resnet import *  # noqa: F401,F403
from autograder.checks.segmentation import *  # noqa: F401,F403
from autograder.checks.training import *  # noqa: F401,F403
from autograder.checks.transfer import *  # noqa: F401,F403

__all__ = [
    name
    for module in (
        arithmetic,
        layers,
        convolution,
        pooling,
        losses,
        convnet,
        training,
        optim,
        batchnorm,
        initialization,
        normalization,
        architectures,
        counting,
        builders,
        resnet,
        random_augment,
        augment,
        transfer,
        detection,
        grid_detector,
        matching,
        evaluation,
        segmentation,
    )
    for name in module.__all__
]
