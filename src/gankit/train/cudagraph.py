"""``train.speed=cudagraph``: one whole iteration of Algorithm 1 — k D-updates and the G-update, with their noise
draws, label draws, minibatch gathers, penalties and optimiser steps — captured once in a CUDA graph and replayed
every step, so a step costs one launch instead of hundreds.

Inside the graph, minibatch indices are read from a static copy of the sampler's epoch permutation at a cursor kept
on the device, and noise comes from the run's own generators, registered with the graph (graph-safe Philox: a
replay draws the numbers the eager step would draw). The host keeps what cannot be baked in: learning rates and
momentum live in device tensors it writes when a schedule moves them; a step whose minibatches would cross an epoch
boundary runs eagerly (it draws the next permutation exactly as the eager path does); EMA and the counters stay
outside. The first ``WARMUP_STEPS`` steps run eagerly on a side stream (they create optimiser state and library
handles), and again after a restore (resume, rollback), before the graph is captured anew.
"""

from __future__ import annotations

from typing import Callable

import torch

from ..config import Config
from .algorithm import Labels, Players, Stats, training_iteration
from .batches import Batches

WARMUP_STEPS = 3


def unsupported(cfg: Config, device: torch.device, distributed: bool) -> str | None:
    """Why this run cannot be captured (None when it can)."""
    if device.type != "cuda":
        return f"CUDA graphs need a CUDA device (train.device is {device.type})"
    if distributed:
        return "CUDA graphs are not used with distributed training (the gradient all-reduce stays eager)"
    if cfg.objective.penalised and cfg.objective.reg_every > 1:
        return "lazy regularisation (objective.reg_every > 1) changes the step from one iteration to the next"
    return None


def make_capturable(opt: torch.optim.Optimizer, device: torch.device) -> None:
    """Hyper-parameters the schedules move (lr, momentum) become float32 device tensors, written in place;
    Adam steps on the device (``capturable``)."""
    for group in opt.param_groups:
        for key in ("lr", "momentum"):
            if key in group and not isinstance(group[key], torch.Tensor):
                group[key] = torch.tensor(float(group[key]), dtype=torch.float32, device=device)
        if "capturable" in group:
            group["capturable"] = True


class CapturedStep:
    """Runs Trainer iterations: eagerly while warming up or at epoch boundaries, else by replaying the graph; the
    interface of :class:`~gankit.train.speed.EagerStep`.

    ``eager_step(grad_norms)`` is the trainer's own iteration (its sampler, its generators); ``batches`` draws noise
    and labels from generators listed in ``generators``, which the graph registers. A replayed step always measures
    the gradient norms.
    """

    def __init__(
        self,
        players: Players,
        k: int,
        batches: Batches,
        eager_step: Callable[[bool], Stats],
        generators: list[torch.Generator],
    ) -> None:
        self.players, self.k, self.batches, self.sampler = players, k, batches, batches.sampler
        self.eager_step, self.generators = eager_step, generators
        device = batches.device
        self.draws = players.real_batches(k) * self.sampler.m  # minibatch rows one iteration reads
        self.graph: torch.cuda.CUDAGraph | None = None
        self.stats: Stats = {}
        self.warm = 0
        self.side = torch.cuda.Stream(device)
        self.offsets = torch.arange(self.sampler.m, device=device)
        # device copy of sampler.cursor
        self.cursor = torch.zeros((), dtype=torch.int64, device=device)
        self.perm = torch.empty(0, dtype=torch.int64, device=device)  # static copy of sampler.perm
        self._perm_seen: torch.Tensor | None = None
        self._cursor_value = -1  # what self.cursor holds, as the host knows it
        self.replays = 0
        self._capturable_optimisers()

    def _capturable_optimisers(self) -> None:
        for opt in (self.players.opt_g, self.players.opt_d):
            make_capturable(opt, self.batches.device)

    def restored(self) -> None:
        """A restore replaced the optimiser state tensors the graph captured: make them capturable again, warm up
        and capture anew."""
        self._capturable_optimisers()
        self.graph, self.stats, self._perm_seen, self._cursor_value, self.warm = (
            None,
            {},
            None,
            -1,
            0,
        )

    def __call__(self, grad_norms: bool) -> Stats:
        s = self.sampler
        if self.warm < WARMUP_STEPS or s.cursor + self.draws > len(s.perm):
            self.warm += 1
            return self._eager(grad_norms)
        self._sync_sampler()
        if self.graph is None:
            self._capture()
        self.graph.replay()
        s.cursor += self.draws
        self._cursor_value += self.draws
        self.players.d_updates += self.k
        self.replays += 1
        return self.stats

    def _eager(self, grad_norms: bool) -> Stats:
        self.side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(self.side):
            stats = self.eager_step(grad_norms)
        torch.cuda.current_stream().wait_stream(self.side)
        return stats

    def _sync_sampler(self) -> None:
        """The graph reads the sampler's permutation and cursor: copy them in when the host moved them."""
        s = self.sampler
        if s.perm is not self._perm_seen:
            if self.perm.shape != s.perm.shape:
                self.perm = torch.empty_like(s.perm)
                self.graph = None  # the captured gathers read the old buffer
            self.perm.copy_(s.perm)
            self._perm_seen = s.perm
        if self._cursor_value != s.cursor:
            self.cursor.fill_(s.cursor)
            self._cursor_value = s.cursor

    def _real_batch(self) -> tuple[torch.Tensor, Labels]:
        idx = self.perm[self.cursor + self.offsets]
        self.cursor.add_(self.sampler.m)
        return self.batches.at(idx)

    def _capture(self) -> None:
        graph = torch.cuda.CUDAGraph()
        for generator in self.generators:
            graph.register_generator_state(generator)
        d_updates = self.players.d_updates
        with torch.cuda.graph(graph):
            stats = training_iteration(
                self.players, self.k, self._real_batch, self.batches.noise, self.batches.labels
            )
        # capture records without running: undo its host-side effects, then replay runs the step for real
        self.players.d_updates = d_updates
        self.cursor.fill_(self.sampler.cursor)
        self.graph, self.stats = graph, stats
