"""A projected discriminator (Sauer et al. 2021, "Projected GANs Converge Faster", NeurIPS): D judges images through
the features of a frozen pretrained network, EfficientNet-Lite0 (gankit.models.efficientnet_lite), mixed by fixed
random projections, with one small trained discriminator per feature level.

    images [n, 3, R, R] in [-1, 1] ─ ImageNet normalisation ─ EfficientNet-Lite0, levels 1..L (frozen)
      → cross-channel mixing: a random 1×1 convolution per level, to 64·2^(l-1) channels (frozen)
      → cross-scale mixing: from the deepest level up, each level plus the next one's map upsampled ×2, through a
        random 3×3 convolution (frozen)
      → per level a trained discriminator: stride-2 4×4 convolutions with LeakyReLU(0.2) down to 4×4 (or the
        map's side when smaller), then one linear logit of that map (a 4×4 convolution of a 4×4 map)
      → D(x) = the mean of the levels' logits  [n]

The feature network and the projections never train (``requires_grad=False``): no optimiser gets them and
checkpoints record them by SHA-256 instead of storing them (gankit.train.frozen). The projections are drawn from the
run's initialisation stream, so a rebuilt D has the same ones. Grey images are repeated to three channels.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .base import Discriminator
from .efficientnet_lite import LEVEL_CHANNELS, LiteFeatures, load_pretrained

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _frozen(module: nn.Module) -> nn.Module:
    return module.requires_grad_(False)


def _down(channels: int, side: int, width: int) -> tuple[nn.Sequential, int]:
    """A level's trained convolutions, [n, channels, side, side] → [n, c, s, s] with s = min(side, 4): stride-2
    4×4 convolutions with LeakyReLU(0.2) while the side is above 4; and the output's size c·s·s."""
    layers: list[nn.Module] = []
    c = channels
    while side > 4:
        layers += [nn.Conv2d(c, width, 4, 2, 1), nn.LeakyReLU(0.2)]
        c, side = width, side // 2
    return nn.Sequential(*layers), c * side * side


class ProjectedDiscriminator(Discriminator):
    """images [n, C, R, R] (C = 1 or 3, R a power of two) in [-1, 1] → logits [n]; ``levels`` (1–4) feature levels
    of EfficientNet-Lite0 (level l at side R / 2^(l+1)); ``width``: channels of the trained convolutions;
    ``pretrained``: load the ImageNet weights (False: random ones, for shapes only). Its features [n, F] are every
    level's trained map, flattened and concatenated; its logit the mean of one linear logit per level (the 4×4
    convolution of a 4×4 map), which is how the conditional wrappers read it."""

    def __init__(
        self,
        *,
        channels: int,
        resolution: int,
        levels: int = 2,
        width: int = 64,
        pretrained: bool = True,
    ) -> None:
        super().__init__(in_shape=(channels, resolution, resolution))
        sides = [resolution // 2 ** (level + 2) for level in range(levels)]
        if channels not in (1, 3) or min(sides) < 1 or resolution & (resolution - 1):
            raise ValueError(
                f"model.arch projected needs grey or RGB square images of a power-of-two side of at "
                f"least {2 ** (levels + 1)} px for {levels} feature levels; got {channels}×{resolution}²"
            )
        backbone = LiteFeatures(levels)
        self.backbone = _frozen(load_pretrained(backbone) if pretrained else backbone)
        mixed = [64 * 2**i for i in range(levels)]
        self.cross_channel = _frozen(
            nn.ModuleList(nn.Conv2d(c, m, 1, bias=False) for c, m in zip(LEVEL_CHANNELS, mixed))
        )
        self.cross_scale = _frozen(
            nn.ModuleList(nn.Conv2d(m, m, 3, padding=1, bias=False) for m in mixed)
        )
        self.upsize = _frozen(  # a deeper level's map to the width of the level above it
            nn.ModuleList(
                nn.Conv2d(mixed[i + 1], m, 1, bias=False) for i, m in enumerate(mixed[:-1])
            )
        )
        downs = [_down(m, side, width) for m, side in zip(mixed, sides)]
        self.downs = nn.ModuleList(d for d, _ in downs)
        self.sizes = [size for _, size in downs]
        self.heads = nn.ModuleList(nn.Linear(size, 1) for size in self.sizes)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def project(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The mixed feature maps of images x [n, C, R, R], level 1 first."""
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        x = ((x + 1) / 2 - self.mean) / self.std
        mixed = [ccm(f) for ccm, f in zip(self.cross_channel, self.backbone(x))]
        out = [self.cross_scale[-1](mixed[-1])]
        for i in range(len(mixed) - 2, -1, -1):
            up = F.interpolate(self.upsize[i](out[0]), scale_factor=2.0, mode="bilinear")
            out.insert(0, self.cross_scale[i](mixed[i] + up))
        return out

    def extract(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([d(m).flatten(1) for d, m in zip(self.downs, self.project(x))], dim=1)

    def logit(self, h: torch.Tensor) -> torch.Tensor:
        parts = torch.split(h, self.sizes, dim=1)
        return torch.cat([head(p) for head, p in zip(self.heads, parts)], dim=1).mean(dim=1)
