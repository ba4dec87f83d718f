"""What the playground page may change, within which limits, and the gankit :class:`~gankit.config.Config` it
becomes. Defaults per distribution come from the presets (``gauss1d``, ``ring8``, ``grid25``); an uploaded file takes
``gauss1d``'s (1-D points) or ``ring8``'s (2-D points). Models are gankit's small MLPs (``model.arch: mlp``)."""

from __future__ import annotations

import math
from typing import Any, Mapping

from ..config import Config, from_dict, load_source
from ..errors import ConfigError
from ..objectives import objectives
from .uploads import Upload

BUILT_IN = ("gauss1d", "ring8", "grid25")


def objective_menu() -> dict[str, tuple[str, str]]:
    """The page's objectives: page name → (objective.loss, objective.g_loss), from the objective registry (the
    paper's loss twice, non-saturating and minimax; g_loss matters for "gan" only)."""
    menu = {"gan": ("gan", "non-saturating"), "gan-minimax": ("gan", "minimax")}
    menu.update({name: (name, "non-saturating") for name in objectives() if name != "gan"})
    return menu


def choices() -> dict[str, tuple[str, ...]]:
    """What each menu of the page offers."""
    return {
        "dataset": (*BUILT_IN, "upload"),
        "objective": tuple(objective_menu()),
        "optimizer": ("adam", "sgd"),
        "prior": ("uniform", "normal"),
    }


NUMBERS = {  # name → (type, lowest, highest); learning rates must also be > 0
    "k": (int, 1, 20),
    "lr_d": (float, 0.0, 10.0),
    "lr_g": (float, 0.0, 10.0),
    "gp": (float, 0.0, 100.0),
    "r1": (float, 0.0, 100.0),
    "r2": (float, 0.0, 100.0),
    "hidden": (int, 1, 512),
    "layers": (int, 1, 6),
    "z_dim": (int, 1, 64),
    "batch_size": (int, 1, 4096),
    "seed": (int, 0, 2**31 - 1),
}
DEVICE = (
    "cpu"  # toy MLPs step faster on one CPU thread than on a GPU, and leave the GPU to real runs
)


def preset_settings(dataset: str) -> dict[str, Any]:
    """The page's settings taken from a built-in distribution's preset."""
    raw = load_source(dataset)
    model, objective, optim, train = (
        raw["model"],
        raw.get("objective", {}),
        raw["optim"],
        raw["train"],
    )
    pair = (objective.get("loss", "gan"), objective.get("g_loss", "non-saturating"))
    lr = optim["lr"]
    return {
        "dataset": dataset,
        "objective": next(k for k, v in objective_menu().items() if v == pair),
        "gp": float(objective.get("gp", 0.0)),
        "r1": float(objective.get("r1", 0.0)),
        "r2": float(objective.get("r2", 0.0)),
        "k": train["k"],
        "optimizer": optim["name"],
        "lr_d": float(optim.get("lr_d") or lr),
        "lr_g": float(optim.get("lr_g") or lr),
        "hidden": model["hidden"],
        "layers": model["layers"],
        "z_dim": model["z_dim"],
        "prior": model["prior"],
        "batch_size": train["batch_size"],
        "seed": train.get("seed", 0),
    }


def presets() -> dict[str, dict[str, Any]]:
    return {name: preset_settings(name) for name in BUILT_IN}


def _number(name: str, value: Any) -> int | float:
    kind, lo, hi = NUMBERS[name]
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if kind is int and ok and float(value).is_integer():
        value = int(value)
    if not ok or (kind is int and not isinstance(value, int)):
        raise ConfigError(
            f"setting {name}: expected {'an integer' if kind is int else 'a number'}, got {value!r}"
        )
    positive = name.startswith("lr_")
    if value < lo or value > hi or (positive and value <= 0):
        raise ConfigError(
            f"setting {name}: {value!r} is out of range; must be {'>' if positive else '>='} {lo} "
            f"and <= {hi}"
        )
    return kind(value)


def check(settings: Mapping[str, Any], upload: Upload | None) -> dict[str, Any]:
    """Validate the page's settings (missing keys take the distribution's preset values) → a complete dict."""
    if not isinstance(settings, Mapping):
        raise ConfigError("settings: expected an object of name → value")
    menus = choices()
    dataset = settings.get("dataset", "ring8")
    if dataset not in menus["dataset"]:
        raise ConfigError(
            f"setting dataset: {dataset!r} is not one of {', '.join(menus['dataset'])}"
        )
    if dataset == "upload" and upload is None:
        raise ConfigError("setting dataset: upload a CSV file of points first")
    out = preset_settings(
        dataset if dataset != "upload" else ("gauss1d" if upload.dim == 1 else "ring8")
    )
    out["dataset"] = dataset
    for name, value in settings.items():
        if name in NUMBERS:
            out[name] = _number(name, value)
        elif name in menus:
            if value not in menus[name]:
                raise ConfigError(
                    f"setting {name}: {value!r} is not one of {', '.join(menus[name])}"
                )
            out[name] = value
        else:
            raise ConfigError(
                f"unknown setting {str(name)[:40]!r}; settings are: {', '.join([*menus, *NUMBERS])}"
            )
    return out


def to_config(s: Mapping[str, Any], upload: Upload | None, data_name: str | None = None) -> Config:
    """Checked settings → a validated Config on the preset of the distribution (``data_name`` replaces the data
    source's name, e.g. ``points:/RUN/data.csv`` for an uploaded file)."""
    upload = upload if s["dataset"] == "upload" else None
    raw = load_source(
        s["dataset"] if upload is None else ("gauss1d" if upload.dim == 1 else "ring8")
    )
    loss, g_loss = objective_menu()[s["objective"]]
    raw["data"]["name"] = data_name or (s["dataset"] if upload is None else f"points:{upload.name}")
    raw["model"].update(
        arch="mlp", z_dim=s["z_dim"], prior=s["prior"], hidden=s["hidden"], layers=s["layers"]
    )
    raw["objective"] = {
        **raw.get("objective", {}),
        "loss": loss,
        "g_loss": g_loss,
        "gp": s["gp"],
        "r1": s["r1"],
        "r2": s["r2"],
    }
    raw["optim"].update(name=s["optimizer"], lr=s["lr_d"], lr_d=s["lr_d"], lr_g=s["lr_g"])
    raw["train"].update(
        k=s["k"], batch_size=s["batch_size"], seed=s["seed"], device=DEVICE, speed="eager"
    )
    return from_dict(raw)
