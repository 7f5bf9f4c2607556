"""The `detect` section of a two-stage detector, read and checked against the lowered network.

A two-stage detector's body holds its layers: a backbone, the RPN head (one group returning an
objectness map and a deltas map per pyramid level, in pairs), a `roi_align` over some of the backbone's
levels and the box head (a group returning class logits and per-class deltas for every region). What is
not a layer lives in `detect`: the image transform, the anchors and every threshold and sample size of
the proposal stage and of the second stage. This module checks both together (anchors against the RPN's
channels, RoI Align against the backbone's levels, thresholds against each other) and hands the
backends one `TwoStageDetector`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import Diagnostics, SpecError, Span
from ..spec.model import Value
from ..spec.values import typed_value
from ..spec.yaml_source import Map, Seq
from .graph import Module, Network, Node

# Every key of each part of `detect`, with its kind and bounds: (kind, minimum, maximum).
UNIT = ("float", 0, 1)
COUNT = ("int", 1, None)
TRANSFORM_KEYS = {"min_size": COUNT, "max_size": COUNT, "image_mean": ("floats", None, None),
                  "image_std": ("floats", 0, None), "size_divisible": COUNT}
RPN_KEYS = {"head": ("name", None, None), "anchors": ("anchors", None, None),
            "pre_nms_top_n": ("phases", 1, None), "post_nms_top_n": ("phases", 1, None),
            "nms_thresh": UNIT, "score_thresh": UNIT, "fg_iou_thresh": UNIT, "bg_iou_thresh": UNIT,
            "batch_size_per_image": COUNT, "positive_fraction": ("fraction", None, None)}
ROI_KEYS = {"roi_align": ("name", None, None), "head": ("name", None, None), "fg_iou_thresh": UNIT,
            "bg_iou_thresh": UNIT, "batch_size_per_image": COUNT, "positive_fraction": ("fraction", None, None),
            "bbox_reg_weights": ("floats", 0, None), "score_thresh": UNIT, "nms_thresh": UNIT,
            "detections_per_img": COUNT}
SECTIONS = {"transform": TRANSFORM_KEYS, "rpn": RPN_KEYS, "roi_heads": ROI_KEYS}
PHASES = ("train", "test")


@dataclass
class TwoStageDetector:
    """Faster R-CNN's structure and settings: which layers play which part, and every number."""

    span: Span
    backbone: str  # the root node computing the features
    rpn_head: str  # the group with the objectness and deltas of every level, in pairs
    rpn_levels: list[str]  # the backbone outputs the RPN reads (the anchors' levels), finest first
    roi_align: str
    roi_levels: list[str]  # the backbone outputs RoI Align crops from
    box_head: str  # the group with class logits and per-class deltas
    box_outputs: tuple[str, str]  # its output keys: (class logits, box regression)
    transform: dict[str, Any] = field(default_factory=dict)
    rpn: dict[str, Any] = field(default_factory=dict)  # anchors (sizes, aspect_ratios) and proposal settings
    roi_heads: dict[str, Any] = field(default_factory=dict)

    @property
    def anchors_per_position(self) -> list[int]:
        return [len(sizes) * len(self.rpn["aspect_ratios"]) for sizes in self.rpn["sizes"]]


def read_detector(detect: Value, network: Network, diagnostics: Diagnostics) -> TwoStageDetector | None:
    """The detector a `detect` section describes, or None (with its errors in `diagnostics`)."""
    raw, span = detect.value, detect.span
    if not isinstance(raw, Map):
        diagnostics.error(span, "'detect' is a mapping with 'transform', 'rpn' and 'roi_heads'")
        return None
    before = len(diagnostics.errors)
    parts = {}
    for key in raw:
        if key not in SECTIONS:
            diagnostics.error(raw.key_span(key), f"unknown key '{key}' in 'detect'",
                              hint=f"'detect' takes {', '.join(SECTIONS)}")
    for name, keys in SECTIONS.items():
        if name not in raw:
            diagnostics.error(raw.key_span(next(iter(raw), name)) if raw else span,
                              f"'detect' has no '{name}'", hint=f"add '{name}:' with {', '.join(keys)}")
            continue
        parts[name] = _read_part(raw[name], raw.value_span(name), f"detect.{name}", keys, diagnostics)
    if len(diagnostics.errors) > before:
        return None
    detector = _structure(network, parts, raw, span, diagnostics)
    if detector is not None:
        _check_settings(detector, network.root, diagnostics)
    return detector if len(diagnostics.errors) == before else None


# ------------------------------------------------------------------ the settings, one by one

