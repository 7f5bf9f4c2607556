"""Fuzzing: bad input never crashes the compiler, and what it accepts always runs.

Three generators feed one oracle:

* shipped specs (``specs/**/*.yaml``) with keys deleted, renamed or retyped, values out of range,
  lists truncated, reordered or duplicated, and references pointed at missing or later layers;
* random small specs written from the grammar (ops and their attributes come from the registry,
  plus ``seq``, ``repeat``, blocks, merges and ``if``);
* random YAML documents and shipped specs with their text damaged.

The oracle (:func:`check`) allows two outcomes. Either validation raises a ``SpecError`` whose every
diagnostic points at a line >= 1 and column >= 1 of a file that exists, or it returns a network; then
the reports must be JSON, the emitted file must import, build (on the meta device, so size does not
matter) and run a forward pass whose output shapes are the analysed ones, and a small network must also
run a real forward pass on CPU. Anything else — another exception, a hang, an emitted file that does not
import — fails the test.

Profiles: ``quick`` runs in the normal suite (about 200 examples, derandomized so that the suite is
reproducible); ``long`` explores with fresh random examples (at least 10,000)::

    ARCHSPEC_LONG=1 .venv/bin/python -m pytest tests/spec/test_fuzz.py -p no:cacheprovider --hypothesis-show-statistics

(``ARCHSPEC_FUZZ=long`` is the same; ``ARCHSPEC_FUZZ_EXAMPLES=N`` sets the total number of examples.)

docs/hardening.md records the last long run.
"""

from __future__ import annotations

import copy
import importlib.util
import itertools
import json
import os
import sys
import tempfile
from fractions import Fraction
from pathlib import Path
from typing import Any, Iterator
from unittest import mock

import pytest
import yaml
from hypothesis import HealthCheck, currently_in_test_context, event, given, settings
from hypothesis import strategies as st

from archspec.compiler import resolve_spec, validate_spec
from archspec.errors import SpecError
from archspec.ir import lower as lowering
from archspec.ops import OPS

from ..backends.agreement import disagreements
from ..conftest import SPECS, time_limit

torch = pytest.importorskip("torch")

settings.register_profile("quick", max_examples=200, deadline=None, derandomize=True, database=None,
                          suppress_health_check=list(HealthCheck), print_blob=True)
settings.register_profile("long", max_examples=12_000, deadline=None, derandomize=False,
                          suppress_health_check=list(HealthCheck), print_blob=True)
PROFILE = "long" if os.environ.get("ARCHSPEC_LONG") == "1" else os.environ.get("ARCHSPEC_FUZZ", "quick")
BASE = settings.get_profile(PROFILE)
if os.environ.get("ARCHSPEC_FUZZ_EXAMPLES"):  # a long run cut to the time there is: this many in all
    BASE = settings(BASE, max_examples=int(os.environ["ARCHSPEC_FUZZ_EXAMPLES"]))
# Wall-clock bound of one example: a hang is a failure, not a stuck test run.
EXAMPLE_SECONDS = 60
# Lowering stops at this many layers in the fuzzer (the real limit, lower.MAX_NODES, is tested in
# test_security): the limit's behaviour is the same, and an example that reaches it stays fast.
FUZZ_MAX_NODES = 5_000
# Networks this small also run a real forward pass on CPU (bigger ones run on the meta device only).
REAL_FORWARD_PARAMS = 2_000_000
REAL_FORWARD_MACS = 50_000_000
# Beyond this many parameters or activation elements torch cannot size a tensor even on the meta device
# (its byte counts are 64-bit); such a file is imported, not built. Analysis has no such bound.
META_LIMIT = 10**15


def share(fraction: float) -> settings:
    """The profile, with this test's share of its examples."""
    return settings(BASE, max_examples=max(1, int(BASE.max_examples * fraction)))


# ---------------------------------------------------------------- the oracle

_counter = itertools.count()


def check(path: Path) -> str:
    """Validate `path` and, if it validates, exercise everything downstream; returns the outcome's name."""
    with time_limit(EXAMPLE_SECONDS, ExampleTimeout), mock.patch.object(lowering, "MAX_NODES", FUZZ_MAX_NODES):
        try:
            network = validate_spec(path)
        except SpecError as error:
            assert_located(error)
            _event("outcome: located spec error")
            _diagrams(path)
            return "error"
        _diagrams(path)
        try:
            report = _reports(path, network)
        except SpecError as error:  # an analysis refusing the network: as located as any other error
            assert_located(error)
            _event("outcome: located error from an analysis")
            return "error"
        outcome = _run_emitted(path.parent, network, report)
        _event(f"outcome: {outcome}")
        return outcome


def _diagrams(path: Path) -> None:
    """A spec that loads is drawn at every level, errors and all, as DOT text that Graphviz can parse."""
    import pygraphviz

    from archspec.backends.diagram import LEVELS, SHOW, RenderOptions, diagram_dot
    from archspec.compiler import compile_partial

    try:
        network, errors = compile_partial(path)
    except SpecError as error:
        assert_located(error)
        return
    for level in LEVELS:
        try:
            text = diagram_dot(network, RenderOptions(level=level, show=frozenset(SHOW)), errors)
        except SpecError as error:  # analysing a sound network can still refuse it, with a location
            assert_located(error)
            return
        pygraphviz.AGraph(string=text)


def _event(text: str) -> None:
    """Count outcomes for --hypothesis-show-statistics (outside a @given test there is nothing to count), and
    log them to ARCHSPEC_FUZZ_LOG when it is set, so that a long run stopped by the clock still has a count."""
    if currently_in_test_context():
        event(text)
        if os.environ.get("ARCHSPEC_FUZZ_LOG"):
            with open(os.environ["ARCHSPEC_FUZZ_LOG"], "a", encoding="utf-8") as log:
                log.write(f"{os.environ.get('PYTEST_CURRENT_TEST', '').split(' ')[0]}\t{text}\n")


def assert_located(error: SpecError) -> None:
    assert error.diagnostics, "a SpecError without diagnostics"
    for diagnostic in error.diagnostics:
        where = diagnostic.span
        assert where.line >= 1 and where.column >= 1, f"unlocated: {diagnostic.headline()}"
        assert Path(where.file).is_file(), f"not a file: {diagnostic.headline()}"
        diagnostic.render()


def _reports(path: Path, network: Any) -> Any:
    """Every report the CLI can print must be built and be JSON (exact integers, no stray objects)."""
    from archspec.backends import analysis, report
    from archspec.passes.cost import analyse_cost
    from archspec.passes.receptive_field import receptive_fields

    cost = analyse_cost(network)
    fields = receptive_fields(network, None)
    resolved = resolve_spec(path)
    documents = [report.summary_json(network, cost), analysis.flops_json(network, cost, "stage", 3),
                 analysis.rf_json(network, fields), report.resolved_json(resolved, network)]
    for document in documents:
        json.dumps(document)
    report.summary_text(network, cost)
    analysis.flops_text(network, cost, "block", None)
    analysis.rf_text(network, fields)
    report.resolved_text(resolved, network, explain=True)
    return cost


