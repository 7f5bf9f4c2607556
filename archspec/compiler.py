"""The pipeline in one place: spec file → resolved spec → IR (→ passes → backends, by the caller)."""

from __future__ import annotations

from pathlib import Path

from .errors import Diagnostic, SpecError
from .ir.graph import Network
from .ir.lower import lower, lower_partial
from .spec.loader import load_spec
from .spec.model import ResolvedSpec


def resolve_spec(path: str | Path, spec_path: tuple[str | Path, ...] = (), allow_absolute: bool = False
                 ) -> ResolvedSpec:
    """Read a spec and everything it extends or imports."""
    return load_spec(path, spec_path, allow_absolute)


def compile_spec(path: str | Path, spec_path: tuple[str | Path, ...] = (), allow_absolute: bool = False
                 ) -> Network:
    """Spec file to IR, with shapes inferred at the spec's input size; raises SpecError."""
    spec = load_spec(path, spec_path, allow_absolute)
    return attach_detection(spec, lower(spec))


def attach_detection(spec: ResolvedSpec, network: Network) -> Network:
    """Read the spec's `detect:` section, if any, and check it against the network (raises SpecError;
    its warnings join the network's)."""
    if spec.detect is not None:
        from .detection.spec import check_detection_once, parse_detection

        network.detection = parse_detection(spec.detect.value, spec.detect.span, spec.param_env())
        check_detection_once(network)
        if network.detection.kind == "faster_rcnn":
            from .detection.two_stage import read_two_stage

            network.two_stage = read_two_stage(spec.detect.value, network.detection, network)
    return network


def compile_partial(path: str | Path, spec_path: tuple[str | Path, ...] = (), allow_absolute: bool = False
                    ) -> tuple[Network, list[Diagnostic]]:
    """Like compile_spec, but a spec that loads and has errors in its layers still gives its IR, with the
    failed layers as stand-ins that carry their errors, and the errors; for diagrams of broken specs.
    Raises SpecError when the spec cannot be read at all."""
    spec = load_spec(path, spec_path, allow_absolute)
    network, diagnostics = lower_partial(spec)
    errors = diagnostics.errors
    if not errors:
        try:
            attach_detection(spec, network)
        except SpecError as error:  # a broken `detect:` section: the network is still drawn
            errors = list(error.diagnostics)
    return network, errors


def validate_spec(path: str | Path, spec_path: tuple[str | Path, ...] = (),
                  input_shape: tuple[int, ...] | None = None, allow_absolute: bool = False) -> Network:
    """Everything `build` would check, without writing: the spec, the shapes at `input_shape`
    (default: the spec's input), and whether every construct can be emitted as PyTorch code (a pass over
    the IR: nothing is emitted)."""
    from .passes.validate import validate

    network = compile_spec(path, spec_path, allow_absolute)
    validate(network, input_shape)
    return network
