"""What the page draws, computed on the server from the trainer with gankit's own snapshot and metric code.

``setup`` messages (one per reset) carry the constants: real points (up to 2,000), the box D is drawn on and, in
1-D, p_data as a Gaussian KDE on :func:`~gankit.train.snapshots.snapshot_grid`'s 400 points. ``frame`` messages carry
:func:`~gankit.train.snapshots.take_snapshot` of G and D (G on the trainer's 2,000 fixed noise vectors, D on the
grid), the generator's manifold, p_g (1-D) and the metric:

- ring8 / grid25: :func:`~gankit.metrics.modes.mode_coverage` (modes captured, share of high-quality samples);
- gauss1d: :func:`~gankit.metrics.modes.jsd_to_gaussian` against the data's N(mean, std²);
- an uploaded file: Jensen–Shannon divergence between histograms of the real and the generated points (64 bins in
  1-D, 32×32 in 2-D, over the box the real data is drawn in; generated points outside the box share one extra bin).

The manifold is G over a lattice of noise: for z_dim = 1 the curve G(z) (2-D data) or the paper's Figure 1 arrows
z → G(z) (1-D data); for z_dim ≥ 2 the lines of the (z₁, z₂) plane with the other coordinates held at 0, i.e. a
2-D slice through the prior's centre. Lines span ±√3 (uniform prior, its support) or ±2 (normal prior).
"""

from __future__ import annotations

import math
from typing import Any, Callable

import torch
from torch import Tensor

from ..data.toy import mode_mixture
from ..errors import MetricError, TrainingDiverged
from ..metrics.modes import jensen_shannon, jsd_to_gaussian, kde_1d, mode_coverage
from ..models.base import prior_half_width
from ..train import Trainer
from ..train.snapshots import GRID_2D_SIDE, Z_LINE, snapshot_grid, take_snapshot

MANIFOLD_LINES, MANIFOLD_POINTS = 11, 41
HIST_BINS = {1: 64, 2: 32}

Metric = Callable[[Tensor], dict[str, Any]]


def _r(t: Tensor, digits: int = 4) -> list:
    """A float tensor as (nested) lists of rounded Python floats, for JSON."""
    return torch.round(t.double(), decimals=digits).tolist()


def histogram_jsd(real: Tensor, fake: Tensor, lo: Tensor, hi: Tensor, bins: int) -> float:
    """JSD (nats, [0, log 2]) of the histograms of real and fake [N, d] points, ``bins`` per axis over [lo, hi]."""

    def hist(x: Tensor) -> Tensor:
        cell = ((x - lo) / (hi - lo) * bins).floor().long()
        inside = ((cell >= 0) & (cell < bins)).all(1)
        flat = sum(cell[inside, i] * bins ** (x.shape[1] - 1 - i) for i in range(x.shape[1]))
        counts = torch.bincount(flat, minlength=bins ** x.shape[1]).double()
        return torch.cat(
            [torch.zeros(1), counts, torch.tensor([float((~inside).sum())]), torch.zeros(1)]
        )

    # zero ends make jensen_shannon's trapezoid rule a plain sum over the bins
    return jensen_shannon(hist(real.double()), hist(fake.double()), 1.0)


def metric_for(dataset: str, trainer: Trainer, real: Tensor, lo: Tensor, hi: Tensor) -> Metric:
    """samples [S, d] → {"name", "value", "text"} for the page (see the module docstring)."""
    mixture = mode_mixture(dataset)
    if mixture is not None:
        modes, std = mixture

        def coverage(s: Tensor) -> dict[str, Any]:
            m = mode_coverage(s, modes, std)
            return {
                "name": "modes",
                "value": m["modes"],
                "text": f"{m['modes']:.0f}/{len(modes)} modes · {m['high_quality']:.1%} high quality",
            }

        return coverage
    if dataset == "gauss1d":
        mean, std = trainer.cfg.data.mean, trainer.cfg.data.std

        def jsd(s: Tensor) -> dict[str, Any]:
            value = jsd_to_gaussian(s, mean, std)
            return {
                "name": "jsd",
                "value": value,
                "text": f"JSD to N({mean:g}, {std:g}²): {value:.4f} nats",
            }

        return jsd
    bins = HIST_BINS[real.shape[1]]

    def hist_jsd(s: Tensor) -> dict[str, Any]:
        value = histogram_jsd(real, s, lo, hi, bins)
        return {"name": "jsd", "value": value, "text": f"histogram JSD: {value:.4f} nats"}

    return hist_jsd


def manifold_z(z_dim: int, prior: str) -> Tensor:
    """float32 [L, P, z_dim]: one line of P points (z_dim 1), or 2·11 lines of the (z₁, z₂) plane, rest 0."""
    half = prior_half_width(prior)
    t = torch.linspace(-half, half, MANIFOLD_POINTS)
    if z_dim == 1:
        return t[None, :, None]
    ticks = torch.linspace(-half, half, MANIFOLD_LINES)[:, None].expand(-1, MANIFOLD_POINTS)
    along = t[None, :].expand(MANIFOLD_LINES, -1)
    plane = torch.cat([torch.stack([ticks, along], -1), torch.stack([along, ticks], -1)])
    z = torch.zeros(*plane.shape[:2], z_dim)
    z[..., :2] = plane
    return z


