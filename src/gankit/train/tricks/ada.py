"""The trick ``ada``: adaptive discriminator augmentation (ADA; Karras et al. 2020, "Training Generative Adversarial
Networks with Limited Data", NeurIPS): the probability p that an image D sees is augmented follows D's overfitting.

Every D update adds the signs of D's logits on its (augmented) real batch to a device accumulator. After every
``train.ada_interval`` D updates (rounded up to whole generator steps of ``train.k`` updates) the controller takes
the overfitting heuristic r_t = E[sign(D(x_real))] over the updates since the last adjustment and moves p:

    p ← clamp(p + sign(r_t − target) · n / (1000 · ada_kimg), 0, 1)

with n the real images D judged since then, so that p can cross [0, 1] in ``ada_kimg`` thousand images. p starts
at 0. All of it runs on the device without a host sync (a captured CUDA graph reads p in place); with several
processes the sums are added over ranks first, so every rank holds the same p. A logit above 0 says "real" for the
objectives ``gan`` and ``hinge`` alone, so ADA runs with those.
"""

from __future__ import annotations

import math
from typing import Callable

import torch

from ...errors import ConfigError
from ...objectives import objectives, resolve_objective
from .base import Context, DUpdate, Stats, StepDone, Trick


class AdaController:
    """p (``p``, 0-d float32 on ``device``, the probability the augmentation reads), the sums of the D updates since
    the last adjustment (``signs``, [2]: Σ sign(D(x_real)), how many) and the last adjustment's r_t (``rt``)."""

    def __init__(
        self,
        target: float,
        kimg: float,
        interval: int,
        k: int,
        device: torch.device,
        p: torch.Tensor | None = None,
    ) -> None:
        self.target, self.rate = target, 1.0 / (1000.0 * kimg)
        self.every = math.ceil(interval / k)  # generator steps between adjustments
        self.p = torch.zeros((), device=device) if p is None else p  # the augmentation's, from 0
        self.signs = torch.zeros(2, device=device)
        self.rt = torch.zeros((), device=device)

    def due(self, step: int) -> bool:
        """Whether p is adjusted after generator step ``step`` (1 = the first)."""
        return step % self.every == 0

    def adjust(self, add_up: Callable[[torch.Tensor], torch.Tensor] = lambda t: t) -> None:
        """One adjustment of p from the sums since the last (``add_up`` sums a tensor over ranks in place); the
        sums start again from 0."""
        sums = add_up(self.signs.clone())
        rt = sums[0] / sums[1].clamp(min=1.0)
        self.p.copy_((self.p + torch.sign(rt - self.target) * sums[1] * self.rate).clamp(0.0, 1.0))
        self.rt.copy_(rt)
        self.signs.zero_()

    def stats(self) -> dict[str, torch.Tensor]:
        """For the metrics row: ``augment_p`` (p now) and ``ada_rt`` (r_t of the last adjustment), 0-d copies."""
        return {"augment_p": self.p.clone(), "ada_rt": self.rt.clone()}

    def state_dict(self) -> dict[str, torch.Tensor]:
        """p, the sums since the last adjustment and the last r_t (the tensors themselves)."""
        return {"p": self.p, "signs": self.signs, "rt": self.rt}

    def load_state_dict(self, tensors: dict[str, torch.Tensor]) -> None:
        """The inverse of :meth:`state_dict` (copied in place: a captured CUDA graph keeps reading the same p)."""
        for name, t in self.state_dict().items():
            t.copy_(tensors[name])


class Ada(Trick):
    """ADA as a trick: counts the signs of D's logits on each real batch (:meth:`d_updated`), adjusts the ``augment``
    trick's probability when due (:meth:`after_step`) and keeps p and its sums in checkpoints (``ada.*``)."""

    checkpoint_key = "ada"

    @classmethod
    def build(cls, ctx: Context) -> "Ada | None":
        """None when ``train.ada_target`` is null; a ConfigError for an objective whose D output has no side that
        means real."""
        t, loss = ctx.cfg.train, ctx.cfg.objective.loss
        if t.ada_target is None:
            return None
        if not resolve_objective(loss).real_above_zero:
            signed = [name for name, o in objectives().items() if o.real_above_zero]
            raise ConfigError(
                f"train.ada_target reads sign(D(x_real)), which means real above 0 only for objective.loss "
                f"{' or '.join(signed)}; got {loss}"
            )
        p = ctx.built["augment"].p
        return cls(AdaController(t.ada_target, t.ada_kimg, t.ada_interval, t.k, ctx.device, p))

    def __init__(self, control: AdaController) -> None:
        self.control = control

    def d_updated(self, u: DUpdate) -> None:
        signs = self.control.signs
        signs[0].add_(u.real_out.logits.detach().sign().sum())
        signs[1].add_(u.real_out.logits.numel())

    def after_step(self, s: StepDone) -> Stats:
        if self.control.due(s.step):
            self.control.adjust(s.add_up)
        return self.control.stats() if s.logged else {}  # p and r_t as they are after the step

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.control.state_dict()

    def load_state_dict(self, tensors: dict[str, torch.Tensor]) -> None:
        self.control.load_state_dict(tensors)
