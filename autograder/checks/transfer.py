"""Checks for notebook 06's transfer learning.

The exercises take an EfficientNet (attributes ``_conv_stem``, ``_bn0``, ``_blocks``,
``_conv_head``, ``_bn1``, ``_fc``). The checks run them on small stand-ins with that layout
(built fresh for every case, so nothing needs the pretrained weights) and, when the package
``efficientnet-lite-pytorch`` is installed, on the EfficientNet-Lite0 architecture.

A model cannot be handed to a student's function that runs in another process (``cnn-course
autograde --isolation sandbox``), so the functions are measured where the student's code runs
(``Attempt.measure``, ``autograder.kernel.measure``): the models are made there from specs
(``build_spec``), and what comes back is plain data (what the function did to the model, by
parameter name). The expected values and the verdicts are computed here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
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
    check,
    diagnose,
    raised,
)
from autograder.kernel.measure import build_spec

__all__ = ["check_replace_head", "check_set_trainable", "check_param_groups"]

# --- transfer learning: models with the EfficientNet layout --------------------------------------


def _lite0_available() -> bool:
    try:
        import efficientnet_lite_pytorch  # noqa: F401
    except ImportError:
        return False
    return True


def _describe_spec(spec: tuple) -> str:
    if spec[0] == "lite0":
        return "EfficientNet-Lite0 (16 blocks, head 1280)"
    return f"a small EfficientNet-like model ({spec[1]} blocks, head {spec[3]})"


def _model_specs(rng: np.random.Generator | None) -> list[tuple]:
    if rng is None:
        specs = [("small", 4, 8, 16, 1000), ("small", 7, 4, 12, 5)]
        if _lite0_available():
            specs.append(("lite0", 1000))
        return specs
    return [
        ("small", int(rng.integers(1, 9)), int(rng.integers(2, 9)), int(rng.integers(4, 20)), 1000)
        for _ in range(3)
    ]


def _returned_model(report: dict, name: str) -> None:
    """Fail unless the student's function (measured by ``autograder.measure``) returned an
    nn.Module; a report with an error fails with the error."""
    if "error" in report:
        raise raised(report["error"], name)
    if report["returned"] == "none":
        raise CaseFailure(f"{name} returned None; return the model (`return model`).")
    if report["returned"] == "other":
        raise CaseFailure(f"{name} must return the model; it returned {report['answer']}.")


# --- replace_head --------------------------------------------------------------------------------


def _head_cases() -> list[Case]:
    return [
        Case(f"{_describe_spec(spec)}, {k} classes", (spec, k))
        for spec, k in zip(_model_specs(None), (10, 3, 10))
    ]


def _hidden_head_cases(rng: np.random.Generator) -> list[Case]:
    return [
        Case(f"hidden {i + 1}: {_describe_spec(spec)}", (spec, int(rng.integers(2, 50))))
        for i, spec in enumerate(_model_specs(rng))
    ]


@check
def _replaced_head(attempt: Attempt, case: Case) -> None:
    """A new, trainable nn.Linear(in_features, num_classes) as ``model._fc``, and nothing else
    changed."""
    spec, num_classes = case.args
    in_features = build_spec(spec)._fc.in_features
    report = attempt.measure("head_replacement", list(spec), num_classes)
    _returned_model(report, attempt.name)
    head = report["head"]
    if not head["linear"]:
        raise CaseFailure(
            f"model._fc is {head['answer']}, expected an nn.Linear. Assign the new "
            "layer to model._fc: the network's forward calls self._fc."
        )
    if head["old"]:
        raise CaseFailure(
            "model._fc is still the ImageNet classifier: create a NEW nn.Linear and assign "
            "it to model._fc."
        )
    if head["in_features"] != in_features:
        raise CaseFailure(
            f"the new head takes {head['in_features']} inputs, but the features that reach "
            f"it have {in_features} (old head's in_features).",
            Hint("hard_coded_features", "use model._fc.in_features, not a number you typed."),
        )
    if head["out_features"] != num_classes:
        raise CaseFailure(
            f"the new head gives {head['out_features']} scores, expected num_classes = "
            f"{num_classes}."
        )
    if not head["bias"]:
        raise CaseFailure("the new head has no bias; keep nn.Linear's default bias=True.")
    if not all(head["requires_grad"]):
        raise CaseFailure("the new head's parameters must be trainable (requires_grad True).")
    for param_name in report["changed"]:
        if not param_name.startswith("_fc."):
            raise CaseFailure(
                f"the parameter {param_name} changed or is new; replace only model._fc."
            )


REPLACE_HEAD = Exercise(
    "replace_head",
    args=("model", "num_classes"),
    public=_head_cases,
    hidden=_hidden_head_cases,
    judge=_replaced_head,
    numpy_only=False,
)


@check
def check_replace_head(replace_head: Callable, cases: str = "public") -> CheckResult:
    """Check ``replace_head(model, num_classes)``: a new nn.Linear(in_features, num_classes) as
    ``model._fc``, trainable, every other parameter untouched."""
    return REPLACE_HEAD.run(cases, replace_head)


# --- set_trainable -------------------------------------------------------------------------------


def _expected_trainable(model: nn.Module, num_blocks: int) -> set[str]:
    names = {f"_fc.{n}" for n, _ in model._fc.named_parameters()}
    if num_blocks > 0:
        first = len(model._blocks) - num_blocks
        for index in range(first, len(model._blocks)):
            names |= {f"_blocks.{index}.{n}" for n, _ in model._blocks[index].named_parameters()}
        for layer in ("_conv_head", "_bn1"):
            names |= {f"{layer}.{n}" for n, _ in getattr(model, layer).named_parameters()}
    return names


def _trainable_cases() -> list[Case]:
    cases = []
    for spec in _model_specs(None):
        blocks = 16 if spec[0] == "lite0" else spec[1]
        for k in sorted({0, 1, 3 if blocks > 3 else blocks, blocks}):
            cases.append(Case(f"{_describe_spec(spec)}, num_blocks={k}", (spec, k)))
    cases.append(Case("num_blocks larger than the number of blocks", (("small", 4, 8, 16, 10), 5)))
    cases.append(Case("negative num_blocks", (("small", 4, 8, 16, 10), -1)))
    return cases


def _hidden_trainable_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for i, spec in enumerate(_model_specs(rng)):
        k = int(rng.integers(0, spec[1] + 1))
        cases.append(Case(f"hidden {i + 1}: {_describe_spec(spec)}, num_blocks={k}", (spec, k)))
    return cases


def _trainable_first_blocks(model, num_blocks):
    if num_blocks == 0 or num_blocks == len(model._blocks):
        raise NotApplicable
    names = _expected_trainable(model, 0) | _expected_trainable(model, num_blocks) - {
        n for n in _expected_trainable(model, num_blocks) if n.startswith("_blocks.")
    }
    for index in range(num_blocks):
        names |= {f"_blocks.{index}.{n}" for n, _ in model._blocks[index].named_parameters()}
    return names


def _trainable_no_top_layers(model, num_blocks):
    if num_blocks == 0:
        raise NotApplicable
    return {
        n
        for n in _expected_trainable(model, num_blocks)
        if not n.startswith(("_conv_head.", "_bn1."))
    }


def _trainable_head_frozen(model, num_blocks):
    return {n for n in _expected_trainable(model, num_blocks) if not n.startswith("_fc.")}


def _trainable_one_too_many(model, num_blocks):
    if num_blocks == 0 or num_blocks == len(model._blocks):
        raise NotApplicable
    return _expected_trainable(model, num_blocks + 1)


def _trainable_nothing_frozen(model, num_blocks):
    if num_blocks == len(model._blocks) and not any(True for _ in model._conv_stem.parameters()):
        raise NotApplicable
    return {n for n, _ in model.named_parameters()}


_TRAINABLE_MISTAKES = (
    Mistake(
        "first_blocks",
        "you unfroze the FIRST num_blocks blocks. The top of the network (the last blocks, next "
        "to the head) holds the most task-specific features: unfreeze model._blocks[-num_blocks:].",
        _trainable_first_blocks,
    ),
    Mistake(
        "forgets_top_layers",
        "model._conv_head and model._bn1 sit between the last block and the head: when any "
        "block trains, they must train too.",
        _trainable_no_top_layers,
    ),
    Mistake(
        "head_frozen",
        "the new head model._fc is frozen: it is the one layer that must always learn.",
        _trainable_head_frozen,
    ),
    Mistake(
        "off_by_one",
        "one block too many is trainable (an off-by-one in the slice): the last num_blocks "
        "blocks are model._blocks[len(model._blocks) - num_blocks:].",
        _trainable_one_too_many,
    ),
    Mistake(
        "never_freezes",
        "nothing is frozen: first set requires_grad = False on every parameter "
        "(for p in model.parameters()), then unfreeze the top.",
        _trainable_nothing_frozen,
    ),
)


def _names(names: Sequence[str], shown: int = 4) -> str:
    more = f", ... ({len(names) - shown} more)" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def _trainable_right(attempt: Attempt, case: Case) -> None:
    """The model back, with exactly the head, and with num_blocks > 0 the last num_blocks
    blocks and the layers above them, requiring grad; ValueError for a num_blocks that does
    not fit."""
    spec, num_blocks = case.args
    model = build_spec(spec)
    report = attempt.measure("trainable_after", list(spec), num_blocks)
    if not 0 <= num_blocks <= len(model._blocks):
        error = report.get("error")
        if error is not None:
            if error["stage"] == "call" and "ValueError" in error["types"]:
                return None
            raise raised(error, attempt.name)
        raise CaseFailure(
            f"returned {report['answer']}, but num_blocks = {num_blocks} is outside "
            f"0..{len(model._blocks)}: raise ValueError saying so."
        )
    _returned_model(report, attempt.name)
    got = set(report["trainable"])
    expected = _expected_trainable(model, num_blocks)
    if got == expected:
        return None
    wrongly_on = sorted(got - expected)
    wrongly_off = sorted(expected - got)
    lines = []
    if wrongly_on:
        lines.append(f"{len(wrongly_on)} parameter(s) should be frozen: {_names(wrongly_on)}")
    if wrongly_off:
        lines.append(f"{len(wrongly_off)} parameter(s) should be trainable: {_names(wrongly_off)}")
    raise CaseFailure(
        "which parameters require grad is wrong;\n  " + "\n  ".join(lines),
        diagnose(_TRAINABLE_MISTAKES, (model, num_blocks), got),
    )


SET_TRAINABLE = Exercise(
    "set_trainable",
    args=("model", "num_blocks"),
    public=_trainable_cases,
    hidden=_hidden_trainable_cases,
    judge=_trainable_right,
    numpy_only=False,
)


@check
def check_set_trainable(set_trainable: Callable, cases: str = "public") -> CheckResult:
    """Check ``set_trainable(model, num_blocks)``: which parameters require grad."""
    return SET_TRAINABLE.run(cases, set_trainable)


# --- param_groups --------------------------------------------------------------------------------


def _groups_cases() -> list[Case]:
    cases = []
    for spec, k in zip(_model_specs(None), (2, 7, 3)):
        cases.append(
            Case(f"{_describe_spec(spec)}, top {k} blocks trainable, lr 1e-3", (spec, k, 1e-3, 0.1))
        )
    cases.append(
        Case(
            "feature extraction (only the head), lr 0.01, factor 0.2",
            (("small", 4, 8, 16, 10), 0, 0.01, 0.2),
        )
    )
    return cases


def _hidden_groups_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for i, spec in enumerate(_model_specs(rng)):
        k = int(rng.integers(0, spec[1] + 1))
        lr, factor = float(10 ** rng.uniform(-4, -1)), float(rng.uniform(0.01, 0.5))
        cases.append(
            Case(f"hidden {i + 1}: {_describe_spec(spec)}, top {k} blocks", (spec, k, lr, factor))
        )
    return cases


def _groups_returned(attempt: Attempt, case: Case) -> tuple[list[dict], list[str], set[str]]:
    """The groups the student's function returned for the case's model (as the measurement
    ``optimizer_groups`` reports them), the model's parameter names, and the trainable ones."""
    spec, num_blocks, lr, factor = case.args
    model = build_spec(spec)
    trainable = _expected_trainable(model, num_blocks)
    names = [n for n, _ in model.named_parameters()]
    report = attempt.measure(
        "optimizer_groups", list(spec), [n for n in names if n in trainable], lr, factor
    )
    if "error" in report:
        raise raised(report["error"], attempt.name)
    if "malformed" in report:
        raise CaseFailure(
            f"{attempt.name} must return a list of dicts with keys 'params' and 'lr'; it "
            f"returned {report['malformed']}."
        )
    return report["groups"], names, trainable


