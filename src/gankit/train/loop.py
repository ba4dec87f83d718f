"""The training loop around Algorithm 1: a Trainer assembled from named parts, the loop's stages (log, roll back,
checkpoint, pictures, progress, signals) and exact resume. Counters: ``step`` = generator updates, ``nimg`` = real
samples shown to D.

A Trainer changes no process-wide state: model initialisation and dropout draw from the run's own state of torch's
default generators (gankit.train.rng), and TF32 and compiler settings hold only while its steps run
(:meth:`gankit.train.speed.SpeedPlan.scope`). The exception is distributed training, whose torchrun process joins a
process group (gankit.train.distributed).
"""

from __future__ import annotations

import json
import logging
import math
import signal
import time
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from ..config import Config, load_config, to_yaml
from ..data import Dataset, to_uint8
from ..errors import (
    CheckpointError,
    ConfigError,
    RunDirError,
    TrainingDiverged,
    TrainingInterrupted,
)
from ..models import Generator, batch_coupled
from ..objectives import get_objective, resolve_objective
from ..viz.grids import grid_image, png_bytes, points_plot
from . import checkpoint as ckpt
from . import distributed, parts, speed
from .ada import AdaController
from .algorithm import GRAD_NORM_KEYS, Players, Runtime, Stats, training_iteration
from .batches import Batches
from .cudagraph import unsupported
from .folder import RunFolder
from .guard import Doctor, SignalGuard, diversity
from .logger import Meter
from .optim import build_optimizer, state_slots
from .quality import Probe, tracker_of
from .rng import Streams, make_streams
from .sampler import MinibatchSampler
from .schedules import ScheduleWriter, ramped
from .snapshots import snapshot_grid, take_snapshot
from .state import RunState

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

Progress = Callable[["Trainer", "dict[str, Any] | None"], None]