def _run_emitted(folder: Path, network: Any, cost: Any) -> str:
    from archspec.backends.pytorch import emit_pytorch
    from archspec.passes.shapes import infer_shapes

    source = emit_pytorch(network)
    compile(source, "<emitted>", "exec")
    target = folder / f"emitted_{next(_counter)}.py"
    target.write_text(source, encoding="utf-8")
    module_name = f"archspec_fuzz_{target.stem}"
    spec = importlib.util.spec_from_file_location(module_name, target)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
        factory = getattr(module, network.name)
        shape = tuple(network.input_shape)
        expected = infer_shapes(network, shape).outputs
        if max(cost.total.params, cost.total.activations) > META_LIMIT:
            return "imported (too big for torch to build even on meta)"
        with torch.device("meta"):
            model = factory().eval()
        _compare(_layers_output(network, model, shape, "meta"), expected)
        # The differential oracle: counts, every named layer's output shape and the FLOPs are the analysis's.
        # A two-stage detector's second stage runs per region: tests/backends/test_faster_rcnn.py checks its cost.
        problems = [] if network.two_stage is not None else disagreements(network, cost, model, "meta")
        assert not problems, "the emitted module disagrees with the analysis: " + "; ".join(problems)
        if cost.total.params > REAL_FORWARD_PARAMS or cost.total.macs > REAL_FORWARD_MACS:
            return "built and ran on meta"
        model = factory().eval()
        with torch.no_grad():
            _compare(_layers_output(network, model, shape, "cpu"), expected)
        return "built and ran"
    finally:
        sys.modules.pop(module_name, None)


def _layers_output(network: Any, model: Any, shape: tuple[int, ...], device: str) -> Any:
    """What the layers compute for one input: forward, or a two-stage detector's layers one by one (its
    forward takes images and proposes the regions its second stage reads)."""
    if network.two_stage is not None:
        from ..conftest import two_stage_layer_outputs

        return two_stage_layer_outputs(network, model, shape)
    layers = getattr(model, "head_outputs", model)
    return layers(torch.empty(1, *shape, device=device) if device == "meta" else torch.randn(1, *shape))


def _compare(output: Any, expected: list[Any]) -> None:
    """The forward's output shapes (batch of 1) are those the shape pass inferred."""
    if isinstance(output, dict):
        output = list(output.values())
    elif not isinstance(output, (tuple, list)):
        output = [output]
    assert len(output) == len(expected), f"{len(output)} outputs, analysed {len(expected)}"
    for tensor, shape in zip(output, expected):
        if shape is not None and isinstance(tensor, torch.Tensor):
            assert tuple(tensor.shape) == (1, *shape), f"output {tuple(tensor.shape)}, analysed {shape}"


class ExampleTimeout(Exception):
    """One example ran for more than EXAMPLE_SECONDS: a hang."""


def write_files(files: dict[str, str | bytes]) -> tuple[tempfile.TemporaryDirectory, Path]:
    """Write name -> text into a fresh folder; the first file is the spec to compile."""
    folder = tempfile.TemporaryDirectory(prefix="archspec_fuzz_")
    root = Path(folder.name)
    for name, content in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            (root / name).write_bytes(content)
        else:
            (root / name).write_text(content, encoding="utf-8")
    return folder, root / next(iter(files))


def run_case(files: dict[str, str | bytes]) -> str:
    folder, spec = write_files(files)
    with folder:
        return check(spec)


# ---------------------------------------------------------------- values

NAMES = ["a", "b", "c", "stem", "conv1", "bn1", "relu", "layer1", "head", "x", "out", "skip"]
identifiers = st.one_of(st.sampled_from(NAMES), st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True))

# Strings that stress the evaluator, the identifier rules and the paths.
ODD_STRINGS = [
    "", " ", "x", "1 +", "(", "in_channels * 2", "planes * 4", "i + 1", "layers[10]", "2 ** 300", "1 / 3",
    "10 ** 40 * 10", "min()", "len(5)", "abs('a')", "[1, 2][5]", "not not 1", "1 if true", "'a' + 1",
    "(-1) ** 0.5", "1e400", "x[0][0]", "__import__('os')", "open('/etc/passwd')", "lambda: 0", "a.b",
    "layer{i}", "layer{", "{1/0}", "$block", "$", "../outside.yaml", "/etc/passwd", "nul\x00l", "tab\tbed",
    "line\nbreak", "é", "ℕ", "forward", "self", "class", "torch", "nn", "input", "in_channels",
]
weird_values = st.one_of(
    st.sampled_from([None, True, False, 0, -1, 1, 2, 3, 2**31, 10**12, 10**41, 0.5, -0.0, 1e-300, 1e300]),
    st.sampled_from(ODD_STRINGS),
    st.integers(-5, 300),
    st.floats(allow_nan=True, allow_infinity=True),
    st.lists(st.integers(-2, 64), max_size=4),
    st.just([]), st.just({}), st.just({"a": 1}), st.just([{"b": [1]}]),
    identifiers,
)


def _kind_value(kind: str, choices: tuple[str, ...] = ()) -> st.SearchStrategy:
    """Mostly sensible values of an attribute kind, sometimes an expression or an odd value."""
    sensible = {
        "int": st.integers(1, 8),
        "pair": st.one_of(st.integers(1, 3), st.lists(st.integers(1, 3), min_size=2, max_size=2)),
        "float": st.floats(0, 1, allow_nan=False),
        "bool": st.booleans(),
        "choice": st.sampled_from(choices) if choices else st.just("x"),
    }.get(kind, st.integers(1, 4))
    expressions = st.sampled_from(["w", "w * 2", "i + 1", "2 if i == 0 else 1", "max(1, w // 2)", "len(ws)",
                                   "ws[0]", "ws[i % 2]", "true", "i == 0"])
    return st.one_of(sensible, sensible, sensible, expressions, weird_values)


# ---------------------------------------------------------------- specs from the grammar


