"""The classic architectures of notebook 05 as ``torch.nn.Module``s, layer for layer.

Every ImageNet model follows torchvision's layout (so its parameter count is the well-known
figure, and torchvision's pretrained weights would load by position) and ends in adaptive
average pooling, so it takes 224x224 inputs and smaller ones down to what its pooling stages
allow: VGG, GoogLeNet and ResNet take 32x32, AlexNet needs at least 63x63.

| model | parameters | source of the figure |
|---|---|---|
| ``LeNet5()`` | 61,706 (conv1: 156) | 6*5*5+6 = 156, the lecture |
| ``AlexNet()`` | 61,100,840 | torchvision ``alexnet`` |
| ``VGG("A")`` ... ``VGG("E")`` | 132,863,336 / 133,047,848 / 133,638,952 / 138,357,544 / 143,667,240 | torchvision ``vgg11`` / ``vgg13`` / -- / ``vgg16`` / ``vgg19`` |
| ``GoogLeNet()`` | 6,624,904 (13,004,888 with ``aux_logits=True``) | torchvision ``googlenet`` |
| ``resnet18/34/50()`` | 11,689,512 / 21,797,672 / 25,557,032 | torchvision |
| ``resnet_cifar(depth)``, option A | 269,722 / 464,154 / 658,586 / 853,018 / 1,727,962 for depth 20 / 32 / 44 / 56 / 110 | the paper's section 4.2 |

VGG's features come from ``make_vgg_layers(cfg)``, module for module as torchvision's
``make_layers``, so torchvision's VGG state dicts load by key. ``BasicBlock`` takes the
paper's shortcut option A (``ZeroPadShortcut``: subsampled identity, zero-padded channels, no
parameters) or B (projection, the default). Inputs are images (N, C, H, W); every model
returns class scores (N, num_classes). Beside the exact models, small variants for 28x28
Fashion-MNIST that really train on a CPU: ``resnet_cifar`` and its plain twin ``plain_cifar``
at any width, ``small_vgg``, ``small_resnet`` and ``degradation_net`` (plain or residual nets
of any depth, with or without batch norm).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = [
    "count_parameters",
    "LeNet5",
    "AlexNet",
    "ZFNet",
    "VGG_CONFIGS",
    "make_vgg_layers",
    "VGG",
    "InceptionModule",
    "GoogLeNet",
    "ZeroPadShortcut",
    "BasicBlock",
    "Bottleneck",
    "ResNet",
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet_cifar",
    "plain_cifar",
    "small_vgg",
    "small_resnet",
    "degradation_net",
]


def count_parameters(model: nn.Module) -> int:
    """Total number of parameters of ``model``: trainable or frozen, each shared tensor once.

    Buffers (batch-norm running statistics) are state, not parameters, and are not counted;
    ``model.parameters()`` already yields a tensor shared by two layers only once.
    """
    return sum(p.numel() for p in model.parameters())


# --- LeNet-5 ------------------------------------------------------------------------------------


class LeNet5(nn.Module):
    """LeNet-5 with ReLU and max pooling: (N, in_channels, 28, 28) -> scores (N, num_classes).

    The 1998 network reads 32x32 images with an unpadded first conv. Fashion-MNIST and MNIST
    images are 28x28, so conv1 pads them by 2 on each side instead: the shapes from there on
    are exactly LeNet-5's (28 -> 14 -> 10 -> 5). So the model takes 28x28 inputs; a 32x32
    input would reach fc1 with 16 * 6 * 6 features instead of 16 * 5 * 5 and be refused.

        conv1 5x5, 6, pad 2 -> ReLU -> maxpool 2/2     (N, 6, 28, 28) -> (N, 6, 14, 14)
        conv2 5x5, 16       -> ReLU -> maxpool 2/2     (N, 16, 10, 10) -> (N, 16, 5, 5)
        flatten -> fc 400->120 -> ReLU -> fc 120->84 -> ReLU -> fc 84->num_classes

    conv1 has 6 * 5 * 5 + 6 = 156 parameters (one grey channel); 61,706 in all.
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 6, kernel_size=5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, kernel_size=5)
        self.pool = nn.MaxPool2d(2, stride=2)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(torch.relu(self.conv1(x)))  # (N, 6, 14, 14)
        x = self.pool(torch.relu(self.conv2(x)))  # (N, 16, 5, 5)
        x = torch.flatten(x, 1)  # (N, 400)
        x = torch.relu(self.fc1(x))
        x = torch.relu(self.fc2(x))
        return self.fc3(x)


