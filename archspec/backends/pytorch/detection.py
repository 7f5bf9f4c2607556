"""What an emitted detector has besides its layers: the spec's `detect:` settings as attributes, and
the methods `decode`, `postprocess` and `loss` (and, for SSD, torchvision's `forward(images,
targets)`).

The methods are short and call the runtime functions (`runtime/`), whose source is copied into the
file, so the file stays standalone and every step can be read where it runs.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from typing import SupportsFloat

from ...detection.spec import FOLLOWS_CONSTRUCTOR, Detection, output_value
from ...ir.graph import Network
from ...spec import expr as ex
from .runtime import source as runtime


@dataclass
class DetectorParts:
    init_lines: list[str]  # statements at the end of __init__
    methods: str  # class-body source, unindented
    functions: list[str] = field(default_factory=list)  # runtime functions the methods call
    forward_name: str | None = "forward"  # the name of the layers' own forward; None: the layers have none
    typing: tuple[str, ...] = ("Dict", "List", "Tuple")
    uses: tuple[str, ...] = ()  # names the class's layers use that need a runtime import (MultiScaleRoIAlign)

    def helpers(self) -> list[str]:
        return runtime.functions(self.functions)

    def imports(self) -> tuple[list[str], list[str]]:
        """The file's imports besides torch's and typing's (which the file writes from what it
        uses): the standard library's (math) and torchvision.ops."""
        text = "\n".join([*self.helpers(), self.methods, *self.uses])
        lines = runtime.imports_for(text)
        return ([line for line in lines if line in ("import math",)],
                [line for line in lines if line.startswith("from torchvision")])


def detector_parts(network: Network) -> DetectorParts | None:
    detection = network.detection
    if detection is None:
        return None
    from .two_stage import faster_rcnn_parts  # it builds on this module's DetectorParts

    kinds = {"yolov1": _yolov1, "yolov2": _yolov2, "ssd": _ssd, "rpn": _rpn, "faster_rcnn": faster_rcnn_parts}
    return kinds[detection.kind](detection, network)


def _number(value: SupportsFloat) -> str:
    return repr(float(value))


def _follows_constructor(network: Network, detection: Detection, key: str, value: object) -> str:
    """A setting as code: the expression over the constructor's arguments it was written as, else
    its value."""
    assert key in FOLLOWS_CONSTRUCTOR[detection.kind], f"{detection.kind}: '{key}' is not in FOLLOWS_CONSTRUCTOR"
    text = detection.sources.get(key)
    if text is not None:
        expression = ex.parse(text)
        if ex.names_in(expression) <= set(network.params):
            return ex.to_python(expression)
    return repr(value)


def _settings(detection: Detection, network: Network) -> list[str]:
    return ["# Detection settings, from the spec's `detect:` section.",
            f"self.num_classes = {_follows_constructor(network, detection, 'classes', detection.classes)}",
            f"self.confidence = {_number(detection.confidence)}  # class-specific confidence to keep a box",
            f"self.iou = {_number(detection.iou)}  # non-maximum suppression threshold, per class",
            f"self.top_k = {detection.top_k}  # detections per image",
            f"self.candidates = {detection.candidates}  # boxes per class considered for suppression"]


def _weights(weights: dict[str, float]) -> str:
    return "{" + ", ".join(f"{key!r}: {value!r}" for key, value in weights.items()).replace("'", '"') + "}"


def _single_output(network: Network, detection: Detection) -> str:
    """How a method reaches the level's output from what forward returns."""
    name = detection.levels[0].outputs["output"]
    if len(network.root.outputs) == 1:
        return "output"
    keys = network.root.output_names()
    key = name if name in keys else keys[network.root.outputs.index(output_value(network.root, name))]
    return f"outputs[{key!r}]" if network.root.output_keys else f"outputs[{keys.index(key)}]"


