"""Judging a student's ``torch.nn.Module`` against the reference model (notebook 05).

A model check is a ``ModelExercise``: its cases (``ModelCase``: constructor arguments and what
to compare), and a judge, usually ``Model``, which builds the student's model and the
reference with the same arguments and compares, in this order:

1. **the parameter count** (``same_count``), against the reference and the published figure
   (VGG-16's 138,357,544, ResNet-50's 25,557,032, ...). Models are built on the ``meta``
   device, which allocates nothing, so even VGG costs milliseconds. A wrong count lists the
   parameter shapes that differ, and a hint when the count is that of a known mistake (a
   missing projection shortcut, convolutions with a bias before batch norm, another VGG
   config);
2. **the output shapes, layer by layer** (``same_trace``): the outputs of every ``nn.Conv2d``
   and ``nn.Linear`` in the order they run (branches may run in any order), also on ``meta``.
   A missing pooling stage shows as a conv whose output is larger than expected, and is named;
3. **the function** (``same_output``), on small inputs: both models get the same weights, a
   fixed function of each tensor's role and shape (so how the student names or orders layers
   does not matter), batch-norm eps is set equal, both run in eval mode, and the outputs must
   agree. A wrong shortcut (ReLU before the addition, the stride on the wrong conv), a wrong
   concatenation order or another activation is recognised by computing what that mistake
   gives (``variant_output``).

A model whose layers come from the course's own reference classes (``LeNet5 =
reference.LeNet5``, or a subclass of it) passes all of that without the student writing it, so
it is refused after the comparisons (a wrong model still gets the diagnosis of its mistake).

The student's model is measured by the ``model`` measurement of ``autograder.kernel.measure``
where the student's code runs (``Attempt.measure``: in the kernel when grading in the sandbox);
the reference by the same measurement here.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from autograder.checks._engine import (
    Attempt,
    Case,
    CaseFailure,
    CheckResult,
    Exercise,
    Hint,
    Mistake,
    NotApplicable,
    diagnose,
    raised,
)
from autograder.kernel import measure as measurements
from autograder.kernel.measure import canonical_, model_input

# Outputs of the student's model and the reference, with the same weights, must agree this
# closely: relative to the largest output, so that deep float32 models are judged fairly.
OUTPUT_RTOL = 1e-4


# --- the cases and the exercise -------------------------------------------------------------------


@dataclass(frozen=True)
class ModelCase:
    """One case of a model check: constructor arguments and what to compare.

    Args:
        name: what the student reads.
        args, kwargs: the constructor's arguments (a failure shows them as the inputs).
        published: ``(count, where the figure comes from)``, named when the count differs.
        trace: the input size (N, C, H, W) of the layer-by-layer shapes (on ``meta``).
        functional: the input size of the output comparison, with the canonical weights.
        dtype: the dtype of that comparison (float32 for models too big for float64).
        raises: the constructor must raise this exception for these arguments.
    """

    name: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    published: tuple[int, str] | None = None
    trace: tuple[int, ...] | None = None
    functional: tuple[int, ...] | None = None
    dtype: torch.dtype = torch.float64
    raises: type[Exception] | None = None

    @property
    def shown(self) -> Case:
        """What a failure shows of this case: its name and the constructor's arguments."""
        return Case(self.name, self.args, self.kwargs)

    @property
    def options(self) -> dict:
        """The ``model`` measurement's options for this case."""
        dtype = {torch.float32: "float32", torch.float64: "float64"}[self.dtype]
        return {"trace": self.trace, "functional": self.functional, "dtype": dtype}


def refusal(
    borrowed: set[str],
    write: str = "the model yourself from torch.nn layers (nn.Conv2d, nn.Linear, ...)",
) -> str | None:
    """The refusal of a model built from the course's reference code, from the modules it
    ``borrowed`` (None when it borrowed none); ``write`` says what to write instead."""
    if not borrowed:
        return None
    return (
        f"it is built from the course's reference code ({', '.join(sorted(borrowed))}), "
        f"so it earns no credit. Write {write}, as the exercise asks."
    )


def borrowed_modules(report: dict) -> set[str]:
    """The course's own modules among those that define the model's classes."""
    return {
        m for m in report.get("modules", []) if m == "course_utils" or m.startswith("course_utils.")
    }