# --- AlexNet and ZFNet --------------------------------------------------------------------------


def _alexnet_classifier(num_classes: int) -> nn.Sequential:
    """The fully connected head AlexNet and ZFNet share: (N, 256*6*6) -> (N, num_classes)."""
    return nn.Sequential(
        nn.Dropout(p=0.5),
        nn.Linear(256 * 6 * 6, 4096),
        nn.ReLU(inplace=True),
        nn.Dropout(p=0.5),
        nn.Linear(4096, 4096),
        nn.ReLU(inplace=True),
        nn.Linear(4096, num_classes),
    )


class AlexNet(nn.Module):
    """AlexNet in torchvision's one-tower variant: (N, 3, H, W), H, W >= 63 -> (N, num_classes).

    Channels 64, 192, 384, 256, 256 (the paper's two GPU towers had 96, 256, 384, 384, 256,
    three of the layers split in two groups), ReLU after every conv and hidden fc, max pool
    3/2 after conv1, conv2 and conv5, adaptive average pooling to 6x6, and dropout 0.5 before
    the first two fc layers. 61,100,840 parameters for 1000 classes.

        conv 11x11/4 pad 2: 64 -> pool | conv 5x5 pad 2: 192 -> pool | conv 3x3 pad 1: 384,
        256, 256 -> pool | avgpool 6x6 | dropout, fc 9216->4096 | dropout, fc 4096->4096 | fc
    """

    def __init__(self, num_classes: int = 1000):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2),  # 224 -> 55
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),  # 55 -> 27
            nn.Conv2d(64, 192, kernel_size=5, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),  # 27 -> 13
            nn.Conv2d(192, 384, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),  # 13 -> 6
        )
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = _alexnet_classifier(num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.avgpool(self.features(x))  # (N, 256, 6, 6)
        return self.classifier(torch.flatten(x, 1))


class ZFNet(nn.Module):
    """ZFNet (Zeiler and Fergus, 2013): AlexNet with a gentler first layer. (N, 3, 224, 224).

    96 filters 7x7 stride 2 (AlexNet: 11x11 stride 4), so the first layer keeps finer detail;
    3x3 max pool stride 2 and local contrast normalisation after conv1 and conv2; then 256
    5x5 stride 2, 384, 384 and 256 3x3; fc 4096, 4096, num_classes. Shapes at 224x224:
    110 -> 55 -> 26 -> 13 -> 13 -> 13 -> 6, as in the paper's figure.
    """

    def __init__(self, num_classes: int = 1000):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 96, kernel_size=7, stride=2, padding=1),  # 224 -> 110
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1),  # 110 -> 55
            nn.LocalResponseNorm(5),
            nn.Conv2d(96, 256, kernel_size=5, stride=2),  # 55 -> 26
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1),  # 26 -> 13
            nn.LocalResponseNorm(5),
            nn.Conv2d(256, 384, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 384, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),  # 13 -> 6
        )
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = _alexnet_classifier(num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.avgpool(self.features(x))  # (N, 256, 6, 6)
        return self.classifier(torch.flatten(x, 1))


# --- VGG --------------------------------------------------------------------------------------

#: The paper's Table 1, one list per configuration, in ``make_vgg_layers``'s language: an int
#: is a 3x3 conv with that many channels (padding 1), ``(1, n)`` a 1x1 conv with n channels
#: (configuration C), ``"M"`` a 2x2 max pool with stride 2, ``"LRN"`` local response
#: normalisation (A-LRN). A, B, D and E are torchvision's ``cfgs`` "A", "B", "D", "E".
# fmt: off
VGG_CONFIGS: dict[str, list] = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "A-LRN": [64, "LRN", "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "C": [64, 64, "M", 128, 128, "M", 256, 256, (1, 256), "M", 512, 512, (1, 512), "M",
          512, 512, (1, 512), "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
          512, 512, 512, "M"],
    "E": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
          512, 512, 512, 512, "M"],
}
# fmt: on


