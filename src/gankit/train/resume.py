"""Continuing a run: the settings a resume may override, the checkpoint it continues from, and a Trainer's state put
back from a checkpoint (on resume and on a rollback)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Iterable

from ..errors import CheckpointError, ConfigError, RunDirError
from . import checkpoint as ckpt
from .distributed import Ranks
from .folder import RunFolder

log = logging.getLogger(__name__)

RESUME_KEYS = {
    "steps",
    "epochs",
    "nimg",
    "minutes",
    "log_every",
    "sample_every",
    "checkpoint_every",
    "keep_checkpoints",
    "device",
    "speed",
    "tf32",
    "channels_last",
    "on_divergence",
    "max_rollbacks",
    "doctor",
    "max_abs_loss",
    "eval_every_kimg",
    "eval_patience_kimg",
}


def check_resumable(run_dir: Path, overrides: Iterable[str]) -> None:
    """A RunDirError unless ``run_dir`` is a gankit run folder; a ConfigError for an override outside
    :data:`RESUME_KEYS` (anything else would break exact continuation)."""
    if not (run_dir / "config.yaml").is_file():
        raise RunDirError(
            f"cannot resume {run_dir}: it has no config.yaml (not a gankit run folder)"
        )
    for item in overrides:
        key = item.partition("=")[0].strip()
        if not key.startswith("train.") or key[len("train.") :] not in RESUME_KEYS:
            allowed = ", ".join(f"train.{k}" for k in sorted(RESUME_KEYS))
            raise ConfigError(f"--resume allows overriding only {allowed}; got {key}")


def checkpoint_to_resume(
    run_dir: Path, ranks: Ranks, own_models: bool, restart: bool
) -> ckpt.Checkpoint | None:
    """The newest readable checkpoint; None when the run never wrote one, or on ``restart`` (the old history is
    moved aside first). Checkpoints that are all unreadable stop the resume and change nothing. Read before the
    models are built: a run of modules passed to the Trainer (``own_models``) resumes only with them."""
    if restart:
        if ranks.is_main:
            aside = RunFolder(run_dir, writes=True).move_history_aside()
            log.warning(
                "--restart: the run's history moved to %s; starting again from step 0", aside
            )
        ranks.barrier()
        return None
    try:
        good = ckpt.load_latest_good(run_dir / "checkpoints")
    except CheckpointError as e:
        raise CheckpointError(
            f"cannot resume: {e}; nothing was changed (to start again from step 0 with the "
            f"old history moved aside, add --restart)"
        ) from None
    if good is None:
        log.warning("%s has no checkpoint: starting again from step 0", run_dir)
    elif good.meta.get("own_models") and not own_models:
        raise RunDirError(
            f"{run_dir} was trained on a G and D passed to the Trainer: resume it with "
            f"Trainer.resume(run_dir, G=..., D=...)"
        )
    return good


def restore(trainer: Any, c: ckpt.Checkpoint) -> None:
    """Continue ``trainer`` (a :class:`~gankit.train.Trainer`) from checkpoint ``c``; what depends on the state
    follows (stopped early, the schedules, the CUDA graph, the D-update count)."""
    trainer.state.load(c, trainer.ranks.rank)
    trainer.stopped_early = trainer.quality is not None and trainer.quality.stale(trainer.nimg)
    trainer.schedule.forget()
    trainer.stepper.restored()
    trainer.players.d_updates = trainer.step * trainer.cfg.train.k
    trainer.last_checkpoint_step = trainer.step
