"""Run ``gankit`` while recording every path this process opens for writing, creates or renames into; the list is
written to ``$RECORD_DIR/writes-rank{RANK}.txt`` at exit (for the distributed test: rank 0 alone writes)."""

import atexit
import builtins
import os
import pathlib
import sys

written: list[str] = []
_open, _replace, _mkdir = builtins.open, os.replace, pathlib.Path.mkdir


def _record_open(file, mode="r", *args, **kwargs):
    if any(c in mode for c in "wax+"):
        written.append(str(file))
    return _open(file, mode, *args, **kwargs)


def _record_replace(src, dst, *args, **kwargs):
    written.append(str(dst))
    return _replace(src, dst, *args, **kwargs)


def _record_mkdir(self, *args, **kwargs):
    if not self.exists():
        written.append(str(self))
    return _mkdir(self, *args, **kwargs)


def _dump() -> None:
    path = os.path.join(os.environ["RECORD_DIR"], f"writes-rank{os.environ.get('RANK', '0')}.txt")
    with _open(path, "w") as f:
        f.write("\n".join(written))


builtins.open, os.replace, pathlib.Path.mkdir = _record_open, _record_replace, _record_mkdir
atexit.register(_dump)

from gankit.cli import main  # noqa: E402  (after the patches, so gankit's writes are seen)

sys.exit(main(sys.argv[1:]))