def _op_item(draw: Any, names: list[str], in_block: bool, block_params: list[str]) -> Any:
    name = draw(st.sampled_from(sorted(OPS)))
    op = OPS[name]
    attrs: dict[str, Any] = {}
    for attr_name, attr in op.attrs.items():
        if attr.required and not attr.inferred and draw(st.integers(0, 9)) > 0:
            attrs[attr_name] = draw(_attr_value(attr, block_params))
        elif draw(st.integers(0, 4)) == 0:
            attrs[attr_name] = draw(_attr_value(attr, block_params))
    arity = op.arity if isinstance(op.arity, int) else draw(st.integers(op.arity[0], op.arity[0] + 1))
    if arity > 1 or draw(st.integers(0, 6)) == 0:
        attrs["from"] = draw(st.lists(st.sampled_from(names + ["input", "nowhere"]), min_size=1,
                                      max_size=max(1, arity)))
        if len(attrs["from"]) == 1 and draw(st.booleans()):
            attrs["from"] = attrs["from"][0]
    _item_keys(draw, attrs, names, in_block)
    if not attrs and draw(st.booleans()):
        return name
    return {name: attrs}


def _attr_value(attr: Any, block_params: list[str]) -> st.SearchStrategy:
    value = _kind_value(attr.kind, attr.choices)
    if block_params and attr.kind in ("int", "pair"):
        value = st.one_of(value, st.sampled_from(block_params + [f"{block_params[0]} * 2", "in_channels"]))
    return value


def _item_keys(draw: Any, attrs: dict[str, Any], names: list[str], in_block: bool) -> None:
    if draw(st.integers(0, 2)) == 0 or in_block:
        attrs["name"] = draw(st.one_of(identifiers, st.sampled_from(["layer{i}", "b{i + 1}", "0", "1"])))
        names.append(str(attrs["name"]))
    if draw(st.integers(0, 9)) == 0:
        attrs["if"] = draw(st.sampled_from([True, False, "i == 0", "stride != 1", "w > 4", 1]))
    if draw(st.integers(0, 19)) == 0:
        attrs["share"] = draw(st.sampled_from(names + ["nowhere"]))
    if draw(st.integers(0, 19)) == 0:
        attrs["doc"] = draw(st.sampled_from(ODD_STRINGS))


@st.composite
def body_items(draw: Any, names: list[str], depth: int, blocks: list[str], in_block: bool = False,
               block_params: tuple[str, ...] = ()) -> list[Any]:
    items = []
    for _ in range(draw(st.integers(1, 5 if depth else 8))):
        kind = draw(st.sampled_from(["op"] * 8 + ["seq", "repeat", "block"]))
        if kind == "op" or depth >= 2:
            items.append(_op_item(draw, names, in_block, list(block_params)))
        elif kind == "seq":
            inner = {"body": draw(body_items([], depth + 1, blocks, True, block_params))}
            _item_keys(draw, inner, names, in_block)
            items.append({"seq": inner})
        elif kind == "repeat":
            count = draw(st.one_of(st.integers(0, 3), st.sampled_from(["len(ws)", "w // 4", -1, 10**12, "i"])))
            inner = {"count": count, "body": draw(body_items(names, depth + 1, blocks, in_block, block_params))}
            if draw(st.booleans()):
                inner["name"] = draw(st.sampled_from(["stage", "layer{i}", "rep"]))
            if draw(st.integers(0, 3)) == 0:
                inner["as"] = draw(st.sampled_from(["j", "i", "class", "x y"]))
            items.append({"repeat": inner})
        else:
            block = draw(st.sampled_from(blocks + ["missing_block", "$kind"]))
            args = {"planes": draw(_kind_value("int"))} if draw(st.integers(0, 3)) else {}
            if draw(st.integers(0, 4)) == 0:
                args["stride"] = draw(_kind_value("int"))
            _item_keys(draw, args, names, in_block)
            items.append({block: args} if args else block)
    return items


@st.composite
def wild_specs(draw: Any) -> dict[str, Any]:
    """Any op with any attributes anywhere: mostly invalid, which exercises the error paths."""
    names: list[str] = []
    block_names = draw(st.lists(st.sampled_from(["basic", "unit", "fuse", "down"]), max_size=2, unique=True))
    spec: dict[str, Any] = {"archspec": 1}
    if draw(st.booleans()):
        spec["name"] = draw(st.one_of(identifiers, st.sampled_from(["net", "Net", "torch", "forward", "1x"])))
    if draw(st.integers(0, 3)) == 0:
        spec["class"] = draw(st.sampled_from(["Net", "Basic", "nn", "Unit", "Model"]))
    if draw(st.integers(0, 3)) == 0:
        spec["doc"] = draw(st.sampled_from(ODD_STRINGS + ['"""', "ends with a backslash \\"]))
    channels = draw(st.integers(1, 4))
    size = draw(st.integers(1, 24))
    spec["input"] = draw(st.one_of(st.just([channels, size, size]), st.just([channels, size, size + 3]),
                                   st.just([channels * 4]), weird_values))
    spec["params"] = {"w": draw(st.integers(1, 16)), "ws": draw(st.lists(st.integers(1, 16), min_size=1,
                                                                           max_size=3)), "kind": "basic"}
    if draw(st.integers(0, 3)) == 0:
        op = draw(st.sampled_from(sorted(OPS)))
        spec["defaults"] = {op: {attr: draw(_attr_value(a, [])) for attr, a in OPS[op].attrs.items()
                                 if draw(st.booleans())}}
    if block_names:
        spec["blocks"] = {}
        for block in block_names:
            params = {"planes": draw(st.sampled_from(["int", 8, "float", None, "list"])), "stride": 1}
            definition: dict[str, Any] = {"params": params}
            if draw(st.integers(0, 3)) == 0:
                definition["inputs"] = draw(st.sampled_from([["x", "y"], ["x", "x"], "x", ["self"], ["torch"]]))
            if draw(st.integers(0, 3)) == 0:
                definition["class"] = draw(st.sampled_from(["Basic", "Unit", "Net", "nn", "Tensor"]))
            if draw(st.integers(0, 3)) == 0:
                definition["doc"] = draw(st.sampled_from(ODD_STRINGS))
            definition["body"] = draw(body_items([], 1, [b for b in block_names if b != block], True,
                                                 ("planes", "stride")))
            if draw(st.integers(0, 4)) == 0:
                definition["outputs"] = draw(st.sampled_from(["a", ["a", "b"], {"main": "a"}]))
            spec["blocks"][block] = definition
    spec["body"] = draw(body_items(names, 0, block_names))
    if draw(st.integers(0, 5)) == 0:
        spec["outputs"] = draw(st.one_of(st.sampled_from(names or ["a"]), st.just({"main": "a", "aux": "b"}),
                                         st.just(["a", "b"])))
    return spec


# `sound_specs` writes networks meant to be valid: it follows the running shape through the ops it knows
# (other registry ops are drawn with generic attributes), names some layers and merges them with others of
# the same shape, and uses blocks, `seq`, `repeat`, `$param` blocks and dict outputs. Half of them are then
# broken in one or two places by `mutate`, so that errors are also found deep inside sound specs.

