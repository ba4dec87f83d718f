"""The real-vs-real floor of a set without a test split (a folder, ``emoji``): FID and KID (or ``--metrics``) between
two disjoint halves of the set, drawn by a seeded permutation. A generator evaluated against the whole set cannot be
expected to read below this.

    python benchmarks/floor.py --data emoji --out runs/floor        # emoji at 64×64 on white (the defaults)
    python benchmarks/floor.py --data folder:~/pictures --set data.resolution=64
    python benchmarks/floor.py --data emoji --out runs/floor --metrics fid,kid,fd_random

``--enlarged-from R``: instead, the floor of a model that draws at R pixels and enlarges (model.inner_resolution):
``--n`` pictures of the set taken at R×R, enlarged to the set's resolution (``--mode`` bilinear, as gankit's G does,
or nearest), against the whole set at its own resolution (the protocol of the emoji table).
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


def enlarged_floor(cfg: DataConfig, args: argparse.Namespace) -> None:
    """FID and KID of ``args.n`` pictures taken at ``args.enlarged_from`` pixels and enlarged, vs the whole set."""
    import dataclasses

    small = load_dataset(dataclasses.replace(cfg, resolution=args.enlarged_from)).train.x
    size = load_dataset(cfg).train.x.shape[-1]
    pick = torch.randperm(len(small), generator=torch.Generator().manual_seed(args.seed))[: args.n]
    kw = {"align_corners": False} if args.mode == "bilinear" else {}
    big = torch.nn.functional.interpolate(small[pick].float(), size=size, mode=args.mode, **kw)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_npz(out / "enlarged.npz", big.round().clamp(0, 255).to(torch.uint8))
    reference = f"{cfg.name}:train"
    opts = EvalOptions(metrics=args.metrics.split(","), reference=reference)
    for row in evaluate_samples(out / "enlarged.npz", opts, out / "enlarged.json")["rows"]:
        print(
            f"{row['metric']}: {row['value']:.4f} ({len(pick)} pictures of {cfg.name} at "
            f"{args.enlarged_from} px, {args.mode} to {size}, vs the {row['reference']})"
        )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="emoji", help="data.name of the set (default emoji)")
    p.add_argument(
        "--set", action="append", default=[], metavar="data.KEY=VALUE", help="other data settings"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the split into halves")
    p.add_argument("--out", required=True, help="folder for the two halves and the result")
    p.add_argument("--enlarged-from", type=int, default=None, metavar="R", help="see the docstring")
    p.add_argument("--mode", choices=("bilinear", "nearest"), default="bilinear")
    p.add_argument("--n", type=int, default=2000, help="with --enlarged-from: pictures enlarged")
    p.add_argument("--metrics", default="fid,kid", help="comma-separated, as gankit eval --metrics")
    args = p.parse_args()
    settings = {k.removeprefix("data."): v for k, v in (item.split("=", 1) for item in args.set)}
    cfg = DataConfig(
        name=args.data, **{k: int(v) if v.isdigit() else v for k, v in settings.items()}
    )
    if args.enlarged_from:
        return enlarged_floor(cfg, args)
    x = load_dataset(cfg).train.x
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(args.seed))
    half = len(x) // 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_npz(out / "a.npz", x[order[:half]])
    write_npz(out / "b.npz", x[order[half : 2 * half]])
    result = evaluate_samples(
        out / "a.npz",
        EvalOptions(metrics=args.metrics.split(","), reference=str(out / "b.npz")),
        out / "floor.json",
    )
    for row in result["rows"]:
        print(
            f"{row['metric']}: {row['value']:.4f} ({half} vs {half} images of {args.data}, seed {args.seed})"
        )
    print(json.dumps({"data": args.data, "settings": settings, "half": half}))


if __name__ == "__main__":
    main()
