"""The parts a :class:`~gankit.train.loop.Trainer` is assembled from, each built by one function: the training
data, the models, the penalty and augmentation of D's inputs (and ADA's control of it), the EMA of G and the
pictures' fixed inputs."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from ..config import Config, ModelConfig, ObjectiveConfig, TrainConfig
from ..data import Dataset, Split, load_dataset, to_model_range
from ..errors import ConfigError
from ..models import Generator, build_models, parameter_counts
from ..objectives import objectives, resolve_objective
from ..regularizers import dragan_penalty, gradient_penalty, r1_penalty, r2_penalty
from ..resources import available_memory, gib
from . import ada
from .algorithm import Augment, Penalty
from .distributed import Ranks
from .ema import EMA
from .optim import state_slots
from .rng import Streams, stream_seed

POINTS_PLOT_N = 2000  # generated points drawn over the data in a points run's pictures
MEAN_BLOCK_BYTES = 1 << 24  # the float64 block image_mean sums at a time (16 MiB)


def training_split(cfg: Config, dataset: Dataset | None) -> tuple[Dataset, Split, int]:
    """(the dataset — ``dataset``, or the source ``data.name`` names —, the split to train on, its class count: 0
    unless ``model.conditional``, whose labels are checked)."""
    dataset = dataset if dataset is not None else load_dataset(cfg.data)
    split = dataset.split(cfg.data.split)
    return (
        dataset,
        split,
        (_class_count(cfg, dataset, split) if cfg.model.conditional != "none" else 0),
    )


def _class_count(cfg: Config, dataset: Dataset, split: Split) -> int:
    """Class count of a labelled training split, or a ConfigError naming what is missing."""
    if split.y is None or len(split.y) == 0:
        raise ConfigError(
            f"model.conditional={cfg.model.conditional} needs class labels, and dataset "
            f"{dataset.name} ({cfg.data.split} split) has none"
        )
    num_classes = dataset.num_classes or int(split.y.max()) + 1
    if split.y.dtype != torch.int64 or int(split.y.min()) < 0 or int(split.y.max()) >= num_classes:
        raise ConfigError(f"dataset {dataset.name}: labels must be int64 in [0, {num_classes})")
    return num_classes


MODEL_SIZE_KEYS = ("z_dim", "hidden", "layers", "width", "blocks", "expansion")


def check_model_memory(
    cfg: Config, dataset: Dataset, num_classes: int, device: torch.device
) -> None:
    """Refuse, before anything is allocated, a G and D (counted on the meta device) whose training state cannot fit
    in the memory ``device`` has available: per parameter 4 bytes each for the weights, the gradients, the optimiser
    moments and a checkpoint's copy, and for G's EMA. On CUDA the host must also hold a checkpoint's copies."""
    counts = parameter_counts(
        cfg.model, sample_shape=dataset.sample_shape, kind=dataset.kind, num_classes=num_classes
    )
    if counts is None:
        return
    n_g, n_d = counts
    ema = n_g if cfg.train.ema_half_life_kimg > 0 else 0
    needs = [(device, 4 * ((3 + state_slots(cfg.optim)) * (n_g + n_d) + ema))]
    if device.type == "cuda":
        needs.append((torch.device("cpu"), 4 * 2 * (n_g + n_d + ema)))
    for where, need in needs:
        free = available_memory(where)
        if free is not None and need > free:
            raise ConfigError(
                f"{_size_keys(cfg)}: G and D would have {n_g + n_d:,} parameters, whose training needs "
                f"about {gib(need)} on {where.type}, more than the {gib(free)} available there"
            )


def _size_keys(cfg: Config) -> str:
    """The model's size settings that apply and exceed their defaults, most exceeded first
    (``model.hidden=100000000``); all that apply when none does."""
    inert, defaults = set(cfg.inert_keys()), ModelConfig()
    keys = [k for k in MODEL_SIZE_KEYS if f"model.{k}" not in inert]
    ratio = {k: getattr(cfg.model, k) / getattr(defaults, k) for k in keys}
    big = sorted((k for k in keys if ratio[k] > 1), key=lambda k: -ratio[k]) or keys
    return ", ".join(f"model.{k}={getattr(cfg.model, k)}" for k in big)


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
            from ..models.spectral import apply_spectral_norm

            D = apply_spectral_norm(D)
    if cfg.train.sync_batchnorm and ranks.active:
        if ranks.device.type != "cuda":
            raise ConfigError(
                "train.sync_batchnorm needs CUDA (PyTorch's SyncBatchNorm runs on GPUs only)"
            )
        G, D = (
            nn.SyncBatchNorm.convert_sync_batchnorm(G),
            nn.SyncBatchNorm.convert_sync_batchnorm(D),
        )
    if ranks.rank:
        streams.torch.reseed(stream_seed(cfg.train.seed, "init") + ranks.rank)
    return G.to(ranks.device), D.to(ranks.device)


