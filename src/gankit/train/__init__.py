"""Training: Algorithm 1 (algorithm.py), the loop around it (loop.py), checkpoints (checkpoint.py)."""

from .algorithm import Players, Runtime, d_step, g_step, training_iteration
from .device import resolve_device
from .loop import Trainer

__all__ = [
    "Players",
    "Runtime",
    "Trainer",
    "d_step",
    "g_step",
    "resolve_device",
    "training_iteration",
]
