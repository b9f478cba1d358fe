"""A small training loop: fit, evaluate, predict, and the History they record.

    history = fit(model, train_loader, val=test_loader, epochs=2)
    history.best()                 # {"epoch": 2, "val_acc": 0.86, ...}
    loss, accuracy = evaluate(model, test_loader)
    labels = predict(model, images)

Data is either a DataLoader yielding (x, y) batches or a pair (x, y) of tensors or NumPy
arrays, which is batched here (shuffled for training with a generator seeded by ``seed``).
x is cast to the model's floating dtype (so float64 NumPy images feed a float32 model), and
integer labels become int64. The model goes to ``device`` (default
``course_utils.device.get_device()``: CUDA, else MPS, else the CPU), and every batch follows
it; on CUDA, batches from the CPU are copied from pinned memory with non_blocking=True.

The default loss is cross-entropy on raw scores (N, C) and integer labels (N,); accuracy is
the fraction of argmax(scores) == label (for scores (N,) or (N, 1) with 0/1 labels, the
fraction of (score > 0) == label; for any other pair it is recorded as nan).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from course_utils.device import get_device


@dataclass
class History:
    """What fit measured, one entry per epoch (the last one partial if it was cut short).

    Attributes:
        train_loss, train_acc: mean loss and accuracy over the epoch's training batches, as
            the model was while it learned (dropout on, weights moving).
        val_loss, val_acc: loss and accuracy on ``val`` at the end of the epoch, in eval
            mode; empty when fit had no ``val``.
        seconds: wall-clock seconds of each epoch, evaluation included.
        stopped_early: True when ``time_budget`` ran out before the last epoch ended.
        stop_reason: why, in words ("" when the run completed).
        device: the device the model trained on, e.g. "cpu" or "cuda:0".
    """

    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    stopped_early: bool = False
    stop_reason: str = ""
    device: str = ""

    @property
    def epochs(self) -> int:
        """Number of epochs recorded (a cut-short last epoch counts)."""
        return len(self.train_loss)

    def best(self, metric: str | None = None) -> dict:
        """The epoch with the best value of ``metric`` and all its numbers.

        Args:
            metric: one of "val_acc", "val_loss", "train_acc", "train_loss". Default:
                "val_acc" when there was a validation set, else "train_acc". Accuracies
                are maximised, losses minimised.

        Returns:
            {"epoch": k (1-based), "train_loss": ..., "train_acc": ..., "val_loss": ...,
            "val_acc": ..., "seconds": ...} (val entries only when recorded).
        """
        if metric is None:
            metric = "val_acc" if self.val_acc else "train_acc"
        metrics = ("train_loss", "train_acc", "val_loss", "val_acc")
        if metric not in metrics:
            raise ValueError(f"metric must be one of {metrics}, got {metric!r}.")
        values = getattr(self, metric)
        finite = [(v, i) for i, v in enumerate(values) if not math.isnan(v)]
        if not finite:
            raise ValueError(f"History has no {metric} values to choose from.")
        _, index = max(finite) if metric.endswith("acc") else min(finite)
        result = {"epoch": index + 1}
        for name in (*metrics, "seconds"):
            series = getattr(self, name)
            if series:
                result[name] = series[index]
        return result

    def as_dict(self) -> dict:
        """Every field as plain Python values (lists of floats, a bool, strings)."""
        return asdict(self)


# ---------------------------------------------------------------------------------------
# Data: DataLoaders or (x, y) pairs


def _as_tensor(a, what: str) -> torch.Tensor:
    if isinstance(a, torch.Tensor):
        return a
    if isinstance(a, np.ndarray):
        return torch.from_numpy(a)
    raise TypeError(f"{what} must be a torch.Tensor or a NumPy array, got {type(a).__name__}.")


def _pair(data, name: str) -> tuple[torch.Tensor, torch.Tensor] | None:
    """(x, y) tensors when data is a pair of arrays or tensors, None for a loader."""
    if not isinstance(data, (tuple, list)):
        return None
    if len(data) != 2:
        raise ValueError(
            f"{name} must be a DataLoader or a pair (x, y); got a {type(data).__name__} of "
            f"{len(data)} items."
        )
    x, y = _as_tensor(data[0], f"{name}'s x"), _as_tensor(data[1], f"{name}'s y")
    if len(x) != len(y):
        raise ValueError(
            f"{name}: x has {len(x)} samples but y has {len(y)}; they must match (x[i] is "
            "labelled y[i])."
        )
    if len(x) == 0:
        raise ValueError(f"{name} is empty: there are no samples to work with.")
    return x, y


def _batches(
    x: torch.Tensor, y: torch.Tensor, batch_size: int, generator: torch.Generator | None
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Batches of a pair, in a random order drawn from generator (None: in order)."""
    n = len(x)
    # The order is drawn on the CPU (the same on every device), then sent over once.
    order = torch.randperm(n, generator=generator) if generator is not None else None
    x_order = order.to(x.device) if order is not None else None
    y_order = x_order.to(y.device) if x_order is not None else None
    for start in range(0, n, batch_size):
        if order is None:
            yield x[start : start + batch_size], y[start : start + batch_size]
        else:
            stop = start + batch_size
            yield x[x_order[start:stop]], y[y_order[start:stop]]


