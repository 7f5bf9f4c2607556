"""The public API: load a spec once, then ask the network for its analyses, diagrams and code.

Every result is a plain dataclass whose `to_json()` is the document the command line's ``--json``
prints and whose `str()` is the text it prints; the `archspec` command is a view of these calls.

>>> import archspec
>>> net = archspec.load("specs/resnet/resnet18.yaml", params={"num_classes": 10})
>>> net.summary().params
11181642
>>> net.flops(by="stage").rows[-1].name
'fc'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from .errors import Diagnostic, SpecError
from .ir.graph import Network
from .ops import Shape
from .passes.pipeline import Analysis
from .spec.model import ResolvedSpec

if TYPE_CHECKING:
    import torch

    from .backends.analysis import Row
    from .backends.diagram import RenderOptions
    from .passes.cost import NodeCost

PathLike = str | Path
# An input size: (C, H, W), (H, W) or S for S x S (the spec's channels), or the same written "CxHxW".
InputSize = Sequence[int] | int | str

BREAKDOWNS = ("layer", "block", "stage")
MAX_SIZE_RANGE = 100_000


class OptionError(ValueError):
    """A value that is not one the call accepts; `option` names it as the command line spells it."""

    def __init__(self, option: str, message: str):
        super().__init__(message)
        self.option = option


# ---------------------------------------------------------------- arguments


def input_shape(size: InputSize, channels: int) -> Shape:
    """(C, H, W) from an input size; `channels` fills in a size given without them.

    >>> input_shape("320x256", 3), input_shape(96, 1), input_shape((3, 64, 64), 1)
    ((3, 320, 256), (1, 96, 96), (3, 64, 64))
    """
    parts = _size_parts(size)
    if not parts or len(parts) > 3 or min(parts) < 1:
        raise OptionError("--input", f"'{size}' is not a size: write CxHxW, HxW or S")
    if len(parts) == 1:
        parts = parts * 2
    if len(parts) == 2:
        parts = [channels, *parts]
    return tuple(parts)


def _size_parts(size: InputSize) -> list[int]:
    if isinstance(size, int):
        return [size]
    if not isinstance(size, str):
        return list(size) if all(isinstance(part, int) for part in size) else []
    try:
        return [int(part) for part in size.lower().replace(",", "x").split("x")]
    except ValueError:
        return []


def check_breakdown(by: str) -> str:
    """`by` if it names a breakdown of cost rows: per layer, block or stage."""
    if by not in BREAKDOWNS:
        raise OptionError("--by", f"'{by}' is not one of: {', '.join(BREAKDOWNS)}")
    return by


def check_range(low: int, high: int) -> tuple[int, int]:
    """(low, high) if it is a range of square sizes `sizes` may try."""
    if not 1 <= low <= high or high - low > MAX_SIZE_RANGE:
        raise OptionError("--range", f"must satisfy 1 <= LOW <= HIGH, at most {MAX_SIZE_RANGE} apart")
    return low, high


def render_options(level: str = "stage", show: Iterable[str] = ("shapes",), theme: str = "paper",
                   direction: str | None = None) -> RenderOptions:
    """Checked diagram options (see docs/rendering.md)."""
    from .backends.diagram import DIRECTIONS, LEVELS, SHOW, THEMES, RenderOptions

    shown = frozenset(_choice(part, SHOW, "--show") for part in show)
    return RenderOptions(level=_choice(level, LEVELS, "--level"), show=shown,
                         theme=_choice(theme, tuple(THEMES), "--theme"),
                         direction=_choice(direction, DIRECTIONS, "--direction") if direction else None)


def diagram_format(output: PathLike, fmt: str | None = None) -> str:
    """The drawing format: `fmt`, or the output file's suffix (standard output, `-`, has none)."""
    from .backends.diagram import FORMATS
    from .output import STDOUT

    if str(output) == STDOUT and not fmt:
        raise OptionError("-o", "'-o -' needs --format to say what to draw")
    return _choice(fmt or Path(output).suffix.lstrip(".").lower(), FORMATS, "--format" if fmt else "-o")


def _choice(value: str, valid: Sequence[str], option: str) -> str:
    if value not in valid:
        raise OptionError(option, f"'{value}' is not one of {', '.join(valid)}")
    return value


# ---------------------------------------------------------------- loading


