"""The `detect:` section of a spec, read with its source spans and checked against the network.

    detect:
      kind: yolov2                # yolov1 | yolov2 | ssd | rpn
      classes: 20
      levels:
        - {output: out, stride: 32, anchors: [[1.3221, 1.73145], [3.19275, 4.00944]]}
      confidence: 0.3             # class-specific confidence a detection must exceed
      iou: 0.45                   # non-maximum suppression threshold, per class
      top_k: 100                  # detections kept per image

A level names the network outputs it reads: `output` (YOLO: one map of K × (5 + C) channels, or
YOLOv1's vector of S × S × (5B + C)), or `scores` and `boxes` (SSD: K × C and K × 4 channels; an RPN:
K and K × 4). `stride` is the stride its anchors assume (SSD's "step"), in input pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from ..errors import Diagnostics, Span, SpecError, did_you_mean
from ..spec.values import evaluate_text
from ..spec.yaml_source import Map, YamlList

KINDS = ("yolov1", "yolov2", "ssd", "rpn", "faster_rcnn")
# The outputs each kind's level reads.
LEVEL_OUTPUTS = {"yolov1": ("output",), "yolov2": ("output",), "ssd": ("scores", "boxes"),
                 "rpn": ("scores", "boxes"), "faster_rcnn": ("scores", "boxes")}
LEVEL_KEYS = {"yolov1": ("output", "stride"), "yolov2": ("output", "stride", "anchors"),
              "ssd": ("scores", "boxes", "stride", "aspect_ratios"),
              "rpn": ("scores", "boxes", "stride", "sizes", "aspect_ratios")}
LEVEL_KEYS["faster_rcnn"] = LEVEL_KEYS["rpn"]  # its levels are its RPN's
# Loss weights and their defaults (the papers' values); each kind accepts only its own.
LOSS_WEIGHTS = {
    "yolov1": {"coord": 5.0, "noobject": 0.5},
    "yolov2": {"coord": 1.0, "object": 5.0, "noobject": 1.0, "class": 1.0, "ignore_iou": 0.6},
    "ssd": {"negatives_per_positive": 3.0, "match_iou": 0.5},
    "rpn": {"match_high": 0.7, "match_low": 0.3},
    "faster_rcnn": {},  # the four losses are summed; their thresholds and samples are in `rpn` and `roi_heads`
}
TOP_KEYS = ("kind", "classes", "levels", "confidence", "iou", "top_k", "candidates", "loss", "scales",
            "boxes_per_cell", "box_weights", "transform", "parts", "rpn", "roi_heads")
PARTS = ("backbone", "neck", "head")
TRANSFORM_KEYS = ("size", "mean", "std")


@dataclass(frozen=True)
class Level:
    """One output level of a detector: the outputs it reads and the anchors it assumes."""

    index: int
    outputs: dict[str, str]  # role ("output", "scores", "boxes") -> network output name
    stride: Fraction
    span: Span
    anchors: tuple[tuple[float, float], ...] = ()  # YOLOv2: (w, h) in grid cells
    aspect_ratios: tuple[float, ...] = ()  # SSD and RPN
    sizes: tuple[float, ...] = ()  # RPN: in pixels
    spans: dict[str, Span] = field(default_factory=dict)  # of each key's value


@dataclass
class Detection:
    kind: str
    classes: int
    levels: list[Level]
    span: Span
    confidence: float = 0.3
    iou: float = 0.45
    top_k: int = 100
    candidates: int = 400
    loss: dict[str, float] = field(default_factory=dict)
    scales: tuple[float, ...] = ()  # SSD: box scale per level relative to the input, one more than levels
    boxes_per_cell: int = 2  # YOLOv1's B
    box_weights: tuple[float, float, float, float] = (10.0, 10.0, 5.0, 5.0)
    transform: dict[str, Any] | None = None  # SSD: resize to `size` and normalise with mean and std
    # The first top-level layer of the neck and of the head (`parts: {neck: conv19, head: detector}`);
    # by default the head is the layers that produce the levels' outputs, and there is no neck.
    parts: dict[str, str] = field(default_factory=dict)
    part_spans: dict[str, Span] = field(default_factory=dict)
    # Top-level values written as expressions over the parameters (`classes: num_classes`), so that the
    # emitted class follows its constructor's arguments.
    sources: dict[str, str] = field(default_factory=dict)
    source_spans: dict[str, Span] = field(default_factory=dict)
    # The inputs (C, H, W) the section was checked at, its warnings already the network's.
    checked_inputs: set[tuple[int, ...]] = field(default_factory=set)

    def anchors_per_cell(self, level: Level) -> int:
        """K: the boxes one cell of the level predicts."""
        if self.kind == "yolov1":
            return self.boxes_per_cell
        if self.kind == "yolov2":
            return len(level.anchors)
        if self.kind == "ssd":
            return 2 + 2 * len(level.aspect_ratios)
        return len(level.sizes) * len(level.aspect_ratios)


class _Reader:
    """Typed values of a mapping, each problem a located error."""

    def __init__(self, data: Map, diagnostics: Diagnostics, env: Any = None):
        self.data = data
        self.diagnostics = diagnostics
        self.env = env or {}
        self.sources: dict[str, str] = {}  # the expressions read, by key
        self.source_spans: dict[str, Span] = {}

    def value(self, key: str) -> Any:
        """The value at `key`; text is an expression over the spec's parameters (`classes: num_classes`)."""
        value = self.data[key]
        if isinstance(value, str):
            self.sources[key] = value
            self.source_spans[key] = self.span(key)
            try:
                return evaluate_text(value, self.env, self.span(key))
            except SpecError as error:
                self.diagnostics.extend(error)
                return None
        return value

    def span(self, key: str) -> Span:
        return self.data.value_span(key)

    def error(self, key: str, message: str, hint: str | None = None) -> None:
        self.diagnostics.error(self.span(key), message, hint)

    def number(self, key: str, default: Any, minimum: float | None = None, maximum: float | None = None,
               integer: bool = False, strict_minimum: bool = False, what: str = "") -> Any:
        if key not in self.data:
            return default
        value = self.value(key)
        if value is None:
            return default
        kind = "an integer" if integer else "a number"
        if isinstance(value, bool) or not isinstance(value, int if integer else (int, float)):
            self.error(key, f"'{key}' must be {kind}, got {value!r}")
            return default
        below = minimum is not None and (value <= minimum if strict_minimum else value < minimum)
        if below or (maximum is not None and value > maximum):
            bounds = (f"in [{minimum}, {maximum}]" if maximum is not None and not strict_minimum
                      else f"greater than {minimum}" if strict_minimum else f"at least {minimum}")
            self.error(key, f"'{key}' must be {bounds}, got {value}", hint=what or None)
            return default
        return value

    def numbers(self, key: str, length: int | None = None, positive: bool = True) -> tuple | None:
        value = self.data.get(key)
        if not isinstance(value, list) or any(isinstance(v, bool) or not isinstance(v, (int, float))
                                              for v in value):
            self.error(key, f"'{key}' must be a list of numbers, got {value!r}")
            return None
        if length is not None and len(value) != length:
            self.error(key, f"'{key}' must have {length} numbers, got {len(value)}")
            return None
        if positive:
            for index, number in enumerate(value):
                if number <= 0:
                    self.diagnostics.error(value.item_span(index) if isinstance(value, YamlList) else self.span(key),
                                           f"'{key}' must be positive, got {number}")
                    return None
        return tuple(float(v) for v in value)

    def unknown_keys(self, allowed: tuple[str, ...], where: str) -> None:
        for key in self.data:
            if key not in allowed:
                self.diagnostics.error(self.data.key_span(key), f"unknown key '{key}' in {where}",
                                       hint=did_you_mean(str(key), allowed) or f"the keys are {', '.join(allowed)}")