Shape = tuple[int, ...]

SOUND_BLOCKS: dict[str, Any] = {
    "plain": {"params": {"planes": "int", "stride": 1}, "body": [
        {"conv": {"name": "conv1", "out": "planes", "kernel": 3, "stride": "stride", "padding": 1}},
        {"bn": {"name": "bn1"}}, "relu"]},
    "residual": {"class": "Residual", "doc": "Two 3x3 convs and a shortcut.", "params": {"planes": "int",
                                                                                        "stride": 1},
                 "body": [
                     {"conv": {"name": "conv1", "out": "planes", "kernel": 3, "stride": "stride", "padding": 1}},
                     {"bn": {"name": "bn1"}}, "relu",
                     {"conv": {"name": "conv2", "out": "planes", "kernel": 3, "padding": 1}},
                     {"seq": {"name": "downsample", "from": "input", "if": "stride != 1 or in_channels != planes",
                              "body": [{"conv": {"out": "planes", "kernel": 1, "stride": "stride"}}, "bn"]}},
                     {"add": {"from": ["conv2", "downsample"]}}, "relu"]},
    "fuse": {"inputs": ["x", "y"], "body": [{"add": {"name": "sum", "from": ["x", "y"]}}, "relu"]},
    "scaled": {"params": {"widths": [4, 8], "p": 0.25, "tag": "x"}, "body": [
        {"conv": {"name": "c", "out": "widths[0]", "kernel": 1}}, {"dropout": {"name": "d", "p": "p"}}]},
    # Arithmetic, functions and conditions on the block's parameters, where the analysis and the emitted
    # class once computed different things (exact `/` against `//`).
    "arith": {"params": {"planes": "int", "scale": 0.5, "deep": True}, "body": [
        {"conv": {"name": "conv1", "out": "make_divisible(planes * scale, 2)", "kernel": 3, "padding": 1,
                  "stride": "2 if planes / 3 > 2 else 1"}},
        {"bn": {"name": "bn1", "if": "planes / 4 > 1 and deep", "eps": "1 / 10 ** (planes % 4 + 3)"}},
        {"leaky_relu": {"name": "act", "slope": "1 / planes"}},
        {"conv": {"name": "conv2", "out": "max(1, round(planes * 2 / 3))", "kernel": 1,
                  "bias": "planes % 2 == 0 or scale > 1"}},
        {"dropout": {"name": "drop", "p": "planes / (planes + 7)"}}]},
}


class _Net:
    """What the generator knows while writing a body: the running shape and the named layers' shapes."""

    def __init__(self, shape: Shape, width: int, in_seq: bool = False):
        self.shape: Shape | None = shape
        self.width = width  # the value of the spec parameter `w`
        self.in_seq = in_seq  # inside a `seq`: no names, no merges
        self.named: dict[str, Shape | None] = {}
        self.last: str | None = "input"
        self.numbers = itertools.count(1)

    def same_shape(self) -> list[str]:
        if self.in_seq:
            return []
        return [name for name, shape in self.named.items() if shape == self.shape and name != self.last]


def _channels(draw: Any, net: _Net) -> tuple[Any, int]:
    """An output width, sometimes written as an expression over the parameter `w`."""
    how = draw(st.integers(0, 5))
    if how == 0:
        return "w", net.width
    if how == 1:
        return "w * 2", net.width * 2
    value = draw(st.integers(1, 8))
    return value, value


def _window(size: int, kernel: int, stride: int, padding: int) -> int:
    return (size + 2 * padding - kernel) // stride + 1


