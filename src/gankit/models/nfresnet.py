"""Normalisation-free residual G and D (the architecture of R3GAN: Huang, Gokaslan, Kuleshov & Tompkin, 2024,
"The GAN is dead; long live the GAN! A modern GAN baseline", NeurIPS), written from the paper's description.

Both players are stacks of stages, one per resolution b·2ⁱ (base b in 4..7, so 28 = 7·2², 32 = 4·2³, 64 = 4·2⁴):

- Residual block (inverted bottleneck), C channels: x + P(a(K(a(E(x))))), where E is a 1×1 convolution to
  C·expansion channels, K a grouped 3×3 convolution (``group_size`` channels per group; a dense one when the group
  size covers every channel), P a 1×1 convolution back to C, a = leaky ReLU (slope 0.2) after a learned bias.
  No normalisation layer anywhere. P starts at zero, so every block starts as the identity; E and K start with
  He-normal weights scaled by L^(-1/4) for L blocks in the network (Fixup's rule for 3-layer branches).
- Between stages: smooth resampling with the binomial filter [1, 2, 1] (⊗ itself in 2-D) — G doubles the size by
  linear interpolation after a 1×1 convolution that changes the width, D halves it by filtering then striding,
  before its 1×1 convolution.
- G: a learned basis [C₀, b, b] multiplied channel-wise by a linear map of z, the stages from b to the full size,
  a 1×1 convolution to the image channels. No tanh: samples are clamped to [-1, 1] only when turned into images.
- D: a 1×1 convolution from the image channels, the stages from the full size down to b, a depthwise b×b
  convolution over the last feature map ([n, C₀]: ``features``) and a linear layer to one logit (``logit``).

Widths are per stage from the lowest resolution (C₀) to the full one; blocks per stage likewise.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .base import Discriminator, Generator

SLOPE = 0.2  # leaky ReLU
BASES = (4, 5, 6, 7)
# numbers, not a tensor: a tensor made at import takes the default device of that moment
_BINOMIAL = (1.0, 2.0, 1.0)


def stage_resolutions(resolution: int) -> list[int]:
    """[b, 2b, …, resolution] for resolution = b·2ⁿ with b in 4..7 and n ≥ 1; a one-line ValueError otherwise."""
    for base in BASES:
        n = resolution // base
        if resolution % base == 0 and n >= 2 and n & (n - 1) == 0:
            return [base * 2**i for i in range(int(math.log2(n)) + 1)]
    raise ValueError(
        f"resolution {resolution} is not b·2^n with b in 4..7 and n >= 1 (e.g. 28, 32, 48, 56, 64)"
    )


def default_widths(resolution: int, width: int, cap: int = 8) -> list[int]:
    """Per-stage widths from the lowest resolution up: ``width`` at full size, doubling at each halving, at most
    cap·width (28 → [4w, 2w, w]; 64 → [8w, 8w, 4w, 2w, w])."""
    stages = len(stage_resolutions(resolution))
    return [width * min(2 ** (stages - 1 - i), cap) for i in range(stages)]


def _per_stage(value: int | Sequence[int], stages: int, name: str) -> list[int]:
    values = [value] * stages if isinstance(value, int) else list(value)
    if len(values) != stages or min(values) < 1:
        raise ValueError(
            f"{name} must be a positive int or one per stage ({stages}), got {value!r}"
        )
    return values


class BiasedLeakyReLU(nn.Module):
    """[n, C, h, w] → leaky_relu(x + bias), bias [C] learned, starting at 0."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(x + self.bias.view(1, -1, 1, 1).to(x.dtype), SLOPE)


def _he(conv: nn.Conv2d, scale: float) -> nn.Conv2d:
    """He-normal weights for a leaky-ReLU layer, times ``scale``."""
    fan_in = conv.weight[0].numel()
    nn.init.normal_(conv.weight, 0.0, scale * math.sqrt(2.0 / (1 + SLOPE**2)) / math.sqrt(fan_in))
    return conv


