"""Typed configuration: frozen dataclasses are the single source of defaults (docs/design.md, "Configuration").

A config is built from a preset (``src/gankit/presets/NAME.yaml``, also reachable as ``configs/``), a YAML file,
and ``--set section.key=value`` overrides. Unknown keys, wrong types and out-of-range values raise
:class:`~gankit.errors.ConfigError` with a one-line message naming the key and what is allowed. Keys whose values
name an entry of a registry (``data.name``, ``model.arch``, ``objective.loss``, ``objective.g_loss``) are checked by
that registry when the run is built, so a registered entry of one's own is a valid value.

Besides the core sections (data, model, objective, optim, train), a config has the sections of the training tricks
named in ``train.tricks`` (:data:`TRICKS`): a trick class declares its ``section`` and a frozen ``Settings``
dataclass whose fields are made with :func:`setting`; they are checked like the core keys and land in
:attr:`Config.tricks`.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import types
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

import yaml

from .errors import ConfigError
from .registry import Registry

PRESET_DIR = Path(__file__).parent / "presets"
# DiffAugment, ADA's blits (gankit.augment)
AUGMENT_POLICIES = ("color", "translation", "cutout", "flip", "rot90")


NON_EMPTY = "*"  # in a field's ``when`` values: the other key is any non-empty string


def when_text(values: tuple[str, ...], quote: str = "") -> str:
    """A ``when`` value list in words: ``dcgan or resnet``; :data:`NON_EMPTY` reads ``not empty``."""
    return " or ".join("not empty" if v == NON_EMPTY else f"{quote}{v}{quote}" for v in values)


def _opt(
    default: Any,
    *,
    choices: tuple | None = None,
    lo: float | None = None,
    hi: float | None = None,
    lo_open: bool = False,
    when: tuple[str, tuple[str, ...]] | None = None,
    help: str = "",
    resumable: bool = False,
    ramped: bool = False,
    each_of: tuple[str, ...] | None = None,
) -> Any:
    """A dataclass field carrying its validation rules (choices, closed/open lower bound, upper bound) and, in
    ``when`` = (``section.key``, values), the only values of another key under which it has an effect (a value
    ending in ``:`` matches as a prefix, e.g. ``folder:``; :data:`NON_EMPTY` matches any non-empty string).
    ``resumable``: an override may change it when a run is resumed; ``ramped``: a ``*_final`` setting that
    cosine-ramps over ``train.ramp_kimg`` (set only with a ramp); ``each_of``: the value is a comma-separated list
    whose every non-blank item is one of these."""
    return field(
        default=default,
        metadata={
            "choices": choices,
            "lo": lo,
            "hi": hi,
            "lo_open": lo_open,
            "when": when,
            "help": help,
            "resumable": resumable,
            "ramped": ramped,
            "each_of": each_of,
        },
    )


# The fields of a training trick's own settings dataclass (frozen; its types int, float, str or bool, each may be
# ``| None``) are made with ``setting(default, ...)``: the same rules, metadata and checks as gankit's own keys.
setting = _opt


PICTURES = ("data.name", ("folder:", "emoji"))  # the sources of users' own pictures


@dataclass(frozen=True)
class DataConfig:
    name: str = _opt(
        "mnist5k", help="registry name, or points:PATH / folder:PATH (see `gankit datasets`)"
    )
    data_dir: str | None = _opt(None, help="folder looked in first for dataset files")
    download: bool = _opt(
        False, help="fetch missing official files into the cache (checked by SHA-256)"
    )
    split: str = _opt("train", help="split to train on")
    resolution: int | None = _opt(
        None,
        lo=4,
        hi=1024,
        help="image sources: short side scaled to this, then centre-cropped to a square "
        "(data.fit) (null: the source's own size; folder:PATH 32, emoji 64)",
    )
    channels: str | None = _opt(
        None,
        choices=("gray", "rgb"),
        help="image sources: gray (1 channel) or rgb (3); null: the source's own (folder:PATH rgb)",
    )
    n_samples: int = _opt(50_000, lo=1, help="how many points toy sources draw")
    mean: float = _opt(0.0, when=("data.name", ("gauss1d",)), help="gauss1d mean")
    std: float = _opt(
        1.0,
        lo=0.0,
        lo_open=True,
        when=("data.name", ("gauss1d",)),
        help="gauss1d standard deviation",
    )
    seed: int = _opt(
        1234,
        lo=0,
        help="seed of the toy draw and of the Stacked MNIST stacks (independent of train.seed)",
    )
    stacks: int = _opt(
        128_000,
        lo=1,
        when=("data.name", ("stacked-mnist", "stacked-mnist5k")),
        help="Stacked MNIST: training images drawn (three digits each; the test split has 10,000)",
    )
    strict: bool = _opt(
        False,
        when=("data.name", ("folder:",)),
        help="folder: an unreadable image is an error instead of being skipped and counted",
    )
    background: str = _opt(
        "white",
        when=PICTURES,
        help="folder, emoji: the colour transparent pixels are composited onto (a colour name or "
        "#rrggbb); pad fills with it too",
    )
    fit: str = _opt(
        "crop",
        choices=("crop", "pad"),
        when=PICTURES,
        help="folder, emoji: a non-square picture is centre-cropped to a square, or padded with "
        "data.background",
    )

    def __post_init__(self) -> None:
        from PIL import ImageColor

        try:
            ImageColor.getrgb(self.background)
        except ValueError:
            raise ConfigError(
                f"data.background: {self.background!r} is not a colour (a name such as white or "
                f"black, or #rrggbb)"
            ) from None


@dataclass(frozen=True)
class ModelConfig:
    arch: str = _opt(
        "paper-mlp",
        help="architecture of G and D: a registered name, or MODULE:NAME to import "
        "one of your own (docs/python-api.md)",
    )
    z_dim: int = _opt(100, lo=1, help="noise dimension")
    prior: str = _opt(
        "uniform", choices=("uniform", "normal"), help="uniform on [-√3, √3] (paper) or N(0, I)"
    )
    hidden: int = _opt(128, lo=1, when=("model.arch", ("mlp",)), help="mlp: hidden width")
    layers: int = _opt(2, lo=1, hi=16, when=("model.arch", ("mlp",)), help="mlp: hidden layers")
    width: int = _opt(
        64,
        lo=1,
        when=("model.arch", ("dcgan", "resnet", "nf-resnet", "projected")),
        help="dcgan, resnet: base channel count; nf-resnet: channels at full resolution (doubling at "
        "each halving, at most 8×); projected: G's, and half the width of D's trained discriminators",
    )
    projected_levels: int = _opt(
        2,
        lo=1,
        hi=4,
        when=("model.arch", ("projected",)),
        help="projected: EfficientNet-Lite0 feature levels D reads (1: 24 channels at 1/4 of the side, 2: "
        '+40 at 1/8, 3: +112 at 1/16, 4: +320 at 1/32; pip install "gankit[projected]")',
    )
    blocks: int = _opt(
        1,
        lo=1,
        hi=16,
        when=("model.arch", ("nf-resnet",)),
        help="nf-resnet: residual blocks per stage",
    )
    expansion: int = _opt(
        2,
        lo=1,
        hi=8,
        when=("model.arch", ("nf-resnet",)),
        help="nf-resnet: a block's inner width is this × its width (inverted bottleneck)",
    )
    group_size: int = _opt(
        16,
        lo=1,
        when=("model.arch", ("nf-resnet",)),
        help="nf-resnet: channels per group of the 3×3 convolution (≥ inner width: dense)",
    )
    dropout: bool = _opt(
        True,
        when=("model.arch", ("paper-mlp",)),
        help="paper-mlp: the paper's dropout on D (keep 0.8 input, 0.5 hidden)",
    )
    d_norm: str = _opt(
        "batch",
        choices=("batch", "layer", "none"),
        when=("model.arch", ("dcgan",)),
        help="dcgan: D's normalisation layers",
    )
    spectral_norm: bool = _opt(
        False, help="spectral normalisation of every D layer (Miyato et al. 2018)"
    )
    conditional: str = _opt(
        "none",
        choices=("none", "concat", "projection", "acgan"),
        help="class-conditional G and D: concatenation cGAN, projection D, or AC-GAN",
    )
    inner_resolution: int | None = _opt(
        None,
        lo=4,
        help="images: G and D work at this resolution (the data's ÷ "
        "a power of two): G's output is enlarged bilinearly, D averages its input down "
        "(null: the data's)",
    )


@dataclass(frozen=True)
class ObjectiveConfig:
    g_loss: str = _opt(
        "non-saturating",
        when=("objective.loss", ("gan",)),
        help="generator loss: -log D(G(z)) or the value function's log(1 - D(G(z)))",
    )
    d_weight: float = _opt(
        1.0,
        lo=0.0,
        lo_open=True,
        help="D loss = d_weight·(BCE(real, 1) + BCE(fake, 0)); the paper's code uses 0.5",
    )
    loss: str = _opt(
        "gan",
        help="adversarial objective: the paper's (gan), least squares, Wasserstein, hinge, "
        "relativistic average, relativistic pairing",
    )
    label_smoothing: float = _opt(
        0.0,
        lo=0.0,
        hi=0.5,
        when=("objective.loss", ("gan",)),
        help="gan: one-sided, D's real target is 1 - this",
    )
    gp: float = _opt(0.0, lo=0.0, help="WGAN-GP gradient penalty weight (0: off)")
    dragan: float = _opt(0.0, lo=0.0, help="DRAGAN penalty weight (0: off)")
    r1: float = _opt(0.0, lo=0.0, help="R1 penalty γ on real data (0: off)")
    r2: float = _opt(0.0, lo=0.0, help="R2 penalty γ on generated data (0: off)")
    reg_every: int = _opt(
        1, lo=1, help="lazy regularisation: penalties every N D updates, scaled by N"
    )
    penalty_final: float | None = _opt(
        None,
        lo=0.0,
        help="every penalty weight × this at the end of train.ramp_kimg "
        "(cosine ramp from × 1; null: constant)",
        ramped=True,
    )
    clip: float = _opt(
        0.0, lo=0.0, help="WGAN weight clipping of D's parameters to [-clip, clip] (0: off)"
    )
    ac_weight: float = _opt(
        1.0,
        lo=0.0,
        when=("model.conditional", ("acgan",)),
        help="acgan: weight of the auxiliary classification loss in D's and G's loss",
    )

    @property
    def penalised(self) -> bool:
        """Whether D's loss carries a gradient penalty (gp, dragan, r1 or r2)."""
        return bool(self.gp or self.dragan or self.r1 or self.r2)


