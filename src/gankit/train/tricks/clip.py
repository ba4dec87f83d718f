"""The trick ``clip``: WGAN's weight clipping (Arjovsky et al. 2017), D's parameters clamped to
[−``objective.clip``, ``objective.clip``] after every D update (frozen ones left alone)."""

from __future__ import annotations

from ...regularizers import clip_weights_
from .base import Context, DUpdate, Trick


class Clip(Trick):
    @classmethod
    def build(cls, ctx: Context) -> "Clip | None":
        return cls(ctx.cfg.objective.clip) if ctx.cfg.objective.clip > 0 else None

    def __init__(self, bound: float) -> None:
        self.bound = bound

    def d_updated(self, u: DUpdate) -> None:
        clip_weights_(u.D, self.bound)
