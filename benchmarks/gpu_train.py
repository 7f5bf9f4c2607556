"""Training throughput (images/s) of the emitted ResNet-50 against torchvision's on one GPU, with bf16
autocast, channels_last and torch.compile: the settings of a modern training run. Under five minutes.

    python benchmarks/gpu_train.py                 # on a machine with a GPU
    python benchmarks/gpu_train.py --smoke         # a few tiny steps on the CPU: checks the script runs

Both models are timed on the same synthetic batch with SGD, alternately in rounds so that clock and
thermal drift affect both alike; each round is `--steps` optimizer steps after compilation and
warm-up. Prints images/s of each and the ratio emitted / torchvision (1.0 means no overhead).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import torchvision

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.cpu_overhead import emitted_model  # noqa: E402


def make_step(model: torch.nn.Module, device: torch.device, compile_model: bool, amp: bool):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    forward = torch.compile(model) if compile_model else model

    def step(images: torch.Tensor, labels: torch.Tensor) -> None:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            loss = torch.nn.functional.cross_entropy(forward(images), labels)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return step


def synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def throughput(step, images, labels, steps: int, device: torch.device) -> float:
    synchronise(device)
    start = time.perf_counter()
    for _ in range(steps):
        step(images, labels)
    synchronise(device)
    return steps * len(images) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", type=Path, default=ROOT / "specs" / "resnet" / "resnet50.yaml")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--steps", type=int, default=30, help="optimizer steps per timed round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=10, help="steps before timing (compilation happens here)")
    parser.add_argument("--no-compile", action="store_true")
    parser.add_argument("--smoke", action="store_true", help="a few tiny CPU steps, without compilation")
    args = parser.parse_args()
    if args.smoke:
        args.batch, args.size, args.steps, args.rounds, args.warmup, args.no_compile = 2, 64, 2, 2, 1, True
    device = torch.device("cuda" if torch.cuda.is_available() and not args.smoke else "cpu")
    if device.type == "cpu" and not args.smoke:
        sys.exit("no GPU here: run with --smoke to check the script on the CPU")
    torch.backends.cudnn.benchmark = True
    torch.manual_seed(0)
    reference = getattr(torchvision.models, args.spec.stem)()
    ours = emitted_model(args.spec, "as-emitted")
    ours.load_state_dict(reference.state_dict())
    images = torch.randn(args.batch, 3, args.size, args.size, device=device).to(memory_format=torch.channels_last)
    labels = torch.randint(0, 1000, (args.batch,), device=device)
    steps = {}
    for name, model in (("emitted", ours), ("torchvision", reference)):
        model.to(device, memory_format=torch.channels_last).train()
        steps[name] = make_step(model, device, not args.no_compile, amp=True)
        started = time.perf_counter()
        for _ in range(args.warmup):
            steps[name](images, labels)
        synchronise(device)
        print(f"{name}: warm-up and compilation {time.perf_counter() - started:.1f} s")
    rates: dict[str, list[float]] = {"emitted": [], "torchvision": []}
    for round_ in range(args.rounds):
        order = ("emitted", "torchvision") if round_ % 2 == 0 else ("torchvision", "emitted")
        for name in order:
            rates[name].append(throughput(steps[name], images, labels, args.steps, device))
    ratios = [e / t for e, t in zip(rates["emitted"], rates["torchvision"])]
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU (smoke)"
    print(f"{where}, torch {torch.__version__}, batch {args.batch}x3x{args.size}x{args.size}, bf16 autocast, "
          f"channels_last, {'eager' if args.no_compile else 'torch.compile'}")
    for name, values in rates.items():
        print(f"{name:12s} {statistics.median(values):9.1f} images/s (rounds: "
              f"{', '.join(f'{v:.1f}' for v in values)})")
    print(f"throughput ratio emitted / torchvision: median {statistics.median(ratios):.3f} "
          f"(range {min(ratios):.3f}-{max(ratios):.3f})")


if __name__ == "__main__":
    main()