@dataclass(frozen=True)
class OptimConfig:
    name: str = _opt("sgd", choices=("sgd", "adam"), help="optimiser of both G and D")
    lr: float = _opt(0.1, lo=0.0, lo_open=True, help="initial learning rate")
    lr_g: float | None = _opt(
        None, lo=0.0, lo_open=True, help="G's learning rate if not optim.lr (TTUR)"
    )
    lr_d: float | None = _opt(
        None, lo=0.0, lo_open=True, help="D's learning rate if not optim.lr (TTUR)"
    )
    lr_decay: float = _opt(
        1.0, lo=1.0, help="lr is divided by this after every update (paper: 1.000004)"
    )
    lr_floor: float = _opt(1e-6, lo=0.0, help="lr never decays below this")
    momentum: float = _opt(
        0.5, lo=0.0, hi=1.0, when=("optim.name", ("sgd",)), help="sgd: initial momentum"
    )
    momentum_final: float = _opt(
        0.7,
        lo=0.0,
        hi=1.0,
        when=("optim.name", ("sgd",)),
        help="sgd: momentum reached at momentum_saturate epoch",
    )
    momentum_start: float = _opt(
        1.0,
        lo=0.0,
        when=("optim.name", ("sgd",)),
        help="sgd: epoch at which momentum starts to rise",
    )
    momentum_saturate: float = _opt(
        250.0,
        lo=0.0,
        when=("optim.name", ("sgd",)),
        help="sgd: epoch at which momentum reaches momentum_final",
    )
    beta1: float = _opt(0.5, lo=0.0, hi=1.0, when=("optim.name", ("adam",)), help="adam: beta1")
    beta2: float = _opt(0.999, lo=0.0, hi=1.0, when=("optim.name", ("adam",)), help="adam: beta2")
    lr_final: float | None = _opt(
        None,
        lo=0.0,
        lo_open=True,
        help="lr at the end of train.ramp_kimg (cosine ramp; lr_g and lr_d scale alike; "
        "null: constant)",
        ramped=True,
    )
    beta2_final: float | None = _opt(
        None,
        lo=0.0,
        hi=1.0,
        when=("optim.name", ("adam",)),
        help="adam: beta2 at the end of train.ramp_kimg (cosine ramp; null: constant)",
        ramped=True,
    )