def make_vgg_layers(cfg: list, in_channels: int = 3, batch_norm: bool = False) -> nn.Sequential:
    """VGG's feature extractor from a configuration, module for module as torchvision builds it.

    Each item of ``cfg`` adds modules to one ``nn.Sequential``, in this order:

        int n        Conv2d(channels, n, 3, padding=1) [-> BatchNorm2d(n)] -> ReLU(inplace=True)
        "M"          MaxPool2d(kernel_size=2, stride=2)
        (k, n)       Conv2d(channels, n, k, padding=k // 2) [-> BatchNorm2d(n)] -> ReLU
                     (configuration C's 1x1 convs; not in torchvision)
        "LRN"        LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0) (A-LRN; not in torchvision)

    where ``channels`` starts at ``in_channels`` and becomes each conv's n; the batch norm is
    there only with ``batch_norm``. For torchvision's configurations the modules, and so the
    state-dict keys (``0.weight``, ``0.bias``, ``1.running_mean`` ...), are exactly those of
    ``torchvision.models.vgg.make_layers``, so its weights load by key. (N, in_channels, H, W)
    -> (N, last n, H / 2^pools, W / 2^pools).
    """
    layers: list[nn.Module] = []
    channels = in_channels
    for item in cfg:
        if item == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            continue
        if item == "LRN":
            layers.append(nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0))
            continue
        if isinstance(item, int) and not isinstance(item, bool):
            kernel, out = 3, item
        elif isinstance(item, tuple) and len(item) == 2 and all(type(v) is int for v in item):
            kernel, out = item
        else:
            raise ValueError(
                f"each item of cfg must be an int (a 3x3 conv's channels), (kernel, channels), "
                f'"M" or "LRN"; got {item!r} in {cfg!r}.'
            )
        layers.append(nn.Conv2d(channels, out, kernel_size=kernel, padding=kernel // 2))
        if batch_norm:
            layers.append(nn.BatchNorm2d(out))
        layers.append(nn.ReLU(inplace=True))
        channels = out
    return nn.Sequential(*layers)


class VGG(nn.Module):
    """VGG (Simonyan and Zisserman, 2014), configurations "A" to "E" of the paper's Table 1.

    (N, 3, H, W), H, W >= 32 -> scores (N, num_classes). Five stages of convolutions, each
    followed by a 2x2 max pool with stride 2 (224 -> 7; 32 -> 1); every conv is 3x3 with
    padding 1 (C also has a 1x1 conv at the end of stages 3, 4 and 5), followed by ReLU, or
    by batch norm and ReLU when ``batch_norm``; adaptive average pooling to 7x7; then fc
    25088->4096, ReLU, dropout 0.5, fc 4096->4096, ReLU, dropout 0.5, fc 4096->num_classes
    (torchvision's layout). "A-LRN" (A with local response normalisation after conv1) is
    accepted as well. Configuration "D" is VGG-16 (138,357,544 parameters), "E" VGG-19.
    ``features`` is ``make_vgg_layers(VGG_CONFIGS[config], batch_norm=batch_norm)``, so the
    state dict has torchvision's keys (``features.0.weight`` ... ``classifier.6.bias``).
    """

    def __init__(self, config: str = "D", num_classes: int = 1000, batch_norm: bool = False):
        super().__init__()
        if config not in VGG_CONFIGS:
            raise ValueError(
                f"config must be one of {', '.join(repr(c) for c in VGG_CONFIGS)}, got {config!r}."
            )
        self.features = make_vgg_layers(VGG_CONFIGS[config], batch_norm=batch_norm)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096),
            nn.ReLU(inplace=True),
            nn.Dropout(p=0.5),
            nn.Linear(4096, 4096),
            nn.ReLU(inplace=True),
            nn.Dropout(p=0.5),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.avgpool(self.features(x))  # (N, 512, 7, 7)
        return self.classifier(torch.flatten(x, 1))


# --- GoogLeNet --------------------------------------------------------------------------------


def _conv_bn(in_channels: int, out_channels: int, **conv) -> nn.Sequential:
    """conv (no bias) -> batch norm (eps 0.001) -> ReLU: torchvision's ``BasicConv2d``."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, bias=False, **conv),
        nn.BatchNorm2d(out_channels, eps=0.001),
        nn.ReLU(inplace=True),
    )


class InceptionModule(nn.Module):
    """An inception module: four parallel branches, concatenated along the channels.

    x (N, in_channels, H, W) -> (N, ch1x1 + ch3x3 + ch5x5 + pool_proj, H, W), in this order:

        1. 1x1 conv, ch1x1
        2. 1x1 conv, ch3x3red (the reduction) -> 3x3 conv (pad 1), ch3x3
        3. 1x1 conv, ch5x5red -> "5x5" conv, ch5x5
        4. 3x3 max pool (stride 1, pad 1) -> 1x1 conv, pool_proj

    Every conv is torchvision's conv (no bias) -> batch norm (eps 0.001) -> ReLU. As in
    torchvision (which kept it for its pretrained weights), the "5x5" branch uses a 3x3 conv
    with padding 1: the paper's 5x5 would add 16 * ch5x5red * ch5x5 weights per module
    (GoogLeNet: 6,624,904 parameters this way).
    """

    def __init__(
        self,
        in_channels: int,
        ch1x1: int,
        ch3x3red: int,
        ch3x3: int,
        ch5x5red: int,
        ch5x5: int,
        pool_proj: int,
    ):
        super().__init__()
        self.branch1 = _conv_bn(in_channels, ch1x1, kernel_size=1)
        self.branch2 = nn.Sequential(
            _conv_bn(in_channels, ch3x3red, kernel_size=1),
            _conv_bn(ch3x3red, ch3x3, kernel_size=3, padding=1),
        )
        self.branch3 = nn.Sequential(
            _conv_bn(in_channels, ch5x5red, kernel_size=1),
            _conv_bn(ch5x5red, ch5x5, kernel_size=3, padding=1),
        )
        self.branch4 = nn.Sequential(
            nn.MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=True),
            _conv_bn(in_channels, pool_proj, kernel_size=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branches = [self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)]
        return torch.cat(branches, dim=1)  # (N, ch1x1 + ch3x3 + ch5x5 + pool_proj, H, W)


#: The paper's Table 1: (in, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj) per module.
GOOGLENET_INCEPTIONS: dict[str, tuple[int, ...]] = {
    "3a": (192, 64, 96, 128, 16, 32, 32),
    "3b": (256, 128, 128, 192, 32, 96, 64),
    "4a": (480, 192, 96, 208, 16, 48, 64),
    "4b": (512, 160, 112, 224, 24, 64, 64),
    "4c": (512, 128, 128, 256, 24, 64, 64),
    "4d": (512, 112, 144, 288, 32, 64, 64),
    "4e": (528, 256, 160, 320, 32, 128, 128),
    "5a": (832, 256, 160, 320, 32, 128, 128),
    "5b": (832, 384, 192, 384, 48, 128, 128),
}


class _InceptionAux(nn.Module):
    """An auxiliary classifier: avgpool to 4x4, 1x1 conv 128, fc 2048->1024, dropout 0.7, fc."""

    def __init__(self, in_channels: int, num_classes: int):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d((4, 4))
        self.conv = _conv_bn(in_channels, 128, kernel_size=1)
        self.fc1 = nn.Linear(128 * 4 * 4, 1024)
        self.dropout = nn.Dropout(p=0.7)
        self.fc2 = nn.Linear(1024, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.flatten(self.conv(self.pool(x)), 1)  # (N, 2048)
        return self.fc2(self.dropout(torch.relu(self.fc1(x))))


class GoogLeNet(nn.Module):
    """GoogLeNet (Szegedy et al., 2014) in torchvision's layout: (N, 3, H, W), H, W >= 32.

    22 layers with parameters: a stem (7x7/2 conv 64, 3x3/2 max pool, 1x1 conv 64, 3x3 conv
    192, 3x3/2 max pool), inception 3a, 3b, max pool, 4a to 4e, max pool 2/2, 5a, 5b, global
    average pooling, dropout 0.4 and fc 1024->num_classes. Every max pool between stages has
    ``ceil_mode=True`` (224 -> 112 -> 56 -> 28 -> 14 -> 7). Convs are conv -> batch norm ->
    ReLU, as in torchvision (the paper predates batch norm).

    6,624,904 parameters; with ``aux_logits=True`` two auxiliary classifiers after 4a and 4d
    add 6,379,984 (13,004,888 in all), and in training mode ``forward`` returns the tuple
    ``(scores, aux1, aux2)``; in eval mode only the scores (N, num_classes).
    """

    def __init__(self, num_classes: int = 1000, aux_logits: bool = False):
        super().__init__()
        self.aux_logits = aux_logits
        self.stem = nn.Sequential(
            _conv_bn(3, 64, kernel_size=7, stride=2, padding=3),  # 224 -> 112
            nn.MaxPool2d(3, stride=2, ceil_mode=True),  # 112 -> 56
            _conv_bn(64, 64, kernel_size=1),
            _conv_bn(64, 192, kernel_size=3, padding=1),
            nn.MaxPool2d(3, stride=2, ceil_mode=True),  # 56 -> 28
        )
        blocks = {name: InceptionModule(*spec) for name, spec in GOOGLENET_INCEPTIONS.items()}
        self.inception3 = nn.Sequential(blocks["3a"], blocks["3b"])
        self.pool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)  # 28 -> 14
        self.inception4a = blocks["4a"]
        self.inception4bcd = nn.Sequential(blocks["4b"], blocks["4c"], blocks["4d"])
        self.inception4e = blocks["4e"]
        self.pool4 = nn.MaxPool2d(2, stride=2, ceil_mode=True)  # 14 -> 7
        self.inception5 = nn.Sequential(blocks["5a"], blocks["5b"])
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(p=0.4)
        self.fc = nn.Linear(1024, num_classes)
        self.aux1 = _InceptionAux(512, num_classes) if aux_logits else None
        self.aux2 = _InceptionAux(528, num_classes) if aux_logits else None

    def forward(self, x: torch.Tensor):
        x = self.inception3(self.stem(x))  # (N, 480, 28, 28)
        x = self.inception4a(self.pool3(x))  # (N, 512, 14, 14)
        aux1 = self.aux1(x) if self.aux1 is not None and self.training else None
        x = self.inception4bcd(x)  # (N, 528, 14, 14)
        aux2 = self.aux2(x) if self.aux2 is not None and self.training else None
        x = self.inception5(self.pool4(self.inception4e(x)))  # (N, 1024, 7, 7)
        x = self.fc(self.dropout(torch.flatten(self.avgpool(x), 1)))
        if aux1 is not None:
            return x, aux1, aux2
        return x


# --- ResNet -------------------------------------------------------------------------------------


class ZeroPadShortcut(nn.Module):
    """ResNet's shortcut option A: the identity, subsampled and zero-padded; no parameters.

    x (N, in_channels, H, W) -> (N, out_channels, ceil(H / stride), ceil(W / stride)):
    ``x[:, :, ::stride, ::stride]`` (the even rows and columns when stride is 2, which are
    the positions a 3x3 conv with stride 2 and padding 1 centres on), then
    ``(out_channels - in_channels) // 2`` channels of zeros before and as many after, so the
    input's channels sit in the middle. He et al. (2015), section 4.2, option (A).
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int):
        super().__init__()
        extra = out_channels - in_channels
        if extra < 0 or extra % 2:
            raise ValueError(
                f"shortcut option A pads the channels equally on both sides, so out_channels - "
                f"in_channels must be even and not negative; got {out_channels} - {in_channels} "
                f'= {extra}. Use shortcut="B" (a projection) for this block.'
            )
        self.in_channels, self.out_channels, self.stride = in_channels, out_channels, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, :: self.stride, :: self.stride]  # (N, in_channels, H_out, W_out)
        side = (self.out_channels - self.in_channels) // 2
        return nn.functional.pad(x, (0, 0, 0, 0, side, side))  # (N, out_channels, ...)

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, stride={self.stride}"


