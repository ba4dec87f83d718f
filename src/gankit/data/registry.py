"""Registry of named data sources. ``NAME`` or ``NAME:PATH`` (for sources that take a path) → :class:`Dataset`."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable

from ..config import DataConfig
from ..errors import DatasetError
from ..registry import Registry
from .base import Dataset, SourceStatus, Split
from .transforms import conform

Loader = Callable[[DataConfig, str], Dataset]
Locator = Callable[[DataConfig, str], SourceStatus]


@dataclass(frozen=True)
class Source:
    name: str
    summary: str  # one line for `gankit datasets`
    load: Loader  # (config, path after "NAME:" or "") -> Dataset
    locate: Locator  # (config, path) -> where it is / whether present, without loading it
    takes_path: bool = False


SOURCES: Registry[Source] = Registry(
    "data.name",
    DatasetError,
    "a data source",
    is_entry=lambda value: isinstance(value, Source),
    label=lambda name, source: name + (":PATH" if source.takes_path else ""),
)


def _built_in(cfg: DataConfig, path: str) -> SourceStatus:
    return SourceStatus(True, "built in (generated)")


def register(name: str, summary: str, *, takes_path: bool = False, locate: Locator | None = None):
    """Decorator registering ``load(cfg, path) -> Dataset`` under ``name`` (gankit.registry's rules)."""

    def wrap(load: Loader) -> Loader:
        SOURCES.register(name, Source(name, summary, load, locate or _built_in, takes_path))
        return load

    return wrap


def sources() -> list[Source]:
    return list(SOURCES.entries().values())


def resolve(spec: str) -> tuple[Source, str]:
    """Split ``NAME[:PATH]`` and find its source; ``MODULE:NAME[:PATH]`` imports a user's module first, as
    ``model.arch`` does (gankit.registry: an unknown name is a one-line error listing the choices)."""
    first, sep, rest = spec.partition(":")
    if first in SOURCES or not sep:
        source, path = SOURCES.resolve(first), rest
    else:
        name, sep, path = rest.partition(":")
        source = SOURCES.from_module(first, name, spec)
    if source.takes_path and not path:
        raise DatasetError(f"dataset {source.name} needs a path: {source.name}:PATH")
    if not source.takes_path and sep:
        raise DatasetError(f"dataset {source.name} takes no path (got {spec!r})")
    return source, path


def load_dataset(cfg: DataConfig) -> Dataset:
    """Resolve ``cfg.name`` to in-memory tensors (docs/design.md, 'Data sources'), images conformed to
    ``data.resolution`` and ``data.channels`` (a points source with either set is an error: they would do nothing)."""
    source, path = resolve(cfg.name)
    dataset = source.load(cfg, path)
    if cfg.resolution is None and cfg.channels is None:
        return dataset
    if dataset.kind != "image":
        key = "data.resolution" if cfg.resolution is not None else "data.channels"
        raise DatasetError(
            f"{key} applies to image sources; {cfg.name} gives {dataset.kind} (leave it null)"
        )
    splits = {
        name: Split(conform(s.x, cfg.resolution, cfg.channels), s.y)
        for name, s in dataset.splits.items()
    }
    return dataclasses.replace(dataset, splits=splits)


def locate(cfg: DataConfig) -> SourceStatus:
    source, path = resolve(cfg.name)
    return source.locate(cfg, path)
