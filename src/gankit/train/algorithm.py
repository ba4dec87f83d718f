"""Algorithm 1 of Goodfellow et al. (2014): minibatch stochastic gradient training of generative adversarial nets.

    for number of training iterations:
        for k steps:
            sample m noise samples z ~ p_g(z) and m examples x ~ p_data(x)
            update D by ascending its stochastic gradient of V (here: descending -V)
        sample m noise samples z ~ p_g(z)
        update G by descending its stochastic gradient (of log(1 - D(G(z))), or of -log D(G(z)))

Class-conditional models (G.num_classes > 0) get labels: in a D step the generated samples take the real
minibatch's labels y, and D judges (x, y) pairs; in the G step the caller draws the labels.

Training tricks (gankit.train.tricks) act at named points of the two steps: what D sees, terms added to either
player's loss, after D's update. Each step returns detached scalar tensors (no host sync); the caller decides when
to read them. How the passes run (autocast, a compiled D, one joint D pass, gradients averaged across processes) is
the players' :class:`Runtime`, which changes nothing the steps compute beyond floating-point rounding.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Callable, ContextManager, Iterator

import torch
from torch import nn

from ..models.base import Generator
from .tricks.active import Tricks
from .tricks.base import DUpdate, GUpdate, Labels, Stats, Verdict

GRAD_NORM_KEYS = ("grad_norm_d", "grad_norm_g")


def _local(module: nn.Module) -> None:
    """Gradients stay as computed (one process)."""


@dataclass
class Runtime:
    """How the players' passes run. ``autocast()`` wraps forward passes (bf16); ``penalty_D`` is the eager D for
    penalties when ``Players.D`` is compiled (double backward); ``reduce(module)`` averages a player's gradients
    across processes before its optimiser step (data-parallel training). ``joint_d``: a D step judges real and
    generated samples in one forward pass of 2m rows — the same function for a D whose samples do not interact (no
    batch norm), with half the passes."""

    autocast: Callable[[], ContextManager] = contextlib.nullcontext
    penalty_D: nn.Module | None = None
    reduce: Callable[[nn.Module], None] = _local
    joint_d: bool = False


@dataclass
class Players:
    """The two players, their optimisers and the objective: ``d_loss(real_logits, fake_logits)`` (× ``d_weight``),
    ``g_loss(fake_logits)`` (or ``g_loss(fake_logits, real_logits)`` when ``g_needs_real``); the training tricks
    that act in their steps (``tricks``, gankit.train.tricks); ``runtime``: how the passes run; ``d_updates``: the
    D updates so far (restored from step·k on resume)."""

    G: Generator
    D: nn.Module
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    d_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    g_loss: Callable[..., torch.Tensor]
    d_weight: float = 1.0
    g_needs_real: bool = False
    tricks: Tricks = field(default_factory=Tricks)
    runtime: Runtime = field(default_factory=Runtime)
    d_updates: int = 0

    def real_batches(self, k: int) -> int:
        """Real minibatches one iteration of ``k`` D updates reads: k, and one more when G's loss needs real data."""
        return k + int(self.g_needs_real)


def _grad_norm(module: nn.Module) -> torch.Tensor:
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    return torch.nn.utils.get_total_norm(grads) if grads else torch.zeros(())


@contextlib.contextmanager
def gradients_off(module: nn.Module) -> Iterator[None]:
    """Inside the block the trainable parameters of ``module`` take no gradient (its frozen ones never do)."""
    params = [q for q in module.parameters() if q.requires_grad]
    for q in params:
        q.requires_grad_(False)
    try:
        yield
    finally:
        for q in params:
            q.requires_grad_(True)


def generate(G: Generator, z: torch.Tensor, y: Labels) -> torch.Tensor:
    return G(z) if y is None else G(z, y)


def labelled(D: nn.Module, y: Labels) -> Callable[[torch.Tensor], torch.Tensor]:
    """D as a function of its input alone, for the penalties: x ↦ D(x), or D(x, y) with the labels passed as D's
    second argument, the one way gankit calls a conditional D."""
    return D if y is None else lambda x: D(x, y)


def judge(p: Players, x: torch.Tensor, y: Labels) -> Verdict:
    """D's verdict on samples x with labels y: its logits [m], and an AC-GAN D's class logits [m, C]."""
    if y is not None and hasattr(p.D, "forward_with_classes"):
        logits, classes = p.D.forward_with_classes(x)
        return Verdict(logits.float(), classes.float())
    return Verdict((p.D(x) if y is None else p.D(x, y)).float())


