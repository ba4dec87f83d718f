"""Users' pictures read as a person sees them: transparency composited onto data.background, grey 16-bit, palette,
CMYK and EXIF-rotated files, non-square pictures cropped or padded (data.fit); and the emoji source."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

from gankit.config import DataConfig, load_config
from gankit.data import load_dataset, locate
from gankit.data.emoji import find_font
from gankit.errors import ConfigError

SIZE = 16


def _pattern(mode: str = "RGBA") -> Image.Image:
    """A 16×16 picture with a transparent background, a half-transparent band and an opaque asymmetric shape."""
    rng = np.random.default_rng(0)
    rgba = np.zeros((SIZE, SIZE, 4), dtype=np.uint8)
    rgba[..., :3] = rng.integers(0, 256, (SIZE, SIZE, 3))
    rgba[2:10, 3:6, 3] = 255  # an opaque 'L'
    rgba[8:10, 3:12, 3] = 255
    rgba[12:14, :, 3] = 128  # half transparent
    return Image.fromarray(rgba, "RGBA").convert(mode)


def _read(folder: Path, **data) -> torch.Tensor:
    """The folder's pictures as gankit reads them, at their own 16×16 size (no resampling)."""
    return load_dataset(DataConfig(name=f"folder:{folder}", resolution=SIZE, **data)).train.x


def _composited(im: Image.Image, background: tuple[int, int, int]) -> np.ndarray:
    """Pillow's alpha_composite of ``im`` on ``background``, as uint8 [3, H, W]."""
    over = Image.alpha_composite(Image.new("RGBA", im.size, (*background, 255)), im.convert("RGBA"))
    return np.asarray(over.convert("RGB")).transpose(2, 0, 1)


@pytest.mark.parametrize(
    "background, rgb",
    [(None, (255, 255, 255)), ("black", (0, 0, 0)), ("#3080c0", (0x30, 0x80, 0xC0))],
)
@pytest.mark.parametrize("mode", ["RGBA", "LA", "P", "RGB-key"])
def test_transparency_is_composited_onto_the_background(tmp_path, mode, background, rgb):
    im = _pattern("RGBA")
    if mode == "P":  # a palette with one fully transparent entry (PNG tRNS)
        im.convert("RGB").quantize(16).save(tmp_path / "a.png", transparency=0)
    elif mode == "RGB-key":  # an RGB picture whose one colour is transparent (PNG tRNS)
        im.convert("RGB").save(tmp_path / "a.png", transparency=im.getpixel((0, 0))[:3])
    else:
        im.convert(mode).save(tmp_path / "a.png")
    saved = Image.open(tmp_path / "a.png")
    x = _read(tmp_path, **({"background": background} if background else {}))
    assert x.shape == (1, 3, SIZE, SIZE)
    assert np.array_equal(x[0].numpy(), _composited(saved, rgb))
    if mode == "RGBA":  # the transparent background is the background colour, not black
        assert tuple(x[0, :, 0, 0].tolist()) == rgb


def test_sixteen_bit_grey_is_scaled_to_eight_bits(tmp_path):
    values = (np.arange(SIZE * SIZE, dtype=np.uint32).reshape(SIZE, SIZE) * 257).astype(np.uint16)
    Image.fromarray(values).save(tmp_path / "g16.png")
    x = _read(tmp_path, channels="gray")
    assert np.array_equal(
        x[0, 0].numpy(), np.arange(SIZE * SIZE).reshape(SIZE, SIZE).astype(np.uint8)
    )


def test_cmyk_and_exif_rotated_jpegs_come_out_as_seen(tmp_path):
    base = _pattern("RGB")
    base.convert("CMYK").save(tmp_path / "a-cmyk.jpg", quality=95)
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to display
    base.save(tmp_path / "b-rotated.jpg", quality=95, exif=exif)
    x = _read(tmp_path)
    with Image.open(tmp_path / "a-cmyk.jpg") as im:
        assert np.array_equal(x[0].numpy(), np.asarray(im.convert("RGB")).transpose(2, 0, 1))
    with Image.open(tmp_path / "b-rotated.jpg") as im:
        upright = np.asarray(ImageOps.exif_transpose(im).convert("RGB")).transpose(2, 0, 1)
        raw = np.asarray(im.convert("RGB")).transpose(2, 0, 1)
    assert np.array_equal(x[1].numpy(), upright) and not np.array_equal(upright, raw)


def test_non_square_pictures_are_cropped_or_padded(tmp_path):
    wide = np.zeros((8, 32, 3), dtype=np.uint8)
    wide[:, :16] = (255, 0, 0)
    wide[:, 16:] = (0, 0, 255)
    Image.fromarray(wide).save(tmp_path / "wide.png")
    crop = _read(tmp_path)[0]  # short side 8 → 16, width 64, centre 16 columns: half red, half blue
    assert crop.shape == (3, SIZE, SIZE)
    assert crop[:, :, 0].tolist()[0][0] > 200 and crop[2, :, -1].min() > 200
    # long side 32 → 16: a 16×4 band on green
    pad = _read(tmp_path, fit="pad", background="#00ff00")[0]
    assert (pad[:, :6] == torch.tensor([0, 255, 0]).view(3, 1, 1)).all()  # rows above the band
    assert (pad[:, 10:] == torch.tensor([0, 255, 0]).view(3, 1, 1)).all()  # rows below it
    assert pad[0, 6:10, :4].min() > 200 and pad[2, 6:10, -4:].min() > 200


