"""How each command grows with the size of the network: run `python benchmarks/growth.py` from the repository root.

For chains of 1,000 to 100,000 layers (conv and ReLU pairs: an unnamed `repeat`, so every layer is a stage
of its own, and a named one, so that one stage holds them all), the CPU and wall time of a whole process of
`validate`,
`build`, `summary`, `flops`, `rf`, `resolve`, `sizes` (32 sizes) and `render` (DOT text at the stage level;
SVG laid out by Graphviz at the stage and the layer level). Each run is a fresh `archspec` process writing to a
temporary folder, so the times are what a user waits for. Results and the machine are recorded in
benchmarks/README.md; the unit suite never runs this.

    python benchmarks/growth.py --layers 1000,10000,100000 [--commands validate,build,...] [--one-stage]
        [--distinct]
"""

from __future__ import annotations

import argparse
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHAIN = """archspec: 1
name: chain
input: [16, 32, 32]
body:
  - repeat:
{name}      count: {pairs}
      body:
        - conv: {{out: {width}, kernel: 3, padding: 1}}
        - relu
"""

COMMANDS = {
    "validate": ["validate", "{spec}"],
    "build": ["build", "{spec}", "-o", "{out}/chain.py", "--force"],
    "summary": ["summary", "{spec}"],
    "flops": ["flops", "{spec}"],
    "rf": ["rf", "{spec}"],
    "resolve": ["resolve", "{spec}", "--explain"],
    "sizes": ["sizes", "{spec}", "--range", "32:63"],
    "render": ["render", "{spec}", "-o", "{out}/chain.dot", "--force"],
    "render-svg": ["render", "{spec}", "-o", "{out}/chain.svg", "--force"],
    "render-layer-svg": ["render", "{spec}", "-o", "{out}/chain.svg", "--level", "layer", "--force"],
}


def chain(folder: Path, layers: int, one_stage: bool, distinct: bool) -> Path:
    """With `distinct`, the widths cycle through seven values, so that no drawing can fold the layers."""
    path = folder / f"chain{layers}{'_stage' if one_stage else ''}{'_distinct' if distinct else ''}.yaml"
    path.write_text(CHAIN.format(pairs=layers // 2, name="      name: stage\n" if one_stage else "",
                                 width="16 + i % 7" if distinct else "16"))
    return path


def timed(arguments: list[str]) -> tuple[float, float]:
    """Wall time and CPU time (user + system) of one `archspec` process; on a shared machine the CPU time
    is the steadier figure."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "cli.main", *arguments], cwd=ROOT, capture_output=True,
                            text=True)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise RuntimeError(result.stderr.strip().splitlines()[0] if result.stderr.strip() else "failed")
    return elapsed, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", default="1000,10000,100000")
    parser.add_argument("--commands", default=",".join(COMMANDS))
    parser.add_argument("--one-stage", action="store_true", help="one named repeat: a stage of all the layers")
    parser.add_argument("--distinct", action="store_true", help="widths that differ from layer to layer")
    options = parser.parse_args()
    sizes = [int(n) for n in options.layers.split(",")]
    commands = options.commands.split(",")
    print(f"# {platform.machine()}, {platform.system()} {platform.release()}, Python {platform.python_version()}, "
          f"{'one stage' if options.one_stage else 'a stage per layer'}{', distinct widths' if options.distinct else ''}")
    print("CPU time of the process (wall time in brackets)")
    print("| command | " + " | ".join(f"{n:,} layers" for n in sizes) + " |")
    print("|---|" + "---|" * len(sizes))
    with tempfile.TemporaryDirectory() as folder:
        specs = {n: chain(Path(folder), n, options.one_stage, options.distinct) for n in sizes}
        for command in commands:
            cells = []
            for n in sizes:
                arguments = [part.format(spec=specs[n], out=folder) for part in COMMANDS[command]]
                try:
                    wall, cpu = timed(arguments)
                    cells.append(f"{cpu:.2f} s ({wall:.1f} s)")
                except RuntimeError as error:
                    cells.append(f"error: {error}")
            print(f"| {command} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
