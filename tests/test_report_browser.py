"""The report in a real browser: Playwright driving Debian's Chromium opens report.html from disk and checks that it
loads nothing from the network, logs no errors, decodes every image and shows the metrics table."""

from __future__ import annotations

from pathlib import Path

import torch
from gankit_testkit_browser import watched_page

from gankit.viz.grids import grid_image, png_bytes
from gankit.viz.images import grid_gif
from gankit.viz.report import build_report


def _png(value: int, size: int = 4) -> bytes:
    return png_bytes(grid_image(torch.full((4, 1, size, size), value, dtype=torch.uint8), nrow=2))


def _report(tmp_path: Path) -> tuple[Path, int]:
    eval_rows = [
        {
            "metric": "parzen",
            "value": 225.0,
            "uncertainty": 2.0,
            "n": 10000,
            "reference": "mnist:test",
            "checkpoint": "step-000001000",
        },
        {
            "metric": "fid",
            "value": 26.5,
            "uncertainty": None,
            "n": 10000,
            "reference": "fashion-mnist:test",
            "checkpoint": "step-000001000",
        },
    ]
    html = build_report(
        title="browser check <run>",
        config_yaml="train:\n  steps: 1000  # <b>not bold</b>\n",
        metrics_rows=[
            {"step": 1000, "nimg": 100000, "d_loss": 1.3, "g_loss": 0.8, "lr": 0.1, "momentum": 0.5}
        ],
        eval_rows=eval_rows,
        figures=[
            ("curves.png", _png(30, 8)),
            ("nearest.png", _png(220)),
            (
                "samples.gif",
                grid_gif([_png(0), _png(128), _png(255)], ["step 0", "step 500", "step 1000"]),
            ),
        ],
        timings={"training time": "10.0 s"},
        environment={"torch": torch.__version__},
    )
    path = tmp_path / "report.html"
    path.write_text(html, encoding="utf-8")
    return path, len(eval_rows)


def test_report_opens_offline_without_errors(tmp_path):
    path, n_eval = _report(tmp_path)
    with watched_page(("file:", "data:")) as (page, errors, foreign):
        page.goto(path.as_uri(), wait_until="load", timeout=10_000)
        images = page.evaluate(
            "() => Array.from(document.images, i => [i.alt, i.complete && i.naturalWidth > 0, i.naturalWidth])"
        )
        rows = page.locator("#metrics-table tbody tr").count()
        title = page.title()
        config = page.locator("pre#config").inner_text()
    assert errors == [], errors
    assert foreign == [], foreign
    assert len(images) == 3 and all(ok for _, ok, _ in images), images
    # 2×2 grid of 4 px, 2 px gaps
    assert dict((alt, w) for alt, _, w in images)["nearest.png"] == 2 * 4 + 2 * 3
    assert rows == n_eval
    assert title == "browser check <run>"
    assert "<b>not bold</b>" in config  # shown as text, not markup
