"""Class-conditional models: labels y int64 [n] in [0, C) enter G and D.

Generator (all modes): G(z, y) = G₀([z, onehot(y)]), an unconditional generator built for z_dim + C inputs
(Mirza & Osindero 2014). Discriminator, by ``mode``:

- ``concat`` (Mirza & Osindero 2014, "Conditional Generative Adversarial Nets"): D(x, y) = D₀([x, onehot(y)]), the
  one-hot appended to the flattened input of MLPs, or as C constant channels of images for convolutional D.
- ``projection`` (Miyato & Koyama 2018, "cGANs with Projection Discriminator"): D(x, y) = ψ(φ(x)) + ⟨e_y, φ(x)⟩,
  φ = D₀'s features, ψ = its last linear layer, e_y a learned class embedding.
- ``acgan`` (Odena, Olah & Shlens 2017, "Conditional Image Synthesis with Auxiliary Classifier GANs"): D(x) does not
  see y; a second linear head on φ(x) gives class logits [n, C], trained with cross-entropy on real and generated
  samples (``forward_with_classes``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .base import Generator

MODES = ("concat", "projection", "acgan")


def check_labels(y: torch.Tensor | None, n: int, num_classes: int) -> torch.Tensor:
    """``y`` as given, after checking it is int64 [n] (a one-line error otherwise); range is checked by one_hot."""
    if y is None:
        raise ValueError(
            f"this model is class-conditional ({num_classes} classes): pass labels y int64 [n]"
        )
    if y.dtype != torch.int64 or y.shape != (n,):
        raise ValueError(f"labels must be int64 [{n}], got {y.dtype} {list(y.shape)}")
    return y


def one_hot(y: torch.Tensor, num_classes: int) -> torch.Tensor:
    """int64 [n] in [0, C) → float32 [n, C]."""
    return F.one_hot(y, num_classes).float()


class ConditionalGenerator(Generator):
    """G(z, y): z float32 [n, z_dim], y int64 [n] → samples of ``base`` (built for z_dim + num_classes inputs)."""

    def __init__(self, base: Generator, num_classes: int) -> None:
        if base.z_dim <= num_classes:
            raise ValueError(
                f"base generator must take z_dim + {num_classes} inputs, it takes {base.z_dim}"
            )
        super().__init__(
            z_dim=base.z_dim - num_classes,
            out_shape=base.out_shape,
            value_range=base.value_range,
            prior=base.prior,
        )
        self.base, self.num_classes = base, num_classes

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        y = check_labels(y, z.shape[0], self.num_classes)
        return self.base(torch.cat([z, one_hot(y, self.num_classes).to(z.dtype)], dim=1))


class ConcatDiscriminator(nn.Module):
    """D(x, y) = base([x, onehot(y)]). ``channels=True``: one-hot as constant image channels (base built with C more
    channels); else appended to the flattened x (base built for prod(in_shape) + C inputs)."""

    def __init__(self, base: nn.Module, num_classes: int, *, channels: bool) -> None:
        super().__init__()
        self.base, self.num_classes, self.channels = base, num_classes, channels

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        code = one_hot(check_labels(y, x.shape[0], self.num_classes), self.num_classes).to(x.dtype)
        if self.channels:
            maps = code[:, :, None, None].expand(-1, -1, *x.shape[2:])
            return self.base(torch.cat([x, maps], dim=1))
        return self.base(torch.cat([x.reshape(x.shape[0], -1), code], dim=1))


class ProjectionDiscriminator(nn.Module):
    """D(x, y) = base.logit(φ) + ⟨embed(y), φ⟩ with φ = base.features(x) [n, F]; ``feature_dim`` = F."""

    def __init__(self, base: nn.Module, num_classes: int, feature_dim: int) -> None:
        super().__init__()
        self.base, self.num_classes = base, num_classes
        self.embed = nn.Embedding(num_classes, feature_dim)
        nn.init.xavier_uniform_(self.embed.weight)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        y = check_labels(y, x.shape[0], self.num_classes)
        h = self.base.features(x)
        return self.base.logit(h) + (self.embed(y) * h).sum(dim=1)


class ACGANDiscriminator(nn.Module):
    """Unconditional real/fake logits plus an auxiliary classifier: ``forward_with_classes(x)`` → (logits [n],
    class logits [n, C]). ``forward(x, y)`` ignores y (the adversarial head does not see labels)."""

    def __init__(self, base: nn.Module, num_classes: int, feature_dim: int) -> None:
        super().__init__()
        self.base, self.num_classes = base, num_classes
        self.classifier = nn.Linear(feature_dim, num_classes)

    def forward_with_classes(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.base.features(x)
        return self.base.logit(h), self.classifier(h)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.base.logit(self.base.features(x))


def feature_dim(D: nn.Module, in_shape: tuple[int, ...]) -> int:
    """Width F of ``D.features`` for inputs of ``in_shape`` (one dry forward pass in eval mode)."""
    was_training = D.training
    D.eval()
    try:
        with torch.no_grad():
            return D.features(torch.zeros(2, *in_shape)).shape[1]
    finally:
        D.train(was_training)