def _read_part(raw: Any, span: Span, where: str, keys: dict[str, tuple], diagnostics: Diagnostics
               ) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if not isinstance(raw, Map):
        diagnostics.error(span, f"'{where}' is a mapping of {', '.join(keys)}")
        return values
    for key in raw:
        if key not in keys:
            diagnostics.error(raw.key_span(key), f"unknown key '{key}' in '{where}'",
                              hint=f"'{where}' takes {', '.join(keys)}")
    for key, (kind, minimum, maximum) in keys.items():
        if key not in raw:
            diagnostics.error(span, f"'{where}' has no '{key}'", hint="every setting of a detector is written out")
            continue
        try:
            values.update(_read_value(raw[key], raw.value_span(key), f"{where}.{key}", key, kind, minimum,
                                      maximum))
        except SpecError as error:
            diagnostics.extend(error)
    values["spans"] = {key: raw.value_span(key) for key in raw}
    return values


def _read_value(raw: Any, span: Span, what: str, key: str, kind: str, minimum: Any, maximum: Any
                ) -> dict[str, Any]:
    if kind == "name":
        if not isinstance(raw, str):
            raise SpecError.at(span, f"{what} must name a layer of the body, got {raw!r}")
        return {key: raw}
    if kind == "floats":
        numbers = typed_value(raw, "list", {}, span, what)
        if not all(isinstance(n, (int, float)) and not isinstance(n, bool) for n in numbers):
            raise SpecError.at(span, f"{what} must be a list of numbers, got {raw!r}")
        if minimum is not None and any(n <= minimum for n in numbers):
            raise SpecError.at(span, f"{what} must be positive, got {raw!r}")
        return {key: [float(n) for n in numbers]}
    if kind == "fraction":
        value = typed_value(raw, "float", {}, span, what)
        if not 0 < value <= 1:
            raise SpecError.at(span, f"{what} must be in (0, 1], got {raw!r}",
                               hint="the share of positives in a sample: above 0, at most 1")
        return {key: value}
    if kind == "phases":
        if not isinstance(raw, Map) or set(raw) != set(PHASES):
            raise SpecError.at(span, f"{what} must be {{train: N, test: N}}, got {raw!r}",
                               hint="proposals kept while training and while testing")
        counts = {}
        for phase in PHASES:
            counts[phase] = typed_value(raw[phase], "int", {}, raw.value_span(phase), f"{what}.{phase}", minimum=1)
        return {key: counts}
    if kind == "anchors":
        return _read_anchors(raw, span, what)
    return {key: typed_value(raw, kind, {}, span, what, minimum=minimum, maximum=maximum)}


def _read_anchors(raw: Any, span: Span, what: str) -> dict[str, Any]:
    """`{sizes: [[32], [64], …], aspect_ratios: [0.5, 1.0, 2.0]}`: sizes per level, ratios on every level."""
    if not isinstance(raw, Map) or set(raw) != {"sizes", "aspect_ratios"}:
        raise SpecError.at(span, f"{what} must be {{sizes: [[…], …], aspect_ratios: […]}}",
                           hint="sizes in pixels for each level; aspect ratios (height / width) for all")
    sizes_raw, sizes_span = raw["sizes"], raw.value_span("sizes")
    if not isinstance(sizes_raw, Seq) or not sizes_raw or not all(isinstance(s, Seq) and s for s in sizes_raw):
        raise SpecError.at(sizes_span, f"{what}.sizes must be one non-empty list of sizes per level, got "
                           f"{sizes_raw!r}", hint="e.g. [[32], [64], [128], [256], [512]]")
    sizes = [[_positive(v, sizes_raw.item_span(i), f"{what}.sizes") for v in level]
             for i, level in enumerate(sizes_raw)]
    ratios_raw, ratios_span = raw["aspect_ratios"], raw.value_span("aspect_ratios")
    if not isinstance(ratios_raw, Seq) or not ratios_raw:
        raise SpecError.at(ratios_span, f"{what}.aspect_ratios must be a non-empty list, got {ratios_raw!r}")
    ratios = [_positive(v, ratios_span, f"{what}.aspect_ratios") for v in ratios_raw]
    return {"sizes": sizes, "aspect_ratios": ratios}


