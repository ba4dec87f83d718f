"""The trick ``penalty``: D's gradient penalty as the training step adds it, the WGAN-GP, DRAGAN, R1 and R2 terms
whose weights are set, with their random points drawn as the global batch's."""

from __future__ import annotations

from typing import Callable

import torch

from ...config import ObjectiveConfig
from ...regularizers import dragan_penalty, gradient_penalty, r1_penalty, r2_penalty
from ..distributed import Ranks
from .base import Context, DUpdate, Ramp, Stats, Trick

# penalty(critic, real, fake) → scalar, critic: x ↦ D's logits
Penalty = Callable[[Callable, torch.Tensor, torch.Tensor], torch.Tensor]


def global_rows(
    generator: torch.Generator, shape: tuple[int, ...], like: torch.Tensor, ranks: Ranks
) -> torch.Tensor:
    """U[0, 1) draws of shape ``shape`` (this rank's batch) taken as this rank's rows of the global batch's
    (``ranks.world`` × ``shape[0]`` rows), so W ranks draw what one process draws; ``like``'s device and dtype."""
    rows = ranks.local_slice(ranks.world * shape[0])
    drawn = torch.rand(
        (ranks.world * shape[0], *shape[1:]),
        generator=generator,
        device=like.device,
        dtype=like.dtype,
    )
    return drawn[rows]


def penalty(
    o: ObjectiveConfig, generator: torch.Generator, device: torch.device, ranks: Ranks = Ranks()
) -> Penalty | None:
    """D's gradient penalty ``penalty(D, real, fake)`` → scalar: the sum of the WGAN-GP, DRAGAN, R1 and R2 terms
    whose weights are set; None when none is. The random points are the global batch's draws from ``generator``
    (:func:`global_rows`; DRAGAN's std stays the local batch's)."""
    if not o.penalised:
        return None

    def uniform(shape: tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
        return global_rows(generator, shape, like, ranks)

    def per_sample(x: torch.Tensor) -> tuple[int, ...]:
        return (len(x),) + (1,) * (x.dim() - 1)

    terms: list[Callable[[Callable, torch.Tensor, torch.Tensor], torch.Tensor]] = []
    if o.gp:
        terms.append(
            lambda D, r, f: gradient_penalty(D, r, f, weight=o.gp, alpha=uniform(per_sample(r), r))
        )
    if o.dragan:
        terms.append(lambda D, r, f: dragan_penalty(D, r, weight=o.dragan, u=uniform(r.shape, r)))
    if o.r1:
        terms.append(lambda D, r, f: r1_penalty(D, r, gamma=o.r1))
    if o.r2:
        terms.append(lambda D, r, f: r2_penalty(D, f, gamma=o.r2))

    def total(D: Callable, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        out = torch.zeros((), device=device)
        for term in terms:
            out = out + term(D, real, fake)
        return out

    return total


class PenaltyTrick(Trick):
    """The penalties of ``objective`` (gp, dragan, r1, r2) added to D's loss every ``objective.reg_every`` D
    updates, × that interval (lazy regularisation) and × a scale ramped to ``objective.penalty_final``; its random
    points from the ``reg`` stream. Reported as ``penalty`` (the scaled sum, before the interval's factor)."""

    stream = "reg"

    @classmethod
    def build(cls, ctx: Context) -> "PenaltyTrick | None":
        o = ctx.cfg.objective
        if not o.penalised:
            return None
        terms = penalty(o, ctx.generator(cls.stream), ctx.device, ctx.ranks)
        return cls(terms, o.reg_every, o.penalty_final, ctx.device)

    def __init__(
        self,
        terms: Penalty,
        every: int = 1,
        final: float | None = None,
        device: torch.device | str = "cpu",
    ) -> None:
        """``terms(critic, real, fake)`` → the penalty; ``every``: lazy regularisation's interval; ``final``: the
        scale's ramp end (None: × 1 throughout)."""
        self.penalty, self.every, self.final = terms, every, final
        self.scale = None if final is None else torch.tensor(1.0, device=device)

    def ramps(self) -> list[Ramp]:
        return [] if self.scale is None else [Ramp("penalty_scale", 1.0, self.final, self.scale)]

    def d_term(self, u: DUpdate) -> tuple[torch.Tensor | None, Stats]:
        if u.d_updates % self.every:
            return None, {}
        value = self.penalty(u.critic, u.real, u.fake.float())
        if self.scale is not None:
            value = value * self.scale
        return self.every * value, {"penalty": value.detach()}
