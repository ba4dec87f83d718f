"""A folder larger than memory trains: ``gankit train`` on ``folder:PATH`` under a memory limit smaller than the
folder's decoded pixels, reporting the decoded size, the limit, the run's exit status and its peak memory.

The limit is a Linux memory cgroup (v2 ``memory.max``, or v1 ``memory.limit_in_bytes``; root needed) that holds the
training process: its anonymous memory and the page cache it fills both count, and the kernel evicts the memory map's
clean pages when the group reaches the limit, so a run that copied the set into memory would be killed. The decode
cache is a temporary folder, so the first load (decode into the cache) runs under the limit too.

    python benchmarks/folder_memory.py --folder PATH [--limit-mib 1024] [--resolution 128] [--steps 200]

Peak memory is read two ways: the cgroup's peak (v2 ``memory.peak``, v1 ``memory.max_usage_in_bytes``: anonymous
memory plus page cache) and the process's peak resident set (``ru_maxrss``, which counts the mapped file's pages
that were resident at once).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

V2, V1 = Path("/sys/fs/cgroup"), Path("/sys/fs/cgroup/memory")


def make_group(limit: int) -> tuple[Path, str, str]:
    """A new memory cgroup limited to ``limit`` bytes: (its folder, the limit file, the peak file)."""
    name = f"gankit-folder-memory-{os.getpid()}"
    if (V2 / "cgroup.controllers").exists():
        group, limit_file, peak_file = V2 / name, "memory.max", "memory.peak"
    elif V1.is_dir():
        group, limit_file, peak_file = (
            V1 / name,
            "memory.limit_in_bytes",
            "memory.max_usage_in_bytes",
        )
    else:
        sys.exit("no memory cgroup on this machine: the limit cannot be set")
    group.mkdir()
    (group / limit_file).write_text(str(limit))
    return group, limit_file, peak_file


def train_command(args: argparse.Namespace, run_dir: Path) -> list[str]:
    """The pictures64 run on the folder at ``--resolution``, fp32, ``--steps`` steps."""
    sets = [
        f"data.resolution={args.resolution}",
        f"train.steps={args.steps}",
        "train.minutes=null",
        "train.precision=fp32",
        f"train.sample_every={args.steps}",
        f"train.checkpoint_every={args.steps}",
    ]
    command = [
        sys.executable,
        "-m",
        "gankit",
        "train",
        "pictures64",
        "--data",
        f"folder:{args.folder}",
    ]
    for s in sets:
        command += ["--set", s]
    return command + ["--run-dir", str(run_dir), "--quiet"]


def decoded_bytes(cache: Path) -> int:
    """Bytes of the decoded pixels (.npy) in the decode cache folder ``cache``."""
    return sum(p.stat().st_size for p in (cache / "folders").glob("*.npy"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folder", required=True, type=Path)
    parser.add_argument("--limit-mib", type=int, default=1024)
    parser.add_argument("--resolution", type=int, default=128)
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args()
    group, _, peak_file = make_group(args.limit_mib << 20)
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "GANKIT_CACHE": str(Path(tmp) / "cache"), "OMP_NUM_THREADS": "2"}
        start = time.perf_counter()
        join = lambda: (group / "cgroup.procs").write_text(str(os.getpid()))  # noqa: E731
        # the child joins the group before it runs Python: every page it touches counts
        rc = subprocess.run(
            train_command(args, Path(tmp) / "run"), env=env, preexec_fn=join
        ).returncode
        minutes = (time.perf_counter() - start) / 60
        size = decoded_bytes(Path(tmp) / "cache")
    peak = int((group / peak_file).read_text())
    group.rmdir()
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    print(f"folder {args.folder} at {args.resolution} px: decoded pixels {size / 2**20:,.0f} MiB")
    print(f"memory limit {args.limit_mib:,} MiB (cgroup); exit status {rc}; {minutes:.1f} minutes")
    print(f"peak of the cgroup (anonymous + page cache) {peak / 2**20:,.0f} MiB")
    print(f"peak resident set of the run {rss / 2**20:,.0f} MiB")


if __name__ == "__main__":
    main()
