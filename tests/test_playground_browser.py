"""The playground in a real browser: Playwright driving Debian's Chromium against `gankit playground --port 0`
trains ring8, sees the metric move, pauses, single-steps exactly once, uploads a CSV and sees its points drawn, with
no console errors and no request leaving the server."""

from __future__ import annotations

import re

import numpy as np
import pytest
from gankit_testkit_browser import watched_page
from gankit_testkit_playground import playground_process

WAIT_MS = 20_000


@pytest.fixture
def server(tmp_path):
    """The URL `gankit playground` printed (loopback, free port, with its token); stopped with SIGINT afterwards."""
    with playground_process(tmp_path / "runs") as (_, url):
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/\?token=[\w-]{20,}", url), url
        yield url


def _number(page, selector: str, attribute: str) -> int:
    return int(page.get_attribute(selector, attribute))


def test_playground_trains_steps_and_draws_an_upload(server, tmp_path):
    points = tmp_path / "blob.csv"
    xy = np.random.default_rng(0).normal(size=(123, 2)) * [2.0, 0.5] + [1.0, -1.0]
    points.write_text("x,y\n" + "\n".join(f"{a:.5f},{b:.5f}" for a, b in xy) + "\n")
    base = server.split("?")[0]
    with watched_page((base, base.replace("http", "ws"), "data:")) as (page, errors, foreign):
        page.goto(server, wait_until="load", timeout=WAIT_MS)
        page.wait_for_function(
            "document.getElementById('metric').dataset.updates >= 1", timeout=WAIT_MS
        )
        assert page.input_value("select[name=dataset]") == "ring8"
        # the share link keeps the token
        assert "session=" in page.url and server.split("?")[1] in page.url
        assert _number(page, "#data-view", "data-real-count") == 2000

        start = _number(page, "#metric", "data-updates")
        page.click("#play")
        page.wait_for_function(
            f"document.getElementById('metric').dataset.updates >= {start + 2}"
            " && document.getElementById('step').dataset.step > 0",
            timeout=WAIT_MS,
        )
        assert re.fullmatch(r"\d/8 modes · \d+\.\d% high quality", page.inner_text("#metric"))

        page.click("#pause")
        page.wait_for_function("document.body.dataset.running === 'false'", timeout=WAIT_MS)
        before = _number(page, "#step", "data-step")
        page.click("#step-once")
        page.wait_for_function(
            f"document.getElementById('step').dataset.step != {before}", timeout=WAIT_MS
        )
        page.wait_for_timeout(300)  # paused: nothing else may move the counter
        assert _number(page, "#step", "data-step") == before + 1

        page.set_input_files("#upload", str(points))
        page.wait_for_function(
            "document.getElementById('data-view').dataset.realCount == 123", timeout=WAIT_MS
        )
        assert page.input_value("select[name=dataset]") == "upload"
        assert "123 training points (blob.csv)" in page.inner_text("#about")
        page.wait_for_function(
            "document.getElementById('data-view').dataset.fakeCount == 2000", timeout=WAIT_MS
        )
        assert page.is_hidden("#error")
    assert errors == [], errors
    assert foreign == [], foreign


def test_the_page_without_its_token_says_which_url_to_open(server):
    base = server.split("?")[0]
    with watched_page((base, base.replace("http", "ws"), "data:")) as (page, _, foreign):
        page.goto(base, wait_until="load", timeout=WAIT_MS)
        page.wait_for_function("document.body.dataset.connected === 'false'", timeout=WAIT_MS)
        assert "open the full URL that gankit playground printed" in page.inner_text("#status")
    assert foreign == [], foreign
