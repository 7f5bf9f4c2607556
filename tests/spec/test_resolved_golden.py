"""The resolved spec of every shipped spec, before lowering: what `extends` and `import` made of it.

Parameters and defaults with the line that set them, every block definition with its parameters, and
every body item as the loader parsed it (kind, op, name, raw attributes, `from`, `if`, repeat count),
with its line. A loader bug fails here, named after the spec, before the IR's or any pass's goldens.
Regenerate with ARCHSPEC_ACCEPT=1 and review the diff.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from archspec.compiler import resolve_spec
from archspec.spec.model import Item, ResolvedSpec

from ..conftest import ROOT, check_golden, shipped_specs

GOLDEN = Path(__file__).parent / "golden"
SPECS = shipped_specs()


def plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items() if key != "body"}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def item_lines(items: list[Item], depth: int) -> list[str]:
    lines = []
    for item in items:
        fields = {"kind": item.kind, "op": item.op, "name": item.name, "attrs": plain(item.attrs),
                  "from": plain(item.inputs), "if": item.condition, "share": item.share,
                  "count": item.count, "as": item.var if item.kind == "repeat" else None}
        shown = {key: value for key, value in fields.items() if value not in (None, {}, [])}
        lines.append(f"{'  ' * depth}{item.span.file}:{item.span.line}  {json.dumps(shown)}")
        lines += item_lines(item.body, depth + 1)
    return lines


def resolved_lines(spec: ResolvedSpec) -> str:
    lines = [f"name {spec.name.value!r} class {spec.class_name.value!r} input {spec.input.value} "
             f"from {spec.input.span.file}:{spec.input.span.line}", f"files {spec.files}"]
    lines += [f"param {name} = {json.dumps(v.value)}  ({v.span.file}:{v.span.line})" for name, v in spec.params.items()]
    lines += [f"default {op}.{attr} = {json.dumps(v.value)}  ({v.span.file}:{v.span.line})"
              for op, attrs in spec.defaults.items() for attr, v in attrs.items()]
    for name, block in spec.blocks.items():
        params = {p: {"type": d.type, "default": d.default, "required": d.required} for p, d in block.params.items()}
        lines.append(f"block {name} class {block.class_name} inputs {block.inputs} outputs "
                     f"{json.dumps(plain(block.outputs))} params {json.dumps(params)}  ({block.file})")
        if block.init is not None:
            lines.append(f"  init {', '.join(rule.target for rule in block.init.ops + block.init.parts)}"
                         f"{'; dropped ' + ', '.join(layer.op for layer in block.init.dropped) if block.init.dropped else ''}")
        lines += item_lines(block.body, 1)
    lines.append("body")
    lines += item_lines(spec.body, 1)
    if spec.outputs is not None:
        lines.append(f"outputs {json.dumps(plain(spec.outputs.value))}")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("spec", sorted(SPECS))
def test_resolved_spec(spec: str, at_root: Path) -> None:
    resolved = resolve_spec(SPECS[spec].relative_to(ROOT))
    check_golden(GOLDEN / f"{spec}.txt", resolved_lines(resolved), f"the resolved spec of {spec}")
