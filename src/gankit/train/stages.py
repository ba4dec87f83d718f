"""The loop's stages after each step, in order: log, quality, checkpoint, pictures and signals. Each is a function of
the :class:`~gankit.train.Trainer` (``trainer``), whose attributes it reads and updates. A stage that finds the run
diverging raises :class:`Divergence`, and the loop rolls back (gankit.train.rollback)."""

from __future__ import annotations

import json
import math
import signal
import time
from pathlib import Path
from typing import Any

from ..errors import TrainingInterrupted
from . import checkpoint as ckpt
from .distributed import Ranks
from .guard import SignalGuard
from .logger import Meter


class Divergence(Exception):
    """The run diverged: a non-finite or exploded loss, or a non-finite state (the message says which)."""


def log(trainer: Any, meter: Meter, hyper: dict[str, float | None]) -> dict[str, Any] | None:
    """Every ``log_every`` steps and at the end: the interval's means (over ranks) as a metrics row, checked by
    the doctor; a NaN/Inf loss is divergence instead. None between log steps."""
    if not (trainer.step % trainer.cfg.train.log_every == 0 or trainer.done()):
        return None
    means, img_per_s = meter.take(trainer.nimg)
    row = {
        "step": trainer.step,
        "nimg": trainer.nimg,
        "epoch": trainer.nimg / trainer.n_train,
        "time_s": trainer.elapsed_s,
        **trainer.ranks.mean(means),
        **{k: v for k, v in hyper.items() if v is not None},
        "img_per_s": img_per_s,
    }
    _check_losses(row, trainer.cfg.train.max_abs_loss)
    trainer.metrics_log.write(row)
    if trainer.doctor is not None:
        trainer.doctor.check_row(row)
    return row


def _check_losses(row: dict[str, Any], bound: float) -> None:
    """A NaN/Inf loss or penalty, or a loss beyond ±``bound`` (``train.max_abs_loss``), is divergence."""
    bad = [k for k in ("d_loss", "g_loss", "penalty") if k in row and not math.isfinite(row[k])]
    if bad:
        raise Divergence(f"non-finite {', '.join(bad)}")
    exploded = [
        f"{k} {row[k]:.3g}" for k in ("d_loss", "g_loss") if k in row and abs(row[k]) > bound
    ]
    if exploded:
        raise Divergence(f"exploded {', '.join(exploded)} (beyond ±{bound:g}, train.max_abs_loss)")


def track_quality(trainer: Any, meter: Meter, nimg_before: int) -> None:
    """When due (every ``train.eval_every_kimg``): rank 0 evaluates G_eval with the probe, logs the
    value, keeps a new best in ``checkpoints/best``; the time it took is left out of training time; patience
    run out on any rank stops every rank."""
    quality = trainer.quality
    if quality is None or not quality.due(nimg_before, trainer.nimg):
        return
    started = time.monotonic()
    if trainer.ranks.is_main:
        row = _evaluate_quality(trainer)
        quality.seconds += time.monotonic() - started
        _log_quality(trainer, row, time.monotonic() - started)
    trainer.stopped_early = bool(trainer.ranks.largest(int(quality.stale(trainer.nimg))))
    trainer.ranks.barrier()
    meter.pause(time.monotonic() - started)


def _evaluate_quality(trainer: Any) -> dict[str, Any]:
    """The probe's row for G_eval (in eval mode meanwhile); a new best is recorded and its checkpoint kept."""
    G = trainer.G_eval
    was_training = G.training
    G.eval()
    try:
        which = "ema" if trainer.ema is not None else "raw"
        row = trainer.probe(G, trainer.cfg, trainer.dataset.kind, which)
    finally:
        G.train(was_training)
    if trainer.quality.record(float(row["value"]), trainer.step, trainer.nimg):
        tensors, meta = trainer.state_tensors()
        if not ckpt.nonfinite(tensors, meta):
            folder = trainer.run_dir / "checkpoints" / ckpt.BEST
            ckpt.save(folder, trainer.step, tensors, meta, keep=1)
    return row


def _log_quality(trainer: Any, row: dict[str, Any], seconds: float) -> None:
    """The evaluation as a metrics.jsonl row (``quality/<metric>``, ``quality/best``, seconds) and its protocol
    as TensorBoard text."""
    q = trainer.quality
    trainer.metrics_log.write(
        {
            "step": trainer.step,
            "nimg": trainer.nimg,
            "time_s": trainer.elapsed_s,
            f"quality/{q.metric}": float(row["value"]),
            "quality/best": q.best,
            "quality/best_step": q.best_step,
            "quality/seconds": seconds,
            "quality/total_seconds": q.seconds,
            "quality/protocol": row.get("protocol"),
        }
    )
    trainer.metrics_log.text(
        f"quality/{q.metric}/protocol", json.dumps(row.get("protocol")), trainer.step
    )


def checkpoint(trainer: Any, signals: SignalGuard) -> None:
    """Every ``checkpoint_every`` steps, at the end and when a stop signal came: a checkpoint, if every number
    of the state is finite (else divergence: no checkpoint holds NaN or Inf)."""
    t = trainer.cfg.train
    if trainer.step % t.checkpoint_every == 0 or signals.requested or trainer.done():
        tensors, meta = trainer.state_tensors()
        bad = ckpt.nonfinite(tensors, meta)
        if bad:
            raise Divergence(f"non-finite state ({len(bad)} entries, e.g. {bad[0]})")
        trainer.save_checkpoint(tensors, meta)


def pictures(trainer: Any) -> None:
    """Rank 0: the fixed-noise picture every ``sample_every`` steps, snapshots every ``snapshot_every`` and at
    the end."""
    if not trainer.folder.writes:
        return
    t = trainer.cfg.train
    if trainer.step % t.sample_every == 0:
        trainer.save_samples()
    if trainer.snapshot_grid is not None and (
        trainer.step % t.snapshot_every == 0 or trainer.done()
    ):
        trainer.save_snapshot()


def stop_if_signalled(signals: SignalGuard, step: int, run_dir: Path, ranks: Ranks) -> None:
    """After a SIGINT/SIGTERM (on any rank: all stop at the same step), stop with TrainingInterrupted."""
    if signals.requested:
        name = signal.Signals(signals.requested).name
        raise TrainingInterrupted(
            f"stopped by {name} at step {step}; checkpoint "
            f"{ckpt.step_name(step)} written; continue with: "
            f"gankit train --resume {run_dir}",
            128 + signals.requested,
        )
    signals.requested = ranks.largest(signals.requested or 0) or None
