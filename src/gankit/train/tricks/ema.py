"""The trick ``ema``: an exponential moving average of G's weights (gankit.train.ema) with a half-life of
``train.ema_half_life_kimg`` thousand images, ramped to ``train.ema_half_life_final_kimg``, updated after every
step; pictures and evaluation use it. Checkpoints keep it as ``G_ema.*`` (G's frozen parameters left out)."""

from __future__ import annotations

import torch

from ..ema import EMA
from ..frozen import frozen_record, with_frozen, without_frozen
from .base import Context, Ramp, Stats, StepDone, Trick


class EmaTrick(Trick):
    checkpoint_key = "G_ema"

    @classmethod
    def build(cls, ctx: Context) -> "EmaTrick | None":
        t = ctx.cfg.train
        if t.ema_half_life_kimg <= 0:
            return None
        return cls(ctx.G, t.ema_half_life_kimg, t.ema_half_life_final_kimg, t.ema_rampup)

    def __init__(
        self, G: torch.nn.Module, kimg: float, final_kimg: float | None, rampup: float | None
    ) -> None:
        """The EMA of ``G`` with a half-life of ``kimg`` thousand images (ramped to ``final_kimg``; None: constant)
        and ``rampup`` (gankit.train.ema.EMA)."""
        self.ema = EMA(G, half_life_img=1000 * kimg, rampup=rampup)
        self.record = frozen_record(G)
        self.start, self.final = kimg, final_kimg
        # host-side (the EMA runs outside the step), float64: the ramp's value exactly
        self.half_life_kimg = torch.tensor(kimg, dtype=torch.float64)

    @property
    def shadow(self) -> torch.nn.Module:
        return self.ema.shadow

    def ramps(self) -> list[Ramp]:
        if self.final is None:
            return []
        return [Ramp("ema_half_life_kimg", self.start, self.final, self.half_life_kimg)]

    def after_step(self, s: StepDone) -> Stats:
        if self.final is not None:
            self.ema.half_life_img = 1000 * self.half_life_kimg.item()
        self.ema.update(s.G, s.batch_size, s.nimg)
        return {}

    def state_dict(self) -> dict[str, torch.Tensor]:
        return without_frozen(self.ema.state_dict(), self.record)

    def load_state_dict(self, tensors: dict[str, torch.Tensor]) -> None:
        self.ema.load_state_dict(with_frozen(self.ema.shadow, tensors, self.record))
