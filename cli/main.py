"""The `archspec` command: parses arguments, calls the library, prints. No logic of its own.

Exit codes: 0 success, 1 spec errors (located diagnostics on stderr, or a JSON
document with --json), 2 usage errors.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Callable, List, Optional

import typer

from archspec.errors import Diagnostic, SpecError

app = typer.Typer(
    name="archspec",
    help="Validate, analyse and compile declarative CNN specs to PyTorch.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

JSON_OPTION = typer.Option(False, "--json", help="Print one JSON document on stdout.")
INPUT_OPTION = typer.Option(None, "--input", "-i", help="Input size CxHxW (or HxW, or S for SxS).")
SPEC_PATH_OPTION = typer.Option(None, "--spec-path", help="Another folder that imports may read from.")


def _emit(document: Any) -> None:
    sys.stdout.write(json.dumps(document, indent=2) + "\n")


def _fail(error: SpecError, as_json: bool) -> None:
    if as_json:
        _emit({"ok": False, "errors": [d.to_json() for d in error.diagnostics]})
    else:
        for diagnostic in error.diagnostics:
            sys.stderr.write(diagnostic.render() + "\n")
        count = len(error.diagnostics)
        sys.stderr.write(f"{count} error{'s' if count != 1 else ''}\n")
    raise typer.Exit(1)


def _run(as_json: bool, action: Callable[[], Any]) -> Any:
    """Run `action`, turning spec errors and refused writes into exit code 1 with readable output."""
    from archspec.output import OutputError

    try:
        return action()
    except SpecError as error:
        _fail(error, as_json)
    except OutputError as error:
        if as_json:
            _emit({"ok": False, "errors": [{"message": str(error)}]})
        else:
            sys.stderr.write(f"error: {error}\n")
        raise typer.Exit(1)


def _input_shape(text: Optional[str], network: Any) -> Optional[tuple[int, ...]]:
    if text is None:
        return None
    try:
        parts = [int(p) for p in text.lower().replace(",", "x").split("x")]
    except ValueError:
        parts = []
    if not parts or len(parts) > 3 or min(parts) < 1:
        raise typer.BadParameter(f"'{text}' is not a size: write CxHxW, HxW or S", param_hint="--input")
    if len(parts) == 1:
        parts = parts * 2
    if len(parts) == 2:
        parts = [network.input_shape[0], *parts]
    return tuple(parts)


_GLOBAL = {"allow_absolute": False}


@app.callback()
def _options(
    allow_absolute_paths: bool = typer.Option(False, "--allow-absolute-paths",
                                              help="Let 'extends' and 'import' name absolute paths."),
) -> None:
    """Validate, analyse and compile declarative CNN specs to PyTorch."""
    _GLOBAL["allow_absolute"] = allow_absolute_paths


def _load_options(values: Optional[List[Path]]) -> dict[str, Any]:
    """Where a spec may read other files from: --spec-path folders, and absolute paths if allowed."""
    return {"spec_path": tuple(values or ()), "allow_absolute": _GLOBAL["allow_absolute"]}


def _warnings(diagnostics: list[Diagnostic]) -> None:
    for diagnostic in diagnostics:
        sys.stderr.write(diagnostic.render() + "\n")


@app.command()
def validate(
    specs: List[Path] = typer.Argument(..., help="Spec files to check."),
    input: Optional[str] = INPUT_OPTION,
    spec_path: Optional[List[Path]] = SPEC_PATH_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Check specs: syntax, references, types and every shape, reporting all errors with their location."""
    from archspec.compiler import compile_spec, validate_spec

    results, failed = [], []
    for spec in specs:
        try:
            shape = _input_shape(input, compile_spec(spec, **_load_options(spec_path))) if input else None
            network = validate_spec(spec, input_shape=shape, **_load_options(spec_path))
            if not as_json:
                _warnings(network.warnings)
            results.append({"spec": str(spec), "ok": True, "name": network.name,
                            "input": list(shape or network.input_shape),
                            "warnings": [d.to_json() for d in network.warnings]})
        except SpecError as error:
            failed.extend(error.diagnostics)
            results.append({"spec": str(spec), "ok": False, "errors": [d.to_json() for d in error.diagnostics]})
    if as_json:
        _emit({"ok": not failed, "specs": results})
    else:
        for result in results:
            if result["ok"]:
                sys.stdout.write(f"ok: {result['spec']} ({result['name']}, input "
                                 f"{'x'.join(map(str, result['input']))})\n")
        if failed:
            _fail(SpecError(failed), False)
    if failed:
        raise typer.Exit(1)


