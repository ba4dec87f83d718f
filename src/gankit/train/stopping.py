"""When training stops, and after which steps the loop logs: the step, epoch and image stops as a count of generator
updates, and the minutes stop."""

from __future__ import annotations

import math

from ..config import TrainConfig


def total_steps(t: TrainConfig, n_train: int, images_per_step: int) -> int | None:
    """Generator updates until a step/epoch/image stop of a training set of ``n_train`` samples, D seeing
    ``images_per_step`` real ones a step (None when only ``minutes`` is set)."""
    bounds = [t.steps] if t.steps else []
    if t.epochs:
        bounds.append(math.ceil(t.epochs * n_train / images_per_step))
    if t.nimg:
        bounds.append(math.ceil(t.nimg / images_per_step))
    return min(bounds) if bounds else None


def reached(t: TrainConfig, step: int, total: int | None, elapsed_s: float) -> bool:
    """Whether ``step`` reaches ``total`` (:func:`total_steps`) or ``elapsed_s`` the minutes stop."""
    return (total is not None and step >= total) or (
        t.minutes is not None and elapsed_s >= 60 * t.minutes
    )


def logs_at(t: TrainConfig, step: int, total: int | None) -> bool:
    """Whether the loop writes a metrics row after ``step``: every ``log_every`` steps and at a step/epoch/image
    stop (``total``); a ``minutes`` stop is only known once reached."""
    return step % t.log_every == 0 or (total is not None and step >= total)
