"""Model registry: ``model.arch`` → a (generator, discriminator) pair for a dataset's sample shape.

A user's own modules skip the registry: pass them to :class:`gankit.train.Trainer` directly.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from ..config import ModelConfig
from .base import Generator
from .mlp import MLPDiscriminator, MLPGenerator, PaperDiscriminator, PaperGenerator

Builder = Callable[..., tuple[Generator, nn.Module]]
_ARCHS: dict[str, Builder] = {}


def register(name: str):
    """Decorator: ``builder(cfg, *, sample_shape, kind, pixel_mean) -> (G, D)`` under ``name``."""

    def wrap(builder: Builder) -> Builder:
        _ARCHS[name] = builder
        return builder

    return wrap


def architectures() -> list[str]:
    return list(_ARCHS)


def build_models(cfg: ModelConfig, *, sample_shape: tuple[int, ...], kind: str,
                 pixel_mean: torch.Tensor | None = None) -> tuple[Generator, nn.Module]:
    """Build G and D for samples of ``sample_shape`` ((C, H, W) images or (d,) points).

    ``pixel_mean``: the training data's mean in [0, 1], shape ``sample_shape`` (paper G's output bias).
    """
    if cfg.arch not in _ARCHS:
        raise ValueError(f"model.arch {cfg.arch!r} is not one of {', '.join(_ARCHS)}")
    return _ARCHS[cfg.arch](cfg, sample_shape=tuple(sample_shape), kind=kind, pixel_mean=pixel_mean)


@register("paper-mlp")
def _paper(cfg: ModelConfig, *, sample_shape, kind, pixel_mean):
    if kind != "image":
        raise ValueError("model.arch paper-mlp is for images (its G ends in a sigmoid); use model.arch=mlp for points")
    g = PaperGenerator(out_shape=sample_shape, z_dim=cfg.z_dim, pixel_mean=pixel_mean, prior=cfg.prior)
    return g, PaperDiscriminator(in_shape=sample_shape, dropout=cfg.dropout)


@register("mlp")
def _mlp(cfg: ModelConfig, *, sample_shape, kind, pixel_mean):
    value_range = "none" if kind == "points" else "symmetric"
    g = MLPGenerator(out_shape=sample_shape, z_dim=cfg.z_dim, hidden=cfg.hidden, layers=cfg.layers,
                     value_range=value_range, prior=cfg.prior)
    return g, MLPDiscriminator(in_shape=sample_shape, hidden=cfg.hidden, layers=cfg.layers)


def _square_image(arch: str, sample_shape: tuple[int, ...], kind: str) -> tuple[int, int]:
    """(channels, resolution) of square images, or a one-line error naming the architecture."""
    if kind != "image" or len(sample_shape) != 3 or sample_shape[1] != sample_shape[2]:
        raise ValueError(f"model.arch {arch} needs square images, got samples of shape {sample_shape}")
    return sample_shape[0], sample_shape[1]


@register("dcgan")
def _dcgan(cfg: ModelConfig, *, sample_shape, kind, pixel_mean):
    from .dcgan import DCGANDiscriminator, DCGANGenerator

    c, r = _square_image("dcgan", sample_shape, kind)
    g = DCGANGenerator(z_dim=cfg.z_dim, channels=c, resolution=r, width=cfg.width, prior=cfg.prior)
    return g, DCGANDiscriminator(channels=c, resolution=r, width=cfg.width, norm=cfg.d_norm)


@register("resnet")
def _resnet(cfg: ModelConfig, *, sample_shape, kind, pixel_mean):
    from .resnet import ResNetDiscriminator, ResNetGenerator

    c, r = _square_image("resnet", sample_shape, kind)
    g = ResNetGenerator(z_dim=cfg.z_dim, channels=c, resolution=r, width=cfg.width, prior=cfg.prior)
    return g, ResNetDiscriminator(channels=c, resolution=r, width=cfg.width)
