"""The playground's web server (aiohttp): the page, one WebSocket per browser tab, uploads, idle-session cleanup.

Routes: ``GET /`` the page (``/?session=ID`` joins a session), ``GET /static/*`` its script and style, ``GET /ws``
the WebSocket, ``POST /api/upload?session=ID&name=FILE`` a CSV body (at most 5 MiB). Every socket of a session gets
its messages; a socket that falls behind skips frames, never setup, state or event messages. A session with no socket
for ``idle_timeout`` seconds stops training and is freed; sessions found idle at the same check stop together. Another
site open in the same browser must not drive a local server: every route refuses a ``Host`` that does not name this
server, the WebSocket and the upload need the token of the printed URL (``?token=…``, see :mod:`.access`), and both
refuse requests from pages of another scheme, host or port (``Origin``).

Server → page messages (JSON): ``hello`` {session, notice, choices, presets, speed_range}, ``setup`` and ``frame``
(see :mod:`gankit.playground.views`; frames add ``point``), ``history`` {points}, ``state`` {running, speed, step},
``error`` {message}, ``notice`` {message}, ``saved`` {path, step}. Page → server: see :meth:`Session.command`; a
message that is not JSON, nests deeper than 8 levels or holds NaN/Infinity gets an ``error`` message
(gankit.playground.bodies), as does a bad command.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import secrets
import signal
import time
from collections import deque
from pathlib import Path
from typing import Awaitable, Callable

from aiohttp import WSMsgType, web
from yarl import URL

from ..errors import DatasetError, GankitError
from .access import WILDCARDS, Access, access_for, is_loopback
from .bodies import error, one_line, parse
from .session import SPEED_RANGE, CommandError, Session
from .settings import choices, presets
from .uploads import MAX_BYTES, clean_name, parse_upload, too_large

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
MAX_SESSIONS = 32
MAX_COMMAND_BYTES = 64 * 2**10
HISTORY_CAP = 2000  # curve points kept per session; past it every other one is dropped (the page does the same)
# an oversized upload is read (and dropped) up to this, so the browser gets the reply
DRAIN_LIMIT = 64 * 2**20


class Viewer:
    """One WebSocket: messages go out in order; consecutive frames collapse into the newest."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws, self.queue, self.frame, self.wake = ws, deque(), None, asyncio.Event()

    def push(self, text: str, droppable: bool = False) -> None:
        if droppable:
            self.frame = text
        else:
            if self.frame is not None:
                self.queue.append(self.frame)
                self.frame = None
            self.queue.append(text)
        self.wake.set()

    async def run(self) -> None:
        try:
            while True:
                await self.wake.wait()
                self.wake.clear()
                while self.queue or self.frame is not None:
                    if self.queue:
                        text = self.queue.popleft()
                    else:
                        text, self.frame = self.frame, None
                    await self.ws.send_str(text)
        except (ConnectionError, RuntimeError):  # the socket closed under us
            return


class Room:
    """A session and its sockets, on the event loop: the latest setup/state/frame and the curve history, so a tab
    that joins late draws the same picture."""

    def __init__(self, sid: str) -> None:
        self.id, self.session = sid, None
        self.viewers: set[Viewer] = set()
        self.cache: dict[str, str] = {}
        self.history: list[list] = []
        self.idle_since = time.monotonic()

    def deliver(self, kind: str, text: str, point: list | None) -> None:
        if kind == "setup":
            self.history = []
            self.cache.pop("frame", None)
        if kind in ("setup", "state", "frame"):
            self.cache[kind] = text
        if point is not None:
            self.history.append(point)
            if len(self.history) > HISTORY_CAP:
                self.history = self.history[::2]
        for v in self.viewers:
            v.push(text, droppable=kind == "frame")

    def join(self, viewer: Viewer, hello: dict) -> None:
        viewer.push(json.dumps(hello))
        if "setup" in self.cache:
            viewer.push(self.cache["setup"])
            viewer.push(json.dumps({"type": "history", "points": self.history}))
        for kind in ("state", "frame"):
            if kind in self.cache:
                viewer.push(self.cache[kind])
        self.viewers.add(viewer)

    def leave(self, viewer: Viewer) -> None:
        self.viewers.discard(viewer)
        if not self.viewers:
            self.idle_since = time.monotonic()


