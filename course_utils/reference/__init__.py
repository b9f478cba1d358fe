"""PyTorch twins of every function a student writes, and the layers later notebooks train with.

Each twin has the student function's name, arguments, returns, shapes and meaning, takes
tensors on any device (CPU, CUDA, MPS) in float32 or float64, and returns results on the
input's device and in its dtype. They are the oracle of every autograder check.
"""

from course_utils.reference import architectures as _architectures
from course_utils.reference import detection as _detection
from course_utils.reference import evaluation as _evaluation
from course_utils.reference.architectures import *  # noqa: F403  (notebook 05's models)
from course_utils.reference.arithmetic import (
    conv_output_size,
    conv_param_count,
    convolve2d,
    cross_correlate2d,
    padding_for,
    receptive_field,
)
from course_utils.reference.batchnorm import (
    batchnorm_backward,
    batchnorm_backward_alt,
    batchnorm_forward,
    spatial_batchnorm_backward,
    spatial_batchnorm_forward,
)
from course_utils.reference.convnet import ThreeLayerConvNet, train_epoch
from course_utils.reference.counting import layer_macs, layer_table
from course_utils.reference.detection import *  # noqa: F403  (notebook 07)
from course_utils.reference.evaluation import *  # noqa: F403  (notebook 07: anchors, AP)
from course_utils.reference.layers import (
    affine_backward,
    affine_forward,
    avg_pool_backward,
    avg_pool_forward,
    bce_loss,
    conv_backward_fast,
    conv_backward_naive,
    conv_forward_fast,
    conv_forward_naive,
    dropout_backward,
    dropout_forward,
    eval_numerical_gradient_array,
    max_pool_backward_naive,
    max_pool_forward_naive,
    relu_backward,
    relu_forward,
    softmax_loss,
    svm_loss,
)
from course_utils.reference.modules import (
    Affine,
    AvgPool,
    Conv2d,
    Dropout,
    Flatten,
    MaxPool,
    ReLU,
    small_cnn,
)
from course_utils.reference.normalization import (
    kaiming_normal,
    layernorm_backward,
    layernorm_forward,
    spatial_groupnorm_backward,
    spatial_groupnorm_forward,
)
from course_utils.reference.optim import (
    UpdateRuleOptimizer,
    adagrad,
    adam,
    rmsprop,
    sgd,
    sgd_momentum,
)

__all__ = [
    # notebook 01
    "conv_output_size",
    "padding_for",
    "conv_param_count",
    "receptive_field",
    "cross_correlate2d",
    "convolve2d",
    # notebook 02
    "affine_forward",
    "affine_backward",
    "relu_forward",
    "relu_backward",
    "conv_forward_naive",
    "conv_backward_naive",
    "conv_forward_fast",
    "conv_backward_fast",
    "max_pool_forward_naive",
    "max_pool_backward_naive",
    "avg_pool_forward",
    "avg_pool_backward",
    "dropout_forward",
    "dropout_backward",
    "softmax_loss",
    "svm_loss",
    "bce_loss",
    "eval_numerical_gradient_array",
    "ThreeLayerConvNet",
    "train_epoch",
    # notebook 03
    "sgd",
    "sgd_momentum",
    "adagrad",
    "rmsprop",
    "adam",
    "UpdateRuleOptimizer",
    # notebook 04
    "batchnorm_forward",
    "batchnorm_backward",
    "batchnorm_backward_alt",
    "spatial_batchnorm_forward",
    "spatial_batchnorm_backward",
    "layernorm_forward",
    "layernorm_backward",
    "spatial_groupnorm_forward",
    "spatial_groupnorm_backward",
    "kaiming_normal",
    # notebook 05 (its models come from architectures, below)
    "layer_table",
    "layer_macs",
    # nn.Module layers on the twins
    "Conv2d",
    "ReLU",
    "MaxPool",
    "AvgPool",
    "Dropout",
    "Flatten",
    "Affine",
    "small_cnn",
]
__all__ += [*_architectures.__all__, *_detection.__all__, *_evaluation.__all__]
