"""Adversarial losses as pure functions of logits (Goodfellow et al., 2014, eq. 1). Imports only torch and
gankit.registry.

Also the modern objectives: LSGAN (Mao et al., 2017), WGAN (Arjovsky et al., 2017), hinge (Lim & Ye, 2017;
Miyato et al., 2018), relativistic average GAN (Jolicoeur-Martineau, 2018), relativistic pairing GAN
(Jolicoeur-Martineau, 2018; the loss of R3GAN, Huang et al., 2024), one-sided label smoothing
(Salimans et al., 2016). Each is an :class:`Objective` in a registry (`register_objective`); `get_objective(name)`
returns the D loss and G loss pair that ``objective.loss`` names.

D(x) = sigmoid(l), so log D = -softplus(-l) and log(1 - D) = -softplus(l); logs of sigmoids are never taken.
Value function V(D, G) = E[log D(x)] + E[log(1 - D(G(z)))]; D maximises it, G minimises it.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

from .registry import Registry


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


# --- Modern objectives. Real/fake arguments are D's raw outputs (logits or critic values), shape [n]. ---


def d_loss_lsgan(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """LSGAN D loss (Mao et al., 2017; a=0, b=1) on raw outputs, no sigmoid."""
    # L_D = ½E[(D(x) − 1)²] + ½E[D(G(z))²]
    return 0.5 * (real_logits - 1).pow(2).mean() + 0.5 * fake_logits.pow(2).mean()


def g_loss_lsgan(fake_logits: torch.Tensor) -> torch.Tensor:
    """LSGAN G loss (Mao et al., 2017; c=1) on raw outputs."""
    # L_G = ½E[(D(G(z)) − 1)²]
    return 0.5 * (fake_logits - 1).pow(2).mean()


def d_loss_wasserstein(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """WGAN critic loss (Arjovsky et al., 2017): minus the Kantorovich-Rubinstein estimate of W(P_r, P_g)."""
    # L_D = E[f(G(z))] − E[f(x)]
    return fake_scores.mean() - real_scores.mean()


def g_loss_wasserstein(fake_scores: torch.Tensor) -> torch.Tensor:
    """WGAN generator loss (Arjovsky et al., 2017)."""
    # L_G = −E[f(G(z))]
    return -fake_scores.mean()


def d_loss_hinge(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Hinge D loss (Lim & Ye, 2017; Miyato et al., 2018)."""
    # L_D = E[max(0, 1 − D(x))] + E[max(0, 1 + D(G(z)))]
    return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()


def g_loss_hinge(fake_logits: torch.Tensor) -> torch.Tensor:
    """Hinge G loss (Lim & Ye, 2017; Miyato et al., 2018)."""
    # L_G = −E[D(G(z))]
    return -fake_logits.mean()


