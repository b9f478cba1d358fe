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


def count_parameters_weights_only(model):
    return sum(p.numel() for p in model.parameters() if p.dim() > 1)


def count_parameters_shared_twice(model):
    return sum(p.numel() for _, p in model.named_parameters(remove_duplicate=False))


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


class LeNet5AvgPool(ref.LeNet5):
    def __init__(self, num_classes=10, in_channels=1):
        super().__init__(num_classes, in_channels)
        self.pool = nn.AvgPool2d(2, stride=2)


class LeNet5ReluAtTheEnd(ref.LeNet5):
    def forward(self, x):
        return torch.relu(super().forward(x))


class LeNet5PoolTooLarge(ref.LeNet5):
    """4x4 pools: 28 -> 7 -> (conv2) 3, which the second pool cannot cover."""

    def __init__(self, num_classes=10, in_channels=1):
        super().__init__(num_classes, in_channels)
        self.pool = nn.MaxPool2d(4, stride=4)


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


class VGGOtherConfig(ref.VGG):
    """Configuration D, whatever configuration is asked for."""

    def __init__(self, config="D", num_classes=1000, batch_norm=False):
        super().__init__("D", num_classes, batch_norm)


class VGGNoBatchNorm(ref.VGG):
    """batch_norm=True is ignored."""

    def __init__(self, config="D", num_classes=1000, batch_norm=False):
        super().__init__(config, num_classes, False)


class InceptionModulePoolFirst(ref.InceptionModule):
    def forward(self, x):
        branches = [self.branch4(x), self.branch1(x), self.branch2(x), self.branch3(x)]
        return torch.cat(branches, dim=1)


class InceptionModuleTrueFiveByFive(ref.InceptionModule):
    def __init__(self, in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj):
        super().__init__(in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj)
        self.branch3[1] = ref._conv_bn(ch5x5red, ch5x5, kernel_size=5, padding=2)


def _with_biases(module):
    """Every conv of ``module`` gets a bias (as nn.Conv2d's default bias=True would)."""
    for conv in list(module.modules()):
        if isinstance(conv, nn.Conv2d):
            conv.bias = nn.Parameter(torch.zeros(conv.out_channels))
    return module


def _without_batch_norm(module):
    """Every batch norm of ``module`` is gone (conv -> ReLU)."""
    for parent in list(module.modules()):
        for name, child in parent.named_children():
            if isinstance(child, nn.BatchNorm2d):
                setattr(parent, name, nn.Identity())
    return module


class InceptionModuleWithBiases(ref.InceptionModule):
    def __init__(self, in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj):
        super().__init__(in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj)
        _with_biases(self)


class InceptionModuleNoBatchNorm(ref.InceptionModule):
    def __init__(self, in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj):
        super().__init__(in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj)
        _without_batch_norm(self)


class InceptionModuleNoPadding(ref.InceptionModule):
    """The 3x3 conv of the 3x3 branch has no padding: its maps shrink by 2."""

    def __init__(self, in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj):
        super().__init__(in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj)
        self.branch2[1][0].padding = (0, 0)


class GoogLeNetFloorPools(ref.GoogLeNet):
    """The stride-2 max pools round down (ceil_mode=False): 112 -> 55 instead of 56."""

    def __init__(self, num_classes=1000, aux_logits=False):
        super().__init__(num_classes, aux_logits)
        for module in self.modules():
            if isinstance(module, nn.MaxPool2d) and module.stride == 2:
                module.ceil_mode = False


class GoogLeNetTrueFiveByFive(ref.GoogLeNet):
    """Every inception module's "5x5" branch has a real 5x5 conv."""

    def __init__(self, num_classes=1000, aux_logits=False):
        super().__init__(num_classes, aux_logits)
        for module in self.modules():
            if isinstance(module, ref.InceptionModule):
                old = module.branch3[1][0]
                module.branch3[1] = ref._conv_bn(
                    old.in_channels, old.out_channels, kernel_size=5, padding=2
                )


class GoogLeNetWithBiases(ref.GoogLeNet):
    def __init__(self, num_classes=1000, aux_logits=False):
        super().__init__(num_classes, aux_logits)
        _with_biases(self)


class GoogLeNetNoBatchNorm(ref.GoogLeNet):
    """The inception modules' convs lack their batch norm."""

    def __init__(self, num_classes=1000, aux_logits=False):
        super().__init__(num_classes, aux_logits)
        for module in self.modules():
            if isinstance(module, ref.InceptionModule):
                _without_batch_norm(module)


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


class BasicBlockNoFinalRelu(ref.BasicBlock):
    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        return self.bn2(self.conv2(out)) + self.shortcut(x)


class BasicBlockWithBiases(ref.BasicBlock):
    def __init__(self, in_channels, channels, stride=1):
        super().__init__(in_channels, channels, stride)
        _with_biases(self)


class BasicBlockStrideOnSecondConv(ref.BasicBlock):
    """The stride sits on the second 3x3 conv, not on the first."""

    def __init__(self, in_channels, channels, stride=1):
        super().__init__(in_channels, channels, stride)
        self.conv1.stride, self.conv2.stride = (1, 1), (stride, stride)


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


class BottleneckNoProjection(ref.Bottleneck):
    def __init__(self, in_channels, channels, stride=1):
        super().__init__(in_channels, channels, stride)
        self.shortcut = nn.Identity()


class BottleneckProjectionWithoutBN(ref.Bottleneck):
    def __init__(self, in_channels, channels, stride=1):
        super().__init__(in_channels, channels, stride)
        if not isinstance(self.shortcut, nn.Identity):
            self.shortcut = self.shortcut[0]


class BottleneckReluBeforeAdd(ref.Bottleneck):
    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        out = torch.relu(self.bn2(self.conv2(out)))
        return torch.relu(torch.relu(self.bn3(self.conv3(out))) + self.shortcut(x))


class BottleneckNoFinalRelu(ref.Bottleneck):
    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        out = torch.relu(self.bn2(self.conv2(out)))
        return self.bn3(self.conv3(out)) + self.shortcut(x)


class ResNetNoStemPool(ref.ResNet):
    """The stem's 3x3/2 max pool is missing."""

    def __init__(self, block, layers, num_classes=1000):
        super().__init__(block, layers, num_classes)
        self.stem = self.stem[:3]
