"""Inception Score (Salimans, Goodfellow, Zaremba, Cheung, Radford and Chen, "Improved Techniques for Training GANs",
NeurIPS 2016): IS = exp(E_x KL(p(y|x) ‖ p(y))), with p(y|x) the 2015 Inception's softmax over its 1,008 classes
(computed without the final layer's bias, as the original TF code did) and p(y) the mean of p(y|x) over the part;
the N samples are cut into 10 consecutive parts (rows i·N/10 … (i+1)·N/10 − 1) and the mean and standard deviation
(ddof 0) of the 10 scores are reported.

The network that gankit's FID uses has no classifier layer, so the score needs a file that has one, in either of the
two forms that are distributed: a TorchScript file with NVIDIA's interface, ``forward(img, return_features=False,
use_fp16=False, no_output_bias=False)`` returning softmax probabilities for uint8-range images ``[N, 3, H, W]`` of
any size (it resizes to 299×299 itself) — the ``inception-2015-12-05.pt`` that StyleGAN2-ADA's metrics download —
or the state dict ``pt_inception-2015-12-05-*.pth`` that pytorch-fid downloads (:mod:`gankit.metrics.inception_net`).
:class:`InceptionClassifier` loads either.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import Tensor

from gankit.errors import MetricError
from gankit.metrics.inception import preprocess
from gankit.metrics.inception_net import InceptionV3, load_inception

SPLITS = 10
# keyword arguments of NVIDIA's TorchScript Inception
INTERFACE = ("return_features", "no_output_bias")
NO_CLASSIFIER = (
    "{path} has no classifier layer (it gives pool features only): the Inception Score needs the 2015 "
    "Inception with its 1,008-way softmax; pass --inception PATH to NVIDIA's TorchScript "
    "inception-2015-12-05.pt or pytorch-fid's pt_inception-2015-12-05-6726825d.pth "
    "(docs/evaluation.md)"
)


def inception_score(probs: Tensor, splits: int = SPLITS) -> tuple[float, float]:
    """Mean and standard deviation (ddof 0) over ``splits`` parts of exp(mean KL(p(y|x) ‖ p(y))).

    Args:
        probs: ``[N, K]`` class probabilities (rows non-negative, summing to 1 within 1e-3), N ≥ ``splits``.
    Returns:
        (mean, std); 1 ≤ IS ≤ K for each part (1: every row alike; K: confident and evenly spread over K classes).
    """
    if not isinstance(probs, Tensor) or probs.ndim != 2 or probs.shape[1] < 2:
        raise MetricError(
            f"Inception Score needs probabilities [N, K] with K >= 2, got "
            f"{list(probs.shape) if isinstance(probs, Tensor) else type(probs).__name__}"
        )
    n = probs.shape[0]
    if not isinstance(splits, int) or splits < 1 or n < splits:
        raise MetricError(
            f"Inception Score needs at least {splits} samples for {splits} splits, got {n}"
        )
    p = probs.double()
    if not torch.isfinite(p).all() or (p < 0).any() or ((p.sum(1) - 1).abs() > 1e-3).any():
        raise MetricError(
            "Inception Score: each row must be probabilities (finite, >= 0, summing to 1)"
        )
    scores = []
    for i in range(splits):
        part = p[i * n // splits : (i + 1) * n // splits]
        marginal = part.mean(0, keepdim=True)
        kl = (torch.xlogy(part, part) - torch.xlogy(part, marginal)).sum(1)  # 0 · log 0 = 0
        scores.append(math.exp(float(kl.mean())))
    mean = sum(scores) / splits
    return mean, math.sqrt(sum((s - mean) ** 2 for s in scores) / splits)


class InceptionClassifier:
    """Callable: uint8 images ``[N, C, H, W]`` (C ∈ {1, 3}, any size) → float64 probabilities ``[N, K]`` (K = 1,008
    for the 2015 Inception), from a TorchScript file with NVIDIA's interface (called with ``no_output_bias=True``)
    or a state dict of the FID Inception with its classifier (pytorch-fid's ``pt_inception-*.pth``; the images then
    go through gankit's FID preprocessing and the softmax is taken over the logits without the bias)."""

    def __init__(
        self, path: str | Path, *, device: str | torch.device = "cpu", batch_size: int = 50
    ) -> None:
        self.path, self.device, self.batch_size = Path(path), torch.device(device), batch_size
        model = load_inception(self.path, self.device)
        if isinstance(model, InceptionV3):
            if not model.has_classifier:
                raise MetricError(NO_CLASSIFIER.format(path=self.path))
            self.probabilities = lambda images: torch.softmax(
                model.logits(model(preprocess(images)), bias=False), 1
            )
        else:
            names = (
                {a.name for a in model.forward.schema.arguments}
                if hasattr(model, "forward")
                else set()
            )
            if not set(INTERFACE) <= names:
                raise MetricError(NO_CLASSIFIER.format(path=self.path))
            self.probabilities = lambda images: model(
                images.expand(-1, 3, -1, -1), no_output_bias=True
            )
        self.model = model.eval()

    def __call__(self, images: Tensor) -> Tensor:
        if (
            not isinstance(images, Tensor)
            or images.dtype != torch.uint8
            or images.ndim != 4
            or images.shape[1] not in (1, 3)
        ):
            raise MetricError("Inception Score images must be uint8 [N, C, H, W] with C in (1, 3)")
        out = []
        with torch.inference_mode():
            for start in range(0, images.shape[0], self.batch_size):
                chunk = images[start : start + self.batch_size].to(self.device)
                probs = self.probabilities(chunk)
                if probs.ndim != 2 or probs.shape[0] != chunk.shape[0]:
                    raise MetricError(
                        f"{self.path} returned shape {list(probs.shape)} for {chunk.shape[0]} images, "
                        f"expected [{chunk.shape[0]}, K] class probabilities"
                    )
                out.append(probs.double().cpu())
        return torch.cat(out) if out else torch.zeros(0, 1008, dtype=torch.float64)
