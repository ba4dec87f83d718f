"""Adversarial losses as pure functions of logits (Goodfellow et al., 2014, eq. 1). Imports only torch.

D(x) = sigmoid(l), so log D = -softplus(-l) and log(1 - D) = -softplus(l); logs of sigmoids are never taken.
Value function V(D, G) = E[log D(x)] + E[log(1 - D(G(z)))]; D maximises it, G minimises it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """-V(D, G) = E[softplus(-l_real)] + E[softplus(l_fake)]; scalar, ≥ 0, equal to log 4 at D = ½ everywhere."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def g_loss_minimax(fake_logits: torch.Tensor) -> torch.Tensor:
    """The value function's second term, E[log(1 - D(G(z)))] = -E[softplus(l_fake)]; saturates as D(G(z)) → 0."""
    return -F.softplus(fake_logits).mean()


def g_loss_non_saturating(fake_logits: torch.Tensor) -> torch.Tensor:
    """The paper's practical G loss, -E[log D(G(z))] = E[softplus(-l_fake)]; strong gradients early in training."""
    return F.softplus(-fake_logits).mean()


G_LOSSES = {"minimax": g_loss_minimax, "non-saturating": g_loss_non_saturating}
