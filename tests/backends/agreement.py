"""The differential oracle: what the analysis says about a spec is true of the module `build` writes.

Parameter and buffer counts, every named layer's output shape (forward hooks) and the FLOPs
(FlopCounterMode) of the emitted module, constructed and run on the spec's input, must equal the
analysis. On the meta device nothing is computed, so any size can be checked; a real forward pass on
CPU also catches what only computing reveals (an unpooling index out of range).
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from archspec.ir.graph import Network
from archspec.passes.cost import CostReport

from ..conftest import import_file

_counter = itertools.count()


def import_emitted(network: Network, folder: Path) -> ModuleType:
    """Write the emitted module into `folder` and import it (the file is compiled as Python first)."""
    from archspec.backends.pytorch import emit_pytorch

    source = emit_pytorch(network)
    compile(source, "<emitted>", "exec")
    target = folder / f"emitted_{next(_counter)}.py"
    target.write_text(source, encoding="utf-8")
    name = f"archspec_emitted_{target.stem}"
    try:
        return import_file(target, name)
    finally:
        sys.modules.pop(name, None)


def disagreements(network: Network, report: CostReport, model: Any, device: str) -> list[str]:
    """Every way `model` (the emitted network, on `device`) differs from the analysis `report`."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    problems = []
    params = sum(p.numel() for p in model.parameters())
    buffers = sum(b.numel() for b in model.buffers())
    if params != report.total.params:
        problems.append(f"module has {params} parameters, analysis {report.total.params}")
    if buffers != report.total.buffers:
        problems.append(f"module has {buffers} buffer elements, analysis {report.total.buffers}")
    analysed = {node.name: node.output_shape for node in report.nodes}
    seen: dict[str, tuple[int, ...]] = {}
    hooks = [module.register_forward_hook(_recorder(name, seen)) for name, module in model.named_modules()
             if name in analysed]
    counter = FlopCounterMode(display=False)
    try:
        with counter, torch.no_grad():
            model(torch.randn(1, *report.input_shape, device=device))
    finally:
        for hook in hooks:
            hook.remove()
    for name, shape in seen.items():
        if shape != (1, *analysed[name]):
            problems.append(f"layer {name} outputs {shape[1:]}, analysis {tuple(analysed[name])}")
    if counter.get_total_flops() != report.total.flops:
        problems.append(f"module computes {counter.get_total_flops()} FLOPs, analysis {report.total.flops}")
    return problems


def _recorder(name: str, seen: dict[str, tuple[int, ...]]) -> Any:
    def record(module: Any, inputs: Any, output: Any) -> None:
        if hasattr(output, "shape") and name not in seen:  # a shared module: its first use
            seen[name] = tuple(output.shape)

    return record
