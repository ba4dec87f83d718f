"""The trick ``augment``: what D sees augmented as the training step applies it (gankit.augment's policies, each
image augmented with a probability, the draws those of the global batch)."""

from __future__ import annotations

from typing import Callable

import torch

from ...augment import check_policy, diff_augment, draw_params
from ...config import TrainConfig
from ..distributed import Ranks
from .base import Context, Ramp, Trick

Augmentation = Callable[
    [torch.Tensor, torch.Tensor | None], tuple[torch.Tensor, torch.Tensor | None]
]


def augmentation(
    t: TrainConfig,
    generator: torch.Generator,
    probability: torch.Tensor | None,
    sample_shape: tuple[int, ...],
    ranks: Ranks = Ranks(),
) -> Augmentation | None:
    """The augmentation of what D sees (gankit.augment), ``augment(a, b)`` → (a', b'), draws from ``generator``;
    ``train.augment_shared``: one draw for both batches. ``probability`` (0-d tensor, written in place by the
    schedules or ADA; None: every image): each image is augmented (the whole policy) with this probability. Like the
    noise, the draws are those of the global batch (``ranks.world`` × the local one) and each rank keeps its rows,
    so W ranks augment as one process does. None when ``train.augment`` is empty; a ConfigError when the policy cannot
    take samples of ``sample_shape``."""
    if not t.augment:
        return None
    check_policy(t.augment, sample_shape)

    def some(x: torch.Tensor, params: dict | None) -> tuple[torch.Tensor, dict]:
        rows = ranks.local_slice(ranks.world * len(x))
        if params is None:
            drawn = draw_params(t.augment, x, generator=generator, n=ranks.world * len(x))
            params = {key: value[rows] for key, value in drawn.items()}
        out = diff_augment(x, t.augment, params=params)[0]
        if probability is None:
            return out, params
        keep = torch.rand(ranks.world * len(x), generator=generator, device=x.device)[rows]
        keep = keep >= probability
        return torch.where(keep.view(-1, *[1] * (x.dim() - 1)), x, out), params

    def augment(
        a: torch.Tensor, b: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        a, params = some(a, None)
        if b is not None:
            b = some(b, params if t.augment_shared else None)[0]
        return a, b

    return augment


class Augment(Trick):
    """Augmentation of what D sees (``train.augment``), each image with probability ``p`` (``train.augment_p``,
    ramped to ``train.augment_p_final``; with ADA, from 0 as ADA sets it); draws from the ``aug`` stream."""

    stream = "aug"

    @classmethod
    def build(cls, ctx: Context) -> "Augment | None":
        t = ctx.cfg.train
        if not t.augment:
            return None
        adapted = t.ada_target is not None
        ramped = not adapted and (t.augment_p < 1 or t.augment_p_final is not None)
        # the probability as a 0-d tensor when the schedules or ADA move it, else None: every image
        start = 0.0 if adapted else t.augment_p
        p = torch.tensor(start, device=ctx.device) if ramped or adapted else None
        augment = augmentation(t, ctx.generator(cls.stream), p, ctx.G.out_shape, ctx.ranks)
        return cls(augment, p, (t.augment_p, t.augment_p_final) if ramped else None)

    def __init__(
        self,
        augment: Augmentation,
        p: torch.Tensor | None = None,
        ramp: tuple[float, float | None] | None = None,
    ) -> None:
        """``augment(a, b)`` → (a', b') (:func:`augmentation`); ``p``: the probability it reads (0-d; None: every
        image); ``ramp``: (start, final) the schedules move p along (None: p stays, or ADA moves it)."""
        self.augment, self.p, self.ramp = augment, p, ramp

    def ramps(self) -> list[Ramp]:
        return [] if self.ramp is None else [Ramp("augment_p", *self.ramp, self.p)]

    def d_sees(
        self, a: torch.Tensor, b: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self.augment(a, b)
