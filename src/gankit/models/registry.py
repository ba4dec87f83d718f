"""Model registry: ``model.arch`` → a (generator, discriminator) pair for a dataset's sample shape.

``model.arch`` is a registered name (gankit's: see :func:`architectures`) or ``MODULE:NAME``: the module is imported,
which runs its :func:`register` calls, and ``NAME`` is a name it registered or a builder function in it. So a run of
an architecture of one's own trains from a YAML file and ``gankit sample``/``eval`` rebuild it in a fresh process.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable, NamedTuple

import torch
from torch import nn

from ..config import ModelConfig
from ..errors import ConfigError
from ..registry import Registry
from .base import Generator
from .conditional import (
    ACGANDiscriminator,
    ConcatDiscriminator,
    ConditionalGenerator,
    ProjectionDiscriminator,
    feature_dim,
)
from .dcgan import DCGANDiscriminator, DCGANGenerator
from .mlp import MLPDiscriminator, MLPGenerator, PaperDiscriminator, PaperGenerator
from .nfresnet import NFResNetDiscriminator, NFResNetGenerator, default_widths
from .projected import ProjectedDiscriminator
from .resnet import ResNetDiscriminator, ResNetGenerator
from .resolution import Downsampled, Upsampled, inner_shape

Builder = Callable[..., tuple[Generator, nn.Module]]
ARCHITECTURES: Registry[Builder] = Registry(
    "model.arch", ConfigError, "an architecture", is_entry=callable
)
# D flattens its input: a concat-conditional D gets the one-hot appended to it
_FLAT_INPUT: set[str] = set()


def register(name: str, *, flat_input: bool = False):
    """Decorator: ``builder(cfg, *, sample_shape, kind, pixel_mean) -> (G, D)`` under ``name`` (gankit.registry's
    rules). ``flat_input``: D flattens each sample (an MLP), so a concat-conditional D takes the one-hot beside the
    flat sample instead of as extra image channels."""

    def wrap(builder: Builder) -> Builder:
        ARCHITECTURES.register(name, builder)
        if flat_input:
            _FLAT_INPUT.add(name)
        return builder

    return wrap


def architectures() -> list[str]:
    """The registered names, gankit's first."""
    return ARCHITECTURES.names()


def resolve(arch: str) -> Builder:
    """The builder ``arch`` names (see the module docstring); a one-line ConfigError listing the choices otherwise."""
    return ARCHITECTURES.resolve(arch)


def build_models(
    cfg: ModelConfig,
    *,
    sample_shape: tuple[int, ...],
    kind: str,
    pixel_mean: torch.Tensor | None = None,
    num_classes: int = 0,
) -> tuple[Generator, nn.Module]:
    """Build G and D for samples of ``sample_shape`` ((C, H, W) images or (d,) points).

    ``pixel_mean``: the training data's mean in [0, 1], shape ``sample_shape`` (paper G's output bias).
    ``num_classes``: the labels' class count, needed when ``cfg.conditional`` is not "none" (see conditional.py).
    """
    build, sample_shape = resolve(cfg.arch), tuple(sample_shape)
    if cfg.inner_resolution and cfg.inner_resolution != sample_shape[-1]:
        return _at_inner_resolution(cfg, sample_shape, kind, pixel_mean, num_classes)
    if cfg.conditional == "none":
        return build(cfg, sample_shape=sample_shape, kind=kind, pixel_mean=pixel_mean)
    return _conditional(cfg, build, sample_shape, kind, pixel_mean, num_classes)


