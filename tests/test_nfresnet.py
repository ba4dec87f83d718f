"""The normalisation-free residual G and D (model.arch nf-resnet): shapes, identity at init, parameter counts
against a formula, resampling, conditional variants."""

from __future__ import annotations

import pytest
import torch

from gankit.config import ModelConfig
from gankit.models.nfresnet import (
    NFResNetDiscriminator,
    NFResNetGenerator,
    Resample,
    ResidualBlock,
    default_widths,
    stage_resolutions,
)
from gankit.models.registry import build_models


def _pair(resolution: int, channels: int, **kw):
    shape = {
        "widths": default_widths(resolution, 8),
        "blocks": 2,
        "expansion": 2,
        "group_size": 4,
        **kw,
    }
    return (
        NFResNetGenerator(z_dim=16, channels=channels, resolution=resolution, **shape),
        NFResNetDiscriminator(channels=channels, resolution=resolution, **shape),
    )


@pytest.mark.parametrize(
    "resolution, stages",
    [
        (28, [7, 14, 28]),
        (32, [4, 8, 16, 32]),
        (64, [4, 8, 16, 32, 64]),
        (40, [5, 10, 20, 40]),
        (48, [6, 12, 24, 48]),
    ],
)
def test_stage_resolutions(resolution, stages):
    assert stage_resolutions(resolution) == stages


@pytest.mark.parametrize("resolution", [7, 30, 36, 100])
def test_unsupported_resolution_is_a_one_line_error(resolution):
    with pytest.raises(ValueError, match=f"resolution {resolution} is not b·2"):
        stage_resolutions(resolution)


def test_default_widths_double_per_halving_up_to_eight_times():
    assert default_widths(28, 32) == [128, 64, 32]
    assert default_widths(64, 16) == [128, 128, 64, 32, 16]


@pytest.mark.parametrize("resolution", [28, 32, 64])
@pytest.mark.parametrize("channels", [1, 3])
def test_shapes(resolution, channels):
    G, D = _pair(resolution, channels)
    x = G(torch.randn(3, 16))
    assert x.shape == (3, channels, resolution, resolution) and x.dtype == torch.float32
    assert D(x).shape == (3,) and D.features(x).shape == (3, default_widths(resolution, 8)[0])
    with pytest.raises(ValueError, match="expected"):
        D(torch.zeros(3, channels, resolution + 4, resolution + 4))


def test_every_block_is_the_identity_at_init():
    G, D = _pair(28, 1)
    blocks = [m for m in (*G.modules(), *D.modules()) if isinstance(m, ResidualBlock)]
    assert len(blocks) == 12  # 2 per stage, 3 stages, 2 players
    for block in blocks:
        x = torch.randn(2, block.expand.in_channels, 7, 7)
        assert torch.equal(block(x), x)
        # the branch is not dead: its inner layers are live and the zero-initialised projection gets a gradient
        block(x).sum().backward()
        assert block.project.weight.grad.abs().sum() > 0 and block.expand.weight.std() > 0


def test_inner_weights_are_scaled_for_the_number_of_blocks():
    """He-normal (gain for slope 0.2) × L^(-1/4): with 64 blocks the spread is a quarter (64^(-1/4) ≈ 0.354) of
    a single block's; measured on 65,536 weights, so the estimate is within 1 % of its expectation."""
    one = ResidualBlock(128, expansion=4, group_size=512, total_blocks=1).expand.weight.std().item()
    many = (
        ResidualBlock(128, expansion=4, group_size=512, total_blocks=64).expand.weight.std().item()
    )
    assert one == pytest.approx((2 / 1.04) ** 0.5 / 128**0.5, rel=0.02)
    assert many / one == pytest.approx(64**-0.25, rel=0.03)


def test_resampling_is_the_binomial_filter():
    ramp = torch.arange(4.0).view(1, 1, 1, 4).expand(1, 1, 4, 4)
    up = Resample(1, up=True)(ramp)
    assert up.shape == (1, 1, 8, 8)
    # linear interpolation
    assert torch.allclose(up[0, 0, 2, :7], torch.tensor([0, 0.5, 1, 1.5, 2, 2.5, 3]))
    down = Resample(1, up=False)(torch.arange(8.0).view(1, 1, 1, 8).expand(1, 1, 8, 8))
    assert down.shape == (1, 1, 4, 4)
    # (x[2i-1] + 2x[2i] + x[2i+1]) / 4
    assert torch.allclose(down[0, 0, 2, 1:], torch.tensor([2.0, 4.0, 6.0]))
    assert not list(Resample(3, up=True).parameters())


def _block_params(c: int, e: int, group_size: int) -> int:
    hidden = c * e
    groups = max(1, hidden // group_size)
    return c * hidden + hidden + 9 * hidden * hidden // groups + hidden + hidden * c


@pytest.mark.parametrize("resolution, channels", [(28, 1), (64, 3)])
def test_parameter_counts_follow_the_formula(resolution, channels):
    widths, z, blocks, e, gs = default_widths(resolution, 8), 16, 2, 2, 4
    base = stage_resolutions(resolution)[0]
    body = sum(blocks * _block_params(w, e, gs) for w in widths) + sum(
        a * b for a, b in zip(widths, widths[1:]) if a != b
    )
    g = (
        body
        + widths[0] * base * base
        + (z * widths[0] + widths[0])
        + (widths[-1] * channels + channels)
    )
    d = body + (channels * widths[-1] + widths[-1]) + widths[0] * base * base + (widths[0] + 1)
    G, D = _pair(resolution, channels)
    assert sum(p.numel() for p in G.parameters()) == g
    assert sum(p.numel() for p in D.parameters()) == d


def test_a_group_size_covering_every_channel_is_a_dense_convolution():
    assert ResidualBlock(8, expansion=2, group_size=16, total_blocks=1).conv.groups == 1
    assert ResidualBlock(8, expansion=2, group_size=4, total_blocks=1).conv.groups == 4


@pytest.mark.parametrize("mode", ["concat", "projection", "acgan"])
def test_conditional_variants(mode):
    cfg = ModelConfig(arch="nf-resnet", z_dim=16, width=8, group_size=4, conditional=mode)
    G, D = build_models(cfg, sample_shape=(1, 28, 28), kind="image", num_classes=10)
    z, y = torch.randn(4, 16), torch.tensor([0, 1, 2, 3])
    x = G(z, y)
    assert x.shape == (4, 1, 28, 28)
    assert not torch.allclose(x, G(z, torch.tensor([9, 9, 9, 9])))  # G reads the labels
    assert D(x, y).shape == (4,)
    if mode == "acgan":
        assert D.forward_with_classes(x)[1].shape == (4, 10)


def test_registered_with_its_config_keys():
    cfg = ModelConfig(arch="nf-resnet", z_dim=16, width=8, blocks=3, expansion=4, group_size=8)
    G, D = build_models(cfg, sample_shape=(3, 32, 32), kind="image")
    assert sum(isinstance(m, ResidualBlock) for m in D.modules()) == 3 * 4
    assert (
        next(m for m in G.modules() if isinstance(m, ResidualBlock)).conv.in_channels == 8 * 8 * 4
    )
    with pytest.raises(ValueError, match="square images"):
        build_models(cfg, sample_shape=(2,), kind="points")
