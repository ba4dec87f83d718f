"""SNGAN ResNet generator/discriminator: shapes, ranges, parameter counts by hand, errors, gradients, registry,
training."""

from __future__ import annotations

import math

import pytest
import torch
from gankit_testkit import quick_config
from torch import nn

from gankit.config import ModelConfig
from gankit.data import Dataset, Split
from gankit.models import Generator, build_models
from gankit.models.resnet import DownBlock, ResNetDiscriminator, ResNetGenerator, UpBlock
from gankit.train import Trainer


def n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


@pytest.mark.parametrize("channels", [1, 3])
def test_generator_shape_and_range(channels: int) -> None:
    torch.manual_seed(0)
    g = ResNetGenerator(z_dim=16, channels=channels, width=4)
    assert isinstance(g, Generator) and g.prior == "normal"
    assert g.out_shape == (channels, 32, 32) and g.value_range == "symmetric"
    x = g(g.sample_z(5))
    assert x.shape == (5, channels, 32, 32) and x.dtype == torch.float32
    assert x.abs().max() <= 1.0 and x.std() > 0
    big = g(100.0 * g.sample_z(3))  # saturating inputs still stay in [-1, 1]
    assert big.min() >= -1.0 and big.max() <= 1.0
    with pytest.raises(ValueError, match=r"\[n, 16\]"):
        g(torch.zeros(2, 10))


@pytest.mark.parametrize("channels", [1, 3])
def test_discriminator_returns_logits(channels: int) -> None:
    torch.manual_seed(0)
    d = ResNetDiscriminator(channels=channels, width=4)
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in d.modules())
    out = d(torch.rand(6, channels, 32, 32) * 2 - 1)
    assert out.shape == (6,) and out.dtype == torch.float32 and torch.isfinite(out).all()
    with torch.no_grad():  # logits, not probabilities
        d.linear.weight.mul_(1e3)
    out = d(torch.rand(6, channels, 32, 32) * 2 - 1)
    assert (out < 0).any() or (out > 1).any()
    with pytest.raises(ValueError, match=rf"\[n, {channels}, 32, 32\]"):
        d(torch.zeros(2, channels + 1, 32, 32))


def test_parameter_counts_by_hand() -> None:
    # G up-block, ch → ch: BN 2ch + conv3×3 (no bias) 9ch² + BN 2ch + conv3×3 9ch² + ch + shortcut 1×1 (no bias) ch²
    ch = 32
    assert n_params(UpBlock(ch, ch)) == 19 * ch * ch + 5 * ch == 19616
    # D block without downsampling: two biased 3×3 convs, identity shortcut
    assert n_params(DownBlock(16, 16, down=False)) == 2 * (9 * 16 * 16 + 16) == 4640
    assert DownBlock(16, 16, down=False).sc is None
    # optimised first block 3 → 16: 3·16·9 + 16, 16·16·9 + 16, shortcut 3·16
    assert n_params(DownBlock(3, 16, down=True, first=True)) == 448 + 2320 + 48
    # width 8: G (32 ch) = linear 128·512 + 512, 3 blocks, BN 64, conv 32·3·9 + 3; D (16 ch) adds a down-block
    # (4640 + 256 shortcut) and the linear 16 + 1
    g, d = ResNetGenerator(z_dim=128, channels=3, width=8), ResNetDiscriminator(channels=3, width=8)
    assert n_params(g) == 128 * 512 + 512 + 3 * 19616 + 64 + 32 * 3 * 9 + 3 == 125_827
    assert n_params(d) == 2816 + 4896 + 2 * 4640 + 17 == 17_009


def test_xavier_init() -> None:
    torch.manual_seed(0)
    g = ResNetGenerator(width=16)
    w = g.blocks[0].c1.weight  # residual conv: gain √2
    bound = math.sqrt(2) * math.sqrt(6 / (9 * 64 + 9 * 64))
    assert w.abs().max() <= bound and w.abs().max() > 0.95 * bound
    assert torch.count_nonzero(g.blocks[0].c2.bias) == 0 and torch.count_nonzero(g.linear.bias) == 0


@pytest.mark.parametrize("resolution", [28, 64])
def test_bad_resolution(resolution: int) -> None:
    for make in (
        lambda: ResNetGenerator(resolution=resolution),
        lambda: ResNetDiscriminator(resolution=resolution),
    ):
        with pytest.raises(ValueError, match="32") as err:
            make()
        assert "\n" not in str(err.value) and str(resolution) in str(err.value)


def test_backward_gives_finite_gradients() -> None:
    torch.manual_seed(0)
    g, d = ResNetGenerator(z_dim=8, channels=3, width=2), ResNetDiscriminator(channels=3, width=2)
    nn.functional.softplus(-d(g(g.sample_z(4)))).mean().backward()
    for name, p in [*g.named_parameters(), *d.named_parameters()]:
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name


def test_registry_builds_resnet() -> None:
    g, d = build_models(ModelConfig(arch="resnet", width=8), sample_shape=(3, 32, 32), kind="image")
    assert isinstance(g, ResNetGenerator) and isinstance(d, ResNetDiscriminator)
    assert g.out_shape == (3, 32, 32) and d(g(g.sample_z(2))).shape == (2,)
    with pytest.raises(ValueError, match="square images"):
        build_models(ModelConfig(arch="resnet"), sample_shape=(2,), kind="points")


def test_trainer_runs_resnet_with_spectral_norm(tmp_path) -> None:
    x = torch.randint(
        0, 256, (40, 3, 32, 32), generator=torch.Generator().manual_seed(0), dtype=torch.uint8
    )
    data = Dataset("tiny32", "image", {"train": Split(x)})
    cfg = quick_config(
        model={"arch": "resnet", "width": 8, "spectral_norm": True},
        train={"steps": 2, "batch_size": 8},
    )
    trainer = Trainer(cfg, tmp_path / "run", dataset=data)
    trainer.fit()
    assert trainer.step == 2 and isinstance(trainer.G, ResNetGenerator)
    assert any("parametrizations" in k for k in trainer.D.state_dict())