def parse_detection(data: Any, span: Span, env: Any = None) -> Detection:
    """The `detect:` section as a Detection; numbers may be expressions over the parameters in `env`.
    Raises SpecError with every problem found."""
    diagnostics = Diagnostics()
    if not isinstance(data, Map):
        raise SpecError.at(span, "'detect' must be a mapping", hint="e.g. 'detect: {kind: yolov2, classes: 20, "
                           "levels: [...]}'")
    reader = _Reader(data, diagnostics, env)
    reader.unknown_keys(TOP_KEYS, "'detect'")
    kind = data.get("kind")
    if not isinstance(kind, str) or kind not in KINDS:
        diagnostics.error(data.value_span("kind") if "kind" in data else data.span,
                          f"the detector kind must be one of {', '.join(KINDS)}, got {kind!r}")
        raise SpecError(diagnostics.errors)  # with the problems found so far
    classes = reader.number("classes", None, minimum=1, integer=True)
    if "classes" not in data:
        diagnostics.error(data.span, "'detect' has no 'classes'", hint="the number of object classes (SSD and "
                          "torchvision count the background as one)")
    detection = Detection(
        kind=kind, classes=classes or 1, levels=[], span=data.span,
        confidence=reader.number("confidence", 0.01 if kind == "ssd" else 0.3, 0, 1),
        iou=reader.number("iou", 0.45, 0, 1), top_k=reader.number("top_k", 200 if kind == "ssd" else 100, 1,
                                                                  integer=True),
        candidates=reader.number("candidates", 400, 1, integer=True),
        boxes_per_cell=reader.number("boxes_per_cell", 2, 1, integer=True),
        loss=_loss_weights(data, kind, diagnostics))
    detection.sources, detection.source_spans = dict(reader.sources), dict(reader.source_spans)
    if "box_weights" in data:
        detection.box_weights = reader.numbers("box_weights", 4) or detection.box_weights
    levels = data.get("levels")
    if not isinstance(levels, YamlList) or not levels:
        diagnostics.error(data.value_span("levels") if "levels" in data else data.span,
                          "'detect' needs 'levels': a list with one entry per output level")
    else:
        detection.levels = [level for index, item in enumerate(levels)
                            if (level := _level(item, levels.item_span(index), index, kind, diagnostics))]
    _parts(data, detection, diagnostics)
    if kind in ("yolov1", "yolov2") and isinstance(levels, YamlList) and len(levels) > 1:
        diagnostics.error(levels.item_span(1), f"a {kind} detector has one output level, got {len(levels)}",
                          hint="YOLOv2 and YOLOv1 predict on one grid; an SSD or RPN has several levels")
    if kind == "ssd":
        _ssd_options(data, reader, detection, len(levels) if isinstance(levels, list) else 0, diagnostics)
    diagnostics.check()
    return detection


