"""Extension points that are one new file: a loss of one's own registered in a user module trains from YAML through
the command line, and shows in the playground's menu and `gankit config --keys`."""

from __future__ import annotations

import sys
import textwrap

import pytest

from gankit import objectives
from gankit.cli import main
from gankit.objectives import Objective, get_objective, register_objective

LOSS_MODULE = "gankit_test_own_loss"  # a name no other test imports
LOSS_SOURCE = """
import torch.nn.functional as F

from gankit.objectives import Objective, register_objective


def d_loss(real, fake):
    return F.softplus(1 - real).mean() + F.softplus(1 + fake).mean()


def g_loss(fake):
    return F.softplus(-fake).mean()


SOFT_HINGE = register_objective(Objective("soft-hinge", d_loss, g_loss, help="a smooth hinge"))
"""
LOSS_CONFIG = f"""
data: {{name: ring8, n_samples: 256}}
model: {{arch: mlp, z_dim: 2, hidden: 16}}
objective: {{loss: "{LOSS_MODULE}:soft-hinge"}}
optim: {{name: adam, lr: 0.001}}
train: {{steps: 4, batch_size: 32, log_every: 2, sample_every: 2, checkpoint_every: 2}}
"""


@pytest.fixture
def own_loss(tmp_path, monkeypatch):
    """The user's loss module, importable in this process; what it registers is gone afterwards."""
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / f"{LOSS_MODULE}.py").write_text(textwrap.dedent(LOSS_SOURCE))
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.setattr(objectives.OBJECTIVES, "_entries", objectives.OBJECTIVES.entries())
    yield folder
    sys.modules.pop(LOSS_MODULE, None)


def test_a_registered_loss_trains_from_yaml_and_joins_the_menus(tmp_path, own_loss, capsys):
    config = tmp_path / "mine.yaml"
    config.write_text(LOSS_CONFIG)
    assert main(["train", str(config), "--run-dir", str(tmp_path / "run"), "--quiet"]) == 0
    assert (tmp_path / "run" / "checkpoints" / "latest").is_file()
    from gankit.playground.settings import check, choices

    assert "soft-hinge" in choices()["objective"]
    assert check({"dataset": "ring8", "objective": "soft-hinge"}, None)["objective"] == "soft-hinge"
    capsys.readouterr()
    assert main(["config", "--keys"]) == 0
    assert "`soft-hinge`" in capsys.readouterr().out


def test_objectives_carry_what_the_trainer_asks_of_them():
    assert [n for n, o in objectives.objectives().items() if o.probabilistic][:2] == [
        "gan",
        "ragan",
    ]
    assert [n for n, o in objectives.objectives().items() if o.real_above_zero][:2] == [
        "gan",
        "hinge",
    ]
    assert get_objective("gan", g_loss="minimax").g_loss is objectives.g_loss_minimax
    with pytest.raises(ValueError, match="already registered"):
        register_objective(Objective("gan", objectives.d_loss_hinge, objectives.g_loss_hinge))


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("no-such-loss", "objective.loss 'no-such-loss' is unknown; choices: gan, lsgan"),
        (
            "gankit_no_such_module:x",
            "objective.loss 'gankit_no_such_module:x' is unknown; choices: gan",
        ),
        (
            "gankit.objectives:d_loss",
            "objective.loss: gankit.objectives neither registers an objective 'd_loss' nor has one",
        ),
    ],
)
def test_unknown_objectives_are_one_line_errors(name, message):
    with pytest.raises(ValueError, match=message) as e:
        get_objective(name)
    assert "\n" not in str(e.value)


def test_an_objective_module_that_raises_on_import_is_one_line(tmp_path, monkeypatch):
    """A user's ``objective.loss: MODULE:NAME`` whose module raises anything as it runs (not only ImportError)."""
    (tmp_path / "gankit_raising_loss.py").write_text("raise RuntimeError('no GPU here')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(
        ValueError, match="cannot import 'gankit_raising_loss' \\(RuntimeError: no GPU"
    ) as e:
        get_objective("gankit_raising_loss:x")
    assert "\n" not in str(e.value)


def test_a_metric_module_that_raises_on_import_is_one_line(tmp_path, monkeypatch):
    """``--metrics MODULE:NAME`` whose module raises anything as it runs (not only ImportError)."""
    from gankit.errors import MetricError
    from gankit.evaluation.table import imported_names

    (tmp_path / "gankit_raising_metric.py").write_text("1 +\n")  # a SyntaxError
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(
        MetricError, match="cannot import 'gankit_raising_metric' \\(SyntaxError"
    ) as e:
        imported_names(["gankit_raising_metric:spread"])
    assert "\n" not in str(e.value)


