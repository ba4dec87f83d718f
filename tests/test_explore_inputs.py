"""`gankit explore`'s server against a tiny image run (a paper MLP on 16 pictures of 8×8 from a folder, 2 steps):
malformed requests get HTTP 400 with a one-line reason and leave no traceback in the log, replies are strict JSON,
the 403 reply names `gankit explore`, and the server starts from the checkpoint alone once the pictures are gone."""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
from aiohttp import ClientSession, ClientTimeout
from PIL import Image

from gankit.cli import main
from gankit.playground.explore import start_explorer

TIMEOUT = ClientTimeout(total=60)
Z_DIM = 4


@pytest.fixture(scope="module")
def image_run(tmp_path_factory) -> tuple[Path, Path]:
    """(a run folder, the folder of the pictures it was trained on)."""
    root = tmp_path_factory.mktemp("explore-inputs")
    pics, run = root / "pics", root / "run"
    pics.mkdir()
    rng = np.random.default_rng(0)
    for i in range(16):
        Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(pics / f"{i}.png")
    sets = ["data.resolution=8", "train.steps=2", "train.batch_size=8", f"model.z_dim={Z_DIM}"]
    args = ["train", "quickstart", "--data", f"folder:{pics}", "--run-dir", str(run), "--quiet"]
    assert main(args + [a for s in sets for a in ("--set", s)]) == 0
    return run, pics


def strict(text: str):
    """JSON ``text`` parsed as the standard has it: NaN and Infinity are no JSON."""

    def refuse(name: str):
        raise ValueError(f"{name} in a reply")

    return json.loads(text, parse_constant=refuse)


def explore(run: Path, scenario):
    """``scenario(post, url)`` against an explorer of ``run``; ``post(what, body, token=True)`` → (status, reply
    text), ``body`` as bytes or a value sent as JSON."""

    async def go():
        runner, url = await start_explorer(run)
        base, _, query = url.partition("?")
        try:
            async with ClientSession(timeout=TIMEOUT) as http:

                async def post(what: str, body, token: bool = True):
                    data = body if isinstance(body, bytes) else json.dumps(body).encode()
                    address = f"{base}api/{what}" + (f"?{query}" if token else "")
                    async with http.post(address, data=data) as r:
                        return r.status, await r.text()

                return await scenario(post, url)
        finally:
            await runner.cleanup()

    return asyncio.run(go())


BAD_DRAWS = {
    "a boolean seed": b'{"seeds": [true]}',
    "100k nested lists": b"[" * 100_000,
    "100k nested objects": b'{"a":' * 100_000,
    "an unterminated string of 300k escaped quotes": b'"' + b'\\"' * 300_000 + b"\\",
    "z of 1e308": json.dumps({"z": [[1e308] * Z_DIM]}).encode(),
    "z beyond float": b'{"z": [[1e400, 0, 0, 0]]}',
    "z of NaN": b'{"z": [[NaN, 0, 0, 0]]}',
    "a boolean in z": b'{"z": [[0, 0, 0, true]]}',
    "a short z row": b'{"z": [[0, 0, 0]]}',
    "a float seed": b'{"seeds": [1.0]}',
    "a negative seed": b'{"seeds": [-1]}',
    "too many seeds": json.dumps({"seeds": list(range(65))}).encode(),
    "a 5000-digit seed": b'{"seeds": [' + b"1" * 5000 + b"]}",
    "seeds and z": b'{"seeds": [1], "z": [[0, 0, 0, 0]]}',
    "a boolean truncation": b'{"seeds": [1], "truncation": true}',
    "an Infinity truncation": b'{"seeds": [1], "truncation": Infinity}',
    "a label for an unconditional G": b'{"seeds": [1], "label": 0}',
    "an unknown key": b'{"seeds": [1], "sedes": [2]}',
    "a list body": b"[1]",
    "not UTF-8": b'{"seeds": [1], "x": "\xff"}',
    "not JSON": b"{seeds",
}


def test_malformed_requests_get_a_one_line_400_and_no_traceback(image_run, caplog):
    async def scenario(post, url):
        got = {what: await post("draw", body) for what, body in BAD_DRAWS.items()}
        got["two z for nearest"] = await post("nearest", {"z": [[0.0] * Z_DIM] * 2})
        got["a huge body"] = await post("draw", b" " * (2 << 20) + b"{}")
        return got, await post("draw", {"z": [[0.5] * Z_DIM], "truncation": 1})

    with caplog.at_level(logging.WARNING):
        got, good = explore(image_run[0], scenario)
    for what, (status, text) in got.items():
        message = strict(text)["error"]
        assert status == (413 if what == "a huge body" else 400), (what, status, text[:200])
        assert "\n" not in message and len(message) <= 200, (what, message)
    assert good[0] == 200 and strict(good[1])["z"] == [[0.5] * Z_DIM]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


def test_the_refusal_names_the_command_that_runs(image_run):
    async def scenario(post, url):
        return await post("draw", {"seeds": [1]}, token=False)

    status, text = explore(image_run[0], scenario)
    message = strict(text)["error"]
    assert status == 403 and "gankit explore printed" in message and "playground" not in message


def test_explore_starts_from_the_checkpoint_alone_when_the_pictures_are_gone(image_run, tmp_path):
    run, pics = image_run
    body = {"seeds": [3]}

    async def scenario(post, url):
        return [await post(what, body) for what in ("info", "draw", "nearest")]

    info, drawn, nearest = explore(run, scenario)
    assert nearest[0] == 200 and len(strict(nearest[1])["images"]) == 4
    alone = tmp_path / "copy"
    shutil.copytree(run / "checkpoints", alone / "checkpoints")
    shutil.rmtree(pics)
    info2, drawn2, nearest2 = explore(alone, scenario)
    assert info2[0] == 200 and strict(info2[1])["z_dim"] == Z_DIM
    assert drawn2 == drawn
    message = strict(nearest2[1])["error"]
    assert nearest2[0] == 404 and "training pictures are not available (folder:" in message
    assert "\n" not in message
