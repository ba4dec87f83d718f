"""Figure 1 (Goodfellow et al. 2014) and 2-D toy pictures from hand-built snapshots: valid, deterministic bytes and
the closed forms behind them (D*, KDE, JSD)."""

from __future__ import annotations

import io
import math

import pytest
import torch
from PIL import Image

from gankit.viz import figure1d
from gankit.viz.figure1d import (
    figure1,
    figure1_gif,
    figure1_steps,
    jsd_on_grid,
    kde,
    optimal_discriminator,
    theory_overlay,
)
from gankit.viz.toy2d import _lattice, toy2d_frame, toy2d_gif

MEAN, STD = 1.0, 0.5


def snap1d(shift: float, with_line: bool = True) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(int(shift * 100))
    grid = torch.linspace(-1.0, 3.0, 40).unsqueeze(1)
    out = {
        "grid": grid,
        "d_grid": torch.sigmoid(-(grid[:, 0] - MEAN) * shift),
        "samples": (MEAN + shift + 0.3 * torch.randn(80, 1, generator=gen)),
    }
    if with_line:
        z = torch.linspace(-math.sqrt(3), math.sqrt(3), 7)
        out["z_line"], out["x_line"] = z, MEAN + shift + 0.3 * z
    return out


def run1d(n: int = 5, with_line: bool = True) -> list[tuple[int, dict[str, torch.Tensor]]]:
    return [(100 * i, snap1d(1.0 - i / (n - 1), with_line)) for i in range(n)]


def opened(data: bytes, fmt: str) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    assert image.format == fmt
    return image


def test_figure1_png_is_valid_and_deterministic():
    snaps = run1d()
    png = figure1(snaps, MEAN, STD)
    assert opened(png, "PNG").size[0] > opened(png, "PNG").size[1]  # four panels side by side
    assert figure1(snaps, MEAN, STD) == png
    assert figure1(snaps, MEAN, STD, steps=[0, 400]) != png


def test_figure1_default_and_given_steps():
    available = list(range(0, 3001, 50))
    assert figure1_steps(available) == [0, 500, 1500, 3000]
    assert figure1_steps([0, 10, 40, 70, 120]) == [0, 10, 70, 120]
    assert figure1_steps(available, [7, 130, 2999]) == [0, 150, 3000]
    assert figure1_steps([5]) == [5, 5, 5, 5]
    with pytest.raises(ValueError, match="figure1 needs at least one snapshot"):
        figure1_steps([])


def test_figure1_without_z_line_draws_no_arrows(monkeypatch):
    calls = []
    original = figure1d._draw_panel

    def spy(ax, ax_z, *args):
        original(ax, ax_z, *args)
        calls.append(
            sum(1 for child in ax_z.get_children() if type(child).__name__ == "Annotation")
        )

    monkeypatch.setattr(figure1d, "_draw_panel", spy)
    opened(figure1(run1d(with_line=False), MEAN, STD), "PNG")
    assert calls == [0, 0, 0, 0]
    calls.clear()
    figure1(run1d(), MEAN, STD)
    assert calls == [7, 7, 7, 7]


def test_gifs_have_frames_and_are_deterministic():
    snaps = run1d(6)
    gif = figure1_gif(snaps, MEAN, STD, max_frames=3)
    image = opened(gif, "GIF")
    assert image.n_frames == 3 and image.info.get("loop") == 0
    assert figure1_gif(snaps, MEAN, STD, max_frames=3) == gif
    xs = torch.linspace(-2.0, 2.0, 12)
    grid = torch.cartesian_prod(xs, xs)
    real = torch.randn(50, 2, generator=torch.Generator().manual_seed(0))
    toy = [
        {
            "grid": grid,
            "d_grid": torch.sigmoid(a * grid[:, 0] - grid[:, 1]),
            "samples": 0.5 * real + a,
        }
        for a in (-1.0, 0.0, 1.0, 2.0)
    ]
    gif2 = toy2d_gif(toy, real, [f"step {i}" for i in range(4)], max_frames=3)
    assert opened(gif2, "GIF").n_frames == 3
    assert toy2d_gif(toy, real, [f"step {i}" for i in range(4)], max_frames=3) == gif2
    with pytest.raises(ValueError, match="titles has 1 entries for 4 snapshots"):
        toy2d_gif(toy, real, ["only one"])


def test_toy2d_frame_png_and_lattice_orientation():
    xs, ys = torch.linspace(-2.0, 2.0, 10), torch.linspace(-1.0, 1.0, 10)
    grid = torch.cartesian_prod(xs, ys)
    snap = {"grid": grid, "d_grid": (grid[:, 0] > 0).float(), "samples": torch.zeros(5, 2)}
    png = toy2d_frame(snap, torch.ones(5, 2), "step 0")
    opened(png, "PNG")
    assert toy2d_frame(snap, torch.ones(5, 2), "step 0") == png
    xs_out, ys_out, d = _lattice(snap)
    assert torch.equal(xs_out, xs) and torch.equal(ys_out, ys)
    assert d[:, :5].sum() == 0 and d[:, 5:].min() == 1  # rows = y, columns = x: D depends on x only


def test_theory_overlay_png():
    snaps = run1d()
    png = theory_overlay(snaps, MEAN, STD)
    opened(png, "PNG")
    assert theory_overlay(snaps, MEAN, STD) == png


def test_optimal_discriminator_closed_form():
    p = torch.tensor([0.2, 1.0, 0.0, 0.3])
    q = torch.tensor([0.6, 1.0, 0.5, 0.0])
    got = optimal_discriminator(p, q)
    assert torch.allclose(got, torch.tensor([0.25, 0.5, 0.0, 1.0], dtype=torch.float64))
    same = torch.rand(30, generator=torch.Generator().manual_seed(1)) + 0.1
    assert torch.allclose(
        optimal_discriminator(same, same), torch.full((30,), 0.5, dtype=torch.float64)
    )
    assert torch.isnan(optimal_discriminator(torch.zeros(1), torch.zeros(1))).all()


def test_kde_integrates_to_one_and_matches_scipy():
    stats = pytest.importorskip("scipy.stats")
    samples = torch.randn(300, generator=torch.Generator().manual_seed(2)) * 0.7 + 0.4
    grid = torch.linspace(-5.0, 6.0, 2001, dtype=torch.float64)
    density = kde(samples.unsqueeze(1), grid)
    assert abs(float(torch.trapezoid(density, grid)) - 1.0) < 1e-6
    reference = torch.from_numpy(stats.gaussian_kde(samples.double().numpy())(grid.numpy()))
    inside = reference > 1e-12
    assert torch.allclose(density[inside], reference[inside], rtol=1e-8, atol=0)


def test_jsd_on_grid_limits():
    x = torch.linspace(-10.0, 10.0, 4001, dtype=torch.float64)
    p = figure1d.gaussian_pdf(x, 0.0, 1.0)
    assert jsd_on_grid(p, p, x) == pytest.approx(0.0, abs=1e-12)
    left, right = (x < -1).double(), (x > 1).double()
    assert jsd_on_grid(left, right, x) == pytest.approx(math.log(2), abs=1e-9)
    q = figure1d.gaussian_pdf(x, 1.0, 1.0)
    assert 0.0 < jsd_on_grid(p, q, x) < math.log(2)
