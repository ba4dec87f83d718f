"""The training loop around Algorithm 1: data on the device, schedules, stop conditions, logging, sample grids,
checkpoints and exact resume. Counters: ``step`` = generator updates, ``nimg`` = real samples shown to D.
"""

from __future__ import annotations

import logging
import math
import signal
import time
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from ..config import Config, load_config, to_yaml
from ..data import Dataset, load_dataset, to_model_range, to_uint8
from ..errors import ConfigError, RunDirError, TrainingInterrupted
from ..fileio import write_atomic
from ..models import Generator, batch_coupled, build_models
from ..objectives import get_objective
from ..viz.grids import grid_image, png_bytes, points_plot
from . import checkpoint as ckpt
from . import distributed, speed
from .algorithm import GRAD_NORM_KEYS, Players, Stats, training_iteration
from .cudagraph import CapturedStep, make_capturable, unsupported
from .ema import EMA
from .guard import Doctor, SignalGuard, diversity
from .logger import MetricsLog
from .optim import build_optimizer
from .sampler import MinibatchSampler
from .schedules import lr_at, momentum_at
from .snapshots import save_snapshot, snapshot_grid, take_snapshot
from .state import RunState

log = logging.getLogger(__name__)

# one seed, one generator per purpose
STREAMS = {"init": 0, "noise": 1, "data": 2, "viz": 3, "eval": 4, "aug": 5, "reg": 6}
RESUME_KEYS = {"steps", "epochs", "nimg", "minutes", "log_every", "sample_every", "checkpoint_every",
               "keep_checkpoints", "device", "speed", "tf32", "channels_last", "on_divergence", "max_rollbacks",
               "doctor"}
POINTS_PLOT_N = 2000

Progress = Callable[["Trainer", "dict[str, Any] | None"], None]


def stream_seed(seed: int, stream: str) -> int:
    """Seed of one random stream derived from the run's seed."""
    return (seed * 1_000_003 + STREAMS[stream] * 7_919) % (2**63 - 1)


def resolve_device(name: str) -> torch.device:
    """``auto`` → cuda if present, else cpu; asking for cuda without one is an error, never a silent fallback."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("train.device: cuda was asked for but no CUDA device is available (use auto or cpu)")
    return torch.device(name)


def _assign(group: dict[str, Any], key: str, value: float) -> None:
    """Set an optimiser hyper-parameter; a device tensor (captured by a CUDA graph) is written in place."""
    if isinstance(group[key], torch.Tensor):
        group[key].fill_(value)
    else:
        group[key] = value


def _accumulate(sums: dict[str, torch.Tensor], counts: dict[str, int], stats: Stats) -> None:
    """Add a step's stats (device scalars) into the running sums with one multi-tensor kernel; no host sync."""
    seen = [k for k in stats if k in sums]
    if seen:
        torch._foreach_add_([sums[k] for k in seen], [stats[k] for k in seen])
    for key, value in stats.items():
        if key not in sums:
            sums[key] = value.clone()  # a captured step's stats are overwritten by the next replay
        counts[key] = counts.get(key, 0) + 1


class _NoLog:
    """Ranks other than 0 log nothing."""

    def write(self, row: dict[str, Any]) -> None:
        pass

    def close(self) -> None:
        pass


