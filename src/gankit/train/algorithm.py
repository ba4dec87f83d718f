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


@dataclass
class Players:
    """The two players, their optimisers and losses. ``d_loss(real_logits, fake_logits)``, ``g_loss(fake_logits)``."""

    G: Generator
    D: nn.Module
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    d_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    g_loss: Callable[[torch.Tensor], torch.Tensor]
    d_weight: float = 1.0


def _grad_norm(module: nn.Module) -> torch.Tensor:
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    return torch.nn.utils.get_total_norm(grads) if grads else torch.zeros(())


def d_step(p: Players, real: torch.Tensor, z: torch.Tensor) -> Stats:
    """One discriminator update on m real samples ``real`` and m noise vectors ``z``."""
    with torch.no_grad():
        fake = p.G(z)
    real_logits, fake_logits = p.D(real), p.D(fake)
    loss = p.d_weight * p.d_loss(real_logits, fake_logits)
    p.opt_d.zero_grad(set_to_none=True)
    loss.backward()
    stats = {"d_loss": loss.detach(), "d_real": torch.sigmoid(real_logits.detach()).mean(),
             "d_fake": torch.sigmoid(fake_logits.detach()).mean(), "grad_norm_d": _grad_norm(p.D)}
    p.opt_d.step()
    return stats


def g_step(p: Players, z: torch.Tensor) -> Stats:
    """One generator update on m noise vectors ``z``; D's parameters get no gradient."""
    p.D.requires_grad_(False)
    try:
        loss = p.g_loss(p.D(p.G(z)))
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
    return {**d_stats, **g_step(p, noise_batch())}
