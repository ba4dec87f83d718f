"""Spectral normalisation of weights (Miyato et al. 2018, "Spectral Normalization for Generative Adversarial
Networks", ICLR).

Each weight W is replaced by W / σ(W), where σ(W) is the largest singular value of W reshaped to a matrix
[out, in·kh·kw], estimated by power iteration (one step per forward pass in train mode, persistent u/v vectors).
This bounds the Lipschitz constant of each layer by 1. Uses `torch.nn.utils.parametrizations.spectral_norm`.
"""

from __future__ import annotations

from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm

__all__ = ["apply_spectral_norm"]

_WRAPPED = (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)


def apply_spectral_norm(module: nn.Module, *, n_power_iterations: int = 1) -> nn.Module:
    """Wrap the `weight` of every nn.Linear / nn.Conv2d / nn.ConvTranspose2d inside `module` (in place).

    ConvTranspose2d weights are [in, out, kh, kw], so their output dimension is dim=1. Layers already
    parametrised with spectral norm, and layers whose weight is frozen (``requires_grad=False``), are left alone.
    Returns `module` (unchanged if it holds no such layer).
    """
    if n_power_iterations < 1:
        raise ValueError(f"n_power_iterations must be >= 1, got {n_power_iterations!r}")
    for sub in list(module.modules()):
        if not isinstance(sub, _WRAPPED) or getattr(sub, "weight", None) is None:
            continue
        if parametrize.is_parametrized(sub, "weight") or not sub.weight.requires_grad:
            continue
        dim = 1 if isinstance(sub, nn.ConvTranspose2d) else 0
        spectral_norm(sub, name="weight", n_power_iterations=n_power_iterations, dim=dim)
    return module