def _at_inner_resolution(
    cfg: ModelConfig,
    sample_shape: tuple[int, ...],
    kind: str,
    pixel_mean: torch.Tensor | None,
    num_classes: int,
) -> tuple[Generator, nn.Module]:
    """G and D built for ``model.inner_resolution`` and wrapped to the data's (gankit.models.resolution)."""
    if kind != "image":
        raise ValueError("model.inner_resolution is for images")
    shape = inner_shape(sample_shape, cfg.inner_resolution)
    if pixel_mean is not None:
        pixel_mean = nn.functional.adaptive_avg_pool2d(pixel_mean, shape[1:])
    G, D = build_models(
        dataclasses.replace(cfg, inner_resolution=None),
        sample_shape=shape,
        kind=kind,
        pixel_mean=pixel_mean,
        num_classes=num_classes,
    )
    return Upsampled(G, sample_shape[-1]), Downsampled(D, sample_shape[-1] // shape[-1])


class ParameterCounts(NamedTuple):
    """G's and D's trainable parameters (``g``, ``d``) and frozen ones (``requires_grad=False`` as built)."""

    g: int
    d: int
    g_frozen: int = 0
    d_frozen: int = 0


def parameter_counts(
    cfg: ModelConfig, *, sample_shape: tuple[int, ...], kind: str, num_classes: int = 0
) -> ParameterCounts | None:
    """The parameter counts of the pair :func:`build_models` builds, found on the meta device: nothing is allocated,
    however large. None when the builder cannot run on the meta device (the real build then reports any error)."""
    # a user module is imported outside the meta device: tensors it makes at import stay real
    resolve(cfg.arch)
    try:
        with torch.device("meta"):
            G, D = build_models(cfg, sample_shape=sample_shape, kind=kind, num_classes=num_classes)
    except Exception:  # noqa: BLE001 -- a builder that needs real values; the real build says what is wrong
        return None
    counts = [
        sum(p.numel() for p in m.parameters() if p.requires_grad == trains)
        for trains in (True, False)
        for m in (G, D)
    ]
    return ParameterCounts(*counts)


def _conditional(
    cfg: ModelConfig,
    build: Builder,
    sample_shape: tuple[int, ...],
    kind: str,
    pixel_mean: torch.Tensor | None,
    num_classes: int,
) -> tuple[Generator, nn.Module]:
    if num_classes < 2:
        raise ValueError(
            f"model.conditional={cfg.conditional} needs a dataset with class labels (2 or more classes)"
        )
    G0, D0 = build(
        dataclasses.replace(cfg, z_dim=cfg.z_dim + num_classes),
        sample_shape=sample_shape,
        kind=kind,
        pixel_mean=pixel_mean,
    )
    G = ConditionalGenerator(G0, num_classes)
    if cfg.conditional == "concat":
        flat = cfg.arch in _FLAT_INPUT
        d_shape = (
            (math.prod(sample_shape) + num_classes,)
            if flat
            else (sample_shape[0] + num_classes, *sample_shape[1:])
        )
        _, D0 = build(cfg, sample_shape=d_shape, kind=kind, pixel_mean=None)
        return G, ConcatDiscriminator(D0, num_classes, channels=not flat)
    width = feature_dim(D0, sample_shape)
    if cfg.conditional == "projection":
        return G, ProjectionDiscriminator(D0, num_classes, width)
    return G, ACGANDiscriminator(D0, num_classes, width)


@register("paper-mlp", flat_input=True)
def _paper(cfg: ModelConfig, *, sample_shape, kind, pixel_mean):
    if kind != "image":
        raise ValueError(
            "model.arch paper-mlp is for images (its G ends in a sigmoid); use model.arch=mlp for points"
        )
    g = PaperGenerator(
        out_shape=sample_shape, z_dim=cfg.z_dim, pixel_mean=pixel_mean, prior=cfg.prior
    )
    return g, PaperDiscriminator(in_shape=sample_shape, dropout=cfg.dropout)


@register("mlp", flat_input=True)
def _mlp(cfg: ModelConfig, *, sample_shape, kind, pixel_mean):
    value_range = "none" if kind == "points" else "symmetric"
    g = MLPGenerator(
        out_shape=sample_shape,
        z_dim=cfg.z_dim,
        hidden=cfg.hidden,
        layers=cfg.layers,
        value_range=value_range,
        prior=cfg.prior,
    )
    return g, MLPDiscriminator(in_shape=sample_shape, hidden=cfg.hidden, layers=cfg.layers)


def _square_image(arch: str, sample_shape: tuple[int, ...], kind: str) -> tuple[int, int]:
    """(channels, resolution) of square images, or a one-line error naming the architecture."""
    if kind != "image" or len(sample_shape) != 3 or sample_shape[1] != sample_shape[2]:
        raise ValueError(
            f"model.arch {arch} needs square images, got samples of shape {sample_shape}"
        )
    return sample_shape[0], sample_shape[1]


@register("dcgan")
def _dcgan(cfg: ModelConfig, *, sample_shape, kind, pixel_mean):
    c, r = _square_image("dcgan", sample_shape, kind)
    g = DCGANGenerator(z_dim=cfg.z_dim, channels=c, resolution=r, width=cfg.width, prior=cfg.prior)
    return g, DCGANDiscriminator(channels=c, resolution=r, width=cfg.width, norm=cfg.d_norm)


@register("resnet")
def _resnet(cfg: ModelConfig, *, sample_shape, kind, pixel_mean):
    c, r = _square_image("resnet", sample_shape, kind)
    g = ResNetGenerator(z_dim=cfg.z_dim, channels=c, resolution=r, width=cfg.width, prior=cfg.prior)
    return g, ResNetDiscriminator(channels=c, resolution=r, width=cfg.width)


@register("nf-resnet")
def _nf_resnet(cfg: ModelConfig, *, sample_shape, kind, pixel_mean):
    c, r = _square_image("nf-resnet", sample_shape, kind)
    shape = {
        "widths": default_widths(r, cfg.width),
        "blocks": cfg.blocks,
        "expansion": cfg.expansion,
        "group_size": cfg.group_size,
    }
    g = NFResNetGenerator(z_dim=cfg.z_dim, channels=c, resolution=r, prior=cfg.prior, **shape)
    return g, NFResNetDiscriminator(channels=c, resolution=r, **shape)


@register("projected")
def _projected(cfg: ModelConfig, *, sample_shape, kind, pixel_mean):
    """DCGAN's G and a projected D (gankit.models.projected) on EfficientNet-Lite0's first
    ``model.projected_levels`` feature levels; the pretrained weights are not read on the meta device."""
    c, r = _square_image("projected", sample_shape, kind)
    g = DCGANGenerator(z_dim=cfg.z_dim, channels=c, resolution=r, width=cfg.width, prior=cfg.prior)
    on_meta = torch.empty(0).device.type == "meta"
    d = ProjectedDiscriminator(
        channels=c,
        resolution=r,
        levels=cfg.projected_levels,
        width=2 * cfg.width,
        pretrained=not on_meta,
    )
    return g, d
