"""A two-stage detector's network class: its runtime parts in __init__ and a forward that reads like the
lecture's figure (transform, backbone, RPN, proposals, RoI Align, box head, losses or detections).

The runtime itself (archspec/runtime/two_stage.py) is tested Python whose source is copied into the
emitted file; this module writes only the lines that depend on the spec: the settings and the names of
the layers that play each part.
"""

from __future__ import annotations

from pathlib import Path

from ...ir.detector import TwoStageDetector
from ...ir.graph import Network
from ..writer import LineWriter

DETECTOR_IMPORTS = "from torchvision.ops import MultiScaleRoIAlign, batched_nms, box_iou, clip_boxes_to_image, " \
                   "remove_small_boxes"
DETECTOR_TYPING = {"Dict", "List", "Optional", "Tuple"}
RUNTIME = Path(__file__).resolve().parents[2] / "runtime" / "two_stage.py"
RUNTIME_MARKER = "# ---\n"


def runtime_source() -> str:
    """The runtime's classes and functions: what follows the marker line of its module."""
    text = RUNTIME.read_text()
    return text[text.index(RUNTIME_MARKER) + len(RUNTIME_MARKER):].strip("\n") + "\n"


def write_detector_parts(writer: LineWriter, detector: TwoStageDetector) -> None:
    """The parts of __init__ without weights: transform, anchors, proposal stage, second-stage settings."""
    t, rpn, roi = detector.transform, detector.rpn, detector.roi_heads
    writer.line(f"self.transform = DetectionTransform(min_size={t['min_size']}, max_size={t['max_size']}, "
                f"image_mean={t['image_mean']!r},")
    writer.line(f"                                    image_std={t['image_std']!r}, "
                f"size_divisible={t['size_divisible']})")
    writer.line(f"self.anchor_generator = AnchorGenerator(sizes={rpn['sizes']!r}, "
                f"aspect_ratios={rpn['aspect_ratios']!r})")
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
    writer.line(f"bbox_reg_weights={tuple(roi['bbox_reg_weights'])!r},")
    writer.line(f"score_thresh={roi['score_thresh']!r}, nms_thresh={roi['nms_thresh']!r}, "
                f"detections_per_img={roi['detections_per_img']!r})")
    writer.outdent()


def write_detector_forward(writer: LineWriter, network: Network) -> None:
    detector: TwoStageDetector = network.detector
    root = network.root
    feature = _feature_names(detector, network)
    head = root.node(detector.rpn_head).child
    head_keys = head.output_names()
    levels = ", ".join(feature(ref) for ref in detector.rpn_levels)
    crops = ", ".join(f"{str(i)!r}: {feature(ref)}" for i, ref in enumerate(detector.roi_levels))
    scores, deltas = detector.box_outputs
    lines = f'''
def forward(self, images: List[Tensor], targets: Optional[List[Dict[str, Tensor]]] = None):
    """Evaluation: a list of {{boxes, labels, scores}} per image, boxes in the images' own pixels.
    Training (with `targets`, a {{boxes, labels}} per image): the four losses.
    The calling convention of torchvision's detectors, so that one can replace the other."""
    original_sizes = [(image.shape[-2], image.shape[-1]) for image in images]
    batch, image_sizes, targets = self.transform(images, targets)

    features = self.{detector.backbone}(batch)
    levels = [{levels}]

    # Stage one: objectness and box deltas for every anchor, decoded and selected into proposals.
    rpn = self.{detector.rpn_head}({levels})
    objectness = [{", ".join(f"rpn[{k!r}]" for k in head_keys[0::2])}]
    deltas = [{", ".join(f"rpn[{k!r}]" for k in head_keys[1::2])}]
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
    if self.training:
        losses.update(self.detection_heads.loss(class_logits, box_regression, labels, regression_targets))
        return losses
    detections = self.detection_heads.detections(class_logits, box_regression, proposals, image_sizes)
    return self.transform.postprocess(detections, image_sizes, original_sizes)'''
    writer.block(lines.strip("\n"))


def _feature_names(detector: TwoStageDetector, network: Network):
    """How forward names a backbone output: `features['0']` for one of several, `features` for the only one."""
    backbone = network.root.node(detector.backbone)
    several = backbone.child is not None and len(backbone.child.outputs) > 1

    def name(reference: str) -> str:
        if several and reference.startswith(detector.backbone + "."):
            return f"features[{reference[len(detector.backbone) + 1:]!r}]"
        return "features"
    return name