def _positive(value: Any, span: Span, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise SpecError.at(span, f"{what} must hold positive numbers, got {value!r}")
    return value


# ------------------------------------------------------------------ the body's parts

def _structure(network: Network, parts: dict[str, dict], raw: Map, span: Span, diagnostics: Diagnostics
               ) -> TwoStageDetector | None:
    root = network.root
    rpn, roi = parts["rpn"], parts["roi_heads"]
    head = _named_node(root, rpn["head"], rpn["spans"]["head"], "the RPN head", diagnostics)
    align = _named_node(root, roi["roi_align"], roi["spans"]["roi_align"], "RoI Align", diagnostics)
    box_head = _named_node(root, roi["head"], roi["spans"]["head"], "the box head", diagnostics)
    if head is None or align is None or box_head is None:
        return None
    if align.op != "roi_align":
        diagnostics.error(roi["spans"]["roi_align"], f"'{align.name}' is a {align.op}, not a roi_align",
                          hint="name the roi_align layer that crops the proposals")
        return None
    backbone = root.nodes[0]
    order = [backbone, head, align, box_head]
    if root.nodes != order:
        diagnostics.error(network.root.span, "a two-stage detector's body is four layers, in this order: the "
                          "backbone, the RPN head, the roi_align and the box head; this one has "
                          f"{', '.join(repr(n.name) for n in root.nodes)}",
                          hint="put the backbone's layers in a group")
        return None
    for part, node in (("the RPN head", head), ("the box head", box_head)):
        if node.child is None or node.child.kind != "group":
            diagnostics.error(node.span, f"{part} '{node.name}' must be a group", hint="wrap its layers in a group")
            return None
    for what, inputs, node in (("the RPN head", head.inputs, head), ("RoI Align", align.inputs, align)):
        strangers = [i for i in inputs if root.value(i) != backbone.name and not i.startswith(backbone.name + ".")]
        if strangers:
            diagnostics.error(node.span, f"{what} reads {', '.join(strangers)}, which the backbone "
                              f"'{backbone.name}' does not produce", hint="read the backbone's levels")
            return None
    keys = box_head.child.output_names()
    if len(keys) != 2:
        diagnostics.error(box_head.span, f"the box head '{box_head.name}' must have two outputs, the class "
                          f"logits and the per-class deltas; it has {len(keys)}")
        return None
    return TwoStageDetector(
        span=span, backbone=backbone.name, rpn_head=head.name, rpn_levels=list(head.inputs),
        roi_align=align.name, roi_levels=list(align.inputs), box_head=box_head.name,
        box_outputs=(keys[0], keys[1]), transform=parts["transform"], rpn=rpn, roi_heads=roi)


def _named_node(root: Module, name: str, span: Span, what: str, diagnostics: Diagnostics) -> Node | None:
    node = root.node(name)
    if node is None:
        known = ", ".join(repr(n.name) for n in root.nodes)
        diagnostics.error(span, f"{what} '{name}' is not a layer of the body", hint=f"the body has {known}")
    return node


def _check_settings(detector: TwoStageDetector, root: Module, diagnostics: Diagnostics) -> None:
    """What only makes sense together: thresholds in order, anchors that match the RPN's channels."""
    for part in (detector.rpn, detector.roi_heads):
        if part["bg_iou_thresh"] > part["fg_iou_thresh"]:
            diagnostics.error(part["spans"]["bg_iou_thresh"],
                              f"bg_iou_thresh {part['bg_iou_thresh']} is above fg_iou_thresh "
                              f"{part['fg_iou_thresh']}: a box cannot be both negative and positive",
                              hint="negatives are below bg_iou_thresh, positives at or above fg_iou_thresh")
    transform = detector.transform
    if len(transform["image_mean"]) != len(transform["image_std"]):
        diagnostics.error(transform["spans"]["image_std"], f"image_std has {len(transform['image_std'])} "
                          f"values and image_mean {len(transform['image_mean'])}", hint="one per image channel")
    if len(detector.roi_heads["bbox_reg_weights"]) != 4:
        diagnostics.error(detector.roi_heads["spans"]["bbox_reg_weights"],
                          "bbox_reg_weights must be four numbers, for (x, y, w, h)")
    _check_anchors(detector, root.node(detector.rpn_head).child, diagnostics)


def _check_anchors(detector: TwoStageDetector, head: Module, diagnostics: Diagnostics) -> None:
    rpn = detector.rpn
    sizes_span = rpn["spans"]["anchors"]
    levels = detector.rpn_levels
    if len(rpn["sizes"]) != len(levels):
        diagnostics.error(sizes_span, f"the anchors have sizes for {len(rpn['sizes'])} levels, but the RPN "
                          f"head '{detector.rpn_head}' reads {len(levels)} ({', '.join(levels)})",
                          hint="one list of sizes per level the RPN reads")
        return
    # The head's outputs, in pairs: the objectness (K channels) and the deltas (4 K channels) of each level.
    return_shapes = _output_shapes(head)
    if len(return_shapes) != 2 * len(levels):
        diagnostics.error(sizes_span, f"the RPN head '{detector.rpn_head}' has {len(return_shapes)} outputs; "
                          f"for {len(levels)} levels it needs {2 * len(levels)}, an objectness and a deltas map "
                          "per level, in that order")
        return
    for level, k in enumerate(detector.anchors_per_position):
        (key_o, objectness), (key_d, deltas) = return_shapes[2 * level], return_shapes[2 * level + 1]
        if objectness[0] != k or deltas[0] != 4 * k:
            diagnostics.error(sizes_span, f"level {level} ({levels[level]}) has K = {k} anchors per position "
                              f"({len(rpn['sizes'][level])} sizes x {len(rpn['aspect_ratios'])} aspect ratios), "
                              f"but the RPN head's '{key_o}' has {objectness[0]} channels and '{key_d}' "
                              f"{deltas[0]} (K and 4 K expected)",
                              hint="make the head's anchor count equal to sizes x aspect ratios")


def _output_shapes(group: Module) -> list[tuple[str, tuple[int, ...]]]:
    """(key, shape) of every output of a group, in order."""
    return [(key, group.value_shape(output) or ()) for key, output in zip(group.output_names(), group.outputs)]