def _map_layer(draw: Any, net: _Net) -> tuple[Any, Shape | None]:
    """One op on a feature map (C, H, W), and the shape it produces."""
    c, h, w = net.shape
    small = min(h, w)
    choices = ["conv", "conv", "bn", "act", "act", "dropout", "identity", "adaptive", "flatten"]
    choices += ["pool"] * (small >= 2) + ["upsample", "transpose"] * (max(h, w) <= 16)
    choices += ["add", "add"] * bool(net.same_shape()) + ["concat"] * bool(net.same_shape())
    kind = draw(st.sampled_from(choices))
    if kind == "conv":
        kernel = draw(st.sampled_from([1, 3])) if small >= 3 else 1
        stride, padding = draw(st.sampled_from([1, 1, 2])), kernel // 2
        written, out = _channels(draw, net)
        attrs = {"out": written, "kernel": kernel, **({"stride": stride} if stride > 1 else {}),
                 **({"padding": padding} if padding else {})}
        if draw(st.integers(0, 4)) == 0 and c % 2 == 0 and out % 2 == 0:
            attrs["groups"] = 2
        if draw(st.integers(0, 3)) == 0:
            attrs["bias"] = draw(st.booleans())
        return {"conv": attrs}, (out, _window(h, kernel, stride, padding), _window(w, kernel, stride, padding))
    if kind == "transpose":
        written, out = _channels(draw, net)
        return {"conv_transpose": {"out": written, "kernel": 2, "stride": 2}}, (out, 2 * h, 2 * w)
    if kind == "upsample":
        mode = draw(st.sampled_from(["nearest", "bilinear"]))
        return {"upsample": {"factor": 2, "mode": mode}}, (c, 2 * h, 2 * w)
    if kind == "pool":
        op = draw(st.sampled_from(["maxpool", "avgpool"]))
        return {op: {"kernel": 2}}, (c, h // 2, w // 2)
    if kind == "adaptive":
        size = draw(st.integers(1, 2))
        return {draw(st.sampled_from(["adaptive_avgpool", "adaptive_maxpool"])): {"size": size}}, (c, size, size)
    if kind == "flatten":
        return "flatten", (c * h * w,)
    if kind in ("add", "concat"):
        other = draw(st.sampled_from(net.same_shape()))
        item = {kind: {"from": [net.last, other] if draw(st.booleans()) else [other, net.last]}}
        return item, (2 * c, h, w) if kind == "concat" else net.shape
    return _any_rank_layer(draw, kind), net.shape


def _vector_layer(draw: Any, net: _Net) -> tuple[Any, Shape | None]:
    kind = draw(st.sampled_from(["linear", "linear", "bn", "act", "dropout", "identity"]))
    if kind == "linear":
        written, out = _channels(draw, net)
        return {"linear": {"out": written}}, (out,)
    return _any_rank_layer(draw, kind), net.shape


def _any_rank_layer(draw: Any, kind: str) -> Any:
    if kind == "act":
        op = draw(st.sampled_from(["relu", "relu6", "leaky_relu", "sigmoid", "tanh"]))
        return {"leaky_relu": {"slope": 0.2}} if op == "leaky_relu" and draw(st.booleans()) else op
    if kind == "dropout":
        return {"dropout": {"p": draw(st.sampled_from([0.0, 0.25, 0.5, "1 / 4"]))}}
    return kind  # bn, identity


def _sound_item(draw: Any, net: _Net, blocks: list[str], depth: int) -> Any:
    """One body item that keeps the network sound, updating what `net` knows."""
    if net.shape is None:  # after an op the generator does not follow: only shape-agnostic ops
        item, shape = draw(st.sampled_from(["relu", "identity"])), None
    elif len(net.shape) == 1:
        item, shape = _vector_layer(draw, net)
    else:
        kind = draw(st.sampled_from(["op"] * 10 + ["block", "seq", "repeat", "group", "other"] * (depth == 0)))
        if kind == "block" and blocks:
            return _block_instance(draw, net, blocks)
        if kind == "seq":
            return _container(draw, net, "seq")
        if kind in ("repeat", "group"):
            return _container(draw, net, kind)
        if kind == "other":  # an op this generator does not model, with generic attributes
            item, shape = _op_item(draw, list(net.named), False, []), None
            if not isinstance(item, dict):
                item = {item: {}}
            if not isinstance(item[next(iter(item))], dict):
                return item
        else:
            item, shape = _map_layer(draw, net)
    merges = isinstance(item, dict) and isinstance(next(iter(item.values())), dict) and \
        "from" in next(iter(item.values()))
    if not net.in_seq and (merges or draw(st.integers(0, 1)) == 0):
        item = _named(item, net, shape)
    else:
        net.last = None
    net.shape = shape
    return item


def _named(item: Any, net: _Net, shape: Shape | None) -> Any:
    name = f"l{next(net.numbers)}"
    if isinstance(item, str):
        item = {item: {}}
    next(iter(item.values()))["name"] = name
    net.named[name], net.last = shape, name
    return item


def _block_instance(draw: Any, net: _Net, blocks: list[str]) -> Any:
    c, h, w = net.shape
    block = draw(st.sampled_from(blocks))
    if block == "fuse":
        others = net.same_shape()
        if not others or net.last is None:
            return _sound_item(draw, net, [b for b in blocks if b != "fuse"], 0)
        return _named({"fuse": {"from": [net.last, draw(st.sampled_from(others))]}}, net, net.shape)
    if block == "scaled":
        first = draw(st.integers(1, 8))
        args = {"widths": draw(st.sampled_from([[first, 2], f"[{first}, 1 / 3]", f"[{first}] + ws"]))}
        if draw(st.booleans()):
            args["p"] = draw(st.sampled_from(["1 / 3", 0.5, "ws[0] / (ws[0] + 1)"]))
        if draw(st.booleans()):
            args["tag"] = draw(st.sampled_from(ODD_STRINGS))
        return _named({"scaled": args}, net, (first, h, w))
    if block == "arith":
        planes = draw(st.integers(1, 12))
        args = {"planes": planes, "scale": draw(st.sampled_from([0.25, 0.5, 1.0, 1.5, "w / 4"]))}
        if draw(st.booleans()):
            args["deep"] = draw(st.sampled_from([False, "w > 2"]))
        stride = 2 if Fraction(planes, 3) > 2 else 1
        return _named({"arith": args}, net, (max(1, round(Fraction(planes * 2, 3))), _window(h, 3, stride, 1),
                                             _window(w, 3, stride, 1)))
    written, planes = _channels(draw, net)
    stride = draw(st.sampled_from([1, 1, 2]))
    args = {"planes": written, **({"stride": stride} if stride > 1 else {})}
    written_block = "$kind" if block == "plain" and draw(st.booleans()) else block
    return _named({written_block: args}, net, (planes, _window(h, 3, stride, 1), _window(w, 3, stride, 1)))


def _container(draw: Any, net: _Net, kind: str) -> Any:
    """A `seq` or a `group` of a few layers, or a `repeat` of 3x3 convs that keep the size."""
    if kind in ("seq", "group"):
        inner = _Net(net.shape, net.width, in_seq=kind == "seq")
        body = [_sound_item(draw, inner, [], depth=1) for _ in range(draw(st.integers(1, 3)))]
        item, shape = {kind: {"body": body}}, inner.shape
        if kind == "group":
            if draw(st.booleans()):
                item["group"]["class"] = draw(st.sampled_from(["Stem", "Head", "Net", "nn"]))
            return _named(item, net, shape)
    else:
        count = draw(st.sampled_from([1, 2, 3, "len(ws)"]))
        written, out = _channels(draw, net)
        body = [{"conv": {"out": written, "kernel": 3, "padding": 1}}, draw(st.sampled_from(["relu", "bn"]))]
        item = {"repeat": {"count": count, "body": body}}
        shape = (out, *net.shape[1:])
        if draw(st.booleans()):
            item["repeat"]["as"] = "j"
    if draw(st.booleans()):
        return _named(item, net, shape)
    net.last, net.shape = None, shape
    return item


@st.composite
def sound_specs(draw: Any) -> dict[str, Any]:
    width = draw(st.integers(1, 8))
    shape = (draw(st.integers(1, 4)), draw(st.integers(2, 16)), draw(st.integers(2, 16)))
    blocks = draw(st.lists(st.sampled_from(sorted(SOUND_BLOCKS)), max_size=3, unique=True))
    net = _Net(shape, width)
    spec: dict[str, Any] = {"archspec": 1, "name": draw(st.sampled_from(["tiny", "net", "model_1"])),
                            "input": list(shape), "params": {"w": width, "ws": [width, 2], "kind": "plain"}}
    if draw(st.booleans()):
        spec["class"] = draw(st.sampled_from(["TinyNet", "Model", "Net"]))
    if draw(st.booleans()):
        spec["doc"] = draw(st.sampled_from(["A small network.", 'Quotes """ and \\ backslashes', "Ünïcode ✓"]))
    if draw(st.integers(0, 3)) == 0:
        spec["defaults"] = {"conv": {"bias": False}, "dropout": {"p": 0.1}}
    if blocks:
        spec["blocks"] = {name: copy.deepcopy(SOUND_BLOCKS[name]) for name in blocks}
        if "plain" not in blocks:
            spec["params"]["kind"] = blocks[0]
    spec["body"] = [_sound_item(draw, net, blocks, depth=0) for _ in range(draw(st.integers(1, 8)))]
    named = [name for name, s in net.named.items() if s is not None]
    if len(named) >= 2 and draw(st.integers(0, 4)) == 0:
        spec["outputs"] = {"main": named[-1], "aux": named[0]}
    for _ in range(draw(st.sampled_from([0, 0, 1, 2]))):
        spec = draw(mutate(spec))
    return spec


def dump(document: Any) -> str:
    return yaml.safe_dump(document, sort_keys=False, default_flow_style=None, allow_unicode=True, width=100)


# ---------------------------------------------------------------- mutations of shipped specs

SHIPPED = sorted(SPECS.rglob("*.yaml"))
# The files that compile on their own (a block library, with `blocks` and no `body`, is imported instead).
SHIPPED_SPECS = [path for path in SHIPPED if {"body", "extends"} & set(yaml.safe_load(path.read_text()))]


def _paths(node: Any, prefix: tuple = ()) -> Iterator[tuple]:
    """Every place in a YAML tree: a tuple of keys and indices."""
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, prefix + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, prefix + (index,))


