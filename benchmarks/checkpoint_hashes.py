"""Bit-identity across versions: train a few configs for a few steps (one thread) and print, per config, a SHA-256 over
every tensor of the final checkpoint (weights, EMA, optimiser moments, RNG states, counters). Run it on two commits
and compare the lines:

    python benchmarks/checkpoint_hashes.py > new.txt
    git worktree add /tmp/old COMMIT && PYTHONPATH=/tmp/old/src python benchmarks/checkpoint_hashes.py > old.txt
"""

import hashlib
import tempfile
from pathlib import Path

import torch
from safetensors.torch import load_file

from gankit.config import load_config
from gankit.train import Trainer

torch.set_num_threads(1)
CASES = {
    "quickstart": ("quickstart", ["train.steps=6"]),
    "ring8": ("ring8", ["train.steps=6", "data.n_samples=512"]),
    "fashion-rpgan-dcgan": (
        "fashion-rpgan-dcgan",
        ["train.steps=4", "train.minutes=null", "model.width=8"],
    ),
    "emoji64-dcgan-aug": (
        "fashion-rpgan-dcgan",
        [
            "train.steps=3",
            "train.minutes=null",
            "model.width=8",
            "data.name=emoji",
            "data.resolution=64",
            "data.channels=rgb",
            "train.augment=translation,color,cutout",
        ],
    ),
    "fashion-r3": ("fashion-r3", ["train.steps=3", "train.minutes=null", "train.nimg=null"]),
    "conditional": (
        "ring8",
        ["train.steps=6", "data.n_samples=512", "model.conditional=projection"],
    ),
    "hinge-ada": (
        "fashion-hinge-sn-ema",
        [
            "train.steps=4",
            "train.minutes=null",
            "model.width=8",
            "train.augment=translation,color",
            "train.ada_target=0.6",
        ],
    ),
}
for name, (preset, sets) in CASES.items():
    with tempfile.TemporaryDirectory() as d:
        try:
            cfg = load_config(
                preset,
                sets
                + ["train.log_every=2", "train.sample_every=100", "train.checkpoint_every=100"],
            )
            Trainer(cfg, Path(d) / "run").fit()
        except Exception as e:
            print(name, "ERROR", type(e).__name__, str(e)[:100])
            continue
        ck = Path(d) / "run" / "checkpoints"
        latest = (ck / "latest").read_text().strip()
        tensors = load_file(str(ck / f"{latest}.safetensors"))
        h = hashlib.sha256()
        for k in sorted(tensors):
            h.update(k.encode())
            h.update(
                tensors[k].reshape(-1).contiguous().view(torch.uint8).numpy().tobytes()
                if tensors[k].numel()
                else b""
            )
        print(name, latest, h.hexdigest()[:16], flush=True)