def image_mean(x: torch.Tensor) -> torch.Tensor:
    """Per-pixel mean in [0, 1] of uint8 images x [N, ...] → float32 [...]. Summed in float64 over blocks of rows whose
    float64 copy is at most MEAN_BLOCK_BYTES, so a memory-mapped set is read, never copied whole."""
    rows = max(1, MEAN_BLOCK_BYTES // (8 * math.prod(x.shape[1:])))
    total = torch.zeros(x.shape[1:], dtype=torch.float64, device=x.device)
    for start in range(0, len(x), rows):
        total += x[start : start + rows].to(torch.float64).sum(0)
    return (total / (255.0 * len(x))).float()


@dataclass
class TrainingData:
    """The training split as training reads it: ``x`` [N, ...] (images uint8 0..255, points float32), ``y`` int64
    [N] and the class frequencies ``class_freq`` float32 [C] of a conditional run (else None). Batches go to
    ``device``; images are converted to G's ``value_range`` a batch at a time (:meth:`take`), so the set is held
    once, as uint8."""

    x: torch.Tensor
    y: torch.Tensor | None
    class_freq: torch.Tensor | None
    value_range: str
    device: torch.device

    def take(self, idx: torch.Tensor) -> torch.Tensor:
        """Rows ``idx`` (int64 [m], on ``device``) → float32 [m, ...] in G's value range, on ``device``."""
        rows = self.x[idx if idx.device == self.x.device else idx.to(self.x.device)]
        return to_model_range(rows, self.value_range).to(self.device, non_blocking=True)

    def labels(self, idx: torch.Tensor) -> torch.Tensor | None:
        return self.y[idx] if self.y is not None else None


def on_device(
    split: Split, value_range: str, num_classes: int, device: torch.device
) -> TrainingData:
    """The split for training. Images stay uint8 where they are on a CPU (a folder's memory-mapped pixels are not
    copied) and move to a GPU when they take at most a quarter of its free memory (else batches are copied from the
    host); points move to ``device`` as float32. Labels only when conditional."""
    x = split.x
    if x.dtype != torch.uint8:
        x = to_model_range(x, value_range).to(device)
    elif device.type != "cpu" and x.numel() <= (available_memory(device) or 0) // 4:
        x = x.to(device)
    if not num_classes:
        return TrainingData(x, None, None, value_range, device)
    y = split.y.to(device)
    return TrainingData(x, y, torch.bincount(y, minlength=num_classes).float(), value_range, device)


def global_rows(
    generator: torch.Generator, shape: tuple[int, ...], like: torch.Tensor, ranks: Ranks
) -> torch.Tensor:
    """U[0, 1) draws of shape ``shape`` (this rank's batch) taken as this rank's rows of the global batch's
    (``ranks.world`` × ``shape[0]`` rows), so W ranks draw what one process draws; ``like``'s device and dtype."""
    rows = ranks.local_slice(ranks.world * shape[0])
    drawn = torch.rand(
        (ranks.world * shape[0], *shape[1:]),
        generator=generator,
        device=like.device,
        dtype=like.dtype,
    )
    return drawn[rows]


def penalty(
    o: ObjectiveConfig, generator: torch.Generator, device: torch.device, ranks: Ranks = Ranks()
) -> Penalty | None:
    """D's gradient penalty ``penalty(D, real, fake)`` → scalar: the sum of the WGAN-GP, DRAGAN, R1 and R2 terms
    whose weights are set; None when none is. The random points are the global batch's draws from ``generator``
    (:func:`global_rows`; DRAGAN's std stays the local batch's)."""
    if not o.penalised:
        return None

    def uniform(shape: tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
        return global_rows(generator, shape, like, ranks)

    def per_sample(x: torch.Tensor) -> tuple[int, ...]:
        return (len(x),) + (1,) * (x.dim() - 1)

    terms: list[Callable[[Callable, torch.Tensor, torch.Tensor], torch.Tensor]] = []
    if o.gp:
        terms.append(
            lambda D, r, f: gradient_penalty(D, r, f, weight=o.gp, alpha=uniform(per_sample(r), r))
        )
    if o.dragan:
        terms.append(lambda D, r, f: dragan_penalty(D, r, weight=o.dragan, u=uniform(r.shape, r)))
    if o.r1:
        terms.append(lambda D, r, f: r1_penalty(D, r, gamma=o.r1))
    if o.r2:
        terms.append(lambda D, r, f: r2_penalty(D, f, gamma=o.r2))

    def total(D: Callable, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        out = torch.zeros((), device=device)
        for term in terms:
            out = out + term(D, real, fake)
        return out

    return total


def augmentation(
    t: TrainConfig,
    generator: torch.Generator,
    probability: torch.Tensor | None,
    sample_shape: tuple[int, ...],
    ranks: Ranks = Ranks(),
) -> Augment | None:
    """The augmentation of what D sees (gankit.augment), ``augment(a, b)`` → (a', b'), draws from ``generator``;
    ``train.augment_shared``: one draw for both batches. ``probability`` (0-d tensor, written in place by the
    schedules or ADA; None: every image): each image is augmented (the whole policy) with this probability. Like the
    noise, the draws are those of the global batch (``ranks.world`` × the local one) and each rank keeps its rows,
    so W ranks augment as one process does. None when ``train.augment`` is empty; a ConfigError when the policy cannot
    take samples of ``sample_shape``."""
    if not t.augment:
        return None
    from ..augment import check_policy, diff_augment, draw_params

    check_policy(t.augment, sample_shape)

    def some(x: torch.Tensor, params: dict | None) -> tuple[torch.Tensor, dict]:
        rows = ranks.local_slice(ranks.world * len(x))
        if params is None:
            drawn = draw_params(t.augment, x, generator=generator, n=ranks.world * len(x))
            params = {key: value[rows] for key, value in drawn.items()}
        out = diff_augment(x, t.augment, params=params)[0]
        if probability is None:
            return out, params
        keep = torch.rand(ranks.world * len(x), generator=generator, device=x.device)[rows]
        keep = keep >= probability
        return torch.where(keep.view(-1, *[1] * (x.dim() - 1)), x, out), params

    def augment(
        a: torch.Tensor, b: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        a, params = some(a, None)
        if b is not None:
            b = some(b, params if t.augment_shared else None)[0]
        return a, b

    return augment


def ada_of(cfg: Config, device: torch.device) -> ada.AdaController | None:
    """ADA's control of the augmentation probability on ``device`` (None when ``train.ada_target`` is null); a
    ConfigError for an objective whose D output has no side that means real."""
    t = cfg.train
    if t.ada_target is None:
        return None
    if not resolve_objective(cfg.objective.loss).real_above_zero:
        signed = [name for name, o in objectives().items() if o.real_above_zero]
        raise ConfigError(
            f"train.ada_target reads sign(D(x_real)), which means real above 0 only for objective.loss "
            f"{' or '.join(signed)}; got {cfg.objective.loss}"
        )
    return ada.AdaController(t.ada_target, t.ada_kimg, t.ada_interval, t.k, device)


def ramp_knob(value: float, ramped: bool, device: torch.device) -> torch.Tensor | None:
    """A hyper-parameter read inside the step as a 0-d tensor on ``device`` that the schedules write in place
    (so a captured CUDA graph reads each new value), or None when it stays at its neutral value."""
    return torch.tensor(float(value), device=device) if ramped else None


def ema_of(G: Generator, t: TrainConfig) -> EMA | None:
    """The EMA of G's weights with a half-life of ``train.ema_half_life_kimg`` thousand images (None when 0)."""
    if t.ema_half_life_kimg <= 0:
        return None
    return EMA(G, half_life_img=1000 * t.ema_half_life_kimg, rampup=t.ema_rampup)


@dataclass
class FixedInputs:
    """What the pictures feed G at every step: noise ``z`` [n, z_dim] on the device, labels ``y`` int64 [n] (classes
    in turn) or None, and ``nrow``, the image grid's row length (one column per class) or None."""

    z: torch.Tensor
    y: torch.Tensor | None
    nrow: int | None


def fixed_inputs(
    G: Generator, kind: str, num_classes: int, t: TrainConfig, device: torch.device
) -> FixedInputs:
    """The pictures' inputs from the ``viz`` stream: 2,000 points for point plots, ``train.grid_size`` images (a
    multiple of the class count for conditional image grids)."""
    n, nrow, y = POINTS_PLOT_N if kind == "points" else t.grid_size, None, None
    if num_classes:
        if kind == "image":
            nrow, n = num_classes, num_classes * max(1, t.grid_size // num_classes)
        y = torch.arange(n, device=device) % num_classes
    z = G.sample_z(
        n, generator=torch.Generator().manual_seed(stream_seed(t.seed, "viz")), device="cpu"
    )
    return FixedInputs(z.to(device), y, nrow)
