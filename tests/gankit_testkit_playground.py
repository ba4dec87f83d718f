"""Shared by the playground tests: `gankit playground --port 0` as a child process, its printed URL read with a
timeout (a server that never prints must fail the test, not hang the suite), stopped with SIGINT afterwards."""

from __future__ import annotations

import contextlib
import queue
import re
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

START_TIMEOUT = 60.0


def _first_line(proc: subprocess.Popen, timeout: float) -> str:
    """The child's first line of stdout, or '' when none comes within ``timeout`` seconds or it exits first."""
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: lines.put(proc.stdout.readline()), daemon=True).start()
    try:
        return lines.get(timeout=timeout)
    except queue.Empty:
        return ""


@contextlib.contextmanager
def playground_process(runs_dir: Path, *options: str):
    """Yields (the process, the URL it printed, e.g. ``http://127.0.0.1:PORT/?token=…``); asserts that one was
    printed within START_TIMEOUT seconds and that the server exits with 0 on SIGINT."""
    # stderr to a file: an unread pipe could fill and block the server
    log = tempfile.TemporaryFile(mode="w+")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gankit",
            "playground",
            "--port",
            "0",
            "--runs-dir",
            str(runs_dir),
            *options,
        ],
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    try:
        line = _first_line(proc, START_TIMEOUT)
        found = re.search(r"http://\S+", line)
        assert found, f"no URL in {line!r} within {START_TIMEOUT} s"
        yield proc, found.group(0)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)
            raise
        finally:
            proc.stdout.close()
            log.seek(0)
            errors = log.read()
            log.close()
    assert code == 0, errors