def _parts(data: Map, detection: Detection, diagnostics: Diagnostics) -> None:
    parts = data.get("parts")
    if parts is None:
        return
    if not isinstance(parts, Map):
        diagnostics.error(data.value_span("parts"), "'parts' must map neck and head to their first layer")
        return
    _Reader(parts, diagnostics).unknown_keys(("neck", "head"), "'parts'")
    for key in ("neck", "head"):
        if key in parts:
            if not isinstance(parts[key], str):
                diagnostics.error(parts.value_span(key), f"'{key}' must name a top-level layer, got {parts[key]!r}")
                continue
            detection.parts[key] = parts[key]
            detection.part_spans[key] = parts.value_span(key)


def _loss_weights(data: Map, kind: str, diagnostics: Diagnostics) -> dict[str, float]:
    weights = dict(LOSS_WEIGHTS[kind])
    loss = data.get("loss")
    if loss is None:
        return weights
    if not isinstance(loss, Map):
        diagnostics.error(data.value_span("loss"), "'loss' must be a mapping of weights")
        return weights
    reader = _Reader(loss, diagnostics)
    reader.unknown_keys(tuple(weights), f"the loss of a {kind} detector")
    for key in weights:
        bounded = key.endswith("iou") or key.startswith("match")
        weights[key] = float(reader.number(key, weights[key], 0, 1 if bounded else None))
    return weights


