"""The same values in other memory layouts, for the tests that a layer does not assume a
contiguous NCHW tensor."""

from __future__ import annotations

import torch


def other_layouts(t: torch.Tensor) -> dict[str, torch.Tensor]:
    """``t``'s (N, C, H, W) values in non-contiguous layouts: channels last, H and W swapped in
    memory, and every other column of a tensor twice as wide."""
    wide = torch.zeros(*t.shape[:3], 2 * t.shape[3], dtype=t.dtype)
    wide[..., ::2] = t
    return {
        "channels_last": t.contiguous(memory_format=torch.channels_last),
        "transposed": t.transpose(2, 3).contiguous().transpose(2, 3),
        "every_other_column": wide[..., ::2],
    }