def test_bad_background_is_one_line():
    with pytest.raises(ConfigError, match="data.background: 'beige-ish' is not a colour"):
        load_config("folder64", ["data.background=beige-ish"])


needs_font = pytest.mark.skipif(
    find_font(DataConfig(name="emoji")) is None, reason="needs Debian's fonts-noto-color-emoji"
)


@needs_font
def test_emoji_source_reads_every_bitmap_on_the_background():
    x = load_dataset(DataConfig(name="emoji")).train.x
    assert x.shape == (3926, 3, 64, 64) and x.dtype == torch.uint8
    # corners: the white background
    assert tuple(x[:, :, 0, 0].float().mean(0).tolist()) == (255.0, 255.0, 255.0)
    dark = load_dataset(
        DataConfig(name="emoji", background="black", resolution=32, channels="gray")
    ).train.x
    # corners: black
    assert dark.shape == (3926, 1, 32, 32) and float(dark[:, 0, 0, 0].float().mean()) < 1
    # a deterministic order
    assert torch.equal(load_dataset(DataConfig(name="emoji")).train.x[:50], x[:50])


@needs_font
def test_emoji_is_located_with_its_size():
    status = locate(DataConfig(name="emoji"))
    assert status.present and status.size == "3,926 pictures → 3×64×64"


def test_emoji_missing_names_the_package(tmp_path, monkeypatch):
    from gankit.data import emoji
    from gankit.errors import DatasetError

    monkeypatch.setattr(emoji, "DEBIAN", str(tmp_path / "nowhere"))
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("GANKIT_DATA", raising=False)
    with pytest.raises(DatasetError, match="apt-get install fonts-noto-color-emoji"):
        load_dataset(DataConfig(name="emoji"))
    assert not locate(DataConfig(name="emoji")).present


def test_train_prints_a_one_line_summary_of_the_data(tmp_path, capsys):
    from gankit.cli import main

    for i in range(3):
        _pattern("RGBA").rotate(90 * i).save(tmp_path / f"{i}.png")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    run = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "quickstart",
                "--data",
                f"folder:{tmp_path}",
                "--run-dir",
                str(run),
                "--quiet",
                "--set",
                "data.resolution=8",
                "--set",
                "train.steps=1",
                "--set",
                "train.batch_size=2",
            ]
        )
        == 0
    )
    assert (
        f"data: folder ({tmp_path}): 3 images 3×8×8, 1 unreadable skipped"
        in capsys.readouterr().err
    )


def test_composite_png_bytes_roundtrip():
    """The emoji reader and the folder reader are one path: a PNG's bytes decode to the same pixels either way."""
    from gankit.data.emoji import decode
    from gankit.data.folder import ReadSettings

    buf = io.BytesIO()
    _pattern("RGBA").save(buf, "PNG")
    got = decode(buf.getvalue(), ReadSettings("RGB", SIZE))
    assert np.array_equal(got, _composited(_pattern("RGBA"), (255, 255, 255)))


def test_a_set_without_a_test_split_is_its_own_reference(tmp_path):
    """Evaluating a folder run compares with the folder itself (the few-shot convention); a source with a test
    split keeps it."""
    from gankit.evaluation.inputs import resolve_reference

    for i in range(3):
        _pattern("RGBA").rotate(90 * i).save(tmp_path / f"{i}.png")
    cfg = DataConfig(name=f"folder:{tmp_path}", resolution=SIZE)
    ref = resolve_reference(f"folder:{tmp_path}:", cfg, None, 2048)
    assert ref.split == "train" and len(ref.images) == 3 and ref.name == "folder:train"
    assert resolve_reference("digits:", None, None, 2048).split == "test"


def test_folders_are_decoded_once_and_a_changed_file_is_noticed(tmp_path, monkeypatch):
    import os

    from gankit.data import folder

    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "cache"))
    pics = tmp_path / "pics"
    pics.mkdir()
    for i in range(4):
        _pattern("RGBA").rotate(90 * i).save(pics / f"{i}.png")
    decoded = []
    real = folder._try_load
    monkeypatch.setattr(folder, "_try_load", lambda p, how: decoded.append(p) or real(p, how))
    first = _read(pics)
    assert len(decoded) == 4
    assert torch.equal(_read(pics), first) and len(decoded) == 4  # from the cache: nothing decoded
    _pattern("RGBA").transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(pics / "0.png")
    # another modification time, whatever the clock's resolution
    os.utime(pics / "0.png", ns=(1, 1))
    changed = _read(pics)
    assert (
        len(decoded) == 8
        and not torch.equal(changed, first)
        and torch.equal(changed[1:], first[1:])
    )
    _read(pics, background="black")  # other read settings: another entry
    assert len(decoded) == 12


