"""Fully connected models: the paper's MNIST pair (Goodfellow et al., 2014; docs/design.md, 'The paper's protocol')
and small toy MLPs.

Paper G: z [n, 100] → ReLU 1200 → ReLU 1200 → sigmoid 784, weights U(-0.05, 0.05), biases 0 except the output
bias, which is the logit of the data's pixel marginals. Paper D: dropout(keep 0.8) → maxout 240×5 →
dropout(keep 0.5) → maxout 240×5 → dropout(keep 0.5) → linear 1 (a logit; D(x) = sigmoid), weights
U(-0.005, 0.005), biases 0. Dropout is inverted (kept units scaled by 1/keep: 1.25 and 2), on D only.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .base import Discriminator, Generator

PAPER_G_HIDDEN, PAPER_G_INIT = 1200, 0.05
PAPER_D_UNITS, PAPER_D_PIECES, PAPER_D_INIT = 240, 5, 0.005
PAPER_D_KEEP_INPUT, PAPER_D_KEEP_HIDDEN = 0.8, 0.5
MARGINAL_CLIP = 1e-5  # pixel means are clipped to [1e-5, 1 - 1e-5] before the logit


def _uniform_init_(module: nn.Module, half_width: float) -> None:
    for layer in module.modules():
        if isinstance(layer, nn.Linear):
            nn.init.uniform_(layer.weight, -half_width, half_width)
            nn.init.zeros_(layer.bias)


def marginal_logits(pixel_mean: torch.Tensor) -> torch.Tensor:
    """Logit of per-pixel means in [0, 1] (clipped to [1e-5, 1 - 1e-5]): the paper's output-bias init."""
    p = pixel_mean.double().clamp(MARGINAL_CLIP, 1.0 - MARGINAL_CLIP)
    return (p.log() - (-p).log1p()).float()


class PaperGenerator(Generator):
    """The paper's MNIST generator. z float32 [n, z_dim] → samples [n, *out_shape] in [0, 1]."""

    def __init__(
        self,
        *,
        out_shape: tuple[int, ...] = (1, 28, 28),
        z_dim: int = 100,
        hidden: int = PAPER_G_HIDDEN,
        pixel_mean: torch.Tensor | None = None,
        prior: str = "uniform",
    ) -> None:
        super().__init__(z_dim=z_dim, out_shape=out_shape, value_range="unit", prior=prior)
        out_dim = math.prod(out_shape)
        self.net = nn.Sequential(
            nn.Linear(z_dim, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, out_dim),
        )
        _uniform_init_(self, PAPER_G_INIT)
        if pixel_mean is not None:
            with torch.no_grad():
                self.net[-1].bias.copy_(marginal_logits(pixel_mean.reshape(out_dim)))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.net(z)).view(z.shape[0], *self.out_shape)


class Dropout(nn.Module):
    """Inverted dropout: each element is kept with probability 1 − p and scaled by 1/(1 − p), else zeroed; the
    identity in eval mode. On CPU the mask is one float32 ``rand`` (kept where u ≥ p: 1 − p to within 2⁻²⁴) plus
    in-place ops, faster there than torch's ``bernoulli_``; on other devices, torch's fused dropout kernel."""

    def __init__(self, p: float) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout probability must be in [0, 1), got {p}")
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        if x.device.type != "cpu":
            return F.dropout(x, self.p, training=True)
        mask = torch.rand(x.shape, device=x.device).ge_(self.p).mul_(1.0 / (1.0 - self.p))
        return x * mask.to(x.dtype)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Maxout(nn.Module):
    """Maxout layer (Goodfellow et al., 2013): [n, d_in] → [n, units], the max over ``pieces`` affine maps."""

    def __init__(self, in_features: int, units: int, pieces: int) -> None:
        super().__init__()
        self.units, self.pieces = units, pieces
        self.linear = nn.Linear(in_features, units * pieces)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # max (not amax): its backward routes the gradient by the saved argmax, cheaper than amax's mask
        return self.linear(x).view(x.shape[0], self.units, self.pieces).max(dim=2).values


class PaperDiscriminator(Discriminator):
    """The paper's maxout discriminator. x [n, *in_shape] in [0, 1] → logits float32 [n]."""

    def __init__(
        self,
        *,
        in_shape: tuple[int, ...] = (1, 28, 28),
        units: int = PAPER_D_UNITS,
        pieces: int = PAPER_D_PIECES,
        dropout: bool = True,
    ) -> None:
        super().__init__(in_shape=in_shape)
        in_dim = math.prod(in_shape)
        drop_in = 1.0 - PAPER_D_KEEP_INPUT if dropout else 0.0
        drop_hidden = 1.0 - PAPER_D_KEEP_HIDDEN if dropout else 0.0
        self.net = nn.Sequential(
            Dropout(drop_in),
            Maxout(in_dim, units, pieces),
            Dropout(drop_hidden),
            Maxout(units, units, pieces),
            Dropout(drop_hidden),
            nn.Linear(units, 1),
        )
        _uniform_init_(self, PAPER_D_INIT)

    def extract(self, x: torch.Tensor) -> torch.Tensor:
        """x [n, *in_shape] → the last hidden layer (after its dropout) float32 [n, units]."""
        return self.net[:-1](x.reshape(x.shape[0], -1))

    def logit(self, h: torch.Tensor) -> torch.Tensor:
        """Features [n, units] → logits [n]."""
        return self.net[-1](h).view(h.shape[0])


def _mlp(
    in_dim: int, hidden: int, layers: int, out_dim: int, act: type[nn.Module]
) -> nn.Sequential:
    dims = [in_dim] + [hidden] * layers
    blocks: list[nn.Module] = []
    for a, b in zip(dims[:-1], dims[1:]):
        blocks += [nn.Linear(a, b), act()]
    return nn.Sequential(*blocks, nn.Linear(dims[-1], out_dim))


class MLPGenerator(Generator):
    """Small MLP generator for toy points (``value_range="none"``, linear output) or images (tanh, [-1, 1])."""

    def __init__(
        self,
        *,
        out_shape: tuple[int, ...],
        z_dim: int = 2,
        hidden: int = 128,
        layers: int = 2,
        value_range: str = "none",
        prior: str = "normal",
    ) -> None:
        super().__init__(z_dim=z_dim, out_shape=out_shape, value_range=value_range, prior=prior)
        self.net = _mlp(z_dim, hidden, layers, math.prod(out_shape), nn.ReLU)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.net(z).view(z.shape[0], *self.out_shape)
        return torch.tanh(x) if self.value_range == "symmetric" else x


class MLPDiscriminator(Discriminator):
    """Small MLP discriminator: x [n, *in_shape] → logits float32 [n]."""

    def __init__(self, *, in_shape: tuple[int, ...], hidden: int = 128, layers: int = 2) -> None:
        super().__init__(in_shape=in_shape)
        self.net = _mlp(math.prod(in_shape), hidden, layers, 1, lambda: nn.LeakyReLU(0.2))

    def extract(self, x: torch.Tensor) -> torch.Tensor:
        """x [n, *in_shape] → the last hidden layer float32 [n, hidden]."""
        return self.net[:-1](x.reshape(x.shape[0], -1))

    def logit(self, h: torch.Tensor) -> torch.Tensor:
        """Features [n, hidden] → logits [n]."""
        return self.net[-1](h).view(h.shape[0])