@dataclass(frozen=True)
class ModelExercise:
    """A model check, as data, run by the engine's ``Exercise``. Its cases carry more than a
    failure shows (a ``ModelCase``'s input sizes; a model recipe, which would say nothing as
    an input): the engine runs what a failure shows of each, and the judge looks the case up by
    its name.

    Args:
        name: the check's name without ``check_`` (``lenet5``): the hint identifiers' prefix.
        title: the name the diagnoses use (``LeNet5``, ``resnet18/34/50``), and so the name
            the engine draws the hidden cases for.
        public: the fixed cases: objects with a ``name`` and a ``shown`` ``Case``.
        hidden: the hidden cases, drawn from the generator for ``title``.
        judge: ``judge(attempt, case, borrowed)`` decides one case (``Model``), adding to
            ``borrowed`` the course modules the student's model is built from; a model built
            from them is refused once every case has passed.
    """

    name: str
    title: str
    public: Callable[[], list[Any]]
    hidden: Callable[[np.random.Generator], list[Any]]
    judge: Callable[[Attempt, Any, set[str]], float | None]

    def run(self, kind: str, *impls: Any) -> CheckResult:
        """Check the student's classes or functions ``impls`` on the ``kind`` cases."""
        by_name: dict[str, Any] = {}
        borrowed: set[str] = set()

        def shown(cases: list[Any]) -> list[Case]:
            by_name.update((case.name, case) for case in cases)
            return [case.shown for case in cases]

        exercise = Exercise(
            self.name,
            args=(),
            public=lambda: shown(self.public()),
            hidden=lambda rng: shown(self.hidden(rng)),
            judge=lambda attempt, case: self.judge(attempt, by_name[case.name], borrowed),
            functions=(self.title,) * len(impls),
            own_names=False,
            numpy_only=False,
            after=lambda attempt: refusal(borrowed),
        )
        return exercise.run(kind, *impls)


# --- the judge --------------------------------------------------------------------------------------


def as_given(attempt: Attempt, args: tuple, kwargs: dict) -> tuple[int, tuple, dict]:
    """The student's factory is the checked class itself, called with the case's arguments."""
    return 0, args, kwargs


@dataclass(frozen=True)
class Model:
    """Judge a model class (or a function that builds a model) against the reference.

    Args:
        reference: the reference factory, called with a case's arguments.
        count_mistakes: each predicts, from the case's arguments, the parameter count of its
            mistake.
        output_mistakes: each predicts, from the ``ModelCase``, the output (a float64 ndarray)
            its mistake computes on the case's functional input (``variant_output``).
        advice: said when the output is wrong and no output mistake explains it.
        student: ``student(attempt, args, kwargs) -> (which, args, kwargs)``: which student
            function builds the case's model, and with what (``as_given`` by default; the
            ResNet check hands the student's own blocks to the student's ResNet).
    """

    reference: Callable[..., nn.Module]
    count_mistakes: Sequence[Mistake] = ()
    output_mistakes: Sequence[Mistake] = ()
    advice: str = ""
    student: Callable[[Attempt, tuple, dict], tuple[int, tuple, dict]] = as_given

    def __call__(self, attempt: Attempt, case: ModelCase, borrowed: set[str]) -> float | None:
        args, kwargs = case.shown.fresh()
        which, student_args, student_kwargs = self.student(attempt, tuple(args), dict(kwargs))
        if case.raises is not None:
            report = attempt.measure("model", list(student_args), student_kwargs, which=which)
            return refuses(attempt, case, report)
        mine = attempt.measure(
            "model", list(student_args), student_kwargs, which=which, **case.options
        )
        if mine.get("error", {}).get("stage") == "build" or not mine.get("module", True):
            raise broken(mine, attempt.name, case)
        theirs = measurements.model(self.reference, list(args), kwargs, **case.options)
        if "error" in theirs or "output_type" in theirs:
            raise RuntimeError(f"the reference model failed its own measurement: {theirs}")
        same_count(case, mine, theirs, self.count_mistakes)
        failure = broken(mine, attempt.name, case)
        if case.trace is not None:
            if failure is not None and "trace" not in mine:
                raise failure
            same_trace(attempt.name, case, mine, theirs)
        borrowed.update(borrowed_modules(mine))
        if case.functional is None:
            return None
        if failure is not None:
            raise failure
        return same_output(attempt.name, case, mine, theirs, self.output_mistakes, self.advice)


def refuses(attempt: Attempt, case: ModelCase, report: dict) -> None:
    """Pass when building the model raised ``case.raises``, as these arguments demand."""
    error = report.get("error")
    if error is not None and error["stage"] == "build":
        if case.raises.__name__ in error["types"]:
            return None
        raise broken(report, attempt.name, case)
    raise CaseFailure(
        f"{attempt.name} accepted these arguments; it must raise {case.raises.__name__} "
        "with a message that lists the valid choices."
    )


