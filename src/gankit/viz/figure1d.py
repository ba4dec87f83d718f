"""The 1-D picture of Goodfellow et al. (2014), "Generative Adversarial Nets", Figure 1, drawn from training snapshots.

Each panel shows the data density p_data (black dotted), the generator's density p_g (green solid; a Gaussian KDE of
G's samples), the discriminator D(x) (blue dashed) and, below, the noise line z with arrows up to x = G(z): how G maps
the uniform noise onto the data. At the paper's equilibrium p_g = p_data and D = ½ (Proposition 1 gives the optimal
D*(x) = p_data / (p_data + p_g); Theorem 1 gives C(G) = −log 4 + 2·JSD(p_data ‖ p_g)). Snapshots are dicts as written
by ``gankit.train.snapshots`` (``grid`` [G, 1], ``d_grid`` [G], ``samples`` [S, 1], optional ``z_line``/``x_line``
[L]); callers pass them in, this module only draws. Every function returns deterministic PNG or GIF bytes.
"""

from __future__ import annotations

import io
import math

import torch
from PIL import Image

from .grids import even_indices, figure_png, gif_bytes, new_figure

Snapshots = list[tuple[int, dict[str, torch.Tensor]]]
_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_PLOT_POINTS = 600


def _vec(t: torch.Tensor) -> torch.Tensor:
    return t.detach().to("cpu", torch.float64).reshape(-1)