SHORTCUTS = ("A", "B")


def _shortcut(in_channels: int, out_channels: int, stride: int, kind: str = "B") -> nn.Module:
    """Identity when the shape is kept; else option A (``ZeroPadShortcut``) or option B, the
    projection 1x1 conv (stride, no bias) + BN."""
    if kind not in SHORTCUTS:
        raise ValueError(
            f'shortcut must be "A" (zero-padded identity) or "B" (projection), got {kind!r}.'
        )
    if stride == 1 and in_channels == out_channels:
        return nn.Identity()
    if kind == "A":
        return ZeroPadShortcut(in_channels, out_channels, stride)
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride, bias=False),
        nn.BatchNorm2d(out_channels),
    )


class BasicBlock(nn.Module):
    """ResNet's basic block: out = ReLU(F(x) + shortcut(x)).

    x (N, in_channels, H, W) -> (N, channels, H / stride, W / stride), with
    F = conv3x3(stride) -> BN -> ReLU -> conv3x3 -> BN (convs without bias, padding 1), and
    the shortcut the identity when stride == 1 and in_channels == channels; else, with
    ``shortcut="B"`` (the default, torchvision's), the projection 1x1 conv (stride, no bias)
    -> BN, and with ``shortcut="A"`` (the paper's CIFAR nets) the parameter-free
    ``ZeroPadShortcut``. The ReLU comes after the addition.
    """

    expansion = 1

    def __init__(self, in_channels: int, channels: int, stride: int = 1, shortcut: str = "B"):
        super().__init__()
        out_channels = channels * self.expansion
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut = _shortcut(in_channels, out_channels, stride, shortcut)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + self.shortcut(x))


