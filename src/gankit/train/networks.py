"""G and D as a run trains them: the pair given or the one ``model.arch`` names, on this rank's device."""

from __future__ import annotations

import torch
from torch import nn

from ..config import Config
from ..data import Dataset, Split
from ..errors import ConfigError
from ..models import Generator, build_models
from ..models.spectral import apply_spectral_norm
from .distributed import Ranks
from .memory_check import check_model_memory
from .rng import Streams, stream_seed
from .training_data import image_mean


def run_models(
    cfg: Config,
    dataset: Dataset,
    split: Split,
    num_classes: int,
    G: Generator | None,
    D: nn.Module | None,
    streams: Streams,
    ranks: Ranks,
) -> tuple[Generator, nn.Module]:
    """G and D on this rank's device: the pair given, or the one ``model.arch`` names, initialised from the run's
    ``init`` stream; D spectrally normalised when ``model.spectral_norm``; batch norm over the global batch when
    ``train.sync_batchnorm``. Every rank starts from the same weights; dropout then draws per rank."""
    if G is None or D is None:
        check_model_memory(cfg, dataset, num_classes, ranks.device)
    with streams.torch.installed():
        if G is None or D is None:
            pixel_mean = image_mean(split.x) if split.x.dtype == torch.uint8 else None
            G, D = build_models(
                cfg.model,
                sample_shape=dataset.sample_shape,
                kind=dataset.kind,
                pixel_mean=pixel_mean,
                num_classes=num_classes,
            )
        if cfg.model.spectral_norm:
            D = apply_spectral_norm(D)
    if cfg.train.sync_batchnorm and ranks.active:
        if ranks.device.type != "cuda":
            raise ConfigError(
                "train.sync_batchnorm needs CUDA (PyTorch's SyncBatchNorm runs on GPUs only)"
            )
        convert = nn.SyncBatchNorm.convert_sync_batchnorm
        G, D = convert(G), convert(D)
    if ranks.rank:
        streams.torch.reseed(stream_seed(cfg.train.seed, "init") + ranks.rank)
    return G.to(ranks.device), D.to(ranks.device)