@dataclass(frozen=True)
class Sources:
    """Where a spec may read the files it extends and imports: its own folder tree, the `spec_path`
    folders, and absolute paths only when `allow_absolute` (the command line's --allow-absolute-paths)."""

    spec_path: tuple[PathLike, ...] = ()
    allow_absolute: bool = False

    def __post_init__(self) -> None:
        from .spec.loader import checked_spec_path

        try:
            checked_spec_path(tuple(self.spec_path))
        except ValueError as error:
            raise OptionError("--spec-path", str(error)) from None


def load(path: PathLike, input: InputSize | None = None, params: Mapping[str, Any] | None = None, *,
         sources: Sources = Sources(), partial: bool = False) -> Net:
    """Read, resolve and lower a spec; raises `SpecError` with every located problem.

    `input` is the size the analyses use (default: the spec's `input`); `params` override the spec's
    parameters as a variant would, with the same checks. With `partial`, a spec whose layers have
    errors still loads (for a diagram of it): the failed layers are stand-ins, `errors` lists why,
    and the network is analysed at the spec's own input.

    >>> net = load("specs/unet/unet.yaml", input=188)
    >>> net.input_shape
    (1, 188, 188)
    """
    from .compiler import attach_detection
    from .ir.lower import lower, lower_partial
    from .spec.loader import load_spec

    spec = load_spec(path, tuple(sources.spec_path), sources.allow_absolute, params)
    if partial:
        network, diagnostics = lower_partial(spec)
        errors = diagnostics.errors
        if not errors:
            try:
                attach_detection(spec, network)
            except SpecError as error:  # a broken `detect:` section: the network is still drawn
                errors = list(error.diagnostics)
    else:
        network, errors = attach_detection(spec, lower(spec)), []
    shape = input_shape(input, network.input_shape[0]) if input is not None and not errors else None
    if shape is not None and network.detection is not None:
        from .detection.spec import check_detection_once

        check_detection_once(network, shape)
    return Net(Path(path), spec, network, shape or network.input_shape, errors,
               _Origin(sources, dict(params or {})))


@dataclass(frozen=True)
class _Origin:
    sources: Sources
    params: dict[str, Any]


