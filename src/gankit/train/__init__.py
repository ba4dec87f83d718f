"""Training: Algorithm 1 (algorithm.py), the loop around it (loop.py), checkpoints (checkpoint.py)."""

from .algorithm import Players, Runtime, d_step, g_step, training_iteration
from .loop import Trainer, resolve_device

__all__ = [
    "Players",
    "Runtime",
    "Trainer",
    "d_step",
    "g_step",
    "resolve_device",
    "training_iteration",
]
