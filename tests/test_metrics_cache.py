"""On-disk statistics cache: computed once, keyed exactly, corrupt files recomputed, atomic writes."""

from __future__ import annotations

import logging

import pytest
import torch
from safetensors.torch import save as save_safetensors

from gankit.errors import MetricError
from gankit.metrics.cache import load_or_compute, stats_path


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path))
    return tmp_path


class Counter:
    def __init__(self, value: float = 1.0) -> None:
        self.calls, self.value = 0, value

    def __call__(self) -> dict[str, torch.Tensor]:
        self.calls += 1
        return {
            "mu": torch.full((4,), self.value, dtype=torch.float64),
            "sigma": torch.eye(4) * self.value,
        }


KEY = {"dataset": "mnist", "split": "test", "n": 10000, "weights": "ab" * 32}


def test_stats_path_layout_and_key_order(_cache):
    path = stats_path("fid", **KEY)
    assert path.parent == _cache / "stats" and path.suffix == ".safetensors"
    assert path.name.startswith("fid-") and len(path.stem) == len("fid-") + 16
    assert stats_path("fid", **dict(reversed(list(KEY.items())))) == path
    assert stats_path("fid", **{**KEY, "n": 5000}) != path
    with pytest.raises(MetricError, match="kind"):
        stats_path("../evil", **KEY)


def test_computed_once_then_loaded(_cache):
    compute = Counter(2.0)
    first = load_or_compute("fid", KEY, compute)
    second = load_or_compute("fid", dict(KEY), compute)
    assert compute.calls == 1
    assert first.keys() == second.keys() == {"mu", "sigma"}
    for name in first:
        assert torch.equal(first[name], second[name]) and first[name].dtype == second[name].dtype
    assert second["mu"].dtype == torch.float64
    assert sorted(p.name for p in (_cache / "stats").iterdir()) == [stats_path("fid", **KEY).name]


def test_different_key_or_kind_recomputes(_cache):
    compute = Counter()
    load_or_compute("fid", KEY, compute)
    load_or_compute("fid", {**KEY, "split": "train"}, compute)
    load_or_compute("kid", KEY, compute)
    assert compute.calls == 3
    load_or_compute("fid", {**KEY, "split": "train"}, compute)
    assert compute.calls == 3


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty"])
def test_corrupt_file_recomputed(_cache, caplog, damage):
    compute = Counter(3.0)
    load_or_compute("fid", KEY, compute)
    path = stats_path("fid", **KEY)
    data = path.read_bytes()
    path.write_bytes(
        {"garbage": b"\x00junk" * 50, "truncated": data[: len(data) // 2], "empty": b""}[damage]
    )
    with caplog.at_level(logging.WARNING, logger="gankit.metrics.cache"):
        again = load_or_compute("fid", KEY, compute)
    assert compute.calls == 2 and "recomputing" in caplog.text
    assert torch.equal(again["mu"], torch.full((4,), 3.0, dtype=torch.float64))
    load_or_compute("fid", KEY, compute)  # the rewritten file is good again
    assert compute.calls == 2


def test_file_with_other_key_not_trusted(_cache):
    path = stats_path("fid", **KEY)
    path.parent.mkdir(parents=True)
    path.write_bytes(
        save_safetensors({"mu": torch.zeros(4)}, metadata={"kind": "fid", "key": '{"n":1}'})
    )
    compute = Counter(5.0)
    out = load_or_compute("fid", KEY, compute)
    assert compute.calls == 1 and torch.equal(out["mu"], torch.full((4,), 5.0, dtype=torch.float64))


def test_no_temp_files_left(_cache):
    for i in range(3):
        load_or_compute("fid", {**KEY, "n": i}, Counter(float(i)))
    names = [p.name for p in (_cache / "stats").iterdir()]
    assert len(names) == 3 and all(
        n.endswith(".safetensors") and not n.startswith(".") for n in names
    )


def test_bad_compute_result(_cache):
    with pytest.raises(MetricError, match="dict of str -> Tensor"):
        load_or_compute("fid", KEY, lambda: {"mu": [1.0]})
    assert not stats_path("fid", **KEY).exists()