# Errors a forward pass commonly raises, and what they usually mean.
FC_INPUT_SIZE = Hint(
    "fc_input_size",
    "the flattened features do not fit the first fully connected layer: check the padding "
    "of the convolutions, the pooling stages and (for the ImageNet models) the adaptive "
    "average pooling before the classifier.",
)
BRANCH_SIZES = Hint(
    "branch_sizes",
    "the branches of an inception module must keep H and W to be concatenated: padding 1 "
    "for the 3x3 convolutions and for the 3x3 max pool (stride 1).",
)
SHORTCUT_SHAPE = Hint(
    "shortcut_shape",
    "F(x) and the shortcut have different shapes. When the stride or the number of "
    "channels changes, the shortcut is a projection: a 1x1 conv with the block's stride, "
    "followed by batch norm.",
)
MAP_VANISHED = Hint(
    "map_vanished",
    "the feature map shrank to nothing: is there a pooling stage too many, or a "
    "convolution without padding?",
)
_FORWARD_ERROR_HINTS = (
    ("mat1 and mat2 shapes cannot be multiplied", FC_INPUT_SIZE),
    ("must have same reduction dim", FC_INPUT_SIZE),
    ("Sizes of tensors must match except in dimension 1", BRANCH_SIZES),
    ("must match the size of tensor b", SHORTCUT_SHAPE),
    ("Output size is too small", MAP_VANISHED),
)


def broken(report: dict, what: str, case: ModelCase) -> CaseFailure | None:
    """The diagnosis of a measurement that went wrong (None when nothing did)."""
    error = report.get("error")
    if error is not None:
        kind, message = error["type"], error["message"]
        if kind == "NotImplementedError" or error["stage"] == "build":
            return raised(error, what)
        size = case.trace if error["stage"] == "trace" else case.functional
        body = f"{what}'s forward raised {kind} on an input of shape {tuple(size)}: {message}"
        hint = next((h for pattern, h in _FORWARD_ERROR_HINTS if pattern in message), None)
        return CaseFailure(body, hint)
    if not report.get("module", True):
        return CaseFailure(
            f"{what} must give a torch.nn.Module; it gave a {report['type']}. "
            "Subclass nn.Module and call super().__init__() first in __init__."
        )
    if "output_type" in report:
        return CaseFailure(
            f"{what}'s forward must return a tensor of scores; it returned a "
            f"{report['output_type']}."
        )
    return None


# --- 1. the parameter count -------------------------------------------------------------------------


def same_count(case: ModelCase, mine: dict, theirs: dict, mistakes: Sequence[Mistake]) -> None:
    """Fail when the models' parameter counts differ, listing the shapes that differ."""
    got, expected = int(mine["count"]), int(theirs["count"])
    if got == expected:
        return
    body = f"the model has {got:,} parameters, expected {expected:,}"
    if case.published is not None:
        body += f" ({case.published[1]})"
    body += f"; the difference is {got - expected:+,}.\n"
    body += shape_difference(mine["shapes"], theirs["shapes"])
    args, kwargs = case.shown.fresh()
    raise CaseFailure(body, diagnose(mistakes, args, got, kwargs=kwargs))


def shape_difference(got: Sequence, expected: Sequence) -> str:
    """Which parameter shapes the two models do not share, at most four of each."""
    mine = collections.Counter(tuple(shape) for shape in got)
    theirs = collections.Counter(tuple(shape) for shape in expected)

    def listing(counter) -> str:
        items = [f"{n} x {s}" if n > 1 else str(s) for s, n in list(counter.items())[:4]]
        return ", ".join(items) + (" ..." if len(counter) > 4 else "")

    lines = []
    if theirs - mine:
        lines.append(f"  parameter shapes missing from yours: {listing(theirs - mine)}")
    if mine - theirs:
        lines.append(f"  parameter shapes the reference does not have: {listing(mine - theirs)}")
    return "\n".join(lines)


def count_of(model: nn.Module) -> int:
    """The number of parameters of ``model``."""
    return sum(p.numel() for p in model.parameters())


def meta_count(factory: Callable[..., nn.Module]) -> Callable[..., int]:
    """``factory``'s parameter count for given arguments, built on ``meta`` (no memory)."""

    def count(*args, **kwargs):
        with torch.device("meta"):
            return count_of(factory(*args, **kwargs))

    return count


# --- 2. the shapes, layer by layer -----------------------------------------------------------------


def same_trace(what: str, case: ModelCase, mine: dict, theirs: dict) -> None:
    """Fail when the conv and linear layers' output shapes, or the output's, differ."""
    calls = [(str(kind), tuple(shape)) for kind, shape in mine["trace"]]
    wanted = [(str(kind), tuple(shape)) for kind, shape in theirs["trace"]]
    _compare_trace(calls, wanted, what)
    if tuple(mine["trace_output"]) != tuple(theirs["trace_output"]):
        raise CaseFailure(
            f"the output has shape {tuple(mine['trace_output'])}, expected "
            f"{tuple(theirs['trace_output'])} for an input {case.trace}."
        )


