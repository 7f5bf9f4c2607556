"""A two-stage detector (`detect: {kind: faster_rcnn}`): the parts of the body that play each stage, and
the settings of each stage, checked against each other and against the network.

Its body holds the layers: the backbone, the RPN head (a group with an objectness map and a deltas map
per level: the `levels` of `detect`, read as for any anchor-based detector), a `roi_align` over some of
the backbone's levels, and the box head (a group with the class logits and the per-class deltas of each
region). Its `detect` section adds what is not a layer:

    transform: {min_size, max_size, mean, std, size_divisible}   # resize, normalise, batch
    rpn: {pre_nms_top_n: {train, test}, post_nms_top_n: {train, test}, nms_thresh, score_thresh,
          fg_iou_thresh, bg_iou_thresh, batch_size_per_image, positive_fraction}
    roi_heads: {roi_align, scores, boxes, fg_iou_thresh, bg_iou_thresh, batch_size_per_image,
                positive_fraction}

and, shared with the single-shot kinds, `classes`, `box_weights` (the second stage's delta weights),
`confidence` (score threshold), `iou` (per-class NMS) and `top_k` (detections per image).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import Diagnostics, Span, SpecError
from ..spec.values import typed_value
from ..spec.yaml_source import Map
from .spec import Detection

UNIT = ("float", 0, 1)
COUNT = ("int", 1, None)
FRACTION = ("fraction", None, None)
NAME = ("name", None, None)
TRANSFORM_KEYS = {"min_size": COUNT, "max_size": COUNT, "mean": ("floats", None, None),
                  "std": ("positive floats", None, None), "size_divisible": COUNT}
RPN_KEYS = {"pre_nms_top_n": ("phases", 1, None), "post_nms_top_n": ("phases", 1, None), "nms_thresh": UNIT,
            "score_thresh": UNIT, "fg_iou_thresh": UNIT, "bg_iou_thresh": UNIT, "batch_size_per_image": COUNT,
            "positive_fraction": FRACTION}
ROI_KEYS = {"roi_align": NAME, "scores": NAME, "boxes": NAME, "fg_iou_thresh": UNIT, "bg_iou_thresh": UNIT,
            "batch_size_per_image": COUNT, "positive_fraction": FRACTION}
SECTIONS: dict[str, dict[str, tuple]] = {"transform": TRANSFORM_KEYS, "rpn": RPN_KEYS, "roi_heads": ROI_KEYS}
PHASES = ("train", "test")


@dataclass
class TwoStage:
    """Which layers play which part of Faster R-CNN, and the settings of its stages."""

    backbone: str  # the first layer of the body, computing the features
    rpn_head: str  # the group with the objectness and deltas maps of every level
    rpn_outputs: list[tuple[str, str]]  # per level, the RPN head's (objectness, deltas) output keys
    rpn_levels: list[str]  # the backbone outputs the RPN head reads, finest first
    roi_align: str
    roi_levels: list[str]  # the backbone outputs RoI Align crops from
    box_head: str  # the group with the class logits and per-class deltas of every region
    box_outputs: tuple[str, str]  # its output keys: (class logits, deltas)
    transform: dict[str, Any] = field(default_factory=dict)
    rpn: dict[str, Any] = field(default_factory=dict)
    roi_heads: dict[str, Any] = field(default_factory=dict)


def read_two_stage(data: Map, detection: Detection, network: Any) -> TwoStage:
    """The two-stage parts of a `detect` section of kind faster_rcnn; raises SpecError with every problem."""
    diagnostics = Diagnostics()
    parts = {}
    for name, keys in SECTIONS.items():
        if name not in data:
            diagnostics.error(data.span, f"a faster_rcnn detector needs '{name}'",
                              hint=f"'{name}' takes {', '.join(keys)}")
        else:
            parts[name] = _read_part(data[name], data.value_span(name), name, keys, diagnostics)
    diagnostics.check()
    two_stage = _structure(network, detection, parts, diagnostics)
    if two_stage is None or diagnostics.errors:  # _structure has said why there is none
        raise SpecError(diagnostics.errors)
    _check_settings(two_stage, detection, network, diagnostics)
    diagnostics.check()
    return two_stage


# ------------------------------------------------------------------ settings, one by one

def _read_part(raw: Any, span: Span, where: str, keys: dict[str, tuple], diagnostics: Diagnostics
               ) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if not isinstance(raw, Map):
        diagnostics.error(span, f"'{where}' must be a mapping of {', '.join(keys)}")
        return values
    for key in raw:
        if key not in keys:
            diagnostics.error(raw.key_span(key), f"unknown key '{key}' in '{where}'",
                              hint=f"'{where}' takes {', '.join(keys)}")
    for key, (kind, minimum, maximum) in keys.items():
        if key not in raw:
            diagnostics.error(raw.span, f"'{where}' has no '{key}'",
                              hint="every threshold and sample size of a detector is written in its spec")
            continue
        try:
            values[key] = _read_value(raw[key], raw.value_span(key), f"{where}.{key}", kind, minimum, maximum)
        except SpecError as error:
            diagnostics.extend(error)
    values["spans"] = {key: raw.value_span(key) for key in raw}
    return values


def _read_value(raw: Any, span: Span, what: str, kind: str, minimum: Any, maximum: Any) -> Any:
    if kind == "name":
        if not isinstance(raw, str):
            raise SpecError.at(span, f"'{what}' must name a layer or an output of the network, got {raw!r}")
        return raw
    if kind.endswith("floats"):
        numbers = raw if isinstance(raw, list) else None
        if numbers is None or not numbers or any(isinstance(n, bool) or not isinstance(n, (int, float))
                                                 for n in numbers):
            raise SpecError.at(span, f"'{what}' must be a list of numbers, got {raw!r}")
        if kind.startswith("positive") and min(numbers) <= 0:
            raise SpecError.at(span, f"'{what}' must hold positive numbers, got {raw!r}")
        return [float(n) for n in numbers]
    if kind == "fraction":
        value = typed_value(raw, "float", {}, span, f"'{what}'")
        if not 0 < value <= 1:
            raise SpecError.at(span, f"'{what}' must be in (0, 1], got {raw!r}",
                               hint="the largest share of positives in a sample: above 0, at most 1")
        return value
    if kind == "phases":
        if not isinstance(raw, Map) or set(raw) != set(PHASES):
            raise SpecError.at(span, f"'{what}' must be {{train: N, test: N}}, got {raw!r}",
                               hint="how many to keep while training and while testing")
        return {phase: typed_value(raw[phase], "int", {}, raw.value_span(phase), f"'{what}.{phase}'",
                                   minimum=minimum) for phase in PHASES}
    return typed_value(raw, kind, {}, span, f"'{what}'", minimum=minimum, maximum=maximum)


# ------------------------------------------------------------------ the body's parts

def _structure(network: Any, detection: Detection, parts: dict[str, dict], diagnostics: Diagnostics
               ) -> TwoStage | None:
    root = network.root
    rpn_head, rpn_outputs = _rpn_head(network, detection, diagnostics)
    roi = parts["roi_heads"]
    align = root.node(roi["roi_align"])
    if align is None or align.op != "roi_align":
        what = "is not a layer of the body" if align is None else f"is a {align.op}, not a roi_align"
        diagnostics.error(roi["spans"]["roi_align"], f"RoI Align '{roi['roi_align']}' {what}",
                          hint="name the roi_align layer that crops the proposals")
    box_head, box_outputs = _box_head(network, roi, diagnostics)
    if rpn_head is None or align is None or box_head is None or diagnostics.errors:
        return None
    backbone = root.nodes[0]
    expected = [backbone.name, rpn_head, align.name, box_head]
    if [n.name for n in root.nodes] != expected:
        diagnostics.error(root.span, "a two-stage detector's body is four layers, in this order: the backbone, "
                          f"the RPN head '{rpn_head}', the roi_align '{align.name}' and the box head "
                          f"'{box_head}'; this one has {', '.join(repr(n.name) for n in root.nodes)}",
                          hint="put the backbone's layers in a group")
        return None
    head = root.node(rpn_head)
    for what, node in (("the RPN head", head), ("RoI Align", align)):
        foreign = [i for i in node.inputs if i != backbone.name and not i.startswith(backbone.name + ".")]
        if foreign:
            diagnostics.error(node.span, f"{what} '{node.name}' reads {', '.join(foreign)}, which the backbone "
                              f"'{backbone.name}' does not produce", hint="read the backbone's levels")
            return None
    return TwoStage(backbone=backbone.name, rpn_head=rpn_head, rpn_outputs=rpn_outputs,
                    rpn_levels=list(head.inputs), roi_align=align.name, roi_levels=list(align.inputs),
                    box_head=box_head, box_outputs=box_outputs, transform=parts["transform"], rpn=parts["rpn"],
                    roi_heads=roi)


def _producer(network: Any, output: str) -> tuple[str, str] | None:
    """(layer, key) of a network output that is one output of a group in the body: `rpn.objectness0`."""
    names = network.root.output_names()
    value = network.root.outputs[names.index(output)] if output in names else output
    found = network.root.output_of(network.root.value(value))
    if found is None or found[0].child.kind != "group":
        return None
    return found[0].name, found[1]


def _rpn_head(network: Any, detection: Detection, diagnostics: Diagnostics
              ) -> tuple[str | None, list[tuple[str, str]]]:
    """The group that computes every level's maps: one layer for all levels (the shared head)."""
    heads: set[str] = set()
    outputs: list[tuple[str, str]] = []
    for level in detection.levels:
        scores, boxes = (_producer(network, level.outputs[role]) for role in ("scores", "boxes"))
        if scores is None or boxes is None:
            diagnostics.error(level.span, f"level {level.index}'s maps must be outputs of the RPN head, a group "
                              "of the body", hint="e.g. {scores: objectness0, boxes: deltas0} for the outputs "
                              "of a group 'rpn'")
            return None, []
        heads.update((scores[0], boxes[0]))
        outputs.append((scores[1], boxes[1]))
    if len(heads) != 1:
        diagnostics.error(detection.span, f"the levels read the outputs of {len(heads)} layers "
                          f"({', '.join(sorted(heads))}); a two-stage detector has one RPN head for all levels",
                          hint="compute every level's maps in one group")
        return None, []
    head = heads.pop()
    count = len(network.root.node(head).inputs)
    if count != len(detection.levels):
        diagnostics.error(detection.span, f"the RPN head '{head}' reads {count} levels, but 'detect' describes "
                          f"the anchors of {len(detection.levels)}", hint="one level entry per map the head reads")
        return None, []
    return head, outputs


