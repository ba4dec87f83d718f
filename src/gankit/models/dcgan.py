"""DCGAN generator and discriminator (Radford, Metz & Chintala, 2016, "Unsupervised Representation Learning with
Deep Convolutional Generative Adversarial Networks", ICLR).

Square images of 28, 32 or 64 pixels with any channel count. The generator projects z to a small map (4×4, or 7×7
for 28 px) and doubles the resolution with stride-2 transposed convolutions + BatchNorm + ReLU, halving the channels
down to ``width``; a last transposed convolution gives C channels through tanh, so samples lie in [-1, 1]. The
discriminator mirrors it: stride-2 convolutions with LeakyReLU(0.2), BatchNorm on all but the first, channels
doubling from ``width``, and a last convolution to one logit (no sigmoid). Weights follow the paper: N(0, 0.02).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .base import Discriminator, Generator

RESOLUTIONS = (28, 32, 64)


def _plan(resolution: int) -> tuple[int, int]:
    """(size of the first/last small feature map, number of stride-2 steps between it and ``resolution``)."""
    if resolution not in RESOLUTIONS:
        raise ValueError(
            f"resolution {resolution!r} is not one of {', '.join(map(str, RESOLUTIONS))}"
        )
    start = 7 if resolution == 28 else 4
    return start, (resolution // start).bit_length() - 1


def dcgan_init_(module: nn.Module) -> nn.Module:
    """In place, as the DCGAN paper: (transposed) conv weights ~ N(0, 0.02), BatchNorm weight ~ N(1, 0.02),
    every bias 0. Applies to ``module`` and all its submodules; returns ``module``."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
    return module


class DCGANGenerator(Generator):
    """z float32 [n, z_dim] → images float32 [n, channels, resolution, resolution] in [-1, 1] (tanh).

    Layers for resolution R with L = log2(R / s) - 1 hidden stride-2 blocks (s = 4, or 7 when R = 28):
    ConvT(z_dim → width·2^L, kernel s) from 1×1 to s×s, BN, ReLU; L × [ConvT(4, 2, 1) halving channels, BN, ReLU];
    ConvT(width → channels, 4, 2, 1) + tanh. Convolutions followed by BatchNorm carry no bias.
    """

    def __init__(
        self,
        *,
        z_dim: int = 100,
        channels: int = 1,
        resolution: int = 64,
        width: int = 64,
        prior: str = "normal",
    ) -> None:
        start, steps = _plan(resolution)
        super().__init__(
            z_dim=z_dim,
            out_shape=(channels, resolution, resolution),
            value_range="symmetric",
            prior=prior,
        )
        ch = width * 2 ** (steps - 1)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(z_dim, ch, start, 1, 0, bias=False),
            nn.BatchNorm2d(ch),
            nn.ReLU(inplace=True),
        ]
        for _ in range(steps - 1):
            layers += [
                nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(ch // 2),
                nn.ReLU(inplace=True),
            ]
            ch //= 2
        layers += [nn.ConvTranspose2d(ch, channels, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        dcgan_init_(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """z float32 [n, z_dim] → float32 [n, C, R, R] in [-1, 1]."""
        if z.dim() != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"z has shape {tuple(z.shape)}; expected [n, {self.z_dim}]")
        return self.net(z.view(z.shape[0], self.z_dim, 1, 1))


D_NORMS = ("batch", "layer", "none")


def _norm(kind: str, ch: int) -> list[nn.Module]:
    return {"batch": [nn.BatchNorm2d(ch)], "layer": [nn.GroupNorm(1, ch)], "none": []}[kind]


class DCGANDiscriminator(Discriminator):
    """Images float32 [n, channels, resolution, resolution] (in [-1, 1]) → logits float32 [n]; D(x) = sigmoid(logit).

    Conv(channels → width, 4, 2, 1) + LeakyReLU(0.2); then stride-2 convs doubling channels, each + norm + LeakyReLU,
    down to s×s (s = 4, or 7 when R = 28); a last Conv(kernel s) to one logit. ``norm``: "batch" (DCGAN), "layer"
    (GroupNorm with one group: per-sample, as WGAN-GP advises, since gradient penalties assume D treats samples
    independently) or "none". Convolutions before a norm carry no bias.
    """

    def __init__(
        self, *, channels: int = 1, resolution: int = 64, width: int = 64, norm: str = "batch"
    ) -> None:
        super().__init__(in_shape=(channels, resolution, resolution))
        if norm not in D_NORMS:
            raise ValueError(f"norm {norm!r} is not one of {', '.join(D_NORMS)}")
        start, steps = _plan(resolution)
        ch = width
        layers: list[nn.Module] = [
            nn.Conv2d(channels, ch, 4, 2, 1),
            nn.LeakyReLU(0.2, inplace=True),
        ]
        for _ in range(steps - 1):
            layers += [
                nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=norm == "none"),
                *_norm(norm, ch * 2),
                nn.LeakyReLU(0.2, inplace=True),
            ]
            ch *= 2
        layers.append(nn.Conv2d(ch, 1, start, 1, 0))
        self.net = nn.Sequential(*layers)
        dcgan_init_(self)

    def extract(self, x: torch.Tensor) -> torch.Tensor:
        """x float32 [n, C, R, R] → the last s×s feature map, flattened: float32 [n, channels·s·s]."""
        return self.net[:-1](x).flatten(1)

    def logit(self, h: torch.Tensor) -> torch.Tensor:
        """Flattened features [n, channels·s·s] → logits [n] (the last s×s convolution is a linear map of them)."""
        last = self.net[-1]
        return F.linear(h, last.weight.reshape(1, -1), last.bias).reshape(h.shape[0])
