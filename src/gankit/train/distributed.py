"""Data-parallel Algorithm 1 across processes (torchrun): one process per device, the global minibatch split
across ranks, gradients averaged before every optimiser step, rank 0 alone writing the run folder.

Every rank draws the *global* minibatch indices and the *global* noise from identically seeded generators and
keeps its slice (rank r: rows r·m/W … (r+1)·m/W − 1), so W processes compute the same update as one process with
the same global batch and noise, up to floating-point reduction order. Gradients are averaged with one flat
all-reduce per player and step (not DistributedDataParallel's hooks: D is frozen during G's step and gradient
penalties take a double backward, which DDP's reducer does not follow). Backend: nccl on CUDA, gloo on CPU.
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
class Context:
    """``rank`` of ``world`` processes (world 1: not distributed); ``local_rank`` picks the CUDA device."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def active(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def from_env(device_type: str) -> Context:
    """The torchrun context (``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK``), joining the process group when world > 1."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Context()
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        if device_type == "cuda":
            torch.cuda.set_device(local_rank)
        dist.init_process_group("nccl" if device_type == "cuda" else "gloo")
    return Context(rank, world, local_rank)


def local_slice(ctx: Context, global_batch: int) -> slice:
    """Rows of the global batch this rank computes on."""
    if global_batch % ctx.world:
        raise ConfigError(f"train.batch_size {global_batch} is not divisible by the {ctx.world} processes")
    m = global_batch // ctx.world
    return slice(ctx.rank * m, (ctx.rank + 1) * m)


def average_gradients(module: nn.Module, ctx: Context) -> None:
    """Replace every gradient of ``module`` by its mean over ranks (one flat all-reduce)."""
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    if not grads:
        return
    flat = _flatten_dense_tensors(grads)
    dist.all_reduce(flat)
    flat /= ctx.world
    for g, averaged in zip(grads, _unflatten_dense_tensors(flat, grads)):
        g.copy_(averaged)


def mean_over_ranks(values: dict[str, float], ctx: Context, device: torch.device) -> dict[str, float]:
    """Each value averaged over ranks (all ranks must call this with the same keys, in the same order)."""
    if not ctx.active or not values:
        return values
    t = torch.tensor(list(values.values()), dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return dict(zip(values, (t / ctx.world).tolist()))


def any_rank(flag: int, ctx: Context, device: torch.device) -> int:
    """The largest of ``flag`` over ranks (e.g. a signal number seen by any rank; 0 when none)."""
    if not ctx.active:
        return flag
    t = torch.tensor([flag], dtype=torch.int64, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return int(t.item())


def gather_tensor(t: torch.Tensor, ctx: Context, device: torch.device) -> list[torch.Tensor]:
    """``t`` (same shape and dtype on every rank) from every rank, in rank order, on the CPU."""
    parts = [torch.empty_like(t, device=device) for _ in range(ctx.world)]
    dist.all_gather(parts, t.to(device))
    return [p.cpu() for p in parts]


def barrier(ctx: Context) -> None:
    if ctx.active:
        dist.barrier()


def shutdown(*, wait: bool = True) -> None:
    """Leave the process group (after every rank arrives, when ``wait``), so no rank exits mid-teardown."""
    if dist.is_initialized():
        if wait:
            dist.barrier()
        dist.destroy_process_group()
