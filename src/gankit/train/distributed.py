"""Data-parallel Algorithm 1 across processes (torchrun): one process per device, the global minibatch split
across ranks, gradients averaged before every optimiser step, rank 0 alone writing the run folder.

Every rank draws the *global* minibatch indices, noise, augmentation draws and penalty points from identically
seeded generators and keeps its slice (rank r: rows r·m/W … (r+1)·m/W − 1), so W processes compute the same update
as one process with the same global batch and noise, up to floating-point reduction order. Gradients are averaged
with one flat all-reduce per player and step (not DistributedDataParallel's hooks: D is frozen during G's step and
gradient penalties take a double backward, which DDP's reducer does not follow). Backend: nccl on CUDA, gloo on CPU.

Joining the process group (and, on CUDA, selecting the rank's device) changes the process for good: it is the one
process-wide effect of a Trainer, and why a torchrun process trains one run.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn
from torch._utils import _flatten_dense_tensors, _unflatten_dense_tensors

from ..errors import ConfigError


@dataclass(frozen=True)
class Ranks:
    """This process's place among the run's ``world`` processes, and its ``device``. With one process (world 1)
    every collective below is the identity and costs nothing, so the training loop calls them unconditionally."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def active(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        """Rank 0, which alone writes the run folder and speaks for the run."""
        return self.rank == 0

    def local_slice(self, global_batch: int) -> slice:
        """Rows of the global batch this rank computes on."""
        if global_batch % self.world:
            raise ConfigError(
                f"train.batch_size {global_batch} is not divisible by the {self.world} processes"
            )
        m = global_batch // self.world
        return slice(self.rank * m, (self.rank + 1) * m)

    def average_gradients(self, module: nn.Module) -> None:
        """Replace every gradient of ``module`` by its mean over ranks (one flat all-reduce)."""
        grads = [p.grad for p in module.parameters() if p.grad is not None]
        if not self.active or not grads:
            return
        flat = _flatten_dense_tensors(grads)
        dist.all_reduce(flat)
        flat /= self.world
        for g, averaged in zip(grads, _unflatten_dense_tensors(flat, grads)):
            g.copy_(averaged)

    def add_up(self, t: torch.Tensor) -> torch.Tensor:
        """``t`` (on this rank's device) replaced by its sum over ranks, in place and without a host sync."""
        if self.active:
            dist.all_reduce(t)
        return t

    def mean(self, values: dict[str, float]) -> dict[str, float]:
        """Each value averaged over ranks (all ranks must call this with the same keys, in the same order)."""
        if not self.active or not values:
            return values
        t = torch.tensor(list(values.values()), dtype=torch.float64, device=self.device)
        dist.all_reduce(t)
        return dict(zip(values, (t / self.world).tolist()))

    def largest(self, flag: int) -> int:
        """The largest of ``flag`` over ranks (e.g. a signal number seen by any rank; 0 when none)."""
        if not self.active:
            return flag
        t = torch.tensor([flag], dtype=torch.int64, device=self.device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return int(t.item())

    def per_rank(self, name: str, t: torch.Tensor) -> dict[str, torch.Tensor]:
        """``t`` (same shape and dtype on every rank) from every rank, on the CPU, as ``NAME.rankR``; nothing with one
        process."""
        if not self.active:
            return {}
        parts = [torch.empty_like(t, device=self.device) for _ in range(self.world)]
        dist.all_gather(parts, t.to(self.device))
        return {f"{name}.rank{r}": part.cpu() for r, part in enumerate(parts)}

    def barrier(self) -> None:
        if self.active:
            dist.barrier()


def join(device: torch.device) -> Ranks:
    """The torchrun processes of this run (``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK``), joining the process group when
    there are several; on CUDA each rank takes the device ``cuda:LOCAL_RANK``."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Ranks(device=device)
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        device = torch.device("cuda", local_rank)
    if not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(local_rank)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Ranks(rank, world, local_rank, device)


def shutdown(*, wait: bool = True) -> None:
    """Leave the process group (after every rank arrives, when ``wait``), so no rank exits mid-teardown."""
    if dist.is_initialized():
        if wait:
            dist.barrier()
        dist.destroy_process_group()
