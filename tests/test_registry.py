"""gankit.registry: one rule for a taken name, one ``MODULE:NAME`` resolution and one error for an unknown name,
shared by the data sources, architectures, objectives and metrics."""

from __future__ import annotations

import sys

import pytest

from gankit.data import registry as data_registry
from gankit.errors import ConfigError, DatasetError, MetricError
from gankit.evaluation import table
from gankit.models import registry as model_registry
from gankit.objectives import OBJECTIVES, Objective, d_loss, register_objective
from gankit.registry import Registry


class Pair:
    """A stand-in entry."""


def _registry() -> Registry[Pair]:
    registry = Registry(
        "thing.name", ConfigError, "a thing", is_entry=lambda value: isinstance(value, Pair)
    )
    registry.register("a", Pair())
    registry.register("b", Pair())
    return registry


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    """Write ``NAME.py`` with the given source, importable as NAME; gone from sys.modules afterwards."""
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    names = []

    def write(name: str, source: str) -> str:
        (tmp_path / f"{name}.py").write_text(source)
        names.append(name)
        return name

    yield write
    for name in names:
        sys.modules.pop(name, None)


def _one_line(error: pytest.ExceptionInfo, expected: str) -> None:
    assert str(error.value) == expected


def test_a_taken_name_is_refused():
    registry = _registry()
    with pytest.raises(ConfigError) as e:
        registry.register("a", Pair())
    _one_line(e, "thing.name: 'a' is already registered")
    assert registry.names() == ["a", "b"]


def test_an_unknown_name_lists_the_choices():
    with pytest.raises(ConfigError) as e:
        _registry().resolve("c")
    _one_line(e, "thing.name 'c' is unknown; choices: a, b, or MODULE:NAME")


def test_no_such_module_is_an_unknown_name():
    with pytest.raises(ConfigError) as e:
        _registry().resolve("gankit_no_such_module:a")
    _one_line(
        e,
        "thing.name 'gankit_no_such_module:a' is unknown; choices: a, b, or MODULE:NAME "
        "(no module named 'gankit_no_such_module')",
    )


@pytest.mark.parametrize(
    "source, why",
    [
        ("raise RuntimeError('no GPU here\\nsecond line')\n", "RuntimeError: no GPU here"),
        ("def (:\n", "SyntaxError: invalid syntax"),
        ("import gankit_no_such_dependency\n", "ModuleNotFoundError: No module named"),
    ],
    ids=["runtime-error", "syntax-error", "missing-dependency"],
)
def test_a_module_that_raises_on_import_is_one_line(user_module, source, why):
    module = user_module("gankit_test_raising", source)
    with pytest.raises(ConfigError) as e:
        _registry().resolve(f"{module}:a")
    assert str(e.value).startswith(f"thing.name: cannot import {module!r} ({why}")
    assert "\n" not in str(e.value)


@pytest.fixture
def things(monkeypatch) -> Registry[Pair]:
    """A registry that users' modules reach as ``gankit_test_things.registry`` (with ``Pair``)."""
    registry, shared = _registry(), type(sys)("gankit_test_things")
    shared.registry, shared.Pair = registry, Pair
    monkeypatch.setitem(sys.modules, "gankit_test_things", shared)
    return registry


def test_module_colon_name_finds_what_the_module_registers(user_module, things):
    source = (
        "from gankit_test_things import Pair, registry\nMINE = registry.register('mine', Pair())\n"
    )
    module = user_module("gankit_test_registers", source)
    found = things.resolve(f"{module}:mine")
    assert found is sys.modules[module].MINE and things.resolve("mine") is found


def test_module_colon_name_finds_an_entry_the_module_defines(user_module, things):
    module = user_module(
        "gankit_test_defines", "from gankit_test_things import Pair\npair = Pair()\nx = 1\n"
    )
    assert things.resolve(f"{module}:pair") is sys.modules[module].pair
    assert "pair" not in things
    with pytest.raises(ConfigError) as e:
        things.resolve(f"{module}:x")
    _one_line(e, f"thing.name: {module} neither registers a thing 'x' nor has one of that name")


def _loader(cfg, path):
    raise AssertionError("never loaded")


REGISTRIES = [
    (
        "data.name",
        DatasetError,
        lambda: data_registry.register("ring8", "a second ring8")(_loader),
        data_registry.resolve,
    ),
    (
        "model.arch",
        ConfigError,
        lambda: model_registry.register("mlp")(lambda cfg, **shape: None),
        model_registry.resolve,
    ),
    (
        "objective.loss",
        ValueError,
        lambda: register_objective(Objective("gan", d_loss, d_loss)),
        OBJECTIVES.resolve,
    ),
    (
        "--metrics",
        MetricError,
        lambda: table.register_metric(table.Metric("fid", list, lambda kind, name: True)),
        lambda name: table.imported_names([name]),
    ),
]


@pytest.mark.parametrize(
    "key, error, register_taken, resolve", REGISTRIES, ids=[r[0] for r in REGISTRIES]
)
def test_each_registry_keeps_the_shared_rules(user_module, key, error, register_taken, resolve):
    """Its own key and error type, the registry's rules and messages."""
    with pytest.raises(error, match=f"^{key}: '[a-z0-9]+' is already registered$"):
        register_taken()
    with pytest.raises(
        error, match=f"^{key} 'gankit-nothing' is unknown; choices: .+, or MODULE:NAME$"
    ):
        resolve("gankit-nothing")
    module = user_module("gankit_test_raises_" + key.strip("-.").replace(".", "_"), "1 +\n")
    with pytest.raises(error, match=f"^{key}: cannot import '{module}' \\(SyntaxError"):
        resolve(f"{module}:x")
