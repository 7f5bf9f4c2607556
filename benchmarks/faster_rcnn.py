"""Faster R-CNN, emitted from its spec, against torchvision's: run `python benchmarks/faster_rcnn.py`.

`eval` (the default): the emitted fasterrcnn_resnet50_fpn and torchvision's, with the same weights, on the
same images, in one process on the CPU; alternating runs, the median of each, their ratio, and the split of
one pass between the backbone (with the transform), the RPN (head, anchors, proposals) and the second
stage (RoI Align, box head, detections), taken with forward hooks on both models.

`train`: the lecture's small Faster R-CNN (specs/detection/faster_rcnn_lecture.yaml) trained on the
synthetic detection data for a fixed time, then its mAP@0.5 on held-out synthetic images, with the shared
evaluation function (archspec.detection.evaluate).

Results and the machine they came from are in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from archspec.backends.pytorch import emit_pytorch  # noqa: E402
from archspec.compiler import compile_spec  # noqa: E402


def emitted(spec: Path, folder: Path):
    """The factory of the module `archspec build` writes for `spec`."""
    import importlib.util

    network = compile_spec(spec)
    path = folder / f"{network.name}_bench.py"
    path.write_text(emit_pytorch(network))
    loader = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(module)
    return getattr(module, network.name)


class Split:
    """Wall time from the start of a pass to the end of its backbone and of its RPN, through forward hooks."""

    def __init__(self, backbone: torch.nn.Module, rpn_end: torch.nn.Module):
        self.marks: dict[str, float] = {}
        backbone.register_forward_hook(lambda *_: self.marks.__setitem__("backbone", time.perf_counter()))
        rpn_end.register_forward_hook(lambda *_: self.marks.__setitem__("rpn", time.perf_counter()))

    def run(self, model, images) -> tuple[float, float, float, float]:
        start = time.perf_counter()
        with torch.no_grad():
            model(images)
        end = time.perf_counter()
        backbone, rpn = self.marks["backbone"] - start, self.marks["rpn"] - self.marks["backbone"]
        return end - start, backbone, rpn, end - self.marks["rpn"]


def bench_eval(runs: int, min_size: int, max_size: int) -> None:
    from torchvision.models.detection import fasterrcnn_resnet50_fpn

    torch.manual_seed(0)
    reference = fasterrcnn_resnet50_fpn(weights=None, weights_backbone=None).eval()
    with tempfile.TemporaryDirectory() as folder:
        ours = emitted(ROOT / "specs/resnet/fasterrcnn_resnet50_fpn.yaml", Path(folder))().eval()
    state = reference.state_dict()
    # Random weights score every class near 1/91, below the 0.05 threshold; a sharper classifier gives the
    # second stage detections to suppress, as trained weights would.
    state["roi_heads.box_predictor.cls_score.weight"] *= 40
    reference.load_state_dict(state)
    ours.load_state_dict(state)
    reference.transform.min_size, reference.transform.max_size = (min_size,), max_size
    ours.transform.min_size, ours.transform.max_size = min_size, max_size
    generator = torch.Generator().manual_seed(1)
    images = [torch.rand(3, 480, 640, generator=generator), torch.rand(3, 512, 384, generator=generator)]
    sides = {"emitted": (ours, Split(ours.backbone, ours.region_proposals)),
             "torchvision": (reference, Split(reference.backbone, reference.rpn))}
    times: dict[str, list[tuple[float, ...]]] = {name: [] for name in sides}
    for name, (model, split) in sides.items():  # warm-up
        split.run(model, images)
    for _ in range(runs):
        for name, (model, split) in sides.items():
            times[name].append(split.run(model, images))
    print(f"eval, 2 images (480x640, 512x384) resized to min_size {min_size}, max_size {max_size}; "
          f"median of {runs} runs, torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{platform.machine()}")
    print(f"{'':12} {'pass':>8} {'backbone':>9} {'RPN':>8} {'stage 2':>8}")
    medians = {}
    for name, rows in times.items():
        medians[name] = [statistics.median(column) for column in zip(*rows)]
        print(f"{name:12} " + " ".join(f"{value:8.3f}s" for value in medians[name]))
    print(f"ratio emitted / torchvision: {medians['emitted'][0] / medians['torchvision'][0]:.3f} "
          f"(parts: {', '.join(f'{a / b:.3f}' for a, b in zip(medians['emitted'][1:], medians['torchvision'][1:]))})")


def bench_train(seconds: float, width: int, lr: float, batch: int, score: float) -> None:
    from archspec.detection.evaluate import mean_average_precision
    from archspec.detection.synthetic import synthetic_detection

    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as folder:
        variant = Path(folder) / "lecture_bench.yaml"
        variant.write_text(f"extends: faster_rcnn_lecture.yaml\nname: lecture_bench\nparams: {{width: {width}}}\n")
        network = compile_spec(variant, spec_path=(ROOT / "specs/detection",))
        path = Path(folder) / "lecture_bench.py"
        path.write_text(emit_pytorch(network))
        import importlib.util

        loader = importlib.util.spec_from_file_location("lecture_bench", path)
        module = importlib.util.module_from_spec(loader)
        loader.loader.exec_module(module)
        model = module.lecture_bench()
    images, targets = synthetic_detection(256, size=80, seed=0)
    test_images, test_targets = synthetic_detection(64, size=80, seed=1)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    start, step = time.perf_counter(), 0
    curve = []
    while time.perf_counter() - start < seconds:
        index = (step * batch) % len(images)
        losses = model(images[index:index + batch], targets[index:index + batch])
        total = sum(losses.values())
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
        curve.append(total.item())
        step += 1
    elapsed = time.perf_counter() - start
    model.eval()
    # mAP ranks every detection: a low score threshold, as COCO-style evaluations use, not the spec's 0.05.
    model.detection_heads.score_thresh = score
    with torch.no_grad():
        predictions = [p for i in range(0, len(test_images), 16) for p in model(test_images[i:i + 16])]
    result = mean_average_precision(predictions, test_targets, iou_threshold=0.5)
    window = max(1, len(curve) // 10)
    print(f"train: lecture spec at width {width}, {step} steps of {batch} images in {elapsed:.0f} s "
          f"(Adam, lr {lr}); loss {statistics.mean(curve[:window]):.3f} -> "
          f"{statistics.mean(curve[-window:]):.3f}")
    kept = sum(len(p["boxes"]) for p in predictions)
    print(f"{kept} detections kept on 64 held-out images (score > {model.detection_heads.score_thresh})")
    print(f"mAP@0.5 on 64 held-out images: {result['map']:.3f}; per class "
          + ", ".join(f"{label}: {ap:.3f}" for label, ap in result["per_class"].items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", nargs="?", choices=("eval", "train"), default="eval")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--min-size", type=int, default=512)
    parser.add_argument("--max-size", type=int, default=853)
    parser.add_argument("--seconds", type=float, default=300, help="training time")
    parser.add_argument("--width", type=int, default=64, help="the lecture backbone's first width")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--score", type=float, default=0.001, help="score threshold for the evaluation")
    args = parser.parse_args()
    if args.what == "eval":
        bench_eval(args.runs, args.min_size, args.max_size)
    else:
        bench_train(args.seconds, args.width, args.lr, args.batch, args.score)


if __name__ == "__main__":
    main()
