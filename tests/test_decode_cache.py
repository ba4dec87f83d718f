"""The folder decode cache (gankit.data.decode_cache): every entry carries checksums and a damaged or malformed one
is decoded again with a warning; one entry per folder and read settings; a size cap evicting the least recently
used; ``gankit datasets --cache`` shows and clears it; any file name, UTF-8 or not."""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gankit.config import DataConfig
from gankit.data import load_dataset

SIZE = 8


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    """A fresh user cache of the test's own; its decode cache folder."""
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("GANKIT_CACHE_MAX_GB", raising=False)
    return tmp_path / "cache" / "folders"


def _folder(root: Path, n: int = 4, seed: int = 0) -> Path:
    """``n`` random 8×8 RGB PNGs in ``root`` (made)."""
    root.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)).save(
            root / f"{i}.png"
        )
    return root


def _pixels(root: Path) -> np.ndarray:
    """The PNGs of ``root`` as read straight with Pillow, uint8 [N, 3, 8, 8] in name order."""
    return np.stack(
        [np.asarray(Image.open(p)).transpose(2, 0, 1) for p in sorted(root.glob("[0-9].png"))]
    )


def _load(root: Path) -> np.ndarray:
    return load_dataset(DataConfig(name=f"folder:{root}", resolution=SIZE)).train.x.numpy()


def _entry(cache: Path) -> tuple[Path, Path]:
    """The one entry's (.npy, .json)."""
    (npy,) = cache.glob("*.npy")
    return npy, npy.with_suffix(".json")


def _damaged(caplog, npy: Path) -> None:
    """One warning, naming the entry, says it is damaged."""
    lines = [r.getMessage() for r in caplog.records if "damaged" in r.getMessage()]
    assert len(lines) == 1 and str(npy.with_suffix("")) in lines[0] and "\n" not in lines[0], lines


def test_a_zeroed_entry_is_noticed_and_decoded_again(tmp_path, cache, caplog):
    pics = _folder(tmp_path / "pics")
    assert np.array_equal(_load(pics), _pixels(pics))
    npy, _ = _entry(cache)
    header = npy.read_bytes()[:128]
    npy.write_bytes(
        header + bytes(npy.stat().st_size - len(header))
    )  # black pictures, a valid .npy
    with caplog.at_level(logging.WARNING):
        assert np.array_equal(_load(pics), _pixels(pics))
    _damaged(caplog, npy)
    caplog.clear()
    assert np.array_equal(_load(pics), _pixels(pics)) and not caplog.records  # rebuilt: sound again


@pytest.mark.parametrize(
    "pixels",
    [
        np.zeros((4, 3, SIZE, SIZE), dtype=np.float64),
        np.zeros((4, 3, SIZE, 2 * SIZE), dtype=np.uint8),
        np.zeros((3, 3, SIZE, SIZE), dtype=np.uint8),
    ],
    ids=["float64", "wider", "fewer"],
)
def test_pixels_of_another_type_or_shape_are_decoded_again(tmp_path, cache, caplog, pixels):
    pics = _folder(tmp_path / "pics")
    _load(pics)
    npy, _ = _entry(cache)
    np.save(npy, pixels)
    with caplog.at_level(logging.WARNING):
        assert np.array_equal(_load(pics), _pixels(pics))
    _damaged(caplog, npy)


def _resealed(about: Path, **fields) -> None:
    """Rewrite the entry's JSON with ``fields`` changed and its seal made to match again."""
    from gankit.data.decode_cache import _seal

    meta = json.loads(about.read_text())
    meta.pop("seal")
    meta.update(fields)
    about.write_text(json.dumps({**meta, "seal": _seal(meta)}))


@pytest.mark.parametrize(
    "fields",
    [
        {"failures": [1]},
        {"failures": "none"},
        {"failures": [["a", "b"]]},
        {"ok": [True, True]},
        {"ok": [1, 1, 1, 1]},
        {"ok": None},
        {"bytes": "all"},
        {"chunk": 0},
        {"sha256": [1]},
        {"sha256": {}},
    ],
    ids=str,
)
def test_malformed_fields_are_decoded_again_not_a_traceback(tmp_path, cache, caplog, fields):
    pics = _folder(tmp_path / "pics")
    _load(pics)
    npy, about = _entry(cache)
    _resealed(about, **fields)
    with caplog.at_level(logging.WARNING):
        assert np.array_equal(_load(pics), _pixels(pics))
    _damaged(caplog, npy)


@pytest.mark.parametrize(
    "text", ['{"ok": [true, true, true, true], "failures": [1]}', "[]", "{", ""]
)
def test_an_edited_or_cut_json_is_decoded_again(tmp_path, cache, caplog, text):
    pics = _folder(tmp_path / "pics")
    _load(pics)
    npy, about = _entry(cache)
    about.write_text(text)
    with caplog.at_level(logging.WARNING):
        assert np.array_equal(_load(pics), _pixels(pics))
    _damaged(caplog, npy)