class ResidualBlock(nn.Module):
    """[n, C, h, w] → same shape: x + P(a(K(a(E(x))))) (see the module docstring); the identity at init."""

    def __init__(
        self, channels: int, *, expansion: int, group_size: int, total_blocks: int
    ) -> None:
        super().__init__()
        hidden, scale = channels * expansion, total_blocks**-0.25
        groups = max(1, hidden // group_size)
        while hidden % groups:
            groups -= 1
        self.expand = _he(nn.Conv2d(channels, hidden, 1, bias=False), scale)
        self.act1 = BiasedLeakyReLU(hidden)
        self.conv = _he(nn.Conv2d(hidden, hidden, 3, padding=1, groups=groups, bias=False), scale)
        self.act2 = BiasedLeakyReLU(hidden)
        self.project = nn.Conv2d(hidden, channels, 1, bias=False)
        nn.init.zeros_(self.project.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.project(self.act2(self.conv(self.act1(self.expand(x)))))


def _binomial_2d(channels: int, gain: float) -> torch.Tensor:
    """Depthwise kernel [C, 1, 3, 3]: [1,2,1]⊗[1,2,1] normalised to sum ``gain``."""
    taps = torch.tensor(_BINOMIAL)
    k = torch.outer(taps, taps)
    return (k * gain / k.sum()).expand(channels, 1, 3, 3).contiguous()


class Resample(nn.Module):
    """×2 (``up``: zero insertion then the binomial filter = linear interpolation) or ×½ (filter then stride 2)
    of [n, C, h, w]; a fixed filter, no parameters."""

    def __init__(self, channels: int, *, up: bool) -> None:
        super().__init__()
        self.up, self.channels = up, channels
        self.register_buffer("kernel", _binomial_2d(channels, 4.0 if up else 1.0), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k = self.kernel.to(x.dtype)
        if self.up:
            return F.conv_transpose2d(
                x, k, stride=2, padding=1, output_padding=1, groups=self.channels
            )
        return F.conv2d(x, k, stride=2, padding=1, groups=self.channels)


def _stage(channels: int, blocks: int, **block_args) -> nn.Sequential:
    return nn.Sequential(*(ResidualBlock(channels, **block_args) for _ in range(blocks)))


def _transition(cin: int, cout: int, *, up: bool) -> nn.Sequential:
    """G: 1×1 width change then ×2; D: ×½ then 1×1 width change (the convolution runs at the lower resolution)."""
    change = [nn.Conv2d(cin, cout, 1, bias=False)] if cin != cout else []
    resample = Resample(cout if up else cin, up=up)
    return nn.Sequential(*change, resample) if up else nn.Sequential(resample, *change)


class _Plan:
    """Resolutions, widths and blocks per stage (lowest resolution first), checked."""

    def __init__(self, resolution: int, widths: Sequence[int], blocks: int | Sequence[int]) -> None:
        self.resolutions = stage_resolutions(resolution)
        stages = len(self.resolutions)
        self.widths = _per_stage(widths, stages, "widths")
        self.blocks = _per_stage(blocks, stages, "blocks")
        self.base, self.total_blocks = self.resolutions[0], sum(self.blocks)


class NFResNetGenerator(Generator):
    """z float32 [n, z_dim] → images float32 [n, channels, resolution, resolution], about [-1, 1] (unbounded)."""

    def __init__(
        self,
        *,
        z_dim: int,
        channels: int,
        resolution: int,
        widths: Sequence[int],
        blocks: int | Sequence[int] = 1,
        expansion: int = 2,
        group_size: int = 16,
        prior: str = "normal",
    ) -> None:
        super().__init__(
            z_dim=z_dim,
            out_shape=(channels, resolution, resolution),
            value_range="symmetric",
            prior=prior,
        )
        plan, args = (
            _Plan(resolution, widths, blocks),
            {"expansion": expansion, "group_size": group_size},
        )
        c0 = plan.widths[0]
        self.basis = nn.Parameter(torch.randn(c0, plan.base, plan.base))
        self.modulation = nn.Linear(z_dim, c0)
        layers = []
        for i, (width, n) in enumerate(zip(plan.widths, plan.blocks)):
            layers.append(_stage(width, n, total_blocks=plan.total_blocks, **args))
            if i + 1 < len(plan.widths):
                layers.append(_transition(width, plan.widths[i + 1], up=True))
        self.stages = nn.Sequential(*layers)
        self.to_image = nn.Conv2d(plan.widths[-1], channels, 1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.dim() != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"z has shape {tuple(z.shape)}; expected [n, {self.z_dim}]")
        h = self.basis.unsqueeze(0) * self.modulation(z)[:, :, None, None]
        return self.to_image(self.stages(h))


class NFResNetDiscriminator(Discriminator):
    """Images float32 [n, channels, resolution, resolution] → logits float32 [n]; ``features`` [n, C₀]."""

    def __init__(
        self,
        *,
        channels: int,
        resolution: int,
        widths: Sequence[int],
        blocks: int | Sequence[int] = 1,
        expansion: int = 2,
        group_size: int = 16,
    ) -> None:
        super().__init__(in_shape=(channels, resolution, resolution))
        plan, args = (
            _Plan(resolution, widths, blocks),
            {"expansion": expansion, "group_size": group_size},
        )
        widths = plan.widths[::-1]
        layers = [nn.Conv2d(channels, widths[0], 1), nn.LeakyReLU(SLOPE)]
        for i, (width, n) in enumerate(zip(widths, plan.blocks[::-1])):
            layers.append(_stage(width, n, total_blocks=plan.total_blocks, **args))
            if i + 1 < len(widths):
                layers.append(_transition(width, widths[i + 1], up=False))
        self.stages = nn.Sequential(*layers)
        c0 = widths[-1]
        self.basis = nn.Conv2d(c0, c0, plan.base, groups=c0, bias=False)
        self.linear = nn.Linear(c0, 1)

    def extract(self, x: torch.Tensor) -> torch.Tensor:
        return self.basis(self.stages(x)).flatten(1)

    def logit(self, h: torch.Tensor) -> torch.Tensor:
        return self.linear(h).reshape(h.shape[0])
