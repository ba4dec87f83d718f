"""``gankit explore``: a page in the browser over a trained image generator (loopback only, with a token)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import GankitError
from .common import Command


def arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", help="run folder of an image run (its checkpoints/ is all it needs)")
    p.add_argument(
        "--port",
        type=int,
        default=8001,
        help="port on 127.0.0.1 (default 8001; 0 picks a free one)",
    )


def cmd_explore(args: argparse.Namespace) -> int:
    # start-up: the command line imports torch and the library only when it needs them
    from ..playground.explore import serve_explorer

    if not 0 <= args.port <= 65535:
        raise GankitError(f"--port must be 0..65535, got {args.port}")
    serve_explorer(
        Path(args.run),
        args.port,
        announce=lambda url: print(f"gankit explore: {url}  (Ctrl-C to stop)", flush=True),
    )
    return 0


COMMAND = Command(
    "explore", "a page in the browser over a trained image generator", arguments, cmd_explore
)
