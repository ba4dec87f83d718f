"""DCGAN generator/discriminator: shapes, ranges, init statistics, errors, gradients, parameter counts."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from gankit.models.base import Generator
from gankit.models.dcgan import DCGANDiscriminator, DCGANGenerator, dcgan_init_

CASES = [(r, c) for r in (28, 32, 64) for c in (1, 3)]


def n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


@pytest.mark.parametrize("resolution,channels", CASES)
def test_generator_shape_and_range(resolution: int, channels: int) -> None:
    torch.manual_seed(0)
    g = DCGANGenerator(z_dim=16, channels=channels, resolution=resolution, width=8)
    assert isinstance(g, Generator)
    assert g.out_shape == (channels, resolution, resolution) and g.value_range == "symmetric"
    x = g(g.sample_z(5))
    assert x.shape == (5, channels, resolution, resolution) and x.dtype == torch.float32
    assert x.abs().max() <= 1.0 and x.std() > 0  # tanh range, not a constant image
    big = g(100.0 * g.sample_z(3))  # saturating inputs still stay in [-1, 1]
    assert big.min() >= -1.0 and big.max() <= 1.0


@pytest.mark.parametrize("resolution,channels", CASES)
def test_discriminator_returns_logits(resolution: int, channels: int) -> None:
    torch.manual_seed(0)
    d = DCGANDiscriminator(channels=channels, resolution=resolution, width=8)
    out = d(torch.rand(6, channels, resolution, resolution) * 2 - 1)
    assert out.shape == (6,) and out.dtype == torch.float32
    assert torch.isfinite(out).all()
    # logits, not probabilities: scaling the final conv pushes them outside [0, 1]
    with torch.no_grad():
        d.net[-1].weight.mul_(1e3)
    out = d(torch.rand(6, channels, resolution, resolution) * 2 - 1)
    assert (out < 0).any() or (out > 1).any()


def test_discriminator_rejects_wrong_input_shape() -> None:
    d = DCGANDiscriminator(channels=1, resolution=28, width=8)
    with pytest.raises(ValueError, match=r"\[n, 1, 28, 28\]"):
        d(torch.zeros(2, 3, 28, 28))


def test_generator_rejects_wrong_z_shape() -> None:
    g = DCGANGenerator(z_dim=16, resolution=28, width=8)
    with pytest.raises(ValueError, match=r"\[n, 16\]"):
        g(torch.zeros(2, 10))


@pytest.mark.parametrize("resolution", [16, 63, 128])
def test_bad_resolution(resolution: int) -> None:
    for make in (
        lambda: DCGANGenerator(resolution=resolution),
        lambda: DCGANDiscriminator(resolution=resolution),
    ):
        with pytest.raises(ValueError, match=r"28, 32, 64") as err:
            make()
        assert "\n" not in str(err.value) and str(resolution) in str(err.value)


def _check_init(module: nn.Module) -> None:
    convs = [m for m in module.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    bns = [m for m in module.modules() if isinstance(m, nn.BatchNorm2d)]
    assert convs and bns
    for m in convs:
        w = m.weight.detach()
        assert w.numel() >= 1000
        assert abs(w.std().item() - 0.02) < 0.002, m
        assert abs(w.mean().item()) < 0.002, m
        if m.bias is not None:
            assert torch.count_nonzero(m.bias) == 0
    for m in bns:
        assert abs(m.weight.mean().item() - 1.0) < 0.01 and 0.01 < m.weight.std().item() < 0.03
        assert torch.count_nonzero(m.bias) == 0


def test_init_statistics() -> None:
    torch.manual_seed(0)
    _check_init(DCGANGenerator(channels=1, resolution=64, width=64))
    _check_init(DCGANDiscriminator(channels=3, resolution=64, width=64))


def test_dcgan_init_overwrites_other_weights() -> None:
    torch.manual_seed(0)
    m = nn.Sequential(nn.Conv2d(8, 64, 4), nn.BatchNorm2d(64), nn.ConvTranspose2d(64, 32, 4))
    for p in m.parameters():
        nn.init.constant_(p, 0.5)
    with pytest.raises(AssertionError):  # the check is able to fail
        _check_init(m)
    assert dcgan_init_(m) is m
    _check_init(m)


@pytest.mark.parametrize("resolution,channels", [(28, 1), (32, 3), (64, 1)])
def test_backward_gives_finite_gradients(resolution: int, channels: int) -> None:
    torch.manual_seed(0)
    g = DCGANGenerator(z_dim=8, channels=channels, resolution=resolution, width=4)
    d = DCGANDiscriminator(channels=channels, resolution=resolution, width=4)
    loss = nn.functional.softplus(-d(g(g.sample_z(4)))).mean()
    loss.backward()
    for name, p in [*g.named_parameters(), *d.named_parameters()]:
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


def test_sample_z_shape_prior_and_device() -> None:
    g = DCGANGenerator(z_dim=12, resolution=32, width=4)
    assert g.prior == "normal"
    z = g.sample_z(7, generator=torch.Generator().manual_seed(1))
    assert z.shape == (7, 12) and z.dtype == torch.float32 and z.device.type == "cpu"
    assert torch.equal(z, g.sample_z(7, generator=torch.Generator().manual_seed(1)))
    assert g.sample_z(3, device="meta").device.type == "meta"  # explicit device is honoured
    assert g.to("meta").sample_z(2).device.type == "meta"  # default: the module's device
    u = DCGANGenerator(z_dim=12, resolution=32, width=4, prior="uniform").sample_z(1000)
    assert u.abs().max() <= 3**0.5 + 1e-6
    with pytest.raises(ValueError, match="uniform, normal"):
        DCGANGenerator(prior="cauchy")


def test_parameter_counts_by_hand() -> None:
    # 28 px, 1 channel, width 8, z_dim 100:
    # G: ConvT(100→16, k7, no bias) 100·16·49 = 78400; BN(16) 32; ConvT(16→8, k4, no bias) 16·8·16 = 2048;
    #    BN(8) 16; ConvT(8→1, k4) 8·1·16 + 1 = 129                                  → 80625
    # D: Conv(1→8, k4) 1·8·16 + 8 = 136; Conv(8→16, k4, no bias) 2048; BN(16) 32; Conv(16→1, k7) 16·49 + 1 = 785 → 3001
    g = DCGANGenerator(z_dim=100, channels=1, resolution=28, width=8)
    d = DCGANDiscriminator(channels=1, resolution=28, width=8)
    assert g.net[0].weight.shape == (100, 16, 7, 7) and g.net[0].bias is None
    assert n_params(g.net[0]) == 100 * 16 * 7 * 7
    assert n_params(g) == 78400 + 32 + 2048 + 16 + 129
    assert d.net[-1].weight.shape == (1, 16, 7, 7) and n_params(d.net[-1]) == 16 * 49 + 1
    assert n_params(d) == 136 + 2048 + 32 + 785
    # 64 px, 3 channels, width 64 (the paper's LSUN net): 3,576,704 weights in G plus 3 output biases;
    # D: 2,765,568 weights plus 64 + 1 biases of the two layers without BatchNorm.
    g64 = DCGANGenerator(z_dim=100, channels=3, resolution=64, width=64)
    d64 = DCGANDiscriminator(channels=3, resolution=64, width=64)
    conv_g = 100 * 512 * 16 + 512 * 256 * 16 + 256 * 128 * 16 + 128 * 64 * 16 + 64 * 3 * 16
    assert n_params(g64) == conv_g + 2 * (512 + 256 + 128 + 64) + 3 == 3_576_707
    conv_d = 3 * 64 * 16 + 64 * 128 * 16 + 128 * 256 * 16 + 256 * 512 * 16 + 512 * 16
    assert n_params(d64) == conv_d + 2 * (128 + 256 + 512) + 64 + 1 == 2_765_633


@pytest.mark.parametrize("norm", ["batch", "layer", "none"])
def test_discriminator_norm_options(norm):
    D = DCGANDiscriminator(channels=1, resolution=28, width=8, norm=norm)
    kinds = {type(m) for m in D.modules()}
    assert (torch.nn.BatchNorm2d in kinds) == (norm == "batch")
    assert (torch.nn.GroupNorm in kinds) == (norm == "layer")
    # per-sample norms: a sample's logit does not depend on the rest of the batch, even in train mode
    x = torch.randn(4, 1, 28, 28)
    if norm != "batch":
        assert torch.allclose(D(x)[:1], D(x[:1]), atol=1e-5)
    with pytest.raises(ValueError, match="norm 'group' is not one of batch, layer, none"):
        DCGANDiscriminator(norm="group")
