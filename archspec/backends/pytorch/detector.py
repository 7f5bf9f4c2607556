"""A two-stage detector's network class: its runtime parts in __init__ and a forward that reads like the
lecture's figure (transform, backbone, RPN, proposals, RoI Align, box head, losses or detections).

The runtime itself (archspec/runtime/two_stage.py) is tested Python whose source is copied into the
emitted file; this module writes only the lines that depend on the spec: the settings and the names of
the layers that play each part.
"""

from __future__ import annotations

import ast
from pathlib import Path

from ...detection.spec import Detection
from ...detection.two_stage import TwoStage
from ...ir.graph import Network
from ..writer import LineWriter

DETECTOR_IMPORTS = "from torchvision.ops import MultiScaleRoIAlign, batched_nms, box_iou, clip_boxes_to_image, " \
                   "remove_small_boxes"
DETECTOR_TYPING = {"Dict", "List", "Optional", "Tuple"}
RUNTIME = Path(__file__).resolve().parent / "runtime"
RUNTIME_MARKER = "# ---\n"


def runtime_source() -> str:
    """The runtime of a two-stage detector: the functions of `boxes` it uses, then its own classes and
    functions (what follows the marker line of `two_stage.py`). Read as text: building imports no torch."""
    text = (RUNTIME / "two_stage.py").read_text()
    uses = _assigned_names(text, "USES")
    shared = _functions((RUNTIME / "boxes.py").read_text(), uses)
    own = text[text.index(RUNTIME_MARKER) + len(RUNTIME_MARKER):].strip("\n")
    return "\n\n\n".join([*shared, own]) + "\n"


def _assigned_names(text: str, variable: str) -> tuple[str, ...]:
    for node in ast.parse(text).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == variable for t in node.targets):
            return tuple(ast.literal_eval(node.value))
    raise LookupError(f"the runtime does not set {variable}")


def _functions(text: str, names: tuple[str, ...]) -> list[str]:
    """The source of the named top-level functions of a module, in the order given."""
    found = {node.name: ast.get_source_segment(text, node) for node in ast.parse(text).body
             if isinstance(node, ast.FunctionDef)}
    return [found[name] for name in names]


def write_detector_parts(writer: LineWriter, network: Network) -> None:
    """The parts of __init__ without weights: transform, anchors, proposal stage, second-stage settings."""
    detection: Detection = network.detection
    two_stage: TwoStage = network.two_stage
    t, rpn, roi = two_stage.transform, two_stage.rpn, two_stage.roi_heads
    sizes = [list(level.sizes) for level in detection.levels]
    ratios = [list(level.aspect_ratios) for level in detection.levels]
    writer.line(f"self.transform = DetectionTransform(min_size={t['min_size']}, max_size={t['max_size']}, "
                f"image_mean={t['mean']!r},")
    writer.line(f"                                    image_std={t['std']!r}, "
                f"size_divisible={t['size_divisible']})")
    writer.line(f"self.anchor_generator = AnchorGenerator(sizes={sizes!r},")
    writer.line(f"                                        aspect_ratios={ratios!r})")
    writer.line("self.region_proposals = RegionProposals(")
    writer.indent()
    writer.line(f"pre_nms_top_n={rpn['pre_nms_top_n']!r}, post_nms_top_n={rpn['post_nms_top_n']!r},")
    writer.line(f"nms_thresh={rpn['nms_thresh']!r}, score_thresh={rpn['score_thresh']!r},")
    writer.line(f"fg_iou_thresh={rpn['fg_iou_thresh']!r}, bg_iou_thresh={rpn['bg_iou_thresh']!r},")
    writer.line(f"batch_size_per_image={rpn['batch_size_per_image']!r}, "
                f"positive_fraction={rpn['positive_fraction']!r})")
    writer.outdent()
    writer.line("self.detection_heads = DetectionHeads(")
    writer.indent()
    writer.line(f"fg_iou_thresh={roi['fg_iou_thresh']!r}, bg_iou_thresh={roi['bg_iou_thresh']!r},")
    writer.line(f"batch_size_per_image={roi['batch_size_per_image']!r}, "
                f"positive_fraction={roi['positive_fraction']!r},")
    writer.line(f"bbox_reg_weights={tuple(detection.box_weights)!r},")
    writer.line(f"score_thresh={detection.confidence!r}, nms_thresh={detection.iou!r}, "
                f"detections_per_img={detection.top_k!r})")
    writer.outdent()


