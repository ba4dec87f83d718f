"""The device a run names (``train.device``), for training and for `gankit eval` alike."""

from __future__ import annotations

import torch

from ..errors import ConfigError


def resolve_device(name: str) -> torch.device:
    """``auto`` → cuda if present, else cpu; asking for cuda without one is an error, never a silent fallback."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            "train.device: cuda was asked for but no CUDA device is available (use auto or cpu)"
        )
    return torch.device(name)
