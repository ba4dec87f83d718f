"""What one iteration of Algorithm 1 draws: minibatches of the training data, noise, and the G step's labels."""

from __future__ import annotations

from typing import Callable

import torch

from ..models import Generator
from .sampler import MinibatchSampler
from .training_data import TrainingData


class Batches:
    """Draws on the training device, all from the run's own generators.

    ``real()`` → (x [m, ...] in G's value range and the planned memory format (``fmt``), labels int64 [m] or None)
    at the sampler's next indices into the training ``data``; ``noise()`` → z [m, z_dim] from G's prior and the noise
    stream;
    ``labels()`` → the G step's labels int64 [m], drawn from the training set's class frequencies ``class_freq`` [C]
    with the noise stream (None when unconditional). Every process draws the global batch and keeps its rows
    ``rows`` of it (``gankit.train.distributed``), so W processes draw what one process would.
    """

    def __init__(
        self,
        data: TrainingData,
        G: Generator,
        sampler: MinibatchSampler,
        noise: torch.Generator,
        rows: slice,
        fmt: Callable[[torch.Tensor], torch.Tensor],
    ) -> None:
        self.data, self.class_freq, self.device, self.G, self.sampler = (
            data,
            data.class_freq,
            data.device,
            G,
            sampler,
        )
        self.noise_gen, self.rows, self.format = noise, rows, fmt

    def at(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The batch at indices ``idx`` (int64 [m] on the device): (x, labels), as :meth:`real` returns them."""
        return self.format(self.data.take(idx)), self.data.labels(idx)

    def real(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self.at(self.sampler.next()[self.rows])

    def noise(self) -> torch.Tensor:
        return self.G.sample_z(self.sampler.m, generator=self.noise_gen, device=self.device)[
            self.rows
        ]

    def labels(self) -> torch.Tensor | None:
        if self.class_freq is None:
            return None
        return torch.multinomial(
            self.class_freq, self.sampler.m, replacement=True, generator=self.noise_gen
        )[self.rows]