@app.command()
def build(
    spec: Path = typer.Argument(..., help="Spec file."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Output file (default: NAME.py)."),
    check: bool = typer.Option(False, "--check", help="Compare with the existing file instead of writing; "
                               "exit 1 if it differs."),
    force: bool = typer.Option(False, "--force", help="Overwrite a file archspec did not write, or one "
                               "edited by hand."),
    trace: bool = typer.Option(False, "--trace", help="End each submodule's line with a '# spec.yaml:12' "
                               "comment naming the spec line it came from."),
    spec_path: Optional[List[Path]] = SPEC_PATH_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Emit a standalone PyTorch module file (needs only torch to run)."""
    from archspec.backends.pytorch import emit_pytorch
    from archspec.compiler import compile_spec
    from archspec.output import refuse_overwrite, write_atomic
    from archspec.passes.cost import analyse_cost, size_warnings

    warnings: list[Diagnostic] = []

    def action() -> dict[str, Any]:
        network = compile_spec(spec, **_load_options(spec_path))
        source = emit_pytorch(network, trace=trace)
        target = output or Path(f"{network.name}.py")
        params = analyse_cost(network).total.params
        warnings.extend([*network.warnings, *size_warnings(network, params)])
        document = {"ok": True, "output": str(target), "class": network.root.class_name,
                    "factory": network.name, "params": params, "warnings": [d.to_json() for d in warnings]}
        if check:
            current = target.read_text(encoding="utf-8") if target.is_file() else None
            document["up_to_date"] = current == source
            document["ok"] = document["up_to_date"]
            return document
        refuse_overwrite(target, force)
        write_atomic(target, source)
        return document

    document = _run(as_json, action)
    if not as_json:
        _warnings(warnings)
    if as_json:
        _emit(document)
    elif check:
        state = "is up to date" if document["up_to_date"] else "differs from what the spec generates"
        sys.stdout.write(f"{document['output']} {state}\n")
    else:
        sys.stdout.write(f"wrote {document['output']}: class {document['class']}, factory "
                         f"{document['factory']}(), {document['params']:,} parameters\n")
    if not document["ok"]:
        raise typer.Exit(1)


@app.command()
def summary(
    spec: Path = typer.Argument(..., help="Spec file."),
    input: Optional[str] = INPUT_OPTION,
    spec_path: Optional[List[Path]] = SPEC_PATH_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Every layer with its output shape and parameter count."""
    from archspec.backends.report import summary_json, summary_text
    from archspec.compiler import compile_spec
    from archspec.passes.cost import analyse_cost

    def action() -> tuple[Any, Any]:
        network = compile_spec(spec, **_load_options(spec_path))
        return network, analyse_cost(network, _input_shape(input, network))

    network, report = _run(as_json, action)
    if as_json:
        _emit(summary_json(network, report))
    else:
        sys.stdout.write(summary_text(network, report) + "\n")


@app.command()
def resolve(
    spec: Path = typer.Argument(..., help="Spec file."),
    explain: bool = typer.Option(False, "--explain", help="Show where every value came from."),
    spec_path: Optional[List[Path]] = SPEC_PATH_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """The fully resolved spec: after extends, parameters, defaults and block expansion."""
    from archspec.backends.report import resolved_json, resolved_text
    from archspec.compiler import resolve_spec
    from archspec.ir.lower import lower

    def action() -> tuple[Any, Any]:
        resolved = resolve_spec(spec, **_load_options(spec_path))
        return resolved, lower(resolved)

    resolved, network = _run(as_json, action)
    if as_json:
        _emit(resolved_json(resolved, network))
    else:
        sys.stdout.write(resolved_text(resolved, network, explain) + "\n")


def _sizes(text: str, network: Any) -> list[tuple[int, ...]]:
    return [_input_shape(part, network) for part in text.split(",") if part.strip()]


@app.command()
def flops(
    spec: Path = typer.Argument(..., help="Spec file."),
    input: Optional[str] = INPUT_OPTION,
    by: str = typer.Option("layer", "--by", help="Rows per layer, block or stage."),
    top: Optional[int] = typer.Option(None, "--top", min=1, help="Also list the K costliest layers."),
    sizes: Optional[str] = typer.Option(None, "--sizes", help="Comma-separated input sizes: one row each."),
    spec_path: Optional[List[Path]] = SPEC_PATH_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Parameters, MACs, FLOPs, element-wise work and activation memory, exact, without building a model."""
    from archspec.backends import analysis
    from archspec.compiler import compile_spec
    from archspec.passes.cost import analyse_cost

    if by not in ("layer", "block", "stage"):
        raise typer.BadParameter(f"'{by}' is not one of: layer, block, stage", param_hint="--by")

    def action() -> Any:
        network = compile_spec(spec, **_load_options(spec_path))
        if sizes is not None:
            return network, analysis.sizes_rows(network, _sizes(sizes, network))
        return network, analyse_cost(network, _input_shape(input, network))

    network, result = _run(as_json, action)
    if sizes is not None:
        if as_json:
            _emit({"name": network.name, "sizes": result})
        else:
            sys.stdout.write(analysis.sizes_text(network, result) + "\n")
    elif as_json:
        _emit(analysis.flops_json(network, result, by, top))
    else:
        sys.stdout.write(analysis.flops_text(network, result, by, top) + "\n")


@app.command()
def rf(
    spec: Path = typer.Argument(..., help="Spec file."),
    input: Optional[str] = INPUT_OPTION,
    spec_path: Optional[List[Path]] = SPEC_PATH_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Receptive field, effective stride and centre offset of every layer and stage (exact rationals)."""
    from archspec.backends import analysis
    from archspec.compiler import compile_spec
    from archspec.passes.receptive_field import receptive_fields

    def action() -> Any:
        network = compile_spec(spec, **_load_options(spec_path))
        return network, receptive_fields(network, _input_shape(input, network))

    network, report = _run(as_json, action)
    if as_json:
        _emit(analysis.rf_json(network, report))
    else:
        _warnings(report.diagnostics.warnings)
        sys.stdout.write(analysis.rf_text(network, report) + "\n")


@app.command()
def compare(
    a: Path = typer.Argument(..., help="First spec."),
    b: Path = typer.Argument(..., help="Second spec."),
    input: Optional[str] = INPUT_OPTION,
    spec_path: Optional[List[Path]] = SPEC_PATH_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Two specs side by side: parameters, MACs, activations, receptive field, and the stages that differ."""
    from archspec.backends import analysis
    from archspec.compiler import compile_spec
    from archspec.passes.cost import analyse_cost
    from archspec.passes.receptive_field import receptive_fields

    def action() -> Any:
        networks = [compile_spec(path, **_load_options(spec_path)) for path in (a, b)]
        shapes = [_input_shape(input, network) for network in networks]
        costs = [analyse_cost(n, s) for n, s in zip(networks, shapes)]
        fields = [receptive_fields(n, s) for n, s in zip(networks, shapes)]
        return analysis.compare_json(networks, costs, fields)

    document = _run(as_json, action)
    if as_json:
        _emit(document)
    else:
        sys.stdout.write(analysis.compare_text(document) + "\n")


@app.command()
def sizes(
    spec: Path = typer.Argument(..., help="Spec file."),
    range_: str = typer.Option("32:1024", "--range", help="Square sizes to try, LOW:HIGH."),
    spec_path: Optional[List[Path]] = SPEC_PATH_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """The square input sizes a network takes (shape inference only; nothing is built)."""
    from archspec.backends.analysis import sizes_list_text
    from archspec.compiler import compile_spec
    from archspec.passes.shapes import accepted_sizes

    try:
        low, high = (int(part) for part in range_.split(":"))
    except ValueError:
        raise typer.BadParameter(f"'{range_}' is not LOW:HIGH", param_hint="--range")
    if not 1 <= low <= high or high - low > 100_000:
        raise typer.BadParameter(f"'{range_}' must satisfy 1 <= LOW <= HIGH, at most 100000 apart",
                                 param_hint="--range")

    def action() -> Any:
        network = compile_spec(spec, **_load_options(spec_path))
        return network, accepted_sizes(network, low, high)

    network, accepted = _run(as_json, action)
    if as_json:
        _emit({"name": network.name, "channels": network.input_shape[0], "range": [low, high], "sizes": accepted})
    else:
        sys.stdout.write(sizes_list_text(network, low, high, accepted) + "\n")


def _choice(value: str, valid: tuple[str, ...], option: str) -> str:
    if value not in valid:
        raise typer.BadParameter(f"'{value}' is not one of {', '.join(valid)}", param_hint=option)
    return value


def _shown(text: str, valid: tuple[str, ...]) -> frozenset[str]:
    parts = [part.strip() for part in text.split(",") if part.strip()]
    if parts == ["none"]:
        return frozenset()
    for part in parts:
        _choice(part, valid, "--show")
    return frozenset(parts)


@app.command()
def render(
    spec: Path = typer.Argument(..., help="Spec file."),
    output: Path = typer.Option(..., "-o", "--output", help="Output file: .svg, .pdf, .png or .dot."),
    level: str = typer.Option("stage", "--level", help="stage (folded repeats), block, or layer."),
    show: str = typer.Option("shapes", "--show", help="Comma-separated annotations: shapes, params, macs, rf; "
                             "or none."),
    theme: str = typer.Option("paper", "--theme", help="paper, slides (16:9, large type) or dark."),
    direction: Optional[str] = typer.Option(None, "--direction", help="LR, TB, RL or BT (default: LR for a "
                                            "chain, TB for an encoder-decoder, BT for a feature pyramid)."),
    fmt: Optional[str] = typer.Option(None, "--format", help="svg, pdf, png or dot (default: from -o)."),
    input: Optional[str] = INPUT_OPTION,
    spec_path: Optional[List[Path]] = SPEC_PATH_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Draw the network. A spec with errors in its layers is still drawn, the failed layers in red with
    their messages; the command then exits 1."""
    from dataclasses import replace

    from archspec.backends.diagram import (DIRECTIONS, FORMATS, LEVELS, SHOW, THEMES, EngineError, RenderOptions,
                                           render as draw)
    from archspec.compiler import compile_partial
    from archspec.output import OutputError, write_atomic

    fmt = _choice(fmt or output.suffix.lstrip(".").lower(), FORMATS, "--format" if fmt else "-o")
    options = RenderOptions(level=_choice(level, LEVELS, "--level"), show=_shown(show, SHOW),
                            theme=_choice(theme, tuple(THEMES), "--theme"),
                            direction=_choice(direction, DIRECTIONS, "--direction") if direction else None)
    errors: list[Diagnostic] = []
    engine_warnings: list[str] = []

    def action() -> dict[str, Any]:
        network, found = compile_partial(spec, **_load_options(spec_path))
        errors.extend(found)
        shape = _input_shape(input, network) if input and not found else None
        try:
            data, warnings = draw(network, replace(options, input_shape=shape), fmt, found)
        except EngineError as error:
            raise OutputError(str(error)) from None
        engine_warnings.extend(warnings)
        write_atomic(output, data)
        return {"ok": not found, "output": str(output), "format": fmt, "level": options.level,
                "errors": [d.to_json() for d in found], "graphviz_warnings": warnings}

    document = _run(as_json, action)
    if as_json:
        _emit(document)
    else:
        for warning in engine_warnings:
            sys.stderr.write(f"graphviz: {warning}\n")
        for diagnostic in errors:
            sys.stderr.write(diagnostic.render() + "\n")
        if errors:
            sys.stderr.write(f"{len(errors)} error{'s' if len(errors) != 1 else ''}; drew {output} with the "
                             f"failed layers marked\n")
        else:
            sys.stdout.write(f"wrote {output} ({options.level} level, {fmt})\n")
    if errors:
        raise typer.Exit(1)


@app.command()
def train(
    spec: Path = typer.Argument(..., help="Spec file."),
    data: str = typer.Option("synthetic", "--data", help="An image folder (ImageFolder layout, with train/ and "
                             "val/ or one folder per class), or 'synthetic' (deterministic, runs anywhere)."),
    epochs: int = typer.Option(1, "--epochs"),
    batch_size: int = typer.Option(16, "--batch-size", help="Images per process and step."),
    lr: float = typer.Option(0.01, "--lr", help="Base learning rate (the spec's lr_mult scales it per part)."),
    optimizer: str = typer.Option("sgd", "--optimizer", help="sgd (momentum 0.9) or adamw."),
    amp: str = typer.Option("off", "--amp", help="Mixed precision: bf16, fp16 or off."),
    channels_last: bool = typer.Option(False, "--channels-last", help="Train in the channels_last memory format."),
    compile_model: bool = typer.Option(False, "--compile", help="Compile the module with torch.compile."),
    resume: Optional[Path] = typer.Option(None, "--resume", help="Continue from a checkpoint (last.pt)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Output folder (default: runs/NAME)."),
    nproc: int = typer.Option(1, "--nproc", help="Processes on this machine (DistributedDataParallel; gloo on "
                              "CPUs). Under torchrun, its world is used instead."),
    sync_bn: bool = typer.Option(False, "--sync-bn", help="Synchronise batch norm across processes."),
    accumulate: int = typer.Option(1, "--accumulate", help="Batches per optimizer step (gradient accumulation)."),
    synthetic_size: int = typer.Option(32, "--synthetic-size", help="Training images of the synthetic set."),
    seed: int = typer.Option(0, "--seed"),
    input: Optional[str] = INPUT_OPTION,
    spec_path: Optional[List[Path]] = SPEC_PATH_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Train the emitted module: progress, evaluation each epoch, metrics (JSON lines), curves (PNG),
    atomic checkpoints and exact resume."""
    from archspec.compiler import compile_spec

    def action() -> dict[str, Any]:
        from archspec.train.options import TrainError, TrainOptions
        from archspec.train.run import train as run_training

        shape = _input_shape(input, compile_spec(spec, **_load_options(spec_path))) if input else None
        options = TrainOptions(
            spec=spec, data=data, epochs=epochs, batch_size=batch_size, lr=lr, optimizer=optimizer, amp=amp,
            channels_last=channels_last, compile=compile_model, resume=resume, out=out, input_shape=shape,
            nproc=nproc, sync_bn=sync_bn, accumulate=accumulate, synthetic_size=synthetic_size, seed=seed,
            spec_path=tuple(spec_path or ()), allow_absolute=_GLOBAL["allow_absolute"])
        try:
            return {"ok": True, **run_training(options)}
        except TrainError as error:
            _emit({"ok": False, "errors": [{"message": str(error)}]}) if as_json else sys.stderr.write(
                f"error: {error}\n")
            raise typer.Exit(1)
        except KeyboardInterrupt:
            sys.stderr.write("\ninterrupted: the last checkpoint written (if any) is intact\n")
            raise typer.Exit(130)

    document = _run(as_json, action)
    if document.pop("rank") != 0:  # under torchrun, rank 0 alone reports
        return
    if as_json:
        _emit(document)
    else:
        sys.stdout.write(f"wrote {document['out']}: {Path(document['checkpoint']).name}, metrics.jsonl, "
                         "curves.png\n")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
