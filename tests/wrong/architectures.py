"""Deliberately wrong versions of notebook 05's models, one per common mistake.

Each must FAIL its check, and the check's message must name the mistake
(tests/unit/test_checks_architectures.py).
"""

import torch
from torch import nn

from course_utils.reference import architectures as ref


def count_parameters_with_buffers(model):
    return sum(t.numel() for t in model.state_dict().values())


def count_parameters_trainable_only(model):
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def count_parameters_counts_tensors(model):
    return len(list(model.parameters()))


class LeNet5Tanh(ref.LeNet5):
    def forward(self, x):
        x = self.pool(torch.tanh(self.conv1(x)))
        x = self.pool(torch.tanh(self.conv2(x)))
        x = torch.tanh(self.fc2(torch.tanh(self.fc1(torch.flatten(x, 1)))))
        return self.fc3(x)


class LeNet5NoPadding(ref.LeNet5):
    def __init__(self, num_classes=10, in_channels=1):
        super().__init__(num_classes, in_channels)
        self.conv1 = nn.Conv2d(in_channels, 6, kernel_size=5)


class AlexNetPaperWidths(ref.AlexNet):
    def __init__(self, num_classes=1000):
        super().__init__(num_classes)
        widths = iter((96, 256, 384, 384, 256))
        previous = 3
        for index, layer in enumerate(self.features):
            if isinstance(layer, nn.Conv2d):
                out = next(widths)
                self.features[index] = nn.Conv2d(
                    previous, out, layer.kernel_size, layer.stride, layer.padding
                )
                previous = out
        self.classifier[1] = nn.Linear(256 * 6 * 6, 4096)


class VGGMissingPool(ref.VGG):
    """The max pool after stage 4 is missing (adaptive pooling hides it in the output)."""

    def __init__(self, config="D", num_classes=1000, batch_norm=False):
        super().__init__(config, num_classes, batch_norm)
        pools = [i for i, m in enumerate(self.features) if isinstance(m, nn.MaxPool2d)]
        del self.features[pools[3]]


class VGGConfigCWithThreeByThree(ref.VGG):
    """Configuration C built with 3x3 convs where the paper has 1x1 (that is D)."""

    def __init__(self, config="D", num_classes=1000, batch_norm=False):
        super().__init__("D" if config == "C" else config, num_classes, batch_norm)


class InceptionModulePoolFirst(ref.InceptionModule):
    def forward(self, x):
        branches = [self.branch4(x), self.branch1(x), self.branch2(x), self.branch3(x)]
        return torch.cat(branches, dim=1)


class InceptionModuleTrueFiveByFive(ref.InceptionModule):
    def __init__(self, in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj):
        super().__init__(in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj)
        self.branch3[1] = ref._conv_bn(ch5x5red, ch5x5, kernel_size=5, padding=2)


class GoogLeNetFloorPools(ref.GoogLeNet):
    """The stride-2 max pools round down (ceil_mode=False): 112 -> 55 instead of 56."""

    def __init__(self, num_classes=1000, aux_logits=False):
        super().__init__(num_classes, aux_logits)
        for module in self.modules():
            if isinstance(module, nn.MaxPool2d) and module.stride == 2:
                module.ceil_mode = False


class BasicBlockNoProjection(ref.BasicBlock):
    """The shortcut is the identity even when the stride or the channels change."""

    def __init__(self, in_channels, channels, stride=1):
        super().__init__(in_channels, channels, stride)
        self.shortcut = nn.Identity()


class BasicBlockProjectionWithoutBN(ref.BasicBlock):
    def __init__(self, in_channels, channels, stride=1):
        super().__init__(in_channels, channels, stride)
        if not isinstance(self.shortcut, nn.Identity):
            self.shortcut = self.shortcut[0]


class BasicBlockReluBeforeAdd(ref.BasicBlock):
    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        out = torch.relu(self.bn2(self.conv2(out)))
        return out + self.shortcut(x)


class BottleneckStrideOnFirstConv(ref.Bottleneck):
    """The stride sits on the first 1x1 conv (the paper's ResNet v1), not on the 3x3."""

    def __init__(self, in_channels, channels, stride=1):
        super().__init__(in_channels, channels, stride)
        self.conv1.stride, self.conv2.stride = (stride, stride), (1, 1)


class BottleneckWithBiases(ref.Bottleneck):
    def __init__(self, in_channels, channels, stride=1):
        super().__init__(in_channels, channels, stride)
        for name in ("conv1", "conv2", "conv3"):
            old = getattr(self, name)
            setattr(
                self,
                name,
                nn.Conv2d(
                    old.in_channels, old.out_channels, old.kernel_size, old.stride, old.padding
                ),
            )


class ResNetNoStemPool(ref.ResNet):
    """The stem's 3x3/2 max pool is missing."""

    def __init__(self, block, layers, num_classes=1000):
        super().__init__(block, layers, num_classes)
        self.stem = self.stem[:3]
