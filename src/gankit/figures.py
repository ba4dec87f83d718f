"""`gankit figures` and `gankit report`: pictures of a finished (or running) run, with no re-training.

Glue only: reads the run folder (config, metrics.jsonl, snapshots, sample grids, checkpoints) and hands tensors to
:mod:`gankit.viz`. 1-D runs get the paper's Figure 1 (Goodfellow et al., 2014) and the theory overlay; 2-D runs the
real/generated points over D's heatmap; image runs the grid over training, nearest training images and latent
interpolations; every run its training curves. Outputs are deterministic for a given run.
"""

from __future__ import annotations

import json
import platform
import sys
from pathlib import Path

import torch

from . import __version__
from .config import Config, load_config
from .data import load_dataset, to_uint8
from .data.toy import mode_mixture
from .errors import RunDirError
from .fileio import write_atomic
from .metrics.modes import mode_coverage
from .models.latent import lerp
from .train import checkpoint as ckpt
from .train.guard import read_doctor
from .train.logger import read_metrics
from .train.restore import labels_for, load_generator, sample
from .train.snapshots import load_snapshots
from .viz.curves import quality_curve, quality_keys, training_curves
from .viz.figure1d import figure1, figure1_gif, theory_overlay
from .viz.images import grid_gif, interpolation_figure, nearest_neighbour_figure, nearest_neighbours
from .viz.report import build_report
from .viz.toy2d import toy2d_frame, toy2d_gif

NEAREST_SAMPLES, INTERP_ROWS, INTERP_STEPS = 30, 8, 10
FIGURE_SEED = 0


def _run_config(run_dir: Path) -> Config:
    if not (run_dir / "config.yaml").is_file():
        raise RunDirError(f"{run_dir} is not a gankit run folder (no config.yaml)")
    return load_config(str(run_dir / "config.yaml"))


def _write(folder: Path, name: str, data: bytes, written: list[Path]) -> None:
    write_atomic(folder / name, data)
    written.append(folder / name)


def _points_figures(run_dir: Path, cfg: Config, out: Path, written: list[Path]) -> None:
    snapshots = load_snapshots(run_dir)
    if not snapshots:
        raise RunDirError(
            f"{run_dir} has no snapshots/; train with train.snapshot_every > 0 to get 1-D/2-D figures"
        )
    dim = snapshots[0][1]["samples"].shape[1]
    if dim == 1:
        if cfg.data.name != "gauss1d":
            raise RunDirError("Figure 1 needs the data density: it is drawn for gauss1d runs")
        _write(out, "figure1.png", figure1(snapshots, cfg.data.mean, cfg.data.std), written)
        _write(out, "figure1.gif", figure1_gif(snapshots, cfg.data.mean, cfg.data.std), written)
        _write(out, "theory.png", theory_overlay(snapshots, cfg.data.mean, cfg.data.std), written)
        return

    real = load_dataset(cfg.data).train.x[:2000]
    titles = [_toy2d_title(cfg.data.name, step, snap["samples"]) for step, snap in snapshots]
    _write(out, "points.gif", toy2d_gif(snapshots, real, titles), written)
    _write(out, "points.png", toy2d_frame(snapshots[-1][1], real, titles[-1]), written)


def _toy2d_title(data_name: str, step: int, samples: torch.Tensor) -> str:
    mixture = mode_mixture(data_name)
    if mixture is None:
        return f"step {step}"
    modes, std = mixture
    m = mode_coverage(samples, modes, std)
    return f"step {step}: {m['modes']:.0f}/{len(modes)} modes, {100 * m['high_quality']:.1f}% high quality"