class Playground:
    """All sessions of one server."""

    def __init__(self, runs_dir: Path, idle_timeout: float) -> None:
        self.runs_dir, self.idle_timeout = Path(runs_dir).absolute(), idle_timeout
        self.rooms: dict[str, Room] = {}

    def room_for(self, requested: str | None) -> tuple[Room, str | None]:
        """The session ``requested``, or a new one (with a notice when the requested one has ended)."""
        if requested in self.rooms:
            return self.rooms[requested], None
        if len(self.rooms) >= MAX_SESSIONS:
            raise CommandError(
                f"this server already runs {MAX_SESSIONS} sessions; close a tab and reload"
            )
        room = Room(secrets.token_hex(6))
        loop, sid = asyncio.get_running_loop(), room.id

        def publish(kind: str, text: str, point: list | None) -> None:
            try:
                loop.call_soon_threadsafe(self._deliver, sid, kind, text, point)
            except RuntimeError:  # the event loop has closed: the server is shutting down
                pass

        room.session = Session(sid, self.runs_dir, publish)
        self.rooms[sid] = room
        notice = (
            f"session {str(requested)[:40]} has ended; this is a new one" if requested else None
        )
        return room, notice

    def _deliver(self, sid: str, kind: str, text: str, point: list | None) -> None:
        """A session's message to its room, looked up by id (a session holding its room would keep a freed room and
        its session alive until the cyclic garbage collector runs); dropped once the room is freed."""
        room = self.rooms.get(sid)
        if room is not None:
            room.deliver(kind, text, point)

    async def free(self, rooms: list[Room]) -> None:
        """Free ``rooms`` together: every session is told to stop before any is waited for, so the wait is that of
        the slowest one, not the sum."""
        if not rooms:
            return
        for room in rooms:
            self.rooms.pop(room.id, None)
            room.session.stop()
        await asyncio.get_running_loop().run_in_executor(
            None, _close_all, [room.session for room in rooms]
        )
        for room in rooms:
            log.info("playground session %s freed", room.id)

    async def reap(self) -> None:
        """Free sessions left without sockets for ``idle_timeout`` seconds, checking a few times per timeout."""
        while True:
            await asyncio.sleep(min(1.0, self.idle_timeout / 4))
            now = time.monotonic()
            idle = [
                r
                for r in self.rooms.values()
                if not r.viewers and now - r.idle_since >= self.idle_timeout
            ]
            if idle:
                await self.free(idle)


def _close_all(sessions: list[Session]) -> None:
    """Wait for each (already stopped) session's worker and delete its folder, then release their memory; runs off
    the event loop. A trainer refers to itself (its step runner holds its bound methods), so its tensors go only when
    the cyclic garbage collector runs: once here, rather than whenever later allocations trigger it."""
    for session in sessions:
        session.close()
    gc.collect()


PLAYGROUND = web.AppKey("playground", Playground)
ACCESS = web.AppKey("access", Access)
COMMAND = web.AppKey("command", str)  # the command that serves the app, e.g. "gankit playground"


@web.middleware
async def host_allow_list(request: web.Request, handler):
    """403 for any route when the ``Host`` header does not name this server (DNS rebinding)."""
    reason = request.app[ACCESS].host_refusal(request.headers.get("Host", ""))
    if reason is not None:
        return error(403, reason)
    return await handler(request)


def _same_origin(origin: str, request: web.Request) -> bool:
    """Whether an ``Origin`` header names this server: the scheme (http unless it serves TLS), host and port of the
    request's own URL."""
    try:
        seen = URL(origin)
    except ValueError:
        return False
    here = request.url
    return (seen.scheme, seen.host, seen.port) == (here.scheme, here.host, here.port)


def _refusal(request: web.Request, what: str) -> str | None:
    """Why a WebSocket or an upload is refused (another origin, no or a wrong token), or None."""
    origin = request.headers.get("Origin")
    if origin is not None and not _same_origin(origin, request):
        return f"cross-origin {what} refused"
    if not request.app[ACCESS].token_ok(request.query.get("token")):
        return f"{what} refused: missing or wrong token; open the URL that {request.app[COMMAND]} printed"
    return None


async def index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})


async def websocket(request: web.Request) -> web.WebSocketResponse:
    reason = _refusal(request, "WebSocket")
    if reason is not None:
        return error(403, reason)
    pg = request.app[PLAYGROUND]
    ws = web.WebSocketResponse(heartbeat=30, max_msg_size=MAX_COMMAND_BYTES)
    await ws.prepare(request)
    try:
        room, notice = pg.room_for(request.query.get("session"))
    except CommandError as e:
        await ws.send_str(json.dumps({"type": "error", "message": str(e)}))
        await ws.close()
        return ws
    viewer = Viewer(ws)
    sender = asyncio.create_task(viewer.run())
    room.join(
        viewer,
        {
            "type": "hello",
            "session": room.id,
            "notice": notice,
            "choices": choices(),
            "presets": presets(),
            "speed_range": SPEED_RANGE,
        },
    )
    try:
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            try:
                room.session.command(parse(msg.data))
            except (GankitError, ValueError) as e:
                viewer.push(json.dumps({"type": "error", "message": one_line(e)}))
    finally:
        room.leave(viewer)
        sender.cancel()
    return ws


