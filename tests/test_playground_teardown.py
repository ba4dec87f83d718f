"""The playground frees many closed sessions together: 30 sockets closed at once, each session in the middle of a long
training chunk, are all stopped, joined and deleted, their trainers' memory released, within a few seconds of the idle
timeout."""

from __future__ import annotations

import asyncio
import time
import weakref

from test_playground_server import join, run_served

SESSIONS = 30
IDLE_TIMEOUT = 1.0
MARGIN = 5.0


def test_closed_sessions_are_freed_together_within_the_idle_timeout(tmp_path):
    """Each session plays at 1,000 generator updates per frame: one such chunk takes many seconds when 30 sessions
    share a 2-core machine (a ring8 update takes ~17 ms on one free core), so waiting for the chunks one after the
    other takes minutes. A stopped worker ends after its current update (30 such updates in parallel take well
    under a second even on 2 busy cores) and the reaper looks every idle_timeout / 4 s, so the margin of 5 s holds.
    A trainer refers to itself, so "freed" includes the garbage collection that releases its tensors."""

    async def scenario(http, url, pg):
        sockets = [(await join(http, url))[0] for _ in range(SESSIONS)]
        sessions = [room.session for room in pg.rooms.values()]
        trainers = [weakref.ref(s._trainer) for s in sessions]
        for ws in sockets:
            await ws.send_json({"cmd": "speed", "value": 1000})
            await ws.send_json({"cmd": "play"})
        await asyncio.sleep(0.5)  # every worker is inside a chunk
        await asyncio.gather(*(ws.close() for ws in sockets))
        closed = time.monotonic()

        def freed() -> bool:
            return not (
                pg.rooms
                or any(s._thread.is_alive() or s.folder.exists() for s in sessions)
                or any(t() is not None for t in trainers)
            )

        while not freed() and time.monotonic() - closed < IDLE_TIMEOUT + MARGIN:
            await asyncio.sleep(0.05)
        return len(sessions), freed(), time.monotonic() - closed

    count, freed, seconds = run_served(tmp_path, scenario, idle_timeout=IDLE_TIMEOUT)
    assert count == SESSIONS
    assert freed, f"sessions still alive {seconds:.1f} s after their sockets closed"