# A pair up to this size is copied to a GPU once, rather than one batch at a time.
STAGE_LIMIT_BYTES = 1 << 30


def _stage(data, device: torch.device, dtype: torch.dtype):
    """A pair (x, y) copied once to an accelerator (x in the model's dtype), so that each
    step indexes memory already there instead of gathering, pinning and copying a batch on
    the host. DataLoaders, CPU runs and pairs over STAGE_LIMIT_BYTES are left as they are."""
    pair = _pair(data, "data")
    if pair is None or device.type == "cpu":
        return data
    x, y = pair
    x_dtype, y_dtype = _dtypes(x, y, dtype)
    size = x.numel() * x_dtype.itemsize + y.numel() * y_dtype.itemsize
    if size > STAGE_LIMIT_BYTES:
        return data
    return x.to(device, dtype=x_dtype), y.to(device, dtype=y_dtype)


def _iterate(data, name: str, batch_size: int, generator: torch.Generator | None):
    """(iterable of batches, number of batches) for a loader or a pair."""
    pair = _pair(data, name)
    if pair is not None:
        return _batches(*pair, batch_size, generator), math.ceil(len(pair[0]) / batch_size)
    if not isinstance(data, Iterable):
        raise TypeError(
            f"{name} must be a DataLoader (or any iterable of (x, y) batches) or a pair "
            f"(x, y); got {type(data).__name__}."
        )
    try:
        count = len(data)
    except TypeError:
        count = None
    if count == 0:
        raise ValueError(f"{name} is empty: the DataLoader yields no batches.")
    return data, count


def _model_dtype(model: nn.Module) -> torch.dtype:
    for p in model.parameters():
        if p.is_floating_point():
            return p.dtype
    return torch.get_default_dtype()


def _prepare(batch, device: torch.device, dtype: torch.dtype, check_labels: bool):
    """A batch (x, y) on device; x in the model's dtype, integer labels as int64."""
    if not isinstance(batch, (tuple, list)) or len(batch) < 2:
        raise TypeError(
            f"each batch must be a pair (x, y); got {type(batch).__name__}"
            + (f" of {len(batch)} items" if isinstance(batch, (tuple, list)) else "")
            + "."
        )
    x, y = _as_tensor(batch[0], "x"), _as_tensor(batch[1], "y")
    if len(y) == 0:
        raise ValueError("got an empty batch (0 samples).")
    if check_labels and (y.is_floating_point() or y.dtype == torch.bool):
        raise TypeError(
            f"labels must be integer class indices (int64) for the default cross-entropy "
            f"loss; got {y.dtype}. Use y.long() (or y.argmax(1) for one-hot labels), or "
            "pass loss_fn for other targets."
        )
    non_blocking = device.type == "cuda"
    if non_blocking and x.device.type == "cpu":
        x, y = x.pin_memory(), y.pin_memory()
    x_dtype, y_dtype = _dtypes(x, y, dtype)
    return (
        x.to(device, dtype=x_dtype, non_blocking=non_blocking),
        y.to(device, dtype=y_dtype, non_blocking=non_blocking),
    )


def _dtypes(x: torch.Tensor, y: torch.Tensor, dtype: torch.dtype):
    """The dtypes a batch takes on the device: floating x in the model's dtype (other x, e.g.
    token indices, as it is), integer labels as int64 (float or bool targets as they are)."""
    x_dtype = dtype if x.is_floating_point() else x.dtype
    y_dtype = y.dtype if y.is_floating_point() or y.dtype == torch.bool else torch.int64
    return x_dtype, y_dtype


def _correct(scores: torch.Tensor, y: torch.Tensor) -> torch.Tensor | None:
    """Number of correct predictions in a batch (a tensor), or None when undefined."""
    if scores.dim() == 2 and y.dim() == 1 and not y.is_floating_point():
        if scores.shape[1] == 1:
            return ((scores[:, 0] > 0).long() == y).sum()
        return (scores.argmax(1) == y).sum()
    if scores.dim() == 1 and y.dim() == 1 or scores.dim() == 2 and scores.shape[1] == 1:
        return ((scores.reshape(-1) > 0).to(y.dtype) == y.reshape(-1)).sum()
    return None


