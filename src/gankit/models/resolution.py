"""Networks that work below the pictures' resolution (``model.inner_resolution``): G draws at the inner resolution
and its output is enlarged to the data's with bilinear interpolation; D averages its input down to the inner
resolution (non-overlapping s×s means, s = outer / inner) before its own layers. Both stay what gankit's models
are (a :class:`Generator`, a D of logits), so sampling, evaluation and checkpoints see pictures at the data's size.

A 32-px pair costs about a quarter of a 64-px pair per step; its 64-px pictures are as sharp as a 32-px picture
enlarged. (Nearest-neighbour enlargement would be exact for D, but its blocks read far from real pictures: 2,000 real
emoji at 32 px enlarged to 64 score FID 114.56 nearest vs 33.55 bilinear against the 3,926 at 64.)
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .base import Generator


class Upsampled(Generator):
    """``inner`` G (samples [n, C, r, r]) whose output is enlarged to [n, C, R, R] (bilinear, ``R`` = resolution)."""

    def __init__(self, inner: Generator, resolution: int) -> None:
        channels = inner.out_shape[0]
        super().__init__(
            z_dim=inner.z_dim,
            out_shape=(channels, resolution, resolution),
            value_range=inner.value_range,
            prior=inner.prior,
        )
        self.inner, self.num_classes = inner, inner.num_classes

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        x = self.inner(z) if y is None else self.inner(z, y)
        return F.interpolate(x, size=self.out_shape[1:], mode="bilinear", align_corners=False)


class Downsampled(nn.Module):
    """``inner`` D (inputs [n, C, r, r]) fed s×s means of its input [n, C, s·r, s·r] → logits [n]; labels y int64
    [n] (positional or ``y=``) go on to a conditional ``inner``. An AC-GAN ``inner``'s ``forward_with_classes`` is
    offered the same way (absent otherwise, as training tells AC-GAN Ds by it)."""

    def __init__(self, inner: nn.Module, factor: int) -> None:
        super().__init__()
        self.inner, self.factor = inner, factor

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        x = F.avg_pool2d(x, self.factor)
        return self.inner(x) if y is None else self.inner(x, y)

    @property
    def forward_with_classes(self) -> Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
        """x [n, C, s·r, s·r] → (logits [n], class logits [n, K]) of an AC-GAN ``inner``; AttributeError otherwise."""
        classes = self.inner.forward_with_classes
        return lambda x: classes(F.avg_pool2d(x, self.factor))


def inner_shape(sample_shape: tuple[int, ...], inner: int) -> tuple[int, ...]:
    """(C, inner, inner) for square images (C, R, R) that ``inner`` divides with R / inner a power of two; else a
    one-line ValueError."""
    if len(sample_shape) != 3 or sample_shape[1] != sample_shape[2]:
        raise ValueError(
            f"model.inner_resolution needs square images, got samples of shape {sample_shape}"
        )
    outer = sample_shape[1]
    factor = outer // inner
    if inner > outer or outer % inner or factor & (factor - 1):
        raise ValueError(
            f"model.inner_resolution {inner} must be the data's resolution {outer} divided by a power "
            f"of two"
        )
    return (sample_shape[0], inner, inner)