class Bottleneck(nn.Module):
    """ResNet's bottleneck block: out = ReLU(F(x) + shortcut(x)), 4x wider out than in the middle.

    x (N, in_channels, H, W) -> (N, 4 * channels, H / stride, W / stride), with
    F = conv1x1 (channels) -> BN -> ReLU -> conv3x3 (channels, stride, pad 1) -> BN -> ReLU
    -> conv1x1 (4 * channels) -> BN, convs without bias. The stride sits on the 3x3 conv, as
    in torchvision ("ResNet v1.5"; the paper put it on the first 1x1 conv). The shortcut is the
    identity when the shape is kept, else the projection 1x1 conv (stride) -> BN.
    """

    expansion = 4

    def __init__(self, in_channels: int, channels: int, stride: int = 1):
        super().__init__()
        out_channels = channels * self.expansion
        self.conv1 = nn.Conv2d(in_channels, channels, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.conv3 = nn.Conv2d(channels, out_channels, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.shortcut = _shortcut(in_channels, out_channels, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = torch.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return torch.relu(out + self.shortcut(x))


class ResNet(nn.Module):
    """ResNet (He et al., 2015) for ImageNet: (N, 3, H, W), H, W >= 32 -> (N, num_classes).

    Stem: 7x7/2 conv 64 (no bias) -> BN -> ReLU -> 3x3/2 max pool (pad 1); four stages of
    ``layers[i]`` blocks with 64, 128, 256, 512 channels (times ``block.expansion`` at the
    output), the first block of stages 2-4 with stride 2; global average pooling; fc
    (512 * expansion) -> num_classes. Spatial sizes at 224: 112, 56, 56, 28, 14, 7, 1.

    Args:
        block: ``BasicBlock`` or ``Bottleneck`` (a class with ``expansion`` and the
            constructor ``block(in_channels, channels, stride)``).
        layers: blocks per stage, e.g. [2, 2, 2, 2] for ResNet-18.
        num_classes: size of the output.
    """

    def __init__(self, block: type[nn.Module], layers: list[int], num_classes: int = 1000):
        super().__init__()
        if len(layers) != 4:
            raise ValueError(f"layers must list the blocks of 4 stages, got {list(layers)!r}.")
        self.stem = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False),
            nn.BatchNorm2d(64),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
        )
        stages, in_channels = [], 64
        for index, (channels, count) in enumerate(zip((64, 128, 256, 512), layers)):
            stride = 1 if index == 0 else 2
            blocks = []
            for b in range(count):
                blocks.append(block(in_channels, channels, stride if b == 0 else 1))
                in_channels = channels * block.expansion
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)  # (N, 64, H/4, W/4)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))  # (N, 512 * e, H/32, W/32)
        return self.fc(torch.flatten(self.avgpool(x), 1))


