"""Helpers the test modules import (``from gankit_testkit import …``): quick configs and checkpoint comparisons.

Named so that no installed package shadows it (torch-fidelity, for one, installs a top-level package ``tests``, so
``from gankit_testkit import …`` fails beside it); pytest puts this folder on ``sys.path``.
"""

from __future__ import annotations

import torch
from safetensors.torch import load_file

from gankit.config import from_dict


def quick_config(**sections):
    """A paper-model config on tiny data with the given section overrides."""
    base = {
        "model": {"arch": "paper-mlp"},
        "objective": {"d_weight": 0.5},
        "optim": {
            "name": "sgd",
            "lr": 0.1,
            "lr_decay": 1.000004,
            "momentum": 0.5,
            "momentum_final": 0.7,
            "momentum_start": 1,
            "momentum_saturate": 5,
        },
        "train": {
            "batch_size": 20,
            "steps": 10,
            "log_every": 3,
            "sample_every": 5,
            "checkpoint_every": 4,
        },
    }
    for name, values in sections.items():
        base.setdefault(name, {}).update(values)
    return from_dict(base)


def saved_checkpoint(run) -> dict[str, torch.Tensor]:
    """The tensors of a run folder's latest checkpoint."""
    name = (run / "checkpoints" / "latest").read_text().strip()
    return load_file(str(run / "checkpoints" / f"{name}.safetensors"))


def same_checkpoints(run_a, run_b) -> dict[str, torch.Tensor]:
    """Assert that two run folders' latest checkpoints hold the same tensors, bit for bit; returns the first's."""
    a, b = saved_checkpoint(run_a), saved_checkpoint(run_b)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    return a
