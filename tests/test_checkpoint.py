"""Checkpoints: safetensors + JSON, atomic, checksummed, the last N kept, optimiser state round trip."""

import json

import pytest
import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from gankit.errors import CheckpointError
from gankit.train import checkpoint as ckpt
from gankit.train.optim import MomentumSGD
from gankit.train.optim_state import optimizer_from_flat, optimizer_to_flat


def _tensors(v: float):
    return {"a.weight": torch.full((3, 2), v), "rng": torch.arange(5, dtype=torch.uint8)}


def test_save_load_round_trip_and_latest(tmp_path):
    ckpt.save(tmp_path, 10, _tensors(1.0), {"step": 10}, keep=5)
    ckpt.save(tmp_path, 20, _tensors(2.0), {"step": 20}, keep=5)
    c = ckpt.load(tmp_path)
    assert c.name == "step-000000020" and c.meta["step"] == 20
    assert torch.equal(c.tensors["a.weight"], torch.full((3, 2), 2.0))
    assert torch.equal(ckpt.load(tmp_path, 10).tensors["a.weight"], torch.full((3, 2), 1.0))
    assert not list(tmp_path.glob(".*tmp*"))  # no temporary files left


def test_keep_last_n(tmp_path):
    for step in range(1, 6):
        ckpt.save(tmp_path, step, _tensors(step), {"step": step}, keep=2)
    assert ckpt.list_checkpoints(tmp_path) == ["step-000000004", "step-000000005"]
    assert sorted(p.name for p in tmp_path.glob("*.safetensors")) == [
        "step-000000004.safetensors",
        "step-000000005.safetensors",
    ]


def test_corrupt_tensor_file_is_detected(tmp_path):
    ckpt.save(tmp_path, 1, _tensors(1.0), {"step": 1}, keep=2)
    path = tmp_path / "step-000000001.safetensors"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="SHA-256"):
        ckpt.load(tmp_path)


def test_missing_and_foreign_checkpoints(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint"):
        ckpt.load(tmp_path)
    ckpt.save(tmp_path, 1, _tensors(1.0), {"step": 1}, keep=2)
    with pytest.raises(CheckpointError, match="does not exist; present: step-000000001"):
        ckpt.load(tmp_path, 7)
    meta = json.loads((tmp_path / "step-000000001.json").read_text())
    meta["format"] = "other"
    (tmp_path / "step-000000001.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="not a gankit checkpoint"):
        ckpt.load(tmp_path)


def test_json_meta_holds_no_tensors_and_file_is_safetensors(tmp_path):
    ckpt.save(tmp_path, 3, _tensors(1.0), {"step": 3}, keep=1)
    meta = json.loads((tmp_path / "step-000000003.json").read_text())
    assert meta["tensors"] == "step-000000003.safetensors" and len(meta["sha256"]) == 64
    header_len = int.from_bytes((tmp_path / meta["tensors"]).read_bytes()[:8], "little")
    assert header_len < 10_000  # safetensors: 8-byte little-endian header length, then JSON header


@pytest.mark.parametrize(
    "make",
    [lambda ps: torch.optim.Adam(ps, lr=0.01), lambda ps: MomentumSGD(ps, lr=0.1, momentum=0.5)],
)
def test_optimizer_state_round_trip(make):
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    opt = make(model.parameters())
    for _ in range(3):
        model(torch.randn(4, 3)).sum().backward()
        opt.step()
    tensors, meta = optimizer_to_flat("opt", opt)
    # as a checkpoint stores them
    tensors, meta = (st_load(st_save(tensors)), json.loads(json.dumps(meta)))
    clone = torch.nn.Linear(3, 2)
    clone.load_state_dict(model.state_dict())
    opt2 = make(clone.parameters())
    optimizer_from_flat("opt", opt2, tensors, meta)
    x = torch.randn(4, 3)
    for m, o in ((model, opt), (clone, opt2)):
        o.zero_grad()
        m(x).sum().backward()
        o.step()
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), clone.parameters()))
