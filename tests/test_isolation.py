"""A Trainer changes nothing outside itself: torch's global random state, the TF32 flags and torch.compile's settings
are the same after building and training a run as before, and the caller's own random draws do not change what the
run computes."""

from __future__ import annotations

import pytest
import torch
import torch._dynamo.config as dynamo_config
import torch._inductor.config as inductor_config
from gankit_testkit import quick_config

from gankit.train import Trainer
from gankit.train.speed import SpeedPlan

# what gankit sets while compiled steps run
COMPILER_OPTIONS = (
    (dynamo_config, "suppress_errors"),
    (inductor_config, "fallback_random"),
    (inductor_config, "layout_optimization"),
)


def _settings() -> dict[str, object]:
    tf32 = {
        "matmul.allow_tf32": torch.backends.cuda.matmul.allow_tf32,
        "cudnn.allow_tf32": torch.backends.cudnn.allow_tf32,
    }
    return {**tf32, **{name: getattr(module, name) for module, name in COMPILER_OPTIONS}}


def test_building_and_training_leave_the_global_random_state_alone(tmp_path, tiny_images):
    """The paper's D draws dropout masks at every step; they come from the run's own state of torch's default
    generator, so the process's state is untouched, and draws the caller makes between steps do not shift the run."""
    torch.manual_seed(5)
    before = torch.random.get_rng_state()
    plain = Trainer(quick_config(train={"steps": 6}), tmp_path / "plain", dataset=tiny_images)
    assert torch.equal(torch.random.get_rng_state(), before)
    plain.fit()
    assert torch.equal(torch.random.get_rng_state(), before)

    disturbed = Trainer(
        quick_config(train={"steps": 6}), tmp_path / "disturbed", dataset=tiny_images
    )
    for _ in range(6):
        torch.rand(1000)  # the caller's own draws
        disturbed.train_step()
    for (key, a), b in zip(plain.D.state_dict().items(), disturbed.D.state_dict().values()):
        assert torch.equal(a, b), key


def test_a_compiled_run_holds_its_compiler_settings_only_while_it_runs(tmp_path, tiny_images):
    before = _settings()
    during = []
    cfg = quick_config(
        model={"arch": "mlp", "hidden": 16}, train={"steps": 2, "log_every": 1, "speed": "compile"}
    )
    trainer = Trainer(
        cfg,
        tmp_path / "run",
        dataset=tiny_images,
        progress=lambda t, row: during.append(_settings()),
    )
    trainer.fit()
    assert during[0]["fallback_random"] is True and during[0]["layout_optimization"] is False
    assert _settings() == before


@pytest.fixture
def tf32_flags():
    """The TF32 flags as they were before the test, put back after it."""
    flags = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = flags


@pytest.mark.parametrize("tf32", [True, False])
def test_speed_scope_sets_tf32_and_compiler_options_and_restores_them(tf32_flags, tf32):
    """The settings a CUDA plan needs, checked without a GPU (the flags are process settings)."""
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = not tf32
    before = _settings()
    plan = SpeedPlan("compile", False, "fp32", "cuda", "test", fallback=True, tf32=tf32)
    with plan.scope():
        inside = _settings()
    assert inside == {
        "matmul.allow_tf32": tf32,
        "cudnn.allow_tf32": tf32,
        "suppress_errors": True,
        "fallback_random": True,
        "layout_optimization": False,
    }
    assert _settings() == before
    with pytest.raises(RuntimeError), plan.scope():
        raise RuntimeError("a failing step")
    assert _settings() == before


MATPLOTLIB_PROBE = """
import sys
import matplotlib
matplotlib.use("pdf")  # the caller's choice, which a run must keep
import matplotlib.pyplot as plt
from gankit.config import load_config
from gankit.train import Trainer
mine = plt.figure()
for preset in ("gauss1d", "ring8"):
    cfg = load_config(preset, ["train.steps=4", "train.log_every=2", "train.sample_every=2", "train.snapshot_every=2",
                               "train.checkpoint_every=4", "data.n_samples=256"])
    Trainer(cfg, sys.argv[1] + "/" + preset).fit()
print(matplotlib.get_backend(), plt.get_fignums(), plt.gcf() is mine)
"""


def test_a_points_run_leaves_matplotlib_alone(tmp_path):
    """Its sample plots and snapshots are drawn on Figure objects: the caller's backend and pyplot's figures (and
    current figure) are what they were. In a fresh process, so no earlier test has chosen a backend."""
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", MATPLOTLIB_PROBE, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split("\n")[-2] == "pdf [1] True"
    assert list((tmp_path / "ring8" / "samples").glob("*.png")) and list(
        (tmp_path / "gauss1d").rglob("*.png")
    )


def test_the_test_session_keeps_its_caches_to_itself(tmp_path_factory, tmp_path):
    """conftest's session cache: what the tests cache (here a decoded picture folder) lands under the session's
    temporary folder, never in the user's ``~/.cache/gankit``."""
    from PIL import Image

    from gankit.config import DataConfig
    from gankit.data import load_dataset
    from gankit.fileio import cache_dir

    assert cache_dir().is_relative_to(tmp_path_factory.getbasetemp())
    folder = tmp_path / "pictures"
    folder.mkdir()
    for i in range(3):
        Image.new("RGB", (8, 8), (40 * i, 0, 0)).save(folder / f"{i}.png")
    load_dataset(DataConfig(name=f"folder:{folder}"))
    assert any((cache_dir() / "folders").iterdir())