def _two_groups_of_params_and_lr(groups: list[dict]) -> None:
    if len(groups) != 2:
        raise CaseFailure(f"expected 2 groups (head, backbone), got {len(groups)}.")
    for index, group in enumerate(groups):
        keys = group["keys"]
        if set(keys) - {"params", "lr"} or "params" not in keys or "lr" not in keys:
            raise CaseFailure(
                f"group {index} has keys {sorted(keys)}; each group needs exactly 'params' "
                "and 'lr'."
            )
        if group["params"] is None:
            raise CaseFailure(
                f"group {index}'s 'params' must be a list of the model's parameters; it is "
                f"{group.get('params_answer', 'missing')}."
            )


def _each_trainable_parameter_once(
    groups: list[dict], names: list[str], trainable: set[str]
) -> None:
    """The head's parameters in the first group, the other trainable ones in the second,
    each once, and no frozen one."""
    head_group, backbone_group = (
        ["?" if n is None else n for n in group["params"]] for group in groups
    )
    expected_head = [n for n in names if n.startswith("_fc.")]
    expected_backbone = [n for n in names if n in trainable and not n.startswith("_fc.")]
    everything = head_group + backbone_group
    if "?" in everything:
        raise CaseFailure("a group holds something that is not a parameter of the model.")
    duplicated = sorted({n for n in everything if everything.count(n) > 1})
    if duplicated:
        raise CaseFailure(
            f"{len(duplicated)} parameter(s) are in more than one group or twice in one: "
            f"{_names(duplicated)}.",
            Hint(
                "head_twice",
                "leave the head's parameters out of the backbone group (compare with id(p), or "
                "with the names of model.named_parameters()).",
            ),
        )
    frozen = sorted(n for n in everything if n not in expected_head + expected_backbone)
    if frozen:
        raise CaseFailure(
            f"{len(frozen)} frozen parameter(s) are in a group: {_names(frozen)}.",
            Hint(
                "includes_frozen",
                "keep only parameters with p.requires_grad; the optimiser has no business with "
                "frozen ones (and weight decay would still shrink them).",
            ),
        )
    if set(head_group) != set(expected_head) and set(backbone_group) == set(expected_head):
        raise CaseFailure(
            "the groups are in the wrong order: the head's group comes first, then the backbone's."
        )
    if set(head_group) != set(expected_head):
        raise CaseFailure(
            f"the first group must hold exactly the head's parameters {expected_head}; it "
            f"holds {_names(head_group)}."
        )
    if set(backbone_group) != set(expected_backbone):
        missing = sorted(set(expected_backbone) - set(backbone_group))
        raise CaseFailure(
            f"the backbone group misses {len(missing)} trainable parameter(s): {_names(missing)}."
        )


