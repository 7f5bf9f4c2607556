"""A two-stage detector's network class beyond its layers: the runtime parts in __init__ and a forward that
reads like the lecture's figure (transform, backbone, RPN, proposals, RoI Align, box head, then the four
losses or the detections).

The runtime (`runtime/two_stage.py`) is tested Python whose source is copied into the emitted file; this
module writes only what depends on the spec: the settings and the names of the layers playing each part.
"""

from __future__ import annotations

import json
import textwrap

from ...detection.spec import Detection
from ...detection.two_stage import TwoStage
from ...ir.graph import Network
from .detection import DetectorParts

RUNTIME_CLASSES = ["DetectionTransform", "AnchorGenerator", "RegionProposals", "DetectionHeads"]


def faster_rcnn_parts(detection: Detection, network: Network) -> DetectorParts:
    """__init__ lines, forward and the runtime of a `faster_rcnn` detector. Its layers get no forward of
    their own: RoI Align needs the proposals, so the one forward is the detector's."""
    return DetectorParts(_init_lines(detection, network.two_stage), _forward(network), RUNTIME_CLASSES,
                         forward_name=None, typing=("Dict", "List", "Optional", "Tuple"),
                         uses=("MultiScaleRoIAlign",))


def _init_lines(detection: Detection, parts: TwoStage) -> list[str]:
    t, rpn, roi = parts.transform, parts.rpn, parts.roi_heads
    sizes = "[" + ", ".join(_numbers(level.sizes) for level in detection.levels) + "]"
    per_level = [_numbers(level.aspect_ratios) for level in detection.levels]
    # One list of ratios for every level is written once, as torchvision writes it.
    ratios = f"[{per_level[0]}] * {len(per_level)}" if len(set(per_level)) == 1 else "[" + ", ".join(per_level) + "]"
    return [
        "# What the detector does besides its layers, with the settings of the spec's `detect:` section.",
        f"self.transform = DetectionTransform(min_size={t['min_size']}, max_size={t['max_size']}, "
        f"image_mean={t['mean']!r},",
        f"                                    image_std={t['std']!r}, size_divisible={t['size_divisible']})",
        f"self.anchor_generator = AnchorGenerator(sizes={sizes}, aspect_ratios={ratios})",
        "self.region_proposals = RegionProposals(",
        f"    pre_nms_top_n={_phases(rpn['pre_nms_top_n'])}, post_nms_top_n={_phases(rpn['post_nms_top_n'])},",
        f"    nms_thresh={rpn['nms_thresh']!r}, score_thresh={rpn['score_thresh']!r},",
        f"    fg_iou_thresh={rpn['fg_iou_thresh']!r}, bg_iou_thresh={rpn['bg_iou_thresh']!r},",
        f"    batch_size_per_image={rpn['batch_size_per_image']!r}, positive_fraction={rpn['positive_fraction']!r})",
        "self.detection_heads = DetectionHeads(",
        f"    fg_iou_thresh={roi['fg_iou_thresh']!r}, bg_iou_thresh={roi['bg_iou_thresh']!r},",
        f"    batch_size_per_image={roi['batch_size_per_image']!r}, positive_fraction={roi['positive_fraction']!r},",
        f"    bbox_reg_weights={tuple(float(w) for w in detection.box_weights)!r},",
        f"    score_thresh={float(detection.confidence)!r}, nms_thresh={float(detection.iou)!r}, "
        f"detections_per_img={detection.top_k!r})",
    ]


def _forward(network: Network) -> str:
    parts: TwoStage = network.two_stage
    feature = _feature_names(parts, network)
    levels = ", ".join(feature(ref) for ref in parts.rpn_levels)
    crops = ", ".join(f"{json.dumps(str(i))}: {feature(ref)}" for i, ref in enumerate(parts.roi_levels))
    objectness = ", ".join(f"rpn[{json.dumps(o)}]" for o, _ in parts.rpn_outputs)
    deltas = ", ".join(f"rpn[{json.dumps(d)}]" for _, d in parts.rpn_outputs)
    scores, regression = parts.box_outputs
    return textwrap.dedent(f'''\
        def forward(self, images: List[Tensor], targets: Optional[List[Dict[str, Tensor]]] = None
                    ) -> Tuple[Dict[str, Tensor], List[Dict[str, Tensor]]]:
            """Evaluation: a list of {{boxes, labels, scores}} per image, boxes in the images' own pixels.
            Training (with `targets`, a {{boxes, labels}} per image): the four losses.
            The calling convention of torchvision's detectors, so that one can replace the other."""
            original_sizes = [(image.shape[-2], image.shape[-1]) for image in images]
            batch, image_sizes, targets = self.transform(images, targets)

            features = self.{parts.backbone}(batch)
            levels = [{levels}]

            # Stage one: objectness and box deltas for every anchor, decoded and selected into proposals.
            rpn = self.{parts.rpn_head}({levels})
            objectness = [{objectness}]
            deltas = [{deltas}]
            anchors = self.anchor_generator(batch, levels)
            proposals = self.region_proposals(anchors, objectness, deltas, image_sizes)

            losses: Dict[str, Tensor] = {{}}
            labels, regression_targets = torch.empty(0), torch.empty(0)
            if self.training:
                if targets is None:
                    raise ValueError("in training mode the detector needs targets: a {{boxes, labels}} per image")
                losses.update(self.region_proposals.loss(anchors, objectness, deltas, targets))
                proposals, labels, regression_targets = self.detection_heads.select_training_samples(proposals,
                                                                                                     targets)

            # Stage two: every proposal cropped from its level, classified and refined per class.
            regions = self.{parts.roi_align}({{{crops}}}, proposals, image_sizes)
            heads = self.{parts.box_head}(regions)
            class_logits, box_regression = heads[{json.dumps(scores)}], heads[{json.dumps(regression)}]
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
            """The losses in training, the detections in evaluation (annotated for TorchScript)."""
            return losses if self.training else detections  # type: ignore[return-value]
        ''')


def _phases(counts: dict[str, int]) -> str:
    """{"train": 2000, "test": 1000}, double-quoted as the rest of the file."""
    return "{" + ", ".join(f"{json.dumps(phase)}: {count}" for phase, count in counts.items()) + "}"


def _numbers(values) -> str:
    """A list of sizes or ratios, as floats: the runtime's annotations (List[List[float]]) are TorchScript's."""
    return "[" + ", ".join(repr(float(v)) for v in values) + "]"


def _feature_names(parts: TwoStage, network: Network):
    """How forward names a backbone output: `features['0']` for one of several, `features` for the only one."""
    backbone = network.root.node(parts.backbone)
    if backbone is None:
        raise ValueError(f"the backbone '{parts.backbone}' is no layer of the body (read_two_stage checks it)")
    several = backbone.child is not None and len(backbone.child.outputs) > 1

    def name(reference: str) -> str:
        if several and reference.startswith(parts.backbone + "."):
            return f"features[{json.dumps(reference[len(parts.backbone) + 1:])}]"
        return "features"
    return name
