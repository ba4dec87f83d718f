"""Cost of the folder decode cache (gankit.data.decode_cache): the first load of ``folder:PATH`` (decode, write,
checksum) and a warm load (key over the files' stats, SHA-256 check of the cached .npy, memory map), with the
check's own cost, on N pictures.

Without ``--folder`` it writes N random-ish PNGs (smooth colour fields with noise, ``--size`` px square, RGB) into a
temporary folder; the cache is a temporary folder too (the user's is never touched). Warm loads find the entry in
the page cache (it was just written) unless ``--drop-caches`` (root: writes /proc/sys/vm/drop_caches before each),
which gives the cost of reading it from disk.

    python benchmarks/decode_cache.py [--n 50000] [--size 64] [--folder PATH] [--repeats 5] [--drop-caches]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image
from quality import cpu_name  # benchmarks/quality.py, beside this script

from gankit.data.decode_cache import CHUNK, _cache_key, _digests, _slot, decoded, entries
from gankit.data.folder import ReadSettings, decode_all, list_images


def write_pictures(folder: Path, n: int, size: int) -> None:
    """``n`` PNGs of ``size``² RGB: an 8×8 random colour field enlarged bicubically, plus noise of ±8."""

    def one(i: int) -> None:
        rng = np.random.default_rng(i)
        field = Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8))
        x = np.asarray(field.resize((size, size), Image.Resampling.BICUBIC), dtype=np.int16)
        x = np.clip(x + rng.integers(-8, 9, x.shape), 0, 255).astype(np.uint8)
        Image.fromarray(x).save(folder / f"{i // 1000:03d}" / f"{i:06d}.png")

    for k in range((n + 999) // 1000):
        (folder / f"{k:03d}").mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        list(pool.map(one, range(n)))


def drop_caches() -> None:
    """Empty the page cache so the next read comes from disk (Linux, root)."""
    os.sync()
    Path("/proc/sys/vm/drop_caches").write_text("3\n")


def timed(fn, before=None) -> float:
    """Seconds of ``fn()``, after ``before()`` (untimed) when given."""
    if before:
        before()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def measure(folder: Path, how: ReadSettings, repeats: int, cold) -> dict[str, float]:
    """Seconds of each step: the first load, then the median over ``repeats`` warm loads of each part."""
    name = str(folder)
    paths = list_images(folder)[0]  # the regular files; odd ones are never decoded
    load = lambda: decoded(paths, how, False, name, decode_all)  # noqa: E731
    out = {"first load (decode + write + checksum)": timed(load)}
    npy = entries()[0][0].stem.with_suffix(".npy")
    out["  of which the checksum (SHA-256, hot)"] = timed(lambda: _digests(npy, CHUNK))
    slot = _slot(folder.resolve(), how)
    parts = {
        "warm load (key + check + map)": load,
        "  key (a stat per file)": lambda: _cache_key(paths, folder, slot),
        "  check (SHA-256 of the .npy)": lambda: _digests(npy, CHUNK),
        "  map (np.load, mmap_mode='c')": lambda: np.load(npy, mmap_mode="c"),
        "listing the folder (not the cache's)": lambda: list_images(folder),
    }
    for label, fn in parts.items():
        out[label] = statistics.median(timed(fn, cold) for _ in range(repeats))
    out["entry size (GB)"] = npy.stat().st_size / 1e9
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=50_000, help="pictures to write (without --folder)")
    p.add_argument(
        "--size", type=int, default=64, help="their side in pixels, and the read resolution"
    )
    p.add_argument("--folder", type=Path, default=None, help="time this folder instead")
    p.add_argument("--repeats", type=int, default=5, help="warm loads per step (median)")
    p.add_argument("--drop-caches", action="store_true", help="read warm loads from disk (root)")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["GANKIT_CACHE"] = str(Path(tmp, "cache"))
        folder = args.folder or Path(tmp, "pictures")
        if args.folder is None:
            seconds = timed(lambda: write_pictures(folder, args.n, args.size))
            print(f"wrote {args.n:,} PNGs of {args.size}² px in {seconds:.1f} s")
        how = ReadSettings("RGB", args.size)
        rows = measure(folder, how, args.repeats, drop_caches if args.drop_caches else None)
    n = len(list_images(folder)[0]) if args.folder else args.n
    print(f"decode cache: N = {n:,} pictures → 3×{args.size}×{args.size}, {cpu_name()}, ", end="")
    print(f"{os.cpu_count()} cores, warm loads from {'disk' if args.drop_caches else 'page cache'}")
    for label, value in rows.items():
        print(f"{label:<42} {value:8.3f}")
    check = rows["  check (SHA-256 of the .npy)"]
    print(f"{'check throughput (GB/s)':<42} {rows['entry size (GB)'] / check:8.2f}")


if __name__ == "__main__":
    main()