def _rss_anon() -> int:
    """This process's anonymous resident memory in bytes (Linux), which a memory map's file pages do not count in."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no RssAnon in /proc/self/status")


@pytest.mark.skipif(
    not Path("/proc/self/status").exists(), reason="reads Linux's /proc/self/status"
)
def test_a_cached_folder_is_memory_mapped_not_held_in_memory(tmp_path, monkeypatch):
    """A folder larger than memory trains: the decoded pixels are read back memory-mapped, so touching every one
    adds file-backed pages, not anonymous memory. 256 noise pictures at 96 px are 7.1 MB of uint8; read into memory
    they would add 6.7 MB to RssAnon (measured with the map switched off); mapped, 12 kB (the bound is 25 %)."""
    import hashlib

    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "cache"))
    pics = tmp_path / "pics"
    pics.mkdir()
    rng = np.random.default_rng(0)
    for i in range(256):
        Image.fromarray(rng.integers(0, 256, (96, 96, 3), dtype=np.uint8)).save(
            pics / f"{i:03d}.png"
        )
    (pics / "broken.png").write_bytes(b"not a picture")
    first = load_dataset(DataConfig(name=f"folder:{pics}", resolution=96)).train.x.clone()
    before = _rss_anon()
    x = load_dataset(DataConfig(name=f"folder:{pics}", resolution=96)).train.x
    digest = hashlib.sha256(
        x.numpy()
    ).hexdigest()  # reads every pixel through the buffer, without a copy
    grown = _rss_anon() - before
    assert x.shape == (256, 3, 96, 96) and digest == hashlib.sha256(first.numpy()).hexdigest()
    assert grown < 0.25 * x.numel(), (
        f"anonymous memory grew by {grown:,} bytes for {x.numel():,} bytes of pixels"
    )
    assert torch.equal(
        x[5], torch.from_numpy(np.asarray(Image.open(pics / "005.png")).transpose(2, 0, 1).copy())
    )


def test_training_on_a_mapped_folder_resumes_bit_exactly(tmp_path, monkeypatch):
    """Batches are taken from the memory-mapped uint8 pixels a step at a time; a run stopped and resumed ends
    with the same tensors, bit for bit, as one trained straight through."""
    from gankit_testkit import same_checkpoints

    from gankit.train import Trainer

    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "cache"))
    pics = tmp_path / "pics"
    pics.mkdir()
    for i in range(32):
        _pattern("RGBA").rotate(45 * i).save(pics / f"{i:02d}.png")
    overrides = [
        f"data.name=folder:{pics}",
        "data.resolution=32",
        "model.arch=dcgan",
        "model.width=8",
        "train.batch_size=8",
        "train.log_every=2",
        "train.sample_every=100",
        "train.checkpoint_every=3",
    ]
    straight = Trainer(
        load_config("quickstart", [*overrides, "train.steps=6"]), tmp_path / "straight"
    )
    straight.fit()
    Trainer(load_config("quickstart", [*overrides, "train.steps=3"]), tmp_path / "resumed").fit()
    Trainer.resume(tmp_path / "resumed", ["train.steps=6"]).fit()
    same_checkpoints(tmp_path / "straight", tmp_path / "resumed")
    assert straight.x.dtype == torch.uint8 and straight.x.shape == (32, 3, 32, 32)


def test_inner_resolution_draws_at_the_data_size_from_a_smaller_pair():
    """model.inner_resolution: G draws at 32 px and enlarges bilinearly to 64; D averages 64 px down to 32 before its
    layers, so D of an enlarged picture is D of the picture's own 32-px means."""
    import torch.nn.functional as F

    from gankit.models import build_models

    cfg = load_config("pictures64", ["model.inner_resolution=32"]).model
    G, D = build_models(cfg, sample_shape=(3, 64, 64), kind="image")
    z = G.sample_z(4, generator=torch.Generator().manual_seed(0), device="cpu")
    G.eval(), D.eval()
    with torch.no_grad():
        small = G.inner(z)
        x = G(z)
        assert (
            small.shape == (4, 3, 32, 32)
            and x.shape == (4, 3, 64, 64)
            and G.out_shape == (3, 64, 64)
        )
        assert torch.equal(
            x, F.interpolate(small, size=(64, 64), mode="bilinear", align_corners=False)
        )
        assert x.abs().max() <= 1.0  # bilinear weights are convex: the range survives
        assert torch.equal(D(x), D.inner(F.avg_pool2d(x, 2)))
    for bad in ("24", "128"):
        with pytest.raises(ValueError, match="inner_resolution"):
            build_models(
                load_config("pictures64", [f"model.inner_resolution={bad}"]).model,
                sample_shape=(3, 64, 64),
                kind="image",
            )