# the augmentation settings act only when a policy is named
AUGMENTED = ("train.augment", (NON_EMPTY,))


@dataclass(frozen=True)
class TrainConfig:
    k: int = _opt(1, lo=1, help="discriminator updates per generator update (Algorithm 1)")
    batch_size: int = _opt(100, lo=1, help="m: real and noise samples per update")
    steps: int | None = _opt(
        None, lo=1, help="stop after this many generator updates", resumable=True
    )
    epochs: float | None = _opt(
        None, lo=0.0, lo_open=True, help="stop after this many passes over the data", resumable=True
    )
    nimg: int | None = _opt(
        None, lo=1, help="stop after this many real samples shown to D", resumable=True
    )
    minutes: float | None = _opt(
        None, lo=0.0, lo_open=True, help="stop after this much wall-clock time", resumable=True
    )
    seed: int = _opt(0, lo=0, help="the run's one seed")
    device: str = _opt(
        "auto",
        choices=("auto", "cpu", "cuda"),
        help="auto: cuda when present, else cpu",
        resumable=True,
    )
    log_every: int = _opt(100, lo=1, help="steps between metrics.jsonl rows", resumable=True)
    sample_every: int = _opt(1000, lo=1, help="steps between fixed-noise grids", resumable=True)
    checkpoint_every: int = _opt(
        1000,
        lo=1,
        help="steps between checkpoints (one is always written at the end)",
        resumable=True,
    )
    keep_checkpoints: int = _opt(3, lo=1, help="checkpoints kept besides `latest`", resumable=True)
    snapshot_every: int = _opt(
        0, lo=0, help="1-D/2-D runs: steps between figure snapshots (0: off)"
    )
    ema_half_life_kimg: float = _opt(
        0.0, lo=0.0, help="EMA of G with this half-life in thousands of images (0: off)"
    )
    ema_half_life_final_kimg: float | None = _opt(
        None,
        lo=0.0,
        lo_open=True,
        help="EMA half-life at the end of train.ramp_kimg (cosine ramp; null: constant)",
        ramped=True,
    )
    ema_rampup: float | None = _opt(
        0.05, lo=0.0, help="EMA half-life capped at nimg·rampup early on (null: none)"
    )
    augment: str = _opt(
        "",
        help="augmentation of what D sees, applied in the order given: a comma-separated subset of "
        "color, translation, cutout (DiffAugment), flip, rot90 (ADA's pixel blitting; rot90 "
        "needs square images) (empty: off)",
        each_of=AUGMENT_POLICIES,
    )
    augment_p: float = _opt(
        1.0,
        lo=0.0,
        hi=1.0,
        when=AUGMENTED,
        help="probability that an image D sees is augmented (the whole policy, one draw per image)",
    )
    augment_p_final: float | None = _opt(
        None,
        lo=0.0,
        hi=1.0,
        when=AUGMENTED,
        help="augment_p at the end of train.ramp_kimg (cosine ramp; null: constant)",
        ramped=True,
    )
    ramp_kimg: float = _opt(
        0.0,
        lo=0.0,
        help="length of the cosine ramps of the *_final settings, in thousands of "
        "real images shown to D (0: no ramps)",
    )
    augment_shared: bool = _opt(
        False, when=AUGMENTED, help="apply the same augmentation draw to the real and fake batch"
    )
    tricks: str = _opt(
        "",
        help="training tricks of one's own, applied after gankit's in the order given: a comma-separated "
        "list of registered names or MODULE:NAME (docs/design.md, 'How to add a training trick'); their "
        "settings are the sections they declare (empty: none)",
    )
    ada_target: float | None = _opt(
        None,
        lo=0.0,
        lo_open=True,
        hi=1.0,
        help="adaptive augmentation (ADA, Karras et al. 2020): augment_p starts at 0 and "
        "is adjusted to keep r_t = E[sign(D(x_real))] near this target (0.6 in the "
        "paper; needs train.augment and objective.loss gan or hinge; null: off)",
    )
    ada_kimg: float = _opt(
        500.0,
        lo=0.0,
        lo_open=True,
        help="ADA: thousands of real images over which p can move from 0 to 1",
    )
    ada_interval: int = _opt(
        4,
        lo=1,
        help="ADA: D updates between adjustments of p (rounded up to whole steps of "
        "train.k updates)",
    )
    eval_every_kimg: float | None = _opt(
        None,
        lo=0.0,
        lo_open=True,
        help="quality tracked while training: thousands of real images between evaluations of "
        "train.eval_metric on G (its EMA copy when there is one); the best "
        "checkpoint so far is kept in checkpoints/best (null: off)",
        resumable=True,
    )
    eval_metric: str = _opt(
        "auto",
        help="the tracked metric, lower is better, checked against gankit eval's metric table when "
        "the run starts: gankit's are fid, kid (small folders), fid_classifier (the domain "
        "classifier's Fréchet distance; digits, MNIST, Fashion-MNIST; fast) and jsd (gauss1d), and "
        "a registered metric with `tracks` joins them; auto: the first that can run on the data, "
        "resolved when the run starts and written to its config.yaml",
    )
    eval_n: int = _opt(2000, lo=2, help="generated samples per evaluation during training")
    eval_reference: str | None = _opt(
        None,
        help="what they are compared with: DATASET:SPLIT or an .npz (null: as gankit eval does, "
        "the data's test split, or the whole set when it has none)",
    )
    eval_patience_kimg: float | None = _opt(
        None,
        lo=0.0,
        lo_open=True,
        help="stop early once the tracked metric has not improved for this many thousand real "
        "images (null: never)",
        resumable=True,
    )
    grid_size: int = _opt(64, lo=1, hi=1024, help="samples in each fixed-noise grid")
    speed: str = _opt(
        "auto",
        choices=("auto", "eager", "compile", "cudagraph"),
        help="eager; torch.compile of G and D; cudagraph: the whole step captured in a CUDA graph; "
        "auto: eager on CPU, cudagraph on CUDA when the run allows it, else compile (reason logged)",
        resumable=True,
    )
    precision: str = _opt(
        "fp32", choices=("fp32", "bf16"), help="bf16: autocast forward passes, fp32 master weights"
    )
    tf32: bool = _opt(True, help="CUDA: allow TF32 in matmuls and convolutions", resumable=True)
    channels_last: str = _opt(
        "auto",
        choices=("auto", "on", "off"),
        help="channels_last memory format for convolutional models (auto: on, except with "
        "train.speed=compile)",
        resumable=True,
    )
    on_divergence: str = _opt(
        "rollback",
        choices=("rollback", "stop"),
        help="divergence (NaN/Inf in the losses or the state, or a loss beyond "
        "train.max_abs_loss): restore the last good checkpoint with lower learning rates, "
        "or stop",
        resumable=True,
    )
    rollback_lr_factor: float = _opt(
        0.5,
        lo=0.0,
        hi=1.0,
        lo_open=True,
        help="learning rates are multiplied by this at each rollback",
    )
    max_rollbacks: int = _opt(
        3, lo=0, help="give up (stop with an error) after this many rollbacks", resumable=True
    )
    max_abs_loss: float = _opt(
        1e6,
        lo=0.0,
        lo_open=True,
        help="a logged mean d_loss or g_loss beyond ± this counts as divergence (exploded)",
        resumable=True,
    )
    doctor: bool = _opt(
        True,
        help="warn about D overpowering G, mode collapse and non-finite gradients",
        resumable=True,
    )
    sync_batchnorm: bool = _opt(
        False, help="distributed on CUDA: BatchNorm statistics over the global batch"
    )

    def __post_init__(self) -> None:
        if self.eval_patience_kimg is not None and self.eval_every_kimg is None:
            raise ConfigError(
                "train.eval_patience_kimg stops on the tracked metric: set train.eval_every_kimg too"
            )
        if self.ada_target is None:
            return
        if not self.augment.strip():
            raise ConfigError(
                "train.ada_target needs a policy in train.augment (ADA adjusts how often it is applied)"
            )
        if self.augment_p != 1.0 or self.augment_p_final is not None:
            raise ConfigError(
                "train.ada_target adjusts the augmentation probability itself, from 0: leave "
                "train.augment_p and train.augment_p_final unset"
            )


