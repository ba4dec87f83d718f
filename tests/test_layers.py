"""docs/design.md, 'Layers': no module imports from a layer above its own, the building blocks do not import each
other, and several import even less; checked on every import statement (function-level ones included). No two
modules import each other, however indirectly, and an import inside a function says why it is there."""

from __future__ import annotations

import ast
import re
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src" / "gankit"
LAYER = {
    "errors": 0,
    "fileio": 0,
    "resources": 0,
    "registry": 0,
    "__init__": 0,
    "config": 1,
    "data": 2,
    "models": 2,
    "objectives": 2,
    "regularizers": 2,
    "augment": 2,
    "metrics": 2,
    "viz": 2,
    "train": 3,
    "export": 4,
    "walks": 4,
    "evaluation": 4,
    "figures": 4,
    "playground": 4,
    "config_doc": 4,
    "cli": 5,
    "__main__": 5,
}
ONLY = {  # building blocks that import even less than their layer allows (gankit's top-level names)
    "objectives": {"registry"},
    "regularizers": set(),
    "viz": set(),
    "metrics": {"errors", "fileio"},
    "models": {"config", "errors", "registry"},
    "data": {"config", "errors", "fileio", "registry", "resources"},
    "augment": {"config", "errors"},
}


def _top(path: Path) -> str:
    return path.relative_to(SRC).parts[0].removesuffix(".py")


def _imported(path: Path) -> set[str]:
    """The gankit top-level names ``path`` imports (absolute ``gankit.x`` or relative)."""
    package = path.relative_to(SRC).parent.parts
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[: len(package) - node.level + 1] if node.level > 1 else package
            parts = [*base, *(node.module.split(".") if node.module else [])]
            found |= {parts[0]} if parts else {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("gankit."):
            found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("gankit.")}
    return found


def test_imports_follow_the_layers():
    wrong = []
    for path in sorted(SRC.rglob("*.py")):
        me = _top(path)
        for name in _imported(path) - {me}:
            if name not in LAYER:
                continue
            upward = LAYER[name] > LAYER[me] or (LAYER[name] == LAYER[me] and LAYER[me] in (2, 4))
            narrower = me in ONLY and name not in ONLY[me]
            if (
                upward or narrower or (me == "train" and name == "metrics")
            ):  # training never sees a metric
                wrong.append(f"{path.relative_to(SRC)} imports {name}")
    assert not wrong, wrong


def _module(path: Path) -> str:
    """``gankit.evaluation.table`` for src/gankit/evaluation/table.py; a package is its ``__init__``."""
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module(path): path for path in SRC.rglob("*.py")}


def _targets(path: Path, node: ast.Import | ast.ImportFrom) -> set[str]:
    """The gankit modules an import statement runs: ``from P import m`` runs the submodule P.m where there is one,
    else P itself."""
    if isinstance(node, ast.Import):
        return {a.name for a in node.names if a.name in MODULES}
    package = _module(path).split(".")[: None if path.name == "__init__.py" else -1]
    base = package[: len(package) - node.level + 1] if node.level else []
    module = ".".join(base + (node.module.split(".") if node.module else []))
    subs = {f"{module}.{a.name}" for a in node.names} & MODULES.keys()
    whole = len(subs) < len(node.names) and module in MODULES
    return subs | ({module} if whole else set())


def _runs_on_import(body: list[ast.stmt]):
    """The import statements a module body runs when imported (not in functions, nor under ``if TYPE_CHECKING``)."""
    for node in body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, ast.If) and "TYPE_CHECKING" not in ast.unparse(node.test):
            yield from _runs_on_import(node.body + node.orelse)
        elif isinstance(node, ast.Try):
            handlers = [s for h in node.handlers for s in h.body]
            yield from _runs_on_import(node.body + handlers + node.orelse + node.finalbody)


def _graph() -> dict[str, set[str]]:
    """Module → the gankit modules it imports when it is imported."""
    graph = {}
    for name, path in MODULES.items():
        body = ast.parse(path.read_text()).body
        graph[name] = {t for node in _runs_on_import(body) for t in _targets(path, node)} - {name}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` as the modules along it (the first repeated at the end), or None."""
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> list[str] | None:
        if node in path:
            return path[path.index(node) :] + [node]
        if node in done:
            return None
        for nxt in sorted(graph[node]):
            found = visit(nxt, path + [node])
            if found:
                return found
        done.add(node)
        return None

    return next(filter(None, (visit(node, []) for node in sorted(graph))), None)


def test_no_module_imports_itself_through_others():
    cycle = _cycle(_graph())
    assert cycle is None, "import cycle: " + " → ".join(cycle)


def test_the_cycle_finder_sees_a_cycle_inside_a_package():
    graph = {"p.a": {"p.b"}, "p.b": {"p.c"}, "p.c": {"p.a"}, "q": {"p.a"}}
    assert _cycle(graph) == ["p.a", "p.b", "p.c", "p.a"]
    assert _cycle({"p.a": {"p.b"}, "p.b": set()}) is None


# the reasons an import may wait for its function to run
WHY = re.compile(r"#.*\b(start-up|optional)\b")
# the statement lists of a function, its loops, ifs and trys
BLOCKS = ("body", "orelse", "finalbody")


def _is_gankit_import(stmt: ast.stmt) -> bool:
    if isinstance(stmt, ast.Import):
        return any(a.name.split(".")[0] == "gankit" for a in stmt.names)
    return isinstance(stmt, ast.ImportFrom) and bool(
        stmt.level or (stmt.module or "").split(".")[0] == "gankit"
    )


def _unexplained(path: Path) -> list[str]:
    """Function-level gankit imports of ``path`` with no reason in a comment on their line or just above their
    run of consecutive imports."""
    lines = path.read_text().splitlines()
    tree, wrong = ast.parse("\n".join(lines)), []
    functions = [
        n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
    ]
    blocks = [getattr(n, f, None) for fn in functions for n in ast.walk(fn) for f in BLOCKS]
    for body in (b for b in blocks if isinstance(b, list)):
        above = ""
        for stmt in body:
            if not _is_gankit_import(stmt):
                above = ""
                continue
            above = above or lines[stmt.lineno - 2]
            if not (WHY.search(above) or WHY.search(lines[stmt.lineno - 1])):
                wrong.append(f"{path.relative_to(SRC)}:{stmt.lineno}")
    return wrong


def test_imports_inside_functions_say_why():
    """Optional dependencies and start-up cost are the reasons; anything else is imported with its module."""
    paths = sorted(SRC.rglob("*.py"))
    wrong = [line for path in paths for line in _unexplained(path)]
    assert not wrong, wrong
