"""What a two-stage detector's diagram adds to its layers, as the lecture draws Faster R-CNN: the
proposal step between the RPN and RoI Align, the four losses and the detections.

Their boxes take the place of the network's raw outputs (the maps of every level and the predictions of
every region), which are what these steps read; the losses and the detections are the outputs drawn,
as they are what the detector returns in training and in evaluation.
"""

from __future__ import annotations

from typing import Callable

from ...detection.spec import Detection
from ...ir.graph import Network
from .model import Box, Diagram, Edge

PROPOSALS_ID = ":proposals"
# The losses, each with what it compares and the role of the output it reads.
LOSSES = (
    ("loss_objectness", "RPN objectness: binary cross-entropy", "rpn", 0),
    ("loss_rpn_box_reg", "RPN box regression: smooth L1", "rpn", 1),
    ("loss_classifier", "classification: cross-entropy", "box", 0),
    ("loss_box_reg", "box regression: smooth L1", "box", 1),
)


def add_two_stage(diagram: Diagram, network: Network, ports: dict[str, tuple[str, str]],
                  add_edge: Callable[[Edge], None]) -> None:
    """Boxes and edges for the proposals, the losses and the detections; `ports` maps each network output
    key to the (box, value) that produces it."""
    parts, detection = network.two_stage, network.detection
    names = network.root.output_names()
    rpn_ports = [[ports[names[_index(network, level.outputs[role])]] for role in ("scores", "boxes")]
                 for level in detection.levels]
    box_ports = [ports[key] for key in _box_output_keys(network)]
    test = {key: parts.rpn[key]["test"] for key in ("pre_nms_top_n", "post_nms_top_n")}
    diagram.boxes.append(Box(PROPOSALS_ID, "proposals", [
        f"anchors: K = {_anchor_counts(detection)} per position · decode",
        f"top {test['pre_nms_top_n']} per level · NMS {parts.rpn['nms_thresh']:g} · top {test['post_nms_top_n']}"],
        "other", kind="layer"))
    for box_id in dict.fromkeys(port[0] for pair in rpn_ports for port in pair):
        add_edge(Edge(box_id, PROPOSALS_ID, ""))
    add_edge(Edge(PROPOSALS_ID, parts.roi_align, "", note="regions"))
    for name, what, stage, role in LOSSES:
        sources = [pair[role] for pair in rpn_ports] if stage == "rpn" else [box_ports[role]]
        box_id = f":output.{name}"  # what the detector returns: losses in training
        diagram.boxes.append(Box(box_id, name, [what], "io", kind="output"))
        for source in dict.fromkeys(port[0] for port in sources):
            add_edge(Edge(source, box_id, ""))
    diagram.boxes.append(Box(":output.detections", "detections", [  # in evaluation
        f"score > {detection.confidence:g} · NMS {detection.iou:g} per class · top {detection.top_k}"],
        "io", kind="output"))
    for source in dict.fromkeys(port[0] for port in box_ports):
        add_edge(Edge(source, ":output.detections", ""))


def _index(network: Network, output: str) -> int:
    """The position of a network output named by its key (`class_logits`) or by its value."""
    names = network.root.output_names()
    return names.index(output) if output in names else network.root.outputs.index(output)


def _box_output_keys(network: Network) -> list[str]:
    names = network.root.output_names()
    return [names[_index(network, network.two_stage.roi_heads[role])] for role in ("scores", "boxes")]


def _anchor_counts(detection: Detection) -> str:
    counts = [detection.anchors_per_cell(level) for level in detection.levels]
    return str(counts[0]) if len(set(counts)) == 1 else "/".join(map(str, counts))
