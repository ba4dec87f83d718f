"""Training tricks as components (gankit.train.tricks.base): gankit's own — augmentation, ADA, AC-GAN's classifier,
gradient penalties, weight clipping, the EMA of G — and the registry (``gankit.config.TRICKS``) where a user's own
join them, named in ``train.tricks``."""

from ...config import TRICKS
from .acgan import AcGan
from .active import Tricks, build_tricks
from .ada import Ada
from .augment import Augment
from .base import Context, DUpdate, GUpdate, Ramp, StepDone, Trick, Verdict
from .clip import Clip
from .ema import EmaTrick
from .penalty import PenaltyTrick

# gankit's tricks in the order their hooks run: what D sees first, then its loss's terms, then after its update
BUILT_IN: dict[str, type[Trick]] = {
    "augment": Augment,
    "ada": Ada,
    "acgan": AcGan,
    "penalty": PenaltyTrick,
    "clip": Clip,
    "ema": EmaTrick,
}
for _name, _cls in BUILT_IN.items():
    TRICKS.register(_name, _cls)

__all__ = [
    "BUILT_IN",
    "AcGan",
    "Ada",
    "Augment",
    "Clip",
    "EmaTrick",
    "PenaltyTrick",
    "TRICKS",
    "Context",
    "DUpdate",
    "GUpdate",
    "Ramp",
    "StepDone",
    "Trick",
    "Tricks",
    "Verdict",
    "build_tricks",
]
