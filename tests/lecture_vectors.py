"""Every worked example of the lectures, as data (source: /work/shared/SEED_CONCEPTS.md).

Arrays are NumPy float64 in the contract's layout: x (N, C, H, W), w (F, C, HH, WW), b (F,).
Tests and checks import these; each value's source is in the comment beside it. Nothing here
was produced by the code it tests: every number was read off a lecture slide or derived by hand.
"""

from __future__ import annotations

import numpy as np


def _array(values) -> np.ndarray:
    return np.array(values, dtype=np.float64)


# ---------------------------------------------------------------------------------------------
# Section 1: convolution arithmetic (notebook 01)
# ---------------------------------------------------------------------------------------------

# SEED_CONCEPTS.md section 1: "7x7 input, 3x3 filter: stride 1 -> 5, stride 2 -> 3, stride 3 ->
# 2.33 doesn't fit", and "W=10, P=0, F=3, S=2 -> 4.5: invalid".
# (W, F, S, P, expected output size, or the text the ValueError must show when it does not fit)
OUTPUT_SIZE_EXAMPLES = [
    (7, 3, 1, 0, 5),
    (7, 3, 2, 0, 3),
]
OUTPUT_SIZE_MISFITS = [
    (7, 3, 3, 0, "2.33"),
    (10, 3, 2, 0, "4.5"),
]

# SEED_CONCEPTS.md section 1: "Padding (F-1)/2 keeps the size for F = 3, 5, 7 (P = 1, 2, 3)".
SAME_PADDING = {3: 1, 5: 2, 7: 3}
# SEED_CONCEPTS.md section 1: FULL pads F - 1 per side and gives an output of H_i + F - 1
# (not the deck's H_i + 2(F - 1)); SAME pads floor(F/2) per side (not the deck's ceil(F/2)).
FULL_PADDING = {3: 2, 5: 4, 7: 6}

# SEED_CONCEPTS.md section 1: 32x32x3 input, 10 filters 5x5, stride 1, pad 2 -> 32x32x10 and
# 10 * (5*5*3 + 1) = 760 parameters.
PARAMS_CIFAR_CONV = {
    "input": (32, 32, 3),
    "filters": 10,
    "f": 5,
    "stride": 1,
    "pad": 2,
    "output": (32, 32, 10),
    "params": 760,
}
# SEED_CONCEPTS.md section 1: a 5x5 receptive field on 32x32x3 -> 75 weights + 1 bias;
# 3x3 on 16x16x20 -> 180 connections.
NEURON_5X5_ON_3_CHANNELS = {"c_in": 3, "f": 5, "weights": 75, "bias": 1}
NEURON_3X3_ON_20_CHANNELS = {"c_in": 20, "f": 3, "connections": 180}

# SEED_CONCEPTS.md section 1: AlexNet conv1.
ALEXNET_CONV1 = {
    "input": (227, 227, 3),
    "f": 11,
    "stride": 4,
    "pad": 0,
    "filters": 96,
    "output": (55, 55, 96),
    "neurons": 290_400,  # 55 * 55 * 96
    "params_unshared": 105_705_600,  # 290,400 * (11*11*3 + 1)
    "weights_shared": 34_848,  # 96 * 11*11*3
    "params_shared": 34_944,  # 34,848 weights + 96 biases
    "fc_inputs": 150_528,  # a 224x224x3 input, flattened
    "fc_weights": 150_528 * 290_400,  # ~43.7e9
}

# SEED_CONCEPTS.md section 1: locally connected vs shared, 30x30x3 input, 7x7x3 filters,
# stride 1, depth 5.
LOCALLY_CONNECTED = {
    "input": (30, 30, 3),
    "f": 7,
    "depth": 5,
    "positions": (24, 24),
    "weights_shared": 735,  # 5 * 7*7*3
    "weights_local_depth1": 84_672,  # 24*24*147, the deck's "85k"
    "weights_local": 423_360,  # 24*24*5*147
    "weights_local_256": 250 * 250 * 5 * 147,  # a 256x256 input, ~46e6
}

# SEED_CONCEPTS.md section 1: three stacked 3x3 convs see 7x7 with 27C^2 weights instead of
# 49C^2 for one 7x7 conv (C channels in and out, no bias).
STACKED_3X3 = {
    "layers": [(3, 1), (3, 1), (3, 1)],
    "receptive_field": 7,
    "weights_per_c_squared_stacked": 27,
    "weights_per_c_squared_single": 49,
}

