"""Frozen parameters: those a player holds with ``requires_grad=False`` when the pair is built (a pretrained feature
network inside D, say). No optimiser gets them and G steps leave their flag alone; a checkpoint leaves them out of
its tensor file and records, per player, their names and one SHA-256 of their values, which the rebuilt model must
match when the checkpoint is loaded."""

from __future__ import annotations

import hashlib
from typing import Any

import torch
from torch import nn

from ..errors import CheckpointError

Record = dict[str, Any]  # {"names": sorted state-dict names, "sha256": hex digest of their values}


def trainable(module: nn.Module) -> list[nn.Parameter]:
    """The parameters of ``module`` that train, in ``parameters()`` order."""
    return [p for p in module.parameters() if p.requires_grad]


def frozen_record(module: nn.Module) -> Record | None:
    """The names (sorted; every name of a shared one) of the frozen parameters of ``module`` and one SHA-256 over
    their name, dtype, shape and bytes, in that order; None when it has none."""
    names = sorted(
        n for n, p in module.named_parameters(remove_duplicate=False) if not p.requires_grad
    )
    if not names:
        return None
    state, h = module.state_dict(), hashlib.sha256()
    for name in names:
        t = state[name].detach().to("cpu").contiguous()
        h.update(f"{name}:{t.dtype}:{list(t.shape)}\n".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return {"names": names, "sha256": h.hexdigest()}


def without_frozen(
    state: dict[str, torch.Tensor], record: Record | None
) -> dict[str, torch.Tensor]:
    """A player's state dict as a checkpoint stores it: the frozen parameters of ``record`` left out."""
    skip = set(record["names"]) if record else set()
    return {k: v for k, v in state.items() if k not in skip}


def check_frozen(player: str, rebuilt: Record | None, run: Record | None, where: str) -> None:
    """A CheckpointError unless the rebuilt player's frozen parameters are the run's (``run``: the checkpoint's
    record; a checkpoint without one predates frozen records and stores every tensor)."""
    if run is None or rebuilt == run:
        return
    mine = f"{len(rebuilt['names'])} with SHA-256 {rebuilt['sha256'][:16]}" if rebuilt else "none"
    raise CheckpointError(
        f"{where}: {player}'s frozen weights differ from the run's (the checkpoint records "
        f"{len(run['names'])} frozen tensors with SHA-256 {run['sha256'][:16]}; the rebuilt {player} has {mine})"
    )


def with_frozen(
    module: nn.Module, state: dict[str, torch.Tensor], run: Record | None
) -> dict[str, torch.Tensor]:
    """A player's state dict from a checkpoint, completed with the frozen tensors ``module`` holds (those the
    checkpoint's record ``run`` names), for a strict ``load_state_dict``."""
    if run is None:
        return state
    own = module.state_dict()
    return {**state, **{n: own[n] for n in run["names"]}}