class View:
    """The picture of one trainer (one reset): builds its ``setup`` and ``frame`` messages (JSON-able dicts)."""

    def __init__(self, trainer: Trainer, settings: dict[str, Any], setup_id: int) -> None:
        self.trainer, self.settings, self.setup_id = trainer, settings, setup_id
        self.real = trainer.x[: len(trainer.fixed_z)].cpu()  # as many as G draws: 2,000
        self.dim = self.real.shape[1]
        self.grid = snapshot_grid(self.real)
        self.lo, self.hi = self.grid.min(0).values, self.grid.max(0).values
        self.metric = metric_for(settings["dataset"], trainer, self.real, self.lo, self.hi)
        self.p_data = self._density(self.real) if self.dim == 1 else None

    def setup(self) -> dict[str, Any]:
        """Constants: ``real`` [≤2000, d]; ``n_real`` all of them; ``source`` where the data came from (an upload's
        file name); ``lo``/``hi`` the drawn box; 2-D: D's values come as a ``side``×``side`` lattice, index i·side + j
        at (x_i, y_j); 1-D: ``p_data`` on ``grid``."""
        t = self.trainer
        msg = {
            "type": "setup",
            "id": self.setup_id,
            "settings": self.settings,
            "dim": self.dim,
            "source": t.dataset.source,
            "n_real": t.n_train,
            "real": _r(self.real),
            "lo": _r(self.lo),
            "hi": _r(self.hi),
        }
        if self.dim == 1:
            msg.update(grid=_r(self.grid[:, 0]), p_data=_r(self.p_data, 5))
        else:
            msg.update(side=GRID_2D_SIDE)
        return msg

    def frame(self) -> dict[str, Any]:
        """G's samples, D on the grid, the manifold, p_g (1-D) and the metric at the trainer's current step."""
        t = self.trainer
        snap = take_snapshot(t.G_eval, t.D, self.grid, t.fixed_z)
        samples, d = snap["samples"], snap["d_grid"]
        if not (torch.isfinite(samples).all() and torch.isfinite(d).all()):
            raise TrainingDiverged(
                f"training diverged at step {t.step}: G or D produced NaN/Inf; press reset "
                f"(lower learning rates help)"
            )
        msg: dict[str, Any] = {
            "type": "frame",
            "id": self.setup_id,
            "step": t.step,
            "nimg": t.nimg,
            "samples": _r(samples, 3),
            "metric": self._metric(samples),
        }
        if self.dim == 2:
            lines = t.generate(
                manifold_z(t.G.z_dim, t.G.prior).reshape(-1, t.G.z_dim).to(t.device), t.G_eval
            )
            msg.update(
                d=(d * 255).round().to(torch.uint8).tolist(),
                manifold=_r(lines.reshape(-1, MANIFOLD_POINTS, 2).clamp(-1e6, 1e6).cpu(), 3),
            )
        else:
            msg.update(d=_r(d, 3), p_g=_r(self._density(samples), 5), arrows=self._arrows(snap))
        return msg

    def _metric(self, samples: Tensor) -> dict[str, Any]:
        try:
            return self.metric(samples)
        except MetricError as e:
            return {"name": "none", "value": None, "text": f"metric unavailable: {e}"}

    def _density(self, samples: Tensor) -> Tensor:
        """Gaussian KDE of 1-D points on the grid (Scott's bandwidth; the grid spacing when they all coincide)."""
        g = self.grid[:, 0]
        try:
            return kde_1d(samples, g)
        except MetricError:
            return kde_1d(samples, g, bandwidth=float(g[1] - g[0]))

    def _arrows(self, snap: dict[str, Tensor]) -> dict[str, list]:
        """The paper's Figure 1 arrows: evenly spaced z across the prior and G(z) (z₁ with the rest at 0 when
        z_dim > 1)."""
        if "z_line" in snap:
            z, x = snap["z_line"], snap["x_line"]
        else:
            t = self.trainer
            half = prior_half_width(t.G.prior)
            z = torch.linspace(-half, half, Z_LINE)
            zs = torch.zeros(Z_LINE, t.G.z_dim)
            zs[:, 0] = z
            x = t.generate(zs.to(t.device), t.G_eval).reshape(-1).cpu()
        return {"z": _r(z), "x": _r(x.clamp(-1e6, 1e6))}


def finite_means(sums: dict[str, Tensor], n: int) -> dict[str, float]:
    """Per-key means of summed step statistics (one host sync); NaN/Inf raise TrainingDiverged."""
    means = {k: float(v) / n for k, v in sums.items()}
    bad = [k for k, v in means.items() if not math.isfinite(v)]
    if bad:
        raise TrainingDiverged(
            f"training diverged: non-finite {', '.join(bad)}; press reset (lower learning rates "
            f"help)"
        )
    return means
