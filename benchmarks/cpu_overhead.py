"""Forward+backward time of the emitted ResNet-50 against torchvision's, alternately, in one process.

    python benchmarks/cpu_overhead.py [--pairs 15] [--batch 2] [--size 224] [--spec specs/resnet/resnet50.yaml]

Each pair times one training step (forward, loss, backward) of each model on the same batch, in
alternating order so that drift in the machine's load affects both alike; the result is the median
and the spread of the per-pair time ratio emitted / torchvision. Both models start from the same
weights. The emitted residual sum is written in place, `out += identity`, as torchvision writes it;
`--variant out-of-place-add` times the emitted file with it rewritten as `out = out + identity` (what
code generation wrote before), to measure what that one difference costs.
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

import torch
import torchvision

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from archspec.backends.pytorch import emit_pytorch  # noqa: E402
from archspec.compiler import compile_spec  # noqa: E402


def emitted_model(spec: Path, variant: str) -> torch.nn.Module:
    network = compile_spec(spec)
    source = emit_pytorch(network)
    if variant == "out-of-place-add":
        source = source.replace("out += identity", "out = out + identity")
    folder = Path(tempfile.mkdtemp(prefix="archspec_bench_"))
    path = folder / f"{network.name}.py"
    path.write_text(source)
    module_spec = importlib.util.spec_from_file_location(f"bench_{network.name}", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return getattr(module, network.name)()


def step_time(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    start = time.perf_counter()
    loss = torch.nn.functional.cross_entropy(model(images), labels)
    loss.backward()
    elapsed = time.perf_counter() - start
    model.zero_grad(set_to_none=True)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", type=Path, default=ROOT / "specs" / "resnet" / "resnet50.yaml")
    parser.add_argument("--pairs", type=int, default=15)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--variant", choices=("as-emitted", "out-of-place-add"), default="as-emitted")
    args = parser.parse_args()
    torch.manual_seed(0)
    reference = getattr(torchvision.models, args.spec.stem)()
    ours = emitted_model(args.spec, args.variant)
    ours.load_state_dict(reference.state_dict())
    ours.train()
    reference.train()
    images = torch.randn(args.batch, 3, args.size, args.size)
    labels = torch.randint(0, 1000, (args.batch,))
    for model in (ours, reference):  # warm-up: allocator and kernels
        step_time(model, images, labels)
    ratios = []
    for pair in range(args.pairs):
        order = (ours, reference) if pair % 2 == 0 else (reference, ours)
        times = {id(model): step_time(model, images, labels) for model in order}
        ratios.append(times[id(ours)] / times[id(reference)])
    quartiles = statistics.quantiles(ratios, n=4)
    print(f"machine: {platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}")
    print(f"{args.spec.stem} ({args.variant}), batch {args.batch}x3x{args.size}x{args.size}, {args.pairs} pairs")
    print(f"time ratio emitted / torchvision: median {statistics.median(ratios):.3f}, "
          f"quartiles {quartiles[0]:.3f}-{quartiles[2]:.3f}, range {min(ratios):.3f}-{max(ratios):.3f}")


if __name__ == "__main__":
    main()
