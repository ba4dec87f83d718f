"""The paper's MNIST models pinned to docs/design.md, "The paper's protocol" (sizes, init ranges, output bias,
dropout)."""

import math

import pytest
import torch

from gankit.config import ModelConfig
from gankit.models import (
    Dropout,
    Maxout,
    PaperDiscriminator,
    PaperGenerator,
    build_models,
    marginal_logits,
    sample_prior,
)


def test_parameter_counts():
    G, D = PaperGenerator(), PaperDiscriminator()
    g_expected = (100 * 1200 + 1200) + (1200 * 1200 + 1200) + (1200 * 784 + 784)
    d_expected = (784 * 1200 + 1200) + (240 * 1200 + 1200) + (240 + 1)
    assert sum(p.numel() for p in G.parameters()) == g_expected == 2_503_984
    assert sum(p.numel() for p in D.parameters()) == d_expected == 1_231_441


def test_init_ranges():
    torch.manual_seed(0)
    G, D = PaperGenerator(), PaperDiscriminator()
    for model, half in ((G, 0.05), (D, 0.005)):
        for name, p in model.named_parameters():
            if name.endswith("weight"):
                assert p.abs().max().item() <= half
                # uniform over the whole range, not narrower
                assert p.abs().max().item() > 0.95 * half
                assert p.std().item() == pytest.approx(half / math.sqrt(3), rel=0.05)
    assert all((p == 0).all() for n, p in D.named_parameters() if n.endswith("bias"))
    assert (G.net[0].bias == 0).all() and (G.net[2].bias == 0).all()


def test_output_bias_is_logit_of_pixel_marginals():
    mean = torch.rand(1, 28, 28)
    mean[0, 0, 0], mean[0, 0, 1] = 0.0, 1.0
    G = PaperGenerator(pixel_mean=mean)
    bias = G.net[-1].bias.view(28, 28)
    p = mean[0].double().clamp(1e-5, 1 - 1e-5)
    assert torch.allclose(bias.double(), torch.log(p / (1 - p)), atol=1e-4)
    assert torch.isfinite(marginal_logits(mean)).all()
    # with zero noise effect the output is the marginal itself
    with torch.no_grad():
        for layer in G.net:
            if isinstance(layer, torch.nn.Linear) and layer is not G.net[-1]:
                layer.weight.zero_()
        out = G(torch.zeros(1, 100))
    assert torch.allclose(out[0, 0, 1:, 1:], mean[0, 1:, 1:], atol=1e-5)


def test_generator_output_range_and_prior():
    G = PaperGenerator()
    z = G.sample_z(1000, generator=torch.Generator().manual_seed(0))
    assert z.shape == (1000, 100)
    assert z.abs().max().item() <= math.sqrt(3) + 1e-6 and z.abs().max().item() > 1.7
    assert z.var().item() == pytest.approx(1.0, abs=0.02)  # uniform on [-√3, √3] has unit variance
    x = G(z[:10])
    assert x.shape == (10, 1, 28, 28) and x.min() >= 0 and x.max() <= 1


def test_dropout_only_on_d_with_paper_keep_probabilities():
    G, D = PaperGenerator(), PaperDiscriminator()
    assert not any(isinstance(m, (Dropout, torch.nn.Dropout)) for m in G.modules())
    drops = [m.p for m in D.modules() if isinstance(m, Dropout)]
    assert drops == [pytest.approx(0.2), pytest.approx(0.5), pytest.approx(0.5)]
    # inverted dropout: kept units scaled by 1/keep (1.25 for the input)
    torch.manual_seed(1)
    x = torch.ones(1, 784)
    y = D.net[0].train()(x)
    assert set(torch.unique(y).tolist()) <= {0.0, 1.25}
    assert (y == 0).float().mean().item() == pytest.approx(0.2, abs=0.05)
    D.eval()
    a, b = D(torch.rand(4, 1, 28, 28)), D(torch.rand(4, 1, 28, 28))
    assert a.shape == (4,) and not torch.equal(a, b)
    x = torch.rand(4, 1, 28, 28)
    assert torch.equal(D(x), D(x))  # eval mode: deterministic
    assert PaperDiscriminator(dropout=False).net[0].p == 0.0


@pytest.mark.parametrize("p", [0.2, 0.5])
def test_dropout_keep_rate_scale_and_gradient(p):
    torch.manual_seed(0)
    x = torch.ones(1000, 1000, requires_grad=True)
    y = Dropout(p).train()(x)
    kept = y != 0
    # 10^6 Bernoulli(1 − p) draws: the kept fraction is within 5 standard deviations of 1 − p
    assert abs(kept.float().mean().item() - (1 - p)) < 5 * math.sqrt(p * (1 - p) / 1e6)
    assert torch.allclose(y[kept], torch.full_like(y[kept], 1 / (1 - p)))
    y.sum().backward()
    # d(x·mask)/dx = mask: the kept units' gradient is scaled too
    assert torch.equal(x.grad, y.detach())
    with pytest.raises(ValueError, match="dropout probability"):
        Dropout(1.0)


def test_maxout_takes_max_over_pieces():
    m = Maxout(3, units=2, pieces=4)
    x = torch.randn(5, 3)
    z = m.linear(x).view(5, 2, 4)
    assert torch.equal(m(x), z.max(dim=2).values)


def test_registry_builds_paper_pair_and_refuses_points():
    G, D = build_models(ModelConfig(arch="paper-mlp"), sample_shape=(1, 28, 28), kind="image")
    assert isinstance(G, PaperGenerator) and isinstance(D, PaperDiscriminator)
    with pytest.raises(ValueError, match="paper-mlp is for images"):
        build_models(ModelConfig(arch="paper-mlp"), sample_shape=(2,), kind="points")


def test_sample_prior_rejects_unknown():
    with pytest.raises(ValueError, match="uniform"):
        sample_prior("cauchy", 2, 3)