def _level(item: Any, span: Span, index: int, kind: str, diagnostics: Diagnostics) -> Level | None:
    if not isinstance(item, Map):
        diagnostics.error(span, f"level {index} must be a mapping, e.g. {{{', '.join(LEVEL_KEYS[kind])}}}")
        return None
    reader = _Reader(item, diagnostics)
    reader.unknown_keys(LEVEL_KEYS[kind], f"a level of a {kind} detector")
    missing = [key for key in LEVEL_KEYS[kind] if key not in item]
    if missing:
        diagnostics.error(item.span, f"level {index} has no {', '.join(repr(k) for k in missing)}",
                          hint=f"a {kind} level is {{{', '.join(LEVEL_KEYS[kind])}}}")
        return None
    outputs = {}
    for role in LEVEL_OUTPUTS[kind]:
        if not isinstance(item[role], str):
            reader.error(role, f"'{role}' must name an output of the network, got {item[role]!r}")
            return None
        outputs[role] = item[role]
    stride = reader.number("stride", None, 0, strict_minimum=True)
    if stride is None:
        return None
    level = Level(index, outputs, Fraction(stride).limit_denominator(1000), item.span,
                  spans={key: item.value_span(key) for key in item})
    if kind == "yolov1":
        return level
    if kind == "yolov2":
        anchors = _anchor_pairs(item, diagnostics)
        return None if anchors is None else Level(**{**level.__dict__, "anchors": anchors})
    ratios = reader.numbers("aspect_ratios")
    sizes = reader.numbers("sizes") if kind in ("rpn", "faster_rcnn") else ()
    if ratios is None or sizes is None:
        return None
    return Level(**{**level.__dict__, "aspect_ratios": ratios, "sizes": sizes})


def _anchor_pairs(item: Map, diagnostics: Diagnostics) -> tuple[tuple[float, float], ...] | None:
    anchors = item["anchors"]
    if not isinstance(anchors, YamlList) or not anchors:
        diagnostics.error(item.value_span("anchors"), "'anchors' must be a list of [width, height] pairs in "
                          "grid cells", hint="e.g. [[1.3221, 1.73145], [3.19275, 4.00944]]")
        return None
    pairs = []
    for index, pair in enumerate(anchors):
        where = anchors.item_span(index)
        if (not isinstance(pair, list) or len(pair) != 2
                or any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in pair)):
            diagnostics.error(where, f"anchor {index} must be a [width, height] pair of numbers, got {pair!r}")
            return None
        if min(pair) <= 0:
            diagnostics.error(where, f"anchor {index} must have a positive width and height, got {list(pair)}")
            return None
        pairs.append((float(pair[0]), float(pair[1])))
    return tuple(pairs)


def _ssd_options(data: Map, reader: _Reader, detection: Detection, levels: int, diagnostics: Diagnostics) -> None:
    if "scales" not in data:
        diagnostics.error(data.span, "an ssd detector needs 'scales': the box scale of each level relative to "
                          f"the input, and one more ({levels + 1} numbers)", hint="SSD300's are "
                          "[0.07, 0.15, 0.33, 0.51, 0.69, 0.87, 1.05]")
    else:
        detection.scales = reader.numbers("scales", levels + 1) or ()
    transform = data.get("transform")
    if transform is None:
        return
    if not isinstance(transform, Map):
        reader.error("transform", "'transform' must be a mapping {size, mean, std}")
        return
    inner = _Reader(transform, diagnostics)
    inner.unknown_keys(TRANSFORM_KEYS, "'transform'")
    size = inner.numbers("size", 2) if "size" in transform else None
    mean = inner.numbers("mean", 3, positive=False) if "mean" in transform else (0.0, 0.0, 0.0)
    std = inner.numbers("std", 3) if "std" in transform else (1.0, 1.0, 1.0)
    if size is not None and any(s != int(s) for s in size):
        inner.error("size", f"'size' must be whole pixels, got {list(size)}")
    detection.transform = {"size": tuple(int(s) for s in size) if size else None, "mean": mean, "std": std}


# ------------------------------------------------------------------ checks against the network