def _learning_rates(groups: list[dict], lr: float, factor: float) -> None:
    """lr for the head, lr * backbone_factor for the backbone."""
    rates = []
    for index, group in enumerate(groups):
        rate = group["values"]["lr"]
        if "number" not in rate:
            raise CaseFailure(
                f"the 'lr' of group {index} is {rate['answer']}; a learning rate is a number."
            )
        rates.append(rate["number"])
    head_lr, backbone_lr = rates
    if np.isclose(head_lr, lr, rtol=1e-12) and np.isclose(backbone_lr, lr * factor, rtol=1e-12):
        return
    hint = None
    if np.isclose(head_lr, lr * factor) and np.isclose(backbone_lr, lr):
        hint = Hint(
            "lr_swapped",
            "the learning rates are swapped: the new head learns fast (lr), the pretrained "
            "backbone slowly (lr * backbone_factor), so that fine-tuning does not wreck what "
            "it learned on ImageNet.",
        )
    raise CaseFailure(
        f"learning rates {head_lr:g} (head) and {backbone_lr:g} (backbone), expected "
        f"{lr:g} and {lr * factor:g}.",
        hint,
    )


def _grouped_right(attempt: Attempt, case: Case) -> None:
    """Two groups, [head at lr, the other trainable parameters at lr * backbone_factor]."""
    groups, names, trainable = _groups_returned(attempt, case)
    _two_groups_of_params_and_lr(groups)
    _each_trainable_parameter_once(groups, names, trainable)
    _learning_rates(groups, lr=case.args[2], factor=case.args[3])


PARAM_GROUPS = Exercise(
    "param_groups",
    args=("model", "num_blocks", "lr", "backbone_factor"),
    public=_groups_cases,
    hidden=_hidden_groups_cases,
    judge=_grouped_right,
    numpy_only=False,
)


@check
def check_param_groups(param_groups: Callable, cases: str = "public") -> CheckResult:
    """Check ``param_groups(model, lr, backbone_factor=0.1)``: [head at lr, the other trainable
    parameters at lr * backbone_factor], frozen ones left out, each parameter once."""
    return PARAM_GROUPS.run(cases, param_groups)
