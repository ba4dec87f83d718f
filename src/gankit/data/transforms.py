"""The one place where data meets a model's range (DESIGN §2).

``unit``: [0, 1] (the paper's sigmoid generator); ``symmetric``: [-1, 1] (tanh generators); ``none``: toy points.
"""

from __future__ import annotations

import torch

RANGES = ("unit", "symmetric", "none")


def to_model_range(x: torch.Tensor, value_range: str) -> torch.Tensor:
    """uint8 [N, C, H, W] in 0..255 → float32 in ``value_range``; float points pass through unchanged."""
    if x.dtype != torch.uint8 or value_range == "none":
        return x.float()
    x = x.float() / 255.0
    return x * 2.0 - 1.0 if value_range == "symmetric" else x


def to_uint8(x: torch.Tensor, value_range: str) -> torch.Tensor:
    """Model output in ``value_range`` → uint8 0..255 (rounded, clamped); inverse of :func:`to_model_range`."""
    if value_range == "symmetric":
        x = (x + 1.0) / 2.0
    return (x.clamp(0.0, 1.0) * 255.0).round().to(torch.uint8)
