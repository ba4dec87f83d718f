"""Rows of `fd_random`: the Fréchet distance between samples and reference in the features of a seeded, randomly
initialised network (gankit.metrics.random_features), which knows nothing of ImageNet."""

from __future__ import annotations

import time

import torch

from ..metrics.cache import load_or_compute
from ..metrics.frechet import feature_stats, frechet_distance
from ..metrics.random_features import (
    FEATURE_DIM,
    NETWORK_SPEC,
    random_features,
    random_network,
    weights_sha256,
)
from .inception_rows import features_problem
from .inputs import Reference
from .options import FEATURE_CHUNK, EvalOptions, row


def _network(job):
    """The evaluation's one random network and its weights' SHA-256."""

    def build():
        net = random_network()
        return net, weights_sha256(net)

    return job.shared("random_network", build)


def _features(net, images: torch.Tensor, what: str, opts: EvalOptions) -> torch.Tensor:
    """float64 ``[N, 512]`` features of uint8 ``images``, ``FEATURE_CHUNK`` at a time (progress reported)."""
    out = [torch.zeros(0, FEATURE_DIM, dtype=torch.float64)]
    for start in range(0, len(images), FEATURE_CHUNK):
        chunk = images[start : start + FEATURE_CHUNK]
        out.append(random_features(chunk, device=opts.device, net=net))
        if opts.progress:
            opts.progress(what, min(start + FEATURE_CHUNK, len(images)), len(images))
    return torch.cat(out)


def _reference_features(net, sha: str, reference: Reference, opts: EvalOptions) -> torch.Tensor:
    """The reference's features, from the on-disk cache when the reference is a dataset split."""

    def compute() -> dict[str, torch.Tensor]:
        what = f"random-network features ({reference.name})"
        return {"features": _features(net, reference.images, what, opts)}

    if reference.key is None:
        return compute()["features"]
    key = {**reference.key, "weights": sha, "device": torch.device(opts.device).type}
    return load_or_compute("random_features", key, compute)["features"]


def random_problem(job, n: int) -> str | None:
    """Why `fd_random` cannot compare ``n`` samples with the job's reference: no images to read (points, published
    statistics), or fewer than 2 on either side."""
    why = features_problem(job, "fd_random")
    if why:
        return why
    n_ref = len(job.reference("fd_random").images)
    if min(n, n_ref) < 2:
        return f"needs 2 or more generated samples and reference images, got {n} and {n_ref}"
    return None


def fd_random_rows(job) -> list[dict]:
    """Fréchet distance of the samples' and the reference's random-network features (float64 statistics)."""
    samples, reference, opts = job.samples, job.reference("fd_random"), job.opts
    net, sha = _network(job)
    started = time.monotonic()
    fake = _features(net, samples.x, "random-network features (samples)", opts)
    real = job.shared("random_reference", lambda: _reference_features(net, sha, reference, opts))
    value = frechet_distance(feature_stats(fake), feature_stats(real))
    return [row("fd_random", value, len(fake), f"{reference.name} ({len(real)})", started)]


def random_protocol(job) -> dict:
    """The network that read the images: its definition, seed, layer, weights' SHA-256, dtype and device class."""
    _, sha = _network(job)
    device = torch.device(job.opts.device).type
    return {"features": {**NETWORK_SPEC, "weights_sha256": sha, "dtype": "fp32", "device": device}}
