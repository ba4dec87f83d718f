"""The playground in a real browser: Playwright driving Debian's Chromium against `gankit playground --port 0`
trains ring8, sees the metric move, pauses, single-steps exactly once, uploads a CSV and sees its points drawn, with
no console errors and no request leaving the server."""

from __future__ import annotations

import re
import signal
import subprocess
import sys

import numpy as np
import pytest

from tests.browser import watched_page

WAIT_MS = 20_000


@pytest.fixture
def server(tmp_path):
    """The URL of `gankit playground` on a free loopback port; stopped with SIGINT afterwards."""
    proc = subprocess.Popen([sys.executable, "-m", "gankit", "playground", "--port", "0", "--runs-dir",
                             str(tmp_path / "runs")], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    found = re.search(r"http://127\.0\.0\.1:\d+/", line)
    try:
        assert found, f"no URL in {line!r}: {proc.stderr.read() if proc.poll() is not None else ''}"
        yield found.group(0)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)


def _number(page, selector: str, attribute: str) -> int:
    return int(page.get_attribute(selector, attribute))


def test_playground_trains_steps_and_draws_an_upload(server, tmp_path):
    points = tmp_path / "blob.csv"
    xy = np.random.default_rng(0).normal(size=(123, 2)) * [2.0, 0.5] + [1.0, -1.0]
    points.write_text("x,y\n" + "\n".join(f"{a:.5f},{b:.5f}" for a, b in xy) + "\n")
    with watched_page((server, server.replace("http", "ws"), "data:")) as (page, errors, foreign):
        page.goto(server, wait_until="load", timeout=WAIT_MS)
        page.wait_for_function("document.getElementById('metric').dataset.updates >= 1", timeout=WAIT_MS)
        assert page.input_value("select[name=dataset]") == "ring8"
        assert "session=" in page.url
        assert _number(page, "#data-view", "data-real-count") == 2000

        start = _number(page, "#metric", "data-updates")
        page.click("#play")
        page.wait_for_function(f"document.getElementById('metric').dataset.updates >= {start + 2}"
                               " && document.getElementById('step').dataset.step > 0", timeout=WAIT_MS)
        assert re.fullmatch(r"\d/8 modes · \d+\.\d% high quality", page.inner_text("#metric"))

        page.click("#pause")
        page.wait_for_function("document.body.dataset.running === 'false'", timeout=WAIT_MS)
        before = _number(page, "#step", "data-step")
        page.click("#step-once")
        page.wait_for_function(f"document.getElementById('step').dataset.step != {before}", timeout=WAIT_MS)
        page.wait_for_timeout(300)  # paused: nothing else may move the counter
        assert _number(page, "#step", "data-step") == before + 1

        page.set_input_files("#upload", str(points))
        page.wait_for_function("document.getElementById('data-view').dataset.realCount == 123", timeout=WAIT_MS)
        assert page.input_value("select[name=dataset]") == "upload"
        assert "123 training points (blob.csv)" in page.inner_text("#about")
        page.wait_for_function("document.getElementById('data-view').dataset.fakeCount == 2000", timeout=WAIT_MS)
        assert page.is_hidden("#error")
    assert errors == [], errors
    assert foreign == [], foreign
