"""`gankit figures` / `gankit report` end to end on tiny runs: the files exist and are the same bytes twice."""

from __future__ import annotations

import pytest
from PIL import Image

from gankit.cli import main

TINY = ["--set", "train.log_every=2", "--set", "train.sample_every=3", "--quiet"]


@pytest.fixture(autouse=True)
def _temporary_cache(tmp_path, monkeypatch):
    """The classifier `gankit eval` trains (and anything else cached) goes under tmp_path, not the user's cache."""
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "cache"))


def _figures_twice(run, capsys) -> dict[str, bytes]:
    assert main(["figures", str(run)]) == 0
    first = {p.name: p.read_bytes() for p in (run / "figures").iterdir()}
    assert main(["figures", str(run)]) == 0
    second = {p.name: p.read_bytes() for p in (run / "figures").iterdir()}
    assert first == second
    for data in first.values():
        Image.open(__import__("io").BytesIO(data)).verify()
    return first


def test_gauss1d_run_gives_figure1_theory_and_curves(tmp_path, capsys):
    run = tmp_path / "g"
    assert (
        main(
            [
                "train",
                "gauss1d",
                "--run-dir",
                str(run),
                "--set",
                "train.steps=20",
                "--set",
                "train.snapshot_every=5",
                "--set",
                "data.n_samples=500",
            ]
            + TINY
        )
        == 0
    )
    assert len(list((run / "snapshots").iterdir())) == 5  # steps 0, 5, 10, 15, 20
    figures = _figures_twice(run, capsys)
    assert set(figures) == {"figure1.png", "figure1.gif", "theory.png", "curves.png"}


def test_ring8_run_gives_points_gif(tmp_path, capsys):
    run = tmp_path / "r"
    assert (
        main(
            [
                "train",
                "ring8",
                "--run-dir",
                str(run),
                "--set",
                "train.steps=6",
                "--set",
                "train.snapshot_every=3",
                "--set",
                "data.n_samples=500",
            ]
            + TINY
        )
        == 0
    )
    assert set(_figures_twice(run, capsys)) == {"points.gif", "points.png", "curves.png"}


def test_image_run_figures_and_report(tmp_path, capsys):
    run = tmp_path / "d"
    assert (
        main(
            [
                "train",
                "quickstart",
                "--run-dir",
                str(run),
                "--set",
                "data.name=digits",
                "--set",
                "train.steps=6",
                "--set",
                "train.batch_size=16",
            ]
            + TINY
        )
        == 0
    )
    figures = _figures_twice(run, capsys)
    assert set(figures) == {"samples.gif", "nearest.png", "interpolation.png", "curves.png"}
    assert main(["eval", str(run), "--metrics", "classifier", "--n", "40", "--quiet"]) == 0
    # trained into the temporary cache
    assert list((tmp_path / "cache" / "classifiers").glob("digits-*.safetensors"))
    assert main(["report", str(run)]) == 0
    html = (run / "report.html").read_text()
    assert 'id="metrics-table"' in html and "class_kl" in html and "http://" not in html
    first = html
    assert main(["report", str(run)]) == 0
    assert (run / "report.html").read_text() == first


def test_figures_errors(tmp_path, capsys):
    assert main(["figures", str(tmp_path)]) == 1
    assert "not a gankit run folder" in capsys.readouterr().err
    run = tmp_path / "g"
    assert (
        main(
            [
                "train",
                "gauss1d",
                "--run-dir",
                str(run),
                "--set",
                "train.steps=2",
                "--set",
                "train.snapshot_every=0",
                "--set",
                "data.n_samples=300",
            ]
            + TINY
        )
        == 0
    )
    assert main(["figures", str(run)]) == 1
    assert "no snapshots" in capsys.readouterr().err
