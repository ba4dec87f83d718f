"""The page's "save as run": a playground trainer written as a normal gankit run folder that ``gankit sample`` (and
``gankit train --resume``) can load: ``config.yaml``, ``checkpoints/`` as :meth:`Trainer.save_checkpoint` writes
them, and for an uploaded file ``data.csv`` with ``data.name: points:/ABSOLUTE/RUN/data.csv`` pointing at it.
``train.steps`` is the number of steps trained (at least 1)."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from ..config import from_dict, to_yaml
from ..errors import RunDirError
from ..fileio import write_atomic
from ..train import Trainer
from ..train import checkpoint as ckpt
from .uploads import Upload, csv_bytes

DATA_CSV = "data.csv"


def _free_name(runs_dir: Path, base: str) -> Path:
    path, n = runs_dir / base, 2
    while path.exists():
        path, n = runs_dir / f"{base}-{n}", n + 1
    return path


def save_run(trainer: Trainer, upload: Upload | None, runs_dir: Path) -> Path:
    """Write the trainer's current state under ``runs_dir`` (created if needed); returns the new folder. The folder
    is assembled under a hidden ``.NAME.partial`` name and renamed when complete."""
    runs_dir = Path(runs_dir).absolute()
    source = "upload" if upload is not None else trainer.cfg.data.name
    final = _free_name(runs_dir, f"{source}-{time.strftime('%Y%m%d-%H%M%S')}-step{trainer.step}")
    raw = trainer.cfg.to_dict()
    raw["train"]["steps"] = max(trainer.step, 1)
    if upload is not None:
        raw["data"]["name"] = f"points:{final / DATA_CSV}"
    cfg = from_dict(raw)
    tmp = runs_dir / f".{final.name}.partial"
    try:
        (tmp / "checkpoints").mkdir(parents=True)
        write_atomic(tmp / "config.yaml", to_yaml(cfg).encode())
        if upload is not None:
            write_atomic(tmp / DATA_CSV, csv_bytes(upload.x))
        tensors, meta = trainer.state_tensors()
        meta["config"] = cfg.to_dict()
        ckpt.save(tmp / "checkpoints", trainer.step, tensors, meta, cfg.train.keep_checkpoints)
        os.replace(tmp, final)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise RunDirError(f"cannot write run folder {final}: {e.strerror or e}") from None
    return final
