"""Config: presets load, overrides validate, errors name the key and the allowed values."""

import dataclasses

import pytest

from gankit.config import (
    Config,
    ConfigError,
    apply_overrides,
    from_dict,
    load_config,
    preset_names,
    to_yaml,
)

REQUIRED_PRESETS = {
    "quickstart",
    "paper-mnist",
    "paper-fashion",
    "gauss1d",
    "ring8",
    "grid25",
    "dcgan-fashion",
}


def test_required_presets_exist_and_validate():
    assert REQUIRED_PRESETS <= set(preset_names())
    for name in preset_names():
        assert isinstance(load_config(name), Config)


def test_paper_preset_matches_design():
    c = load_config("paper-mnist")
    assert (c.data.name, c.model.arch, c.model.prior, c.model.z_dim) == (
        "mnist",
        "paper-mlp",
        "uniform",
        100,
    )
    assert (c.optim.name, c.optim.lr, c.optim.lr_decay, c.optim.lr_floor) == (
        "sgd",
        0.1,
        1.000004,
        1e-6,
    )
    assert (
        c.optim.momentum,
        c.optim.momentum_final,
        c.optim.momentum_start,
        c.optim.momentum_saturate,
    ) == (0.5, 0.7, 1.0, 250.0)
    assert (c.train.k, c.train.batch_size, c.objective.g_loss, c.objective.d_weight) == (
        1,
        100,
        "non-saturating",
        0.5,
    )


def test_overrides_parse_yaml_scalars():
    c = load_config(
        "gauss1d", ["train.steps=7", "optim.lr=0.01", "data.download=true", "train.minutes=null"]
    )
    assert (
        c.train.steps == 7
        and c.optim.lr == 0.01
        and c.data.download is True
        and c.train.minutes is None
    )


@pytest.mark.parametrize(
    "override, message",
    [
        ("train.stepz=5", "unknown config key train.stepz; train has: k, batch_size"),
        ("trian.steps=5", "unknown config section 'trian'"),
        ("train.steps=five", "train.steps: expected int or null, got str 'five'"),
        ("train.steps=0", "train.steps: 0 is out of range; must be >= 1"),
        ("train.batch_size=true", "train.batch_size: expected int, got bool"),
        ("optim.lr=0", "optim.lr: 0.0 is out of range; must be > 0.0"),
        ("optim.momentum=1.5", "optim.momentum: 1.5 is out of range; must be <= 1.0"),
        ("train.steps", "must look like section.key=value"),
    ],
)
def test_bad_overrides_name_key_and_choices(override, message):
    with pytest.raises(ConfigError) as info:
        load_config("quickstart", [override])
    assert message in str(info.value) and "\n" not in str(info.value)


def test_unknown_preset_lists_presets():
    with pytest.raises(ConfigError, match="unknown preset 'nope'; presets are: .*quickstart"):
        load_config("nope")


def test_yaml_file_errors(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(str(bad))
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(str(tmp_path / "missing.yaml"))
    listy = tmp_path / "list.yaml"
    listy.write_text("- 1\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(str(listy))


def test_no_stop_condition_is_an_error():
    with pytest.raises(ConfigError, match="no stop condition"):
        from_dict({"train": {}})


def test_yaml_round_trip_is_identity():
    c = load_config("paper-mnist", ["train.seed=3"])
    import yaml

    assert from_dict(yaml.safe_load(to_yaml(c))) == c


def test_overrides_do_not_mutate_input():
    raw = {"train": {"steps": 3}}
    apply_overrides(raw, ["train.steps=4"])
    assert raw == {"train": {"steps": 3}}


def test_config_is_frozen():
    c = load_config("gauss1d")
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.train.steps = 3


@pytest.mark.parametrize(
    "text, value",
    [
        ("1e-4", 1e-4),
        ("2E-4", 2e-4),
        ("1_000", 1000.0),
        (".5", 0.5),
        ("3", 3.0),
        ("+2.5e-3", 2.5e-3),
        (" 1e-4 ", 1e-4),
    ],
)
def test_numbers_as_people_write_them(tmp_path, text, value):
    """PyYAML reads ``1e-4`` (no dot) as a string; float fields take it, in ``--set`` and in YAML files alike."""
    path = tmp_path / "c.yaml"
    path.write_text(f"optim: {{lr: {text!s}}}\ntrain: {{steps: 1}}\n")
    for cfg in (load_config("ring8", [f"optim.lr={text}"]), load_config(str(path))):
        assert cfg.optim.lr == value and type(cfg.optim.lr) is float


def test_ints_stay_ints_and_words_are_still_refused():
    cfg = load_config("ring8", ["train.steps=1_000", "train.batch_size=64"])
    assert (cfg.train.steps, cfg.train.batch_size) == (1000, 64) and type(cfg.train.steps) is int
    for override, message in [
        ("train.steps=1e3", "train.steps: expected int or null, got str '1e3'"),
        ("train.steps=2.0", "train.steps: expected int or null, got float 2.0"),
        ("optim.lr=fast", "optim.lr: expected float, got str 'fast'"),
        ("optim.lr=1e-4x", "optim.lr: expected float, got str '1e-4x'"),
        ("optim.lr=nan", "optim.lr: expected float, got str 'nan'"),
        ("optim.lr=1e999", "optim.lr: must be a finite number, got inf"),
        ("optim.lr=-1e-4", "optim.lr: -0.0001 is out of range; must be > 0.0"),
    ]:
        with pytest.raises(ConfigError) as e:
            load_config("ring8", [override])
        assert str(e.value) == message


def test_augment_policy_is_validated():
    assert load_config("quickstart", ["train.augment=color,cutout"]).train.augment == "color,cutout"
    with pytest.raises(
        ConfigError,
        match="train.augment: 'shear' is not one of color, translation, cutout, flip, rot90",
    ):
        load_config("quickstart", ["train.augment=color,shear"])


def test_augmentation_settings_without_a_policy_are_inert():
    """train.augment_p and its kin act only when train.augment names a policy: named when set without one."""
    assert load_config("quickstart", ["train.augment_p=0.5"]).inert_settings() == [
        "train.augment_p=0.5 has no effect: it applies when train.augment is not empty (here empty)"
    ]
    augmented = load_config(
        "quickstart", ["train.augment=color", "train.augment_p=0.5", "train.augment_shared=true"]
    )
    assert augmented.inert_settings() == [] and "train.augment_p" not in augmented.inert_keys()
    assert {"train.augment_p", "train.augment_p_final", "train.augment_shared"} <= set(
        load_config("quickstart", ["train.augment=' '"]).inert_keys()
    )


def test_an_empty_value_turns_off_a_setting_whose_off_value_is_empty():
    """`--set train.augment=` (YAML null) is the empty policy, as people write "none"; a key that needs a value
    still refuses null with a one-line error."""
    assert load_config("pictures64", ["train.augment="]).train.augment == ""
    with pytest.raises(ConfigError, match="model.arch: must not be null"):
        load_config("quickstart", ["model.arch="])
