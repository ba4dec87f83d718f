"""Continuing a run: the settings a resume may override (the config's resumable keys), the checkpoint it
continues from, and a Trainer's state put back from a checkpoint (on resume and on a rollback)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Iterable

from ..config import Config, load_config
from ..errors import CheckpointError, ConfigError, RunDirError
from . import checkpoint as ckpt
from .distributed import Ranks
from .folder import RunFolder

log = logging.getLogger(__name__)


def check_resumable(run_dir: Path, overrides: Iterable[str]) -> None:
    """A RunDirError unless ``run_dir`` is a gankit run folder; a ConfigError for an override of a key that the
    run's saved config does not mark resumable (anything else would break exact continuation)."""
    if not (run_dir / "config.yaml").is_file():
        raise RunDirError(
            f"cannot resume {run_dir}: it has no config.yaml (not a gankit run folder)"
        )
    saved = load_config(str(run_dir / "config.yaml"))
    for item in overrides:
        key = item.partition("=")[0].strip()
        if not saved.resumable(key):
            raise ConfigError(
                f"--resume allows overriding only {_resumable_keys(saved)}; got {key}"
            )


def _resumable_keys(cfg: Config) -> str:
    """The keys of ``cfg`` an override may change on resume, sorted, comma-separated."""
    keys = [f"{s}.{k}" for s, values in cfg.to_dict().items() for k in values]
    return ", ".join(sorted(k for k in keys if cfg.resumable(k)))


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
