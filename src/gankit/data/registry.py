"""Registry of named data sources. ``NAME`` or ``NAME:PATH`` (for sources that take a path) → :class:`Dataset`."""

from __future__ import annotations

import dataclasses
import importlib
from dataclasses import dataclass
from typing import Callable

from ..config import DataConfig
from ..errors import DatasetError
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


_SOURCES: dict[str, Source] = {}


def _built_in(cfg: DataConfig, path: str) -> SourceStatus:
    return SourceStatus(True, "built in (generated)")


def register(name: str, summary: str, *, takes_path: bool = False, locate: Locator | None = None):
    """Decorator registering ``load(cfg, path) -> Dataset`` under ``name``."""

    def wrap(load: Loader) -> Loader:
        assert name not in _SOURCES, f"data source {name} registered twice"
        _SOURCES[name] = Source(name, summary, load, locate or _built_in, takes_path)
        return load

    return wrap


def sources() -> list[Source]:
    return list(_SOURCES.values())


def resolve(spec: str) -> tuple[Source, str]:
    """Split ``NAME[:PATH]`` and find its source; unknown names raise a one-line error listing the choices.
    ``MODULE:NAME[:PATH]`` imports a user's module first (which registers ``NAME``), as ``model.arch`` does."""
    name, sep, path = spec.partition(":")
    if name not in _SOURCES and sep and _is_module_path(name) and _imported(name):
        return resolve(path)
    source = _SOURCES.get(name)
    if source is None:
        choices = ", ".join(s.name + (":PATH" if s.takes_path else "") for s in _SOURCES.values())
        raise DatasetError(
            f"unknown dataset {spec!r}; choices: {choices} (or MODULE:NAME of a module that "
            f"registers NAME)"
        )
    if source.takes_path and not path:
        raise DatasetError(f"dataset {name} needs a path: {name}:PATH")
    if not source.takes_path and sep:
        raise DatasetError(f"dataset {name} takes no path (got {spec!r})")
    return source, path


def _imported(module: str) -> bool:
    """Import a user's module that registers sources; False when no such module exists (an unknown name)."""
    try:
        importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name is not None and module.startswith(e.name):
            return False
        raise DatasetError(f"data.name: importing {module!r} failed ({e})") from None
    except ImportError as e:
        raise DatasetError(f"data.name: importing {module!r} failed ({e})") from None
    return True


def _is_module_path(name: str) -> bool:
    return all(part.isidentifier() for part in name.split("."))


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
