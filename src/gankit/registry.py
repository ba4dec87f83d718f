"""Named entries of one kind (data sources, architectures, objectives, metrics) under one set of rules
(docs/design.md, 'How to add a loss, an architecture, a metric or a data source'): a name is registered once;
``MODULE:NAME`` imports a user's module, then finds NAME among the registered names or as an entry the module
defines; an unknown name is a one-line error listing the choices."""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Callable, Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """Entries by name, in the order registered. ``key``: the setting that names an entry (``model.arch``), which
    starts every error; ``error``: the exception type of those errors; ``what``: an entry in words ("an
    objective"); ``is_entry``: whether a module's attribute is an entry; ``label``: how an entry is listed among
    the choices."""

    def __init__(
        self,
        key: str,
        error: type[Exception],
        what: str,
        *,
        is_entry: Callable[[object], bool],
        label: Callable[[str, T], str] = lambda name, entry: name,
    ) -> None:
        self.key, self.error, self.what = key, error, what
        self._is_entry, self._label = is_entry, label
        self._entries: dict[str, T] = {}

    def register(self, name: str, entry: T) -> T:
        """Add ``entry`` under ``name`` and return it; a name already taken is an error."""
        if name in self._entries:
            raise self.error(f"{self.key}: {name!r} is already registered")
        self._entries[name] = entry
        return entry

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def names(self) -> list[str]:
        return list(self._entries)

    def entries(self) -> dict[str, T]:
        """The entries by name (a copy)."""
        return dict(self._entries)

    def resolve(self, spec: str) -> T:
        """The entry ``spec`` names: a registered name, or ``MODULE:NAME`` (:meth:`from_module`)."""
        if spec in self._entries:
            return self._entries[spec]
        module, sep, name = spec.partition(":")
        if not sep:
            raise self.unknown(spec)
        return self.from_module(module, name, spec)

    def from_module(self, module: str, name: str, spec: str) -> T:
        """``name`` after importing ``module`` (which may register it): the registered entry, else the module's
        attribute of that name when it is an entry; ``spec``, as written, for the error when no module is found."""
        namespace = self._imported(module, spec)
        if name in self._entries:
            return self._entries[name]
        found = getattr(namespace, name, None)
        if not self._is_entry(found):
            raise self.error(
                f"{self.key}: {module} neither registers {self.what} {name!r} nor has one of that name"
            )
        return found

    def unknown(self, spec: str, why: str = "") -> Exception:
        """The error for a name that is neither registered nor ``MODULE:NAME``, listing the choices."""
        choices = ", ".join(self._label(name, entry) for name, entry in self._entries.items())
        because = f" ({why})" if why else ""
        return self.error(
            f"{self.key} {spec!r} is unknown; choices: {choices}, or MODULE:NAME{because}"
        )

    def _imported(self, module: str, spec: str) -> ModuleType:
        """``module`` imported; any exception its code raises is one line. No such module: ``spec`` is unknown."""
        if not all(part.isidentifier() for part in module.split(".")):
            raise self.unknown(spec)
        try:
            return importlib.import_module(module)
        except ModuleNotFoundError as e:
            if e.name and (module + ".").startswith(e.name + "."):
                raise self.unknown(spec, f"no module named {e.name!r}") from None
            raise self._cannot_import(module, e) from None
        except Exception as e:  # noqa: BLE001 -- a user's module may raise anything as it runs
            raise self._cannot_import(module, e) from None

    def _cannot_import(self, module: str, e: Exception) -> Exception:
        first = (str(e).strip().splitlines() or [""])[0]
        return self.error(f"{self.key}: cannot import {module!r} ({type(e).__name__}: {first})")
