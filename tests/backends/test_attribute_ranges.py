"""Every op attribute's range is PyTorch's: a boundary value that archspec accepts, the emitted module accepts.

Generated from the op registry, so a new op is covered as soon as it is registered: each numeric attribute is
driven to just below, at and just above each of its bounds (and through -1, 0, 1 where it has none) and to a
large value (7, 1000), in the
first small network where the op with its other attributes at ordinary values is valid. Each value goes
through `validate` and, independently, into the op's PyTorch module (constructed from the op's own `emit`,
and run forward in training mode on the input the op gets there).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from archspec.compiler import compile_spec
from archspec.errors import SpecError
from archspec.ops import OPS, CodeArgs
from archspec.spec import expr as ex

torch = pytest.importorskip("torch")

INPUT = [4, 12, 12]
# The layers before the op, and what it reads: one feature map, a vector, two maps, a max-pool's indices.
CONTEXTS = [
    ([], None),
    (["flatten"], None),
    ([{"identity": {"name": "a"}}, {"identity": {"name": "b", "from": "input"}}], ["a", "b"]),
    ([{"maxpool": {"name": "pool", "kernel": 2, "indices": True}}], ["pool", "pool"]),
]
ORDINARY = {"int": 2, "pair": 2, "float": 0.5, "bool": False, "shape": INPUT}
# Ops whose attributes are all optional but one of a set is needed (a split by sizes or into chunks).
ORDINARY_FOR = {"split": {"chunks": 2}}
# Ops that no small network can hold, and why.
NOT_PROBED = {
    "roi_align": "reads a two-stage detector's proposals; only a detect: section can hold it",
}
# Where archspec is deliberately stricter than PyTorch, and why (PyTorch builds these, to no use).
STRICTER = {
    ("linear", "out", 0): "a linear layer to no features",
    ("adaptive_avgpool", "size", 0): "an empty feature map",
    ("adaptive_maxpool", "size", 0): "an empty feature map",
    ("split", "chunks", 7): "torch.chunk gives fewer pieces than asked (4 channels in 7 chunks: 4), so the "
                            "outputs the spec names would not exist",
}


def boundary_values(kind: str, attr: Any) -> list[Any]:
    if kind in ("int", "pair"):
        values = [] if attr.minimum is not None or attr.maximum is not None else [-1, 0, 1]
        if attr.minimum is not None:
            values += [attr.minimum - 1, attr.minimum]
        if attr.maximum is not None:
            values += [attr.maximum, attr.maximum + 1]
        return values + [7]  # large for a 12x12 input, where limits between attributes show
    values = [] if attr.minimum is not None or attr.maximum is not None or attr.above is not None else \
        [-1.0, -1e-30, 0.0, 1.0]
    for bound in (attr.minimum, attr.above):
        if bound is not None:
            values += [bound - 1e-6, bound, bound + 1e-30 if bound == 0 else bound + 1e-6]
    if attr.maximum is not None:
        values += [attr.maximum, attr.maximum + 1e-6]
    return values + [1e3]


def cases() -> list[tuple[str, str, Any]]:
    found = []
    for op_name, op in OPS.items():
        for attr_name, attr in op.attrs.items():
            if attr.kind in ("int", "pair", "float") and not attr.inferred and op_name not in NOT_PROBED:
                found += [(op_name, attr_name, value) for value in boundary_values(attr.kind, attr)]
    return found


def spec_text(op_name: str, attrs: dict[str, Any], context: tuple[list[Any], Any]) -> str:
    before, reads = context
    item = dict(attrs, **({"from": reads} if reads else {}), name="probe")
    return yaml.safe_dump({"input": INPUT, "body": [*before, {op_name: item}]}, sort_keys=False)


def ordinary_attrs(op_name: str) -> dict[str, Any]:
    ordinary = {name: ORDINARY[attr.kind] for name, attr in OPS[op_name].attrs.items()
                if attr.required and not attr.inferred}
    return {**ordinary, **ORDINARY_FOR.get(op_name, {})}


_BASES: dict[str, tuple[Any, Any]] = {}


def base(op_name: str, folder: Path) -> tuple[tuple[list[Any], Any], Any]:
    """The first context where the op with ordinary attributes is valid, and its probe node."""
    if op_name not in _BASES:
        for context in CONTEXTS:
            path = folder / f"{op_name}_base.yaml"
            path.write_text(spec_text(op_name, ordinary_attrs(op_name), context))
            try:
                network = compile_spec(path)
            except SpecError:
                continue
            nodes = network.root.nodes
            shapes = {"input": tuple(INPUT), **{n.name: n.shape for n in nodes}}
            probe = next(n for n in nodes if n.name == "probe")
            _BASES[op_name] = (context, (probe, [shapes[name] for name in probe.inputs]))
            break
        else:
            pytest.fail(f"no small network takes op '{op_name}' with ordinary attributes; add a context")
    return _BASES[op_name]


def emitted_namespace() -> dict[str, Any]:
    """What an emitted file defines before its classes: torch's names and every op's helper."""
    import typing

    namespace: dict[str, Any] = {"nn": torch.nn, "torch": torch, "F": torch.nn.functional, "Tensor": torch.Tensor,
                                 **{name: getattr(typing, name) for name in ("Dict", "List", "Optional", "Tuple")}}
    for op in OPS.values():
        if op.helper is not None:
            exec(op.helper[1], namespace)  # noqa: S102 (the ops' own helper source, as emitted)
    return namespace


def run(op: Any, source: str, namespace: dict[str, Any]) -> Any:
    """The op as its emitted code runs it: a module in training mode, a call template, or a bare parameter
    applied through its template."""
    if not op.module:
        return lambda *xs: eval(source.format(*(f"x{i}" for i in range(len(xs)))),  # noqa: S307
                                namespace, {f"x{i}": x for i, x in enumerate(xs)})
    made = eval(source, namespace)  # noqa: S307 (the op's own emitted code)
    if op.applies is None:
        return made.train()
    owner = type("Owner", (), {"probe": made})()
    return lambda x: eval(op.applies.format("x", attribute="probe"), namespace, {"self": owner, "x": x})  # noqa


def pytorch_accepts(op_name: str, node: Any, attr_name: str, value: Any, inputs: list[Any]) -> str | None:
    """None if the op's PyTorch module, built with the value, constructs and runs forward; else the error."""
    op = OPS[op_name]
    kind = op.attrs[attr_name].kind
    attrs = dict(node.attrs)
    attrs[attr_name] = (value, value) if kind == "pair" else (float(value) if kind == "float" else value)
    args = CodeArgs({**attrs, "inputs": len(inputs)}, {k: ex.python_literal(v) for k, v in attrs.items()})
    source = op.emit(args)
    try:
        tensors = [torch.randn(2, *shape) for shape in inputs]
        run(op, source, emitted_namespace())(*tensors)
    except Exception as error:  # noqa: BLE001 - any refusal by PyTorch is the answer sought
        return f"{type(error).__name__}: {str(error).splitlines()[0][:120]}"
    return None


@pytest.mark.parametrize("op_name, attr_name, value", cases())
def test_boundary_value_accepted_alike(op_name: str, attr_name: str, value: Any, tmp_path: Path) -> None:
    context, (node, inputs) = base(op_name, tmp_path)
    path = tmp_path / "probe.yaml"
    path.write_text(spec_text(op_name, {**ordinary_attrs(op_name), attr_name: value}, context))
    try:
        compile_spec(path)
        archspec_error = None
    except SpecError as error:
        archspec_error = error.diagnostics[0].headline()
    torch_error = pytorch_accepts(op_name, node, attr_name, value, inputs)
    if archspec_error is None:
        assert torch_error is None, f"archspec accepts {op_name} {attr_name}={value}, PyTorch refuses: {torch_error}"
    elif (op_name, attr_name, value) in STRICTER:
        assert torch_error is None, f"PyTorch refuses {op_name} {attr_name}={value} too: not a STRICTER case"
    else:
        assert torch_error is not None, f"PyTorch accepts {op_name} {attr_name}={value}, archspec: {archspec_error}"