def _box_head(network: Any, roi: dict[str, Any], diagnostics: Diagnostics
              ) -> tuple[str | None, tuple[str, str]]:
    found = []
    for role in ("scores", "boxes"):
        producer = _producer(network, roi[role])
        if producer is None:
            diagnostics.error(roi["spans"][role], f"roi_heads.{role} '{roi[role]}' must be an output of the "
                              "box head, a group of the body", hint="declare the box head's outputs in the "
                              "network's 'outputs'")
            return None, ("", "")
        found.append(producer)
    if found[0][0] != found[1][0]:
        diagnostics.error(roi["spans"]["boxes"], f"the class scores come from '{found[0][0]}' and the deltas "
                          f"from '{found[1][0]}': one box head computes both")
        return None, ("", "")
    return found[0][0], (found[0][1], found[1][1])


def _check_settings(two_stage: TwoStage, detection: Detection, network: Any, diagnostics: Diagnostics) -> None:
    """What makes sense only together: thresholds in order, a box head as wide as the classes."""
    for part in (two_stage.rpn, two_stage.roi_heads):
        if part["bg_iou_thresh"] > part["fg_iou_thresh"]:
            diagnostics.error(part["spans"]["bg_iou_thresh"],
                              f"bg_iou_thresh {part['bg_iou_thresh']} is above fg_iou_thresh "
                              f"{part['fg_iou_thresh']}: a box would be negative and positive at once",
                              hint="negatives are below bg_iou_thresh, positives at or above fg_iou_thresh")
    transform = two_stage.transform
    if len(transform["mean"]) != len(transform["std"]) or len(transform["mean"]) != network.input_shape[0]:
        diagnostics.error(transform["spans"]["std"], f"the transform has {len(transform['mean'])} means and "
                          f"{len(transform['std'])} standard deviations for {network.input_shape[0]} channels",
                          hint="one of each per input channel")
    if transform["min_size"] > transform["max_size"]:
        diagnostics.error(transform["spans"]["min_size"], f"min_size {transform['min_size']} is above "
                          f"max_size {transform['max_size']}")
    box_head = network.root.node(two_stage.box_head).child
    shapes = dict(zip(box_head.output_names(), (box_head.value_shape(o) for o in box_head.outputs)))
    scores, deltas = (shapes[key] for key in two_stage.box_outputs)
    classes = detection.classes
    if scores != (classes,) or deltas != (4 * classes,):
        diagnostics.error(two_stage.roi_heads["spans"]["scores"], f"the box head gives {_size(scores)} class "
                          f"scores and {_size(deltas)} deltas per region; {classes} classes need {classes} and "
                          f"{4 * classes}", hint="'classes' counts the background, as torchvision does")


def _size(shape: tuple[int, ...] | None) -> str:
    return "x".join(map(str, shape)) if shape else "no"