def _compare_trace(got: list, expected: list, what: str) -> None:
    if got == expected or sorted(got) == sorted(expected):
        return
    body = (
        f"{what} runs {len(got)} conv/linear layers, expected {len(expected)}."
        if len(got) != len(expected)
        else f"the layer-by-layer output shapes of {what} differ from the reference."
    )
    for index, (mine, theirs) in enumerate(zip(got, expected)):
        if mine != theirs:
            body += (
                f"\n  layer {index + 1} ({mine[0]}) outputs {mine[1]}, expected {theirs[0]} "
                f"with output {theirs[1]}."
            )
            break
    convs_got = [c for c in got if c[0] == "Conv2d"]
    convs_expected = [c for c in expected if c[0] == "Conv2d"]
    raise CaseFailure(body, _map_size_hint(convs_got, convs_expected))


def _map_size_hint(convs_got: list, convs_expected: list) -> Hint | None:
    """What the first conv whose output differs says: a missing pooling stage, a map one
    pixel too small, or maps that shrink too early (None when it says none of these)."""
    for mine, theirs in zip(convs_got, convs_expected):
        if mine == theirs:
            continue
        (_, a), (_, b) = mine, theirs
        if len(a) == len(b) == 4 and a[1] == b[1]:
            if a[2] >= 2 * b[2] and a[3] >= 2 * b[3]:
                return Hint(
                    "missing_pool",
                    f"a pooling stage is missing: a conv with {a[1]} output channels sees a "
                    f"{a[2]}x{a[3]} map where the reference's sees {b[2]}x{b[3]}.",
                )
            if a[2] == b[2] - 1 and a[3] == b[3] - 1:
                return Hint(
                    "one_pixel_smaller",
                    "your maps are one pixel smaller: a 3x3 max pool with stride 2 must round "
                    "up here (nn.MaxPool2d(3, stride=2, ceil_mode=True)), or a convolution "
                    "lacks its padding.",
                )
            if a[2] * 2 <= b[2] and a[3] * 2 <= b[3]:
                return Hint(
                    "shrinks_early",
                    f"your maps shrink too early (or once too often): a conv with {a[1]} "
                    f"output channels gives {a[2]}x{a[3]} where the reference's gives "
                    f"{b[2]}x{b[3]}. Check where each stride and pooling stage goes.",
                )
        return None
    return None


# --- 3. the function, with the same weights ---------------------------------------------------------


def same_output(
    what: str,
    case: ModelCase,
    mine: dict,
    theirs: dict,
    mistakes: Sequence[Mistake] = (),
    advice: str = "",
) -> float:
    """Compare the outputs of the two models with the canonical weights; return the error
    relative to the largest output."""
    expected = np.asarray(theirs["output"], dtype=np.float64)
    got = mine.get("output")
    if type(got) is not np.ndarray:
        raise CaseFailure(f"{what}'s forward gave no array of scores.")
    got = got.astype(np.float64, copy=False)
    if got.shape != expected.shape:
        raise CaseFailure(
            f"the output has shape {got.shape}, expected {expected.shape} for an "
            f"input {case.functional}."
        )
    scale = max(1.0, float(np.abs(expected).max(initial=0.0)))
    if not _outputs_match(got, expected):
        diff = np.abs(got - expected)
        where = np.unravel_index(int(np.argmax(diff)), diff.shape)
        body = (
            f"with the same weights as the reference (in eval mode, input {case.functional}) "
            f"the output differs: largest error {diff[where]:.3g} at out"
            f"[{', '.join(str(int(i)) for i in where)}] (expected {expected[where]:.6g}, "
            f"got {got[where]:.6g}). The layers have the right shapes, so the "
            "difference is in what connects them: the order of the operations, the "
            "activations, the pooling kind, or how branches are combined."
        )
        hint = diagnose(mistakes, (case,), got)
        if hint is None and advice:
            body += f"\n  {advice}"
        raise CaseFailure(body, hint)
    return float(np.abs(got - expected).max(initial=0.0) / scale)


def _outputs_match(got: np.ndarray, expected: np.ndarray) -> bool:
    if got.shape != expected.shape or not np.isfinite(got).all():
        return False
    scale = max(1.0, float(np.abs(expected).max(initial=0.0)))
    return bool(np.all(np.abs(got - expected) <= OUTPUT_RTOL * scale))


def variant_output(build: Callable[..., nn.Module]) -> Callable[[ModelCase], np.ndarray]:
    """An output mistake's ``predict(case)``: the output of ``build(*case.args,
    **case.kwargs)`` with the canonical weights, on the case's functional input."""

    def predict(case: ModelCase) -> np.ndarray:
        if case.functional is None:
            raise NotApplicable
        with torch.device("meta"):
            model = build(*case.args, **case.kwargs)
        model = canonical_(model, case.dtype)
        with torch.no_grad():
            return model(model_input(case.functional, case.dtype)).double().numpy()

    return predict