@dataclass(frozen=True)
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    # the settings of each trick named in train.tricks that has a Settings class, by its section
    tricks: dict[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        t = self.train
        if t.steps is None and t.epochs is None and t.nimg is None and t.minutes is None:
            raise ConfigError(
                "train: no stop condition; set one of train.steps, train.epochs, train.nimg, "
                "train.minutes"
            )
        ramped = [
            k for k, f in self._fields() if f.metadata.get("ramped") and self.get(k) is not None
        ]
        if ramped and t.ramp_kimg == 0:
            raise ConfigError(
                f"{ramped[0]} is set but train.ramp_kimg is 0: give the ramp's length in kimg"
            )
        if t.ema_half_life_final_kimg is not None and not t.ema_half_life_kimg:
            raise ConfigError(
                "train.ema_half_life_final_kimg needs an EMA: set train.ema_half_life_kimg > 0"
            )

    def _sections(self) -> dict[str, Any]:
        """The settings object of every section, the core ones first, then the tricks'."""
        return {**{name: getattr(self, name) for name in SECTIONS}, **self.tricks}

    def _fields(self) -> list[tuple[str, dataclasses.Field]]:
        """(``section.key``, its field) of every setting, section by section."""
        return [(f"{s}.{f.name}", f) for s, obj in self._sections().items() for f in fields(obj)]

    def _find(self, key: str) -> dataclasses.Field | None:
        section, _, name = str(key).partition(".")
        obj = self._sections().get(section)
        return None if obj is None else next((f for f in fields(obj) if f.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        """Nested plain values: the core sections, then each trick's section (what :func:`from_dict` reads)."""
        return {name: dataclasses.asdict(obj) for name, obj in self._sections().items()}

    def field_of(self, key: str) -> dataclasses.Field:
        """The dataclass field of ``section.key`` (a core key or a trick's), with its rules in ``metadata``."""
        found = self._find(key)
        if found is None:
            raise ConfigError(f"unknown config key {_show(key)}")
        return found

    def get(self, key: str) -> Any:
        """The value of ``section.key``."""
        self.field_of(key)
        section, name = key.split(".")
        return getattr(self._sections()[section], name)

    def resumable(self, key: str) -> bool:
        """Whether an override may change ``section.key`` when the run is resumed (False for an unknown key)."""
        found = self._find(key)
        return bool(found is not None and found.metadata.get("resumable"))

    def inert_keys(self) -> list[str]:
        """``section.key`` of every setting that has no effect in this config (its ``when`` condition is false)."""
        return [
            k
            for k, f in self._fields()
            if f.metadata.get("when") and not _holds(self, *f.metadata["when"])
        ]

    def inert_settings(self) -> list[str]:
        """One line per setting given a non-default value that has no effect in this config."""
        out = []
        for key in self.inert_keys():
            f = self.field_of(key)
            if self.get(key) != f.default:
                other, values = f.metadata["when"]
                out.append(
                    f"{key}={_show(self.get(key))} has no effect: it applies when {other} is "
                    f"{when_text(values)} (here {self.get(other) or 'empty'})"
                )
        return out


def _holds(cfg: Config, key: str, values: tuple[str, ...]) -> bool:
    value = str(cfg.get(key))
    if (
        key == "model.arch" and ":" in value
    ):  # a builder of one's own (module:builder) may read any model key
        return True
    return any(_matches(value, v) for v in values)


def _matches(value: str, wanted: str) -> bool:
    """``value`` against one ``when`` value: :data:`NON_EMPTY`, a prefix ending in ``:``, or the value itself."""
    if wanted == NON_EMPTY:
        return value.strip() != ""
    return value.startswith(wanted) if wanted.endswith(":") else value == wanted


def _core_sections() -> dict[str, type]:
    """The fields of :class:`Config` whose type is a section dataclass, by name (not ``tricks``)."""
    out = {}
    for f in fields(Config):
        tp = f.type if isinstance(f.type, type) else globals().get(f.type)
        if isinstance(tp, type) and dataclasses.is_dataclass(tp):
            out[f.name] = tp
    return out


SECTIONS: dict[str, type] = _core_sections()


# ----------------------------------------------------------------------------------------------------------- checks

_ANNOTATION_TYPES = {"int": int, "float": float, "str": str, "bool": bool, "None": type(None)}


def _allowed_types(tp: Any) -> tuple[tuple[type, ...], bool]:
    """(python types accepted, whether None is accepted) for an annotation like ``int | None``."""
    if isinstance(
        tp, str
    ):  # `from __future__ import annotations`: "int | None" is looked up, never evaluated
        args = tuple(_ANNOTATION_TYPES[name.strip()] for name in tp.split("|"))
    else:
        union = isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union
        args = typing.get_args(tp) if union else (tp,)
    nullable = type(None) in args or None in args
    return tuple(a for a in args if a not in (type(None), None)), nullable


def _show(value: Any) -> str:
    """repr of a value for a one-line message, cut to 60 characters (a value can be a 1,000-digit integer)."""
    try:
        text = repr(value)
    except ValueError:  # an int beyond sys.get_int_max_str_digits()
        text = f"<{value.bit_length()}-bit integer>"
    return text if len(text) <= 60 else text[:57] + "..."


def _as_number(value: Any, kind: type) -> Any:
    """A number written as text the way people write it (``1e-4``, ``2E-4``, ``1_000``, ``.5``; YAML reads some of
    these as strings) → float for a float field, int for an int field when it is a whole number in digits; any other
    value unchanged."""
    if not isinstance(value, str) or kind not in (int, float):
        return value
    text = value.strip()
    try:
        return (
            int(text) if kind is int else float(text) if any(c.isdigit() for c in text) else value
        )
    except ValueError:
        return value


def _check_value(key: str, f: dataclasses.Field, value: Any) -> Any:
    allowed, nullable = _allowed_types(f.type)
    value = _as_number(value, allowed[0] if allowed else None)
    if value is None:
        if nullable:
            return None
        if allowed[0] is str and f.default == "":  # `train.augment=` as people write "none"
            return ""
        raise ConfigError(f"{key}: must not be null; expected {allowed[0].__name__}")
    value = _typed(key, allowed[0], nullable, value)
    _check_rules(key, f.metadata, value)
    return value


def _typed(key: str, kind: type, nullable: bool, value: Any) -> Any:
    """``value`` as a ``kind`` (an int is a float for a float key); a ConfigError for any other type."""
    if kind is bool:
        ok = isinstance(value, bool)
    elif kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if ok and isinstance(value, int) and abs(value) > sys.float_info.max:
            raise ConfigError(
                f"{key}: must be a finite number, got an integer too large for a float ({_show(value)})"
            )
        value = float(value) if ok else value
        if ok and not math.isfinite(value):
            raise ConfigError(f"{key}: must be a finite number, got {value!r}")
    else:
        ok = isinstance(value, str)
    if not ok:
        raise ConfigError(
            f"{key}: expected {kind.__name__}{' or null' if nullable else ''}, "
            f"got {type(value).__name__} {_show(value)}"
        )
    return value


def _check_rules(key: str, meta: Mapping[str, Any], value: Any) -> None:
    """A ConfigError unless ``value`` keeps its field's rules: choices, each_of, bounds."""
    if meta.get("choices") and value not in meta["choices"]:
        raise ConfigError(
            f"{key}: {_show(value)} is not one of {', '.join(map(str, meta['choices']))}"
        )
    if meta.get("each_of"):
        _check_each_of(key, meta["each_of"], value)
    lo, hi = meta.get("lo"), meta.get("hi")
    if lo is not None and (value < lo or (meta.get("lo_open") and value == lo)):
        bound = f"> {lo}" if meta.get("lo_open") else f">= {lo}"
        raise ConfigError(
            f"{key}: {_show(value)} is out of range; must be {bound}"
            + (f" and <= {hi}" if hi is not None else "")
        )
    if hi is not None and value > hi:
        raise ConfigError(f"{key}: {_show(value)} is out of range; must be <= {hi}")


def _check_each_of(key: str, allowed: tuple[str, ...], value: str) -> None:
    """A ConfigError naming the first non-blank item of the comma-separated ``value`` that is not ``allowed``."""
    unknown = [p.strip() for p in value.split(",") if p.strip() and p.strip() not in allowed]
    if unknown:
        raise ConfigError(f"{key}: {_show(unknown[0])} is not one of {', '.join(allowed)}")


def _build_section(name: str, cls: type, values: Mapping[str, Any]) -> Any:
    if not isinstance(values, Mapping):
        raise ConfigError(f"{name}: expected a mapping of keys, got {type(values).__name__}")
    known = {f.name: f for f in fields(cls)}
    kwargs = {}
    for key, value in values.items():
        if key not in known:
            shown = (
                key if isinstance(key, str) and key.isprintable() and len(key) <= 60 else _show(key)
            )
            raise ConfigError(f"unknown config key {name}.{shown}; {name} has: {', '.join(known)}")
        kwargs[key] = _check_value(f"{name}.{key}", known[key], value)
    return cls(**kwargs)


def from_dict(values: Mapping[str, Any]) -> Config:
    """Build and validate a :class:`Config` from nested mappings; missing keys take the dataclass defaults. The
    sections besides the core ones are those of the tricks named in ``train.tricks``."""
    if values is None:
        values = {}
    if not isinstance(values, Mapping):
        raise ConfigError(f"config: expected a mapping of sections, got {type(values).__name__}")
    core = {
        name: _build_section(name, cls, values.get(name) or {})
        for name, cls in SECTIONS.items()
        if name in values
    }
    named = trick_classes(core.get("train", TrainConfig()).tricks)
    tricks = _trick_settings(named, values)
    unknown = [name for name in values if name not in SECTIONS and name not in tricks]
    if unknown:
        raise ConfigError(
            f"unknown config section {_show(unknown[0])}; sections are: "
            f"{', '.join([*SECTIONS, *tricks])}"
        )
    return Config(**core, tricks=tricks)


# ----------------------------------------------------------------------------------------------------------- tricks


def _is_trick(obj: object) -> bool:
    """Whether ``obj`` is a training trick: a class with ``section``, ``Settings`` and a callable ``build``."""
    return (
        isinstance(obj, type)
        and hasattr(obj, "section")
        and hasattr(obj, "Settings")
        and callable(getattr(obj, "build", None))
    )


# Training tricks by name (gankit.train registers its own); ``train.tricks`` names them, or MODULE:NAME.
TRICKS: Registry[type] = Registry(
    "train.tricks", ConfigError, "a training trick", is_entry=_is_trick
)


def trick_classes(tricks: Config | str) -> list[type]:
    """The trick classes a config's ``train.tricks`` (or that comma-separated string) names, in its order."""
    text = tricks.train.tricks if isinstance(tricks, Config) else tricks
    names = [name.strip() for name in text.split(",") if name.strip()]
    twice = [name for i, name in enumerate(names) if name in names[:i]]
    if twice:
        raise ConfigError(f"train.tricks: {_show(twice[0])} is named twice")
    return [TRICKS.resolve(name) for name in names]


def _trick_settings(classes: list[type], values: Mapping[str, Any]) -> dict[str, Any]:
    """The settings object of each trick of ``classes`` that has a ``Settings`` class, by its section, read from
    that section of ``values``."""
    out: dict[str, Any] = {}
    for cls in classes:
        if cls.Settings is None:
            continue
        section = cls.section
        if not isinstance(section, str) or not section.isidentifier():
            raise ConfigError(f"train.tricks: {cls.__name__}.section must be a section name")
        if section in SECTIONS or section in out:
            raise ConfigError(
                f"train.tricks: {cls.__name__}'s section {section!r} is already a section of the config"
            )
        out[section] = _build_section(section, cls.Settings, values.get(section) or {})
    return out


# ------------------------------------------------------------------------------------------------- presets, overrides


def preset_names() -> list[str]:
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


def _safe_load(text: str) -> Any:
    """``yaml.safe_load`` whose every failure is a YAMLError: PyYAML's constructors raise plain ValueError or
    KeyError on bad tagged scalars (``!!int abc``, ``!!bool maybe``) and deep nesting exhausts the stack."""
    try:
        return yaml.safe_load(text)
    except (ValueError, LookupError) as e:
        raise yaml.YAMLError(f"{type(e).__name__}: {e}") from None
    except RecursionError:
        raise yaml.YAMLError("nested too deeply") from None


def _read_yaml(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"cannot read config file {path}: {e.strerror}") from None
    except UnicodeDecodeError as e:
        raise ConfigError(
            f"{path}: is not UTF-8 text (byte {e.start} is 0x{e.object[e.start]:02x})"
        ) from None
    try:
        data = _safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        # one line, e.g. a ReaderError's
        problem = " ".join(str(getattr(e, "problem", None) or e).split())
        raise ConfigError(f"{path}:{where} is not valid YAML ({problem})") from None
    if data is not None and not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of sections at top level")
    return data or {}


def load_source(source: str | None) -> dict:
    """Raw nested dict of a preset name or a ``.yaml`` path (``None`` → the ``quickstart`` preset)."""
    source = source or "quickstart"
    path = Path(source)
    if source.endswith((".yaml", ".yml")) or path.is_file():
        if not path.is_file():
            raise ConfigError(f"config file {source} does not exist")
        return _read_yaml(path)
    preset = PRESET_DIR / f"{source}.yaml"
    if not preset.is_file():
        raise ConfigError(
            f"unknown preset {source!r}; presets are: {', '.join(preset_names())} (or pass a .yaml file)"
        )
    return _read_yaml(preset)


def apply_overrides(raw: dict, overrides: list[str]) -> dict:
    """Apply ``section.key=value`` strings to a raw nested dict; values are parsed as YAML scalars."""
    out = {k: dict(v or {}) if isinstance(v, Mapping) else v for k, v in raw.items()}
    for item in overrides:
        key, sep, text = item.partition("=")
        parts = key.strip().split(".")
        if not sep or len(parts) != 2 or not all(parts):
            raise ConfigError(
                f"override {_show(item)} must look like section.key=value (e.g. train.steps=500)"
            )
        section, name = parts
        try:
            value = _safe_load(text) if text.strip() else None
        except yaml.YAMLError:
            value = text
        out.setdefault(section, {})
        if not isinstance(out[section], dict):
            raise ConfigError(f"{section}: expected a mapping of keys")
        out[section][name] = value
    return out


def load_config(source: str | None = None, overrides: list[str] = ()) -> Config:
    """Preset name or YAML path, plus overrides → validated :class:`Config`."""
    return from_dict(apply_overrides(load_source(source), list(overrides)))


def to_yaml(cfg: Config, skip: tuple[str, ...] | list[str] = ()) -> str:
    """The config as YAML, without the ``section.key`` entries in ``skip``."""
    values = cfg.to_dict()
    for key in skip:
        section, name = key.split(".")
        values[section].pop(name, None)
    return yaml.safe_dump(values, sort_keys=False)
