"""archspec's speed, measured: run `python benchmarks/run.py` from the repository root.

(a) Whole-process time of `archspec flops` on resnet50 and resnet152 against
    fvcore's FlopCountAnalysis and torchinfo's summary of the torchvision model,
    each in a fresh process (median of several runs), as ratios.
(b) validate + flops + rf in one process for generated chains of 1,000 and
    10,000 layers (conv and ReLU pairs, and a unit of every kind of op), and the
    growth ratio between them.

fvcore and torchinfo come with `pip install -e ".[bench]"`. Results and the
machine they came from are recorded in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable

FVCORE = """
import torch, torchvision
from fvcore.nn import FlopCountAnalysis
model = getattr(torchvision.models, "{name}")(weights=None).eval()
analysis = FlopCountAnalysis(model, torch.zeros(1, 3, 224, 224))
analysis.unsupported_ops_warnings(False); analysis.uncalled_modules_warnings(False)
print(analysis.total(), sum(p.numel() for p in model.parameters()))
"""

TORCHINFO = """
import torch, torchvision
from torchinfo import summary
model = getattr(torchvision.models, "{name}")(weights=None).eval()
result = summary(model, input_size=(1, 3, 224, 224), verbose=0)
print(result.total_mult_adds, result.total_params)
"""

CHAIN = """name: chain{layers}
input: [16, 32, 32]
body:
  - repeat:
      count: {pairs}
      body:
        - conv: {{out: 16, kernel: 3, padding: 1}}
        - relu
"""

# The same length built from every kind of op: frozen batch norm and the newer activations, a split with two
# outputs, a channel shuffle, a squeeze-and-excitation gate broadcast by `mul`, layer norm, layer scale and
# stochastic depth on a residual, and pixel (un)shuffle: 20 layers per unit.
MIX = """name: mix{layers}
input: [16, 32, 32]
body:
  - repeat:
      count: {units}
      body:
        - conv: {{name: "c{{i}}", out: 16, kernel: 3, padding: 1}}
        - frozen_bn
        - hardswish
        - split: {{name: "s{{i}}", chunks: 2}}
        - conv: {{from: "s{{i}}.1", out: 8, kernel: 1}}
        - silu
        - concat: {{from: ["s{{i}}.0", _]}}
        - channel_shuffle: {{name: "j{{i}}", groups: 2}}
        - adaptive_avgpool: {{size: 1}}
        - conv: {{out: 4, kernel: 1}}
        - relu
        - conv: {{out: 16, kernel: 1}}
        - hardsigmoid
        - mul: {{from: ["j{{i}}", _]}}
        - layer_norm
        - scale: {{init: 1e-6}}
        - stochastic_depth: {{p: 0.1}}
        - add: {{from: [_, "c{{i}}"]}}
        - pixel_unshuffle: {{factor: 2}}
        - pixel_shuffle: {{factor: 2}}
"""

ANALYSE = """
import sys, time
start = time.perf_counter()
from archspec.compiler import compile_spec
from archspec.passes.cost import analyse_cost
from archspec.passes.receptive_field import receptive_fields
from archspec.passes.shapes import check_input
imported = time.perf_counter()
network = compile_spec(sys.argv[1])
check_input(network, network.input_shape)
analyse_cost(network)
receptive_fields(network)
print(imported - start, time.perf_counter() - imported)
"""


def timed(command: list[str], runs: int) -> float:
    """Median wall time of a command, each run in a fresh process."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def tools_comparison(runs: int) -> list[str]:
    lines = ["| model | archspec flops | fvcore | torchinfo | fvcore / archspec | torchinfo / archspec |",
             "|---|---|---|---|---|---|"]
    for name in ("resnet50", "resnet152"):
        ours = timed([PYTHON, "-m", "cli.main", "flops", f"specs/resnet/{name}.yaml", "--json"], runs)
        fvcore = timed([PYTHON, "-c", FVCORE.format(name=name)], runs)
        torchinfo = timed([PYTHON, "-c", TORCHINFO.format(name=name)], runs)
        lines.append(f"| {name} | {ours:.2f} s | {fvcore:.2f} s | {torchinfo:.2f} s | {fvcore / ours:.1f}x | "
                     f"{torchinfo / ours:.1f}x |")
    return lines


