"""The augmentation of what D sees as the training step applies it (gankit.augment's policies, each image
augmented with a probability, the draws those of the global batch)."""

from __future__ import annotations

import torch

from ..augment import check_policy, diff_augment, draw_params
from ..config import TrainConfig
from .algorithm import Augment
from .distributed import Ranks


def augmentation(
    t: TrainConfig,
    generator: torch.Generator,
    probability: torch.Tensor | None,
    sample_shape: tuple[int, ...],
    ranks: Ranks = Ranks(),
) -> Augment | None:
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