def _yolo_methods(network: Network, detection: Detection, decode_call: str, loss_call: str, boxes: str) -> str:
    single = len(network.root.outputs) == 1
    argument = "output: Tensor" if single else "outputs: Dict[str, Tensor]" if network.root.output_keys \
        else "outputs: Tuple[Tensor, ...]"
    value = _single_output(network, detection)
    return textwrap.dedent(f'''\
        def decode(self, {argument}) -> Tuple[Tensor, Tensor]:
            """Boxes (N, {boxes}, 4), x1, y1, x2, y2 in input pixels, and class-specific confidences
            (N, {boxes}, C)."""
            return {decode_call.format(value=value)}

        def postprocess(self, {argument}) -> List[Dict[str, Tensor]]:
            """Per image: the boxes whose class-specific confidence exceeds self.confidence,
            non-maximum suppression per class at IoU self.iou, the self.top_k best (boxes, scores,
            labels)."""
            boxes, scores = self.decode({argument.split(":")[0]})
            return [per_class_nms(b, s, self.confidence, self.iou, self.top_k, self.candidates)
                    for b, s in zip(boxes, scores)]

        def loss(self, {argument}, targets: List[Dict[str, Tensor]]) -> Dict[str, Tensor]:
            """The loss terms for targets [{{boxes (M, 4) in input pixels, labels (M,) in 0 … C -
            1}}]; training minimises their sum."""
            return {loss_call.format(value=value)}
        ''')


