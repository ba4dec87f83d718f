"""The run's tricks, in order: gankit's own (switched on by their settings), then those named in ``train.tricks``;
how Algorithm 1 and the loop call them all, and what a checkpoint keeps of them."""

from __future__ import annotations

import torch
from torch import nn

from ...config import TRICKS, Config, trick_classes
from ...errors import ConfigError
from .base import Context, DUpdate, GUpdate, Ramp, Stats, StepDone, Trick


class Tricks:
    """The tricks of a run in the order their hooks run (:mod:`gankit.train.tricks.base`); ``tricks[name]``."""

    def __init__(self, tricks: list[Trick] = ()) -> None:
        self.all = list(tricks)
        self.by_name = {t.name: t for t in self.all}

    def __contains__(self, name: str) -> bool:
        return name in self.by_name

    def __getitem__(self, name: str) -> Trick:
        return self.by_name[name]

    def get(self, name: str) -> Trick | None:
        return self.by_name.get(name)

    def d_sees(
        self, a: torch.Tensor, b: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        for t in self.all:
            a, b = t.d_sees(a, b)
        return a, b

    def add_terms(self, loss: torch.Tensor, stats: Stats, u: DUpdate | GUpdate) -> torch.Tensor:
        """``loss`` plus each trick's term for update ``u`` (D's or G's), their stats put in ``stats``."""
        for t in self.all:
            term, more = t.d_term(u) if isinstance(u, DUpdate) else t.g_term(u)
            stats.update(more)
            if term is not None:
                loss = loss + term
        return loss

    def d_updated(self, u: DUpdate) -> None:
        for t in self.all:
            t.d_updated(u)

    def after_step(self, s: StepDone) -> Stats:
        out: Stats = {}
        for t in self.all:
            out.update(t.after_step(s))
        return out

    def ramps(self) -> list[Ramp]:
        return [r for t in self.all for r in t.ramps()]

    def parameters(self, player: str) -> list[nn.Parameter]:
        """The trainable parameters of the tricks' own networks that ``player``'s ("G"/"D") optimiser trains."""
        modules = [t.modules()[player] for t in self.all if player in t.modules()]
        return [p for m in modules for p in m.parameters() if p.requires_grad]

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Every trick's state, each under its prefix (``checkpoint_key``, else ``trick.NAME``)."""
        return {f"{_prefix(t)}.{k}": v for t in self.all for k, v in t.state_dict().items()}

    def load_state_dict(self, tensors: dict[str, torch.Tensor]) -> None:
        for t in self.all:
            start = f"{_prefix(t)}."
            t.load_state_dict(
                {k[len(start) :]: v for k, v in tensors.items() if k.startswith(start)}
            )


def _prefix(t: Trick) -> str:
    return t.checkpoint_key or f"trick.{t.name}"


def build_tricks(ctx: Context, built_in: dict[str, type[Trick]]) -> Tricks:
    """gankit's tricks ``built_in`` (by name, in order) that the settings switch on, then the tricks
    ``train.tricks`` names, each built from ``ctx`` with the ones before it in ``ctx.built``."""
    own = _named(ctx.cfg, built_in)
    for name, cls in [*built_in.items(), *own]:
        if name in ctx.built:
            raise ConfigError(f"train.tricks: two tricks are named {name!r}")
        trick = cls.build(ctx)
        if trick is not None:
            trick.name = name
            ctx.built[name] = trick
    return Tricks(list(ctx.built.values()))


def _named(cfg: Config, built_in: dict[str, type[Trick]]) -> list[tuple[str, type[Trick]]]:
    """(name, class) of each trick ``train.tricks`` names; a one-line error for one of gankit's own."""
    specs = [s.strip() for s in cfg.train.tricks.split(",") if s.strip()]
    for spec in specs:
        if spec in built_in:
            raise ConfigError(
                f"train.tricks: {spec!r} is one of gankit's own tricks, switched on by its settings "
                f"(docs/configuration.md); name only tricks of your own here"
            )
    classes = trick_classes(cfg.train.tricks)
    return [(spec.rpartition(":")[2], cls) for spec, cls in zip(specs, classes)]


__all__ = ["TRICKS", "Tricks", "build_tricks"]
