"""folder:PATH with unreadable images: skipped and counted by default, an error with data.strict=true."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gankit.config import DataConfig, load_config
from gankit.data import load_dataset
from gankit.errors import ConfigError, DatasetError


@pytest.fixture
def folder(tmp_path) -> Path:
    """Three valid images, then (in sorted order) a garbage .jpg and a truncated .png, then one more valid image."""
    rng = np.random.default_rng(0)
    for name in ("a.png", "b.png", "c.jpg", "z.png"):
        Image.fromarray(rng.integers(0, 256, (12, 10, 3), dtype=np.uint8)).save(tmp_path / name)
    (tmp_path / "m-garbage.jpg").write_bytes(b"this is not an image at all\n" * 10)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(buf, "PNG")
    (tmp_path / "n-truncated.png").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    return tmp_path


def test_default_skips_and_counts(folder, caplog):
    with caplog.at_level(logging.WARNING, logger="gankit.data.folder"):
        ds = load_dataset(DataConfig(name=f"folder:{folder}", resolution=8))
    assert len(ds.train) == 4 and ds.train.x.shape == (4, 3, 8, 8) and ds.skipped == 2
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "skipped 2 of 6 images that could not be read" in warnings[0]
    assert "m-garbage.jpg" in warnings[0] and "\n" not in warnings[0]


def test_strict_names_the_first_unreadable_file(folder):
    cfg = load_config(
        "quickstart", [f"data.name=folder:{folder}", "data.resolution=8", "data.strict=true"]
    ).data
    assert cfg.strict is True
    with pytest.raises(DatasetError) as e:
        load_dataset(cfg)
    msg = str(e.value)
    assert "\n" not in msg and str(folder / "m-garbage.jpg") in msg and "n-truncated" not in msg
    assert "cannot identify image file" in msg  # Pillow's reason


def test_strict_truncated_png_reason(tmp_path):
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (64, 64), dtype=np.uint8)).save(
        buf, "PNG"
    )
    (tmp_path / "cut.png").write_bytes(buf.getvalue()[:200])
    with pytest.raises(
        DatasetError, match=r"cut\.png \((OSError|SyntaxError|ValueError)[^)]*(truncated|broken)"
    ):
        load_dataset(DataConfig(name=f"folder:{tmp_path}", strict=True))


def test_strict_clean_folder_loads(folder):
    for bad in ("m-garbage.jpg", "n-truncated.png"):
        (folder / bad).unlink()
    ds = load_dataset(DataConfig(name=f"folder:{folder}", resolution=8, strict=True))
    assert len(ds.train) == 4 and ds.skipped == 0


def test_strict_is_a_validated_bool():
    with pytest.raises(ConfigError, match="data.strict: expected bool"):
        load_config("quickstart", ["data.strict=maybe"])
