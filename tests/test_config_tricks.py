"""Config sections of training tricks: a trick's settings are checked like gankit's own keys, named in
``train.tricks`` by a registered name or MODULE:NAME; field metadata marks ramped, resumable and each-of keys."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass

import pytest
import yaml

from gankit.config import (
    SECTIONS,
    TRICKS,
    ConfigError,
    from_dict,
    load_config,
    setting,
    to_yaml,
    trick_classes,
)


@dataclass(frozen=True)
class NoiseSettings:
    sigma: float = setting(0.1, lo=0.0, help="noise added to D's inputs")
    sigma_final: float | None = setting(None, lo=0.0, ramped=True, help="sigma at the ramp's end")


class NoiseTrick:
    section = "noise_trick"
    Settings = NoiseSettings

    @classmethod
    def build(cls, *args, **kwargs):
        return None


_count = itertools.count()


def registered(cls: type = NoiseTrick) -> str:
    """``cls`` registered under a name no other test uses."""
    name = f"noise-{next(_count)}-{uuid.uuid4().hex[:8]}"
    TRICKS.register(name, cls)
    return name


def one_line_error(call) -> str:
    with pytest.raises(ConfigError) as info:
        call()
    assert "\n" not in str(info.value)
    return str(info.value)


def test_a_trick_section_is_read_and_checked():
    name = registered()
    cfg = from_dict({"train": {"steps": 1, "tricks": name}, "noise_trick": {"sigma": "2e-1"}})
    assert cfg.tricks["noise_trick"].sigma == 0.2
    assert cfg.get("noise_trick.sigma") == 0.2
    assert cfg.field_of("noise_trick.sigma_final").metadata["ramped"]
    assert trick_classes(cfg) == [NoiseTrick] == trick_classes(f" {name} ,")
    assert "noise_trick" not in SECTIONS


def test_trick_settings_take_their_defaults_and_overrides():
    name = registered()
    assert load_config("quickstart", [f"train.tricks={name}"]).tricks["noise_trick"].sigma == 0.1
    cfg = load_config("quickstart", [f"train.tricks={name}", "noise_trick.sigma=0.3"])
    assert cfg.tricks["noise_trick"].sigma == 0.3


def test_a_bad_trick_value_names_its_key():
    name = registered()
    message = one_line_error(
        lambda: load_config("quickstart", [f"train.tricks={name}", "noise_trick.sigma=-1"])
    )
    assert message.startswith("noise_trick.sigma: -1.0 is out of range")
    message = one_line_error(
        lambda: load_config("quickstart", [f"train.tricks={name}", "noise_trick.sigmaa=1"])
    )
    assert message.startswith("unknown config key noise_trick.sigmaa; noise_trick has: sigma")


def test_a_trick_section_without_its_trick_is_unknown():
    message = one_line_error(lambda: load_config("quickstart", ["noise_trick.sigma=0.3"]))
    assert message.startswith("unknown config section 'noise_trick'; sections are: data, model")
    message = one_line_error(
        lambda: from_dict({"train": {"steps": 1}, "noise_trick": {"sigma": 0.3}})
    )
    assert "unknown config section 'noise_trick'" in message


def test_a_config_with_tricks_round_trips():
    name = registered()
    cfg = load_config("quickstart", [f"train.tricks={name}", "noise_trick.sigma=0.25"])
    assert list(cfg.to_dict())[-1] == "noise_trick"
    assert from_dict(cfg.to_dict()) == cfg
    text = to_yaml(cfg, skip=["noise_trick.sigma_final"])
    assert "sigma_final" not in text
    assert from_dict(yaml.safe_load(to_yaml(cfg))) == cfg


def test_a_ramped_trick_setting_needs_a_ramp():
    name = registered()
    over = [f"train.tricks={name}", "noise_trick.sigma_final=0.0"]
    assert one_line_error(lambda: load_config("quickstart", over)) == (
        "noise_trick.sigma_final is set but train.ramp_kimg is 0: give the ramp's length in kimg"
    )
    cfg = load_config("quickstart", [*over, "train.ramp_kimg=1"])
    assert cfg.tricks["noise_trick"].sigma_final == 0.0


def test_core_ramped_settings_still_need_a_ramp():
    assert one_line_error(lambda: load_config("quickstart", ["optim.lr_final=0.01"])) == (
        "optim.lr_final is set but train.ramp_kimg is 0: give the ramp's length in kimg"
    )


def test_module_name_finds_an_unregistered_trick(tmp_path, monkeypatch):
    module = f"my_tricks_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(
        "from dataclasses import dataclass\n"
        "from gankit.config import setting\n\n"
        "@dataclass(frozen=True)\n"
        "class Settings:\n"
        "    strength: float = setting(0.5, lo=0.0, hi=1.0)\n\n"
        "class Blur:\n"
        "    section = 'blur'\n"
        "    Settings = Settings\n\n"
        "    @classmethod\n"
        "    def build(cls, *args):\n"
        "        return None\n\n"
        "NOT_A_TRICK = 3\n",
        encoding="utf-8",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    cfg = load_config("quickstart", [f"train.tricks={module}:Blur", "blur.strength=0.75"])
    assert cfg.tricks["blur"].strength == 0.75
    assert [c.__name__ for c in trick_classes(cfg)] == ["Blur"]
    message = one_line_error(lambda: trick_classes(f"{module}:NOT_A_TRICK"))
    assert (
        message
        == f"train.tricks: {module} neither registers a training trick 'NOT_A_TRICK' nor has one of that name"
    )
    assert one_line_error(lambda: load_config("quickstart", ["train.tricks=no_such_module_x:Y"]))


def test_tricks_without_settings_have_no_section():
    class Quiet:
        section = None
        Settings = None

        @classmethod
        def build(cls, *args):
            return None

    cfg = load_config("quickstart", [f"train.tricks={registered(Quiet)}"])
    assert cfg.tricks == {} and list(cfg.to_dict()) == list(SECTIONS)


def test_a_trick_named_twice_or_a_section_taken_is_an_error():
    name = registered()
    assert "named twice" in one_line_error(lambda: trick_classes(f"{name},{name}"))
    other = registered()  # the same class: its section would be read twice
    message = one_line_error(lambda: load_config("quickstart", [f"train.tricks={name},{other}"]))
    assert "noise_trick" in message

    class Clash(NoiseTrick):
        section = "optim"

    message = one_line_error(
        lambda: load_config("quickstart", [f"train.tricks={registered(Clash)}"])
    )
    assert "'optim'" in message


def test_unknown_trick_names_the_key():
    assert one_line_error(lambda: load_config("quickstart", ["train.tricks=nope"])).startswith(
        "train.tricks 'nope' is unknown"
    )


def test_resumable_comes_from_the_field_metadata():
    cfg = load_config("quickstart", [f"train.tricks={registered()}"])
    assert cfg.resumable("train.steps") and cfg.resumable("train.eval_patience_kimg")
    assert not cfg.resumable("train.k") and not cfg.resumable("noise_trick.sigma")
    assert not cfg.resumable("nope.steps") and not cfg.resumable("train") and not cfg.resumable("")
    assert one_line_error(lambda: cfg.field_of("train.nope")).startswith("unknown config key")


def test_resume_lists_the_resumable_keys(tmp_path):
    from gankit.train.resume import check_resumable

    (tmp_path / "config.yaml").write_text(to_yaml(load_config("quickstart")), encoding="utf-8")
    check_resumable(tmp_path, ["train.steps=9", "train.device=cpu"])
    message = one_line_error(lambda: check_resumable(tmp_path, ["optim.lr=0.5"]))
    assert message.startswith(
        "--resume allows overriding only train.channels_last, train.checkpoint_every"
    )
    assert message.endswith("train.tf32; got optim.lr")


def test_each_of_checks_every_item_in_one_line():
    message = one_line_error(lambda: load_config("quickstart", ["train.augment=color, xyz,flip"]))
    assert message == "train.augment: 'xyz' is not one of color, translation, cutout, flip, rot90"
    assert load_config("quickstart", ["train.augment=color, flip,"]).train.augment == "color, flip,"
    assert load_config("quickstart", ["train.augment="]).train.augment == ""


def test_config_keys_lists_a_tricks_settings(capsys):
    from gankit.cli import main
    from gankit.config_doc import keys_markdown

    name = registered()
    assert main(["config", "--keys", "--set", f"train.tricks={name}"]) == 0
    out = capsys.readouterr().out
    assert "## noise_trick" in out and "| `noise_trick.sigma` | float | `0.1` | ≥ 0 |" in out
    assert (
        "noise_trick" not in keys_markdown()
        and keys_markdown(load_config("quickstart")) == keys_markdown()
    )