def write_detector_forward(writer: LineWriter, network: Network) -> None:
    detector: TwoStage = network.two_stage
    feature = _feature_names(detector, network)
    levels = ", ".join(feature(ref) for ref in detector.rpn_levels)
    crops = ", ".join(f"{str(i)!r}: {feature(ref)}" for i, ref in enumerate(detector.roi_levels))
    scores, deltas = detector.box_outputs
    lines = f'''
def forward(self, images: List[Tensor], targets: Optional[List[Dict[str, Tensor]]] = None
            ) -> Tuple[Dict[str, Tensor], List[Dict[str, Tensor]]]:
    """Evaluation: a list of {{boxes, labels, scores}} per image, boxes in the images' own pixels.
    Training (with `targets`, a {{boxes, labels}} per image): the four losses.
    The calling convention of torchvision's detectors, so that one can replace the other."""
    original_sizes = [(image.shape[-2], image.shape[-1]) for image in images]
    batch, image_sizes, targets = self.transform(images, targets)

    features = self.{detector.backbone}(batch)
    levels = [{levels}]

    # Stage one: objectness and box deltas for every anchor, decoded and selected into proposals.
    rpn = self.{detector.rpn_head}({levels})
    objectness = [{", ".join(f"rpn[{o!r}]" for o, _ in detector.rpn_outputs)}]
    deltas = [{", ".join(f"rpn[{d!r}]" for _, d in detector.rpn_outputs)}]
    anchors = self.anchor_generator(batch, levels)
    proposals = self.region_proposals(anchors, objectness, deltas, image_sizes)

    losses: Dict[str, Tensor] = {{}}
    labels, regression_targets = torch.empty(0), torch.empty(0)
    if self.training:
        if targets is None:
            raise ValueError("in training mode the detector needs targets: a {{boxes, labels}} per image")
        losses.update(self.region_proposals.loss(anchors, objectness, deltas, targets))
        proposals, labels, regression_targets = self.detection_heads.select_training_samples(proposals, targets)

    # Stage two: every proposal cropped from its level, classified and refined per class.
    regions = self.{detector.roi_align}({{{crops}}}, proposals, image_sizes)
    heads = self.{detector.box_head}(regions)
    class_logits, box_regression = heads[{scores!r}], heads[{deltas!r}]
    detections: List[Dict[str, Tensor]] = []
    if self.training:
        losses.update(self.detection_heads.loss(class_logits, box_regression, labels, regression_targets))
    else:
        detections = self.detection_heads.detections(class_logits, box_regression, proposals, image_sizes)
        detections = self.transform.postprocess(detections, image_sizes, original_sizes)
    if torch.jit.is_scripting():
        return losses, detections  # TorchScript needs one return type: both, as torchvision's detectors do
    return self.eager_outputs(losses, detections)

@torch.jit.unused
def eager_outputs(self, losses: Dict[str, Tensor], detections: List[Dict[str, Tensor]]
                  ) -> Tuple[Dict[str, Tensor], List[Dict[str, Tensor]]]:
    """The losses in training, the detections in evaluation (the annotation is TorchScript's)."""
    return losses if self.training else detections  # type: ignore[return-value]'''
    writer.block(lines.strip("\n"))


def _feature_names(detector: TwoStage, network: Network):
    """How forward names a backbone output: `features['0']` for one of several, `features` for the only one."""
    backbone = network.root.node(detector.backbone)
    several = backbone.child is not None and len(backbone.child.outputs) > 1

    def name(reference: str) -> str:
        if several and reference.startswith(detector.backbone + "."):
            return f"features[{reference[len(detector.backbone) + 1:]!r}]"
        return "features"
    return name
