"""The playground server end to end on a real loopback port: uploads are checked with one-line errors and never stop
the server, commands step the trainer exactly, several sockets share a session, idle sessions are freed, a run
saved from the page loads with `gankit sample`, and requests under another host name (DNS rebinding) or without the
printed URL's token are refused."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import re
import time
from pathlib import Path
from urllib.parse import urlencode

import numpy as np
import pytest
import torch
from aiohttp import ClientSession, ClientTimeout, WSServerHandshakeError
from gankit_testkit_playground import playground_process

from gankit.cli import main as cli_main
from gankit.data.points import read_csv
from gankit.errors import DatasetError, GankitError
from gankit.playground import start
from gankit.playground.access import is_loopback, split_host
from gankit.playground.server import PLAYGROUND
from gankit.playground.uploads import MAX_BYTES, parse_upload
from gankit.playground.views import histogram_jsd

TIMEOUT = 30.0


@contextlib.asynccontextmanager
async def served(tmp_path: Path, idle_timeout: float = 60.0, host: str = "127.0.0.1", **options):
    """(client session, the printed URL ``http://127.0.0.1:PORT/?token=…``, the Playground object) of a server on a
    free port; cleaned up afterwards. ``options``: more keyword arguments of :func:`gankit.playground.start`."""
    runner, url = await start(host, 0, tmp_path / "runs", idle_timeout, **options)
    assert url.startswith("http://127.0.0.1:"), url
    try:
        async with ClientSession(timeout=ClientTimeout(total=TIMEOUT)) as http:
            yield http, url, runner.app[PLAYGROUND]
    finally:
        await runner.cleanup()


def run_served(tmp_path: Path, scenario, **server_options):
    """``scenario(http, url, playground)`` run to completion against a fresh server (see :func:`served`); its
    result."""

    async def main():
        async with served(tmp_path, **server_options) as (http, url, playground):
            return await scenario(http, url, playground)

    return asyncio.run(main())


async def until(ws, predicate, timeout: float = TIMEOUT) -> dict:
    """The first message (JSON) satisfying ``predicate``; fails after ``timeout`` seconds."""

    async def read() -> dict:
        while True:
            msg = await ws.receive_json()
            if predicate(msg):
                return msg

    return await asyncio.wait_for(read(), timeout)


def is_frame(step: int | None = None):
    return lambda m: m["type"] == "frame" and (step is None or m["step"] == step)


def endpoint(url: str, path: str, **params: str) -> str:
    """``path`` on the server of the printed ``url``, with the URL's token and ``params`` as the query."""
    base, _, query = url.partition("?")
    return f"{base}{path}?{query}&{urlencode(params)}"


async def join(http: ClientSession, url: str, session: str | None = None):
    """A socket on a session (a new one when None), after its first frame: (ws, hello message)."""
    ws = await http.ws_connect(endpoint(url, "ws", **({"session": session} if session else {})))
    hello = await until(ws, lambda m: m["type"] == "hello")
    await until(ws, is_frame())
    return ws, hello


async def post_csv(http, url, session, data: bytes, name: str = "points.csv"):
    async with http.post(endpoint(url, "api/upload", session=session, name=name), data=data) as r:
        return r.status, await r.json()


def _rows(n: int, d: int, seed: int = 0) -> bytes:
    x = np.random.default_rng(seed).normal(size=(n, d))
    return ("\n".join(",".join(f"{v:.6f}" for v in row) for row in x) + "\n").encode()


def test_malformed_uploads_get_one_line_errors_and_the_server_keeps_serving(tmp_path):
    bad = {
        "binary": (bytes(range(256)) * 8, 400, "not a CSV text file"),
        "words": (b"x,y\nfoo,bar\n" + _rows(20, 2), 400, "line 2, column 1: 'foo' is not a number"),
        "NaN": (b"x,y\n" + _rows(20, 2) + b"nan,1.0\n", 400, "finite"),
        "Inf": (_rows(20, 1) + b"inf\n", 400, "finite"),
        "three-columns": (_rows(20, 3), 400, "1 or 2 columns"),
        "ragged": (_rows(20, 2) + b"1.0\n", 400, "has 1 values, earlier lines have 2"),
        "too-few-rows": (_rows(5, 2), 400, "16 to 100,000"),
        "too-large": (b"1.0,2.0\n" * (MAX_BYTES // 8 + 1000), 413, "too large"),
        "empty": (b"", 400, "no points"),
    }

    async def scenario(http, url, _):
        ws, hello = await join(http, url)
        for what, (data, status, words) in bad.items():
            got, body = await post_csv(http, url, hello["session"], data, name=f"{what}.csv")
            assert got == status, (what, body)
            message = body["error"]
            assert words in message and f"{what}.csv" in message and "\n" not in message, (
                what,
                message,
            )
            assert "/tmp" not in message, message  # names the upload, not where it was parsed
        assert (await post_csv(http, url, "no-such-session", _rows(20, 2)))[0] == 404
        async with http.get(url) as r:
            assert r.status == 200 and "gankit playground" in await r.text()
        await ws.send_json({"cmd": "step"})
        assert (await until(ws, is_frame()))["step"] == 1  # the session still trains
        await ws.close()

    run_served(tmp_path, scenario)


def test_upload_numbers_are_ascii_decimals_only():
    """Python's float() also reads other scripts' digits and underscores between digits; an upload takes plain ASCII
    decimals (sign, digits, fraction, exponent) and names the file, line and column of any other value, also on a
    first line, which is then no header."""
    rows = _rows(20, 2).decode()
    cases = [
        ("x,y\n0.5,1.5\n\u0661,\u0662\n", 3, 1, "\u0661"),
        ("\u0661,\u0662\n", 1, 1, "\u0661"),
        ("x,y\n0.5,1_0\n", 2, 2, "1_0"),
        ("x,y\n\uff11,2\n", 2, 1, "\uff11"),
        ("x,y\n1,infinity\n", 2, 2, "infinity"),
    ]
    for head, line, column, bad in cases:
        with pytest.raises(DatasetError) as e:
            parse_upload((head + rows).encode(), "mine.csv")
        message = str(e.value)
        assert (
            message.startswith(f"mine.csv: line {line}, column {column}: {bad!r} is not ")
            and "\n" not in message
        )
    good = parse_upload(("a,b\n-1.5e-3,2\n.5,+3.\n 1E2 ,-0\n" + rows).encode(), "good.csv")
    assert (
        good.x[:3].tolist() == [[np.float32(-1.5e-3), 2.0], [0.5, 3.0], [100.0, 0.0]]
        and len(good.x) == 23
    )


def test_single_step_is_exactly_one_update_and_bad_commands_are_reported(tmp_path):
    async def scenario(http, url, _):
        ws, _ = await join(http, url)
        await ws.send_json({"cmd": "step"})
        first = await until(ws, is_frame())
        assert first["step"] == 1 and first["point"][0] == 1 and len(first["samples"]) == 2000
        assert first["metric"]["name"] == "modes" and len(first["d"]) == 96 * 96
        await ws.send_json({"cmd": "speed", "value": 5})
        await ws.send_json({"cmd": "play"})
        await until(ws, lambda m: m["type"] == "frame" and m["step"] >= 30)
        await ws.send_json({"cmd": "pause"})
        paused = await until(ws, lambda m: m["type"] == "state" and not m["running"])
        await ws.send_json({"cmd": "step"})
        assert (await until(ws, is_frame()))["step"] == paused["step"] + 1
        for cmd, words in [
            ({"cmd": "fly"}, "unknown command"),
            ({"cmd": "speed", "value": 0}, "speed"),
            ({"cmd": "reset", "settings": {"k": 0}}, "setting k"),
            ({"cmd": "reset", "settings": {"objective": "vae"}}, "setting objective"),
            ({"cmd": "reset", "settings": {"dataset": "upload"}}, "upload a CSV"),
            ([1, 2], "unknown command"),
        ]:
            await ws.send_json(cmd)
            assert words in (await until(ws, lambda m: m["type"] == "error"))["message"], cmd
        await ws.send_str("{not json")
        await until(ws, lambda m: m["type"] == "error")
        await ws.send_json(
            {"cmd": "reset", "settings": {"dataset": "gauss1d", "objective": "wgan", "gp": 0.1}}
        )
        setup = await until(ws, lambda m: m["type"] == "setup")
        # gauss1d's preset fills the rest
        assert setup["dim"] == 1 and setup["settings"]["z_dim"] == 1
        frame = await until(ws, is_frame(0))
        assert frame["metric"]["name"] == "jsd" and len(frame["arrows"]["z"]) == 21
        await ws.close()

    run_served(tmp_path, scenario)


def test_deep_non_finite_or_huge_commands_get_short_one_line_errors(tmp_path, caplog):
    """A command nesting 60,000 lists, a NaN, a boolean for a number or a value of 10,000 items gets a one-line
    error of at most 200 characters; the socket stays open and no traceback is logged."""
    bad = [
        ("[" * 60_000, "deeper than"),
        ('{"cmd": "speed", "value": NaN}', "finite"),
        ('{"cmd": "speed", "value": true}', "speed"),
        ('{"cmd": "reset", "settings": {"seed": [' + "0," * 9_999 + "0]}}", "setting seed"),
    ]

    async def scenario(http, url, _):
        ws, _ = await join(http, url)
        for text, words in bad:
            await ws.send_str(text)
            message = (await until(ws, lambda m: m["type"] == "error"))["message"]
            assert words in message and len(message) <= 200 and "\n" not in message, message
        await ws.send_json({"cmd": "step"})
        assert (await until(ws, is_frame()))["step"] == 1
        await ws.close()

    with caplog.at_level(logging.WARNING):
        run_served(tmp_path, scenario)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


def _sample(run: str, tmp_path: Path, n: int = 50) -> np.ndarray:
    out = tmp_path / "s.npz"
    assert (
        cli_main(
            ["sample", run, "--n", str(n), "--npz", str(out), "--out", str(tmp_path / "s.png")]
        )
        == 0
    )
    return np.load(out)["x"]


async def step_and_save(ws, steps: int) -> dict:
    """``steps`` single steps (each waits for its frame), then "save as run"; closes the socket, returns the reply."""
    for step in range(1, steps + 1):
        await ws.send_json({"cmd": "step"})
        await until(ws, is_frame(step))
    await ws.send_json({"cmd": "save"})
    saved = await until(ws, lambda m: m["type"] == "saved")
    await ws.close()
    return saved


def test_save_as_run_of_a_built_in_distribution_loads_with_gankit_sample(tmp_path):
    async def scenario(http, url, _):
        ws, _ = await join(http, url)
        return await step_and_save(ws, 3)

    saved = run_served(tmp_path, scenario)
    run = Path(saved["path"])
    assert saved["step"] == 3 and run.parent == tmp_path / "runs" and run.name.startswith("ring8-")
    assert (run / "config.yaml").is_file() and (
        run / "checkpoints" / "step-000000003.json"
    ).is_file()
    assert _sample(str(run), tmp_path).shape == (50, 2)


def test_save_as_run_of_an_upload_loads_with_gankit_sample(tmp_path):
    data = b"value\n" + _rows(100, 1, seed=3)

    async def scenario(http, url, _):
        ws, hello = await join(http, url)
        status, body = await post_csv(http, url, hello["session"], data, name="my points.csv")
        assert status == 200 and body == {"name": "my_points.csv", "rows": 100, "dim": 1}
        setup = await until(ws, lambda m: m["type"] == "setup")
        assert (
            setup["settings"]["dataset"] == "upload"
            and setup["dim"] == 1
            and len(setup["real"]) == 100
        )
        assert setup["settings"]["batch_size"] == 100  # the preset's 256 does not fit 100 points
        notice = await until(ws, lambda m: m["type"] == "notice")
        assert "batch size lowered to 100" in notice["message"]
        return await step_and_save(ws, 1)

    saved = run_served(tmp_path, scenario)
    run = Path(saved["path"])
    assert run.name.startswith("upload-") and (run / "data.csv").is_file()
    assert np.array_equal(read_csv(run / "data.csv"), read_csv(_write(tmp_path / "orig.csv", data)))
    assert _sample(str(run), tmp_path).shape == (50, 1)


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_idle_session_stops_and_is_freed(tmp_path):
    async def scenario(http, url, pg):
        ws, hello = await join(http, url)
        session = pg.rooms[hello["session"]].session
        await ws.send_json({"cmd": "play"})
        await until(ws, lambda m: m["type"] == "frame" and m["step"] > 0)
        await ws.close()

        def freed() -> bool:
            return (
                hello["session"] not in pg.rooms
                and not session._thread.is_alive()
                and not session.folder.exists()
            )

        deadline = time.monotonic() + 10
        while not freed() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert freed()
        ws, again = await join(http, url, hello["session"])  # the old link opens a new session
        assert again["session"] != hello["session"] and "has ended" in again["notice"]
        await ws.close()

    run_served(tmp_path, scenario, idle_timeout=0.3)


def test_two_sockets_on_one_session_both_get_frames_and_either_commands(tmp_path):
    async def scenario(http, url, pg):
        a, hello = await join(http, url)
        b, hello_b = await join(http, url, hello["session"])
        assert hello_b["session"] == hello["session"] and len(pg.rooms) == 1
        await a.send_json({"cmd": "step"})
        assert [(await until(ws, is_frame()))["step"] for ws in (a, b)] == [1, 1]
        await b.send_json({"cmd": "step"})
        assert [(await until(ws, is_frame()))["step"] for ws in (a, b)] == [2, 2]
        await a.close()
        await b.send_json({"cmd": "step"})  # one tab closing leaves the session to the other
        assert (await until(b, is_frame()))["step"] == 3
        await b.close()

    run_served(tmp_path, scenario)


def test_a_non_loopback_bind_warns(tmp_path, caplog):
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.10")

    async def scenario(http, url, _) -> None:
        async with http.get(url) as r:
            assert r.status == 200

    with caplog.at_level(logging.WARNING, logger="gankit.playground"):
        run_served(tmp_path, scenario, host="127.0.0.1")
        assert not caplog.records
        run_served(tmp_path, scenario, host="0.0.0.0")
    assert any("not a loopback address" in r.getMessage() for r in caplog.records)


def test_cli_port_zero_prints_the_url_with_its_token_and_stops_cleanly_on_sigint(tmp_path):
    with playground_process(tmp_path / "runs") as (_, url):
        found = re.fullmatch(r"http://127\.0\.0\.1:(\d+)/\?token=([\w-]{20,})", url)
        assert found and found.group(1) != "0", url

        async def fetch() -> str:
            async with ClientSession(timeout=ClientTimeout(total=TIMEOUT)) as http:
                async with http.get(url) as r:
                    assert r.status == 200
                    return await r.text()

        assert "/static/app.js" in asyncio.run(fetch())


def test_no_token_is_refused_off_the_loopback(tmp_path, capsys):
    assert (
        cli_main(["playground", "--host", "0.0.0.0", "--no-token", "--runs-dir", str(tmp_path)])
        == 1
    )
    err = capsys.readouterr().err.strip()
    assert "--no-token needs a loopback --host" in err and "\n" not in err


async def _status(http: ClientSession, method: str, url: str, headers: dict) -> int:
    """The HTTP status of one request; for ``ws`` the WebSocket handshake's (101 when accepted)."""
    if method == "ws":
        try:
            ws = await http.ws_connect(url, headers=headers)
        except WSServerHandshakeError as e:
            return e.status
        await ws.close()
        return 101
    async with http.request(method, url, headers=headers, data=b"1,2\n" * 20) as r:
        return r.status


def _routes(url: str, session: str) -> list[tuple[str, str]]:
    """Every route of the server, with the printed URL's token: (method, URL)."""
    return [
        ("GET", url),
        ("GET", endpoint(url, "static/app.js")),
        ("ws", endpoint(url, "ws")),
        ("POST", endpoint(url, "api/upload", session=session, name="p.csv")),
    ]


def test_dns_rebinding_is_refused_on_every_route_and_logged_once(tmp_path, caplog):
    async def scenario(http, url, _):
        ws, hello = await join(http, url)
        port = split_host(url.split("/")[2])[1]
        evil = {"Host": f"evil.example:{port}", "Origin": f"http://evil.example:{port}"}
        refused = [await _status(http, m, u, evil) for m, u in _routes(url, hello["session"])]
        wrong_port = [
            await _status(http, m, u, {"Host": f"localhost:{port + 1}"})
            for m, u in _routes(url, hello["session"])
        ]
        names = [
            await _status(http, "GET", url, {"Host": f"{name}:{port}"})
            for name in ("localhost", "LOCALHOST", "127.0.0.1", "[::1]")
        ]
        async with http.get(url, headers=evil) as r:
            message = (await r.json())["error"]
        await ws.close()
        return refused, wrong_port, names, message

    with caplog.at_level(logging.WARNING, logger="gankit.playground"):
        refused, wrong_port, names, message = run_served(tmp_path, scenario)
    assert refused == [403] * 4 and wrong_port == [403] * 4, (refused, wrong_port)
    assert names == [200] * 4
    assert (
        "does not name this server" in message and "evil.example" in message and "\n" not in message
    )
    logged = [r.getMessage() for r in caplog.records if "evil.example" in r.getMessage()]
    assert len(logged) == 1, logged


def test_the_websocket_and_the_upload_need_the_token(tmp_path):
    async def scenario(http, url, _):
        ws, hello = await join(http, url)
        base, session = url.split("?")[0], hello["session"]
        statuses = {}
        for label, query in [
            ("missing", {}),
            ("wrong", {"token": "x" * 32}),
            ("empty", {"token": ""}),
        ]:
            statuses[label] = [
                await _status(http, "ws", f"{base}ws?{urlencode(query)}", {}),
                await _status(
                    http,
                    "POST",
                    f"{base}api/upload?"
                    + urlencode({**query, "session": session, "name": "p.csv"}),
                    {},
                ),
            ]
        statuses["right"] = [await _status(http, m, u, {}) for m, u in _routes(url, session)]
        await ws.close()
        return statuses

    statuses = run_served(tmp_path, scenario)
    assert statuses == {
        "missing": [403, 403],
        "wrong": [403, 403],
        "empty": [403, 403],
        "right": [200, 200, 101, 200],
    }, statuses


def test_the_websocket_and_the_upload_refuse_an_origin_of_another_scheme_or_port(tmp_path):
    """An ``Origin`` must give this server's scheme, host and port: an https page on the same host and port is
    another origin than this http server; the http origin (host in any case) and no ``Origin`` at all are accepted."""

    async def scenario(http, url, _):
        ws, hello = await join(http, url)
        authority = url.split("/")[2]
        port = split_host(authority)[1]
        cases = [
            {"Origin": f"https://{authority}"},
            {"Origin": f"http://127.0.0.1:{port + 1}"},
            {"Origin": "null"},
            {"Origin": f"http://{authority}"},
            {"Origin": f"http://localhost:{port}", "Host": f"LOCALHOST:{port}"},
            {},
        ]
        statuses = [
            [await _status(http, m, u, headers) for m, u in _routes(url, hello["session"])[2:]]
            for headers in cases
        ]
        await ws.close()
        return statuses

    statuses = run_served(tmp_path, scenario)
    assert statuses == [[403, 403]] * 3 + [[101, 200]] * 3, statuses


def test_allow_host_adds_a_name_and_no_token_drops_the_token_on_loopback(tmp_path):
    async def scenario(http, url, _):
        port = split_host(url.split("/")[2])[1]
        named = await _status(http, "GET", url, {"Host": f"gankit.test:{port}"})
        other = await _status(http, "GET", url, {"Host": f"other.test:{port}"})
        return url, named, other, await _status(http, "ws", endpoint(url.split("?")[0], "ws"), {})

    url, named, other, ws = run_served(
        tmp_path, scenario, allow_hosts=("gankit.test",), token=False
    )
    assert "token" not in url and (named, other, ws) == (200, 403, 101)
    with pytest.raises(GankitError, match="--no-token needs a loopback"):
        run_served(tmp_path, scenario, host="0.0.0.0", token=False)


def test_histogram_jsd_of_uploads_closed_forms():
    lo, hi = torch.tensor([0.0, 0.0]), torch.tensor([1.0, 1.0])
    a = torch.rand(500, 2, generator=torch.Generator().manual_seed(0))
    assert histogram_jsd(a, a, lo, hi, 8) == pytest.approx(0.0, abs=1e-12)
    # disjoint cells
    assert histogram_jsd(a * 0.5, a * 0.5 + 0.5, lo, hi, 8) == pytest.approx(math.log(2))
    # all fakes outside the box
    assert histogram_jsd(a, a + 5.0, lo, hi, 8) == pytest.approx(math.log(2))


def test_penalty_weights_are_page_settings_and_reach_the_config():
    """R1/R2 are visible settings: a distribution's preset fills them in (grid25: 0.1 each), the page may set them
    to 0, and out-of-range values get a one-line error, so no penalty stays hidden when the objective changes."""
    from gankit.errors import ConfigError
    from gankit.playground.settings import check, to_config

    grid = check({"dataset": "grid25"}, None)
    assert (grid["r1"], grid["r2"]) == (0.1, 0.1)
    cfg = to_config(check({"dataset": "grid25", "objective": "gan", "r1": 0, "r2": 0}, None), None)
    assert (cfg.objective.loss, cfg.objective.r1, cfg.objective.r2) == ("gan", 0.0, 0.0)
    assert check({"dataset": "ring8"}, None)["r1"] == 0.0
    with pytest.raises(ConfigError, match="setting r2"):
        check({"dataset": "grid25", "r2": -1}, None)
