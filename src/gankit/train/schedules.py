"""Learning-rate and momentum schedules as pure functions of the counters (so resume is exact).

The paper (goodfeli/adversarial mnist.yaml): lr 0.1 divided by 1.000004 after every update, floor 1e-6
(pylearn2 ExponentialDecay); momentum 0.5 rising linearly to 0.7 between epochs 1 and 250 (MomentumAdjustor,
updated once per completed epoch).
"""

from __future__ import annotations

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
