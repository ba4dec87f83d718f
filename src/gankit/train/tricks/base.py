"""A training trick as one component (docs/design.md, 'How to add a training trick'): the settings it reads, the
random stream it draws from, the values the schedules write into it, where it acts in Algorithm 1 and what a
checkpoint keeps of it.

Its hooks, in the order one training iteration calls them (each optional; the base class does nothing):

    d_sees(a, b) -> (a, b)        what D sees: in a D update the real and generated batches, in a G update the
                                  generated batch (b None), and for a relativistic G loss the real batch
    d_term(u: DUpdate)            a term added to D's loss, and stats to report, after D judged the batches
    d_updated(u: DUpdate)         after D's optimiser step
    g_term(u: GUpdate)            a term added to G's loss, and stats to report
    after_step(s: StepDone)       after the iteration, on the host; its stats join a logged step's

The hooks up to ``g_term`` run inside the step, which a CUDA graph may capture and replay: they work on device
tensors and never read one on the host. Values the schedules move are :class:`Ramp`\\ s, 0-d tensors written in
place, so a replayed graph reads each new value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, NamedTuple

import torch
from torch import nn

from ...config import Config
from ..distributed import Ranks
from ..frozen import frozen_record, with_frozen, without_frozen
from ..rng import Streams

Stats = dict[str, torch.Tensor]
Labels = torch.Tensor | None  # int64 [m] class labels for conditional models, else None


class Verdict(NamedTuple):
    """What D says of m samples: ``logits`` float32 [m], and an AC-GAN D's class logits float32 [m, C] (else
    None)."""

    logits: torch.Tensor
    classes: torch.Tensor | None = None


@dataclass
class DUpdate:
    """One D update as its hooks see it: ``D`` as the step runs it, ``critic`` (x ↦ D's logits, labelled ``y``,
    eager: what a gradient penalty differentiates twice), the batches D judged (``real``; ``fake`` as D saw them),
    the verdicts, and ``d_updates``, the D updates before this one."""

    D: nn.Module
    critic: Callable[[torch.Tensor], torch.Tensor]
    real: torch.Tensor
    fake: torch.Tensor
    y: Labels
    real_out: Verdict
    fake_out: Verdict
    d_updates: int


@dataclass
class GUpdate:
    """One G update as its hooks see it: the generated batch as D saw it, D's verdict on it, its labels."""

    fake: torch.Tensor
    fake_out: Verdict
    y: Labels


@dataclass
class StepDone:
    """After an iteration: ``step`` generator updates and ``nimg`` real images so far, whether the loop logs this
    step (``logged``), the eager G, the minibatch size and ``add_up`` (a tensor summed over processes in place)."""

    step: int
    nimg: int
    logged: bool
    G: nn.Module
    batch_size: int
    add_up: Callable[[torch.Tensor], torch.Tensor]


@dataclass
class Ramp:
    """A value of a trick that moves along the run's cosine ramp (train.ramp_kimg) from ``start`` to ``final``:
    the schedules write it into ``value`` (0-d) before each step and log it as ``name``."""

    name: str
    start: float
    final: float | None
    value: torch.Tensor


@dataclass
class Context:
    """What a trick is built from: the config, the eager G and D, the run's random streams and processes, and the
    tricks built before it (by name)."""

    cfg: Config
    G: nn.Module
    D: nn.Module
    streams: Streams
    ranks: Ranks
    built: dict[str, "Trick"] = field(default_factory=dict)

    @property
    def device(self) -> torch.device:
        return self.ranks.device

    def generator(self, stream: str) -> torch.Generator:
        """The run's random stream of this name (a new name gets its own, seeded from train.seed and the name)."""
        return self.streams.named(stream)

    def settings(self, section: str) -> Any:
        """The settings of a trick's own config section."""
        return self.cfg.tricks[section]


class Trick:
    """A training trick. Class attributes: ``section`` and ``Settings`` (its own config section: a frozen dataclass
    of :func:`gankit.config.setting` fields; None for gankit's tricks, whose settings predate tricks and stay in
    ``objective`` and ``train``), ``stream`` (the random stream it draws from, or None) and ``checkpoint_key`` (the
    prefix of its tensors in checkpoints; None: ``trick.NAME``). ``name`` is set when it is built."""

    section: ClassVar[str | None] = None
    Settings: ClassVar[type | None] = None
    stream: ClassVar[str | None] = None
    checkpoint_key: ClassVar[str | None] = None
    name: str = ""

    @classmethod
    def build(cls, ctx: Context) -> "Trick | None":
        """The trick for this run, or None when its settings leave it off (default: ``cls(ctx)``)."""
        return cls(ctx)

    def __init__(self, ctx: Context) -> None:
        pass

    def modules(self) -> dict[str, nn.Module]:
        """Networks of its own, by the player whose optimiser trains their trainable parameters ("G" or "D");
        checkpoints keep them (their frozen parameters left out)."""
        return {}

    def ramps(self) -> list[Ramp]:
        """The values the schedules move."""
        return []

    def d_sees(
        self, a: torch.Tensor, b: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        return a, b

    def d_term(self, u: DUpdate) -> tuple[torch.Tensor | None, Stats]:
        return None, {}

    def d_updated(self, u: DUpdate) -> None:
        pass

    def g_term(self, u: GUpdate) -> tuple[torch.Tensor | None, Stats]:
        return None, {}

    def after_step(self, s: StepDone) -> Stats:
        return {}

    def state_dict(self) -> dict[str, torch.Tensor]:
        """What continues the run exactly (default: its :meth:`modules`' state, frozen parameters left out)."""
        return {
            f"{player}.{key}": value
            for player, module in self.modules().items()
            for key, value in without_frozen(module.state_dict(), frozen_record(module)).items()
        }

    def load_state_dict(self, tensors: dict[str, torch.Tensor]) -> None:
        """The inverse of :meth:`state_dict` (tensors without the trick's prefix)."""
        for player, module in self.modules().items():
            own = {
                k[len(player) + 1 :]: v for k, v in tensors.items() if k.startswith(f"{player}.")
            }
            module.load_state_dict(with_frozen(module, own, frozen_record(module)))
