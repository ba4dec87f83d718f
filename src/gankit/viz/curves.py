"""Training curves of a GAN run (Goodfellow et al., 2014, Algorithm 1): losses, D's outputs, schedules, metrics.

At the game's equilibrium D(x) = ½ everywhere (the paper's Proposition 1 with p_g = p_data), so the panel of mean
D(x) and D(G(z)) carries a reference line at ½. The figure is a deterministic PNG (same rows → same bytes).
"""

from __future__ import annotations

import math
from typing import Any

from .grids import figure_png, new_figure

DPI = 80


def _number(value: Any) -> float | None:
    """A finite float, or None for missing, non-numeric, boolean or non-finite values."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _series(rows: list[dict], key: str) -> tuple[list[float], list[float]]:
    """(steps, values) of the rows that have both a numeric ``step`` and a numeric ``key``."""
    xs, ys = [], []
    for row in rows:
        x, y = _number(row.get("step")), _number(row.get(key))
        if x is not None and y is not None:
            xs.append(x)
            ys.append(y)
    return xs, ys


def _eval_step(row: dict) -> Any:
    """An eval row's step: its ``step`` key, else the number in a ``step-000000500`` checkpoint name."""
    if "step" in row:
        return row["step"]
    tail = str(row.get("checkpoint", "")).rpartition("-")[2]
    return int(tail) if tail.isdigit() else None


def _plot_keys(ax, rows: list[dict], keys: list[tuple[str, str]]) -> bool:
    """Plot each (key, label) series that has data; True when anything was drawn."""
    drawn = False
    for key, label in keys:
        xs, ys = _series(rows, key)
        if xs:
            ax.plot(xs, ys, label=label, linewidth=1.2, marker="." if len(xs) < 3 else None)
            drawn = True
    return drawn


def _finish(ax, drawn: bool, title: str, ylabel: str, *, empty: bool | None = None) -> None:
    """Title, label, grid, legend when something labelled was drawn, and "no data" when the panel is ``empty``."""
    ax.set_title(title, fontsize=10)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    if drawn:
        ax.legend(loc="upper left", fontsize=8)
    if not drawn if empty is None else empty:
        ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes, color="0.5")


def _losses(ax, rows: list[dict]) -> None:
    drawn = _plot_keys(ax, rows, [("d_loss", "D loss"), ("g_loss", "G loss")])
    _finish(ax, drawn, "Losses", "loss")


def _discriminator(ax, rows: list[dict]) -> None:
    drawn = _plot_keys(ax, rows, [("d_real", "mean D(x)"), ("d_fake", "mean D(G(z))")])
    ax.axhline(
        0.5, color="0.4", linestyle="--", linewidth=0.8, label="½ (equilibrium)" if drawn else None
    )
    ax.set_ylim(-0.03, 1.03)  # probabilities
    _finish(ax, drawn, "Discriminator outputs", "D")


def _schedules(ax, rows: list[dict]) -> None:
    drawn = _plot_keys(ax, rows, [("lr", "learning rate")])
    xs, ys = _series(rows, "momentum")
    if xs:
        twin = ax.twinx()
        twin.plot(xs, ys, color="tab:orange", linewidth=1.2, label="momentum")
        twin.set_ylabel("momentum")
        twin.legend(loc="upper right", fontsize=8)
    _finish(ax, drawn, "Schedules", "learning rate", empty=not drawn and not xs)


def _augmentation(ax, rows: list[dict]) -> None:
    """The probability p that an image D sees is augmented and ADA's overfitting signal r_t, both in [−1, 1]."""
    drawn = _plot_keys(
        ax, rows, [("augment_p", "p (augmentation)"), ("ada_rt", "r_t = E[sign D(x_real)]")]
    )
    ax.set_ylim(-1.05, 1.05)
    _finish(ax, drawn, "Augmentation", "p, r_t")