class Trainer(RunState):
    """Trains G and D on ``cfg`` into ``run_dir``. Pass ``G``/``D`` to train your own modules (G must subclass
    :class:`gankit.models.Generator`, D must return logits [n]); pass ``dataset`` to skip the registry."""

    def __init__(self, cfg: Config, run_dir: str | Path, *, G: Generator | None = None, D: nn.Module | None = None,
                 dataset: Dataset | None = None, progress: Progress | None = None, resume: bool = False) -> None:
        self.cfg, self.run_dir, self.progress = cfg, Path(run_dir), progress
        t = cfg.train
        self.device = resolve_device(t.device)
        self.dist = distributed.from_env(self.device.type)
        if self.dist.active and self.device.type == "cuda":
            self.device = torch.device("cuda", self.dist.local_rank)
        self._local = distributed.local_slice(self.dist, t.batch_size)  # this rank's rows of each global batch
        self.dataset = dataset if dataset is not None else load_dataset(cfg.data)
        split = self.dataset.split(cfg.data.split)
        self.num_classes = self._check_labels(split) if cfg.model.conditional != "none" else 0
        torch.manual_seed(stream_seed(t.seed, "init"))  # model init, then dropout draws
        own_D = D is None  # a user's D may couple the samples of a batch in ways gankit cannot see
        self.own_models = G is not None and D is not None  # else gankit builds both from model.arch
        if G is None or D is None:
            pixel_mean = split.x.float().mean(0) / 255.0 if split.x.dtype == torch.uint8 else None
            G, D = build_models(cfg.model, sample_shape=self.dataset.sample_shape, kind=self.dataset.kind,
                                pixel_mean=pixel_mean, num_classes=self.num_classes)
        if cfg.model.spectral_norm:
            from ..models.spectral import apply_spectral_norm

            D = apply_spectral_norm(D)
        if t.sync_batchnorm and self.dist.active:
            if self.device.type != "cuda":
                raise ConfigError("train.sync_batchnorm needs CUDA (PyTorch's SyncBatchNorm runs on GPUs only)")
            G = nn.SyncBatchNorm.convert_sync_batchnorm(G)
            D = nn.SyncBatchNorm.convert_sync_batchnorm(D)
        if self.dist.rank:  # identical initial weights on every rank; dropout draws differ per rank
            torch.manual_seed(stream_seed(t.seed, "init") + self.dist.rank)
        self.G, self.D = G.to(self.device), D.to(self.device)
        self.speed = speed.plan(t, self.device, speed.convolutional(self.G, self.D),
                                unsupported(cfg, self.device, self.dist.active))
        G_fast, D_fast = speed.prepare_module(self.G, self.speed), speed.prepare_module(self.D, self.speed)
        self._batch_format = speed.prepare_batch(self.speed)
        self.x = to_model_range(split.x, self.G.value_range).to(self.device)
        self.n_train = len(self.x)
        self.y = split.y.to(self.device) if self.num_classes else None
        self.class_freq = torch.bincount(self.y, minlength=self.num_classes).float() if self.num_classes else None
        o = cfg.objective
        objective = get_objective(o.loss, g_loss=o.g_loss, label_smoothing=o.label_smoothing)
        self.players = Players(G_fast, D_fast, build_optimizer(cfg.optim, self.G.parameters()),
                               build_optimizer(cfg.optim, self.D.parameters()), objective.d_loss,
                               objective.g_loss, o.d_weight, objective.g_needs_real,
                               penalty=self._penalty if o.penalised else None,
                               penalty_every=o.reg_every, augment=self._augment if t.augment else None, clip=o.clip,
                               ac_weight=o.ac_weight, autocast=self.speed.autocast,
                               penalty_D=self.D if D_fast is not self.D else None,
                               sync=self._average_gradients if self.dist.active else None,
                               joint_d=own_D and not batch_coupled(self.D))
        self.noise_gen = torch.Generator(self.device).manual_seed(stream_seed(t.seed, "noise"))
        self.data_gen = torch.Generator(self.device).manual_seed(stream_seed(t.seed, "data"))
        self.aug_gen = torch.Generator(self.device).manual_seed(stream_seed(t.seed, "aug"))
        self.reg_gen = torch.Generator(self.device).manual_seed(stream_seed(t.seed, "reg"))
        try:
            self.sampler = MinibatchSampler(self.n_train, t.batch_size, self.data_gen, self.device)
        except ValueError as e:
            raise ConfigError(str(e)) from None
        self.captured = self._capture_plan() if self.speed.mode == "cudagraph" else None
        self.ema = EMA(self.G, half_life_img=1000 * t.ema_half_life_kimg, rampup=t.ema_rampup) \
            if t.ema_half_life_kimg > 0 else None
        viz_gen = torch.Generator().manual_seed(stream_seed(t.seed, "viz"))
        n_viz = POINTS_PLOT_N if self.dataset.kind == "points" else t.grid_size
        self.fixed_y, self.grid_nrow = None, None
        if self.num_classes:  # classes in turn: image grids get one column per class
            if self.dataset.kind == "image":
                self.grid_nrow = self.num_classes
                n_viz = self.num_classes * max(1, t.grid_size // self.num_classes)
            self.fixed_y = torch.arange(n_viz, device=self.device) % self.num_classes
        self.fixed_z = self.G.sample_z(n_viz, generator=viz_gen, device="cpu").to(self.device)
        self.step, self.nimg, self.elapsed_s = 0, 0, 0.0
        self.lr_scale, self.rollbacks = 1.0, 0
        self._hyper_written: tuple[float, float, float] | None = None
        self._grad_norms_now = True  # whether the step being run reports gradient norms (train_step sets it)
        self.last_checkpoint_step = -1
        self.snapshot_grid = snapshot_grid(self.x[:POINTS_PLOT_N].cpu()) if self._snapshots_on() else None
        if resume:
            good = ckpt.load_latest_good(self.run_dir / "checkpoints")
            if good is None:
                log.warning("%s has no readable checkpoint: starting again from step 0", self.run_dir)
            else:
                self._restore(good)
        if self.dist.is_main:
            self._prepare_run_dir(resume)
        distributed.barrier(self.dist)
        self.doctor = Doctor(self.run_dir, probabilistic_d=o.loss in ("gan", "ragan"),
                             real_diversity=diversity(self.x[:256])) if t.doctor and self.dist.is_main else None
        self._metrics: MetricsLog | None = None

    # ------------------------------------------------------------------------------------------ construction helpers

    @classmethod
    def resume(cls, run_dir: str | Path, overrides: list[str] = (), **kwargs: Any) -> "Trainer":
        """Continue the run in ``run_dir`` from its latest checkpoint. ``overrides`` may change only the stop
        conditions, intervals and device (``train.steps=...``); anything else would break exact continuation."""
        run_dir = Path(run_dir)
        if not (run_dir / "config.yaml").is_file():
            raise RunDirError(f"cannot resume {run_dir}: it has no config.yaml (not a gankit run folder)")
        for item in overrides:
            key = item.partition("=")[0].strip()
            if not key.startswith("train.") or key[len("train."):] not in RESUME_KEYS:
                allowed = ", ".join(f"train.{k}" for k in sorted(RESUME_KEYS))
                raise ConfigError(f"--resume allows overriding only {allowed}; got {key}")
        cfg = load_config(str(run_dir / "config.yaml"), list(overrides))
        return cls(cfg, run_dir, resume=True, **kwargs)

    def _prepare_run_dir(self, resume: bool) -> None:
        """Refuse to start when the disk cannot hold the checkpoints this run keeps; create the run folder and write
        config.yaml first (proves the folder is writable)."""
        if not resume and self.run_dir.exists() and any(self.run_dir.iterdir()):
            raise RunDirError(f"run folder {self.run_dir} exists and is not empty; choose another --run-dir "
                              f"or continue it with --resume {self.run_dir}")
        self._check_free_space()
        try:
            (self.run_dir / "samples").mkdir(parents=True, exist_ok=True)
            write_atomic(self.run_dir / "config.yaml", to_yaml(self.cfg).encode())
        except OSError as e:
            raise RunDirError(f"run folder {self.run_dir} is not writable: {e.strerror}") from None

    def _check_labels(self, split) -> int:
        """Class count of a labelled training split, or a ConfigError naming what is missing."""
        conditional, name = self.cfg.model.conditional, self.dataset.name
        if split.y is None or len(split.y) == 0:
            raise ConfigError(f"model.conditional={conditional} needs class labels, and dataset {name} "
                              f"({self.cfg.data.split} split) has none")
        num_classes = self.dataset.num_classes or int(split.y.max()) + 1
        if split.y.dtype != torch.int64 or int(split.y.min()) < 0 or int(split.y.max()) >= num_classes:
            raise ConfigError(f"dataset {name}: labels must be int64 in [0, {num_classes})")
        return num_classes

    @property
    def G_eval(self) -> Generator:
        """The generator used for pictures, snapshots and evaluation: the EMA copy when there is one."""
        return self.ema.shadow if self.ema is not None else self.G

    def _penalty(self, D: nn.Module, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        from ..regularizers import dragan_penalty, gradient_penalty, r1_penalty, r2_penalty

        o, total = self.cfg.objective, torch.zeros((), device=self.device)
        if o.gp:
            total = total + gradient_penalty(D, real, fake, weight=o.gp, generator=self.reg_gen)
        if o.dragan:
            total = total + dragan_penalty(D, real, weight=o.dragan, generator=self.reg_gen)
        if o.r1:
            total = total + r1_penalty(D, real, gamma=o.r1)
        if o.r2:
            total = total + r2_penalty(D, fake, gamma=o.r2)
        return total

    def _augment(self, a: torch.Tensor, b: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """DiffAugment (Zhao et al. 2020) of what D sees; ``train.augment_shared``: one draw for both batches."""
        from ..augment import diff_augment

        policy = self.cfg.train.augment
        a, params = diff_augment(a, policy, generator=self.aug_gen)
        if b is not None:
            shared = params if self.cfg.train.augment_shared else None
            b = diff_augment(b, policy, generator=self.aug_gen, params=shared)[0]
        return a, b

    def _snapshots_on(self) -> bool:
        return (self.cfg.train.snapshot_every > 0 and self.dataset.kind == "points" and self.x.shape[1] <= 2
                and not self.num_classes)

    def save_snapshot(self) -> None:
        save_snapshot(self.run_dir, self.step, take_snapshot(self.G_eval, self.D, self.snapshot_grid, self.fixed_z))

    # --------------------------------------------------------------------------------------------------- counters

    @property
    def epochs_done(self) -> int:
        return self.nimg // self.n_train

    def total_steps(self) -> int | None:
        """Generator updates until a step/epoch/image stop (None when only ``minutes`` is set)."""
        t, per_step = self.cfg.train, self.cfg.train.k * self.cfg.train.batch_size
        bounds = [t.steps] if t.steps else []
        if t.epochs:
            bounds.append(math.ceil(t.epochs * self.n_train / per_step))
        if t.nimg:
            bounds.append(math.ceil(t.nimg / per_step))
        return min(bounds) if bounds else None

    def done(self) -> bool:
        t = self.cfg.train
        total = self.total_steps()
        return ((total is not None and self.step >= total)
                or (t.minutes is not None and self.elapsed_s >= 60 * t.minutes))

    # ------------------------------------------------------------------------------------------------------ loop

    def _average_gradients(self, module: nn.Module) -> None:
        distributed.average_gradients(module, self.dist)

    def _real_batch(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        idx = self.sampler.next()[self._local]
        return self._batch_format(self.x[idx]), (self.y[idx] if self.y is not None else None)

    def _noise_batch(self) -> torch.Tensor:
        z = self.G.sample_z(self.cfg.train.batch_size, generator=self.noise_gen, device=self.device)
        return z[self._local] if self.dist.active else z

    def _label_batch(self) -> torch.Tensor | None:
        """The G step's labels: drawn from the training set's class frequencies (None when unconditional)."""
        if self.class_freq is None:
            return None
        return torch.multinomial(self.class_freq, self.cfg.train.batch_size, replacement=True,
                                 generator=self.noise_gen)[self._local]

    def _set_hyperparameters(self) -> dict[str, float]:
        """This step's learning rates and momentum into the optimisers (only when they moved: under CUDA graphs
        each write is a device fill)."""
        o = self.cfg.optim
        lr_d, lr_g = self.lr_scale * lr_at(o, self.step, o.lr_d), self.lr_scale * lr_at(o, self.step, o.lr_g)
        momentum = momentum_at(o, self.epochs_done)
        if (lr_d, lr_g, momentum) != self._hyper_written:
            for opt, lr in ((self.players.opt_g, lr_g), (self.players.opt_d, lr_d)):
                for group in opt.param_groups:
                    _assign(group, "lr", lr)
                    if "momentum" in group:
                        _assign(group, "momentum", momentum)
            self._hyper_written = (lr_d, lr_g, momentum)
        return {"lr": lr_d, "lr_g": lr_g if lr_g != lr_d else None, "momentum": momentum if o.name == "sgd" else None}

    def _capture_plan(self) -> CapturedStep:
        """train.speed=cudagraph: device-tensor hyper-parameters, capturable optimisers, and the captured step."""
        for opt in (self.players.opt_g, self.players.opt_d):
            make_capturable(opt, self.device)
        return CapturedStep(self.players, self.cfg.train.k, self.x, self.y, self.sampler, self._batch_format,
                            self._noise_batch, self._label_batch, self._eager_iteration,
                            [self.noise_gen, self.aug_gen, self.reg_gen])

    def _eager_iteration(self) -> Stats:
        return training_iteration(self.players, self.cfg.train.k, self._real_batch, self._noise_batch,
                                  self._label_batch, grad_norms=self._grad_norms_now)

    def logs_at(self, step: int) -> bool:
        """Whether the training loop writes a metrics row after ``step`` (every ``log_every`` steps and at a
        step/epoch/image stop; a ``minutes`` stop is only known once reached)."""
        total = self.total_steps()
        return step % self.cfg.train.log_every == 0 or (total is not None and step >= total)

    def fit(self) -> dict[str, Any]:
        """Train until a stop condition holds; returns the last logged row. SIGINT/SIGTERM stop at a step boundary
        with a checkpoint (TrainingInterrupted); NaN/Inf follows ``train.on_divergence`` (TrainingDiverged)."""
        self.G.train()
        self.D.train()
        if self.last_checkpoint_step < 0:  # a fresh run: step 0 is the first good state to roll back to
            self.save_checkpoint()
        if self.step == 0 and self._snapshots_on() and self.dist.is_main:
            self.save_snapshot()
        self._metrics = self._open_metrics()
        try:
            with SignalGuard() as signals:
                last_row = self._loop(signals)
            last_grid = self.run_dir / "samples" / f"{ckpt.step_name(self.step)}.png"
            if self.step > 0 and self.dist.is_main and not last_grid.exists():
                self.save_samples()
            if self.last_checkpoint_step != self.step:
                self._checked_checkpoint()
        finally:
            self._metrics.close()
        return last_row

    def _loop(self, signals: SignalGuard) -> dict[str, Any]:
        t = self.cfg.train
        sums: dict[str, torch.Tensor] = {}
        counts: dict[str, int] = {}  # per key: a lazy penalty is not logged every step
        last_row: dict[str, Any] = {}
        mark_time, mark_nimg = time.monotonic(), self.nimg
        started = mark_time - self.elapsed_s
        while not self.done():
            hyper, stats = self.train_step()
            self.elapsed_s = time.monotonic() - started
            _accumulate(sums, counts, stats)
            row, rolled_back = None, False
            if self.step % t.log_every == 0 or self.done():
                now = time.monotonic()
                row = self._row(sums, counts, hyper, (self.nimg - mark_nimg) / max(now - mark_time, 1e-9))
                sums, counts, mark_time, mark_nimg = {}, {}, now, self.nimg
                bad = [k for k in ("d_loss", "g_loss", "penalty") if k in row and not math.isfinite(row[k])]
                if bad:
                    self._on_divergence(f"non-finite {', '.join(bad)}")
                    rolled_back = True
                else:
                    self._metrics.write(row)
                    last_row = row
                    if self.doctor is not None:
                        self.doctor.check_row(row)
            if not rolled_back and (self.step % t.checkpoint_every == 0 or signals.requested):
                rolled_back = not self._checked_checkpoint()
            if rolled_back:
                started, mark_time, mark_nimg = time.monotonic() - self.elapsed_s, time.monotonic(), self.nimg
                continue
            if self.step % t.sample_every == 0 and self.dist.is_main:
                self.save_samples()
            if self._snapshots_on() and (self.step % t.snapshot_every == 0 or self.done()) and self.dist.is_main:
                self.save_snapshot()
            if self.progress is not None:
                self.progress(self, row)
            if signals.requested:
                name = signal.Signals(signals.requested).name
                raise TrainingInterrupted(f"stopped by {name} at step {self.step}; checkpoint "
                                          f"{ckpt.step_name(self.step)} written; continue with: "
                                          f"gankit train --resume {self.run_dir}", 128 + signals.requested)
            if self.dist.active:  # a signal seen by any rank stops them all at the same step
                signals.requested = distributed.any_rank(signals.requested or 0, self.dist, self.device) or None
        return last_row

    def _open_metrics(self) -> MetricsLog | _NoLog:
        return MetricsLog(self.run_dir, resume_step=self.step) if self.dist.is_main else _NoLog()

    def _note(self, step: int, kind: str, message: str) -> None:
        if self.doctor is not None:
            self.doctor.warn(step, kind, message)
        elif self.dist.is_main:
            log.warning("step %d: %s", step, message)

    def train_step(self) -> tuple[dict[str, float], dict[str, torch.Tensor]]:
        """One iteration of Algorithm 1 with this step's schedules, counters and EMA: (hyper-parameters, stats as
        device tensors — reading them is the caller's choice). The gradient norms are in the stats only for a step
        that the loop logs (:meth:`logs_at`): measuring them costs a pass over every gradient."""
        t = self.cfg.train
        hyper = self._set_hyperparameters()
        self._grad_norms_now = self.logs_at(self.step + 1)
        stats = self.captured() if self.captured is not None else self._eager_iteration()
        if not self._grad_norms_now:  # a captured CUDA graph measures them on every replay
            stats = {k: v for k, v in stats.items() if k not in GRAD_NORM_KEYS}
        self.step += 1
        self.nimg += (t.k + self.players.g_needs_real) * t.batch_size
        if self.ema is not None:
            self.ema.update(self.G, t.batch_size, self.nimg)
        return hyper, stats

    def _row(self, sums: dict[str, torch.Tensor], counts: dict[str, int], hyper: dict,
             img_per_s: float) -> dict[str, Any]:
        means = {k: v.item() / counts[k] for k, v in sums.items()}  # the only host sync: once per log interval
        means = distributed.mean_over_ranks(means, self.dist, self.device)
        row = {"step": self.step, "nimg": self.nimg, "epoch": self.nimg / self.n_train, "time_s": self.elapsed_s,
               **means, **{k: v for k, v in hyper.items() if v is not None}, "img_per_s": img_per_s}
        return row

    # ------------------------------------------------------------------------------------------- samples, state

    @torch.no_grad()
    def generate(self, z: torch.Tensor, G: Generator | None = None, y: torch.Tensor | None = None) -> torch.Tensor:
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
        path = self.run_dir / "samples" / f"{ckpt.step_name(self.step)}.png"
        if self.dataset.kind == "image":
            data = png_bytes(grid_image(to_uint8(out, self.G.value_range).cpu(), nrow=self.grid_nrow))
        else:
            data = points_plot(out, self.x[:POINTS_PLOT_N], title=f"step {self.step}")
        write_atomic(path, data)
        return path