def _get(node: Any, path: tuple) -> Any:
    for step in path:
        node = node[step]
    return node


def _layer_names(node: Any) -> list[str]:
    found = []
    for path in _paths(node):
        if path and path[-1] == "name":
            value = _get(node, path)
            if isinstance(value, str):
                found.append(value)
    return found


@st.composite
def mutate(draw: Any, document: Any) -> Any:
    """One random change somewhere in the tree (the root itself may be replaced)."""
    document = copy.deepcopy(document)
    places = list(_paths(document))
    path = draw(st.sampled_from(places))
    parent = _get(document, path[:-1]) if path else None
    key = path[-1] if path else None
    target = _get(document, path)
    how = draw(st.sampled_from(["delete", "rename", "retype", "retype", "truncate", "duplicate", "swap",
                                "reference", "insert"]))
    if how == "delete" and parent is not None:
        del parent[key]
    elif how == "rename" and isinstance(parent, dict):
        new = draw(st.one_of(identifiers, st.sampled_from([key[:-1], key + key[-1:], key.upper(), "body", "from",
                                                           "name", "<<", "class", "in"])))
        if new not in parent:
            parent[new] = parent.pop(key)
    elif how in ("truncate", "duplicate", "swap") and isinstance(target, list) and target:
        if how == "truncate":
            del target[draw(st.integers(0, len(target) - 1)):]
        elif how == "duplicate":
            target.insert(draw(st.integers(0, len(target))), copy.deepcopy(draw(st.sampled_from(target))))
        else:
            i, j = draw(st.integers(0, len(target) - 1)), draw(st.integers(0, len(target) - 1))
            target[i], target[j] = target[j], target[i]
    elif how == "reference" and isinstance(target, dict):
        names = _layer_names(document) + ["input", "nowhere", "in_channels"]
        target["from"] = draw(st.one_of(st.sampled_from(names), st.lists(st.sampled_from(names), max_size=3)))
    elif how == "insert" and isinstance(target, list):
        target.insert(draw(st.integers(0, len(target))), draw(body_items([], 2, []))[0])
    elif parent is not None:
        parent[key] = draw(weird_values)
    else:
        document = draw(weird_values)
    return document


@st.composite
def mutated_shipped(draw: Any) -> dict[str, str]:
    """A shipped spec and its folder, one or more files changed; the spec to compile comes first."""
    chosen = draw(st.sampled_from(SHIPPED_SPECS))
    folder = {path.name: path.read_text(encoding="utf-8") for path in sorted(chosen.parent.glob("*.yaml"))}
    documents = {name: yaml.safe_load(text) for name, text in folder.items()}
    related = [chosen.name] + [name for name in documents if name != chosen.name]
    for _ in range(draw(st.integers(1, 3))):
        # Mostly the spec itself; sometimes the family it extends or another file of the folder.
        name = related[0] if draw(st.integers(0, 3)) else draw(st.sampled_from(related))
        documents[name] = draw(mutate(documents[name]))
        folder[name] = dump(documents[name])
    return {chosen.name: folder.pop(chosen.name), **folder}


# ---------------------------------------------------------------- random YAML

YAML_NOISE = ["-", ":", " ", "  ", "\n", "\t", "[", "]", "{", "}", ",", "&a ", "*a ", "!!python/object/apply:os.system ",
              "!!binary ", "!!set ", "!!timestamp ", "!!python/tuple ", "<<: ", "? ", "--- ", "...", "%YAML 1.1\n",
              "#", "'", '"', "|", ">", "\\", "@", "`", "~", ".inf", ".nan", "0x1F", "0o17", "1e9", "yes",
              "\u00e9", "\ufeff", "\x00", "\x85", "\u2028", "extends: ", "import: ", "body:", "- conv"]


@st.composite
def damaged_text(draw: Any) -> bytes:
    """A shipped spec with its text cut, spliced and sprinkled with YAML syntax."""
    text = draw(st.sampled_from(SHIPPED)).read_text(encoding="utf-8")
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["insert", "insert", "cut", "line"]))
        if action == "insert":
            text = text[:at] + draw(st.one_of(st.sampled_from(YAML_NOISE), st.text(max_size=4))) + text[at:]
        elif action == "cut":
            text = text[:at] + text[at + draw(st.integers(1, 40)):]
        else:
            lines = text.split("\n")
            line = draw(st.integers(0, len(lines) - 1))
            lines.insert(draw(st.integers(0, len(lines))), lines[line])
            text = "\n".join(lines)
    data = text.encode("utf-8", errors="surrogatepass")
    if draw(st.integers(0, 9)) == 0:
        data += draw(st.binary(max_size=8))
    return data


keys = st.one_of(st.sampled_from(["archspec", "name", "class", "doc", "extends", "import", "input", "params",
                                  "defaults", "blocks", "body", "outputs", "from", "if", "share", "count", "as",
                                  "inputs", *OPS, "seq", "repeat"]), st.text(max_size=6))
yaml_trees = st.recursive(
    st.one_of(weird_values, st.text(max_size=10)),
    lambda children: st.one_of(st.lists(children, max_size=5), st.dictionaries(keys, children, max_size=5)),
    max_leaves=25,
)

ALIAS_BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [" + ", ".join([f"*{chr(97 + i)}"] * 9) + "]\n" for i in range(8))

random_documents = st.one_of(
    yaml_trees.map(dump),
    damaged_text(),
    st.text(max_size=200),
    st.binary(max_size=200),
    st.sampled_from([ALIAS_BOMB, "&a [*a]", "a: &a {b: *a}", "!!python/object/apply:os.system ['echo pwned']",
                     "input: !!python/tuple [3, 8, 8]\nbody: [relu]", "[" * 2000, "- " * 5000, "import: ../x.yaml",
                     "extends: /etc/passwd", "extends: .", "import: [random.yaml, random.yaml]"]),
)


# ---------------------------------------------------------------- the tests


@share(0.4)
@given(files=mutated_shipped())
def test_mutated_shipped_specs(files: dict[str, str]) -> None:
    run_case(files)


