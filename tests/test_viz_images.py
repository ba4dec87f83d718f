"""gankit.viz.images and gankit.viz.curves: valid, correctly sized, deterministic bytes; exact nearest neighbours."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.viz.curves import training_curves
from gankit.viz.grids import grid_image, png_bytes
from gankit.viz.images import (
    grid_gif,
    interpolation_figure,
    nearest_neighbour_figure,
    nearest_neighbours,
)


def _images(n: int, c: int = 1, h: int = 6, w: int = 5, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, c, h, w), generator=gen, dtype=torch.uint8)


def _open(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def _frames(count: int) -> list[bytes]:
    """Grayscale 4-image grids, frame i filled with the grey level 20·i (so a GIF frame tells its source)."""
    return [
        png_bytes(grid_image(torch.full((4, 1, 6, 6), 20 * i, dtype=torch.uint8), nrow=2))
        for i in range(count)
    ]


def _brute_force(samples: torch.Tensor, train: torch.Tensor) -> np.ndarray:
    a = samples.reshape(len(samples), -1).numpy().astype(np.int64)
    b = train.reshape(len(train), -1).numpy().astype(np.int64)
    d = ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)
    return d.argmin(1)  # numpy: first index of the minimum


# -- grid_gif ------------------------------------------------------------------------------------------------------


def test_grid_gif_subsamples_keeping_first_and_last():
    frames = _frames(10)
    data = grid_gif(frames, [f"step {100 * i}" for i in range(10)], max_frames=4, scale=2)
    gif = _open(data)
    assert gif.format == "GIF" and gif.n_frames == 4 and gif.info.get("loop") == 0
    grid = _open(frames[0])
    assert gif.width == 2 * grid.width and gif.height > 2 * grid.height  # label strip above
    seen = []
    for i in range(gif.n_frames):
        gif.seek(i)
        frame = gif.convert("L")
        # inside the upscaled grid's image
        seen.append(frame.getpixel((gif.width // 2 - 8, gif.height - 8)) // 20)
    assert seen == [0, 3, 6, 9]


def test_grid_gif_few_frames_kept_and_deterministic():
    frames = _frames(3)
    labels = ["step 0", "step 500", "step 1000"]
    a = grid_gif(frames, labels)
    assert a == grid_gif(frames, labels)
    assert _open(a).n_frames == 3
    assert grid_gif(frames, ["a", "b", "c"]) != a  # the labels are drawn


def test_grid_gif_rgb_frames():
    frames = [png_bytes(grid_image(_images(4, c=3, seed=s), nrow=2)) for s in range(5)]
    gif = _open(grid_gif(frames, [str(s) for s in range(5)], max_frames=3, scale=3))
    assert gif.n_frames == 3 and gif.width == 3 * _open(frames[0]).width


def test_grid_gif_rejects_bad_input():
    with pytest.raises(ValueError, match="labels"):
        grid_gif(_frames(2), ["one"])
    with pytest.raises(ValueError, match="same size"):
        grid_gif([_frames(1)[0], png_bytes(grid_image(_images(9), nrow=3))], ["a", "b"])


# -- nearest_neighbours ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("chunk", [1, 3, 7, 1000])
def test_nearest_neighbours_matches_brute_force(chunk):
    train = _images(40, c=3, h=5, w=5, seed=1)
    samples = torch.cat([_images(9, c=3, h=5, w=5, seed=2), train[[17, 3]]])  # two exact copies
    idx = nearest_neighbours(samples, train, chunk=chunk)
    assert idx.dtype == torch.int64 and idx.shape == (11,)
    np.testing.assert_array_equal(idx.numpy(), _brute_force(samples, train))
    assert idx[-2:].tolist() == [17, 3]


@pytest.mark.parametrize("chunk", [1, 3, 64])
def test_nearest_neighbours_ties_go_to_smallest_index(chunk):
    base = _images(6, seed=3)
    train = torch.cat([base, base, base])  # every image three times, at i, i + 6, i + 12
    samples = _images(8, seed=4)
    idx = nearest_neighbours(samples, train, chunk=chunk)
    assert (idx < 6).all()
    np.testing.assert_array_equal(idx.numpy(), _brute_force(samples, train))


@pytest.mark.parametrize("chunk", [1, 3, 7, 1000])
def test_k_nearest_neighbours_are_the_k_smallest_distances_in_order(chunk):
    """k = 4: the four smallest exact (integer) distances, nearest first, ties to the smaller index."""
    base = _images(20, c=3, h=5, w=5, seed=6)
    train = torch.cat([base, base[:5]])  # images 0-4 appear twice: a tie between i and 20 + i
    samples = torch.cat([_images(6, c=3, h=5, w=5, seed=7), base[[2]]])
    idx = nearest_neighbours(samples, train, chunk=chunk, k=4)
    assert idx.shape == (7, 4)
    d = ((samples.long()[:, None] - train.long()[None]) ** 2).flatten(2).sum(2)
    expected = torch.sort(d, dim=1, stable=True).indices[:, :4]
    assert torch.equal(idx, expected)
    assert idx[-1, :2].tolist() == [2, 22]


def test_nearest_neighbours_exact_for_mnist_sized_images():
    # 784 pixels: float32 dot products would round; the float64 path must still agree with integer arithmetic.
    gen = torch.Generator().manual_seed(5)
    train = torch.randint(0, 256, (300, 1, 28, 28), generator=gen, dtype=torch.uint8)
    samples = (
        (train[:20].int() + torch.randint(-3, 4, (20, 1, 28, 28), generator=gen))
        .clamp(0, 255)
        .to(torch.uint8)
    )
    np.testing.assert_array_equal(
        nearest_neighbours(samples, train, chunk=128).numpy(), _brute_force(samples, train)
    )


# -- figures ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [10, 7])
def test_nearest_neighbour_figure(n):
    samples, neighbours = _images(n, seed=6), _images(n, seed=7)
    data = nearest_neighbour_figure(samples, neighbours, columns=6)
    image = _open(data)
    rows = -(-n // 5)
    # left grid 5·(5+2)+2 = 37, separator 1, right grid 5+4 = 9; height rows·(6+2)+2; all ×2
    assert image.format == "PNG" and image.mode == "RGB"
    assert image.size == (2 * (37 + 1 + 9), 2 * (rows * 8 + 2))
    assert data == nearest_neighbour_figure(samples, neighbours, columns=6)
    assert image.getpixel((2 * 37, 4)) == (255, 215, 0)  # yellow separator
    # the last column holds the neighbour of each row's last sample (pixel (0,0) of that image, upscaled)
    right = 2 * (37 + 1 + 2)
    for r in range(rows):
        last = min((r + 1) * 5, n) - 1
        value = int(neighbours[last, 0, 0, 0])
        assert image.getpixel((right, 2 * (2 + r * 8))) == (value,) * 3
        # and the row's last sample stands right beside the separator
        sample = int(samples[last, 0, 0, 0])
        assert image.getpixel((2 * (2 + 4 * 7), 2 * (2 + r * 8))) == (sample,) * 3


def test_interpolation_figure():
    rows = _images(3 * 4, c=3, seed=8).view(3, 4, 3, 6, 5)
    data = interpolation_figure(rows)
    image = _open(data)
    assert image.format == "PNG" and image.size == (2 * (4 * 7 + 2), 2 * (3 * 8 + 2))
    assert data == interpolation_figure(rows.clone())
    assert image.getpixel((2 * (2 + 7), 2 * (2 + 8))) == tuple(rows[1, 1, :, 0, 0].tolist())


# -- training curves -------------------------------------------------------------------------------------------------


def _metric_rows(n: int = 6, momentum: bool = True) -> list[dict]:
    rows = []
    for i in range(n):
        row = {
            "step": 10 * i,
            "nimg": 1000 * i,
            "epoch": i / 5,
            "time_s": 0.5 * i,
            "d_loss": 1.3 - 0.1 * i,
            "g_loss": 0.7 + 0.05 * i,
            "d_real": 0.5 + 0.02 * i,
            "d_fake": 0.5 - 0.02 * i,
            "grad_norm_d": 1.0,
            "grad_norm_g": 2.0,
            "lr": 0.1 / 1.000004 ** (10 * i),
            "img_per_s": 5000.0,
        }
        if momentum:
            row["momentum"] = 0.5 + 0.01 * i
        rows.append(row)
    return rows


def test_training_curves_png_and_deterministic():
    rows = _metric_rows()
    evals = [
        {"metric": "parzen", "value": 200.0 + s / 10, "uncertainty": 2.0, "step": s}
        for s in (20, 50)
    ]
    evals.append({"metric": "kid", "value": 0.01, "checkpoint": "step-000000050"})
    without, with_eval = training_curves(rows), training_curves(rows, evals)
    assert _open(without).format == "PNG" and _open(with_eval).format == "PNG"
    assert _open(with_eval).height > _open(without).height  # the extra evaluation panel
    assert with_eval == training_curves(rows, evals)


def test_training_curves_draw_the_augmentation_probability_and_adas_signal():
    rows = _metric_rows()
    with_ada = [{**r, "augment_p": 0.01 * i, "ada_rt": 0.6} for i, r in enumerate(rows)]
    # the augmentation panel
    assert _open(training_curves(with_ada)).height > _open(training_curves(rows)).height
    assert training_curves(with_ada) == training_curves(with_ada)


def test_training_curves_tolerates_missing_keys():
    rows = [
        {"step": 0},
        {"step": 1, "d_loss": None, "g_loss": float("nan")},
        {"d_loss": 1.0},
        {"step": 2, "lr": 0.1},
    ]
    assert _open(training_curves(rows)).format == "PNG"
    assert _open(training_curves([], [{"metric": "fid"}])).format == "PNG"
    assert _open(training_curves(_metric_rows(momentum=False))).format == "PNG"
