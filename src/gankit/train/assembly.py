"""How a :class:`~gankit.train.Trainer` is assembled around G and D: the speed plan, ADA, the players (optimisers,
objective, penalty, augmentation), the schedules, the draws, the step runner, the EMA and the run state
(:func:`assemble`); then the run folder and the doctor."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from ..config import Config, ObjectiveConfig, TrainConfig, to_yaml
from ..errors import ConfigError
from ..models import Generator
from ..objectives import get_objective, resolve_objective
from . import speed
from .ada import AdaController, ada_of
from .algorithm import Players, Runtime, Stats, training_iteration
from .augmentation import augmentation
from .batches import Batches
from .cudagraph import CapturedStep, unsupported
from .distributed import Ranks
from .ema import EMA, ema_of
from .folder import RunFolder
from .frozen import trainable
from .guard import Doctor, diversity
from .optim import build_optimizer
from .penalties import penalty
from .quality import QualityTracker
from .rng import Streams
from .sampler import MinibatchSampler
from .schedules import ScheduleWriter, ramp_knob
from .state import RunState
from .training_data import TrainingData


@dataclass
class Assembly:
    """What :func:`assemble` builds, as the Trainer holds it."""

    speed: speed.SpeedPlan
    ada: AdaController | None
    players: Players
    schedule: ScheduleWriter
    batches: Batches
    stepper: speed.EagerStep | CapturedStep
    ema: EMA | None
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
    """The named parts around G and D, in order: the speed plan, ADA, the players, the schedules, the batches and
    the step runner, the EMA and the run state (``joint_d``: one D pass over real and generated samples)."""
    t, device = cfg.train, ranks.device
    plan = _speed_plan(cfg, G, D, data, ranks)
    ada = ada_of(cfg, device)
    players = build_players(cfg, G, D, plan, streams, ranks, joint_d=joint_d, ada=ada)
    schedule = ScheduleWriter(cfg.optim, players.opt_g, players.opt_d)
    batches = _batches(t, data, G, plan, streams, ranks)
    generators = [streams.noise, streams.aug, streams.reg]
    stepper = speed.step_runner(
        plan, _iteration(players, t.k, batches), players, t.k, batches, generators
    )
    ema = ema_of(G, t)
    state = RunState(
        G, D, players.opt_g, players.opt_d, ema, streams, batches.sampler, ada, quality
    )
    return Assembly(plan, ada, players, schedule, batches, stepper, ema, state)


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
    streams: Streams,
    ranks: Ranks,
    joint_d: bool,
    ada: AdaController | None = None,
) -> Players:
    """G and D as the speed plan runs them, their optimisers (of the trainable parameters), the objective's losses,
    D's penalty, augmentation (its probability ``ada``'s when given) and clipping, the AC-GAN weight, and how the
    passes run (``joint_d``: one D pass over real and generated samples)."""
    o = cfg.objective
    objective = get_objective(o.loss, g_loss=o.g_loss, label_smoothing=o.label_smoothing)
    G_fast, D_fast = speed.prepare_module(G, plan), speed.prepare_module(D, plan)
    runtime = Runtime(
        autocast=plan.autocast,
        penalty_D=D if D_fast is not D else None,
        reduce=ranks.average_gradients,
        joint_d=joint_d,
    )
    opt_g = build_optimizer(cfg.optim, trainable(G))
    opt_d = build_optimizer(cfg.optim, trainable(D))
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


def _penalty_parts(o: ObjectiveConfig, streams: Streams, ranks: Ranks) -> dict[str, Any]:
    """D's gradient penalty, how often it runs and its ramped scale (Players' fields)."""
    return {
        "penalty": penalty(o, streams.reg, ranks.device, ranks),
        "penalty_every": o.reg_every,
        "penalty_scale": ramp_knob(1.0, o.penalty_final is not None, ranks.device),
    }


def _augmentation_parts(
    t: TrainConfig, streams: Streams, ada: AdaController | None, G: Generator, ranks: Ranks
) -> dict[str, Any]:
    """The augmentation, the probability it reads (ADA's, or a ramp) and ADA's sign counters."""
    ramped = t.augment_p < 1 or t.augment_p_final is not None
    augment_p = ada.p if ada is not None else ramp_knob(t.augment_p, ramped, ranks.device)
    return {
        "augment": augmentation(t, streams.aug, augment_p, G.out_shape, ranks),
        "augment_p": augment_p,
        "real_signs": None if ada is None else ada.signs,
    }


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