def test_a_registered_metric_is_computed_by_gankit_eval(tmp_path, monkeypatch, capsys):
    """One register_metric call: the metric is a choice of `gankit eval --metrics`, listed in its help, computed by
    its rows function and written to eval.json."""
    import json
    import time

    from gankit.evaluation import table
    from gankit.evaluation.options import row

    monkeypatch.setattr(table.METRICS, "_entries", table.METRICS.entries())

    def spread_rows(job):
        x = job.samples.x
        return [row("spread", float(x.std()), len(x), "", time.monotonic())]

    table.register_metric(
        table.Metric(
            "spread",
            spread_rows,
            lambda kind, name: kind == "points",
            needs_reference=False,
            default_n=500,
            help="std of the samples",
        )
    )
    run = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "ring8",
                "--run-dir",
                str(run),
                "--quiet",
                "--set",
                "train.steps=4",
                "--set",
                "data.n_samples=256",
                "--set",
                "train.sample_every=4",
                "--set",
                "train.log_every=2",
            ]
        )
        == 0
    )
    assert main(["eval", str(run), "--metrics", "spread,modes"]) == 0
    rows = {r["metric"]: r for r in json.loads((run / "eval.json").read_text())["rows"]}
    # modes' default n is the larger
    assert rows["spread"]["n"] == 2_500 and rows["spread"]["value"] > 0
    assert rows["modes"]["n"] == 2_500
    with pytest.raises(SystemExit):
        main(["eval", "--help"])
    # argparse wraps help
    assert "spread (std of the samples)" in " ".join(capsys.readouterr().out.split())


def test_a_registered_metric_that_tracks_a_row_is_tracked_while_training(tmp_path, monkeypatch):
    """A metric with ``tracks`` (one value, lower is better) is a value of train.eval_metric, and "auto" takes it
    where none of gankit's applies (ring8)."""
    import time

    from gankit.config import load_config
    from gankit.evaluation import QualityProbe, table
    from gankit.evaluation.options import row
    from gankit.train import Trainer
    from gankit.train.logger import read_metrics

    monkeypatch.setattr(table.METRICS, "_entries", table.METRICS.entries())

    def spread_rows(job):
        x = job.samples.x
        return [row("spread_error", float((x.std() - 1).abs()), len(x), "", time.monotonic())]

    table.register_metric(
        table.Metric(
            "spread",
            spread_rows,
            lambda kind, name: kind == "points",
            needs_reference=False,
            tracks="spread_error",
        )
    )
    sets = ["data.n_samples=256", "train.steps=4", "train.batch_size=64", "train.eval_n=100"]
    cfg = load_config("ring8", sets + ["train.eval_every_kimg=0.128", "model.hidden=16"])
    trainer = Trainer(cfg, tmp_path / "run", probe=QualityProbe())
    trainer.fit()
    assert trainer.cfg.train.eval_metric == "spread_error"
    rows = [r for r in read_metrics(tmp_path / "run") if "quality/spread_error" in r]
    assert [r["step"] for r in rows] == [2, 4]


DATA_MODULE = "gankit_test_own_data"
DATA_SOURCE = """
import torch

from gankit.data import Dataset, Split
from gankit.data.registry import register


@register("bars", "vertical bars, 28x28 grey")
def bars(cfg, path):
    x = torch.zeros(64, 1, 28, 28, dtype=torch.uint8)
    for i in range(64):
        x[i, 0, :, i % 28] = 255
    return Dataset("bars", "image", {"train": Split(x)}, source="generated")
"""


def test_a_registered_data_source_trains_from_yaml(tmp_path, monkeypatch):
    from gankit.data import registry

    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / f"{DATA_MODULE}.py").write_text(textwrap.dedent(DATA_SOURCE))
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.setattr(registry.SOURCES, "_entries", registry.SOURCES.entries())
    try:
        assert (
            main(
                [
                    "train",
                    "quickstart",
                    "--data",
                    f"{DATA_MODULE}:bars",
                    "--run-dir",
                    str(tmp_path / "run"),
                    "--quiet",
                    "--set",
                    "train.steps=3",
                    "--set",
                    "train.batch_size=16",
                ]
            )
            == 0
        )
    finally:
        sys.modules.pop(DATA_MODULE, None)
    assert (tmp_path / "run" / "checkpoints" / "latest").is_file()


def test_an_unknown_module_source_is_the_unknown_dataset_error():
    from gankit.data.registry import resolve
    from gankit.errors import DatasetError

    with pytest.raises(
        DatasetError, match=r"data.name 'foldr:/pics' is unknown; choices: .*folder:PATH"
    ):
        resolve("foldr:/pics")
