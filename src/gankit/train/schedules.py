"""Learning-rate and momentum schedules as pure functions of the counters (so resume is exact), and the writer that
puts each step's values into the optimisers.

The paper (goodfeli/adversarial mnist.yaml): lr 0.1 divided by 1.000004 after every update, floor 1e-6
(pylearn2 ExponentialDecay); momentum 0.5 rising linearly to 0.7 between epochs 1 and 250 (MomentumAdjustor,
updated once per completed epoch).
"""

from __future__ import annotations

from typing import Any

import torch

from ..config import OptimConfig


def lr_at(cfg: OptimConfig, updates: int, base: float | None = None) -> float:
    """Learning rate for the update after ``updates`` earlier ones: max(base / decay^updates, floor);
    ``base`` defaults to ``cfg.lr`` (pass ``cfg.lr_g``/``cfg.lr_d`` for separate rates)."""
    base = cfg.lr if base is None else base
    if cfg.lr_decay == 1.0:
        return base
    return max(base / cfg.lr_decay ** updates, cfg.lr_floor)


def momentum_at(cfg: OptimConfig, epochs_done: int) -> float:
    """Momentum after ``epochs_done`` complete epochs: linear from ``momentum`` at ``momentum_start`` to
    ``momentum_final`` at ``momentum_saturate``, constant outside."""
    width = cfg.momentum_saturate - cfg.momentum_start
    alpha = 1.0 if width <= 0 else min(max((epochs_done - cfg.momentum_start) / width, 0.0), 1.0)
    return cfg.momentum * (1.0 - alpha) + cfg.momentum_final * alpha


def _assign(group: dict[str, Any], key: str, value: float) -> None:
    """Set an optimiser hyper-parameter; a device tensor (captured by a CUDA graph) is written in place."""
    if isinstance(group[key], torch.Tensor):
        group[key].fill_(value)
    else:
        group[key] = value


class ScheduleWriter:
    """Puts each step's learning rates and momentum into G's and D's optimisers, only when they moved (under CUDA
    graphs each write is a device fill)."""

    def __init__(self, cfg: OptimConfig, opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer) -> None:
        self.cfg, self.opt_g, self.opt_d = cfg, opt_g, opt_d
        self._written: tuple[float, float, float] | None = None

    def write(self, step: int, epochs_done: int, lr_scale: float) -> dict[str, float | None]:
        """The rates for update ``step`` (× ``lr_scale``, lowered by rollbacks) and the momentum after
        ``epochs_done`` epochs, into the optimisers; returns them for the log: ``lr`` (D's), ``lr_g`` (when it
        differs) and ``momentum`` (sgd), None where not logged."""
        o = self.cfg
        lr_d, lr_g = lr_scale * lr_at(o, step, o.lr_d), lr_scale * lr_at(o, step, o.lr_g)
        momentum = momentum_at(o, epochs_done)
        if (lr_d, lr_g, momentum) != self._written:
            for opt, lr in ((self.opt_g, lr_g), (self.opt_d, lr_d)):
                for group in opt.param_groups:
                    _assign(group, "lr", lr)
                    if "momentum" in group:
                        _assign(group, "momentum", momentum)
            self._written = (lr_d, lr_g, momentum)
        return {"lr": lr_d, "lr_g": lr_g if lr_g != lr_d else None, "momentum": momentum if o.name == "sgd" else None}

    def forget(self) -> None:
        """A restore replaced the optimisers' settings: the next :meth:`write` writes whatever the values."""
        self._written = None
