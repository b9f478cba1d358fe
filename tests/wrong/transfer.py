"""Deliberately wrong implementations of notebook 06's transfer-learning functions, one per
common mistake.

Each must FAIL its check, and the check's hint must name the mistake
(tests/unit/test_checks_transfer.py).
"""

from torch import nn


def replace_head_no_return(model, num_classes):
    model._fc = nn.Linear(model._fc.in_features, num_classes)


def replace_head_hard_coded_features(model, num_classes):
    model._fc = nn.Linear(1280, num_classes)
    return model


def replace_head_frozen(model, num_classes):
    model._fc = nn.Linear(model._fc.in_features, num_classes)
    model._fc.requires_grad_(False)
    return model


def replace_head_appends_layer(model, num_classes):
    model._fc = nn.Sequential(model._fc, nn.Linear(model._fc.out_features, num_classes))
    return model


def _set(model, blocks, top_layers=True, head=True, freeze=True):
    if freeze:
        for p in model.parameters():
            p.requires_grad = False
    modules = [model._fc] if head else []
    modules += list(blocks)
    if blocks and top_layers:
        modules += [model._conv_head, model._bn1]
    for module in modules:
        for p in module.parameters():
            p.requires_grad = True
    return model


def set_trainable_first_blocks(model, num_blocks):
    return _set(model, model._blocks[:num_blocks])


def set_trainable_forgets_top_layers(model, num_blocks):
    return _set(model, model._blocks[len(model._blocks) - num_blocks :], top_layers=False)


def set_trainable_head_frozen(model, num_blocks):
    return _set(model, model._blocks[len(model._blocks) - num_blocks :], head=False)


def set_trainable_off_by_one(model, num_blocks):
    if not 0 <= num_blocks <= len(model._blocks):
        raise ValueError(f"num_blocks out of range: {num_blocks}")
    first = max(0, len(model._blocks) - num_blocks - 1) if num_blocks else len(model._blocks)
    return _set(model, model._blocks[first:])


def set_trainable_never_freezes(model, num_blocks):
    return _set(model, model._blocks[len(model._blocks) - num_blocks :], freeze=False)


def set_trainable_no_range_check(model, num_blocks):
    return _set(
        model, model._blocks[max(0, len(model._blocks) - num_blocks) :] if num_blocks > 0 else []
    )


def param_groups_lr_swapped(model, lr, backbone_factor=0.1):
    head_ids = {id(p) for p in model._fc.parameters()}
    head = [p for p in model._fc.parameters() if p.requires_grad]
    backbone = [p for p in model.parameters() if p.requires_grad and id(p) not in head_ids]
    return [{"params": head, "lr": lr * backbone_factor}, {"params": backbone, "lr": lr}]


def param_groups_includes_frozen(model, lr, backbone_factor=0.1):
    head_ids = {id(p) for p in model._fc.parameters()}
    backbone = [p for p in model.parameters() if id(p) not in head_ids]
    return [
        {"params": list(model._fc.parameters()), "lr": lr},
        {"params": backbone, "lr": lr * backbone_factor},
    ]


def param_groups_head_twice(model, lr, backbone_factor=0.1):
    trainable = [p for p in model.parameters() if p.requires_grad]
    return [
        {"params": list(model._fc.parameters()), "lr": lr},
        {"params": trainable, "lr": lr * backbone_factor},
    ]


def param_groups_generators(model, lr, backbone_factor=0.1):
    return {"params": model.parameters(), "lr": lr}
