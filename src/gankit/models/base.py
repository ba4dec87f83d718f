"""What every generator and discriminator exposes (docs/design.md, 'Models'). Models know nothing of training.

A generator maps noise ``z`` float32 [n, z_dim] to samples [n, *out_shape] in ``value_range``
("unit" = [0, 1], "symmetric" = [-1, 1], "none" = unbounded points) and samples its own prior.
A discriminator maps samples [n, *in_shape] to logits float32 [n] (D(x) = sigmoid(logit)); gankit's own split this
into ``features(x)`` [n, F] and ``logit(h)`` [n], which the conditional wrappers build on.
Class-conditional models (``num_classes`` > 0) take labels int64 [n] in [0, num_classes) as a second argument:
``G(z, y)`` and ``D(x, y)``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

PRIORS = ("uniform", "normal")
# the paper's prior: uniform on [-√3, √3]^d (zero mean, unit variance)
UNIFORM_HALF_WIDTH = math.sqrt(3.0)
NORMAL_HALF_WIDTH = 2.0  # pictures of the normal prior span ±2 (95% of each coordinate's mass)


def prior_half_width(prior: str) -> float:
    """Half-width of the z range that pictures of the prior span: √3 (uniform, its support) or 2 (normal)."""
    return UNIFORM_HALF_WIDTH if prior == "uniform" else NORMAL_HALF_WIDTH


def sample_prior(
    prior: str,
    n: int,
    z_dim: int,
    *,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """float32 [n, z_dim] from ``uniform`` on [-√3, √3] or ``normal`` N(0, 1)."""
    if prior == "uniform":
        u = torch.rand(n, z_dim, generator=generator, device=device)
        return (2.0 * u - 1.0) * UNIFORM_HALF_WIDTH
    if prior == "normal":
        return torch.randn(n, z_dim, generator=generator, device=device)
    raise ValueError(f"prior {prior!r} is not one of {', '.join(PRIORS)}")


class Generator(nn.Module):
    """Base of gankit generators: holds ``z_dim``, ``out_shape``, ``value_range``, ``prior`` and ``num_classes``
    (0: unconditional, ``forward(z)``; else ``forward(z, y)``); subclasses define forward."""

    num_classes: int = 0

    def __init__(
        self, *, z_dim: int, out_shape: tuple[int, ...], value_range: str, prior: str = "uniform"
    ) -> None:
        super().__init__()
        if prior not in PRIORS:
            raise ValueError(f"prior {prior!r} is not one of {', '.join(PRIORS)}")
        self.z_dim, self.out_shape, self.value_range, self.prior = (
            z_dim,
            tuple(out_shape),
            value_range,
            prior,
        )

    def sample_z(
        self,
        n: int,
        *,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
    ) -> torch.Tensor:
        """Noise float32 [n, z_dim] from this generator's prior, on ``device`` (default: the module's device)."""
        if device is None:
            device = next(self.parameters()).device
        return sample_prior(self.prior, n, self.z_dim, generator=generator, device=device)


class Discriminator(nn.Module):
    """Base of gankit discriminators: samples [n, *in_shape] → logits float32 [n] (D(x) = sigmoid(logit)).

    Subclasses pass ``in_shape`` and define ``extract(x)`` → features [n, F] and ``logit(h)`` → [n]; ``features``
    checks the input's shape first (the conditional wrappers build on it), ``forward`` is ``logit(features(x))``.
    """

    def __init__(self, *, in_shape: tuple[int, ...]) -> None:
        super().__init__()
        self.in_shape = tuple(in_shape)

    def extract(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def logit(self, h: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """x [n, *in_shape] → features [n, F]; a one-line ValueError for another shape."""
        if tuple(x.shape[1:]) != self.in_shape:
            raise ValueError(
                f"input has shape {tuple(x.shape)}; expected [n, {', '.join(map(str, self.in_shape))}]"
            )
        return self.extract(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logit(self.features(x))


def batch_coupled(module: nn.Module) -> bool:
    """True when, in training, one sample's output depends on the other samples of its batch (batch norm)."""
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in module.modules())