class Net:
    """A compiled network at one input size. Analyses are computed once and shared between calls."""

    def __init__(self, path: Path, spec: ResolvedSpec, ir: Network, input_shape: Shape,
                 errors: list[Diagnostic], origin: _Origin):
        self.path = path
        self.spec = spec
        self.ir = ir
        self.input_shape = tuple(input_shape)
        self.errors = errors
        self._origin = origin

    def __repr__(self) -> str:
        return f"<archspec.Net {self.name} from {self.path} at input {'x'.join(map(str, self.input_shape))}>"

    @property
    def name(self) -> str:
        return self.ir.name

    @property
    def warnings(self) -> list[Diagnostic]:
        return list(self.ir.warnings)

    @cached_property
    def analysis(self) -> Analysis:
        """The pipeline's results at this input (raises SpecError for a network loaded with errors)."""
        if self.errors:
            raise SpecError(self.errors)
        return Analysis(self.ir, self.input_shape)

    def at(self, input: InputSize) -> Net:
        """The same network at another input size (the spec is not read again)."""
        return Net(self.path, self.spec, self.ir, input_shape(input, self.ir.input_shape[0]), self.errors,
                   self._origin)

    # ------------------------------------------------------------ analyses

    def summary(self) -> Summary:
        """Every layer with its output shape and parameters (`archspec summary`)."""
        report = self.analysis.cost
        return Summary(self.name, self.input_shape, report.total.params, report.total.buffers, report.nodes,
                       self.ir, report)

    def flops(self, by: str = "layer", top: int | None = None) -> Flops:
        """Parameters, MACs, FLOPs, element-wise work and activations, per layer, block or stage
        (`archspec flops`); `top` also lists the K costliest layers."""
        from .backends.analysis import breakdown_rows

        report = self.analysis.cost
        return Flops(self.name, self.input_shape, check_breakdown(by), breakdown_rows(report, by), report.total,
                     top, self.ir, report)

    def cost_by_size(self, sizes: Iterable[InputSize]) -> SizeCosts:
        """MACs, activations and outputs at each input size, or why the network cannot take it."""
        from .backends.analysis import sizes_rows

        shapes = [input_shape(size, self.ir.input_shape[0]) for size in sizes]
        return SizeCosts(self.name, sizes_rows(self.ir, shapes), self.ir)

    def receptive_fields(self) -> ReceptiveFields:
        """Size, effective stride and centre of every layer's and stage's field (`archspec rf`)."""
        report = self.analysis.fields
        return ReceptiveFields(self.name, report.fields, report.diagnostics.warnings, self.ir, report)

    def sizes(self, range: tuple[int, int] = (32, 1024)) -> Sizes:
        """The square input sizes in `range` the network takes (`archspec sizes`)."""
        from .passes.shapes import accepted_sizes

        low, high = check_range(*range)
        return Sizes(self.name, self.ir.input_shape[0], (low, high), accepted_sizes(self.ir, low, high), self.ir)

    def anchors(self, picture: PathLike | None = None) -> Anchors:
        """A detector's anchors per level at this input: grid, stride, K per cell and the boxes
        (`archspec anchors`); `picture` also draws them over an image-sized canvas (PNG, written
        atomically). Raises SpecError when the network has no `detect` section."""
        from .detection.anchors import anchor_table

        if self.ir.detection is None:
            raise SpecError.at(self.ir.root.span, f"'{self.name}' is not a detector: it has no 'detect' section")
        levels = anchor_table(self.ir, self.input_shape)
        if picture is not None:
            from .detection.picture import draw_anchors
            from .output import write_atomic

            write_atomic(Path(picture), draw_anchors(levels, self.input_shape))
        return Anchors(self.name, self.input_shape, levels, self.warnings, self.ir)

    def resolved(self) -> Resolved:
        """The fully resolved spec: after extends, parameters, defaults and blocks (`archspec resolve`)."""
        return Resolved(self.spec, self.ir)

    def validate(self) -> Validation:
        """Everything `build` would check, without writing; raises SpecError (`archspec validate`)."""
        from .passes.validate import validate

        validate(self.ir, self.input_shape)
        return Validation(str(self.path), True, self.name, self.input_shape, self.warnings)

    # ------------------------------------------------------------ backends

    def render(self, level: str = "stage", show: Iterable[str] = ("shapes",), theme: str = "paper",
               direction: str | None = None) -> Diagram:
        """A diagram at a level of detail, annotated with `show` (shapes, params, macs, rf); drawn lazily.

        A network loaded with `partial=True` and errors is drawn too, the failed layers in red.
        """
        from dataclasses import replace

        options = render_options(level, show, theme, direction)
        analysis = None if self.errors else self.analysis
        return Diagram(self.ir, replace(options, input_shape=self.input_shape), self.errors, analysis)

    def source(self, trace: bool = False) -> str:
        """The emitted PyTorch file's text; with `trace`, lines end with the spec line they came from."""
        from .backends.pytorch import emit_pytorch

        if self.errors:
            raise SpecError(self.errors)
        return emit_pytorch(self.ir, trace=trace)

    def build(self, output: PathLike | None = None, *, check: bool = False, force: bool = False,
              trace: bool = False) -> Build:
        """Write the PyTorch file (default NAME.py) by the rules of `archspec.output`: atomically, never over
        a spec it read, nor over a file archspec did not write or one edited by hand unless `force`; `-`
        writes it to standard output. With `check`, only compare (`archspec build`).
        Raises OutputError when the write is refused or fails."""
        from .output import default_module_path, read_generated, write_output
        from .passes.cost import analyse_cost, size_warnings

        source = self.source(trace)
        target = Path(output) if output is not None else default_module_path(self.name)
        total = analyse_cost(self.ir).total
        result = Build(str(target), self.ir.root.class_name, self.name, total.params,
                       [*self.warnings, *size_warnings(self.ir, total.params, total.activations)])
        if check:
            current = read_generated(target)
            result.exists = current is not None
            result.up_to_date = current == source.encode("utf-8")
            return result
        write_output(target, source, force, inputs=self.ir.files)
        return result

    def module(self, **params: Any) -> torch.nn.Module:
        """The emitted module, instantiated: `params` override the spec's parameters first.

        Imports torch (this is the only call that does). The class's source stays readable to
        `inspect`, so the module scripts with torch.jit.script.
        """
        net = self
        if params:
            net = load(self.path, self.input_shape, {**self._origin.params, **params}, sources=self._origin.sources)
        from .instantiate import instantiate

        return instantiate(net.name, net.source())


