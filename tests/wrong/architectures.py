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


# --- make_vgg_layers ------------------------------------------------------------------------------


def make_vgg_layers_pool_after_every_conv(cfg, in_channels=3, batch_norm=False):
    """Every conv is followed by a 2x2 max pool ("M" ignored): the maps shrink once per conv."""
    layers, channels = [], in_channels
    for item in cfg:
        if item == "M":
            continue
        kernel, out = (3, item) if isinstance(item, int) else item
        layers.append(nn.Conv2d(channels, out, kernel, padding=kernel // 2))
        if batch_norm:
            layers.append(nn.BatchNorm2d(out))
        layers += [nn.ReLU(inplace=True), nn.MaxPool2d(2, stride=2)]
        channels = out
    return nn.Sequential(*layers)


def make_vgg_layers_relu_before_bn(cfg, in_channels=3, batch_norm=False):
    """conv -> ReLU -> BN instead of conv -> BN -> ReLU: the keys shift and the function changes."""
    layers, channels = [], in_channels
    for item in cfg:
        if item == "M":
            layers.append(nn.MaxPool2d(2, stride=2))
            continue
        kernel, out = (3, item) if isinstance(item, int) else item
        layers += [nn.Conv2d(channels, out, kernel, padding=kernel // 2), nn.ReLU(inplace=True)]
        if batch_norm:
            layers.append(nn.BatchNorm2d(out))
        channels = out
    return nn.Sequential(*layers)


# --- layer_table ----------------------------------------------------------------------------------


def _layer_table_with(name, macs_of, shape_of=None):
    """A layer_table named ``name``, through forward hooks like the reference's, with the MACs
    (and, where given, the output shapes) computed by the mistaken formulas."""
    from course_utils.reference.counting import layer_table as reference_table

    def layer_table(model, input_shape):
        rows = reference_table(model, input_shape)
        modules = {name: module for name, module in model.named_modules()}
        inputs = []
        hooks = [
            m.register_forward_hook(lambda m, i, o: inputs.append(tuple(i[0].shape)))
            for m in model.modules()
            if next(m.children(), None) is None
        ]
        try:
            with torch.no_grad():
                model.eval()(torch.zeros(input_shape, device=next(model.parameters()).device))
        finally:
            for hook in hooks:
                hook.remove()
        for row, in_shape in zip(rows, inputs):
            module = modules[row["name"]]
            if shape_of is not None and isinstance(module, nn.Conv2d):
                row["output_shape"] = shape_of(module, in_shape)
            row["macs"] = macs_of(module, in_shape, row["output_shape"])
        return rows

    layer_table.__name__ = layer_table.__qualname__ = name
    return layer_table


def _macs(module, in_shape, out_shape, *, bias=False, groups=True, first_dim_only=False):
    import math

    if isinstance(module, nn.Conv2d):
        c_in = module.in_channels // (module.groups if groups else 1)
        per_output = c_in * math.prod(module.kernel_size)
        adds = math.prod(out_shape) if bias and module.bias is not None else 0
        return math.prod(out_shape) * per_output + adds
    if isinstance(module, nn.Linear):
        adds = math.prod(out_shape) if bias and module.bias is not None else 0
        if first_dim_only:
            return out_shape[0] * module.in_features * module.out_features + adds
        return math.prod(out_shape) * module.in_features + adds
    return 0


#: Counts a multiply-accumulate for every bias add too (one per output value).
layer_table_macs_count_bias = _layer_table_with(
    "layer_table_macs_count_bias", lambda m, i, o: _macs(m, i, o, bias=True)
)

#: Counts every input channel for every output value, as if groups were 1.
layer_table_macs_forget_groups = _layer_table_with(
    "layer_table_macs_forget_groups", lambda m, i, o: _macs(m, i, o, groups=False)
)


def _conv_shape(padding: bool, dilation: bool):
    def shape_of(module, in_shape):
        n, _, *sizes = in_shape
        out = []
        for size, k, s, p, d in zip(
            sizes, module.kernel_size, module.stride, module.padding, module.dilation
        ):
            p, d = (p if padding else 0), (d if dilation else 1)
            out.append((size + 2 * p - d * (k - 1) - 1) // s + 1)
        return (n, module.out_channels, *out)

    return shape_of


#: Conv output sizes from (H - K) / S + 1: the padding is left out (and the MACs follow them).
layer_table_shapes_ignore_padding = _layer_table_with(
    "layer_table_shapes_ignore_padding", _macs, _conv_shape(False, True)
)

#: Conv output sizes from (H + 2P - K) / S + 1: a dilated kernel is taken as K wide, not
#: D (K - 1) + 1.
layer_table_shapes_ignore_dilation = _layer_table_with(
    "layer_table_shapes_ignore_dilation", _macs, _conv_shape(True, False)
)

#: Counts a multiply-accumulate as two (the FLOPs of a FLOP counter).
layer_table_macs_doubled = _layer_table_with(
    "layer_table_macs_doubled", lambda m, i, o: 2 * _macs(m, i, o)
)

#: A linear layer on (N, T, in) counts N * in * out: only the first batch dim.
layer_table_linear_first_dim_only = _layer_table_with(
    "layer_table_linear_first_dim_only", lambda m, i, o: _macs(m, i, o, first_dim_only=True)
)


def layer_table_params_every_call(model, input_shape):
    """A module that runs twice has its parameters in both rows."""
    from course_utils.reference.counting import layer_table as reference_table

    rows = reference_table(model, input_shape)
    modules = dict(model.named_modules())
    for row in rows:
        row["params"] = sum(p.numel() for p in modules[row["name"]].parameters())
    return rows


def layer_table_container_rows(model, input_shape):
    """Hooks on every module of model.modules(), the containers and the model itself too."""
    from course_utils.reference.counting import layer_macs

    names = {module: name for name, module in model.named_modules()}
    rows, seen = [], set()

    def record(module, inputs, output):
        params = 0 if module in seen else sum(p.numel() for p in module.parameters())
        seen.add(module)
        rows.append({"name": names[module], "type": type(module).__name__,
                     "output_shape": tuple(output.shape), "params": params,
                     "macs": int(layer_macs(module, inputs, output))})  # fmt: skip

    handles = [m.register_forward_hook(record) for m in model.modules()]
    device = next(model.parameters(), torch.zeros(0)).device
    was_training = model.training
    try:
        with torch.no_grad():
            model.eval()(torch.zeros(input_shape, device=device))
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    return rows


def layer_table_output_shape_list(model, input_shape):
    """Every row right, but output_shape is a list (list(output.shape)), not a tuple."""
    from course_utils.reference.counting import layer_table as reference_table

    rows = reference_table(model, input_shape)
    for row in rows:
        row["output_shape"] = list(row["output_shape"])
    return rows


def layer_table_counts_not_int(model, input_shape):
    """Every count right, but as a float: (C_in / groups) * ... with true division."""
    from course_utils.reference.counting import layer_table as reference_table

    rows = reference_table(model, input_shape)
    for row in rows:
        row["macs"] = float(row["macs"])
    return rows


def layer_table_mode_not_restored(model, input_shape):
    """Every row right, but the model is left in eval mode."""
    from course_utils.reference.counting import layer_table as reference_table

    rows = reference_table(model, input_shape)
    model.eval()
    return rows


def layer_table_hooks_left(model, input_shape):
    """Every row right, but the forward hooks stay on the model (never removed)."""
    from course_utils.reference.counting import layer_table as reference_table

    rows = reference_table(model, input_shape)
    for module in model.modules():
        if next(module.children(), None) is None:
            module.register_forward_hook(lambda module, inputs, output: None)
    return rows


# --- BasicBlock, shortcut option A ----------------------------------------------------------------


class _OneSidedPad(ref.ZeroPadShortcut):
    def forward(self, x):
        x = x[:, :, :: self.stride, :: self.stride]
        return nn.functional.pad(x, (0, 0, 0, 0, 0, self.out_channels - self.in_channels))


class _OddPhase(ref.ZeroPadShortcut):
    def forward(self, x):
        x = x[:, :, 1 :: self.stride, 1 :: self.stride]
        side = (self.out_channels - self.in_channels) // 2
        return nn.functional.pad(x, (0, 0, 0, 0, side, side))


class BasicBlockOptionAPadOneSide(ref.BasicBlock):
    """Option A with all the zero channels after the input's: F.pad(x, (0, 0, 0, 0, 0, extra))."""

    def __init__(self, in_channels, channels, stride=1, shortcut="B"):
        super().__init__(in_channels, channels, stride, shortcut)
        if isinstance(self.shortcut, ref.ZeroPadShortcut):
            self.shortcut = _OneSidedPad(in_channels, channels, stride)


class BasicBlockOptionAWrongPhase(ref.BasicBlock):
    """Option A subsampling the odd rows and columns, x[:, :, 1::2, 1::2]."""

    def __init__(self, in_channels, channels, stride=1, shortcut="B"):
        super().__init__(in_channels, channels, stride, shortcut)
        if isinstance(self.shortcut, ref.ZeroPadShortcut):
            self.shortcut = _OddPhase(in_channels, channels, stride)


class BasicBlockOptionAProjection(ref.BasicBlock):
    """shortcut="A" ignored: the projection of option B whenever the shape changes."""

    def __init__(self, in_channels, channels, stride=1, shortcut="B"):
        super().__init__(in_channels, channels, stride, "B")


class _AveragePooled(ref.ZeroPadShortcut):
    def forward(self, x):
        if self.stride > 1:
            x = nn.functional.avg_pool2d(x, self.stride)
        side = (self.out_channels - self.in_channels) // 2
        return nn.functional.pad(x, (0, 0, 0, 0, side, side))


class BasicBlockOptionAAveragePool(ref.BasicBlock):
    """Option A averaging each 2x2 window (F.avg_pool2d(x, 2)) instead of keeping x[::2, ::2]."""

    def __init__(self, in_channels, channels, stride=1, shortcut="B"):
        super().__init__(in_channels, channels, stride, shortcut)
        if isinstance(self.shortcut, ref.ZeroPadShortcut):
            self.shortcut = _AveragePooled(in_channels, channels, stride)


# --- resnet_cifar ---------------------------------------------------------------------------------


def resnet_cifar_projection_shortcut(
    depth=20, num_classes=10, shortcut="A", in_channels=3, width=16
):
    """Option B (1x1 projections) whatever shortcut says: 2 projections too many parameters."""
    return ref.resnet_cifar(depth, num_classes, "B", in_channels, width)


def resnet_cifar_n_off_by_one(depth=20, num_classes=10, shortcut="A", in_channels=3, width=16):
    """n = (depth + 4) // 6 blocks per stage: one too many (ResNet-20 built with n = 4)."""
    return ref.resnet_cifar(depth + 6, num_classes, shortcut, in_channels, width)


def resnet_cifar_ignores_width(depth=20, num_classes=10, shortcut="A", in_channels=3, width=16):
    """16, 32 and 64 channels whatever width says."""
    return ref.resnet_cifar(depth, num_classes, shortcut, in_channels)


def resnet_cifar_ignores_in_channels(
    depth=20, num_classes=10, shortcut="A", in_channels=3, width=16
):
    """The first conv takes 3 channels whatever in_channels says."""
    return ref.resnet_cifar(depth, num_classes, shortcut, 3, width)


def resnet_cifar_stride_in_first_stage(
    depth=20, num_classes=10, shortcut="A", in_channels=3, width=16
):
    """Every stage starts with a stride-2 block, the first too: 32 -> 16 -> 8 -> 4."""
    n = (depth - 2) // 6
    layers = [nn.Conv2d(in_channels, width, 3, padding=1, bias=False), nn.BatchNorm2d(width),
              nn.ReLU(inplace=True)]  # fmt: skip
    channels = width
    for out in (width, 2 * width, 4 * width):
        for b in range(n):
            layers.append(ref.BasicBlock(channels, out, 2 if b == 0 else 1, shortcut=shortcut))
            channels = out
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, num_classes)]
    return nn.Sequential(*layers)