def scaling(runs: int) -> list[str]:
    lines = ["| network | layers | validate + flops + rf (in process) | import | whole `archspec flops` process |",
             "|---|---|---|---|---|"]
    growth = []
    with tempfile.TemporaryDirectory() as folder:
        for kind, template, per_unit in (("conv + ReLU chain", CHAIN, 2), ("every op", MIX, 20)):
            results = {}
            for layers in (1000, 10000):
                path = Path(folder) / f"{template.split()[1].format(layers=layers)}.yaml"
                path.write_text(template.format(layers=layers, pairs=layers // 2, units=layers // per_unit))
                samples = []
                for _ in range(runs):
                    output = subprocess.run([PYTHON, "-c", ANALYSE, str(path)], cwd=ROOT, check=True,
                                            capture_output=True, text=True).stdout.split()
                    samples.append((float(output[0]), float(output[1])))
                imported = statistics.median(s[0] for s in samples)
                analysed = statistics.median(s[1] for s in samples)
                process = timed([PYTHON, "-m", "cli.main", "flops", str(path), "--json"], runs)
                results[layers] = analysed
                lines.append(f"| {kind} | {layers:,} | {analysed:.3f} s | {imported:.3f} s | {process:.2f} s |")
            growth.append(f"growth ratio 1,000 -> 10,000 layers, {kind}: {results[10000] / results[1000]:.1f}")
    return lines + [""] + growth


RENDERS = [  # (spec, level, format)
    ("specs/resnet/resnet50.yaml", "stage", "svg"),
    ("specs/resnet/resnet50.yaml", "block", "svg"),
    ("specs/resnet/resnet50.yaml", "layer", "svg"),
    ("specs/resnet/resnet50.yaml", "stage", "png"),
    ("specs/resnet/resnet152.yaml", "layer", "svg"),
    ("specs/unet/unet.yaml", "stage", "pdf"),
    ("specs/resnet/resnet50_fpn.yaml", "layer", "svg"),
]


def rendering(runs: int) -> list[str]:
    """Whole-process time of `archspec render`: compile, analyse, lay out with Graphviz, write."""
    lines = ["| spec | level | format | whole `archspec render` process |", "|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as folder:
        for spec, level, fmt in RENDERS:
            out = Path(folder) / f"diagram.{fmt}"
            seconds = timed([PYTHON, "-m", "cli.main", "render", spec, "-o", str(out), "--level", level,
                             "--show", "shapes,params,macs"], runs)
            lines.append(f"| {Path(spec).stem} | {level} | {fmt} | {seconds:.2f} s |")
        # archspec's own part at scale: the DOT text of a 10,000-layer chain, every level (no Graphviz).
        chain = Path(folder) / "chain10000.yaml"
        chain.write_text(CHAIN.format(layers=10000, pairs=5000))
        for level in ("stage", "block", "layer"):
            seconds = timed([PYTHON, "-m", "cli.main", "render", str(chain), "-o", str(Path(folder) / "c.dot"),
                             "--level", level, "--show", "shapes,params,macs"], runs)
            lines.append(f"| chain of 10,000 layers | {level} | dot | {seconds:.2f} s |")
    return lines


SECTIONS = {"tools": tools_comparison, "scaling": scaling, "render": rendering}


def machine() -> str:
    return (f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per measurement (median is reported)")
    parser.add_argument("--only", choices=sorted(SECTIONS), action="append",
                        help="run only this section (repeatable); default: all")
    args = parser.parse_args()
    print(f"machine: {machine()}\n")
    for name in args.only or SECTIONS:
        print("\n".join(SECTIONS[name](args.runs)))
        print()


if __name__ == "__main__":
    main()
