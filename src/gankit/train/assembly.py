"""How a :class:`~gankit.train.Trainer` is assembled around G and D: the speed plan, the training tricks, the
players (optimisers, objective, tricks), the schedules, the draws, the step runner and the run state
(:func:`assemble`); then the run folder and the doctor."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from ..config import Config, TrainConfig, to_yaml
from ..errors import ConfigError
from ..models import Generator
from ..objectives import get_objective, resolve_objective
from . import speed
from .algorithm import Players, Runtime, Stats, training_iteration
from .batches import Batches
from .cudagraph import CapturedStep, unsupported
from .distributed import Ranks
from .folder import RunFolder
from .frozen import trainable
from .guard import Doctor, diversity
from .optim import build_optimizer
from .quality import QualityTracker
from .rng import Streams
from .sampler import MinibatchSampler
from .schedules import ScheduleWriter
from .state import RunState
from .training_data import TrainingData
from .tricks import BUILT_IN, Context, Tricks, build_tricks


@dataclass
class Assembly:
    """What :func:`assemble` builds, as the Trainer holds it."""

    speed: speed.SpeedPlan
    tricks: Tricks
    players: Players
    schedule: ScheduleWriter
    batches: Batches
    stepper: speed.EagerStep | CapturedStep
    state: RunState


def assemble(
    cfg: Config,
    G: Generator,
    D: nn.Module,
    data: TrainingData,
    streams: Streams,
    ranks: Ranks,
    quality: QualityTracker | None,
    joint_d: bool,
) -> Assembly:
    """The named parts around G and D, in order: the speed plan, the training tricks, the players, the schedules,
    the batches and the step runner, and the run state (``joint_d``: one D pass over real and generated samples)."""
    t = cfg.train
    plan = _speed_plan(cfg, G, D, data, ranks)
    tricks = build_tricks(Context(cfg, G, D, streams, ranks), BUILT_IN)
    players = build_players(cfg, G, D, plan, tricks, ranks, joint_d=joint_d)
    schedule = ScheduleWriter(cfg.optim, players.opt_g, players.opt_d)
    batches = _batches(t, data, G, plan, streams, ranks)
    stepper = speed.step_runner(
        plan, _iteration(players, t.k, batches), players, t.k, batches, streams.device_streams()
    )
    state = RunState(G, D, players.opt_g, players.opt_d, streams, batches.sampler, tricks, quality)
    return Assembly(plan, tricks, players, schedule, batches, stepper, state)


def _speed_plan(
    cfg: Config, G: Generator, D: nn.Module, data: TrainingData, ranks: Ranks
) -> speed.SpeedPlan:
    """The speed plan, with what rules out a CUDA graph: the settings, or a training set held on the host."""
    on_host = (
        "the training set is larger than a quarter of the GPU's free memory and stays on the host"
    )
    blocker = unsupported(cfg, ranks.device, ranks.active)
    blocker = blocker or (on_host if data.x.device.type != ranks.device.type else None)
    return speed.plan(cfg.train, ranks.device, speed.convolutional(G, D), blocker)


def _batches(
    t: TrainConfig,
    data: TrainingData,
    G: Generator,
    plan: speed.SpeedPlan,
    streams: Streams,
    ranks: Ranks,
) -> Batches:
    """Minibatches from a sampler on the data's device (the data stream), noise and labels (the noise stream)."""
    try:
        sampler = MinibatchSampler(len(data.x), t.batch_size, streams.data, ranks.device)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    return Batches(
        data, G, sampler, streams.noise, ranks.local_slice(t.batch_size), speed.prepare_batch(plan)
    )


def _iteration(players: Players, k: int, batches: Batches) -> Callable[[bool], Stats]:
    """One iteration of Algorithm 1 on the run's draws, ``iteration(grad_norms)`` → stats."""

    def iteration(grad_norms: bool) -> Stats:
        return training_iteration(
            players, k, batches.real, batches.noise, batches.labels, grad_norms=grad_norms
        )

    return iteration


def build_players(
    cfg: Config,
    G: Generator,
    D: nn.Module,
    plan: speed.SpeedPlan,
    tricks: Tricks,
    ranks: Ranks,
    joint_d: bool,
) -> Players:
    """G and D as the speed plan runs them, their optimisers (of the trainable parameters, the tricks' own
    networks' included), the objective's losses, the training tricks and how the passes run (``joint_d``: one D
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
    opt_g = build_optimizer(cfg.optim, trainable(G) + tricks.parameters("G"))
    opt_d = build_optimizer(cfg.optim, trainable(D) + tricks.parameters("D"))
    losses = (objective.d_loss, objective.g_loss, o.d_weight, objective.g_needs_real)
    return Players(G_fast, D_fast, opt_g, opt_d, *losses, tricks=tricks, runtime=runtime)


def run_folder(
    run_dir: Path, cfg: Config, ranks: Ranks, resume: bool, checkpoint_bytes: int
) -> RunFolder:
    """The run folder, checked and created by rank 0 (config.yaml written first; room for checkpoints of
    ``checkpoint_bytes``); every rank waits for it."""
    folder = RunFolder(run_dir, writes=ranks.is_main)
    folder.prepare(to_yaml(cfg), resume, checkpoint_bytes, cfg.train.keep_checkpoints)
    ranks.barrier()
    return folder


def doctor_of(cfg: Config, ranks: Ranks, run_dir: Path, batches: Batches) -> Doctor | None:
    """Rank 0's training doctor (``train.doctor``), which knows the real data's diversity."""
    if not (cfg.train.doctor and ranks.is_main):
        return None
    first = torch.arange(min(256, batches.sampler.n), device=ranks.device)
    return Doctor(
        run_dir,
        probabilistic_d=resolve_objective(cfg.objective.loss).probabilistic,
        real_diversity=diversity(batches.data.take(first)),
    )
