"""The training loop around Algorithm 1: the Trainer, assembled from named parts (gankit.train.assembly), steps and,
after each step, runs the loop's stages (gankit.train.stages: log, quality, checkpoint, pictures, signals); a
divergence rolls back (gankit.train.rollback) and a run resumes exactly (gankit.train.resume). Counters: ``step`` =
generator updates, ``nimg`` = real samples shown to D.

A Trainer changes no process-wide state: model initialisation and dropout draw from the run's own state of torch's
default generators (gankit.train.rng), and TF32 and compiler settings hold only while its steps run
(:meth:`gankit.train.speed.SpeedPlan.scope`). The exception is distributed training, whose torchrun process joins a
process group (gankit.train.distributed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from ..config import Config, load_config
from ..data import Dataset, Split
from ..errors import ConfigError
from ..models import Generator, batch_coupled
from . import checkpoint as ckpt
from . import distributed, stages, stopping
from .algorithm import GRAD_NORM_KEYS
from .assembly import assemble, doctor_of, run_folder
from .device import resolve_device
from .ema import EMA
from .guard import SignalGuard
from .logger import Meter
from .networks import run_models
from .pictures import fixed_inputs, generate, samples_picture, snapshot_grid_of
from .quality import Probe, tracker_of
from .resume import check_resumable, checkpoint_to_resume, restore
from .rng import make_streams
from .rollback import roll_back
from .schedules import ramp_progress, write_ramps
from .snapshots import take_snapshot
from .state import Counter
from .training_data import on_device, training_split
from .tricks import StepDone

Progress = Callable[["Trainer", "dict[str, Any] | None"], None]


class Trainer:
    """Trains G and D on ``cfg`` into ``run_dir``. Pass ``G``/``D`` to train your own modules (G must subclass
    :class:`gankit.models.Generator`, D must return logits [n]); pass ``dataset`` to skip the registry. With
    ``train.eval_every_kimg`` set, pass ``probe=gankit.evaluation.QualityProbe()`` (what evaluates G; `gankit
    train` does)."""

    step = Counter()
    nimg = Counter()
    elapsed_s = Counter()
    lr_scale = Counter()
    rollbacks = Counter()

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
        self.cfg, self.run_dir, self.progress, self.probe = cfg, Path(run_dir), progress, probe
        if t.eval_every_kimg is not None and probe is None:
            raise ConfigError(
                "train.eval_every_kimg is set but the Trainer has no probe to evaluate with: pass "
                "probe=gankit.evaluation.QualityProbe()"
            )
        self.stopped_early = False
        self.ranks = distributed.join(resolve_device(t.device))
        self.device = self.ranks.device
        self.dataset, split, self.num_classes = training_split(cfg, dataset)
        if t.eval_every_kimg is not None:  # evaluation settings checked, train.eval_metric resolved
            self.cfg = cfg = probe.check(cfg, self.dataset)
        self.quality = tracker_of(cfg.train)
        self.streams = make_streams(t.seed, self.device)
        self.own_models = G is not None and D is not None  # else gankit builds both from model.arch
        resumed = None
        if resume:
            resumed = checkpoint_to_resume(self.run_dir, self.ranks, self.own_models, restart)
        self._assemble(split, G, D)
        self.last_checkpoint_step = -1
        if resumed is not None:
            restore(self, resumed)
        self.folder = run_folder(self.run_dir, cfg, self.ranks, resume, self.checkpoint_bytes())
        self.doctor = doctor_of(cfg, self.ranks, self.run_dir, self.batches)
        self.metrics_log = None  # fit opens the metrics log

    def _assemble(self, split: Split, G: Generator | None, D: nn.Module | None) -> None:
        """G and D (``G``/``D`` when given), the training data on the device and the named parts around them
        (gankit.train.assembly), held as the Trainer's attributes."""
        cfg, ranks, streams, classes = self.cfg, self.ranks, self.streams, self.num_classes
        self.G, self.D = run_models(cfg, self.dataset, split, classes, G, D, streams, ranks)
        data = on_device(split, self.G.value_range, classes, self.device)
        self.x, self.y, self.n_train = data.x, data.y, len(data.x)  # x as held: uint8 or float32
        # one D pass over [real; fake]: gankit's D alone
        joint_d = D is None and not batch_coupled(self.D)
        a = assemble(cfg, self.G, self.D, data, streams, ranks, self.quality, joint_d)
        self.speed, self.tricks, self.players, self.schedule = (
            a.speed,
            a.tricks,
            a.players,
            a.schedule,
        )
        self.batches, self.stepper, self.state = a.batches, a.stepper, a.state
        fixed = fixed_inputs(self.G, self.dataset.kind, classes, cfg.train, self.device)
        self.fixed_z, self.fixed_y, self.grid_nrow = fixed.z, fixed.y, fixed.nrow
        self.snapshot_grid = snapshot_grid_of(cfg.train, self.dataset.kind, self.x, classes)

    @classmethod
    def resume(cls, run_dir: str | Path, overrides: list[str] = (), **kwargs: Any) -> "Trainer":
        """Continue the run in ``run_dir`` from its newest readable checkpoint. ``overrides`` may change only the
        stop conditions, intervals and device (``train.steps=...``); anything else would break exact continuation.
        ``restart=True`` starts again from step 0 instead, with the old history moved aside."""
        run_dir = Path(run_dir)
        check_resumable(run_dir, overrides)
        cfg = load_config(str(run_dir / "config.yaml"), list(overrides))
        return cls(cfg, run_dir, resume=True, **kwargs)

    def checkpoint_bytes(self) -> int:
        """The size of one checkpoint of this run once training has begun (:meth:`RunState.checkpoint_bytes`)."""
        return self.state.checkpoint_bytes(*self.state_tensors(), self.cfg.optim)

    # ---------------------------------------------------------------------------------------------- counters

    @property
    def ema(self) -> EMA | None:
        """The EMA of G's weights (the ``ema`` trick's), or None."""
        trick = self.tricks.get("ema")
        return None if trick is None else trick.ema

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
        return stopping.total_steps(self.cfg.train, self.n_train, self.images_per_step)

    def done(self) -> bool:
        """Whether a stop condition holds (gankit.train.stopping) or patience ran out."""
        reached = stopping.reached(self.cfg.train, self.step, self.total_steps(), self.elapsed_s)
        return reached or self.stopped_early

    def logs_at(self, step: int) -> bool:
        """Whether the training loop writes a metrics row after ``step`` (:func:`stopping.logs_at`)."""
        return stopping.logs_at(self.cfg.train, step, self.total_steps())

    # ---------------------------------------------------------------------------------------------- a step

    def train_step(self) -> tuple[dict[str, float], dict[str, torch.Tensor]]:
        """One iteration of Algorithm 1 with this step's schedules, counters and the tricks' work after it (the EMA,
        ADA): (hyper-parameters, stats as device tensors — reading them is the caller's choice). The gradient norms
        are in the stats only for a step that the loop logs (:meth:`logs_at`): measuring them costs a pass over
        every gradient; so are the tricks' stats after the step (ADA's ``augment_p``, ``ada_rt``)."""
        t = self.cfg.train
        progress = ramp_progress(t.ramp_kimg, self.nimg)
        hyper = {
            **self.schedule.write(self.step, self.epochs_done, self.lr_scale, progress),
            **write_ramps(self.tricks.ramps(), progress),
        }
        grad_norms = self.logs_at(self.step + 1)
        with self.speed.scope(), self.streams.torch.installed():
            stats = self.stepper(grad_norms)
        if not grad_norms:  # a captured CUDA graph measures them on every replay
            stats = {k: v for k, v in stats.items() if k not in GRAD_NORM_KEYS}
        self.step += 1
        self.nimg += self.images_per_step
        done = StepDone(self.step, self.nimg, grad_norms, self.G, t.batch_size, self.ranks.add_up)
        return hyper, {**stats, **self.tricks.after_step(done)}

    # ---------------------------------------------------------------------------------------------- the loop

    def fit(self) -> dict[str, Any]:
        """Train until a stop condition holds; returns the last logged row. SIGINT/SIGTERM stop at a step boundary
        with a checkpoint (TrainingInterrupted); NaN/Inf follows ``train.on_divergence`` (TrainingDiverged)."""
        self.G.train()
        self.D.train()
        with self.speed.scope():
            if (
                self.last_checkpoint_step < 0
            ):  # a fresh run: step 0, the first good state to go back to
                self.save_checkpoint()
            if self.step == 0 and self.snapshot_grid is not None and self.folder.writes:
                self.save_snapshot()
            self.metrics_log = self.folder.metrics(self.step)
            try:
                with SignalGuard() as signals:
                    last_row = self._loop(signals)
                if self.step > 0 and self.folder.writes:
                    if not self.folder.samples_path(self.step).exists():
                        self.save_samples()
            finally:
                self.metrics_log.close()
        return last_row

    def _loop(self, signals: SignalGuard) -> dict[str, Any]:
        """Steps until done, each followed by the stages: log, quality, checkpoint (a divergence found by log or
        checkpoint rolls back), pictures, progress, signals."""
        meter, last_row = Meter(self.nimg, self.elapsed_s), {}
        while not self.done():
            nimg_before = self.nimg
            hyper, stats = self.train_step()
            self.elapsed_s = meter.add(stats)
            try:
                row = stages.log(self, meter, hyper)
                last_row = row or last_row
                stages.track_quality(self, meter, nimg_before)
                stages.checkpoint(self, signals)
            except stages.Divergence as diverged:
                roll_back(self, str(diverged))
                meter.restart(self.nimg, self.elapsed_s)
                continue
            stages.pictures(self)
            if self.progress is not None:
                self.progress(self, row)
            stages.stop_if_signalled(signals, self.step, self.run_dir, self.ranks)
        return last_row

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

    # ---------------------------------------------------------------------------------------------- pictures

    def generate(
        self, z: torch.Tensor, G: Generator | None = None, y: torch.Tensor | None = None
    ) -> torch.Tensor:
        """G(z) (or G(z, y) with labels) in eval mode (restores the previous mode); ``G`` defaults to the trained
        generator."""
        return generate(G if G is not None else self.G, z, y)

    def save_samples(self) -> Path:
        """Fixed-noise picture ``samples/step-….png``: an image grid, or a plot of points against the data."""
        out = self.generate(self.fixed_z, self.G_eval, self.fixed_y)
        if self.doctor is not None:
            self.doctor.check_samples(self.step, out)
        kind, value_range = self.dataset.kind, self.G.value_range
        picture = samples_picture(out, kind, value_range, self.grid_nrow, self.x, self.step)
        return self.folder.save_samples(self.step, picture)

    def save_snapshot(self) -> None:
        """The figure snapshot of this step (gankit.train.snapshots)."""
        self.folder.save_snapshot(
            self.step, take_snapshot(self.G_eval, self.D, self.snapshot_grid, self.fixed_z)
        )
