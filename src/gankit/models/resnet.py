"""ResNet generator and discriminator for 32×32 images (Miyato, Kataoka, Koyama & Yoshida, 2018, "Spectral
Normalization for Generative Adversarial Networks", ICLR; appendix B, the CIFAR-10 ResNet).

G: z → linear to 4×4×(4·width) → 3 up-blocks (4→8→16→32) → BN, ReLU, conv3×3 to C channels, tanh (range [-1, 1]).
Up-block: BN-ReLU-upsample(nearest, ×2)-conv3×3-BN-ReLU-conv3×3, plus a shortcut upsample + conv1×1.
D (2·width channels, 128 for width 64): optimised first block (conv3×3-ReLU-conv3×3-avgpool, shortcut avgpool-conv1×1),
a down-block (ReLU-conv3×3-ReLU-conv3×3-avgpool, shortcut conv1×1-avgpool), two blocks without downsampling
(identity shortcut), ReLU, sum over the 8×8 map, linear to one logit. D has no normalisation of its own: the trainer
wraps every layer in spectral norm when ``model.spectral_norm`` is true.

Init, as the authors' Chainer code: Xavier-uniform with gain √2 for the 3×3 convolutions inside residual branches
(they follow a ReLU), gain 1 for shortcuts, linears and the first/last layers; biases 0. Convolutions directly followed
by BatchNorm, and the 1×1 shortcuts beside a biased residual branch, carry no bias (it would be redundant).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .base import Discriminator, Generator

RESOLUTIONS = (32,)


def _check_resolution(resolution: int) -> None:
    if resolution not in RESOLUTIONS:
        raise ValueError(f"resolution {resolution!r} is not supported by the ResNet models; use 32")


def _xavier(layer: nn.Module, gain: float = 1.0) -> nn.Module:
    nn.init.xavier_uniform_(layer.weight, gain)
    if layer.bias is not None:
        nn.init.zeros_(layer.bias)
    return layer


def _conv(cin: int, cout: int, k: int, *, bias: bool = True, gain: float = 1.0) -> nn.Conv2d:
    return _xavier(nn.Conv2d(cin, cout, k, 1, k // 2, bias=bias), gain)


class UpBlock(nn.Module):
    """[n, cin, h, w] → [n, cout, 2h, 2w]: BN-ReLU-up-conv3×3-BN-ReLU-conv3×3 + (up-conv1×1) shortcut."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.bn1, self.bn2 = nn.BatchNorm2d(cin), nn.BatchNorm2d(cout)
        self.c1 = _conv(cin, cout, 3, bias=False, gain=math.sqrt(2))
        self.c2 = _conv(cout, cout, 3, gain=math.sqrt(2))
        self.sc = _conv(cin, cout, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.interpolate(F.relu(self.bn1(x)), scale_factor=2, mode="nearest")
        h = self.c2(F.relu(self.bn2(self.c1(h))))
        return h + self.sc(F.interpolate(x, scale_factor=2, mode="nearest"))


class DownBlock(nn.Module):
    """[n, cin, h, w] → [n, cout, h/2, w/2] (or h, w if not ``down``): ReLU-conv3×3-ReLU-conv3×3[-avgpool] plus a
    shortcut conv1×1[-avgpool] (identity when cin = cout and not ``down``). ``first``: the optimised first block
    (no ReLU on the input; shortcut avgpool then conv1×1)."""

    def __init__(self, cin: int, cout: int, *, down: bool, first: bool = False) -> None:
        super().__init__()
        self.down, self.first = down, first
        self.c1 = _conv(cin, cout, 3, gain=1.0 if first else math.sqrt(2))
        self.c2 = _conv(cout, cout, 3, gain=math.sqrt(2))
        self.sc = _conv(cin, cout, 1, bias=False) if (down or cin != cout) else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.c2(F.relu(self.c1(x if self.first else F.relu(x))))
        if self.down:
            h = F.avg_pool2d(h, 2)
        if self.sc is None:
            return h + x
        if self.first:
            return h + self.sc(F.avg_pool2d(x, 2))
        s = self.sc(x)
        return h + (F.avg_pool2d(s, 2) if self.down else s)


class ResNetGenerator(Generator):
    """z float32 [n, z_dim] → images float32 [n, channels, 32, 32] in [-1, 1] (tanh); 4·width channels inside."""

    def __init__(
        self,
        *,
        z_dim: int = 128,
        channels: int = 3,
        resolution: int = 32,
        width: int = 64,
        prior: str = "normal",
    ) -> None:
        _check_resolution(resolution)
        super().__init__(
            z_dim=z_dim,
            out_shape=(channels, resolution, resolution),
            value_range="symmetric",
            prior=prior,
        )
        self.ch = ch = 4 * width
        self.linear = _xavier(nn.Linear(z_dim, 4 * 4 * ch))
        self.blocks = nn.Sequential(*(UpBlock(ch, ch) for _ in range(3)))
        self.bn = nn.BatchNorm2d(ch)
        self.out = _conv(ch, channels, 3)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """z float32 [n, z_dim] → float32 [n, C, 32, 32] in [-1, 1]."""
        if z.dim() != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"z has shape {tuple(z.shape)}; expected [n, {self.z_dim}]")
        h = self.blocks(self.linear(z).view(z.shape[0], self.ch, 4, 4))
        return torch.tanh(self.out(F.relu(self.bn(h))))


class ResNetDiscriminator(Discriminator):
    """Images float32 [n, channels, 32, 32] (in [-1, 1]) → logits float32 [n]; D(x) = sigmoid(logit).
    2·width channels throughout; no BatchNorm and no built-in spectral norm."""

    def __init__(self, *, channels: int = 3, resolution: int = 32, width: int = 64) -> None:
        super().__init__(in_shape=(channels, resolution, resolution))
        _check_resolution(resolution)
        ch = 2 * width
        self.blocks = nn.Sequential(
            DownBlock(channels, ch, down=True, first=True),
            DownBlock(ch, ch, down=True),
            DownBlock(ch, ch, down=False),
            DownBlock(ch, ch, down=False),
        )
        self.linear = _xavier(nn.Linear(ch, 1))

    def extract(self, x: torch.Tensor) -> torch.Tensor:
        """x float32 [n, C, 32, 32] → globally sum-pooled features float32 [n, 2·width]."""
        return F.relu(self.blocks(x)).sum(dim=(2, 3))

    def logit(self, h: torch.Tensor) -> torch.Tensor:
        """Features [n, 2·width] → logits [n]."""
        return self.linear(h).reshape(h.shape[0])
