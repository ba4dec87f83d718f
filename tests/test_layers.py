"""docs/design.md, 'Layers': no module imports from a layer above its own, the building blocks do not import each
other, and several import even less; checked on every import statement (function-level ones included)."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src" / "gankit"
LAYER = {
    "errors": 0,
    "fileio": 0,
    "resources": 0,
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
    "objectives": set(),
    "regularizers": set(),
    "viz": set(),
    "metrics": {"errors", "fileio"},
    "models": {"config", "errors"},
    "data": {"config", "errors", "fileio", "resources"},
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
