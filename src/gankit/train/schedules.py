"""Learning-rate and momentum schedules as pure functions of the counters (so resume is exact), and the writer that
puts each step's values into the optimisers; the training tricks' ramped values (gankit.train.tricks.base.Ramp)
and their writer (:func:`write_ramps`).

The paper (goodfeli/adversarial mnist.yaml): lr 0.1 divided by 1.000004 after every update, floor 1e-6
(pylearn2 ExponentialDecay); momentum 0.5 rising linearly to 0.7 between epochs 1 and 250 (MomentumAdjustor,
updated once per completed epoch).

Long runs (R3GAN, Huang et al. 2024): every ``*_final`` setting moves from its start value to its final one along
half a cosine over the first ``train.ramp_kimg`` thousand real images, then stays: the learning rate, Adam's β2,
the penalty weights, the EMA half-life and the augmentation probability.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from ..config import OptimConfig
from .tricks.base import Ramp


def lr_at(cfg: OptimConfig, updates: int, base: float | None = None) -> float:
    """Learning rate for the update after ``updates`` earlier ones: max(base / decay^updates, floor);
    ``base`` defaults to ``cfg.lr`` (pass ``cfg.lr_g``/``cfg.lr_d`` for separate rates)."""
    base = cfg.lr if base is None else base
    if cfg.lr_decay == 1.0:
        return base
    return max(base / cfg.lr_decay**updates, cfg.lr_floor)


def momentum_at(cfg: OptimConfig, epochs_done: int) -> float:
    """Momentum after ``epochs_done`` complete epochs: linear from ``momentum`` at ``momentum_start`` to
    ``momentum_final`` at ``momentum_saturate``, constant outside."""
    width = cfg.momentum_saturate - cfg.momentum_start
    alpha = 1.0 if width <= 0 else min(max((epochs_done - cfg.momentum_start) / width, 0.0), 1.0)
    return cfg.momentum * (1.0 - alpha) + cfg.momentum_final * alpha


def ramp_progress(ramp_kimg: float, nimg: int) -> float:
    """Share of the ramps done after ``nimg`` real images, in [0, 1] (1 when there are no ramps)."""
    return 1.0 if ramp_kimg <= 0 else min(nimg / (1000.0 * ramp_kimg), 1.0)


def cosine_ramp(start: float, end: float | None, progress: float) -> float:
    """``start`` → ``end`` along half a cosine as ``progress`` goes 0 → 1: end + (start − end)·(1 + cos πp)/2;
    ``start`` when ``end`` is None."""
    if end is None:
        return start
    return end + (start - end) * 0.5 * (1.0 + math.cos(math.pi * progress))


def optimiser_ramps(o: OptimConfig, progress: float) -> dict[str, float]:
    """The optimisers' ramped values at ``progress`` (:func:`ramp_progress`): ``lr_factor`` (× every learning
    rate) and ``beta2``."""
    return {
        "lr_factor": cosine_ramp(1.0, None if o.lr_final is None else o.lr_final / o.lr, progress),
        "beta2": cosine_ramp(o.beta2, o.beta2_final, progress),
    }


def write_ramps(ramps: list[Ramp], progress: float) -> dict[str, float]:
    """Each trick's ramped value at ``progress`` into the tensor it reads; returns them for the log."""
    out = {}
    for r in ramps:
        out[r.name] = cosine_ramp(r.start, r.final, progress)
        r.value.fill_(out[r.name])
    return out


def _assign(group: dict[str, Any], key: str, value: float) -> None:
    """Set an optimiser hyper-parameter; a device tensor (captured by a CUDA graph) is written in place."""
    if isinstance(group[key], torch.Tensor):
        group[key].fill_(value)
    else:
        group[key] = value


def _assign_beta2(group: dict[str, Any], value: float) -> None:
    beta1, beta2 = group["betas"]
    if isinstance(beta2, torch.Tensor):
        beta2.fill_(value)
    else:
        group["betas"] = (beta1, value)


class ScheduleWriter:
    """Puts each step's learning rates, momentum (sgd) and β2 (adam) into G's and D's optimisers, only when they
    moved (under CUDA graphs each write is a device fill)."""

    def __init__(
        self, cfg: OptimConfig, opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer
    ) -> None:
        self.cfg, self.opt_g, self.opt_d = cfg, opt_g, opt_d
        self._written: tuple[float, ...] | None = None

    def write(
        self, step: int, epochs_done: int, lr_scale: float, progress: float
    ) -> dict[str, float | None]:
        """The rates for update ``step`` (× ``lr_scale``, lowered by rollbacks, × the ramped ``lr_factor`` at
        ``progress``), the momentum after ``epochs_done`` epochs and the ramped ``beta2``, into the optimisers;
        returns them for the log: ``lr`` (D's), ``lr_g`` (when it differs), ``momentum`` (sgd), ``beta2`` (when
        ramped), None where not logged."""
        o, ramp = self.cfg, optimiser_ramps(self.cfg, progress)
        scale = lr_scale * ramp["lr_factor"]
        lr_d, lr_g = scale * lr_at(o, step, o.lr_d), scale * lr_at(o, step, o.lr_g)
        momentum, beta2 = momentum_at(o, epochs_done), ramp["beta2"]
        if (lr_d, lr_g, momentum, beta2) != self._written:
            for opt, lr in ((self.opt_g, lr_g), (self.opt_d, lr_d)):
                for group in opt.param_groups:
                    _assign(group, "lr", lr)
                    if "momentum" in group:
                        _assign(group, "momentum", momentum)
                    if "betas" in group:
                        _assign_beta2(group, beta2)
            self._written = (lr_d, lr_g, momentum, beta2)
        return {
            "lr": lr_d,
            "lr_g": lr_g if lr_g != lr_d else None,
            "momentum": momentum if o.name == "sgd" else None,
            "beta2": beta2 if o.beta2_final is not None else None,
        }

    def forget(self) -> None:
        """A restore replaced the optimisers' settings: the next :meth:`write` writes whatever the values."""
        self._written = None