# SEED_CONCEPTS.md section 1: true convolution (kernel flipped), valid mode.
TRUE_CONVOLUTION_VECTOR = {
    "x": _array([[0, 80, 40], [20, 40, 0], [0, 0, 40]]),
    "k": _array([[0, 0.25], [0.5, 1]]),
    "out": _array([[45, 110], [40, 40]]),
}

# ---------------------------------------------------------------------------------------------
# Section 2: layers (notebook 02)
# ---------------------------------------------------------------------------------------------

# SEED_CONCEPTS.md section 2, vector A (deck 1, "Convolutional Networks" slide): one output
# value, pad 1, stride 1, bias 1. The deck shows the top-left 5x5 corner of a larger RGB image
# (with its zero padding); x is that 5x5 corner, so the padded top-left 3x3 windows are
# R [[0,0,0],[0,156,155],[0,153,154]], G [[0,0,0],[0,167,166],[0,164,165]],
# B [[0,0,0],[0,163,162],[0,160,161]]. Only out[0, 0, 0, 0] is given by the lecture:
# per-channel sums 308, -498, 164, plus bias 1 -> -25. The other pixels of x do not touch it.
CONV_VECTOR_A = {
    "x": _array(
        [
            [
                [  # R
                    [156, 155, 156, 158, 158],
                    [153, 154, 157, 159, 159],
                    [149, 151, 155, 158, 159],
                    [146, 146, 149, 153, 158],
                    [145, 143, 143, 148, 158],
                ],
                [  # G
                    [167, 166, 167, 169, 169],
                    [164, 165, 168, 170, 170],
                    [160, 162, 166, 169, 170],
                    [156, 156, 159, 163, 168],
                    [155, 153, 153, 158, 168],
                ],
                [  # B
                    [163, 162, 163, 165, 165],
                    [160, 161, 164, 166, 166],
                    [156, 158, 162, 165, 166],
                    [155, 155, 158, 162, 167],
                    [154, 152, 152, 157, 167],
                ],
            ]
        ]
    ),  # (1, 3, 5, 5)
    "w": _array(
        [
            [
                [[-1, -1, 1], [0, 1, -1], [0, 1, 1]],  # K_R
                [[1, 0, 0], [1, -1, -1], [1, 0, -1]],  # K_G
                [[0, 1, 1], [0, 1, 0], [1, -1, 1]],  # K_B
            ]
        ]
    ),  # (1, 3, 3, 3)
    "b": _array([1]),  # (1,)
    "conv_param": {"stride": 1, "pad": 1},
    "out_shape": (1, 1, 5, 5),
    "out_index": (0, 0, 0, 0),  # the one output value the lecture gives
    "out_value": -25.0,
    "channel_sums": (308.0, -498.0, 164.0),  # R, G, B contributions to out[0, 0, 0, 0]
}

# SEED_CONCEPTS.md section 2, vector B: input 3x5x5, two 3x3x3 filters, pad 1, stride 2 -> 3x3x2.
CONV_VECTOR_B = {
    "x": _array(
        [
            [
                [
                    [2, 1, 1, 2, 1],
                    [1, 1, 0, 0, 0],
                    [1, 1, 1, 0, 0],
                    [1, 2, 2, 2, 2],
                    [0, 2, 1, 1, 1],
                ],
                [
                    [1, 0, 0, 2, 2],
                    [2, 1, 1, 1, 2],
                    [2, 1, 0, 1, 1],
                    [0, 0, 0, 2, 2],
                    [2, 1, 0, 0, 0],
                ],
                [
                    [1, 1, 1, 0, 2],
                    [2, 1, 0, 0, 1],
                    [1, 2, 1, 1, 2],
                    [0, 0, 2, 2, 1],
                    [2, 1, 2, 0, 2],
                ],
            ]
        ]
    ),  # (1, 3, 5, 5)
    "w": _array(
        [
            [  # w0
                [[0, -1, 0], [1, 0, 1], [0, 0, 1]],
                [[1, 0, 0], [0, -1, -1], [0, -1, 0]],
                [[1, 1, 1], [0, 1, -1], [-1, 1, 0]],
            ],
            [  # w1
                [[0, 1, -1], [-1, 1, 1], [-1, 1, 1]],
                [[1, -1, 1], [-1, 0, -1], [1, 0, 0]],
                [[-1, -1, 1], [0, 0, 1], [-1, 1, 1]],
            ],
        ]
    ),  # (2, 3, 3, 3)
    "b": _array([1, 0]),  # (2,)
    "conv_param": {"stride": 2, "pad": 1},
    "out": _array(
        [
            [
                [[2, 1, 2], [2, 7, 1], [0, 8, 7]],  # out0
                [[9, -1, -1], [4, 5, -2], [1, 1, -1]],  # out1
            ]
        ]
    ),  # (1, 2, 3, 3)
}