def test_an_interrupted_decode_leaves_no_entry(tmp_path, cache, monkeypatch):
    from gankit.data import folder

    pics = _folder(tmp_path / "pics")

    def interrupted(path, how):
        raise KeyboardInterrupt

    monkeypatch.setattr(folder, "load_image", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _load(pics)
    assert not cache.exists() or not list(cache.iterdir())


def test_each_edit_of_a_folder_replaces_its_entry(tmp_path, cache):
    """Three loads with a file touched between them leave one entry (the newest); other read settings of the same
    folder are an entry of their own."""
    pics = _folder(tmp_path / "pics")
    for i in range(3):
        os.utime(pics / "0.png", ns=(i + 1, i + 1))  # another modification time each time
        _load(pics)
    npy, about = _entry(cache)
    assert sorted(p.name for p in cache.iterdir()) == sorted([npy.name, about.name])
    load_dataset(DataConfig(name=f"folder:{pics}", resolution=SIZE, background="black"))
    assert len(list(cache.glob("*.npy"))) == 2 and npy.exists()


def test_the_same_folder_by_another_path_is_the_same_entry(tmp_path, cache, monkeypatch):
    pics = _folder(tmp_path / "pics")
    _load(pics)
    monkeypatch.chdir(tmp_path)
    _load(Path("pics"))
    (tmp_path / "link").symlink_to(pics)
    _load(tmp_path / "link")
    assert len(list(cache.glob("*.npy"))) == 1


def test_the_cap_evicts_the_least_recently_used(tmp_path, cache, monkeypatch, caplog):
    a, b, c = (_folder(tmp_path / name, seed=i) for i, name in enumerate("abc"))
    _load(a)
    one = sum(p.stat().st_size for p in cache.iterdir())
    _load(b)
    monkeypatch.setenv("GANKIT_CACHE_MAX_GB", str(2.5 * one / 1e9))  # room for two entries
    now = time.time()
    for about, age in zip(
        sorted(cache.glob("*.json"), key=lambda p: p.stat().st_mtime), (200, 100)
    ):
        os.utime(about, (now - age, now - age))  # a used long ago, b less long ago
    _load(a)  # a used now
    stray = cache / "0123.npy"  # a file of no entry, two days old
    stray.write_bytes(b"x")
    os.utime(stray, (now - 2 * 86400, now - 2 * 86400))
    _load(c)
    from gankit.data.decode_cache import entries

    assert (
        sorted(e.about["folder"] for e in entries()[0]) == [str(a), str(c)] and not stray.exists()
    )
    monkeypatch.setenv("GANKIT_CACHE_MAX_GB", "0")
    d = _folder(tmp_path / "d", seed=3)
    with caplog.at_level(logging.WARNING):
        assert np.array_equal(_load(d), _pixels(d))  # larger than the cap: used, not kept
    assert "not kept" in caplog.text and not list(cache.iterdir())


def test_a_cap_that_is_not_a_number_is_a_one_line_error(tmp_path, cache, monkeypatch):
    from gankit.errors import DatasetError

    monkeypatch.setenv("GANKIT_CACHE_MAX_GB", "lots")
    with pytest.raises(DatasetError, match="GANKIT_CACHE_MAX_GB must be a number"):
        _load(_folder(tmp_path / "pics"))


def test_datasets_cache_shows_and_clears(tmp_path, cache, capsys):
    from gankit.cli import main

    pics = _folder(tmp_path / "pics")
    (pics / "broken.png").write_bytes(b"not a picture")
    _load(pics)
    assert main(["datasets", "--cache"]) == 0
    out = capsys.readouterr().out
    assert str(pics) in out and "rgb 8×8 crop on #ffffff" in out and "20 GB" in out
    assert main(["datasets", "--cache", "--clear"]) == 0
    assert "removed 1 entry" in capsys.readouterr().out and not list(cache.iterdir())
    assert main(["datasets", "--cache"]) == 0 and "empty" in capsys.readouterr().out
    assert main(["datasets", "--clear"]) == 1
    assert "--clear goes with --cache" in capsys.readouterr().err


def test_names_that_are_not_utf8_are_cached(tmp_path, cache):
    """A file name of any bytes (read as a surrogate-escaped str) keys the cache, and an unreadable one is named
    the same way after a load from the cache."""
    pics = _folder(tmp_path / os.fsdecode(b"caf\xe9"))
    (pics / os.fsdecode(b"\xff.png")).write_bytes(b"not a picture")
    from gankit.data.decode_cache import decoded
    from gankit.data.folder import ReadSettings, decode_all

    paths = sorted(pics.iterdir())
    how = ReadSettings("RGB", SIZE)
    first = decoded(paths, how, False, str(pics), decode_all)
    again = decoded(paths, how, False, str(pics), decode_all)
    assert again[2] == first[2] == [(str(pics / os.fsdecode(b"\xff.png")), first[2][0][1])]
    assert np.array_equal(again[0], _pixels(pics)) and len(list(cache.glob("*.npy"))) == 1
