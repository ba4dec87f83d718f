"""Spectral normalisation (Miyato et al. 2018)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils import parametrize

from gankit.models.spectral import apply_spectral_norm


def _net() -> nn.Module:
    return nn.Sequential(
        nn.ConvTranspose2d(2, 3, 4, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv2d(3, 4, 3, padding=1),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(4 * 8 * 8, 1),
    )


def _sigma(m: nn.Module) -> float:
    w = m.weight
    if isinstance(m, nn.ConvTranspose2d):  # weight is [in, out, kh, kw]: the output dim is 1
        w = w.transpose(0, 1)
    return torch.linalg.matrix_norm(w.reshape(w.shape[0], -1), ord=2).item()


def _layers(net: nn.Module) -> list[nn.Module]:
    return [m for m in net.modules() if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d))]


def test_largest_singular_value_is_one() -> None:
    torch.manual_seed(0)
    net = _net()
    with torch.no_grad():
        for m in _layers(net):
            m.weight.mul_(5.0)
    assert all(_sigma(m) > 1.5 for m in _layers(net))
    assert apply_spectral_norm(net) is net
    assert all(parametrize.is_parametrized(m, "weight") for m in _layers(net))
    net.train()
    x = torch.randn(2, 2, 4, 4)
    with torch.no_grad():
        for _ in range(30):
            net(x)
    for m in _layers(net):
        assert abs(_sigma(m) - 1.0) < 1e-2, (type(m).__name__, _sigma(m))


def test_module_without_layers_unchanged() -> None:
    net = nn.Sequential(nn.ReLU(), nn.BatchNorm1d(3))
    before = {k: v.clone() for k, v in net.state_dict().items()}
    assert apply_spectral_norm(net) is net
    assert not any(parametrize.is_parametrized(m) for m in net.modules())
    after = net.state_dict()
    assert after.keys() == before.keys() and all(
        torch.equal(after[k], v) for k, v in before.items()
    )


def test_trains_and_state_dict_round_trip() -> None:
    torch.manual_seed(1)
    net = apply_spectral_norm(_net())
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    x = torch.randn(3, 2, 4, 4)
    net(x).sum().backward()
    grads = [m.parametrizations.weight.original.grad for m in _layers(net)]
    assert all(g is not None and torch.isfinite(g).all() and g.abs().sum() > 0 for g in grads)
    opt.step()
    net.eval()
    fresh = apply_spectral_norm(_net()).eval()
    fresh.load_state_dict(net.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(fresh(x), net(x), rtol=0, atol=0)