def check(path: PathLike, input: InputSize | None = None, *, sources: Sources = Sources()) -> Validation:
    """Validate one spec, returning its errors instead of raising them (`archspec validate`)."""
    try:
        return load(path, input, sources=sources).validate()
    except SpecError as error:
        return Validation(str(path), False, errors=error.diagnostics)


def compare(a: Net | PathLike, b: Net | PathLike, input: InputSize | None = None, *,
            sources: Sources = Sources()) -> Comparison:
    """Two networks side by side: totals, receptive field and per-stage costs (`archspec compare`).

    >>> compare("specs/vgg/vgg11.yaml", "specs/vgg/vgg11_bn.yaml").delta["params"]
    5504
    """
    from .backends.analysis import compare_json

    nets = [n if isinstance(n, Net) else load(n, sources=sources) for n in (a, b)]
    if input is not None:
        nets = [net.at(input) for net in nets]
    document = compare_json([n.ir for n in nets], [n.analysis.cost for n in nets],
                            [n.analysis.fields for n in nets])
    return Comparison(document["a"], document["b"], document["delta"], document["stages"])


# ---------------------------------------------------------------- results


@dataclass
class Summary:
    name: str
    input_shape: Shape
    params: int
    buffers: int
    layers: list[NodeCost]
    _network: Network = field(repr=False)
    _report: Any = field(repr=False)

    def to_json(self) -> dict[str, Any]:
        from .backends.report import summary_json

        return summary_json(self._network, self._report)

    def __str__(self) -> str:
        from .backends.report import summary_text

        return summary_text(self._network, self._report)


@dataclass
class Flops:
    name: str
    input_shape: Shape
    by: str
    rows: list[Row]
    total: Any  # passes.cost.Cost
    top: int | None
    _network: Network = field(repr=False)
    _report: Any = field(repr=False)

    def to_json(self) -> dict[str, Any]:
        from .backends.analysis import flops_json

        return flops_json(self._network, self._report, self.by, self.top)

    def __str__(self) -> str:
        from .backends.analysis import flops_text

        return flops_text(self._network, self._report, self.by, self.top)


@dataclass
class SizeCosts:
    name: str
    rows: list[dict[str, Any]]
    _network: Network = field(repr=False)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "sizes": self.rows}

    def __str__(self) -> str:
        from .backends.analysis import sizes_text

        return sizes_text(self._network, self.rows)


@dataclass
class ReceptiveFields:
    name: str
    fields: dict[str, Any]  # value path -> passes.receptive_field.Field
    warnings: list[Diagnostic]
    _network: Network = field(repr=False)
    _report: Any = field(repr=False)

    def to_json(self) -> dict[str, Any]:
        from .backends.analysis import rf_json

        return rf_json(self._network, self._report)

    def __str__(self) -> str:
        from .backends.analysis import rf_text

        return rf_text(self._network, self._report)


@dataclass
class Anchors:
    name: str
    input_shape: Shape
    levels: list[Any]  # detection.anchors.LevelAnchors, one per level
    warnings: list[Diagnostic]
    _network: Network = field(repr=False)

    def to_json(self) -> dict[str, Any]:
        from .detection.anchors import anchors_json

        return anchors_json(self._network, self.levels, self.input_shape)

    def __str__(self) -> str:
        from .detection.anchors import anchors_text

        return anchors_text(self._network, self.levels, self.input_shape)


@dataclass
class Sizes:
    name: str
    channels: int
    range: tuple[int, int]
    sizes: list[int]
    _network: Network = field(repr=False)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "channels": self.channels, "range": list(self.range), "sizes": self.sizes}

    def __str__(self) -> str:
        from .backends.analysis import sizes_list_text

        return sizes_list_text(self._network, *self.range, self.sizes)


@dataclass
class Resolved:
    spec: ResolvedSpec
    _network: Network = field(repr=False)

    def to_json(self) -> dict[str, Any]:
        from .backends.report import resolved_json

        return resolved_json(self.spec, self._network)

    def text(self, explain: bool = False) -> str:
        """The resolved spec as YAML-like text; with `explain`, where every value came from."""
        from .backends.report import resolved_text

        return resolved_text(self.spec, self._network, explain)

    def __str__(self) -> str:
        return self.text()


