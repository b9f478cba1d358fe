"""Judging a builder of ``nn.Module``s (notebook 05's ``make_vgg_layers``, ``BasicBlock``,
``resnet_cifar``): one ``Build`` a case, judged by ``BuiltModel``.

A case calls the student's function or class with arguments the check chose, where the
student's code runs (in the kernel when grading in the sandbox), through the measurements
``model`` and ``model_layout`` of ``autograder.kernel.measure``; the reference is measured the
same way here. The reports are compared in this order, each only as far as the case asks:

1. **the layout** (``make_vgg_layers``): the type of every layer in order, what decides each
   convolution and pooling layer (kernel, stride, padding, bias), and the state dict's keys
   and shapes in order, by which torchvision's weights load;
2. **the parameter count**, the parameter shapes that differ listed as ``_models`` lists them;
3. **the trace**: the output shape of every convolution and linear layer as they run, on the
   meta device;
4. **the function**: both models with the same canonical weights, in eval mode, float64, on
   the same input; the outputs must agree.

A difference is explained by the first known mistake whose model (``variant``), built and
measured here, gives the student's answer on that part. ``refuse_reference_classes`` refuses a
model built from the course's own reference classes once every case has passed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from autograder.checks._engine import (
    FLOAT64,
    Attempt,
    Case,
    CaseFailure,
    Hint,
    Mistake,
    compare_arrays,
    diagnose,
    raised,
)
from autograder.checks._models import borrowed_modules, refusal, shape_difference
from autograder.kernel import measure as measurements

# --- one case: what is built, and what is measured ---------------------------------------------


@dataclass(frozen=True)
class Build:
    """One call of the student's builder, ``function(*args, **kwargs)``, and what is measured:
    the layout (``layout``), the output shapes on an input of size ``trace`` (meta device),
    the output on an input of size ``functional`` (canonical weights, float64); or that the
    call raises the exception named ``raises``."""

    function: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    layout: bool = False
    trace: tuple[int, ...] | None = None
    functional: tuple[int, ...] | None = None
    raises: str | None = None

    def __repr__(self) -> str:
        arguments = [repr(a) for a in self.args] + [f"{k}={v!r}" for k, v in self.kwargs.items()]
        return f"{self.function}({', '.join(arguments)})"

    @property
    def measurement(self) -> str:
        return "model_layout" if self.layout else "model"

    def options(self) -> dict:
        listed = {"trace": self.trace, "functional": self.functional}
        return {k: list(v) if v is not None else None for k, v in listed.items()}

    def measure_here(self, factory: Callable) -> dict:
        """The measurement of ``factory`` on this call, made in this process."""
        measured = measurements.MEASUREMENTS[self.measurement]
        return measured(factory, list(self.args), dict(self.kwargs), **self.options())


def variant(factory: Callable) -> Callable[[Build], dict]:
    """A ``Mistake.predict``: the report of the model that a mistake builds (``factory`` called
    as the student's is), to be compared on the part that differs."""
    return lambda build: build.measure_here(factory)


# --- comparing two reports ------------------------------------------------------------------------


def _first_difference(got: Sequence, expected: Sequence) -> int:
    for index, (mine, theirs) in enumerate(zip(got, expected)):
        if mine != theirs:
            return index
    return min(len(got), len(expected))


def _window(items: Sequence[str], index: int) -> str:
    """The items around ``index``, numbered, e.g. ``2 ReLU, 3 MaxPool2d, 4 Conv2d``."""
    start, stop = max(0, index - 2), min(len(items), index + 3)
    shown = ", ".join(f"{i} {items[i]}" for i in range(start, stop))
    return ("... " if start else "") + shown + (" ..." if stop < len(items) else "")


def _no_tensor(report: dict, name: str) -> CaseFailure:
    """The diagnosis of a forward that returned something else than a tensor."""
    return CaseFailure(
        f"{name}'s model must return a tensor; its forward returned a {report['output_type']}."
    )


def _forward_failure(report: dict, name: str, size: Sequence[int]) -> CaseFailure:
    error = report["error"]
    if error["type"] == "NotImplementedError":
        return raised(error, name)
    return CaseFailure(
        f"{name}'s forward raised {error['type']} on an input of shape {tuple(size)}: "
        f"{error['message']}"
    )


@dataclass(frozen=True)
class BuiltModel:
    """Judge a builder (a function or class that returns an ``nn.Module``) on a ``Build``: its
    model measured where the student's code runs, ``reference``'s here, compared as the module
    docstring says, each difference explained by the first of ``mistakes`` whose model
    (``variant``) gives the student's answer on that part."""

    reference: Callable
    mistakes: Sequence[Mistake] = ()
    advice: str = ""  # a line added to an output that differs with no known mistake

    def __call__(self, attempt: Attempt, case: Case) -> float | None:
        build: Build = case.fresh()[0][0]
        name = attempt.name
        got = attempt.measure(
            build.measurement, list(build.args), dict(build.kwargs), **build.options()
        )
        if build.raises is not None:
            return _judge_raises(got, build, name)
        error = got.get("error")
        if error is not None and error["stage"] == "build":
            raise raised(error, name, "these arguments")
        if not got.get("module", True):
            raise CaseFailure(
                f"{name} must return a torch.nn.Module; it returned a {got['type']}. "
                + ("Return nn.Sequential(*layers)." if build.layout else "")
            )
        if error is not None and error["stage"] == "layout":
            raise CaseFailure(
                f"the modules of {name}'s model cannot be listed: {error['type']}: "
                f"{error['message']}"
            )
        expected = build.measure_here(self.reference)
        if "error" in expected or "output_type" in expected:
            raise RuntimeError(f"the reference failed its own measurement: {expected}")

        def hint(part: Callable[[dict], Any], answer: Any) -> Hint | None:
            return diagnose(self.mistakes, (build,), answer, part)

        if build.layout:
            _compare_layout(got, expected, name, hint)
        _compare_count(got, expected, hint)
        if build.trace is not None:
            _compare_trace(got, expected, name, build, hint)
        if build.functional is None:
            return None
        return self._compare_output(got, expected, name, build, hint)

    def _compare_output(self, got, expected, name, build, hint) -> float:
        if got.get("error") is not None:
            raise _forward_failure(got, name, build.functional)
        if "output_type" in got:
            raise _no_tensor(got, name)
        out = got.get("output")
        if type(out) is not np.ndarray or out.dtype.kind not in "biuf":
            raise CaseFailure(f"{name}'s model gave no array of outputs.")
        out = out.astype(np.float64)
        try:
            return compare_arrays(
                out, expected["output"], what="out", tol=FLOAT64, swapped_layout_hint=False
            )
        except CaseFailure as failure:
            failure = failure.noted(
                f"(Both models got the same weights, in eval mode, and the input "
                f"{tuple(build.functional)}.)"
            )
            found = hint(lambda r: r["output"], out)
            if found is None and self.advice:
                failure = failure.noted(self.advice)
            raise failure.with_hint(found) from None


def _judge_raises(got: dict, build: Build, name: str) -> None:
    error = got.get("error")
    if error is not None and error["stage"] == "build":
        if build.raises in error["types"]:
            return None
        if error["type"] == "NotImplementedError":
            raise raised(error, name)
        raise CaseFailure(
            f"{name} raised {error['type']}: {error['message']}\n  It must raise "
            f"{build.raises} for these arguments, with a message that says what is allowed."
        )
    raise CaseFailure(
        f"{name} accepted these arguments; it must raise {build.raises} with a message that "
        "says what is allowed."
    )


def _layer_types(report: dict) -> list[str]:
    return [layer[1] for layer in report["layers"]]


def _compare_layout(got: dict, expected: dict, name: str, hint: Callable) -> None:
    mine, theirs = _layer_types(got), _layer_types(expected)
    if mine != theirs:
        index = _first_difference(mine, theirs)
        found = mine[index] if index < len(mine) else "nothing"
        wanted = theirs[index] if index < len(theirs) else "nothing"
        raise CaseFailure(
            f"the model has {len(mine)} layers, expected {len(theirs)}; layer {index} is "
            f"{found} where {wanted} was expected.\n"
            f"  yours:    {_window(mine, index)}\n"
            f"  expected: {_window(theirs, index)}",
            hint(_layer_types, mine),
        )
    for (layer, kind, facts), (_, _, wanted) in zip(got["layers"], expected["layers"]):
        wrong = [key for key in wanted if facts.get(key) != wanted[key]]
        if wrong:
            differences = "; ".join(f"{k} {facts.get(k)!r}, expected {wanted[k]!r}" for k in wrong)
            raise CaseFailure(
                f'layer "{layer}" ({kind}) has {differences}.',
                hint(lambda r: r["layers"], got["layers"]),
            )
    if got["state"] != expected["state"]:
        index = _first_difference(got["state"], expected["state"])

        def entry(state: list) -> str:
            if index >= len(state):
                return "nothing"
            key, shape = state[index]
            return f'"{key}" {tuple(shape)}'

        raise CaseFailure(
            f"the state dict has {len(got['state'])} entries, expected "
            f"{len(expected['state'])}; entry {index} is {entry(got['state'])}, expected "
            f"{entry(expected['state'])}. Saved weights load by these keys (the position in "
            "one flat nn.Sequential and the parameter's name), so keys and shapes must match.",
            hint(lambda r: r["state"], got["state"]),
        )


def _compare_count(got: dict, expected: dict, hint: Callable) -> None:
    mine, theirs = int(got["count"]), int(expected["count"])
    if mine != theirs:
        raise CaseFailure(
            f"the model has {mine:,} parameters, expected {theirs:,}; the difference is "
            f"{mine - theirs:+,}.\n" + shape_difference(got["shapes"], expected["shapes"]),
            hint(lambda r: r["count"], mine),
        )


def _trace_part(report: dict) -> list:
    return [report["trace"], report["trace_output"]]


def _compare_trace(got: dict, expected: dict, name: str, build: Build, hint: Callable) -> None:
    error = got.get("error")
    if error is not None and error["stage"] == "trace":
        raise _forward_failure(got, name, build.trace)
    if "output_type" in got:
        raise _no_tensor(got, name)
    if _trace_part(got) == _trace_part(expected):
        return
    mine, theirs = got["trace"], expected["trace"]
    if mine != theirs:
        index = _first_difference(mine, theirs)
        body = (
            f"on an input {tuple(build.trace)} the model runs {len(mine)} conv/linear layers, "
            f"expected {len(theirs)}; "
            if len(mine) != len(theirs)
            else f"on an input {tuple(build.trace)} the output shapes differ; "
        )
        if index < min(len(mine), len(theirs)):
            body += (
                f"conv/linear layer {index + 1} ({mine[index][0]}) outputs "
                f"{tuple(mine[index][1])}, "
                f"expected {theirs[index][0]} with output {tuple(theirs[index][1])}."
            )
        else:
            body += f"the first {index} agree."
    else:
        body = (
            f"the output has shape {tuple(got['trace_output'])}, expected "
            f"{tuple(expected['trace_output'])} for an input {tuple(build.trace)}."
        )
    raise CaseFailure(body, hint(_trace_part, _trace_part(got)))


def refuse_reference_classes(sample: Build) -> Callable[[Attempt], str | None]:
    """An ``Exercise.after``: the model of ``sample`` must not be made of the course's own
    reference classes (``class BasicBlock(reference.BasicBlock)``), which pass every case
    without the student writing them."""

    def after(attempt: Attempt) -> str | None:
        try:
            report = attempt.measure("model", list(sample.args), dict(sample.kwargs))
        except CaseFailure:
            return None
        return refusal(borrowed_modules(report), "it yourself from torch.nn layers")

    return after
