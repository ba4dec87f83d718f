"""What a checkpoint holds, as one object (docs/design.md, 'Checkpoints'): the run's state, from which training
continues exactly, and the size a checkpoint of it takes; :class:`Counter` makes its counters the Trainer's
attributes."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ..config import OptimConfig
from . import checkpoint as ckpt
from .frozen import Record, check_frozen, frozen_record, with_frozen, without_frozen
from .optim import state_slots
from .optim_state import optimizer_from_flat, optimizer_to_flat
from .quality import QualityTracker
from .rng import Streams
from .sampler import MinibatchSampler
from .tricks import Tricks


def _prefixed(prefix: str, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The inverse of :func:`gankit.train.checkpoint.part`."""
    return {f"{prefix}{k}": v for k, v in tensors.items()}


@dataclass
class RunState:
    """G and D (the eager modules), their optimisers, the random streams, the sampler's place in its epoch, the
    training tricks' states (the EMA of G, ADA's p, a trick's own networks), the quality tracker's best so far,
    and the counters: ``step``
    generator updates, ``nimg`` real samples shown to D, ``elapsed_s`` seconds of training, ``lr_scale`` (the
    learning rates' factor after rollbacks) and ``rollbacks``. ``frozen``: each player's frozen parameters as built
    (gankit.train.frozen), which checkpoints record instead of storing."""

    G: nn.Module
    D: nn.Module
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    streams: Streams
    sampler: MinibatchSampler
    tricks: Tricks = field(default_factory=Tricks)
    quality: QualityTracker | None = None
    step: int = 0
    nimg: int = 0
    elapsed_s: float = 0.0
    lr_scale: float = 1.0
    rollbacks: int = 0
    frozen: dict[str, Record] = field(init=False)

    def __post_init__(self) -> None:
        records = {"G": frozen_record(self.G), "D": frozen_record(self.D)}
        self.frozen = {player: r for player, r in records.items() if r is not None}

    def to_checkpoint(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """(tensors, JSON-able rest) for :func:`gankit.train.checkpoint.save`; :meth:`load` is the inverse."""
        opt_g, meta_g = optimizer_to_flat("opt_g", self.opt_g)
        opt_d, meta_d = optimizer_to_flat("opt_d", self.opt_d)
        perm, cursor = self.sampler.state()
        frozen_g, frozen_d = self.frozen.get("G"), self.frozen.get("D")
        tensors = {
            **_prefixed("G.", without_frozen(self.G.state_dict(), frozen_g)),
            **_prefixed("D.", without_frozen(self.D.state_dict(), frozen_d)),
            **opt_g,
            **opt_d,
            **self.streams.state_dict(),
            "sampler.perm": perm,
            **self.tricks.state_dict(),
        }
        meta = {
            "step": self.step,
            "nimg": self.nimg,
            "elapsed_s": self.elapsed_s,
            "sampler_cursor": cursor,
            "opt_g": meta_g,
            "opt_d": meta_d,
            "lr_scale": self.lr_scale,
            "rollbacks": self.rollbacks,
        }
        if self.quality is not None:
            meta["quality"] = self.quality.state()
        if self.frozen:
            meta["frozen"] = self.frozen
        return tensors, meta

    def checkpoint_bytes(
        self, tensors: dict[str, torch.Tensor], meta: dict[str, Any], optim: OptimConfig
    ) -> int:
        """The size of one checkpoint of this state once training has begun, from the checkpoint's ``tensors`` and
        ``meta`` now: those, what the first step adds (the optimisers' per-parameter moments, the sampler's
        permutation of the training set) and the JSON."""
        size = (
            sum(v.numel() * v.element_size() for v in tensors.values())
            + self.streams.torch.state()[0].numel()
        )
        params = [
            p for opt in (self.opt_g, self.opt_d) for g in opt.param_groups for p in g["params"]
        ]
        if not self.opt_g.state and not self.opt_d.state:
            size += state_slots(optim) * sum(p.numel() * p.element_size() for p in params)
        if not len(self.sampler.perm):
            size += 8 * self.sampler.n
        header = 200 * (len(tensors) + 3 * len(params))
        return size + header + len(json.dumps(meta, indent=1, default=str))

    def load(self, c: ckpt.Checkpoint, rank: int = 0) -> None:
        """Continue from checkpoint ``c`` (``rank``: this process's dropout stream, when it holds one per rank)."""
        run = c.meta.get("frozen", {})
        for player in ("G", "D"):
            check_frozen(player, self.frozen.get(player), run.get(player), c.name)
        self.G.load_state_dict(with_frozen(self.G, ckpt.part(c.tensors, "G."), run.get("G")))
        self.D.load_state_dict(with_frozen(self.D, ckpt.part(c.tensors, "D."), run.get("D")))
        optimizer_from_flat("opt_g", self.opt_g, c.tensors, c.meta["opt_g"])
        optimizer_from_flat("opt_d", self.opt_d, c.tensors, c.meta["opt_d"])
        self.tricks.load_state_dict(c.tensors)
        self.streams.load_state_dict(c.tensors, rank)
        self.sampler.restore(c.tensors["sampler.perm"], c.meta["sampler_cursor"])
        self.step, self.nimg, self.elapsed_s = c.meta["step"], c.meta["nimg"], c.meta["elapsed_s"]
        self.lr_scale, self.rollbacks = c.meta.get("lr_scale", 1.0), c.meta.get("rollbacks", 0)
        if self.quality is not None:
            self.quality.load(c.meta.get("quality"))


class Counter:
    """An attribute of a holder of a :class:`RunState` (``holder.state``; the Trainer's ``step``, ``nimg``, ...) that
    is the counter of the same name in that state."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, holder: Any, owner: type | None = None) -> Any:
        return self if holder is None else getattr(holder.state, self.name)

    def __set__(self, holder: Any, value: Any) -> None:
        setattr(holder.state, self.name, value)