@share(0.4)
@given(spec=st.one_of(sound_specs(), sound_specs(), sound_specs(), wild_specs()))
def test_specs_from_the_grammar(spec: dict[str, Any]) -> None:
    run_case({"random.yaml": dump(spec)})


@share(0.2)
@given(document=random_documents)
def test_random_yaml_documents(document: str | bytes) -> None:
    run_case({"random.yaml": document, "other.yaml": "blocks: {b: {body: [relu]}}\n"})


# ---------------------------------------------------------------- what fuzzing found, kept as cases


REGRESSIONS = {
    # Non-finite numbers reached the emitted file as `nan`/`inf`, names Python does not define.
    "dropout_nan": "input: [3, 8, 8]\nbody:\n  - dropout: {p: .nan}\n",
    "bn_inf_eps": "input: [3, 8, 8]\nbody:\n  - bn: {eps: .inf}\n",
    # A NUL or a line break in a docstring or in the header comment broke the emitted file.
    "nul_in_doc": 'doc: "a\\0b"\ninput: [3, 8, 8]\nbody: [relu]\n',
    "quotes_in_doc": 'doc: "x\\"\\"\\" import os \\\\"\ninput: [3, 8, 8]\nbody: [relu]\n',
    # A mapping inside a list parameter, or a complex number from `**`, crashed code generation.
    "dict_in_list_default": "input: [3, 8, 8]\nblocks:\n  b:\n    params: {x: [{a: 1}]}\n    body: [relu]\n"
                            "body: [b]\n",
    "complex_in_list_arg": "input: [3, 8, 8]\nblocks:\n  b:\n    params: {x: [1]}\n    body: [relu]\n"
                           "body:\n  - b: {x: '[(-1) ** 0.5]'}\n",
    # A required block parameter after one with a default: a signature Python refuses.
    "required_after_default": "input: [3, 8, 8]\nblocks:\n  b:\n    params: {s: 1, planes: int}\n"
                              "    body: [conv: {out: planes, kernel: 1, stride: s}]\nbody:\n  - b: {planes: 4}\n",
    # Long operator chains overflowed Python's recursion limit in the evaluator.
    "long_sum": "input: [3, 8, 8]\nbody:\n  - conv: {out: '" + "+".join(["1"] * 600) + "', kernel: 1}\n",
    "many_nots": "input: [3, 8, 8]\nbody:\n  - relu: {name: r, if: '" + "not " * 400 + "true'}\n",
    "long_power": "input: [3, 8, 8]\nbody:\n  - conv: {out: '" + "**".join(["1"] * 600) + "', kernel: 1}\n",
    "long_index": "input: [3, 8, 8]\nparams: {l: [1]}\nbody:\n  - conv: {out: 'l" + "[0]" * 400 + "', kernel: 1}\n",
    # A repeat whose body adds no layer ran for ever.
    "empty_repeat": "input: [3, 8, 8]\nbody:\n  - relu\n  - repeat: {count: 1000000000000, body: []}\n",
    "disabled_repeat_body": "input: [3, 8, 8]\nbody:\n  - relu\n  - repeat: {count: 1000000000000, body: "
                            "[relu: {name: r, if: false}]}\n",
    # A literal too large to print as a decimal (Python's 4300-digit limit) crashed the reports.
    "huge_literal": "input: [3, 8, 8]\nbody:\n  - conv: {out: " + "9" * 4000 + ", kernel: 1}\n",
    # Block inputs named like the forward's own names gave a duplicate or shadowing parameter.
    "block_inputs_input_and_x": "input: [3, 8, 8]\nblocks:\n  b:\n    inputs: [input, x]\n"
                                "    body: [add: {from: [input, x]}]\nbody:\n  - conv: {name: a, out: 4, kernel: 1}\n"
                                "  - b: {from: [a, a]}\n",
    "block_inputs_self_torch": "input: [3, 8, 8]\nblocks:\n  b:\n    inputs: [torch, self]\n"
                               "    body: [add: {from: [torch, self]}]\nbody:\n  - conv: {name: a, out: 4, kernel: 1}\n"
                               "  - b: {from: [a, a]}\n",
    "block_inputs_twice": "input: [3, 8, 8]\nblocks:\n  b:\n    inputs: [x, x]\n    body: [add: {from: [x, x]}]\n"
                          "body:\n  - conv: {name: a, out: 4, kernel: 1}\n  - b: {from: [a, a]}\n",
    # Module-level names: the factory, the network class and block classes replaced each other or an import.
    "factory_is_class": "name: Net\nclass: Net\ninput: [3, 8, 8]\nbody: [relu]\n",
    "spec_named_nn": "name: nn\ninput: [3, 8, 8]\nbody: [relu]\n",
    "block_class_tensor": "input: [3, 8, 8]\nblocks:\n  b:\n    class: Tensor\n    body: [relu]\nbody: [b]\n",
    "two_blocks_one_class": "input: [3, 8, 8]\nblocks:\n  p:\n    class: B\n    body: [relu]\n  q:\n    class: B\n"
                            "    body: [sigmoid]\nbody: [p, q]\n",
    "network_class_is_block_class": "name: unit\ninput: [3, 8, 8]\nblocks:\n  unit:\n    body: [relu]\n"
                                    "body: [unit]\n",
    "param_named_like_class": "input: [3, 8, 8]\nblocks:\n  inner:\n    class: Inner\n    params: {planes: int}\n"
                              "    body: [conv: {name: c, out: planes, kernel: 1}]\n  outer:\n"
                              "    params: {Inner: 4}\n    body: [inner: {name: i, planes: Inner}]\n"
                              "body: [outer]\n",
    # A group's outputs with one that does not resolve: the other keys lost their place (IndexError).
    "group_output_unresolved": "input: [3, 8, 8]\nbody:\n  - group:\n      name: g\n      outputs: {a: c1, b: c1, z: c9}\n"
                               "      body: [conv: {name: c1, out: 4, kernel: 1}]\n  - relu: {from: g.z}\n",
    # A method from a layer to itself, or one whose end reads more than its start (KeyError in codegen).
    "method_from_its_target": "input: [1, 8, 8]\nbody:\n  - seq: {name: encoder, body: [conv: {out: 4, kernel: 1}]}\n"
                              "methods:\n  encode: {to: encoder}\n  decode: {from: encoder}\n",
    "method_reads_input_elsewhere": "input: [3, 8, 8]\nbody:\n  - conv: {name: a, out: 4, kernel: 1}\n"
                                    "  - conv: {name: b, from: input, out: 4, kernel: 1}\n  - add: {name: c, from: [a, b]}\n"
                                    "methods:\n  part: {from: a, to: c}\n",
    "method_skips_its_start": "input: [3, 8, 8]\nbody:\n  - conv: {name: a, out: 4, kernel: 1}\n"
                              "  - conv: {name: b, from: input, out: 4, kernel: 1}\nmethods:\n  part: {from: a, to: b}\n",
    "method_fine": "input: [3, 8, 8]\nbody:\n  - conv: {name: a, out: 4, kernel: 1}\n  - relu: {name: b}\n"
                   "  - conv: {name: c, out: 2, kernel: 1}\nmethods:\n  head: {from: a, to: c}\n",
    # An exact fraction in a block's arguments made `resolve --json` fail (Fraction is not JSON).
    "fraction_argument": "input: [3, 8, 8]\nblocks:\n  b:\n    params: {x: [1], f: 0.5}\n    body: [relu]\n"
                         "body:\n  - b: {x: '[1/3, 2]', f: '1/3'}\n",
    # A group's class could shadow an import or replace the factory function.
    "group_class_torch": "input: [3, 8, 8]\nbody:\n  - group: {name: g, class: torch, body: [relu]}\n  - flatten\n",
    "group_class_is_factory": "name: G\ninput: [3, 8, 8]\nbody:\n  - group: {name: g, class: G, body: [relu]}\n",
    # Not a bug, a limit of the oracle: 2^31 x 2^31 weights overflow torch's sizes even on meta.
    "too_big_for_torch": "input: [3, 8, 8]\nbody:\n  - conv: {out: 2147483648, kernel: 3, padding: 1}\n"
                         "  - conv: {out: 2147483648, kernel: 3, padding: 1}\n",
    # Tags on lists and mappings were dropped silently instead of refused.
    "tag_on_mapping": "input: [3, 8, 8]\nbody:\n  - conv: !!python/object/apply:os.system {out: 4, kernel: 1}\n",
    "tag_on_list": "input: !!python/tuple [3, 8, 8]\nbody: [relu]\n",
    # A method whose end was not a name (`to: ~`) crashed lowering.
    "method_end_null": "input: [3, 8, 8]\nbody:\n  - conv: {name: a, out: 4, kernel: 1}\n  - relu\n"
                       "methods:\n  head: {from: a, to: ~}\n",
    # Drawing a broken spec read an inferred attribute of a layer after the failed one, which has none.
    "diagram_after_failed_layer": "input: [3, 8, 8]\nbody:\n  - seq: {name: s, body: [conv: {out: 4, kernel: 20}, "
                                  "conv: {out: 4, kernel: 1}]}\n",
    # Drawing a spec whose multi-output block failed before it had outputs (the FPN, after a broken body).
    "diagram_of_block_without_outputs": "input: [3, 8, 8]\nblocks:\n  two:\n    inputs: [a, b]\n"
                                        "    body:\n      - add: {from: [a, b]}\n"
                                        "body:\n  - group: {name: g, outputs: {x: c, y: d}, body: ['', "
                                        "conv: {name: c, out: 4, kernel: 1}, relu: {name: d}]}\n"
                                        "  - two: {name: t, from: [g.x, g.y]}\n",
    # A NUL in a block's string argument, shown in its box, stopped Graphviz's parser.
    "diagram_nul_argument": "input: [3, 8, 8]\nblocks:\n  b:\n    params: {tag: x}\n    body: [relu]\n"
                            "body:\n  - b: {tag: \"nul\\0l\\u2028\"}\n",
    # A receptive field through a pooling window of 2^30 units walked every unit of it (minutes).
    "huge_window_rf": "input: [3, 8, 8]\nbody:\n  - conv: {out: 4, kernel: 3, padding: 1073741824}\n"
                      "  - adaptive_avgpool: {size: 1}\n",
    # A batch norm on a four-dimensional input built nn.BatchNorm1d, whose forward refuses a 5-D tensor.
    "bn_rank_four": "input: [1, 1, 2, 2]\nbody:\n  - bn: {name: l1}\n",
    # A shared block whose own body has a failed layer: its shapes were inferred again, through the stand-in
    # node's missing attributes (KeyError).
    "share_block_with_failed_layer": "input: [3, 8, 8]\nblocks:\n  head:\n    params: {n: int}\n    body:\n"
                                     "      - seq: {name: conv, body: [conv: {kernel: 3, padding: 1}, relu]}\n"
                                     "      - conv: {name: out, from: conv, out: n, kernel: 1}\n"
                                     "body:\n  - conv: {name: a, out: 4, kernel: 1}\n"
                                     "  - head: {name: h1, from: a, n: 2}\n  - head: {name: h2, from: a, share: h1}\n",
    # Issue 15's cases: explicit tags that do not fit their text, and powers past every bound.
    "tag_bool_one": "input: [3, 8, 8]\nbody:\n  - conv: {out: 4, kernel: 3, padding: !!bool 1}\n",
    "tag_int_empty": "input: [3, 8, 8]\nbody:\n  - conv: {out: 4, kernel: !!int ''}\n",
    "power_of_powers": 'input: [3, 8, 8]\nbody:\n  - conv: {out: "((((1/3)**256)**256)**256)**2", kernel: 1}\n',
    # An exact fraction in a block's condition, stride and channels (the module once disagreed with summary).
    "fraction_in_block": "input: [4, 8, 8]\nblocks:\n  u:\n    params: {planes: int}\n    body:\n"
                         "      - conv: {name: c, out: \"planes / (planes / 4)\", kernel: 3, padding: 1,"
                         " stride: \"2 if planes / 2 > 1 else 1\"}\n"
                         "      - bn: {name: bn, if: \"planes / 2 > 1\"}\n"
                         "body:\n  - u: {planes: 3}\n  - u: {planes: 6}\n",
}


@pytest.mark.parametrize("name", sorted(REGRESSIONS))
def test_fuzz_regression(name: str) -> None:
    """Each case ends in a located error or a network that imports, builds and runs."""
    run_case({f"{name}.yaml": REGRESSIONS[name]})


def test_oracle_rejects_an_unlocated_error(tmp_path: Path) -> None:
    """The oracle itself: an error without a real file and position fails the check."""
    from archspec.errors import Diagnostic, Span

    with pytest.raises(AssertionError):
        assert_located(SpecError(Diagnostic("lost", Span("<unknown>", 0, 0))))
    with pytest.raises(AssertionError):
        assert_located(SpecError(Diagnostic("lost", Span(str(tmp_path / "gone.yaml"), 3, 1))))


def test_shipped_specs_pass_the_oracle() -> None:
    """Every shipped spec, unchanged, validates, reports, imports, builds and runs (on meta)."""
    for path in SHIPPED_SPECS:
        folder = {p.name: p.read_text(encoding="utf-8") for p in sorted(path.parent.glob("*.yaml"))}
        outcome = run_case({path.name: folder.pop(path.name), **folder})
        assert outcome.startswith("built"), (path, outcome)
