"""Algorithm 1 of Goodfellow et al. (2014): minibatch stochastic gradient training of generative adversarial nets.

    for number of training iterations:
        for k steps:
            sample m noise samples z ~ p_g(z) and m examples x ~ p_data(x)
            update D by ascending its stochastic gradient of V (here: descending -V)
        sample m noise samples z ~ p_g(z)
        update G by descending its stochastic gradient (of log(1 - D(G(z))), or of -log D(G(z)))

Each step returns detached scalar tensors (no host sync); the caller decides when to read them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from ..models.base import Generator

Stats = dict[str, torch.Tensor]


Augment = Callable[[torch.Tensor, torch.Tensor | None], tuple[torch.Tensor, torch.Tensor | None]]
Penalty = Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass
class Players:
    """The two players, their optimisers and losses. ``d_loss(real_logits, fake_logits)``, ``g_loss(fake_logits)``
    (or ``g_loss(fake_logits, real_logits)`` when ``g_needs_real``). Optional: ``penalty(D, real, fake)`` added to
    D's loss every ``penalty_every`` D updates (scaled by it: lazy regularisation), ``augment(real, fake)`` applied
    to what D sees (``real`` None in the G step), ``clip`` of D's weights after each D update (WGAN)."""

    G: Generator
    D: nn.Module
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    d_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    g_loss: Callable[..., torch.Tensor]
    d_weight: float = 1.0
    g_needs_real: bool = False
    penalty: Penalty | None = None
    penalty_every: int = 1
    augment: Augment | None = None
    clip: float = 0.0
    d_updates: int = 0  # counter for lazy regularisation (restored from step·k on resume)


def _grad_norm(module: nn.Module) -> torch.Tensor:
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    return torch.nn.utils.get_total_norm(grads) if grads else torch.zeros(())


def d_step(p: Players, real: torch.Tensor, z: torch.Tensor) -> Stats:
    """One discriminator update on m real samples ``real`` and m noise vectors ``z``."""
    with torch.no_grad():
        fake = p.G(z)
    if p.augment is not None:
        real, fake = p.augment(real, fake)
    real_logits, fake_logits = p.D(real), p.D(fake)
    loss = p.d_weight * p.d_loss(real_logits, fake_logits)
    stats = {"d_loss": loss.detach()}
    if p.penalty is not None and p.d_updates % p.penalty_every == 0:
        penalty = p.penalty(p.D, real, fake)
        stats["penalty"] = penalty.detach()
        loss = loss + p.penalty_every * penalty
    p.opt_d.zero_grad(set_to_none=True)
    loss.backward()
    stats.update(d_real=torch.sigmoid(real_logits.detach()).mean(), d_fake=torch.sigmoid(fake_logits.detach()).mean(),
                 grad_norm_d=_grad_norm(p.D))
    p.opt_d.step()
    p.d_updates += 1
    if p.clip > 0:
        with torch.no_grad():
            for param in p.D.parameters():
                param.clamp_(-p.clip, p.clip)
    return stats


def g_step(p: Players, z: torch.Tensor, real: torch.Tensor | None = None) -> Stats:
    """One generator update on m noise vectors ``z`` (``real`` only for relativistic losses); D gets no gradient."""
    p.D.requires_grad_(False)
    try:
        fake = p.G(z)
        if p.augment is not None:
            fake = p.augment(fake, None)[0]
        if p.g_needs_real:
            with torch.no_grad():
                real_logits = p.D(real if p.augment is None else p.augment(real, None)[0])
            loss = p.g_loss(p.D(fake), real_logits)
        else:
            loss = p.g_loss(p.D(fake))
        p.opt_g.zero_grad(set_to_none=True)
        loss.backward()
    finally:
        p.D.requires_grad_(True)
    stats = {"g_loss": loss.detach(), "grad_norm_g": _grad_norm(p.G)}
    p.opt_g.step()
    return stats


def training_iteration(p: Players, k: int, real_batch: Callable[[], torch.Tensor],
                       noise_batch: Callable[[], torch.Tensor]) -> Stats:
    """k discriminator updates, then one generator update; returns the last D step's and the G step's stats."""
    for _ in range(k):
        d_stats = d_step(p, real_batch(), noise_batch())
    real = real_batch() if p.g_needs_real else None
    return {**d_stats, **g_step(p, noise_batch(), real)}
