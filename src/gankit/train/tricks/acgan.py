"""The trick ``acgan``: AC-GAN's auxiliary classifier (Odena et al. 2017). A conditional D with
``forward_with_classes`` also predicts each sample's class; ``objective.ac_weight`` × the cross-entropy of those
predictions against the labels joins D's loss (real and generated samples) and G's (generated ones)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .base import Context, DUpdate, GUpdate, Stats, Trick


class AcGan(Trick):
    @classmethod
    def build(cls, ctx: Context) -> "AcGan | None":
        classify = hasattr(ctx.D, "forward_with_classes") and ctx.G.num_classes > 0
        return cls(ctx.cfg.objective.ac_weight) if classify else None

    def __init__(self, weight: float) -> None:
        self.weight = weight

    def d_term(self, u: DUpdate) -> tuple[torch.Tensor | None, Stats]:
        real = F.cross_entropy(u.real_out.classes, u.y)
        fake = F.cross_entropy(u.fake_out.classes, u.y)
        return self.weight * (real + fake), {"d_class_loss": real.detach()}

    def g_term(self, u: GUpdate) -> tuple[torch.Tensor | None, Stats]:
        fake = F.cross_entropy(u.fake_out.classes, u.y)
        return self.weight * fake, {"g_class_loss": fake.detach()}