def resolve_device(name: str) -> torch.device:
    """``auto`` → cuda if present, else cpu; asking for cuda without one is an error, never a silent fallback."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            "train.device: cuda was asked for but no CUDA device is available (use auto or cpu)"
        )
    return torch.device(name)


def build_players(
    cfg: Config,
    G: Generator,
    D: nn.Module,
    plan: speed.SpeedPlan,
    streams: Streams,
    ranks: distributed.Ranks,
    joint_d: bool,
    ada: AdaController | None = None,
) -> Players:
    """G and D as the speed plan runs them, their optimisers, the objective's losses, D's penalty, augmentation (its
    probability ``ada``'s when given) and clipping, the AC-GAN weight, and how the passes run (``joint_d``: one D
    pass over real and generated samples)."""
    o = cfg.objective
    objective = get_objective(o.loss, g_loss=o.g_loss, label_smoothing=o.label_smoothing)
    G_fast, D_fast = speed.prepare_module(G, plan), speed.prepare_module(D, plan)
    runtime = Runtime(
        autocast=plan.autocast,
        penalty_D=D if D_fast is not D else None,
        reduce=ranks.average_gradients,
        joint_d=joint_d,
    )
    opt_g = build_optimizer(cfg.optim, G.parameters())
    opt_d = build_optimizer(cfg.optim, D.parameters())
    losses = (objective.d_loss, objective.g_loss, o.d_weight, objective.g_needs_real)
    return Players(
        G_fast,
        D_fast,
        opt_g,
        opt_d,
        *losses,
        runtime=runtime,
        clip=o.clip,
        ac_weight=o.ac_weight,
        **_penalty_parts(o, streams, ranks),
        **_augmentation_parts(cfg.train, streams, ada, G, ranks),
    )


def _penalty_parts(o, streams: Streams, ranks: distributed.Ranks) -> dict[str, Any]:
    """D's gradient penalty, how often it runs and its ramped scale (Players' fields)."""
    return {
        "penalty": parts.penalty(o, streams.reg, ranks.device, ranks),
        "penalty_every": o.reg_every,
        "penalty_scale": parts.ramp_knob(1.0, o.penalty_final is not None, ranks.device),
    }


def _augmentation_parts(
    t, streams: Streams, ada: AdaController | None, G: Generator, ranks: distributed.Ranks
) -> dict[str, Any]:
    """The augmentation, the probability it reads (ADA's, or a ramp) and ADA's sign counters."""
    ramped = t.augment_p < 1 or t.augment_p_final is not None
    augment_p = ada.p if ada is not None else parts.ramp_knob(t.augment_p, ramped, ranks.device)
    return {
        "augment": parts.augmentation(t, streams.aug, augment_p, G.out_shape, ranks),
        "augment_p": augment_p,
        "real_signs": None if ada is None else ada.signs,
    }


class _RolledBack(Exception):
    """The run went back to its newest good checkpoint; the loop continues from there."""


class _Counter:
    """A Trainer attribute that is the counter of the same name in its :class:`~gankit.train.state.RunState`."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, trainer: "Trainer | None", owner: type | None = None) -> Any:
        return self if trainer is None else getattr(trainer.state, self.name)

    def __set__(self, trainer: "Trainer", value: Any) -> None:
        setattr(trainer.state, self.name, value)


class Trainer:
    """Trains G and D on ``cfg`` into ``run_dir``. Pass ``G``/``D`` to train your own modules (G must subclass
    :class:`gankit.models.Generator`, D must return logits [n]); pass ``dataset`` to skip the registry. With
    ``train.eval_every_kimg`` set, pass ``probe=gankit.evaluation.QualityProbe()`` (what evaluates G; `gankit
    train` does)."""

    step = _Counter()
    nimg = _Counter()
    elapsed_s = _Counter()
    lr_scale = _Counter()
    rollbacks = _Counter()

    def __init__(
        self,
        cfg: Config,
        run_dir: str | Path,
        *,
        G: Generator | None = None,
        D: nn.Module | None = None,
        dataset: Dataset | None = None,
        progress: Progress | None = None,
        resume: bool = False,
        restart: bool = False,
        probe: Probe | None = None,
    ) -> None:
        t = cfg.train
        self.cfg = cfg
        self.run_dir = Path(run_dir)
        self.progress = progress
        if t.eval_every_kimg is not None and probe is None:
            raise ConfigError(
                "train.eval_every_kimg is set but the Trainer has no probe to evaluate with: pass "
                "probe=gankit.evaluation.QualityProbe()"
            )
        self.probe = probe
        self.stopped_early = False
        self.ranks = distributed.join(resolve_device(t.device))
        self.device = self.ranks.device
        self.dataset, split, self.num_classes = parts.training_split(cfg, dataset)
        if t.eval_every_kimg is not None:  # evaluation settings checked, train.eval_metric resolved
            self.cfg = cfg = probe.check(cfg, self.dataset)
        self.quality = tracker_of(cfg.train)
        self.streams = make_streams(t.seed, self.device)
        self.own_models = G is not None and D is not None  # else gankit builds both from model.arch
        resumed = self._checkpoint_to_resume(restart) if resume else None
        self.G, self.D = parts.run_models(
            cfg, self.dataset, split, self.num_classes, G, D, self.streams, self.ranks
        )
        data = parts.on_device(split, self.G.value_range, self.num_classes, self.device)
        # joint: gankit's D alone
        self._assemble(data, joint_d=D is None and not batch_coupled(self.D))
        self.last_checkpoint_step = -1
        if resumed is not None:
            self._restore(resumed)
        self.folder = self._folder(resume)
        self.doctor = self._doctor()
        self._metrics = None  # fit opens the metrics log

    # ---------------------------------------------------------------------------------------------- construction

    def _assemble(self, data: parts.TrainingData, joint_d: bool) -> None:
        """The named parts around G and D, in order: the data as held, the speed plan, ADA, the players, the
        schedules, the batches and the step runner, the EMA, the fixed inputs and the run state."""
        t = self.cfg.train
        self.x = data.x  # as held: uint8 images or float32 points (TrainingData.take converts)
        self.y = data.y
        self.n_train = len(data.x)
        on_host = "the training set is larger than a quarter of the GPU's free memory and stays on the host"
        blocker = unsupported(self.cfg, self.device, self.ranks.active)
        blocker = blocker or (on_host if data.x.device.type != self.device.type else None)
        self.speed = speed.plan(t, self.device, speed.convolutional(self.G, self.D), blocker)
        self.ada = parts.ada_of(self.cfg, self.device)
        self.players = build_players(
            self.cfg,
            self.G,
            self.D,
            self.speed,
            self.streams,
            self.ranks,
            joint_d=joint_d,
            ada=self.ada,
        )
        self.schedule = ScheduleWriter(self.cfg.optim, self.players.opt_g, self.players.opt_d)
        self.batches = self._batches(data)
        generators = [self.streams.noise, self.streams.aug, self.streams.reg]
        self.stepper = speed.step_runner(
            self.speed, self._iteration, self.players, t.k, self.batches, generators
        )
        self.ema = parts.ema_of(self.G, t)
        fixed = parts.fixed_inputs(self.G, self.dataset.kind, self.num_classes, t, self.device)
        self.fixed_z = fixed.z
        self.fixed_y = fixed.y
        self.grid_nrow = fixed.nrow
        self.snapshot_grid = self._snapshot_grid()
        self.state = RunState(
            self.G,
            self.D,
            self.players.opt_g,
            self.players.opt_d,
            self.ema,
            self.streams,
            self.batches.sampler,
            self.ada,
            self.quality,
        )

    @classmethod
    def resume(cls, run_dir: str | Path, overrides: list[str] = (), **kwargs: Any) -> "Trainer":
        """Continue the run in ``run_dir`` from its newest readable checkpoint. ``overrides`` may change only the
        stop conditions, intervals and device (``train.steps=...``); anything else would break exact continuation.
        ``restart=True`` starts again from step 0 instead, with the old history moved aside."""
        run_dir = Path(run_dir)
        if not (run_dir / "config.yaml").is_file():
            raise RunDirError(
                f"cannot resume {run_dir}: it has no config.yaml (not a gankit run folder)"
            )
        for item in overrides:
            key = item.partition("=")[0].strip()
            if not key.startswith("train.") or key[len("train.") :] not in RESUME_KEYS:
                allowed = ", ".join(f"train.{k}" for k in sorted(RESUME_KEYS))
                raise ConfigError(f"--resume allows overriding only {allowed}; got {key}")
        cfg = load_config(str(run_dir / "config.yaml"), list(overrides))
        return cls(cfg, run_dir, resume=True, **kwargs)

    def _batches(self, data: parts.TrainingData) -> Batches:
        """Minibatches from a sampler on the data's device (the data stream), noise and labels (the noise stream)."""
        t = self.cfg.train
        try:
            sampler = MinibatchSampler(self.n_train, t.batch_size, self.streams.data, self.device)
        except ValueError as e:
            raise ConfigError(str(e)) from None
        return Batches(
            data,
            self.G,
            sampler,
            self.streams.noise,
            self.ranks.local_slice(t.batch_size),
            speed.prepare_batch(self.speed),
        )

    def _snapshot_grid(self) -> torch.Tensor | None:
        """Where figure snapshots evaluate D (unconditional 1-D and 2-D point runs with ``train.snapshot_every``)."""
        on = (
            self.cfg.train.snapshot_every > 0
            and self.dataset.kind == "points"
            and self.x.shape[1] <= 2
            and not self.num_classes
        )
        return snapshot_grid(self.x[: parts.POINTS_PLOT_N].cpu()) if on else None

    def _checkpoint_to_resume(self, restart: bool) -> ckpt.Checkpoint | None:
        """The newest readable checkpoint; None when the run never wrote one, or on ``restart`` (the old history is
        moved aside first). Checkpoints that are all unreadable stop the resume and change nothing. Read before the
        models are built: a run of modules passed to the Trainer resumes only with them."""
        if restart:
            if self.ranks.is_main:
                aside = RunFolder(self.run_dir, writes=True).move_history_aside()
                log.warning(
                    "--restart: the run's history moved to %s; starting again from step 0", aside
                )
            self.ranks.barrier()
            return None
        try:
            good = ckpt.load_latest_good(self.run_dir / "checkpoints")
        except CheckpointError as e:
            raise CheckpointError(
                f"cannot resume: {e}; nothing was changed (to start again from step 0 with the "
                f"old history moved aside, add --restart)"
            ) from None
        if good is None:
            log.warning("%s has no checkpoint: starting again from step 0", self.run_dir)
        elif good.meta.get("own_models") and not self.own_models:
            raise RunDirError(
                f"{self.run_dir} was trained on a G and D passed to the Trainer: resume it with "
                f"Trainer.resume(run_dir, G=..., D=...)"
            )
        return good

    def _folder(self, resume: bool) -> RunFolder:
        """The run folder, checked and created by rank 0 (config.yaml written first); every rank waits for it."""
        folder = RunFolder(self.run_dir, writes=self.ranks.is_main)
        folder.prepare(
            to_yaml(self.cfg), resume, self.checkpoint_bytes(), self.cfg.train.keep_checkpoints
        )
        self.ranks.barrier()
        return folder

    def checkpoint_bytes(self) -> int:
        """The size of one checkpoint of this run once training has begun: the state now, what the first step adds
        (the optimisers' per-parameter moments, the sampler's permutation of the training set) and the JSON."""
        tensors, meta = self.state_tensors()
        size = (
            sum(v.numel() * v.element_size() for v in tensors.values())
            + self.streams.torch.state()[0].numel()
        )
        if not self.players.opt_g.state and not self.players.opt_d.state:
            params = [*self.G.parameters(), *self.D.parameters()]
            size += state_slots(self.cfg.optim) * sum(p.numel() * p.element_size() for p in params)
        if not len(self.batches.sampler.perm):
            size += 8 * self.n_train
        header = 200 * (
            len(tensors) + 3 * len(list(self.G.parameters())) + 3 * len(list(self.D.parameters()))
        )
        return size + header + len(json.dumps(meta, indent=1, default=str))

    def _doctor(self) -> Doctor | None:
        """Rank 0's training doctor (``train.doctor``), which knows the real data's diversity."""
        if not (self.cfg.train.doctor and self.ranks.is_main):
            return None
        first = torch.arange(min(256, self.n_train), device=self.device)
        return Doctor(
            self.run_dir,
            probabilistic_d=resolve_objective(self.cfg.objective.loss).probabilistic,
            real_diversity=diversity(self.batches.data.take(first)),
        )

    # ---------------------------------------------------------------------------------------------- counters

    @property
    def G_eval(self) -> Generator:
        """The generator used for pictures, snapshots and evaluation: the EMA copy when there is one."""
        return self.ema.shadow if self.ema is not None else self.G

    @property
    def epochs_done(self) -> int:
        return self.nimg // self.n_train

    @property
    def images_per_step(self) -> int:
        """Real samples D sees in one iteration (``train.nimg`` counts these)."""
        return self.players.real_batches(self.cfg.train.k) * self.cfg.train.batch_size

    def total_steps(self) -> int | None:
        """Generator updates until a step/epoch/image stop (None when only ``minutes`` is set)."""
        t, per_step = self.cfg.train, self.images_per_step
        bounds = [t.steps] if t.steps else []
        if t.epochs:
            bounds.append(math.ceil(t.epochs * self.n_train / per_step))
        if t.nimg:
            bounds.append(math.ceil(t.nimg / per_step))
        return min(bounds) if bounds else None

    def done(self) -> bool:
        t = self.cfg.train
        total = self.total_steps()
        return (
            (total is not None and self.step >= total)
            or (t.minutes is not None and self.elapsed_s >= 60 * t.minutes)
            or self.stopped_early
        )

    def logs_at(self, step: int) -> bool:
        """Whether the training loop writes a metrics row after ``step`` (every ``log_every`` steps and at a
        step/epoch/image stop; a ``minutes`` stop is only known once reached)."""
        total = self.total_steps()
        return step % self.cfg.train.log_every == 0 or (total is not None and step >= total)

    # ---------------------------------------------------------------------------------------------- a step

    def _iteration(self, grad_norms: bool) -> Stats:
        return training_iteration(
            self.players,
            self.cfg.train.k,
            self.batches.real,
            self.batches.noise,
            self.batches.labels,
            grad_norms=grad_norms,
        )

    def train_step(self) -> tuple[dict[str, float], dict[str, torch.Tensor]]:
        """One iteration of Algorithm 1 with this step's schedules, counters, EMA and ADA: (hyper-parameters, stats as
        device tensors — reading them is the caller's choice). The gradient norms are in the stats only for a step
        that the loop logs (:meth:`logs_at`): measuring them costs a pass over every gradient; so are ADA's p and r_t
        (``augment_p``, ``ada_rt``), as they are after the step and its adjustment of p."""
        t = self.cfg.train
        ramp = ramped(self.cfg, self.nimg)
        hyper = {
            **self.schedule.write(self.step, self.epochs_done, self.lr_scale, ramp),
            **self._write_ramps(ramp),
        }
        grad_norms = self.logs_at(self.step + 1)
        with self.speed.scope(), self.streams.torch.installed():
            stats = self.stepper(grad_norms)
        if not grad_norms:  # a captured CUDA graph measures them on every replay
            stats = {k: v for k, v in stats.items() if k not in GRAD_NORM_KEYS}
        self.step += 1
        self.nimg += self.images_per_step
        if self.ema is not None:
            self.ema.update(self.G, t.batch_size, self.nimg)
        if self.ada is not None:
            if self.ada.due(self.step):
                self.ada.adjust(self.ranks.add_up)
            if grad_norms:  # a logged step: p and r_t as they are after it
                stats = {**stats, **self.ada.stats()}
        return hyper, stats

    def _write_ramps(self, ramp: dict[str, float]) -> dict[str, float]:
        """This step's ramped penalty scale, augmentation probability (unless ADA sets it) and EMA half-life into
        the parts that read them; returns the ramped ones for the log."""
        p, t, out = self.players, self.cfg.train, {}
        augment_p = p.augment_p if self.ada is None else None
        for name, knob in (("penalty_scale", p.penalty_scale), ("augment_p", augment_p)):
            if knob is not None:
                knob.fill_(ramp[name])
                out[name] = ramp[name]
        if self.ema is not None and t.ema_half_life_final_kimg is not None:
            self.ema.half_life_img = 1000 * ramp["ema_half_life_kimg"]
            out["ema_half_life_kimg"] = ramp["ema_half_life_kimg"]
        return out

    # ---------------------------------------------------------------------------------------------- the loop

    def fit(self) -> dict[str, Any]:
        """Train until a stop condition holds; returns the last logged row. SIGINT/SIGTERM stop at a step boundary
        with a checkpoint (TrainingInterrupted); NaN/Inf follows ``train.on_divergence`` (TrainingDiverged)."""
        self.G.train()
        self.D.train()
        with self.speed.scope():
            if (
                self.last_checkpoint_step < 0
            ):  # a fresh run: step 0 is the first good state to roll back to
                self.save_checkpoint()
            if self.step == 0 and self.snapshot_grid is not None and self.folder.writes:
                self.save_snapshot()
            self._metrics = self.folder.metrics(self.step)
            try:
                with SignalGuard() as signals:
                    last_row = self._loop(signals)
                if (
                    self.step > 0
                    and self.folder.writes
                    and not self.folder.samples_path(self.step).exists()
                ):
                    self.save_samples()
            finally:
                self._metrics.close()
        return last_row

    def _loop(self, signals: SignalGuard) -> dict[str, Any]:
        """Steps until done, each followed by the stages: log, quality, checkpoint (log and checkpoint may roll
        back), pictures, progress, signals."""
        meter, last_row = Meter(self.nimg, self.elapsed_s), {}
        while not self.done():
            nimg_before = self.nimg
            hyper, stats = self.train_step()
            self.elapsed_s = meter.add(stats)
            try:
                row = self._log(meter, hyper)
                last_row = row or last_row
                self._track_quality(meter, nimg_before)
                self._checkpoint(signals)
            except _RolledBack:
                meter.restart(self.nimg, self.elapsed_s)
                continue
            self._pictures()
            if self.progress is not None:
                self.progress(self, row)
            self._stop_if_signalled(signals)
        return last_row

    def _log(self, meter: Meter, hyper: dict[str, float | None]) -> dict[str, Any] | None:
        """Every ``log_every`` steps and at the end: the interval's means (over ranks) as a metrics row, checked by
        the doctor; a NaN/Inf loss rolls back instead. None between log steps."""
        if not (self.step % self.cfg.train.log_every == 0 or self.done()):
            return None
        means, img_per_s = meter.take(self.nimg)
        row = {
            "step": self.step,
            "nimg": self.nimg,
            "epoch": self.nimg / self.n_train,
            "time_s": self.elapsed_s,
            **self.ranks.mean(means),
            **{k: v for k, v in hyper.items() if v is not None},
            "img_per_s": img_per_s,
        }
        self._check_losses(row)
        self._metrics.write(row)
        if self.doctor is not None:
            self.doctor.check_row(row)
        return row

    def _check_losses(self, row: dict[str, Any]) -> None:
        """A NaN/Inf loss or penalty, or a loss beyond ±``train.max_abs_loss``, is divergence (roll back or stop)."""
        bad = [k for k in ("d_loss", "g_loss", "penalty") if k in row and not math.isfinite(row[k])]
        if bad:
            self._roll_back(f"non-finite {', '.join(bad)}")
        bound = self.cfg.train.max_abs_loss
        exploded = [
            f"{k} {row[k]:.3g}" for k in ("d_loss", "g_loss") if k in row and abs(row[k]) > bound
        ]
        if exploded:
            self._roll_back(
                f"exploded {', '.join(exploded)} (beyond ±{bound:g}, train.max_abs_loss)"
            )

    def _track_quality(self, meter: Meter, nimg_before: int) -> None:
        """When due (every ``train.eval_every_kimg``): rank 0 evaluates G_eval with the probe, logs the
        value, keeps a new best in ``checkpoints/best``; the time it took is left out of training time; patience
        run out on any rank stops every rank."""
        if self.quality is None or not self.quality.due(nimg_before, self.nimg):
            return
        started = time.monotonic()
        if self.ranks.is_main:
            row = self._evaluate_quality()
            self.quality.seconds += time.monotonic() - started
            self._log_quality(row, time.monotonic() - started)
        self.stopped_early = bool(self.ranks.largest(int(self.quality.stale(self.nimg))))
        self.ranks.barrier()
        meter.pause(time.monotonic() - started)

    def _evaluate_quality(self) -> dict[str, Any]:
        """The probe's row for G_eval (in eval mode meanwhile); a new best is recorded and its checkpoint kept."""
        G = self.G_eval
        was_training = G.training
        G.eval()
        try:
            which = "ema" if self.ema is not None else "raw"
            row = self.probe(G, self.cfg, self.dataset.kind, which)
        finally:
            G.train(was_training)
        if self.quality.record(float(row["value"]), self.step, self.nimg):
            tensors, meta = self.state_tensors()
            if not ckpt.nonfinite(tensors, meta):
                ckpt.save(
                    self.run_dir / "checkpoints" / ckpt.BEST, self.step, tensors, meta, keep=1
                )
        return row

    def _log_quality(self, row: dict[str, Any], seconds: float) -> None:
        """The evaluation as a metrics.jsonl row (``quality/<metric>``, ``quality/best``, seconds) and its protocol
        as TensorBoard text."""
        q = self.quality
        self._metrics.write(
            {
                "step": self.step,
                "nimg": self.nimg,
                "time_s": self.elapsed_s,
                f"quality/{q.metric}": float(row["value"]),
                "quality/best": q.best,
                "quality/best_step": q.best_step,
                "quality/seconds": seconds,
                "quality/total_seconds": q.seconds,
                "quality/protocol": row.get("protocol"),
            }
        )
        self._metrics.text(
            f"quality/{q.metric}/protocol", json.dumps(row.get("protocol")), self.step
        )

    def _checkpoint(self, signals: SignalGuard) -> None:
        """Every ``checkpoint_every`` steps, at the end and when a stop signal came: a checkpoint, if every number
        of the state is finite (else roll back: no checkpoint holds NaN or Inf)."""
        if self.step % self.cfg.train.checkpoint_every == 0 or signals.requested or self.done():
            tensors, meta = self.state_tensors()
            bad = ckpt.nonfinite(tensors, meta)
            if bad:
                self._roll_back(f"non-finite state ({len(bad)} entries, e.g. {bad[0]})")
            self.save_checkpoint(tensors, meta)

    def _pictures(self) -> None:
        """Rank 0: the fixed-noise picture every ``sample_every`` steps, snapshots every ``snapshot_every`` and at
        the end."""
        if not self.folder.writes:
            return
        if self.step % self.cfg.train.sample_every == 0:
            self.save_samples()
        if self.snapshot_grid is not None and (
            self.step % self.cfg.train.snapshot_every == 0 or self.done()
        ):
            self.save_snapshot()

    def _stop_if_signalled(self, signals: SignalGuard) -> None:
        """After a SIGINT/SIGTERM (on any rank: all stop at the same step), stop with TrainingInterrupted."""
        if signals.requested:
            name = signal.Signals(signals.requested).name
            raise TrainingInterrupted(
                f"stopped by {name} at step {self.step}; checkpoint "
                f"{ckpt.step_name(self.step)} written; continue with: "
                f"gankit train --resume {self.run_dir}",
                128 + signals.requested,
            )
        signals.requested = self.ranks.largest(signals.requested or 0) or None

    def _note(self, step: int, kind: str, message: str) -> None:
        if self.doctor is not None:
            self.doctor.warn(step, kind, message)
        elif self.ranks.is_main:
            log.warning("step %d: %s", step, message)

    # ---------------------------------------------------------------------------------------------- state

    def state_tensors(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """Everything needed to continue exactly, and what the run is: (tensors, JSON-able metadata)."""
        tensors, meta = self.state.to_checkpoint()
        meta.update(
            config=self.cfg.to_dict(),
            device=str(self.device),
            kind=self.dataset.kind,
            sample_shape=list(self.dataset.sample_shape),
            num_classes=self.num_classes,
            own_models=self.own_models,
        )
        return tensors, meta

    def save_checkpoint(
        self, tensors: dict[str, torch.Tensor] | None = None, meta: dict[str, Any] | None = None
    ) -> str:
        """Rank 0 writes the checkpoint of the state (:meth:`state_tensors` unless given), with every rank's dropout
        RNG state; all ranks wait for it."""
        if tensors is None or meta is None:
            tensors, meta = self.state_tensors()
        tensors.update(self.ranks.per_rank("rng.torch", self.streams.torch.state()[0]))
        if self.ranks.active:
            meta["world_size"] = self.ranks.world
        self.folder.save_checkpoint(self.step, tensors, meta, self.cfg.train.keep_checkpoints)
        self.ranks.barrier()
        self.last_checkpoint_step = self.step
        return ckpt.step_name(self.step)

    def _restore(self, c: ckpt.Checkpoint) -> None:
        """Continue from checkpoint ``c``; what depends on the state follows (schedules, the CUDA graph)."""
        self.state.load(c, self.ranks.rank)
        self.stopped_early = self.quality is not None and self.quality.stale(self.nimg)
        self.schedule.forget()
        self.stepper.restored()
        self.players.d_updates = self.step * self.cfg.train.k
        self.last_checkpoint_step = self.step

    def _roll_back(self, what: str) -> None:
        """``train.on_divergence``: back to the newest good checkpoint with the learning rates × the factor (raises
        _RolledBack), or stop; TrainingDiverged when stopping or after ``max_rollbacks``."""
        t, folder = self.cfg.train, self.run_dir / "checkpoints"
        where = f"{what} at step {self.step}"
        if t.on_divergence == "stop" or self.rollbacks >= t.max_rollbacks:
            why = (
                "train.on_divergence=stop"
                if t.on_divergence == "stop"
                else f"gave up after {self.rollbacks} rollbacks (train.max_rollbacks)"
            )
            self._note(self.step, "diverged", f"{where}; stopped: {why}")
            raise TrainingDiverged(
                f"training diverged: {where}; stopped ({why}); the last good checkpoint is "
                f"{ckpt.step_name(self.last_checkpoint_step)} in {folder}"
            )
        try:
            good = ckpt.load_latest_good(folder)
        except CheckpointError as e:
            raise TrainingDiverged(
                f"training diverged: {where}, and no checkpoint to roll back to: {e}"
            ) from None
        if good is None:
            raise TrainingDiverged(f"training diverged: {where}, and {folder} holds no checkpoint")
        rollbacks, scale, bad_step = (
            self.rollbacks + 1,
            self.lr_scale * t.rollback_lr_factor,
            self.step,
        )
        self._restore(good)
        self.rollbacks = rollbacks
        self.lr_scale = scale
        self._note(
            bad_step,
            "rollback",
            f"{where}: rolled back to step {self.step}, learning rates × {scale:g} "
            f"(rollback {rollbacks} of at most {t.max_rollbacks})",
        )
        self._metrics.close()
        self._metrics = self.folder.metrics(self.step)
        raise _RolledBack

    # ---------------------------------------------------------------------------------------------- pictures

    @torch.no_grad()
    def generate(
        self, z: torch.Tensor, G: Generator | None = None, y: torch.Tensor | None = None
    ) -> torch.Tensor:
        """G(z) (or G(z, y) with labels) in eval mode (restores the previous mode); ``G`` defaults to the trained
        generator."""
        G = G if G is not None else self.G
        was_training = G.training
        G.eval()
        try:
            return G(z) if y is None else G(z, y)
        finally:
            G.train(was_training)

    def save_samples(self) -> Path:
        """Fixed-noise picture ``samples/step-….png``: an image grid, or a plot of points against the data."""
        out = self.generate(self.fixed_z, self.G_eval, self.fixed_y)
        if self.doctor is not None:
            self.doctor.check_samples(self.step, out)
        if self.dataset.kind == "image":
            data = png_bytes(
                grid_image(to_uint8(out, self.G.value_range).cpu(), nrow=self.grid_nrow)
            )
        else:
            data = points_plot(out, self.x[: parts.POINTS_PLOT_N], title=f"step {self.step}")
        return self.folder.save_samples(self.step, data)

    def save_snapshot(self) -> None:
        """The figure snapshot of this step (gankit.train.snapshots)."""
        self.folder.save_snapshot(
            self.step, take_snapshot(self.G_eval, self.D, self.snapshot_grid, self.fixed_z)
        )