def kde(samples: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """Gaussian KDE of 1-D ``samples`` ([N] or [N, 1], N ≥ 2) evaluated at ``grid`` ([G] or [G, 1]) → float64 [G].

    Bandwidth by Scott's rule, h = N^(-1/5)·std (unbiased std, as scipy.stats.gaussian_kde), floored at half the
    grid spacing so that a (nearly) collapsed generator still gives a spike that the grid resolves and integrates.
    """
    s, g = _vec(samples), _vec(grid)
    scott = s.numel() ** -0.2 * float(s.std()) if s.numel() > 1 else 0.0
    spacing = float(g.max() - g.min()) / max(g.numel() - 1, 1)
    h = max(scott, 0.5 * spacing, 1e-12)
    out = torch.empty_like(g)
    chunk = max(1, 4_000_000 // max(s.numel(), 1))
    for i in range(0, g.numel(), chunk):
        u = (g[i : i + chunk, None] - s[None, :]) / h
        out[i : i + chunk] = torch.exp(-0.5 * u * u).mean(1)
    return out / (h * math.sqrt(2.0 * math.pi))


def gaussian_pdf(x: torch.Tensor, mean: float, std: float) -> torch.Tensor:
    """Exact N(mean, std²) density at ``x`` (any shape) → float64 [numel]."""
    u = (_vec(x) - mean) / std
    return torch.exp(-0.5 * u * u) / (std * math.sqrt(2.0 * math.pi))


def optimal_discriminator(p_data: torch.Tensor, p_g: torch.Tensor) -> torch.Tensor:
    """D*(x) = p_data / (p_data + p_g) (paper, Proposition 1), float64 [G] in [0, 1]; NaN where both densities are 0."""
    p, q = _vec(p_data), _vec(p_g)
    total = p + q
    return torch.where(total > 0, p / total.clamp_min(1e-300), torch.full_like(p, float("nan")))


def jsd_on_grid(p: torch.Tensor, q: torch.Tensor, grid: torch.Tensor) -> float:
    """Jensen–Shannon divergence in nats (0 … log 2) of two densities tabulated on a sorted 1-D ``grid`` [G].

    Both are renormalised to integrate to 1 by the trapezoid rule; 0·log 0 = 0.
    """
    x, p, q = _vec(grid), _vec(p).clamp_min(0), _vec(q).clamp_min(0)
    p, q = p / torch.trapezoid(p, x), q / torch.trapezoid(q, x)
    m = 0.5 * (p + q)

    def kl_to_m(a: torch.Tensor) -> float:
        terms = torch.where(a > 0, a * torch.log(a / m.clamp_min(1e-300)), torch.zeros_like(a))
        return float(torch.trapezoid(terms, x))

    return max(0.0, 0.5 * kl_to_m(p) + 0.5 * kl_to_m(q))


def _nearest(available: list[int], step: float) -> int:
    return min(available, key=lambda s: (abs(s - step), s))


def figure1_steps(available: list[int], steps: list[int] | None = None) -> list[int]:
    """The snapshot steps for the panels: for each of ``steps`` the nearest available one (ties → earlier).

    Default: the first snapshot (the untrained G), those nearest to 1/6 and 1/2 of the last step (G on its way; D
    guiding it), and the last (near equilibrium). With fewer than four snapshots some panels repeat.
    """
    if not available:
        raise ValueError("figure1 needs at least one snapshot")
    available = sorted(available)
    if steps is None:
        first, last = available[0], available[-1]
        steps = [first, first + (last - first) / 6, first + (last - first) / 2, last]
    if not 1 <= len(steps) <= len(_LETTERS):
        raise ValueError(f"steps must list 1 to {len(_LETTERS)} steps, got {len(steps)}")
    return [_nearest(available, s) for s in steps]


def _limits(
    snaps: list[dict[str, torch.Tensor]], mean: float, std: float
) -> tuple[float, float, float]:
    """Shared x range (grid, data ± 4σ, x_line) and y top (D's 1, p_data, p_g capped at 2·max p_data)."""
    lo, hi = mean - 4 * std, mean + 4 * std
    for s in snaps:
        lo, hi = min(lo, float(s["grid"].min())), max(hi, float(s["grid"].max()))
        if "x_line" in s:
            lo, hi = min(lo, float(s["x_line"].min())), max(hi, float(s["x_line"].max()))
    peak = 1.0 / (std * math.sqrt(2 * math.pi))
    xs = torch.linspace(lo, hi, _PLOT_POINTS, dtype=torch.float64)
    pg = max(float(kde(s["samples"], xs).max()) for s in snaps)
    return lo, hi, 1.12 * max(1.0, peak, min(pg, 2.0 * peak))


def _draw_panel(
    ax, ax_z, snap: dict[str, torch.Tensor], mean: float, std: float, lims, title: str
) -> None:
    lo, hi, top = lims
    xs = torch.linspace(lo, hi, _PLOT_POINTS, dtype=torch.float64)
    ax.axhline(0.5, color="0.8", lw=0.8, zorder=0)
    ax.plot(xs, gaussian_pdf(xs, mean, std), ":", color="black", lw=2.0, label="data  $p_{data}$")
    ax.plot(xs, kde(snap["samples"], xs), "-", color="green", lw=1.8, label="generator  $p_g$")
    ax.plot(
        _vec(snap["grid"]),
        _vec(snap["d_grid"]),
        "--",
        color="blue",
        lw=1.6,
        label="discriminator  $D(x)$",
    )
    ax.set(xlim=(lo, hi), ylim=(0, top), title=title)
    ax.tick_params(bottom=False, labelbottom=False)
    ax.set_yticks([0.5 * i for i in range(1, int(top / 0.5) + 1)])  # no 0: the x label sits there
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.spines["bottom"].set(linewidth=1.2, color="black")  # the x-line
    _draw_z_axis(ax_z, snap, lo, hi)


def _draw_z_axis(ax_z, snap: dict[str, torch.Tensor], lo: float, hi: float) -> None:
    """The lower strip: the z-line and, where the snapshot has them, arrows from z to G(z) on the x-line."""
    ax_z.set(xlim=(lo, hi), ylim=(0, 1), yticks=[])
    ax_z.set_axis_off()
    ax_z.hlines(0.1, lo, hi, color="black", lw=1.2)  # the z-line
    for label, height in (("x", 1.0), ("z", 0.1)):
        ax_z.text(
            lo - 0.015 * (hi - lo),
            height,
            label,
            ha="right",
            va="center",
            fontsize=12,
            style="italic",
        )
    if "z_line" not in snap or "x_line" not in snap:
        return
    z, x = _vec(snap["z_line"]), _vec(snap["x_line"])
    span = float(z.max() - z.min() + 1e-12)
    zpos = lo + 0.1 * (hi - lo) + (z - z.min()) / span * 0.8 * (hi - lo)
    arrow = dict(arrowstyle="-|>", mutation_scale=7, color="0.2", lw=0.7, shrinkA=0, shrinkB=0)
    for a, b in zip(zpos.tolist(), x.tolist()):
        ax_z.annotate("", xy=(b, 1.0), xytext=(a, 0.1), annotation_clip=False, arrowprops=arrow)


def _figure(ncols: int, width: float):
    return new_figure(
        figsize=(width * ncols, 4.4),
        dpi=100,
        nrows=2,
        ncols=ncols,
        squeeze=False,
        gridspec_kw={"height_ratios": [3.2, 1.0], "hspace": 0.0, "wspace": 0.12},
    )


def figure1(
    snapshots: Snapshots, data_mean: float, data_std: float, *, steps: list[int] | None = None
) -> bytes:
    """PNG of the paper's Figure 1 from a 1-D run: panels (a)… side by side, one per chosen step (see
    ``figure1_steps``), sharing x and y axes; p_g taller than twice p_data's peak is clipped (an early, collapsed G).
    ``snapshots``: (step, dict) pairs; no z → x arrows where ``z_line`` is absent (z_dim > 1)."""
    by_step = dict(snapshots)
    chosen = figure1_steps(list(by_step), steps)
    snaps = [by_step[s] for s in chosen]
    lims = _limits(snaps, data_mean, data_std)
    fig, axes = _figure(len(chosen), 3.6)
    for i, (step, snap) in enumerate(zip(chosen, snaps)):
        _draw_panel(
            axes[0, i], axes[1, i], snap, data_mean, data_std, lims, f"({_LETTERS[i]}) step {step}"
        )
        if i:
            axes[0, i].tick_params(left=False, labelleft=False)
            axes[0, i].spines["left"].set_visible(False)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=3, frameon=False, fontsize=10)
    fig.subplots_adjust(left=0.04, right=0.99, top=0.92, bottom=0.1)
    return figure_png(fig)


def figure1_gif(
    snapshots: Snapshots, data_mean: float, data_std: float, *, max_frames: int = 60
) -> bytes:
    """Animated GIF (loop forever, 200 ms a frame) of one Figure 1 panel per snapshot, evenly subsampled to at most
    ``max_frames``, titled "step N", with axes fixed across frames."""
    if not snapshots:
        raise ValueError("figure1_gif needs at least one snapshot")
    snapshots = sorted(snapshots, key=lambda t: t[0])
    picked = [snapshots[i] for i in even_indices(len(snapshots), max_frames)]
    lims = _limits([s for _, s in picked], data_mean, data_std)
    fig, axes = _figure(1, 4.6)
    frames = []
    for step, snap in picked:
        axes[0, 0].clear()
        axes[1, 0].clear()
        _draw_panel(axes[0, 0], axes[1, 0], snap, data_mean, data_std, lims, f"step {step}")
        axes[0, 0].legend(loc="upper right", fontsize=7, frameon=False)
        fig.subplots_adjust(left=0.12, right=0.97, top=0.92, bottom=0.03)
        frames.append(Image.open(io.BytesIO(figure_png(fig))).convert("RGB"))
    return gif_bytes(frames, 200)


def _integration_grid(samples: torch.Tensor, mean: float, std: float) -> torch.Tensor:
    """A fine grid [2001] covering both N(mean, std²) (±8σ) and the samples (±4 of their std)."""
    s = _vec(samples)
    pad = 4 * max(float(s.std()) if s.numel() > 1 else 0.0, 1e-3 * std)
    lo, hi = min(mean - 8 * std, float(s.min()) - pad), max(mean + 8 * std, float(s.max()) + pad)
    return torch.linspace(lo, hi, 2001, dtype=torch.float64)


def theory_overlay(snapshots: Snapshots, data_mean: float, data_std: float) -> bytes:
    """PNG, two panels. Left: at the last snapshot, learned D(x) against D*(x) = p_data / (p_data + p_g), drawn where
    p_data + p_g > 1e-3 of its max. Right: JSD(p_data ‖ p_g) in nats over training and the virtual training criterion
    C(G) = −log 4 + 2·JSD (paper, Theorem 1), with its global minimum −log 4 for reference."""
    if not snapshots:
        raise ValueError("theory_overlay needs at least one snapshot")
    snapshots = sorted(snapshots, key=lambda t: t[0])
    step, last = snapshots[-1]
    x = _vec(last["grid"])
    p, q = gaussian_pdf(x, data_mean, data_std), kde(last["samples"], x)
    d_star = optimal_discriminator(p, q)
    d_star[(p + q) <= 1e-3 * float((p + q).max())] = float("nan")
    steps, jsd = [], []
    for s, snap in snapshots:
        g = _integration_grid(snap["samples"], data_mean, data_std)
        steps.append(s)
        jsd.append(jsd_on_grid(gaussian_pdf(g, data_mean, data_std), kde(snap["samples"], g), g))
    fig, (left, right) = new_figure(figsize=(10, 3.8), dpi=100, ncols=2)
    left.axhline(0.5, color="0.8", lw=0.8)
    left.plot(x, _vec(last["d_grid"]), "--", color="blue", lw=1.6, label="learned $D(x)$")
    left.plot(x, d_star, "-", color="red", lw=1.4, label="optimal $D^*(x)=p_{data}/(p_{data}+p_g)$")
    left.set(ylim=(-0.02, 1.02), xlabel="x", title=f"discriminator at step {step}")
    left.legend(loc="best", fontsize=8, frameon=False)
    right.axhline(-math.log(4), color="0.5", ls=":", lw=1.0, label="$-\\log 4$")
    right.plot(
        steps, jsd, "-", color="purple", lw=1.4, marker=".", label="JSD$(p_{data}\\|p_g)$ (nats)"
    )
    right.plot(
        steps,
        [2 * j - math.log(4) for j in jsd],
        "-",
        color="orange",
        lw=1.4,
        marker=".",
        label="$C(G) = -\\log 4 + 2\\,$JSD",
    )
    right.set(xlabel="step", title="virtual training criterion")
    right.legend(loc="best", fontsize=8, frameon=False)
    fig.subplots_adjust(left=0.07, right=0.98, top=0.92, bottom=0.13, wspace=0.2)
    return figure_png(fig)
