"""The source of runtime functions, read as text (never imported: `build` does not need torch).

`functions(["per_class_nms"])` gives that function and every runtime function it calls, in the order
they are written in `boxes.py`, `ssd.py`, `yolo.py`, `two_stage.py`, and the imports they need. Classes
(the two-stage detector's parts) are taken like functions.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

MODULES = ("boxes", "ssd", "yolo", "two_stage")
HERE = Path(__file__).parent


@dataclass(frozen=True)
class Function:
    name: str
    source: str
    calls: frozenset[str]
    order: tuple[int, int]  # (module, line): where it is written


def _source(text: str, node: ast.stmt) -> str:
    """The text of a top-level statement parsed from `text` (the parser records its positions)."""
    source = ast.get_source_segment(text, node)
    assert source is not None, f"no source positions for the statement on line {node.lineno}"
    return source


@lru_cache(maxsize=None)
def _library() -> tuple[dict[str, Function], dict[str, str]]:
    """Every runtime function by name, and every name the runtime imports -> its import line."""
    functions, imports = {}, {}
    for index, module in enumerate(MODULES):
        text = (HERE / f"{module}.py").read_text(encoding="utf-8")
        tree = ast.parse(text)
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                called = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
                functions[node.name] = Function(node.name, _source(text, node), frozenset(called), (index, node.lineno))
            elif isinstance(node, ast.ImportFrom) and not node.level:
                for alias in node.names:
                    imports[alias.asname or alias.name] = f"from {node.module} import {alias.name}"
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    line = f"import {alias.name}" + (f" as {alias.asname}" if alias.asname else "")
                    imports[alias.asname or alias.name] = line
    return functions, imports


def functions(names: list[str]) -> list[str]:
    """Sources of the named runtime functions and of those they call, callees first by file order."""
    library, _ = _library()
    needed, stack = set(), list(names)
    while stack:
        name = stack.pop()
        if name in needed:
            continue
        needed.add(name)
        stack.extend(call for call in library[name].calls if call in library)
    return [library[name].source for name in sorted(needed, key=lambda n: library[n].order)]


def imports_for(text: str) -> list[str]:
    """The runtime's imports that `text` uses (by the names it mentions): `import …` lines first, then one
    `from … import a, b` line per module."""
    _, imports = _library()
    used = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text))
    plain: set[str] = set()
    grouped: dict[str, set[str]] = {}
    for name, line in imports.items():
        if name not in used:
            continue
        if line.startswith("import "):
            plain.add(line)
        else:
            module, imported = line[len("from "):].split(" import ")
            grouped.setdefault(module, set()).add(imported)
    return sorted(plain) + [f"from {module} import {', '.join(sorted(names))}" for module, names in sorted(grouped.items())]