# SEED_CONCEPTS.md section 2, vector C: same shapes as B, pad 1, stride 2.
CONV_VECTOR_C = {
    "x": _array(
        [
            [
                [
                    [1, 2, 0, 0, 1],
                    [2, 2, 0, 1, 0],
                    [2, 2, 1, 2, 1],
                    [0, 1, 1, 0, 2],
                    [2, 1, 0, 2, 1],
                ],
                [
                    [0, 2, 0, 0, 1],
                    [1, 1, 0, 2, 2],
                    [0, 1, 1, 0, 2],
                    [1, 2, 0, 2, 0],
                    [0, 2, 0, 1, 0],
                ],
                [
                    [2, 2, 1, 0, 0],
                    [2, 1, 0, 0, 1],
                    [0, 2, 2, 2, 1],
                    [1, 2, 1, 0, 2],
                    [2, 1, 1, 1, 1],
                ],
            ]
        ]
    ),  # (1, 3, 5, 5)
    "w": _array(
        [
            [  # w0
                [[1, -1, -1], [-1, 0, 0], [-1, -1, 0]],
                [[-1, 0, 1], [-1, 0, 0], [-1, -1, -1]],
                [[-1, -1, 1], [0, 0, 0], [1, -1, -1]],
            ],
            [  # w1
                [[0, 0, 1], [1, 1, 0], [0, 0, 0]],
                [[1, 0, 0], [1, -1, 1], [-1, 0, 0]],
                [[-1, 1, 0], [0, -1, 1], [1, 0, -1]],
            ],
        ]
    ),  # (2, 3, 3, 3)
    "b": _array([1, 0]),  # (2,)
    "conv_param": {"stride": 2, "pad": 1},
    "out": _array(
        [
            [
                [[-6, -7, -5], [-9, -6, -9], [3, -5, -8]],  # out0
                [[2, 3, -2], [7, 4, 1], [5, 5, 7]],  # out1
            ]
        ]
    ),  # (1, 2, 3, 3)
}

# SEED_CONCEPTS.md section 2: stride examples on a 4x4 input: F=2 S=1 -> 3x3, F=2 S=2 -> 2x2,
# F=3 S=2 does not fit ((4 - 3) / 2 + 1 = 1.5).
STRIDE_INPUT_4X4 = _array(
    [[23, -12, 16, 90], [12, 32, 12, 45], [-1, 7, 8, 9], [-2, -12, 14, 56]]
)  # (4, 4)
STRIDE_EXAMPLES = [
    # (F, S, output size H_out = W_out)
    (2, 1, 3),
    (2, 2, 2),
]
STRIDE_MISFIT = (3, 2, "1.5")  # (F, S, the non-integer output size the error shows)

# SEED_CONCEPTS.md section 2: max pool 3x3, stride 1, on a 5x5 input -> 3x3.
MAX_POOL_VECTOR = {
    "x": _array(
        [[[[3, 3, 2, 1, 0], [0, 0, 1, 3, 1], [3, 1, 2, 2, 3], [2, 0, 0, 2, 2], [2, 0, 0, 0, 1]]]]
    ),  # (1, 1, 5, 5)
    "pool_param": {"pool_height": 3, "pool_width": 3, "stride": 1},
    "out": _array([[[[3, 3, 3], [3, 3, 3], [3, 2, 3]]]]),  # (1, 1, 3, 3)
}

# SEED_CONCEPTS.md section 2: logits from the deck. A naive softmax overflows in float32
# (exp(437.9) > float32 max ~3.4e38, exp(88.7) is already infinite) but not in float64
# (limit about exp(709)); SOFTMAX_OVERFLOW_SCALE pushes the largest logit past 709 so that
# float64 overflows too.
SOFTMAX_STABILITY_LOGITS = _array([-100.4, 437.9, 60.75])  # (3,)
SOFTMAX_OVERFLOW_SCALE = 2.0  # 2 * 437.9 = 875.8 > 709
FLOAT32_EXP_LIMIT = 88.72  # log(float32 max)
FLOAT64_EXP_LIMIT = 709.78  # log(float64 max)
BCE_STABILITY_LOGIT = 437.9  # SEED_CONCEPTS.md section 2: BCE on this logit must stay finite
