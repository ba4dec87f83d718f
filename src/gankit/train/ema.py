"""Exponential moving average of the generator's weights.

Follows the convention of Karras et al. 2018 ("Progressive Growing of GANs", ICLR) and Karras et al. 2020
("Training Generative Adversarial Networks with Limited Data", NeurIPS): the decay is specified as a *half-life
measured in images*, so that it does not depend on the batch size, with an optional ramp-up that shortens the
half-life early in training (h = min(half_life_img, nimg · rampup)). Per update of `batch_size` images

    β = 0.5 ** (batch_size / h),        shadow ← β · shadow + (1 − β) · param.

After `half_life_img / batch_size` updates (no ramp-up) the initial shadow value carries weight β^n = ½.
Buffers (e.g. BatchNorm running statistics) are copied, not averaged.
"""

from __future__ import annotations

import copy
from typing import Any, Mapping

import torch
from torch import nn

__all__ = ["EMA"]


class EMA:
    """Shadow copy of `model` whose parameters track an exponential moving average of the model's.

    Args:
        model: the module to track (typically G). It is deep-copied; the copy is put in eval mode with
            `requires_grad=False` and lives on the same device/dtype as `model`.
        half_life_img: half-life of the average, in images (> 0).
        rampup: if not None/0, the half-life is capped at `nimg · rampup` (Karras et al. 2020 use 0.05).
    """

    def __init__(
        self, model: nn.Module, *, half_life_img: float, rampup: float | None = 0.05
    ) -> None:
        if not half_life_img > 0:
            raise ValueError(f"half_life_img must be > 0, got {half_life_img!r}")
        if rampup is not None and rampup < 0:
            raise ValueError(f"rampup must be None or >= 0, got {rampup!r}")
        self.half_life_img = float(half_life_img)
        self.rampup = rampup
        self.shadow: nn.Module = copy.deepcopy(model).eval()
        self.shadow.requires_grad_(False)

    def beta(self, batch_size: int, nimg: int) -> float:
        """Decay factor β ∈ [0, 1) for one update of `batch_size` images when `nimg` images have been shown."""
        h = self.half_life_img
        if self.rampup:
            h = min(h, nimg * self.rampup)
        return 0.5 ** (batch_size / max(h, 1e-8))

    @torch.no_grad()
    def update(self, model: nn.Module, batch_size: int, nimg: int) -> None:
        """shadow ← β·shadow + (1−β)·model for parameters; buffers copied. `model` must match the shadow's structure."""
        beta = self.beta(batch_size, nimg)
        src = [p.detach() for p in model.parameters()]
        dst = list(self.shadow.parameters())
        if len(src) != len(dst):
            raise ValueError(f"model has {len(src)} parameters, EMA shadow has {len(dst)}")
        if dst:
            torch._foreach_lerp_(dst, src, 1.0 - beta)
        for b_dst, b_src in zip(self.shadow.buffers(), model.buffers()):
            b_dst.copy_(b_src)

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The shadow module's state dict (parameters and buffers), for checkpoints."""
        return self.shadow.state_dict()

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True) -> Any:
        """Load a state dict produced by `state_dict()` into the shadow."""
        return self.shadow.load_state_dict(state_dict, strict=strict)