def d_loss_ragan(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Relativistic average standard GAN D loss (Jolicoeur-Martineau, 2018); σ(C(x) − E C(x_f)) is D's probability."""
    # L_D = −E[log σ(C(x_r) − E C(x_f))] − E[log(1 − σ(C(x_f) − E C(x_r)))]
    return (
        F.softplus(-(real_logits - fake_logits.mean())).mean()
        + F.softplus(fake_logits - real_logits.mean()).mean()
    )


def g_loss_ragan(fake_logits: torch.Tensor, real_logits: torch.Tensor) -> torch.Tensor:
    """Relativistic average standard GAN G loss (Jolicoeur-Martineau, 2018): D's loss with real and fake swapped."""
    # L_G = −E[log σ(C(x_f) − E C(x_r))] − E[log(1 − σ(C(x_r) − E C(x_f)))]
    return (
        F.softplus(-(fake_logits - real_logits.mean())).mean()
        + F.softplus(real_logits - fake_logits.mean()).mean()
    )


def d_loss_rpgan(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Relativistic pairing GAN D loss: row i of real and of fake form a pair; shapes [n] and [n].

    Where ragan compares each sample with the *mean* logit of the other side, rpgan compares it with one paired
    sample: the loss is the BCE of "x_i is more real than G(z_i)" under σ(C(x_i) − C(G(z_i))). Both equal
    log 2 when the logits agree; rpgan's sum runs over n pairs, ragan's over 2n comparisons with a mean."""
    # L_D = E_(x, z)[softplus(−(C(x) − C(G(z))))]
    return F.softplus(fake_logits - real_logits).mean()


def g_loss_rpgan(fake_logits: torch.Tensor, real_logits: torch.Tensor) -> torch.Tensor:
    """Relativistic pairing GAN G loss: D's loss with the pair's roles swapped; shapes [n] and [n]."""
    # L_G = E_(x, z)[softplus(−(C(G(z)) − C(x)))]
    return F.softplus(real_logits - fake_logits).mean()


def d_loss_smoothed(
    real_logits: torch.Tensor, fake_logits: torch.Tensor, real_target: float = 0.9
) -> torch.Tensor:
    """D loss with one-sided label smoothing (Salimans et al., 2016): real target t, fake target stays 0."""
    # L_D = E[t·softplus(−l_r) + (1 − t)·softplus(l_r)] + E[softplus(l_f)]  (BCE with targets t and 0)
    real_bce = real_target * F.softplus(-real_logits) + (1.0 - real_target) * F.softplus(
        real_logits
    )
    return real_bce.mean() + F.softplus(fake_logits).mean()


@dataclass(frozen=True)
class Objective:
    """A D loss and a G loss of D's raw outputs (logits [n]), and what the rest of gankit asks of them.

    ``g_needs_real``: the trainer calls ``g_loss(fake_logits, real_logits)`` (and draws a real batch for G's step).
    ``probabilistic``: sigmoid(D(x)) is D's probability that x is real, so the doctor may check D against ½.
    ``real_above_zero``: D's output alone says "real" above 0 and "generated" below (ADA's signal E[sign D(x)]).
    ``help``: one line for the docs and menus.
    """

    name: str
    d_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    g_loss: Callable[..., torch.Tensor]
    g_needs_real: bool = False
    probabilistic: bool = False
    real_above_zero: bool = False
    help: str = ""


OBJECTIVES: Registry[Objective] = Registry(
    "objective.loss",
    ValueError,
    "an objective",
    is_entry=lambda value: isinstance(value, Objective),
)


def register_objective(objective: Objective) -> Objective:
    """Make ``objective`` a value of ``objective.loss`` under its name, for this process (gankit.registry's rules);
    returns it, so a module can write ``MINE = register_objective(Objective("mine", d_loss, g_loss))``."""
    return OBJECTIVES.register(objective.name, objective)


def objectives() -> dict[str, Objective]:
    """The registered objectives by name, gankit's first (``objective.loss`` may also be ``MODULE:NAME``)."""
    return OBJECTIVES.entries()


def resolve_objective(name: str) -> Objective:
    """The objective ``name`` registers, or for ``MODULE:NAME`` the one that importing ``MODULE`` registers under
    ``NAME`` (or its attribute ``NAME``, an :class:`Objective`); a one-line ValueError listing the choices
    otherwise."""
    return OBJECTIVES.resolve(name)


def get_objective(
    name: str, *, g_loss: str = "non-saturating", label_smoothing: float = 0.0
) -> Objective:
    """The objective ``name`` (see :func:`resolve_objective`). ``g_loss`` and ``label_smoothing`` (real target
    1 − label_smoothing, in [0, 1)) apply to the paper's "gan" only. Raises ValueError for an unknown or invalid
    choice."""
    objective = resolve_objective(name)
    if name != "gan":
        return objective
    if g_loss not in G_LOSSES:
        raise ValueError(f"g_loss {g_loss!r} is unknown; choices: {', '.join(G_LOSSES)}")
    if not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing!r}")
    d = (
        functools.partial(d_loss_smoothed, real_target=1.0 - label_smoothing)
        if label_smoothing > 0
        else d_loss
    )
    return dataclasses.replace(objective, d_loss=d, g_loss=G_LOSSES[g_loss])


for _objective in (
    Objective(
        "gan",
        d_loss,
        g_loss_non_saturating,
        probabilistic=True,
        real_above_zero=True,
        help="the paper's value function (objective.g_loss: non-saturating or minimax)",
    ),
    Objective("lsgan", d_loss_lsgan, g_loss_lsgan, help="least squares (Mao et al. 2017)"),
    Objective(
        "wgan",
        d_loss_wasserstein,
        g_loss_wasserstein,
        help="Wasserstein critic (Arjovsky et al. 2017)",
    ),
    Objective(
        "hinge", d_loss_hinge, g_loss_hinge, real_above_zero=True, help="hinge (Lim & Ye 2017)"
    ),
    Objective(
        "ragan",
        d_loss_ragan,
        g_loss_ragan,
        g_needs_real=True,
        probabilistic=True,
        help="relativistic average (Jolicoeur-Martineau 2018)",
    ),
    Objective(
        "rpgan",
        d_loss_rpgan,
        g_loss_rpgan,
        g_needs_real=True,
        help="relativistic pairing (Jolicoeur-Martineau 2018; R3GAN's loss)",
    ),
):
    register_objective(_objective)
