"""Minibatch indices drawn on the data's device: epoch-wise shuffles, no DataLoader, no per-sample Python."""

from __future__ import annotations

import torch


class MinibatchSampler:
    """Yields int64 [m] indices into a dataset of ``n`` samples; a new permutation each epoch.

    A final partial batch is dropped (the next batch starts a new epoch). The permutation and cursor are part of
    the checkpoint; the ``generator`` state is saved by the caller.
    """

    def __init__(self, n: int, m: int, generator: torch.Generator, device: torch.device) -> None:
        if m > n:
            raise ValueError(f"train.batch_size {m} is larger than the training set ({n} samples)")
        self.n, self.m, self.generator, self.device = n, m, generator, device
        self.perm = torch.empty(0, dtype=torch.int64, device=device)
        self.cursor = 0

    def next(self) -> torch.Tensor:
        if self.cursor + self.m > len(self.perm):
            self.perm = torch.randperm(self.n, generator=self.generator, device=self.device)
            self.cursor = 0
        idx = self.perm[self.cursor : self.cursor + self.m]
        self.cursor += self.m
        return idx

    def state(self) -> tuple[torch.Tensor, int]:
        return self.perm, self.cursor

    def restore(self, perm: torch.Tensor, cursor: int) -> None:
        self.perm, self.cursor = perm.to(self.device), int(cursor)