def resnet18(num_classes: int = 1000) -> ResNet:
    """ResNet-18: basic blocks [2, 2, 2, 2]; 11,689,512 parameters."""
    return ResNet(BasicBlock, [2, 2, 2, 2], num_classes=num_classes)


def resnet34(num_classes: int = 1000) -> ResNet:
    """ResNet-34: basic blocks [3, 4, 6, 3]; 21,797,672 parameters."""
    return ResNet(BasicBlock, [3, 4, 6, 3], num_classes=num_classes)


def resnet50(num_classes: int = 1000) -> ResNet:
    """ResNet-50: bottleneck blocks [3, 4, 6, 3]; 25,557,032 parameters."""
    return ResNet(Bottleneck, [3, 4, 6, 3], num_classes=num_classes)


# --- the CIFAR-10 ResNets of the paper's section 4.2 -------------------------------------------


def _cifar_depth(depth: int) -> int:
    """n for depth = 6n + 2 (n >= 1), or a ValueError that lists the valid depths."""
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 8 or (depth - 2) % 6:
        raise ValueError(
            f"depth must be 6n + 2 with n >= 1 (8, 14, 20, 32, 44, 56, 110, ...), got {depth!r}."
        )
    return (depth - 2) // 6


def resnet_cifar(
    depth: int = 20,
    num_classes: int = 10,
    shortcut: str = "A",
    in_channels: int = 3,
    width: int = 16,
) -> nn.Sequential:
    """The paper's CIFAR-10 ResNets (He et al., 2015, section 4.2): depth = 6n + 2 layers.

    (N, in_channels, H, W) -> scores (N, num_classes); the paper's images are 32x32
    (32 -> 16 -> 8), Fashion-MNIST's 28x28 work as well (28 -> 14 -> 7):

        3x3 conv (width, no bias) -> BN -> ReLU                  (N, width, H, W)
        n BasicBlocks, width channels, stride 1                   (N, width, H, W)
        n BasicBlocks, 2 width, the first with stride 2           (N, 2 width, H/2, W/2)
        n BasicBlocks, 4 width, the first with stride 2           (N, 4 width, H/4, W/4)
        global average pool -> flatten -> fc 4 width -> num_classes

    The two blocks that change the shape use ``shortcut`` ("A": ``ZeroPadShortcut``, the
    paper's choice for these nets; "B": projection); the others the identity. ``width`` is 16
    in the paper. Weights keep PyTorch's default initialisation. Parameters with option A and
    10 classes: depth 20: 269,722; 32: 464,154; 44: 658,586; 56: 853,018; 110: 1,727,962
    (the paper's "0.27M" ... "1.7M").
    """
    n = _cifar_depth(depth)
    layers: list[nn.Module] = [
        nn.Conv2d(in_channels, width, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(width),
        nn.ReLU(inplace=True),
    ]
    channels = width
    for stage, out in enumerate((width, 2 * width, 4 * width)):
        for b in range(n):
            stride = 2 if stage > 0 and b == 0 else 1
            layers.append(BasicBlock(channels, out, stride, shortcut=shortcut))
            channels = out
    layers += [nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(channels, num_classes)]
    return nn.Sequential(*layers)


class _PlainBlock(nn.Module):
    """A basic block without its shortcut: ReLU(BN(conv(ReLU(BN(conv(x))))))."""

    def __init__(self, in_channels: int, channels: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(out)))