def _yolov2(detection: Detection, network: Network) -> DetectorParts:
    level = detection.levels[0]
    weights = detection.loss
    anchors = ", ".join(f"({w!r}, {h!r})" for w, h in level.anchors)
    rows, columns = (s // level.stride for s in network.input_shape[1:3])
    init = _settings(detection, network) + [
        f"self.anchors = [{anchors}]  # (width, height) in grid cells",
        f"self.stride = {_number(level.stride)}  # pixels per grid cell",
        f"self.loss_weights = {_weights(weights)}"]
    loss = "yolov2_loss({value}, targets, self.anchors, self.stride, self.loss_weights)"
    boxes = f"{int(rows) * int(columns) * len(level.anchors)}"
    methods = _yolo_methods(network, detection, "yolov2_decode({value}, self.anchors, self.stride)", loss, boxes)
    return DetectorParts(init, methods, ["yolov2_decode", "yolov2_loss", "per_class_nms"])


def _yolov1(detection: Detection, network: Network) -> DetectorParts:
    level = detection.levels[0]
    grid = int(network.input_shape[1] // level.stride)
    init = _settings(detection, network) + [
        f"self.grid = {grid}  # S: cells per side",
        f"self.boxes_per_cell = {_follows_constructor(network, detection, 'boxes_per_cell', detection.boxes_per_cell)}"
        "  # B",
        f"self.image_size = {_number(network.input_shape[1])}",
        f"self.loss_weights = {_weights(detection.loss)}  # lambda_coord, lambda_noobj"]
    decode = "yolov1_decode({value}, self.grid, self.boxes_per_cell, self.image_size)"
    loss = "yolov1_loss({value}, targets, self.grid, self.boxes_per_cell, self.image_size, self.loss_weights)"
    methods = _yolo_methods(network, detection, decode, loss, f"{grid * grid * detection.boxes_per_cell}")
    return DetectorParts(init, methods, ["yolov1_decode", "yolov1_loss", "per_class_nms"])


def _ssd(detection: Detection, network: Network) -> DetectorParts:
    transform = detection.transform or {"size": None, "mean": (0.0, 0.0, 0.0), "std": (1.0, 1.0, 1.0)}
    size = transform["size"] or tuple(network.input_shape[1:3])
    ratios = [list(level.aspect_ratios) for level in detection.levels]
    init = _settings(detection, network) + [
        f"self.size = {tuple(size)!r}  # images are resized to this (height, width)",
        f"self.image_mean = {list(transform['mean'])!r}",
        f"self.image_std = {list(transform['std'])!r}",
        f"self.scales = {list(detection.scales)!r}  # default box scales, relative to the image",
        f"self.steps = {[int(l.stride) if l.stride.denominator == 1 else float(l.stride) for l in detection.levels]!r}",
        f"self.aspect_ratios = {ratios!r}",
        f"self.box_weights = {tuple(float(w) for w in detection.box_weights)!r}",
        f"self.match_iou = {detection.loss['match_iou']!r}",
        f"self.negatives_per_positive = {detection.loss['negatives_per_positive']!r}  # hard negative mining",
        f"self.score_maps = {_keys(network, detection, 'scores')}  # the outputs of each level",
        f"self.box_maps = {_keys(network, detection, 'boxes')}"]
    methods = textwrap.dedent(f'''\
        def forward(self, images: List[Tensor], targets: Optional[List[Dict[str, Tensor]]] = None
                    ) -> Union[Dict[str, Tensor], List[Dict[str, Tensor]]]:
            """torchvision's convention: `images` are (3, H, W) with values in [0, 1], of any size;
            they are normalised and resized to self.size. In training, `targets` [{{boxes, labels}}]
            in the images' pixels give the losses; in evaluation, the detections [{{boxes, scores,
            labels}}] in the images' pixels."""
            original_sizes = [(int(image.shape[-2]), int(image.shape[-1])) for image in images]
            outputs = self.head_outputs(resize_and_normalise(images, self.size, self.image_mean, self.image_std))
            if self.training:
                assert targets is not None, "training needs targets"
                resized = [{{"boxes": scale_boxes(t["boxes"], s, self.size), "labels": t["labels"]}}
                           for t, s in zip(targets, original_sizes)]
                return self.loss(outputs, resized)
            detections = self.postprocess(outputs)
            for detection, size in zip(detections, original_sizes):
                detection["boxes"] = scale_boxes(detection["boxes"], self.size, size)
            return detections

        def levels(self, outputs: Dict[str, Tensor]) -> Tuple[Tensor, Tensor, Tensor]:
            """Class scores (N, A, C) and box offsets (N, A, 4) of every default box, and the A
            default boxes (A, 4) in the pixels of the resized image."""
            scores = flatten_levels([outputs[key] for key in self.score_maps], self.num_classes)
            offsets = flatten_levels([outputs[key] for key in self.box_maps], 4)
            grids = [(int(outputs[key].shape[-2]), int(outputs[key].shape[-1])) for key in self.score_maps]
            anchors = ssd_default_boxes(self.size, grids, self.steps, self.scales, self.aspect_ratios)
            return scores, offsets, anchors.to(scores.dtype)

        def decode(self, outputs: Dict[str, Tensor]) -> Tuple[Tensor, Tensor]:
            """Boxes (N, A, 4), x1, y1, x2, y2 in the resized image, and class probabilities (N, A,
            C) (column 0: the background)."""
            scores, offsets, anchors = self.levels(outputs)
            boxes = torch.stack([decode_boxes(o, anchors, self.box_weights) for o in offsets])
            return boxes, torch.softmax(scores, dim=-1)

        def postprocess(self, outputs: Dict[str, Tensor]) -> List[Dict[str, Tensor]]:
            """Per image: boxes cut to the image, per class those above self.confidence (at most
            self.candidates), non-maximum suppression per class at IoU self.iou, the self.top_k
            best."""
            scores, offsets, anchors = self.levels(outputs)
            return ssd_detections(scores, offsets, anchors, self.size, self.box_weights, self.confidence, self.iou,
                                  self.top_k, self.candidates)

        def loss(self, outputs: Dict[str, Tensor], targets: List[Dict[str, Tensor]]) -> Dict[str, Tensor]:
            """SSD's multibox loss for targets [{{boxes (M, 4) in the resized image's pixels, labels
            (M,) in 1 … C - 1}}]: `bbox_regression` and `classification`, as torchvision names
            them."""
            scores, offsets, anchors = self.levels(outputs)
            return multibox_loss(scores, offsets, anchors, targets, self.box_weights, self.match_iou,
                                 self.negatives_per_positive)
        ''')
    functions = ["resize_and_normalise", "scale_boxes", "flatten_levels", "ssd_default_boxes", "decode_boxes",
                 "ssd_detections", "multibox_loss"]
    return DetectorParts(init, methods, functions, forward_name="head_outputs",
                         typing=("Dict", "List", "Optional", "Tuple", "Union"))


def _rpn(detection: Detection, network: Network) -> DetectorParts | None:
    # A region proposal network's proposals are the two-stage detector's business (archspec.backends.pytorch
    # runtime functions grid_anchors, decode_boxes, match_anchors); its module keeps its raw outputs.
    return None


def _keys(network: Network, detection: Detection, role: str) -> str:
    return "[" + ", ".join(f'"{output_key(network, level.outputs[role])}"' for level in detection.levels) + "]"


def output_key(network: Network, name: str) -> str:
    """The key of forward's output dictionary that a level's output names."""
    keys = network.root.output_names()
    return name if name in keys else keys[network.root.outputs.index(output_value(network.root, name))]
