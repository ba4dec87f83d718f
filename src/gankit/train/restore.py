"""Generators back from a run folder's checkpoints, for sampling and evaluation."""

from __future__ import annotations

from pathlib import Path

import torch

from ..config import from_dict
from ..data import load_dataset, to_uint8
from ..errors import CheckpointError, RunDirError
from ..fileio import npz_bytes, write_atomic
from ..models import Generator, build_models
from ..models.latent import truncate
from ..viz.grids import grid_image, png_bytes, points_plot
from . import checkpoint as ckpt
from .frozen import check_frozen, frozen_record, with_frozen


def load_generator_and_meta(
    run_dir: Path, which: str | int = "latest", *, raw: bool = False
) -> tuple[Generator, dict]:
    """(G in eval mode on CPU — its EMA copy when the run kept one, unless ``raw`` —, the checkpoint's JSON with
    ``ema``: whether G holds the EMA's weights)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunDirError(f"run folder {run_dir} does not exist")
    c = ckpt.load(run_dir / "checkpoints", which) if which != "latest" else _latest_good(run_dir)
    if c.meta.get("own_models"):
        raise RunDirError(
            f"{run_dir} was trained on a G and D passed to the Trainer, which gankit cannot rebuild: "
            f"train with model.arch naming their builder (module:builder, see docs/python-api.md), or "
            f"load G from the checkpoint yourself"
        )
    cfg = from_dict(c.meta["config"])
    shape, classes = tuple(c.meta["sample_shape"]), c.meta.get("num_classes", 0)
    G, _ = build_models(cfg.model, sample_shape=shape, kind=c.meta["kind"], num_classes=classes)
    run = c.meta.get("frozen", {}).get("G")
    check_frozen("G", frozen_record(G), run, f"{run_dir}: {c.name}")
    ema = ckpt.part(c.tensors, "G_ema.")
    G.load_state_dict(with_frozen(G, ckpt.part(c.tensors, "G.") if raw or not ema else ema, run))
    return G.eval(), {**c.meta, "ema": bool(ema) and not raw}


def load_generator(
    run_dir: Path, which: str | int = "latest"
) -> tuple[Generator, str, torch.Tensor | None]:
    """(G in eval mode on CPU — its EMA copy when the run kept one —, data kind "image"/"points", up to 2,000 real
    points for plots or None)."""
    G, meta = load_generator_and_meta(run_dir, which)
    kind = meta["kind"]
    real = load_dataset(from_dict(meta["config"]).data).train.x[:2000] if kind == "points" else None
    return G, kind, real


def _latest_good(run_dir: Path) -> ckpt.Checkpoint:
    """The checkpoint ``gankit train --resume`` would continue from (a damaged latest: the previous good one, with a
    warning); RunDirError when there is none."""
    try:
        c = ckpt.load_latest_good(run_dir / "checkpoints")
    except CheckpointError as e:
        raise RunDirError(f"{run_dir} holds no readable checkpoint: {e}") from None
    if c is None:
        raise RunDirError(f"{run_dir} holds no readable checkpoint (none was written)")
    return c


def labels_for(G: Generator, n: int, label: int | None = None) -> torch.Tensor | None:
    """Labels int64 [n] for a conditional G: all ``label``, or classes 0..C-1 in turn (balanced); None when
    unconditional (asking an unconditional G for a class is an error)."""
    if not G.num_classes:
        if label is not None:
            raise RunDirError(
                "this run's generator is unconditional: --class needs a run trained with "
                "model.conditional=concat, projection or acgan"
            )
        return None
    if label is None:
        return torch.arange(n) % G.num_classes
    if not 0 <= label < G.num_classes:
        raise RunDirError(
            f"class {label} is out of range: this generator has classes 0..{G.num_classes - 1}"
        )
    return torch.full((n,), label, dtype=torch.int64)


@torch.no_grad()
def sample(
    G: Generator,
    n: int,
    seed: int,
    batch: int = 1000,
    labels: torch.Tensor | None = None,
    truncation: float = 1.0,
) -> torch.Tensor:
    """n samples from G (on G's device) with noise from a CPU generator seeded ``seed`` (same seed → same
    samples). A conditional G takes ``labels`` int64 [n] (default: classes in turn, see :func:`labels_for`).
    ``truncation`` ψ: the noise is pulled toward the prior's mean (gankit.models.latent.truncate; 1: unchanged).
    A G whose output holds NaN or Inf is a RunDirError: such samples are no samples."""
    gen = torch.Generator().manual_seed(seed)
    device = next(G.parameters()).device
    z = truncate(G.sample_z(n, generator=gen, device="cpu"), truncation).to(device)
    if G.num_classes and labels is None:
        labels = labels_for(G, n)
    labels = labels.to(device) if labels is not None else None
    if labels is None:
        x = torch.cat([G(z[i : i + batch]) for i in range(0, n, batch)])
    else:
        x = torch.cat([G(z[i : i + batch], labels[i : i + batch]) for i in range(0, n, batch)])
    if not bool(torch.isfinite(x).all()):
        bad = int((~torch.isfinite(x.reshape(n, -1))).any(1).sum())
        raise RunDirError(
            f"the generator produced non-finite values (NaN/Inf) in {bad} of {n} samples (seed {seed}): "
            f"its weights overflow; sample an earlier checkpoint with --checkpoint STEP"
        )
    return x


def save_samples(
    run_dir: Path,
    n: int,
    seed: int,
    *,
    which: str | int = "latest",
    label: int | None = None,
    png: Path | None = None,
    npz: Path | None = None,
    truncation: float = 1.0,
) -> str:
    """Draw ``n`` samples (noise seed ``seed``; class ``label`` or all classes in turn) from the run's generator and
    write a picture to ``png`` (default RUN/sample.png: an image grid, or points over the data) and, when given, an
    .npz to ``npz`` (``x``: uint8 [n, C, H, W] images or float32 [n, d] points; ``y``: int64 [n] labels). Returns
    what was drawn, in words."""
    G, kind, real = load_generator(Path(run_dir), which)
    labels = labels_for(G, n, label)
    x = sample(G, n, seed, labels=labels, truncation=truncation)
    what = f"{n} samples, seed {seed}" + (f", class {label}" if label is not None else "")
    what += f", truncation {truncation}" if truncation != 1.0 else ""
    pixels = to_uint8(x, G.value_range) if kind == "image" else None
    if pixels is not None:
        columns = G.num_classes if G.num_classes and label is None else None
        write_atomic(
            Path(png or Path(run_dir) / "sample.png"), png_bytes(grid_image(pixels, nrow=columns))
        )
    else:
        write_atomic(Path(png or Path(run_dir) / "sample.png"), points_plot(x, real, title=what))
    if npz is not None:
        arrays = {"x": (pixels if pixels is not None else x).numpy()}
        if labels is not None:
            arrays["y"] = labels.numpy()
        write_atomic(Path(npz), npz_bytes(arrays))
    return what
