"""Device choice, seeding, and moving batches between devices.

Every notebook starts with the same two lines, so that it runs unchanged on a laptop CPU,
an Apple GPU or a Colab GPU::

    device = get_device()          # CUDA, else MPS, else CPU; $CNN_COURSE_DEVICE overrides
    generator = seed_everything(0)

``seed_everything`` is the one function in ``course_utils`` that touches global random
number generators. Library code never calls it: functions that draw random numbers take a
``seed`` or a ``torch.Generator`` instead. Only the top cell of a notebook (or a script's
``main``) calls it.
"""

from __future__ import annotations

import copy
import os
import random
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

DEVICE_ENV_VAR = "CNN_COURSE_DEVICE"


def _mps_works() -> bool:
    """True when PyTorch reports MPS and a tensor can really be created there.

    ``torch.backends.mps.is_available()`` can be True on a machine where allocating still
    fails (an old macOS, a virtual machine); a one-element allocation settles it.
    """
    mps = getattr(torch.backends, "mps", None)
    if mps is None or not mps.is_available():
        return False
    try:
        torch.zeros(1, device="mps")
    except RuntimeError:
        return False
    return True


def _checked(device: str | torch.device, source: str) -> torch.device:
    """Parse ``device`` and make sure this machine has it.

    Args:
        device: a device name such as "cpu", "cuda", "cuda:1", "mps", or a torch.device.
        source: where the value came from, for the error message (e.g. "get_device").

    Returns:
        The torch.device.

    Raises:
        ValueError: the name is not a device, or the machine has no such device.
    """
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ValueError(
            f'{source}: "{device}" is not a device name. Use "cpu", "cuda", "cuda:<index>" '
            f'or "mps". ({error})'
        ) from None
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f'{source}: "{device}" was asked for, but torch.cuda.is_available() is False '
                f'on this machine (torch {torch.__version__}). Use "cpu", or install a CUDA '
                "build of PyTorch on a machine with an NVIDIA GPU."
            )
        count = torch.cuda.device_count()
        if parsed.index is not None and parsed.index >= count:
            raise ValueError(
                f'{source}: "{device}" was asked for, but this machine has {count} CUDA '
                f"device(s) (cuda:0 to cuda:{count - 1})."
            )
    elif parsed.type == "mps":
        if not _mps_works():
            raise ValueError(
                f'{source}: "{device}" was asked for, but MPS (Apple GPU) is not available '
                'or not working on this machine. Use "cpu".'
            )
    elif parsed.type != "cpu":
        raise ValueError(
            f'{source}: device type "{parsed.type}" is not supported by this course; use '
            '"cpu", "cuda" or "mps".'
        )
    return parsed


def default_device() -> torch.device:
    """The device the course runs on when nothing is said.

    Order: the environment variable ``CNN_COURSE_DEVICE`` when it is set (e.g. "cpu" to
    force the CPU on a GPU machine, or "cuda:1"); otherwise CUDA when available; otherwise
    MPS when available and working; otherwise the CPU.

    Returns:
        A torch.device ("cuda" without an index means the current CUDA device).

    Raises:
        ValueError: ``CNN_COURSE_DEVICE`` names something that is not a device or that this
            machine does not have; the message says which value and what to use instead.
    """
    override = os.environ.get(DEVICE_ENV_VAR, "").strip()
    if override:
        return _checked(override, f"environment variable {DEVICE_ENV_VAR}")
    if torch.cuda.is_available():
        return torch.device("cuda")
    if _mps_works():
        return torch.device("mps")
    return torch.device("cpu")


def get_device(device: str | torch.device | None = None) -> torch.device:
    """The device to use: ``device`` when given, else ``default_device()``.

    Args:
        device: None, a name ("cpu", "cuda", "cuda:0", "mps") or a torch.device.

    Returns:
        A torch.device that exists on this machine.

    Raises:
        ValueError: ``device`` is not a device name, or this machine does not have it.
    """
    if device is None:
        return default_device()
    if not isinstance(device, (str, torch.device)):
        raise ValueError(
            'get_device: device must be None, a string such as "cuda" or a torch.device; '
            f"got {type(device).__name__} {device!r}."
        )
    return _checked(device, "get_device")


def seed_everything(seed: int) -> torch.Generator:
    """Seed every global random number generator and return a fresh seeded generator.

    Seeds Python's ``random``, NumPy's legacy global generator (``np.random.seed``), PyTorch
    on the CPU and, when present, every CUDA device. This is the one function in
    ``course_utils`` that touches global generators; library code never calls it. Call it
    once at the top of a notebook.

    Seeding does not make GPU kernels deterministic: for bit-identical GPU runs also call
    ``torch.use_deterministic_algorithms(True)`` (slower, and some operations then raise).

    Args:
        seed: an integer in [0, 2**32 - 1] (NumPy's legacy generator accepts no more).

    Returns:
        A new CPU ``torch.Generator`` seeded with ``seed``, e.g. for a DataLoader's
        ``generator`` or ``torch.randn(..., generator=g)``.

    Raises:
        ValueError: ``seed`` is not an integer in that range.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed must be an integer, got {type(seed).__name__} {seed!r}.")
    seed = int(seed)
    if not 0 <= seed < 2**32:
        raise ValueError(f"seed must be in [0, 2**32 - 1] (NumPy's limit), got {seed}.")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    generator = torch.Generator()
    generator.manual_seed(seed)
    return generator


def describe_device(device: str | torch.device | None = None) -> str:
    """One line that names the device, for the top of a notebook's output.

    Examples: ``"cuda:0 (NVIDIA H100 80GB HBM3, 79 GiB)"``, ``"mps (Apple GPU)"``,
    ``"cpu (2 threads)"``.

    Args:
        device: as for ``get_device`` (None means ``default_device()``).

    Returns:
        The description.
    """
    device = get_device(device)
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        properties = torch.cuda.get_device_properties(index)
        gib = properties.total_memory / 2**30
        return f"cuda:{index} ({properties.name}, {gib:.0f} GiB)"
    if device.type == "mps":
        return "mps (Apple GPU)"
    return f"cpu ({torch.get_num_threads()} threads)"


def to_device(obj: Any, device: str | torch.device, non_blocking: bool = False) -> Any:
    """Move a tensor, or every tensor inside tuples, lists and dicts, to ``device``.

    Containers are rebuilt with the same type (named tuples included) and nesting; values
    that are not tensors (ints, strings, None) come back unchanged.

    Args:
        obj: a tensor, or a tuple/list/dict (nested freely) holding tensors, e.g. a batch
            ``(images (N, C, H, W), labels (N,))``.
        device: the target device (a name or a torch.device).
        non_blocking: passed to ``Tensor.to``; with pinned CPU memory (a DataLoader with
            ``pin_memory=True``) and a CUDA target the copy overlaps with computation.

    Returns:
        The same structure with every tensor on ``device``.
    """
    device = torch.device(device)
    if isinstance(obj, torch.Tensor):
        return obj.to(device, non_blocking=non_blocking)
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):  # a named tuple
        return type(obj)(*(to_device(item, device, non_blocking) for item in obj))
    if isinstance(obj, (tuple, list)):
        return type(obj)(to_device(item, device, non_blocking) for item in obj)
    if isinstance(obj, dict):
        moved = copy.copy(obj)  # keeps the mapping's type (OrderedDict, defaultdict)
        for key, value in obj.items():
            moved[key] = to_device(value, device, non_blocking)
        return moved
    if isinstance(obj, Mapping):
        return {key: to_device(value, device, non_blocking) for key, value in obj.items()}
    return obj