def _image_figures(run_dir: Path, cfg: Config, out: Path, written: list[Path]) -> None:
    grids = sorted((run_dir / "samples").glob("step-*.png"))
    if grids:
        labels = [f"step {ckpt.step_of(p.stem)}" for p in grids]
        _write(out, "samples.gif", grid_gif([p.read_bytes() for p in grids], labels), written)
    G, _, _ = load_generator(run_dir)
    fakes = to_uint8(sample(G, NEAREST_SAMPLES, FIGURE_SEED), G.value_range)
    train = load_dataset(cfg.data).split(cfg.data.split).x
    nearest = train[nearest_neighbours(fakes, train)]
    _write(out, "nearest.png", nearest_neighbour_figure(fakes, nearest), written)
    gen = torch.Generator().manual_seed(FIGURE_SEED)
    ends = G.sample_z(2 * INTERP_ROWS, generator=gen, device="cpu").view(INTERP_ROWS, 2, -1)
    t = torch.linspace(0, 1, INTERP_STEPS)
    z = torch.stack([lerp(a, b, t) for a, b in ends])  # the paper's Figure 3: straight lines in z
    with torch.no_grad():
        z = z.reshape(INTERP_ROWS * INTERP_STEPS, -1)
        labels = labels_for(G, INTERP_ROWS)  # a conditional G: one class per row
        images = to_uint8(
            G(z) if labels is None else G(z, labels.repeat_interleave(INTERP_STEPS)), G.value_range
        )
    _write(
        out,
        "interpolation.png",
        interpolation_figure(images.view(INTERP_ROWS, INTERP_STEPS, *images.shape[1:])),
        written,
    )


def _eval_rows(run_dir: Path) -> list[dict] | None:
    path = run_dir / "eval.json"
    if not path.is_file():
        return None
    try:
        rows = json.loads(path.read_text())["rows"]
    except (ValueError, KeyError, TypeError):
        raise RunDirError(f"{path} is not a valid eval.json (rerun gankit eval)") from None
    for row in rows:
        row.setdefault("step", ckpt.step_of(str(row.get("checkpoint", ckpt.step_name(0)))))
    return rows


def make_figures(run_dir: str | Path) -> list[Path]:
    """Write every figure that applies to the run into ``RUN/figures/``; returns their paths."""
    run_dir = Path(run_dir)
    cfg = _run_config(run_dir)
    meta = ckpt.load(run_dir / "checkpoints").meta
    out = run_dir / "figures"
    out.mkdir(exist_ok=True)
    written: list[Path] = []
    if meta["kind"] == "points":
        _points_figures(run_dir, cfg, out, written)
    else:
        _image_figures(run_dir, cfg, out, written)
    rows = read_metrics(run_dir)
    _write(out, "curves.png", training_curves(rows, _eval_rows(run_dir)), written)
    if quality_keys(rows):
        _write(out, "quality.png", quality_curve(rows), written)
    return written


def make_report(run_dir: str | Path) -> Path:
    """Write ``RUN/report.html`` (one self-contained file); figures are made first if the run has none."""
    run_dir = Path(run_dir)
    _run_config(run_dir)
    figures = sorted((run_dir / "figures").glob("*.*")) if (run_dir / "figures").is_dir() else []
    if not figures:
        figures = make_figures(run_dir)
    rows = read_metrics(run_dir)
    meta = ckpt.load(run_dir / "checkpoints").meta
    training_rows = [r for r in rows if "d_loss" in r]
    last = training_rows[-1] if training_rows else {}
    timings = {
        "training time": f"{last.get('time_s', 0):.1f} s",
        "steps": f"{meta['step']:,}",
        "real images shown": f"{meta['nimg']:,}",
        "last images/s": f"{last.get('img_per_s', 0):,.0f}",
    }
    evals = _eval_rows(run_dir)
    if evals:
        timings["evaluation"] = f"{sum(r.get('seconds', 0) for r in evals):.1f} s"
    if meta.get("quality") and meta["quality"].get("best") is not None:
        q = meta["quality"]
        timings["evaluation while training"] = f"{q['seconds']:.1f} s"
        timings[f"best {q['metric']}"] = f"{q['best']:.4f} at step {q['best_step']:,}"
    environment = {
        "gankit": __version__,
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "platform": platform.platform(),
        "device": meta.get("device", "?"),
    }
    html = build_report(
        title=f"gankit run {run_dir.name}",
        config_yaml=(run_dir / "config.yaml").read_text(),
        metrics_rows=training_rows,
        eval_rows=evals,
        figures=[(p.name, p.read_bytes()) for p in sorted(figures)],
        timings=timings,
        environment=environment,
        doctor_rows=read_doctor(run_dir),
    )
    write_atomic(run_dir / "report.html", html.encode())
    return run_dir / "report.html"
