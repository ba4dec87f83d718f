"""What `gankit eval` may compute and on how many samples; the options object and the row format."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

import torch

POINT_MODES = ("ring8", "grid25")  # toy mixtures whose modes are counted
# point sources the metrics know (gauss1d: JSD to its Gaussian)
POINT_SOURCES = (*POINT_MODES, "gauss1d")
CLASSIFIER_DATASETS = ("digits", "mnist5k", "mnist", "fashion-mnist")
DEFAULT_N_STACKED_MODES = 26_000  # PacGAN's count for Stacked MNIST
DEFAULT_N_IMAGES = 10_000
PARZEN_VALIDATION = 1_000
KID_SUBSET = 1_000  # KID's usual subset size, capped by the generated and reference counts
FEATURE_CHUNK = 250

Progress = Callable[[str, int, int], None]  # (what, done, total)


@dataclass
class EvalOptions:
    """What to compute. ``metrics=None`` → every metric that applies to the data (Inception ones only if the
    weights are installed; the skip is reported). ``n=None`` → each metric's protocol default."""

    metrics: list[str] | None = None
    n: int | None = None
    # DATASET:SPLIT, a points source's name, an images .npz or a statistics .npz
    reference: str | None = None
    parzen_sigma: float | None = None
    inception: str | None = None
    # KID's subset size (None: min(KID_SUBSET, generated, reference images))
    kid_subset: int | None = None
    # cap on reference images for Inception/classifier metrics (first n_ref of the split)
    n_ref: int | None = None
    seed: int = 0
    device: str = "cpu"
    precision: str = (
        "fp32"  # Inception forward passes: fp32 (the reference features) or bf16 autocast (faster)
    )
    resize: str = (
        "tf"  # Inception's resize to 299: "tf" (TF 1.x bilinear, the reference) or "clean"
    )
    progress: Progress | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class Samples:
    """Samples to evaluate: images uint8 [N, C, H, W] or points float32 [N, d]; ``unit`` float [N, ...] in [0, 1]
    for images drawn from a generator (the paper's Parzen uses G's raw outputs); ``generator``: where they come
    from, ``"ema"`` or ``"raw"`` (a run's G, drawn with the evaluation's seed) or ``"file"`` (an .npz)."""

    x: torch.Tensor
    kind: str
    unit: torch.Tensor | None = None
    generator: str = "file"


def row(
    metric: str,
    value: float,
    n: int,
    reference: str,
    started: float,
    uncertainty: float | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """One result row as eval.json stores it (``seconds`` since ``started``, a ``time.monotonic()`` reading)."""
    return {
        "metric": metric,
        "value": float(value),
        "uncertainty": None if uncertainty is None else float(uncertainty),
        "n": int(n),
        "reference": reference,
        "seconds": round(time.monotonic() - started, 3),
        **extra,
    }