# ---------------------------------------------------------------------------------------
# evaluate, predict


def evaluate(
    model: nn.Module,
    data,
    loss_fn: Callable | None = None,
    device: str | torch.device | None = None,
    batch_size: int = 256,
) -> tuple[float, float]:
    """Mean loss and accuracy of model on data, in eval mode and without gradients.

    Args:
        model: any nn.Module mapping x (N, ...) to scores (N, C).
        data: a DataLoader of (x, y) batches, or a pair (x, y) of tensors or arrays.
        loss_fn: loss(scores, y) averaged over the batch; default cross-entropy.
        device: where to run (default: get_device()); the model is moved there.
        batch_size: batch size for a pair.

    Returns:
        (loss, accuracy): floats; accuracy in [0, 1] (nan when undefined, see module doc).
        The model's train/eval mode is restored afterwards.
    """
    device = get_device(device)
    model.to(device)
    loss_fn = nn.CrossEntropyLoss() if loss_fn is None else loss_fn
    dtype = _model_dtype(model)
    batches, _ = _iterate(_stage(data, device, dtype), "data", batch_size, None)
    was_training = model.training
    model.eval()
    total_loss = torch.zeros((), dtype=torch.float64, device=device)
    total_correct = torch.zeros((), dtype=torch.float64, device=device)
    count, accuracy_defined = 0, True
    try:
        with torch.no_grad():
            for batch in batches:
                x, y = _prepare(
                    batch, device, dtype, check_labels=isinstance(loss_fn, nn.CrossEntropyLoss)
                )
                scores = model(x)
                total_loss += loss_fn(scores, y).double() * len(y)
                correct = _correct(scores, y)
                if correct is None:
                    accuracy_defined = False
                else:
                    total_correct += correct
                count += len(y)
    finally:
        model.train(was_training)
    if count == 0:
        raise ValueError("data is empty: it yielded no batches.")
    accuracy = total_correct.item() / count if accuracy_defined else float("nan")
    return total_loss.item() / count, accuracy


def predict(
    model: nn.Module,
    x,
    device: str | torch.device | None = None,
    batch_size: int = 256,
    return_scores: bool = False,
) -> torch.Tensor:
    """The model's predicted class for every input, in eval mode and without gradients.

    Args:
        model: nn.Module mapping x (B, ...) to scores (B, C).
        x: inputs (N, ...) as a tensor or a NumPy array, or a DataLoader of (x, y) batches.
        device: where to run (default: get_device()).
        batch_size: batch size for tensor or array inputs.
        return_scores: return the scores (N, C) instead of the classes.

    Returns:
        int64 tensor (N,) of argmax classes (or float scores (N, C)), on the CPU.
    """
    device = get_device(device)
    model.to(device)
    dtype = _model_dtype(model)
    if isinstance(x, (torch.Tensor, np.ndarray)):
        x = _as_tensor(x, "x")
        if len(x) == 0:
            raise ValueError("x is empty: there is nothing to predict.")
        inputs = (x[start : start + batch_size] for start in range(0, len(x), batch_size))
    else:
        inputs = (batch[0] if isinstance(batch, (tuple, list)) else batch for batch in x)
    was_training = model.training
    model.eval()
    outputs = []
    try:
        with torch.no_grad():
            for batch in inputs:
                batch = _as_tensor(batch, "x")
                cast = dtype if batch.is_floating_point() else None
                scores = model(batch.to(device, dtype=cast, non_blocking=device.type == "cuda"))
                outputs.append(scores if return_scores else scores.argmax(1))
    finally:
        model.train(was_training)
    if not outputs:
        raise ValueError("x is empty: there is nothing to predict.")
    return torch.cat(outputs).cpu()


# ---------------------------------------------------------------------------------------
# fit


