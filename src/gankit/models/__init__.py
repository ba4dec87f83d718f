"""Generators and discriminators (docs/design.md, 'Models'). Models know nothing of training, objectives or metrics."""

from .base import Discriminator, Generator, batch_coupled, sample_prior
from .mlp import (
    Dropout,
    Maxout,
    MLPDiscriminator,
    MLPGenerator,
    PaperDiscriminator,
    PaperGenerator,
    marginal_logits,
)
from .registry import architectures, build_models, parameter_counts, register

__all__ = [
    "Discriminator",
    "Generator",
    "batch_coupled",
    "sample_prior",
    "PaperGenerator",
    "PaperDiscriminator",
    "Dropout",
    "Maxout",
    "MLPGenerator",
    "MLPDiscriminator",
    "marginal_logits",
    "architectures",
    "build_models",
    "parameter_counts",
    "register",
]
