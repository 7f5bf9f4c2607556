"""Train a reduced-width YOLOv2 on the synthetic detection set for a few minutes and report mAP@0.5.

    python benchmarks/train_yolov2.py [--minutes 4] [--base 8] [--size 128] [--out benchmarks/images]

The network is `specs/yolo/yolov2.yaml` with `base` (the first layer's width, 32 in Darknet) lowered,
built by archspec into a temporary file, trained with Adam on `synthetic_detection` images (three
shape classes on textured backgrounds, generated, nothing downloaded) and evaluated on held-out
images of the same generator with archspec.detection.evaluate (mAP at IoU 0.5, all-point AP). The
loss curve is drawn as a PNG with Pillow. Results are recorded in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def build(base: int, size: int, classes: int, folder: Path):
    from archspec.backends.pytorch import emit_pytorch
    from archspec.compiler import compile_spec

    variant = folder / "yolov2_slim.yaml"
    variant.write_text(f"archspec: 1\nextends: yolov2.yaml\nname: yolov2_slim\ninput: [3, {size}, {size}]\n"
                       f"params: {{base: {base}, num_classes: {classes}}}\n")
    network = compile_spec(variant, spec_path=(ROOT / "specs/yolo",))
    module_path = folder / "yolov2_slim.py"
    module_path.write_text(emit_pytorch(network))
    spec = importlib.util.spec_from_file_location("yolov2_slim", module_path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return network, module.yolov2_slim()


def loss_curve_png(steps: list[int], losses: list[float], title: str) -> bytes:
    """A plain line plot of the training loss (log scale), drawn with Pillow."""
    import math

    from PIL import Image, ImageDraw

    width, height, margin = 800, 450, 60
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    logs = [math.log10(max(v, 1e-6)) for v in losses]
    low, high = math.floor(min(logs)), math.ceil(max(logs))
    high = high if high > low else low + 1
    last = max(steps[-1], 1)

    def point(step: int, value: float) -> tuple[float, float]:
        return (margin + (width - 2 * margin) * step / last,
                height - margin - (height - 2 * margin) * (value - low) / (high - low))

    draw.rectangle([margin, margin, width - margin, height - margin], outline="black")
    for decade in range(low, high + 1):
        y = point(0, decade)[1]
        draw.line([margin, y, width - margin, y], fill=(220, 220, 220))
        draw.text((8, y - 6), f"1e{decade}", fill="black")
    for fraction in (0, 0.25, 0.5, 0.75, 1):
        x = margin + (width - 2 * margin) * fraction
        draw.text((x - 10, height - margin + 8), f"{round(last * fraction)}", fill="black")
    draw.line([point(s, v) for s, v in zip(steps, logs)], fill=(0, 90, 180), width=2)
    draw.text((margin, 20), title, fill="black")
    draw.text((width // 2 - 40, height - 25), "optimizer step", fill="black")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=4.0)
    parser.add_argument("--base", type=int, default=8)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--train", type=int, default=512, help="training images")
    parser.add_argument("--test", type=int, default=128, help="held-out images")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "images")
    args = parser.parse_args()

    import torch

    from archspec.detection.evaluate import mean_average_precision
    from archspec.detection.synthetic import synthetic_detection

    torch.manual_seed(0)
    classes = 3
    with tempfile.TemporaryDirectory() as folder:
        network, model = build(args.base, args.size, classes, Path(folder))
    params = sum(p.numel() for p in model.parameters())
    images, targets = synthetic_detection(args.train, args.size, seed=0, first_label=0)
    test_images, test_targets = synthetic_detection(args.test, args.size, seed=1, first_label=0)
    batch_images = torch.stack(images)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=5e-4)
    steps, losses = [], []
    start, step = time.perf_counter(), 0
    model.train()
    while time.perf_counter() - start < args.minutes * 60:
        order = torch.randperm(len(images))
        for first in range(0, len(images) - args.batch + 1, args.batch):
            chosen = order[first:first + args.batch]
            batch = batch_images[chosen]
            flip = torch.rand(()) < 0.5  # a horizontal flip, boxes mirrored
            batch_targets = [targets[i] for i in chosen.tolist()]
            if flip:
                batch = batch.flip(-1)
                batch_targets = [{"boxes": torch.stack([args.size - t["boxes"][:, 2], t["boxes"][:, 1],
                                                        args.size - t["boxes"][:, 0], t["boxes"][:, 3]], 1),
                                  "labels": t["labels"]} for t in batch_targets]
            loss = sum(model.loss(model(batch), batch_targets).values())
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            steps.append(step)
            losses.append(float(loss.detach()))
            step += 1
            if time.perf_counter() - start >= args.minutes * 60:
                break
    seconds = time.perf_counter() - start
    model.eval()
    model.confidence = 0.05  # rank many detections, as mAP wants; the spec's 0.3 is for showing boxes
    with torch.no_grad():
        predictions = []
        for first in range(0, len(test_images), 32):
            predictions += model.postprocess(model(torch.stack(test_images[first:first + 32])))
    result = mean_average_precision(predictions, test_targets, 0.5)
    args.out.mkdir(parents=True, exist_ok=True)
    title = (f"yolov2 (base {args.base}, {params:,} params) on synthetic shapes at {args.size}x{args.size}: "
             f"mAP@0.5 {result['map']:.3f}")
    (args.out / "yolov2_synthetic_loss.png").write_bytes(loss_curve_png(steps, losses, title))
    window = max(1, len(losses) // 20)
    print(f"machine: {platform.machine()}, {platform.system()} {platform.release()}, Python "
          f"{platform.python_version()}, torch {torch.__version__}, threads {torch.get_num_threads()}")
    print(f"yolov2 base {args.base}: {params:,} parameters, input {args.size}, {args.train} training images, "
          f"batch {args.batch}")
    print(f"{step} steps in {seconds:.0f} s; loss {sum(losses[:window]) / window:.2f} (first {window} steps) -> "
          f"{sum(losses[-window:]) / window:.2f} (last {window})")
    print(f"mAP@0.5 on {args.test} held-out images: {result['map']:.3f}; per class "
          + ", ".join(f"{label}: {ap:.3f}" for label, ap in result["per_class"].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