def check_detection(detection: Detection, network: Any, input_shape: tuple[int, ...] | None = None
                    ) -> list[Any]:
    """Errors (raised together) when a level's outputs do not exist, have the wrong channel count for
    K anchors and C classes, or a grid other than its stride assumes at `input_shape`; warnings (returned)
    when a level's receptive field is smaller than its largest anchor, or its stride is not the map's."""
    from ..passes.shapes import infer_shapes

    shape = tuple(input_shape or network.input_shape)
    diagnostics = Diagnostics()
    result = infer_shapes(network, shape)
    names = network.root.output_names()
    shapes = dict(zip(names, result.outputs))
    # An output may also be named by the layer that produces it.
    shapes.update({name: out for name, out in zip(network.root.outputs, result.outputs) if name not in shapes})
    for level in detection.levels:
        for role, output in level.outputs.items():
            if output not in shapes:
                diagnostics.error(level.spans.get(role, level.span), f"level {level.index} reads output "
                                  f"'{output}', which the network does not have",
                                  hint=did_you_mean(output, shapes) or f"its outputs are {', '.join(shapes)}")
            elif shapes[output] is not None:
                _check_output(detection, level, role, shapes[output], shape, diagnostics)
    _check_parts(detection, network, diagnostics)
    diagnostics.check()
    _check_geometry(detection, network, shape, diagnostics)
    return diagnostics.warnings


def check_detection_once(network: Any, input_shape: tuple[int, ...] | None = None) -> None:
    """`check_detection` at an input (default: the spec's), its warnings joining the network's; asked again
    for that input (by `validate` after `load`), it is not rerun, so no warning is given twice."""
    detection = network.detection
    shape = tuple(input_shape or network.input_shape)
    if shape not in detection.checked_inputs:
        # A finding that does not depend on the input (the same text at the same place) is given once.
        network.warnings.extend(w for w in check_detection(detection, network, shape) if w not in network.warnings)
        detection.checked_inputs.add(shape)


def _check_parts(detection: Detection, network: Any, diagnostics: Diagnostics) -> None:
    order = [node.name for node in network.root.nodes]
    for key, name in detection.parts.items():
        if name not in order:
            diagnostics.error(detection.part_spans[key], f"the {key} starts at '{name}', which is not a top-level "
                              "layer", hint=did_you_mean(name, order) or f"the top-level layers are "
                              f"{', '.join(order[:8])}{' …' if len(order) > 8 else ''}")
    if {"neck", "head"} <= set(detection.parts) and all(n in order for n in detection.parts.values()):
        if order.index(detection.parts["neck"]) >= order.index(detection.parts["head"]):
            diagnostics.error(detection.part_spans["head"], f"the head starts at '{detection.parts['head']}', "
                              f"which is not after the neck's first layer '{detection.parts['neck']}'")


def layer_parts(detection: Detection, network: Any) -> dict[str, str]:
    """Each top-level layer's part: backbone, neck or head."""
    order = [node.name for node in network.root.nodes]
    starts = {part: order.index(name) for part, name in detection.parts.items() if name in order}
    if "head" not in starts:  # the layers that produce the levels' outputs
        producers = {value_path(network.root, output_value(network.root, output)).split(".")[0]
                     for level in detection.levels for output in level.outputs.values()}
        starts["head"] = min((order.index(p) for p in producers if p in order), default=len(order))
    result = {}
    for index, name in enumerate(order):
        result[name] = ("head" if index >= starts["head"] else
                        "neck" if "neck" in starts and index >= starts["neck"] else "backbone")
    return result


def expected_channels(detection: Detection, level: Level, role: str) -> int:
    k, c = detection.anchors_per_cell(level), detection.classes
    if role == "boxes":
        return 4 * k
    if detection.kind == "yolov2":
        return k * (5 + c)
    if detection.kind == "ssd":
        return k * c
    return k  # an RPN's objectness


def grid_of(level: Level, input_shape: tuple[int, ...]) -> tuple[int, int]:
    """The grid a level's stride assumes at an input size: ceil(size / stride), as SSD's steps do."""
    height, width = (math.ceil(Fraction(side) / level.stride) for side in input_shape[1:3])
    return height, width


