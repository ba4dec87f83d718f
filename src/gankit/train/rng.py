"""The run's random numbers (docs/design.md, 'Algorithm 1 and the trainer'): one seed, split into a generator per
purpose so that drawing more of one never shifts another, and the run's own state of torch's default generators.

Model initialisation and dropout draw from torch's default generators, which belong to the whole process. A run keeps
its own state of them and puts it in place only while its own code runs (:meth:`DefaultGenerators.installed`), then
puts the caller's state back: building or training a Trainer leaves the caller's random numbers as they were, and
nothing the caller draws in between shifts the run's. One run at a time holds them (a lock), so runs stepped by
different threads do not mix their draws.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from dataclasses import dataclass, field
from typing import Iterator

import torch

STREAMS = {"init": 0, "noise": 1, "data": 2, "viz": 3, "eval": 4, "aug": 5, "reg": 6}
_HELD = threading.RLock()  # torch's default generators hold one run's state at a time


def stream_seed(seed: int, stream: str) -> int:
    """Seed of one random stream derived from the run's seed: gankit's streams by their number in :data:`STREAMS`,
    any other (a training trick's own) by a number drawn from its name's SHA-256."""
    number = STREAMS.get(stream)
    if number is None:
        number = 1_000 + int.from_bytes(hashlib.sha256(stream.encode()).digest()[:4], "big")
    return (seed * 1_000_003 + number * 7_919) % (2**63 - 1)


def _seeded_states(seed: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The states torch.manual_seed(seed) gives the CPU generator and ``device``'s CUDA generator (None off CUDA)."""
    cuda = torch.Generator(device).manual_seed(seed).get_state() if device.type == "cuda" else None
    return torch.Generator().manual_seed(seed).get_state(), cuda


class DefaultGenerators:
    """The run's state of torch's default generators: the CPU one, and ``device``'s when it is a CUDA device."""

    def __init__(self, seed: int, device: torch.device) -> None:
        self.device = device
        self._cpu, self._cuda = _seeded_states(seed, device)
        self._installed = False

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        """Within the block torch's default generators hold the run's state; after it (also after an exception) the
        caller's again, and the run keeps what it drew. Re-entrant."""
        if self._installed:
            yield
            return
        with _HELD:
            self._swap()
            self._installed = True
            try:
                yield
            finally:
                self._installed = False
                self._swap()

    def _swap(self) -> None:
        """Exchange the states kept here with torch's."""
        cpu = torch.get_rng_state()
        torch.set_rng_state(self._cpu)
        cuda = None
        if self._cuda is not None:
            cuda = torch.cuda.get_rng_state(self.device)
            torch.cuda.set_rng_state(self._cuda, self.device)
        self._cpu, self._cuda = cpu, cuda

    def state(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The run's (CPU state uint8 [N], CUDA state or None), as ``torch.get_rng_state`` gives them."""
        with self.installed():
            return torch.get_rng_state(), (
                torch.cuda.get_rng_state(self.device) if self._cuda is not None else None
            )

    def load(self, cpu: torch.Tensor, cuda: torch.Tensor | None = None) -> None:
        """Continue from a saved :meth:`state` (a CUDA state only on CUDA)."""
        with self.installed():
            torch.set_rng_state(cpu)
            if cuda is not None and self._cuda is not None:
                torch.cuda.set_rng_state(cuda, self.device)

    def reseed(self, seed: int) -> None:
        """Continue as if torch.manual_seed(seed) had been called."""
        self.load(*_seeded_states(seed, self.device))


@dataclass
class Streams:
    """The run's generators, each seeded from ``train.seed`` by its purpose: ``noise`` (z and the G step's labels),
    ``data`` (minibatch order), ``aug`` (DiffAugment) and ``reg`` (penalties' random points) on the training device,
    ``torch``, the run's state of torch's default generators (initialisation, dropout), and the streams training
    tricks of one's own name (``own``, made by :meth:`named`)."""

    noise: torch.Generator
    data: torch.Generator
    aug: torch.Generator
    reg: torch.Generator
    torch: DefaultGenerators
    seed: int = 0
    own: dict[str, torch.Generator] = field(default_factory=dict)

    def named(self, stream: str) -> torch.Generator:
        """The stream of this name: one of gankit's (noise, data, aug, reg), or a trick's own, made on first use on
        the training device and seeded from the run's seed and its name."""
        if stream in ("noise", "data", "aug", "reg"):
            return getattr(self, stream)
        if stream not in self.own:
            device = self.noise.device
            seed = stream_seed(self.seed, stream)
            self.own[stream] = torch.Generator(device).manual_seed(seed)
        return self.own[stream]

    def device_streams(self) -> list[torch.Generator]:
        """The streams a training step draws from (noise, aug, reg and the tricks' own), which a CUDA graph
        registers."""
        return [self.noise, self.aug, self.reg, *self.own.values()]

    def _names(self) -> list[str]:
        return ["noise", "data", "aug", "reg", *self.own]

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Every stream's state, under its checkpoint name (``rng.cuda`` only on CUDA)."""
        cpu, cuda = self.torch.state()
        out = {f"rng.{name}": self.named(name).get_state() for name in self._names()}
        return {**out, "rng.torch": cpu, **({"rng.cuda": cuda} if cuda is not None else {})}

    def load_state_dict(self, tensors: dict[str, torch.Tensor], rank: int = 0) -> None:
        """Inverse of :meth:`state_dict`; ``rank`` takes that process's dropout stream (``rng.torch.rankR``) when the
        checkpoint holds one per rank."""
        for name in self._names():
            self.named(name).set_state(tensors[f"rng.{name}"])
        self.torch.load(
            tensors.get(f"rng.torch.rank{rank}", tensors["rng.torch"]), tensors.get("rng.cuda")
        )


def make_streams(seed: int, device: torch.device) -> Streams:
    """The run's :class:`Streams` for ``train.seed`` = ``seed``, on ``device``."""

    def generator(stream: str) -> torch.Generator:
        return torch.Generator(device).manual_seed(stream_seed(seed, stream))

    return Streams(
        generator("noise"),
        generator("data"),
        generator("aug"),
        generator("reg"),
        DefaultGenerators(stream_seed(seed, "init"), device),
        seed,
    )
