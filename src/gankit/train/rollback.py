"""What a divergence does (``train.on_divergence``): back to the newest good checkpoint with lower learning rates,
or a stop with TrainingDiverged, noted by the doctor or the log."""

from __future__ import annotations

import logging
from typing import Any

from ..errors import CheckpointError, TrainingDiverged
from . import checkpoint as ckpt
from .resume import restore

log = logging.getLogger(__name__)


def roll_back(trainer: Any, what: str) -> None:
    """Roll ``trainer`` (a :class:`~gankit.train.Trainer`) back to its newest good checkpoint with the learning
    rates × ``train.rollback_lr_factor`` and a new metrics log from there; TrainingDiverged instead with
    ``train.on_divergence=stop``, after ``train.max_rollbacks``, or with no checkpoint to go back to."""
    t, folder = trainer.cfg.train, trainer.run_dir / "checkpoints"
    where = f"{what} at step {trainer.step}"
    if t.on_divergence == "stop" or trainer.rollbacks >= t.max_rollbacks:
        why = (
            "train.on_divergence=stop"
            if t.on_divergence == "stop"
            else f"gave up after {trainer.rollbacks} rollbacks (train.max_rollbacks)"
        )
        _note(trainer, trainer.step, "diverged", f"{where}; stopped: {why}")
        raise TrainingDiverged(
            f"training diverged: {where}; stopped ({why}); the last good checkpoint is "
            f"{ckpt.step_name(trainer.last_checkpoint_step)} in {folder}"
        ) from None
    try:
        good = ckpt.load_latest_good(folder)
    except CheckpointError as e:
        raise TrainingDiverged(
            f"training diverged: {where}, and no checkpoint to roll back to: {e}"
        ) from None
    if good is None:
        raise TrainingDiverged(
            f"training diverged: {where}, and {folder} holds no checkpoint"
        ) from None
    _continue_from(trainer, good, where)


def _continue_from(trainer: Any, good: ckpt.Checkpoint, where: str) -> None:
    """The rollback itself: the state of ``good``, one more rollback, the lowered learning rates, the note and a
    metrics log cut back to the checkpoint's step."""
    t = trainer.cfg.train
    rollbacks, scale, bad_step = (
        trainer.rollbacks + 1,
        trainer.lr_scale * t.rollback_lr_factor,
        trainer.step,
    )
    restore(trainer, good)
    trainer.rollbacks = rollbacks
    trainer.lr_scale = scale
    _note(
        trainer,
        bad_step,
        "rollback",
        f"{where}: rolled back to step {trainer.step}, learning rates × {scale:g} "
        f"(rollback {rollbacks} of at most {t.max_rollbacks})",
    )
    trainer.metrics_log.close()
    trainer.metrics_log = trainer.folder.metrics(trainer.step)


def _note(trainer: Any, step: int, kind: str, message: str) -> None:
    """A divergence note: the doctor's warning (rank 0 with ``train.doctor``), else a log warning on rank 0."""
    if trainer.doctor is not None:
        trainer.doctor.warn(step, kind, message)
    elif trainer.ranks.is_main:
        log.warning("step %d: %s", step, message)
