"""Features of a fixed, seeded, randomly initialised convolutional network: an embedding with no ImageNet weights.

Inception features carry ImageNet class evidence (Kynkäänniemi, Karras, Aittala, Aila and Lehtinen, "The Role of
ImageNet Classes in Fréchet Inception Distance", ICLR 2023), so the Fréchet distance in these features
(`fd_random`) measures the pictures without it; random embeddings serve non-ImageNet data in Naeem, Oh, Uh, Choi
and Yoo, "Reliable Fidelity and Diversity Metrics for Generative Models", ICML 2020. The network is defined here
exactly, so that anyone can rebuild it:

- input: uint8 images ``[N, C, H, W]``, C = 1 or 3; as float32 ``x / 127.5 − 1`` (range [−1, 1]); grey repeated to
  3 channels; resized with ``F.interpolate(x, size=(64, 64), mode="bilinear", align_corners=False,
  antialias=True)``;
- 4 stages of widths 64, 128, 256, 512, each: conv 3×3 (stride 1, padding 1, no bias) → ReLU → conv 3×3 (same)
  → ReLU → 2×2 average pool (stride 2); 64 → 32 → 16 → 8 → 4 pixels;
- features: the global average pool of stage 4's output, 512 per image.

Weights: one CPU ``torch.Generator().manual_seed(SEED)`` (SEED = 0) draws the 8 conv weights in order (stage 1's
first conv, its second, stage 2's first, …), each ``torch.randn(out, in, 3, 3, generator=g) * sqrt(2 / (in · 9))``
in float32 (He initialisation, N(0, 2/fan_in)). The arithmetic is float32; features are returned as float64.
:func:`weights_sha256` hashes the weights (each name in order, then the tensor's bytes), the protocol's proof of
which network read the images. Distances in these features are comparable only between figures of the same network
(seed and SHA-256), never with Inception FIDs.
"""

from __future__ import annotations

import hashlib
import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import MetricError

SEED = 0
WIDTHS = (64, 128, 256, 512)
RESOLUTION = 64
FEATURE_DIM = 512
NETWORK_SPEC = {
    "network": "random VGG-style CNN (per stage 2 conv3x3 without bias + ReLU, avgpool2; widths "
    "64-128-256-512; He-normal weights)",
    "seed": SEED,
    "layer": "global average pool after stage 4",
    "resolution": RESOLUTION,
    "resize": "bilinear, antialias, align_corners=False",
    "dim": FEATURE_DIM,
}


class RandomNetwork(nn.Module):
    """The 4-stage network of the module docstring: float ``[N, 3, 64, 64]`` in [−1, 1] → float32 ``[N, 512]``."""

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width_in = 3
        for width in WIDTHS:
            layers += [
                nn.Conv2d(width_in, width, 3, padding=1, bias=False),
                nn.ReLU(),
                nn.Conv2d(width, width, 3, padding=1, bias=False),
                nn.ReLU(),
                nn.AvgPool2d(2),
            ]
            width_in = width
        self.body = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x).mean(dim=(2, 3))


def random_network(seed: int = SEED) -> RandomNetwork:
    """The network with weights drawn from ``torch.Generator().manual_seed(seed)`` as the module docstring says;
    on the CPU, in eval mode, without gradients."""
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise MetricError(f"random network seed must be an int, got {seed!r}")
    net = RandomNetwork()
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for conv in (m for m in net.body if isinstance(m, nn.Conv2d)):
            out, fan_in = conv.out_channels, conv.in_channels * 9
            shape = (out, conv.in_channels, 3, 3)
            conv.weight.copy_(torch.randn(shape, generator=gen) * math.sqrt(2.0 / fan_in))
    net.requires_grad_(False)
    return net.eval()


def weights_sha256(net: nn.Module) -> str:
    """Hex SHA-256 over ``net``'s state dict in order: each name (UTF-8), then the tensor's bytes (CPU, contiguous)."""
    digest = hashlib.sha256()
    for name, tensor in net.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def check_images(x: Tensor) -> None:
    """A one-line MetricError unless ``x`` is a uint8 tensor ``[N, C, H, W]`` with C = 1 or 3."""
    if not isinstance(x, Tensor):
        raise MetricError(
            f"random features need a uint8 tensor [N, C, H, W], got {type(x).__name__}"
        )
    if x.dtype != torch.uint8 or x.dim() != 4 or x.shape[1] not in (1, 3):
        raise MetricError(
            f"random features need uint8 images [N, C, H, W] with C 1 or 3, got {x.dtype} {list(x.shape)}"
        )


def preprocess(x: Tensor) -> Tensor:
    """uint8 ``[N, C, H, W]`` (C 1 or 3) → float32 ``[N, 3, 64, 64]`` in [−1, 1]: scaled, grey repeated, resized."""
    check_images(x)
    y = x.float() / 127.5 - 1.0
    if y.shape[1] == 1:
        y = y.repeat(1, 3, 1, 1)
    size = (RESOLUTION, RESOLUTION)
    return F.interpolate(y, size=size, mode="bilinear", align_corners=False, antialias=True)


def random_features(
    x: Tensor, *, batch: int = 256, device: str | torch.device = "cpu", net: nn.Module | None = None
) -> Tensor:
    """The 512 features of each image of uint8 ``x`` ``[N, C, H, W]`` (C 1 or 3, any size), ``batch`` images per
    forward pass on ``device``; ``net``: the network to use (default :func:`random_network` ()).

    Returns:
        float64 ``[N, 512]`` on the CPU (float32 arithmetic; values ≥ 0, after ReLU and averaging).
    """
    check_images(x)
    if not isinstance(batch, int) or batch < 1:
        raise MetricError(f"random features batch must be a positive integer, got {batch!r}")
    net = (net if net is not None else random_network()).to(device)
    out = [torch.zeros(0, FEATURE_DIM, dtype=torch.float64)]
    with torch.no_grad():
        for start in range(0, len(x), batch):
            chunk = preprocess(x[start : start + batch].to(device))
            out.append(net(chunk).double().cpu())
    return torch.cat(out)
