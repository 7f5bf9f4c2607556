"""The emitted SSD300 against torchvision's on the CPU, in one process.

    python benchmarks/detection_speed.py [--runs 5] [--images 2]

(a) The eval pass (transform, forward, decode, per-class NMS) of `archspec build specs/ssd/ssd300_vgg16.yaml`
    and of torchvision.models.detection.ssd300_vgg16 with the same weights on the same images, alternated,
    median of the runs; the detections are checked equal first.
(b) Decode + per-class NMS alone on 8732 boxes x 21 classes (random offsets and scores): the emitted
    `ssd_detections` against torchvision's `SSD.postprocess_detections`.
"""

from __future__ import annotations

import argparse
import importlib.util
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def emitted_module(folder: Path, classes: int = 91):
    from archspec.backends.pytorch import emit_pytorch
    from archspec.compiler import compile_spec

    spec = folder / "ssd_bench.yaml"
    spec.write_text(f"archspec: 1\nextends: ssd300_vgg16.yaml\nname: ssd_bench\nparams: {{num_classes: {classes}}}\n")
    path = folder / "ssd_bench.py"
    path.write_text(emit_pytorch(compile_spec(spec, spec_path=(ROOT / "specs/ssd",))))
    loaded = importlib.util.spec_from_file_location("ssd_bench", path)
    module = importlib.util.module_from_spec(loaded)
    loaded.loader.exec_module(module)
    return module


def timed(function, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--images", type=int, default=2)
    args = parser.parse_args()

    import torch
    import torchvision

    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as folder:
        module = emitted_module(Path(folder))
        module21 = emitted_module(Path(folder), 21)
    reference = torchvision.models.detection.ssd300_vgg16(weights=None, weights_backbone=None).eval()
    ours = module.ssd_bench().eval()
    ours.load_state_dict(reference.state_dict())
    images = [torch.rand(3, 300, 300, generator=torch.Generator().manual_seed(i)) for i in range(args.images)]
    with torch.no_grad():
        a, b = ours(images), reference(images)
        assert all(torch.equal(x[k], y[k]) for x, y in zip(a, b) for k in x), "detections differ"
        ours_times, reference_times = [], []
        for _ in range(args.runs):  # alternate, so that load on the machine hits both alike
            ours_times += timed(lambda: ours(images), 1)
            reference_times += timed(lambda: reference(images), 1)
    ratio = statistics.median(ours_times) / statistics.median(reference_times)

    # (b) decode + NMS alone, 8732 x 21
    reference21 = torchvision.models.detection.ssd300_vgg16(weights=None, weights_backbone=None, num_classes=21)
    ours21 = module21.ssd_bench()
    generator = torch.Generator().manual_seed(7)
    scores = torch.randn(1, 8732, 21, generator=generator) * 3
    offsets = torch.randn(1, 8732, 4, generator=generator)
    anchors = module21.ssd_default_boxes((300, 300), [(38, 38), (19, 19), (10, 10), (5, 5), (3, 3), (1, 1)],
                                         ours21.steps, ours21.scales, ours21.aspect_ratios)
    with torch.no_grad():
        def ours_post():
            return module21.ssd_detections(scores, offsets, anchors, (300, 300), ours21.box_weights,
                                           ours21.confidence, ours21.iou, ours21.top_k, ours21.candidates)

        def reference_post():
            return reference21.postprocess_detections({"cls_logits": scores, "bbox_regression": offsets},
                                                      [anchors], [(300, 300)])
        assert all(torch.equal(ours_post()[0][k], reference_post()[0][k]) for k in ("boxes", "scores", "labels"))
        post_ours, post_reference = [], []
        for _ in range(args.runs * 4):
            post_ours += timed(ours_post, 1)
            post_reference += timed(reference_post, 1)
    print(f"machine: {platform.machine()}, {platform.system()} {platform.release()}, Python "
          f"{platform.python_version()}, torch {torch.__version__}, torchvision {torchvision.__version__}, "
          f"threads {torch.get_num_threads()}")
    print(f"(a) eval pass, {args.images} images 300x300, median of {args.runs}: emitted "
          f"{statistics.median(ours_times):.3f} s, torchvision {statistics.median(reference_times):.3f} s, "
          f"ratio {ratio:.3f}")
    print(f"(b) decode + NMS, 8732 x 21, median of {4 * args.runs}: emitted {1000 * statistics.median(post_ours):.1f} ms,"
          f" torchvision {1000 * statistics.median(post_reference):.1f} ms, "
          f"ratio {statistics.median(post_ours) / statistics.median(post_reference):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