def judge_pair(
    p: Players, real: torch.Tensor, fake: torch.Tensor, y: Labels
) -> tuple[Verdict, Verdict]:
    """:func:`judge` of real and of fake samples (both labelled ``y``), as one pass over [real; fake] when
    ``p.runtime.joint_d``."""
    if not p.runtime.joint_d:
        return judge(p, real, y), judge(p, fake, y)
    m = real.shape[0]
    both = judge(p, torch.cat([real, fake]), None if y is None else torch.cat([y, y]))
    classes = both.classes
    return (
        Verdict(both.logits[:m], None if classes is None else classes[:m]),
        Verdict(both.logits[m:], None if classes is None else classes[m:]),
    )


def d_step(
    p: Players, real: torch.Tensor, z: torch.Tensor, y: Labels = None, grad_norm: bool = True
) -> Stats:
    """One discriminator update on m real samples ``real`` (labels ``y``) and m noise vectors ``z``;
    ``grad_norm``: also report the norm of D's gradient (one more pass over it)."""
    with p.runtime.autocast():
        with torch.no_grad():
            fake = generate(p.G, z, y)
        real, fake = p.tricks.d_sees(real, fake)
        real_out, fake_out = judge_pair(p, real, fake, y)
    loss = p.d_weight * p.d_loss(real_out.logits, fake_out.logits)
    stats = {"d_loss": loss.detach()}
    critic = labelled(p.runtime.penalty_D or p.D, y)
    u = DUpdate(p.D, critic, real, fake, y, real_out, fake_out, p.d_updates)
    loss = p.tricks.add_terms(loss, stats, u)
    p.opt_d.zero_grad(set_to_none=True)
    loss.backward()
    p.runtime.reduce(p.D)
    stats.update(
        d_real=torch.sigmoid(real_out.logits.detach()).mean(),
        d_fake=torch.sigmoid(fake_out.logits.detach()).mean(),
    )
    if grad_norm:
        stats["grad_norm_d"] = _grad_norm(p.D)
    p.opt_d.step()
    p.d_updates += 1
    p.tricks.d_updated(u)
    return stats


def g_step(
    p: Players,
    z: torch.Tensor,
    y: Labels = None,
    real: tuple[torch.Tensor, Labels] | None = None,
    grad_norm: bool = True,
) -> Stats:
    """One generator update on m noise vectors ``z`` with labels ``y`` (``real`` = (x, labels) only for
    relativistic losses); D gets no gradient. ``grad_norm``: also report the norm of G's gradient."""
    with gradients_off(p.D):
        with p.runtime.autocast():
            fake = p.tricks.d_sees(generate(p.G, z, y), None)[0]
            fake_out = judge(p, fake, y)
            if p.g_needs_real:
                with torch.no_grad():
                    real_logits = judge(p, p.tricks.d_sees(real[0], None)[0], real[1]).logits
        args = (fake_out.logits, real_logits) if p.g_needs_real else (fake_out.logits,)
        loss = p.g_loss(*args)
        stats = {"g_loss": loss.detach()}
        loss = p.tricks.add_terms(loss, stats, GUpdate(fake, fake_out, y))
        p.opt_g.zero_grad(set_to_none=True)
        loss.backward()
    p.runtime.reduce(p.G)
    if grad_norm:
        stats["grad_norm_g"] = _grad_norm(p.G)
    p.opt_g.step()
    return stats


def training_iteration(
    p: Players,
    k: int,
    real_batch: Callable[[], tuple[torch.Tensor, Labels]],
    noise_batch: Callable[[], torch.Tensor],
    label_batch: Callable[[], Labels] = lambda: None,
    grad_norms: bool = True,
) -> Stats:
    """k discriminator updates, then one generator update; returns the last D step's and the G step's stats.
    ``real_batch()`` → (x [m, ...], labels or None); ``label_batch()`` → the G step's labels (None: unconditional).
    ``grad_norms``: the stats include the gradient norms of the last D update and of the G update."""
    for i in range(k):
        x, y = real_batch()
        d_stats = d_step(p, x, noise_batch(), y, grad_norm=grad_norms and i == k - 1)
    real = real_batch() if p.g_needs_real else None
    return {**d_stats, **g_step(p, noise_batch(), label_batch(), real, grad_norm=grad_norms)}
