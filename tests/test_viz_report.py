"""gankit.viz.report: one self-contained, escaped, deterministic HTML page."""

from __future__ import annotations

import base64
import re

import pytest
import torch

from gankit.viz.grids import grid_image, png_bytes
from gankit.viz.images import grid_gif
from gankit.viz.report import build_report, image_mime


def _png(value: int = 128) -> bytes:
    return png_bytes(grid_image(torch.full((4, 1, 4, 4), value, dtype=torch.uint8), nrow=2))


def _gif() -> bytes:
    return grid_gif([_png(0), _png(255)], ["step 0", "step 10"])


EVAL_ROWS = [
    {
        "metric": "parzen",
        "value": 225.3,
        "uncertainty": 2.01,
        "n": 10000,
        "reference": "mnist:test",
        "checkpoint": "step-000000500",
        "seconds": 12.0,
    },
    {
        "metric": "fid",
        "value": 26.5,
        "uncertainty": None,
        "n": 10000,
        "reference": "fashion-mnist:test",
        "checkpoint": "step-000000500",
        "seconds": 40.0,
    },
    {
        "metric": "kid<x>",
        "value": 0.00123,
        "uncertainty": 0.0002,
        "n": 1000,
        "reference": "a&b",
        "checkpoint": "step-000000500",
    },
]
METRICS_ROWS = [
    {"step": 10 * i, "nimg": 1000 * i, "d_loss": 1.38, "g_loss": 0.69, "lr": 0.1}
    for i in range(1, 4)
]


def report(**overrides) -> str:
    kwargs = dict(
        title="gankit run <demo>",
        config_yaml="model:\n  arch: paper-mlp  # <b>bold</b> & more\n",
        metrics_rows=METRICS_ROWS,
        eval_rows=EVAL_ROWS,
        figures=[("curves.png", _png(10)), ("nearest.png", _png(200)), ("samples.gif", _gif())],
        timings={"training time": "12.5 s"},
        environment={"torch": torch.__version__, "python": "3.x"},
    )
    kwargs.update(overrides)
    return build_report(**kwargs)


def test_self_contained_no_scripts_no_urls():
    html = report()
    assert html.startswith("<!DOCTYPE html>")
    lowered = html.lower()
    for bad in ("http://", "https://", "<script", "<link", "@import", "url(", "<iframe", 'src="//'):
        assert bad not in lowered, bad
    # every src attribute is a data: URI
    sources = re.findall(r'src="([^"]*)"', html)
    assert len(sources) == 3 and all(s.startswith("data:image/") for s in sources)


def test_metrics_table_present_with_one_row_per_eval_row():
    html = report()
    table = re.search(r'<table id="metrics-table">(.*?)</table>', html, re.S)
    assert table is not None
    assert table.group(1).count("<tr>") == 1 + len(EVAL_ROWS)  # header + rows
    assert "225.3 ± 2.01" in html and "mnist:test" in html and "step-000000500" in html
    assert "kid&lt;x&gt;" in html and "a&amp;b" in html


@pytest.mark.parametrize("eval_rows", [None, []])
def test_without_eval_rows_says_how_to_evaluate(eval_rows):
    html = report(eval_rows=eval_rows)
    assert 'id="metrics-table"' not in html
    assert "No evaluation yet" in html and "gankit eval RUN" in html


def test_text_is_escaped():
    html = report()
    assert "<b>" not in html and "&lt;b&gt;bold&lt;/b&gt;" in html
    assert "gankit run &lt;demo&gt;" in html and "<demo>" not in html
    assert "&amp; more" in html


def test_data_uris_have_the_right_mime_and_round_trip():
    figures = [("curves.png", _png(10)), ("samples.gif", _gif())]
    html = report(figures=figures)
    found = re.findall(r'src="data:(image/[a-z]+);base64,([A-Za-z0-9+/=]+)"', html)
    assert [m for m, _ in found] == ["image/png", "image/gif"]
    assert [base64.b64decode(b) for _, b in found] == [data for _, data in figures]
    assert image_mime(b"\xff\xd8\xff\xe0rest") == "image/jpeg"
    with pytest.raises(ValueError, match="unrecognised"):
        report(figures=[("bad", b"not an image")])


def test_final_row_timings_environment_config():
    html = report()
    final = re.search(r'<table id="final-row">(.*?)</table>', html, re.S).group(1)
    assert "3,000" in final and "30" in final  # the last row: nimg 3000, step 30
    assert "12.5 s" in html and torch.__version__ in html
    assert re.search(r"<pre id=\"config\">model:\n  arch: paper-mlp", html)
    assert "No training steps logged" in report(metrics_rows=[])


def test_deterministic():
    assert report() == report()