def _evaluation(ax, eval_rows: list[dict]) -> None:
    """One line per metric (sorted by name) over steps; symlog y when the metrics' scales differ by over 100×."""
    scales = []
    for name in sorted({str(r.get("metric")) for r in eval_rows}):
        picked = [
            {"step": _eval_step(r), "value": r.get("value")}
            for r in eval_rows
            if str(r.get("metric")) == name
        ]
        points = sorted(zip(*_series(picked, "value")))
        if points:
            ax.plot(
                [p[0] for p in points],
                [p[1] for p in points],
                marker="o",
                linewidth=1.2,
                label=name,
            )
            scales.append(max(abs(p[1]) for p in points))
    nonzero = [v for v in scales if v > 0]
    if nonzero and max(nonzero) > 100 * min(nonzero):
        ax.set_yscale("symlog", linthresh=min(nonzero))
    _finish(ax, bool(scales), "Evaluation", "value")


def training_curves(rows: list[dict], eval_rows: list[dict] | None = None) -> bytes:
    """PNG of a run's training curves against the generator step.

    ``rows``: the dicts of ``metrics.jsonl`` (step, nimg, epoch, time_s, d_loss, g_loss, d_real, d_fake,
    grad_norm_d, grad_norm_g, lr, optional momentum, augment_p, ada_rt, img_per_s). Panels: D and G loss; mean D(x)
    and D(G(z)) in [0, 1] with a line at ½; learning rate (and momentum on a second axis); when rows have
    ``augment_p`` or ``ada_rt``, the augmentation probability and ADA's r_t; and, when ``eval_rows`` (dicts with
    ``metric``, ``value``, ``step``, or a ``checkpoint`` named ``step-N``) are given, each metric's value over steps.
    Missing keys, None and non-finite values are skipped; an empty panel says "no data". Deterministic bytes.
    """
    import matplotlib.style

    panels = [_losses, _discriminator, _schedules]
    if any(_series(rows, key)[0] for key in ("augment_p", "ada_rt")):
        panels.append(_augmentation)
    if eval_rows:
        panels.append(lambda ax, _rows: _evaluation(ax, eval_rows))
    with matplotlib.style.context("default"):
        fig, axes = new_figure(
            figsize=(7, 2.4 * len(panels)), dpi=DPI, nrows=len(panels), sharex=True, squeeze=False
        )
        for ax, panel in zip(axes[:, 0], panels):
            panel(ax, rows)
        axes[-1, 0].set_xlabel("step (generator updates)")
        fig.tight_layout()
        return figure_png(fig)


def quality_keys(rows: list[dict]) -> list[str]:
    """The ``quality/<metric>`` keys of the rows written by quality tracking while training, sorted."""
    skip = {"quality/best", "quality/best_step", "quality/seconds", "quality/total_seconds"}
    return sorted(
        {k for r in rows for k in r if k.startswith("quality/") and k not in skip}
        - {"quality/protocol"}
    )


def quality_curve(rows: list[dict]) -> bytes:
    """PNG of the tracked metric against training minutes (evaluation time left out), the best marked.

    ``rows``: metrics.jsonl dicts; those with a ``quality/<metric>`` value and ``time_s`` are drawn (one line per
    metric), with ``nimg`` in thousands on a secondary axis label of the last point. Deterministic bytes.
    """
    import matplotlib.style

    with matplotlib.style.context("default"):
        fig, axes = new_figure(figsize=(7, 3), dpi=DPI, squeeze=False)
        ax = axes[0, 0]
        drawn = False
        for key in quality_keys(rows):
            picked = [
                {"step": _number(r.get("time_s")) / 60, key: r.get(key)}
                for r in rows
                if _number(r.get("time_s")) is not None
            ]
            xs, ys = _series(picked, key)
            if xs:
                ax.plot(xs, ys, marker="o", linewidth=1.2, label=key.removeprefix("quality/"))
                best = min(range(len(ys)), key=ys.__getitem__)
                ax.plot([xs[best]], [ys[best]], marker="*", markersize=12, color="tab:red")
                drawn = True
        _finish(ax, drawn, "Quality while training (★ best)", "value (lower is better)")
        ax.set_xlabel("training minutes (evaluations left out)")
        fig.tight_layout()
        return figure_png(fig)