async def _read_capped(request: web.Request) -> tuple[bytes, int]:
    """(the body's first MAX_BYTES + 1 bytes, its size up to DRAIN_LIMIT)."""
    kept, size = bytearray(), 0
    async for chunk in request.content.iter_chunked(2**16):
        size += len(chunk)
        if len(kept) <= MAX_BYTES:
            kept += chunk[: MAX_BYTES + 1 - len(kept)]
        if size > DRAIN_LIMIT:
            break
    return bytes(kept), size


async def upload(request: web.Request) -> web.Response:
    reason = _refusal(request, "upload")
    if reason is not None:
        return error(403, reason)
    room = request.app[PLAYGROUND].rooms.get(request.query.get("session", ""))
    if room is None:
        return error(404, "unknown or ended session; reload the page")
    name = clean_name(request.query.get("name", ""))
    data, size = await _read_capped(request)
    if size > MAX_BYTES:
        return error(413, str(too_large(name, size)))
    try:
        points = await asyncio.get_running_loop().run_in_executor(None, parse_upload, data, name)
    except DatasetError as e:
        return error(400, str(e))
    room.session.accept_upload(points)
    return web.json_response({"name": name, "rows": len(points.x), "dim": points.dim})


def build_app(runs_dir: Path, access: Access, idle_timeout: float = 60.0) -> web.Application:
    """The aiohttp application, guarded by ``access``; sessions are freed on cleanup."""
    app = web.Application(client_max_size=MAX_COMMAND_BYTES, middlewares=[host_allow_list])
    app[ACCESS], app[COMMAND] = access, "gankit playground"
    pg = app[PLAYGROUND] = Playground(runs_dir, idle_timeout)
    app.router.add_get("/", index)
    app.router.add_get("/ws", websocket)
    app.router.add_post("/api/upload", upload)
    app.router.add_static("/static", STATIC)

    async def reaper(app: web.Application):
        task = asyncio.create_task(pg.reap())
        yield
        task.cancel()

    async def close_sockets(app: web.Application) -> None:
        for room in list(pg.rooms.values()):
            for viewer in list(room.viewers):
                await viewer.ws.close(message=b"server shutting down")

    async def free_all(app: web.Application) -> None:
        await pg.free(list(pg.rooms.values()))

    app.cleanup_ctx.append(reaper)
    app.on_shutdown.append(close_sockets)
    app.on_cleanup.append(free_all)
    return app


async def open_site(
    app: web.Application, access: Access, host: str, port: int
) -> tuple[web.AppRunner, str]:
    """Serve ``app`` on host:port (0: a free one, recorded in ``access.port``); returns (runner, the page's URL with
    its token, if any)."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    access.port = runner.addresses[0][1]
    shown = "127.0.0.1" if host in WILDCARDS else f"[{host}]" if ":" in host else host
    query = f"?token={access.token}" if access.token else ""
    return runner, f"http://{shown}:{access.port}/{query}"


def run_until_signal(
    start: Callable[[], Awaitable[tuple[web.AppRunner, str]]], announce: Callable[[str], None]
) -> None:
    """Start a server (``start()`` → (runner, URL)), give ``announce`` the URL, serve until SIGINT/SIGTERM, clean
    up."""

    async def main() -> None:
        runner, url = await start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        announce(url)
        try:
            await stop.wait()
        finally:
            await runner.cleanup()

    asyncio.run(main())


async def start(
    host: str,
    port: int,
    runs_dir: Path,
    idle_timeout: float = 60.0,
    allow_hosts: tuple[str, ...] = (),
    token: bool = True,
) -> tuple[web.AppRunner, str]:
    """Start serving on host:port (0: a free port); returns (runner, the page's URL with its token). ``allow_hosts``:
    more names the ``Host`` header may give; ``token=False`` (loopback binds only) drops the token. Warns on a
    non-loopback host."""
    access = access_for(host, tuple(allow_hosts), token)
    site = await open_site(build_app(runs_dir, access, idle_timeout), access, host, port)
    if not is_loopback(host):
        log.warning(
            "the playground is bound to %s, which is not a loopback address: anyone who can reach this port "
            "and has the token can train models on this machine and write run folders into %s; accepted "
            "host names: %s (add more with --allow-host)",
            host or "all interfaces",
            Path(runs_dir).absolute(),
            access.accepted(),
        )
    return site


def serve(
    host: str,
    port: int,
    runs_dir: Path,
    idle_timeout: float = 60.0,
    allow_hosts: tuple[str, ...] = (),
    token: bool = True,
    announce: Callable[[str], None] = print,
) -> None:
    """Run the playground until SIGINT/SIGTERM (arguments as :func:`start`); ``announce`` gets the URL once the port
    is open."""
    run_until_signal(
        lambda: start(host, port, runs_dir, idle_timeout, allow_hosts, token), announce
    )
