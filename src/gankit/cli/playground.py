"""``gankit playground``: the web page that trains 1-D/2-D GANs live."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import GankitError
from .common import Command


def arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1, this machine only)",
    )
    p.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    p.add_argument(
        "--runs-dir",
        default="playground-runs",
        help="folder 'save as run' writes run folders into (default ./playground-runs)",
    )
    p.add_argument(
        "--idle-timeout",
        type=float,
        default=60.0,
        help="seconds a session without open tabs keeps training before it is freed (default 60)",
    )
    p.add_argument(
        "--allow-host",
        dest="allow_hosts",
        action="append",
        default=[],
        metavar="NAME",
        help="another name the page may be opened under, e.g. this machine's LAN name (repeatable)",
    )
    p.add_argument(
        "--no-token",
        dest="token",
        action="store_false",
        help="do not require the URL's secret token (loopback --host only)",
    )


def cmd_playground(args: argparse.Namespace) -> int:
    # start-up: the command line imports torch and the library only when it needs them
    from ..playground import serve

    if not 0 <= args.port <= 65535:
        raise GankitError(f"--port must be 0..65535, got {args.port}")
    if not args.idle_timeout > 0:
        raise GankitError(f"--idle-timeout must be positive, got {args.idle_timeout}")
    serve(
        args.host,
        args.port,
        Path(args.runs_dir),
        args.idle_timeout,
        tuple(args.allow_hosts),
        args.token,
        announce=lambda url: print(f"gankit playground: {url}  (Ctrl-C to stop)", flush=True),
    )
    return 0


COMMAND = Command(
    "playground",
    "web page to watch and steer training of 1-D/2-D GANs live",
    arguments,
    cmd_playground,
)
