"""What one iteration of Algorithm 1 draws: minibatches of the training data, noise, and the G step's labels."""

from __future__ import annotations

from typing import Callable

import torch

from ..models import Generator
from .sampler import MinibatchSampler


class Batches:
    """Draws on the training device, all from the run's own generators.

    ``real()`` → (x [m, ...] in the planned memory format (``fmt``), labels int64 [m] or None) at the sampler's next
    indices into ``x`` [N, ...] / ``y`` [N]; ``noise()`` → z [m, z_dim] from G's prior and the noise stream;
    ``labels()`` → the G step's labels int64 [m], drawn from the training set's class frequencies ``class_freq`` [C]
    with the noise stream (None when unconditional). Every process draws the global batch and keeps its rows
    ``rows`` of it (``gankit.train.distributed``), so W processes draw what one process would.
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor | None, class_freq: torch.Tensor | None, G: Generator,
                 sampler: MinibatchSampler, noise: torch.Generator, rows: slice,
                 fmt: Callable[[torch.Tensor], torch.Tensor]) -> None:
        self.x, self.y, self.class_freq, self.G, self.sampler = x, y, class_freq, G, sampler
        self.noise_gen, self.rows, self.format = noise, rows, fmt

    def real(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        idx = self.sampler.next()[self.rows]
        return self.format(self.x[idx]), (self.y[idx] if self.y is not None else None)

    def noise(self) -> torch.Tensor:
        return self.G.sample_z(self.sampler.m, generator=self.noise_gen, device=self.x.device)[self.rows]

    def labels(self) -> torch.Tensor | None:
        if self.class_freq is None:
            return None
        return torch.multinomial(self.class_freq, self.sampler.m, replacement=True,
                                 generator=self.noise_gen)[self.rows]