def _check_output(detection: Detection, level: Level, role: str, shape: tuple[int, ...],
                  input_shape: tuple[int, ...], diagnostics: Diagnostics) -> None:
    where = level.spans.get(role, level.span)
    output = level.outputs[role]
    rows, columns = grid_of(level, input_shape)
    if detection.kind == "yolov1":
        b, c = detection.boxes_per_cell, detection.classes
        expected = rows * columns * (5 * b + c)
        if shape != (expected,):
            diagnostics.error(where, f"output '{output}' has shape {'x'.join(map(str, shape))}; a yolov1 level "
                              f"with a {rows}x{columns} grid (stride {level.stride} at input "
                              f"{input_shape[1]}x{input_shape[2]}), B = {b} and C = {c} needs a vector of "
                              f"S x S x (5B + C) = {expected}")
        return
    if len(shape) != 3:
        diagnostics.error(where, f"output '{output}' is not a feature map: shape {'x'.join(map(str, shape))}")
        return
    expected = expected_channels(detection, level, role)
    if shape[0] != expected:
        k, c = detection.anchors_per_cell(level), detection.classes
        rule = {"yolov2": f"K x (5 + C) = {k} x (5 + {c})", "ssd": f"K x C = {k} x {c}",
                "rpn": f"K = {k}", "faster_rcnn": f"K = {k}"}[detection.kind] if role != "boxes" else f"K x 4 = {k} x 4"
        diagnostics.error(where, f"output '{output}' has {shape[0]} channels; level {level.index} needs "
                          f"{rule} = {expected}", hint=f"K = {k} anchors per cell and C = {c} classes")
    if shape[1:] != (rows, columns):
        diagnostics.error(level.spans.get("stride", where), f"level {level.index} assumes a {rows}x{columns} "
                          f"grid (stride {level.stride} at input {input_shape[1]}x{input_shape[2]}), but output "
                          f"'{output}' is {shape[1]}x{shape[2]}",
                          hint="set the level's stride to the input size over the map's size")


def _check_geometry(detection: Detection, network: Any, input_shape: tuple[int, ...],
                    diagnostics: Diagnostics) -> None:
    from ..passes.receptive_field import receptive_fields
    from .anchors import level_anchors

    try:
        fields = receptive_fields(network, input_shape).fields
    except SpecError:
        return
    if detection.kind == "yolov1":
        return  # its fully connected layers see the whole image: no stride or field to compare
    for level in detection.levels:
        path = value_path(network.root, output_value(network.root, next(iter(level.outputs.values()))))
        found = fields.get(path)
        if found is None:
            continue
        exact = found.stride[0]
        if Fraction(exact) != level.stride:
            diagnostics.warning(level.spans.get("stride", level.span), f"level {level.index} assumes stride "
                                f"{level.stride}, but its map's exact stride is {exact}",
                                hint="anchor centres drift from the cells' centres across the image")
        table = level_anchors(detection, level, input_shape)
        largest = max((max(w, h) for w, h in table.shapes), default=0)
        if detection.kind != "yolov1" and min(found.size) < largest:
            diagnostics.warning(level.spans.get("anchors", level.spans.get("aspect_ratios", level.span)),
                                f"level {level.index}'s receptive field is {found.size[0]}x{found.size[1]}, "
                                f"smaller than its largest anchor ({largest:g} pixels)",
                                hint="a cell cannot see all of an object that large")


# The settings an emitted detector class keeps as expressions of its constructor's arguments, by kind.
FOLLOWS_CONSTRUCTOR = {"yolov1": ("classes", "boxes_per_cell"), "yolov2": ("classes",), "ssd": ("classes",)}


def output_value(root: Any, output: str) -> str:
    """The value a network output names: an output key (`scores0: head.scores0`), or a layer's own name."""
    names = root.output_names()
    return root.outputs[names.index(output)] if output in names else output


def value_path(module: Any, name: str, prefix: str = "") -> str:
    """The full path of the layer that produces a module's value `name` (following a layer's outputs)."""
    name = module.value(name)
    found = module.output_of(name)
    if found is None:
        return prefix + name
    node, key = found
    child = node.child
    return value_path(child, child.outputs[child.output_names().index(key)], f"{prefix}{node.name}.")
