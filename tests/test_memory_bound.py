"""A memory-mapped uint8 set trains without a float copy of the whole set: the trainer's extra memory stays far
below the set's size, and the pixel mean it reads from the set is exact."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import torch

from gankit.train import training_data

SET_MIB = 256  # the mapped set: 262,144 uint8 images of 1×32×32
BOUND_MIB = SET_MIB // 2

# In a fresh process: one step on 64 images first (imports, allocator pools and the models' own memory settle), then
# every page of the mapped set is read into memory, and ru_maxrss (the process's peak RSS, KiB) is taken before and
# after one step on the whole set. The file's pages are already counted in that first reading, so the growth is what
# training allocates besides them.
PEAK_GROWTH = """
import json, resource, sys
import numpy as np, torch
from gankit.config import from_dict
from gankit.data import Dataset, Split
from gankit.train import Trainer

def peak_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

def fit(x, run):
    data = Dataset("mapped", "image", {"train": Split(torch.from_numpy(x))})
    Trainer(cfg, run, dataset=data).fit()

cfg = from_dict({
    "model": {"arch": "mlp", "z_dim": 8, "hidden": 16, "layers": 1},
    "optim": {"name": "adam", "lr": 1e-3},
    "train": {"steps": 1, "batch_size": 8, "log_every": 1, "sample_every": 1000, "checkpoint_every": 1000,
              "grid_size": 4},
})
x = np.load(sys.argv[1], mmap_mode="c")
fit(np.array(x[:64]), sys.argv[2] + "-warm")
int(x.max())
before = peak_mib()
fit(x, sys.argv[2])
print(json.dumps({"growth_mib": peak_mib() - before}))
"""


def _mapped_set(path, n: int, shape: tuple[int, ...]) -> np.memmap:
    """A uint8 .npy of n images of ``shape`` at ``path``, written a block at a time, opened memory-mapped."""
    x = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8, shape=(n, *shape))
    pattern = np.arange(8192 * np.prod(shape), dtype=np.int64).reshape(8192, *shape)
    for start in range(0, n, 8192):
        x[start : start + 8192] = ((pattern[: n - start] * 7 + start) % 251).astype(np.uint8)
    x.flush()
    return np.load(path, mmap_mode="c")


def test_training_a_memory_mapped_set_adds_far_less_than_its_size(tmp_path):
    """Peak RSS growth of a training step on a 256 MiB mapped set is under half the set's size. Measured on a 2-core
    CPU: 915 MiB while G's pixel mean came from a float32 copy of the set (4 bytes per pixel), 16 MiB with the mean
    summed a block at a time; the bound sits 8× above the one and 7× below the other, and the models, optimiser,
    batch and checkpoint are inside it."""
    _mapped_set(tmp_path / "x.npy", SET_MIB * 1024, (1, 32, 32))
    out = subprocess.run(
        [sys.executable, "-c", PEAK_GROWTH, str(tmp_path / "x.npy"), str(tmp_path / "run")],
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    growth = json.loads(out.stdout.strip().splitlines()[-1])["growth_mib"]
    assert growth < BOUND_MIB, f"peak RSS grew {growth:.0f} MiB on a {SET_MIB} MiB set"


def test_image_mean_of_a_mapped_set_is_exact_and_read_in_blocks(tmp_path, monkeypatch):
    """Blocks of 7 rows over 50 (a partial last block): the float64 mean within 1e-6, and no block converted is
    larger than MEAN_BLOCK_BYTES."""
    x = torch.from_numpy(_mapped_set(tmp_path / "x.npy", 50, (3, 8, 8)))
    monkeypatch.setattr(training_data, "MEAN_BLOCK_BYTES", 8 * 3 * 8 * 8 * 7)
    converted, to = [], torch.Tensor.to

    def spy(self, *args, **kwargs):
        converted.append(self.numel())
        return to(self, *args, **kwargs)

    monkeypatch.setattr(torch.Tensor, "to", spy)
    mean = training_data.image_mean(x)
    monkeypatch.undo()
    exact = np.load(tmp_path / "x.npy").astype(np.float64).mean(0) / 255.0
    assert mean.dtype == torch.float32 and mean.shape == (3, 8, 8)
    assert np.abs(mean.numpy() - exact).max() < 1e-6
    assert max(converted) == 7 * 3 * 8 * 8 and len(converted) == 8