def fit(
    model: nn.Module,
    train,
    val=None,
    epochs: int = 1,
    optimizer: torch.optim.Optimizer | None = None,
    loss_fn: Callable | None = None,
    device: str | torch.device | None = None,
    lr: float = 1e-3,
    time_budget: float | None = None,
    progress: bool = True,
    batch_size: int = 128,
    seed: int = 0,
) -> History:
    """Train model on train for a number of epochs, evaluating on val after each.

    Args:
        model: the nn.Module to train (moved to device, left in train mode).
        train: a DataLoader of (x, y) batches, or a pair (x, y) of tensors or arrays
            (x (N, ...), y (N,)), batched here with batch_size and shuffled every epoch with
            a torch.Generator seeded by seed.
        val: the same kinds, or None.
        epochs: number of passes over train.
        optimizer: a torch.optim optimizer over model's parameters; default Adam with lr.
        loss_fn: loss(scores, y) averaged over the batch; default nn.CrossEntropyLoss().
        device: where to train (default: get_device()).
        lr: learning rate of the default optimizer (ignored when optimizer is given).
        time_budget: seconds of training after which fit stops, mid-epoch if need be; that
            last epoch is recorded over the batches it saw, val is still evaluated, and
            History.stopped_early / stop_reason say so. None: no limit.
        progress: show a tqdm bar per epoch with the running loss and accuracy.
        batch_size: batch size for pairs (DataLoaders bring their own).
        seed: seeds the shuffling of pairs.

    Returns:
        The History of the run.
    """
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}.")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
    if time_budget is not None and not time_budget > 0:
        raise ValueError(
            f"time_budget must be a positive number of seconds or None, got {time_budget!r}."
        )
    device = get_device(device)
    model.to(device)
    dtype = _model_dtype(model)
    if optimizer is None:
        if not lr > 0:
            raise ValueError(f"Invalid learning rate: {lr!r}; it must be positive.")
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss() if loss_fn is None else loss_fn
    check_labels = isinstance(loss_fn, nn.CrossEntropyLoss)
    generator = torch.Generator().manual_seed(seed)
    # Validate the data before the first step, so that a mistake costs no training time.
    _iterate(train, "train", batch_size, None)
    if val is not None:
        _iterate(val, "val", batch_size, None)
    train = _stage(train, device, dtype)
    val = _stage(val, device, dtype) if val is not None else None

    device_name = str(device)
    if device.type == "cuda" and device.index is None:
        device_name = f"cuda:{torch.cuda.current_device()}"
    history = History(device=device_name)
    started = time.perf_counter()
    for epoch in range(1, epochs + 1):
        epoch_started = time.perf_counter()
        batches, count = _iterate(train, "train", batch_size, generator)
        # The bar is updated by hand: iterating it would close it after the last batch,
        # before the validation numbers are added.
        bar = tqdm(
            total=count,
            desc=f"epoch {epoch}/{epochs}",
            disable=not progress,
            leave=True,
            dynamic_ncols=True,
        )
        model.train()
        total_loss = torch.zeros((), dtype=torch.float64, device=device)
        total_correct = torch.zeros((), dtype=torch.float64, device=device)
        seen, accuracy_defined, last_postfix = 0, True, 0.0
        for step, batch in enumerate(batches, start=1):
            x, y = _prepare(batch, device, dtype, check_labels)
            scores = model(x)
            loss = loss_fn(scores, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            with torch.no_grad():
                total_loss += loss.detach().double() * len(y)
                correct = _correct(scores.detach(), y)
                if correct is None:
                    accuracy_defined = False
                else:
                    total_correct += correct
            seen += len(y)
            bar.update(1)
            now = time.perf_counter()
            if progress and (now - last_postfix > 0.5 or step == count):
                # .item() waits for the GPU, so the bar is refreshed twice a second at most.
                bar.set_postfix(_running(total_loss, total_correct, seen, accuracy_defined))
                last_postfix = now
            if time_budget is not None and now - started >= time_budget:
                history.stopped_early = epoch < epochs or step != count
                if history.stopped_early:
                    history.stop_reason = (
                        f"time budget of {time_budget:g} s used after {step}"
                        + (f" of {count}" if count else "")
                        + f" batches of epoch {epoch}"
                    )
                    bar.set_description(f"epoch {epoch}/{epochs} (stopped: time budget)")
                break
        history.train_loss.append(total_loss.item() / seen)
        history.train_acc.append(total_correct.item() / seen if accuracy_defined else float("nan"))
        if val is not None:
            val_loss, val_acc = evaluate(model, val, loss_fn, device, batch_size)
            history.val_loss.append(val_loss)
            history.val_acc.append(val_acc)
            model.train()
        if progress:
            postfix = _running(total_loss, total_correct, seen, accuracy_defined)
            if val is not None:
                postfix.update(val_loss=f"{val_loss:.4f}", val_acc=f"{val_acc:.3f}")
            bar.set_postfix(postfix)
        bar.close()
        history.seconds.append(time.perf_counter() - epoch_started)
        if history.stopped_early:
            if progress:
                tqdm.write(f"Stopped early: {history.stop_reason}.")
            break
    return history


def _running(total_loss, total_correct, seen: int, accuracy_defined: bool) -> dict:
    postfix = {"loss": f"{total_loss.item() / seen:.4f}"}
    if accuracy_defined:
        postfix["acc"] = f"{total_correct.item() / seen:.3f}"
    return postfix
