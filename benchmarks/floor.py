"""The real-vs-real floor of a set without a test split (a folder, ``emoji``): FID and KID between two disjoint halves
of the set, drawn by a seeded permutation. A generator evaluated against the whole set cannot be expected to read
below this.

    python benchmarks/floor.py --data emoji --out runs/floor        # emoji at 64×64 on white (the defaults)
    python benchmarks/floor.py --data folder:~/pictures --set data.resolution=64
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from gankit.config import DataConfig
from gankit.data import load_dataset
from gankit.evaluation import EvalOptions, evaluate_samples
from gankit.fileio import npz_bytes


def write_npz(path: Path, x: torch.Tensor) -> None:
    """``x`` (uint8 [N, C, H, W]) as an .npz with key ``x``."""
    path.write_bytes(npz_bytes({"x": x.numpy()}))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="emoji", help="data.name of the set (default emoji)")
    p.add_argument("--set", action="append", default=[], metavar="data.KEY=VALUE", help="other data settings")
    p.add_argument("--seed", type=int, default=0, help="seed of the split into halves")
    p.add_argument("--out", required=True, help="folder for the two halves and the result")
    args = p.parse_args()
    settings = {k.removeprefix("data."): v for k, v in (item.split("=", 1) for item in args.set)}
    cfg = DataConfig(name=args.data, **{k: int(v) if v.isdigit() else v for k, v in settings.items()})
    x = load_dataset(cfg).train.x
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(args.seed))
    half = len(x) // 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_npz(out / "a.npz", x[order[:half]])
    write_npz(out / "b.npz", x[order[half:2 * half]])
    result = evaluate_samples(out / "a.npz", EvalOptions(metrics=["fid", "kid"], reference=str(out / "b.npz")),
                              out / "floor.json")
    for row in result["rows"]:
        print(f"{row['metric']}: {row['value']:.4f} ({half} vs {half} images of {args.data}, seed {args.seed})")
    print(json.dumps({"data": args.data, "settings": settings, "half": half}))


if __name__ == "__main__":
    main()