@dataclass
class Validation:
    spec: str
    ok: bool
    name: str | None = None
    input_shape: Shape | None = None
    warnings: list[Diagnostic] = field(default_factory=list)
    errors: list[Diagnostic] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        if not self.ok:
            return {"spec": self.spec, "ok": False, "errors": [d.to_json() for d in self.errors]}
        return {"spec": self.spec, "ok": True, "name": self.name, "input": list(self.input_shape or ()),
                "warnings": [d.to_json() for d in self.warnings]}

    def __str__(self) -> str:
        if not self.ok:
            return "\n".join(d.render() for d in self.errors)
        return f"ok: {self.spec} ({self.name}, input {'x'.join(map(str, self.input_shape or ()))})"


@dataclass
class Build:
    output: str
    class_name: str
    factory: str
    params: int
    warnings: list[Diagnostic]
    up_to_date: bool | None = None  # set by a check; None when the file was written
    exists: bool | None = None  # set by a check: whether there was a file to compare with

    @property
    def ok(self) -> bool:
        return self.up_to_date is not False

    def to_json(self) -> dict[str, Any]:
        document = {"ok": self.ok, "output": self.output, "class": self.class_name, "factory": self.factory,
                    "params": self.params, "warnings": [d.to_json() for d in self.warnings]}
        if self.up_to_date is not None:
            document["exists"] = self.exists
            document["up_to_date"] = self.up_to_date
        return document

    def __str__(self) -> str:
        if self.up_to_date is not None:
            state = ("is up to date" if self.up_to_date else "differs from what the spec generates" if self.exists
                     else "does not exist (archspec build writes it)")
            return f"{self.output} {state}"
        return f"wrote {self.output}: class {self.class_name}, factory {self.factory}(), {self.params:,} parameters"


@dataclass
class Comparison:
    a: dict[str, Any]
    b: dict[str, Any]
    delta: dict[str, int]
    stages: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        return {"a": self.a, "b": self.b, "delta": self.delta, "stages": self.stages}

    def __str__(self) -> str:
        from .backends.analysis import compare_text

        return compare_text(self.to_json())


class Diagram:
    """A diagram of a network: DOT text, drawn by Graphviz on demand; shows inline in Jupyter."""

    def __init__(self, network: Network, options: RenderOptions, errors: list[Diagnostic],
                 analysis: Analysis | None):
        self.network = network
        self.options = options
        self.errors = errors
        self._analysis = analysis

    @cached_property
    def dot(self) -> str:
        """The DOT text; raises SpecError when the network cannot take the diagram's input."""
        from .backends.diagram import diagram_dot

        return diagram_dot(self.network, self.options, self.errors, self._analysis)

    def draw(self, fmt: str) -> tuple[bytes, list[str]]:
        """The drawing in `fmt` (svg, pdf, png, dot) and Graphviz's warnings; raises OutputError."""
        from .backends.diagram import FORMATS, THEMES, EngineError
        from .backends.diagram.engine import layout
        from .output import OutputError

        try:
            return layout(self.dot, _choice(fmt, FORMATS, "--format"), THEMES[self.options.theme].png_dpi)
        except EngineError as error:
            raise OutputError(str(error)) from None

    def _repr_svg_(self) -> str:
        return self.draw("svg")[0].decode("utf-8")

    def save(self, path: PathLike, fmt: str | None = None, *, force: bool = False) -> Drawing:
        """Write the drawing (format from the suffix unless `fmt`) by the rules of `archspec.output`:
        atomically, never over a spec the network was read from, over another file only if it is
        archspec's drawing or with `force`; `-` writes it to standard output. Raises OutputError."""
        from .output import write_output

        fmt = diagram_format(path, fmt)
        data, warnings = self.draw(fmt)
        write_output(Path(path), data, force, inputs=self.network.files)
        return Drawing(str(path), fmt, self.options.level, self.errors, warnings)


@dataclass
class Drawing:
    output: str
    format: str
    level: str
    errors: list[Diagnostic]
    graphviz_warnings: list[str]

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "output": self.output, "format": self.format, "level": self.level,
                "errors": [d.to_json() for d in self.errors], "graphviz_warnings": self.graphviz_warnings}

    def __str__(self) -> str:
        if self.errors:
            count = len(self.errors)
            return f"{count} error{'s' if count != 1 else ''}; drew {self.output} with the failed layers marked"
        return f"wrote {self.output} ({self.level} level, {self.format})"
