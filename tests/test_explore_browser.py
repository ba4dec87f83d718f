"""`gankit explore` in a real browser: Playwright driving Debian's Chromium against the explorer of a small
class-conditional run: the grid of seeds appears, two picks give the picture between them, the slider changes it,
the class picker lists the classes, the z of the picture downloads as a .npy, and a request without the token is
refused; no console errors and no request leaving the server."""

from __future__ import annotations

import contextlib
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request

import numpy as np
import pytest
from gankit_testkit_browser import watched_page

from gankit.cli import main

WAIT_MS = 30_000


def _train(folder, *overrides: str):
    run = folder / "run"
    sets = [
        arg
        for o in (
            "model.arch=dcgan",
            "model.width=8",
            "train.steps=2",
            "train.batch_size=16",
            *overrides,
        )
        for arg in ("--set", o)
    ]
    assert main(["train", "quickstart", "--run-dir", str(run), "--quiet", *sets]) == 0
    return run


@pytest.fixture(scope="module")
def conditional_run(tmp_path_factory):
    return _train(tmp_path_factory.mktemp("explore"), "model.conditional=projection")


@pytest.fixture(scope="module")
def plain_run(tmp_path_factory):
    return _train(tmp_path_factory.mktemp("explore-plain"))


@contextlib.contextmanager
def explorer(run):
    proc = subprocess.Popen(
        [sys.executable, "-m", "gankit", "explore", str(run), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        found = re.search(r"http://\S+", proc.stdout.readline())
        assert found, "the explorer printed no URL"
        yield found.group(0)
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0


@pytest.mark.parametrize("kind", ["plain", "conditional"])
def test_explore_grid_interpolation_download_and_token(kind, request, tmp_path):
    run = request.getfixturevalue(f"{kind}_run")
    with explorer(run) as url:
        base = url.split("?")[0]
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(base + "api/info")
        assert refused.value.code == 403
        with watched_page((base, "data:", "blob:")) as (page, errors, foreign):
            page.goto(url, wait_until="load", timeout=WAIT_MS)
            page.wait_for_function(
                "document.querySelectorAll('#grid img').length === 32", timeout=WAIT_MS
            )
            assert page.locator("#label option").count() == (10 if kind == "conditional" else 0)
            assert page.is_visible("#class-box") == (kind == "conditional")
            page.click("#grid img >> nth=0")
            page.click("#grid img >> nth=5")
            page.wait_for_function(
                "document.querySelectorAll('#strip img').length === 8", timeout=WAIT_MS
            )
            first = page.get_attribute("#between", "src")
            page.eval_on_selector(
                "#t", "e => { e.value = '0.1'; e.dispatchEvent(new Event('input')); }"
            )
            page.wait_for_function(
                f"document.getElementById('between').src !== {first!r}", timeout=WAIT_MS
            )
            page.wait_for_function(
                "document.querySelectorAll('#nearest img').length === 4", timeout=WAIT_MS
            )
            with page.expect_download() as download:
                page.click("#download-z")
            download.value.save_as(tmp_path / "z.npy")
            assert not errors and not foreign, (errors, foreign)
    z = np.load(tmp_path / "z.npy")
    assert z.shape == (1, 100) and z.dtype == np.float32 and np.isfinite(z).all()


def test_explore_refuses_a_points_run(tmp_path, capsys):
    run = tmp_path / "points"
    assert (
        main(
            [
                "train",
                "ring8",
                "--run-dir",
                str(run),
                "--quiet",
                "--set",
                "train.steps=2",
                "--set",
                "data.n_samples=256",
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["explore", str(run), "--port", "0"]) == 1
    assert "is for image runs" in capsys.readouterr().err


def test_nearest_finds_the_training_picture_that_is_the_sample(conditional_run):
    """Put G's own picture among random ones: it comes first, at distance 0."""
    import torch

    from gankit.playground.explore import _generate, nearest
    from gankit.train.restore import load_generator

    G, _, _ = load_generator(conditional_run)
    body = {"seeds": [7], "label": 3}
    _, pixels = _generate(G, body)
    noise = torch.randint(
        0,
        256,
        (50, *pixels.shape[1:]),
        generator=torch.Generator().manual_seed(0),
        dtype=torch.uint8,
    )
    train = torch.cat([noise[:20], pixels, noise[20:]])
    found = nearest(G, lambda: train, {"z": _generate(G, body)[0].tolist(), "label": 3})
    assert found["distances"][0] == 0.0 and len(found["images"]) == 4
    assert (
        found["images"][0]
        == nearest(G, lambda: pixels, {"z": _generate(G, body)[0].tolist(), "label": 3})["images"][
            0
        ]
    )