def plain_cifar(
    depth: int = 20, num_classes: int = 10, in_channels: int = 3, width: int = 16
) -> nn.Sequential:
    """``resnet_cifar``'s plain twin: the same layers, in the same order, without shortcuts.

    Each block is conv3x3(stride) -> BN -> ReLU -> conv3x3 -> BN -> ReLU, so the net is the
    paper's "plain" network of the same depth (its Figure 6, left): (N, in_channels, H, W) ->
    (N, num_classes). With option A the two nets have the same parameters, one for one.
    """
    n = _cifar_depth(depth)
    layers: list[nn.Module] = [
        nn.Conv2d(in_channels, width, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(width),
        nn.ReLU(inplace=True),
    ]
    channels = width
    for stage, out in enumerate((width, 2 * width, 4 * width)):
        for b in range(n):
            layers.append(_PlainBlock(channels, out, 2 if stage > 0 and b == 0 else 1))
            channels = out
    layers += [nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(channels, num_classes)]
    return nn.Sequential(*layers)


# --- small versions that train on Fashion-MNIST -------------------------------------------------


def small_vgg(
    num_classes: int = 10, in_channels: int = 1, width: int = 16, batch_norm: bool = True
) -> nn.Sequential:
    """A narrow VGG for 28x28 images: three stages of two 3x3 convs, each stage max-pooled.

    (N, in_channels, 28, 28) -> (N, num_classes). Channels width, 2*width, 4*width; spatial
    28 -> 14 -> 7 -> 3; then fc (4 * width * 9) -> 128, ReLU, dropout 0.5, fc 128 -> classes.
    """
    cfg = [width, width, "M", 2 * width, 2 * width, "M", 4 * width, 4 * width, "M"]
    features = make_vgg_layers(cfg, in_channels=in_channels, batch_norm=batch_norm)
    return nn.Sequential(
        *features,
        nn.Flatten(),
        nn.Linear(4 * width * 3 * 3, 128),
        nn.ReLU(inplace=True),
        nn.Dropout(p=0.5),
        nn.Linear(128, num_classes),
    )


class _UnnormalisedBlock(nn.Module):
    """Two 3x3 convs with biases and no batch norm, with or without a shortcut.

    x (N, in_channels, H, W) -> (N, channels, H / stride, W / stride):
    plain ``ReLU(conv2(ReLU(conv1(x))))``, residual ``ReLU(conv2(ReLU(conv1(x))) + s(x))``
    where s is the identity, or a 1x1 conv (stride, with bias) when the shape changes.
    """

    def __init__(self, in_channels: int, channels: int, stride: int, residual: bool):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride=stride, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.shortcut: nn.Module | None = None
        if residual:
            keep = stride == 1 and in_channels == channels
            self.shortcut = nn.Identity() if keep else nn.Conv2d(in_channels, channels, 1, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(torch.relu(self.conv1(x)))
        if self.shortcut is not None:
            out = out + self.shortcut(x)
        return torch.relu(out)


def _init_unnormalised(model: nn.Module) -> None:
    """He initialisation for a net without batch norm; residual branches start at zero.

    Every conv gets He-normal weights (std sqrt(2 / fan_in)) and zero biases, which keeps the
    signal's second moment through conv and ReLU *on average*. In a narrow net each layer
    still multiplies it by a random factor, and in a deep plain stack these compound: at 8
    channels a plain 32-layer net's pooled features start several times smaller than an
    8-layer one's, and vary a hundredfold from seed to seed. In a residual block the branch's last conv starts at zero, so a block with
    an identity shortcut starts as the identity (its input comes out of a ReLU, and the ReLU
    of a non-negative input changes nothing). Otherwise each block would add a branch as
    large as its input, doubling the signal's second moment: 2^n-fold after n blocks.
    """
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
            nn.init.zeros_(module.bias)
    for module in model.modules():
        if isinstance(module, _UnnormalisedBlock) and module.shortcut is not None:
            nn.init.zeros_(module.conv2.weight)


def degradation_net(
    depth: int,
    residual: bool,
    num_classes: int = 10,
    in_channels: int = 1,
    width: int = 16,
    batch_norm: bool = True,
) -> nn.Sequential:
    """The CIFAR-style networks of the ResNet paper's degradation experiment, for 28x28 images.

    ``depth = 6n + 2`` layers with weights: a 3x3 conv (width) -> BN -> ReLU, three stages of
    n two-conv blocks with width, 2*width, 4*width channels (28 -> 14 -> 7; the first block of
    stages 2 and 3 has stride 2), global average pooling and fc -> num_classes. With
    ``residual`` the blocks are ``BasicBlock``s (projection shortcuts where the shape changes),
    else the same convolutions without shortcuts (the "plain" net).

    With ``batch_norm=False`` the same layers lose their batch norms (the convs get biases
    instead) and are He-initialised, the residual branches' last convs at zero (see
    ``_init_unnormalised``). (Notebook 05's degradation experiment uses ``plain_cifar`` and
    ``resnet_cifar``, with batch norm, whose deep plain net falls behind within fifty steps.)

    (N, in_channels, 28, 28) -> (N, num_classes).
    """
    if depth < 8 or (depth - 2) % 6:
        raise ValueError(f"depth must be 6n + 2 with n >= 1 (8, 14, 20, 32, ...), got {depth!r}.")
    n = (depth - 2) // 6
    if batch_norm:
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, width, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
        ]
    else:
        layers = [nn.Conv2d(in_channels, width, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
    channels = width
    for stage, out in enumerate((width, 2 * width, 4 * width)):
        for b in range(n):
            stride = 2 if stage > 0 and b == 0 else 1
            if batch_norm:
                layers.append((BasicBlock if residual else _PlainBlock)(channels, out, stride))
            else:
                layers.append(_UnnormalisedBlock(channels, out, stride, residual))
            channels = out
    layers += [nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(channels, num_classes)]
    model = nn.Sequential(*layers)
    if not batch_norm:
        _init_unnormalised(model)
    return model


def small_resnet(
    num_classes: int = 10, in_channels: int = 1, width: int = 16, blocks: int = 1
) -> nn.Sequential:
    """A small ResNet for 28x28 images: ``degradation_net(6 * blocks + 2, residual=True)``.

    (N, in_channels, 28, 28) -> (N, num_classes); blocks=1 gives ResNet-8, 3 gives ResNet-20.
    """
    return degradation_net(6 * blocks + 2, True, num_classes, in_channels, width)
