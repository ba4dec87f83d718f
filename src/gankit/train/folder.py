"""The run folder as training writes it: ``config.yaml``, ``samples/step-….png``, ``snapshots/``, ``checkpoints/``
and ``metrics.jsonl`` with TensorBoard events (the doctor appends ``doctor.jsonl``). With several processes, rank 0
alone writes (gankit.train.distributed): on the others every write here does nothing."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

import torch

from ..errors import RunDirError
from ..fileio import fsync_dir, write_atomic
from . import checkpoint as ckpt
from .logger import MetricsLog
from .snapshots import save_snapshot

log = logging.getLogger(__name__)


class _NoLog:
    """The metrics log of a process that does not write."""

    def write(self, row: dict[str, Any]) -> None:
        pass

    def close(self) -> None:
        pass


class RunFolder:
    """The folder ``path``; ``writes``: whether this process writes it (rank 0)."""

    def __init__(self, path: Path, writes: bool) -> None:
        self.path, self.writes = Path(path), writes
        self.checkpoints = self.path / "checkpoints"

    def prepare(self, config_yaml: str, resume: bool, checkpoint_bytes: int, keep: int) -> None:
        """Refuse a non-empty folder (unless resuming) and a disk too small for ``keep`` checkpoints of
        ``checkpoint_bytes``; create the folder and write config.yaml first (proves the folder is writable)."""
        if not self.writes:
            return
        if not resume and self.path.exists() and any(self.path.iterdir()):
            raise RunDirError(
                f"run folder {self.path} exists and is not empty; choose another --run-dir "
                f"or continue it with --resume {self.path}"
            )
        self._check_free_space(checkpoint_bytes, keep)
        try:
            (self.path / "samples").mkdir(parents=True, exist_ok=True)
            write_atomic(self.path / "config.yaml", config_yaml.encode())
        except OSError as e:
            raise RunDirError(f"run folder {self.path} is not writable: {e.strerror}") from None

    def _check_free_space(self, per_checkpoint: int, keep: int) -> None:
        needed = (keep + 2) * per_checkpoint  # the kept ones, the one being written, and a margin
        existing = next(
            p for p in (self.path.absolute(), *self.path.absolute().parents) if p.exists()
        )
        free = shutil.disk_usage(existing).free
        if free < needed:
            raise RunDirError(
                f"run folder {self.path}: {free / 2**20:.1f} MiB free, but keeping {keep} "
                f"checkpoints of {per_checkpoint / 2**20:.1f} MiB needs about {needed / 2**20:.1f} MiB"
            )

    def metrics(self, resume_step: int) -> MetricsLog | _NoLog:
        """The metrics log, cut back to ``resume_step`` (rows after it were lost work)."""
        return MetricsLog(self.path, resume_step=resume_step) if self.writes else _NoLog()

    def save_checkpoint(
        self, step: int, tensors: dict[str, torch.Tensor], meta: dict[str, Any], keep: int
    ) -> None:
        """Checkpoint ``step`` (gankit.train.checkpoint.save); a failed write (a full disk) is a one-line
        RunDirError naming the file and how to continue from the previous checkpoint, which is intact."""
        if not self.writes:
            return
        try:
            ckpt.save(self.checkpoints, step, tensors, meta, keep)
        except OSError as e:
            previous = ckpt.list_checkpoints(self.checkpoints)
            kept = (
                f"the newest complete checkpoint, {previous[-1]}, is intact"
                if previous
                else "no checkpoint exists"
            )
            raise RunDirError(
                f"cannot write {e.filename or self.checkpoints}: {e.strerror}; {kept}: free space, "
                f"then continue with gankit train --resume {self.path}"
            ) from None
        log.info("checkpoint %s written", ckpt.step_name(step))

    def move_history_aside(self) -> Path:
        """Move everything but ``config.yaml`` (and earlier set-aside histories) into ``before-restart-N/``, N the
        first free number; returns that folder. Nothing is deleted."""
        n = 1
        while (self.path / f"before-restart-{n}").exists():
            n += 1
        aside = self.path / f"before-restart-{n}"
        entries = [
            p
            for p in self.path.iterdir()
            if p.name != "config.yaml" and not p.name.startswith("before-restart-")
        ]
        aside.mkdir()
        for entry in entries:
            entry.rename(aside / entry.name)
        fsync_dir(self.path)
        return aside

    def samples_path(self, step: int) -> Path:
        """``samples/step-….png``, the fixed-noise picture of ``step``."""
        return self.path / "samples" / f"{ckpt.step_name(step)}.png"

    def save_samples(self, step: int, png: bytes) -> Path:
        path = self.samples_path(step)
        if self.writes:
            write_atomic(path, png)
        return path

    def save_snapshot(self, step: int, tensors: dict[str, torch.Tensor]) -> None:
        if self.writes:
            save_snapshot(self.path, step, tensors)
