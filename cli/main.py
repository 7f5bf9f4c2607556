"""The `archspec` command: parses arguments, calls the library, prints. No logic of its own.

Exit codes: 0 success, 1 spec errors (located diagnostics on stderr, or a JSON
document with --json), 2 usage errors, 3 an internal error (a bug in archspec,
reported as such, with a JSON document under --json too).
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path
from typing import Any, Callable, List, Optional

import click
import typer

from archspec.errors import Diagnostic, SpecError, internal_error, printable

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
FORCE_OPTION = typer.Option(False, "--force", help="Overwrite a file archspec did not write, or one edited by hand "
                            "(never a spec the command reads).")


INTERNAL_ERROR = 3


def _command(function: Callable[..., None]) -> Callable[..., None]:
    """Register a command whose unexpected exceptions are reported as internal errors, exit code 3: a CI job
    can tell a crash from a rejected spec (1) or a wrong option (2)."""

    @functools.wraps(function)
    def guarded(*args: Any, **kwargs: Any) -> None:
        try:
            function(*args, **kwargs)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Exception as exc:  # noqa: BLE001 - the last resort: nothing unexpected leaves as a traceback
            _internal_error(exc, kwargs.get("as_json", False))

    return app.command()(guarded)


def _internal_error(exc: Exception, as_json: bool) -> None:
    diagnostic = internal_error(exc)
    if as_json:
        sys.stdout.flush()
        _emit({"ok": False, "internal_error": True, "errors": [diagnostic.to_json()]})
    else:
        sys.stderr.write(diagnostic.render() + "\n")
    raise typer.Exit(INTERNAL_ERROR)


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
    """Run `action`, turning spec errors and refused writes into exit code 1 with readable output, and a
    value the library does not accept into a usage error (exit 2) naming its option."""
    from archspec.api import OptionError
    from archspec.output import OutputError

    try:
        return action()
    except OptionError as error:
        raise typer.BadParameter(str(error), param_hint=error.option) from None
    except SpecError as error:
        _fail(error, as_json)
    except OutputError as error:
        if as_json:
            _emit({"ok": False, "errors": [{"message": str(error)}]})
        else:
            sys.stderr.write(printable(f"error: {error}") + "\n")
        raise typer.Exit(1)


def _parsed(action: Callable[[], Any]) -> Any:
    """An option checked by the library before any spec is read: a bad value is a usage error."""
    return _run(False, action)


@app.callback()
def _options(
    ctx: typer.Context,
    allow_absolute_paths: bool = typer.Option(False, "--allow-absolute-paths",
                                              help="Let 'extends' and 'import' name absolute paths."),
) -> None:
    """Validate, analyse and compile declarative CNN specs to PyTorch."""
    ctx.obj = allow_absolute_paths


def _sources(spec_path: Optional[List[Path]]) -> Any:
    """Where a spec may read other files from: --spec-path folders, and absolute paths if allowed."""
    from archspec.api import Sources

    return Sources(tuple(spec_path or ()), bool(click.get_current_context().find_root().obj))


def _warnings(diagnostics: list[Diagnostic]) -> None:
    for diagnostic in diagnostics:
        sys.stderr.write(diagnostic.render() + "\n")


def _print(result: Any, as_json: bool) -> None:
    if as_json:
        _emit(result.to_json())
    else:
        sys.stdout.write(f"{result}\n")


@_command
def validate(
    specs: List[Path] = typer.Argument(..., help="Spec files to check."),
    input: Optional[str] = INPUT_OPTION,
    spec_path: Optional[List[Path]] = SPEC_PATH_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Check specs: syntax, references, types and every shape, reporting all errors with their location."""
    from archspec.api import check

    results = [_parsed(lambda: check(spec, input, sources=_sources(spec_path))) for spec in specs]
    failed = [d for result in results for d in result.errors]
    if as_json:
        _emit({"ok": not failed, "specs": [result.to_json() for result in results]})
    else:
        for result in results:
            _warnings(result.warnings)
        for result in results:
            if result.ok:
                sys.stdout.write(f"{result}\n")
        if failed:
            _fail(SpecError(failed), False)
    if failed:
        raise typer.Exit(1)


@_command
def build(
    spec: Path = typer.Argument(..., help="Spec file."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Output file (default: NAME.py; "
                                          "'-' for standard output)."),
    check: bool = typer.Option(False, "--check", help="Compare with the existing file instead of writing; "
                               "exit 1 if it differs."),
    force: bool = FORCE_OPTION,
    trace: bool = typer.Option(False, "--trace", help="End each submodule's line with a '# spec.yaml:12' "
                               "comment naming the spec line it came from."),
    spec_path: Optional[List[Path]] = SPEC_PATH_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Emit a standalone PyTorch module file (needs only torch to run)."""
    from archspec.api import load

    to_stdout = _one_stdout(output, as_json)
    result = _run(as_json, lambda: load(spec, sources=_sources(spec_path)).build(output, check=check, force=force,
                                                                                 trace=trace))
    if not as_json:
        _warnings(result.warnings)
    if not to_stdout or check:
        _print(result, as_json)
    if not result.ok:
        raise typer.Exit(1)


def _one_stdout(output: Optional[Path], as_json: bool) -> bool:
    """Whether `-o -` sends the file to standard output; refused with --json, which writes there too."""
    from archspec.output import STDOUT

    to_stdout = output is not None and str(output) == STDOUT
    if to_stdout and as_json:
        raise typer.BadParameter("'-o -' writes the file to standard output, where --json writes its document; "
                                 "use one of them", param_hint="-o")
    return to_stdout


@_command
def summary(
    spec: Path = typer.Argument(..., help="Spec file."),
    input: Optional[str] = INPUT_OPTION,
    spec_path: Optional[List[Path]] = SPEC_PATH_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Every layer with its output shape and parameter count."""
    from archspec.api import load

    _print(_run(as_json, lambda: load(spec, input, sources=_sources(spec_path)).summary()), as_json)


@_command
def resolve(
    spec: Path = typer.Argument(..., help="Spec file."),
    explain: bool = typer.Option(False, "--explain", help="Show where every value came from."),
    spec_path: Optional[List[Path]] = SPEC_PATH_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """The fully resolved spec: after extends, parameters, defaults and block expansion."""
    from archspec.api import load

    resolved = _run(as_json, lambda: load(spec, sources=_sources(spec_path)).resolved())
    if as_json:
        _emit(resolved.to_json())
    else:
        sys.stdout.write(resolved.text(explain) + "\n")


@_command
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
    from archspec.api import check_breakdown, load

    _parsed(lambda: check_breakdown(by))

    def action() -> Any:
        net = load(spec, sources=_sources(spec_path))
        if sizes is not None:
            return net.cost_by_size(part for part in sizes.split(",") if part.strip())
        return (net.at(input) if input else net).flops(by, top)

    _print(_run(as_json, action), as_json)


@_command
def rf(
    spec: Path = typer.Argument(..., help="Spec file."),
    input: Optional[str] = INPUT_OPTION,
    spec_path: Optional[List[Path]] = SPEC_PATH_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Receptive field, effective stride and centre offset of every layer and stage (exact rationals)."""
    from archspec.api import load

    fields = _run(as_json, lambda: load(spec, input, sources=_sources(spec_path)).receptive_fields())
    if not as_json:
        _warnings(fields.warnings)
    _print(fields, as_json)


@app.command()
@_command
def anchors(
    spec: Optional[Path] = typer.Argument(None, help="A detector's spec (not needed with --kmeans)."),
    input: Optional[str] = INPUT_OPTION,
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Draw the anchors over an image-sized "
                                          "canvas (PNG)."),
    kmeans: Optional[Path] = typer.Option(None, "--kmeans", help="Cluster the box sizes of a CSV (width,height "
                                          "or x1,y1,x2,y2, in pixels) into anchors, 1 - IoU distance."),
    k: int = typer.Option(5, "-k", help="Number of anchors for --kmeans."),
    stride: float = typer.Option(32.0, "--stride", help="Grid cell size in pixels for --kmeans' anchors."),
    spec_path: Optional[List[Path]] = SPEC_PATH_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """A detector's anchors per level: grid, K, the boxes and the total; or anchors clustered from boxes."""
    if kmeans is not None:
        from archspec.detection.kmeans import kmeans_report, kmeans_text

        report = _run(as_json, lambda: kmeans_report(kmeans, k, stride))
        _emit(report) if as_json else sys.stdout.write(kmeans_text(report) + "\n")
        return
    if spec is None:
        raise typer.BadParameter("name a detector's spec, or give --kmeans BOXES.csv", param_hint="SPEC")
    from archspec.api import load

    result = _run(as_json, lambda: load(spec, input, sources=_sources(spec_path)).anchors(output))
    if not as_json:
        _warnings(result.warnings)
    _print(result, as_json)


@app.command()
@_command
def compare(
    a: Path = typer.Argument(..., help="First spec."),
    b: Path = typer.Argument(..., help="Second spec."),
    input: Optional[str] = INPUT_OPTION,
    spec_path: Optional[List[Path]] = SPEC_PATH_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Two specs side by side: parameters, MACs, activations, receptive field, and the stages that differ."""
    from archspec import api

    _print(_run(as_json, lambda: api.compare(a, b, input, sources=_sources(spec_path))), as_json)


@_command
def sizes(
    spec: Path = typer.Argument(..., help="Spec file."),
    range_: str = typer.Option("32:1024", "--range", help="Square sizes to try, LOW:HIGH."),
    spec_path: Optional[List[Path]] = SPEC_PATH_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """The square input sizes a network takes (shape inference only; nothing is built)."""
    from archspec.api import OptionError, check_range, load

    try:
        low, high = check_range(*(int(part) for part in range_.split(":")))
    except (ValueError, TypeError) as error:
        why = str(error) if isinstance(error, OptionError) else "is not LOW:HIGH"
        raise typer.BadParameter(f"'{range_}' {why}", param_hint="--range")
    _print(_run(as_json, lambda: load(spec, sources=_sources(spec_path)).sizes((low, high))), as_json)


def _shown(text: str) -> list[str]:
    parts = [part.strip() for part in text.split(",") if part.strip()]
    return [] if parts == ["none"] else parts


@_command
def render(
    spec: Path = typer.Argument(..., help="Spec file."),
    output: Path = typer.Option(..., "-o", "--output", help="Output file: .svg, .pdf, .png or .dot; '-' for "
                                "standard output (with --format)."),
    level: str = typer.Option("stage", "--level", help="stage (folded repeats), block, or layer."),
    show: str = typer.Option("shapes", "--show", help="Comma-separated annotations: shapes, params, macs, rf; "
                             "or none."),
    theme: str = typer.Option("paper", "--theme", help="paper, slides (16:9, large type) or dark."),
    direction: Optional[str] = typer.Option(None, "--direction", help="LR, TB, RL or BT (default: LR for a "
                                            "chain, TB for an encoder-decoder, BT for a feature pyramid)."),
    fmt: Optional[str] = typer.Option(None, "--format", help="svg, pdf, png or dot (default: from -o)."),
    force: bool = FORCE_OPTION,
    input: Optional[str] = INPUT_OPTION,
    spec_path: Optional[List[Path]] = SPEC_PATH_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Draw the network. A spec with errors in its layers is still drawn, the failed layers in red with
    their messages; the command then exits 1."""
    from archspec.api import diagram_format, load, render_options

    to_stdout = _one_stdout(output, as_json)
    fmt = _parsed(lambda: diagram_format(output, fmt))
    _parsed(lambda: render_options(level, _shown(show), theme, direction))
    drawing = _run(as_json, lambda: load(spec, input, sources=_sources(spec_path), partial=True)
                   .render(level, _shown(show), theme, direction).save(output, fmt, force=force))
    if as_json:
        _emit(drawing.to_json())
    else:
        for warning in drawing.graphviz_warnings:
            sys.stderr.write(f"graphviz: {warning}\n")
        _warnings(drawing.errors)
        if drawing.errors or not to_stdout:
            (sys.stderr if drawing.errors else sys.stdout).write(f"{drawing}\n")
    if drawing.errors:
        raise typer.Exit(1)


@_command
def train(
    spec: Path = typer.Argument(..., help="Spec file."),
    data: str = typer.Option("synthetic", "--data", help="An image folder (ImageFolder layout, with train/ and "
                             "val/ or one folder per class), or 'synthetic' (deterministic, runs anywhere; "
                             "images with boxes for a detector)."),
    epochs: int = typer.Option(1, "--epochs"),
    batch_size: int = typer.Option(16, "--batch-size", help="Images per process and step."),
    lr: float = typer.Option(0.01, "--lr", help="Base learning rate (the spec's lr_mult scales it per part)."),
    optimizer: str = typer.Option("sgd", "--optimizer", help="sgd (momentum 0.9) or adamw."),
    schedule: str = typer.Option("step", "--schedule", help="Learning rate per epoch, as torchvision's "
                                 "classification reference sets it: constant, step (x0.1 every --lr-step-size "
                                 "epochs) or cosine (falling to 0 by the end of the run)."),
    warmup_epochs: int = typer.Option(0, "--warmup-epochs", help="Epochs of linear warm-up from 0.01 x --lr."),
    lr_step_size: int = typer.Option(30, "--lr-step-size", help="Epochs between the steps of --schedule step."),
    amp: str = typer.Option("off", "--amp", help="Mixed precision: bf16, fp16 or off."),
    channels_last: bool = typer.Option(False, "--channels-last", help="Train in the channels_last memory format."),
    compile_model: bool = typer.Option(False, "--compile", help="Compile the module with torch.compile."),
    resume: Optional[Path] = typer.Option(None, "--resume", help="Continue from a checkpoint (last.pt)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Output folder (default: runs/NAME)."),
    nproc: int = typer.Option(1, "--nproc", help="Processes on this machine (DistributedDataParallel; gloo on "
                              "CPUs). Under torchrun, its world is used instead."),
    sync_bn: bool = typer.Option(False, "--sync-bn", help="Synchronise batch norm across processes on GPUs (with "
                                 "one process, on CPUs or with `bn: eval` it is skipped with a warning; `bn: frozen` "
                                 "refuses it)."),
    accumulate: int = typer.Option(1, "--accumulate", help="Batches per optimizer step (gradient accumulation)."),
    synthetic_size: int = typer.Option(32, "--synthetic-size", help="Training images of the synthetic set."),
    seed: int = typer.Option(0, "--seed"),
    input: Optional[str] = INPUT_OPTION,
    spec_path: Optional[List[Path]] = SPEC_PATH_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Train the emitted module: progress, evaluation each epoch, metrics (JSON lines), curves (PNG),
    atomic checkpoints and exact resume."""
    from archspec.api import load

    def action() -> dict[str, Any]:
        from archspec.train.options import TrainError, TrainOptions
        from archspec.train.run import train as run_training

        sources = _sources(spec_path)
        shape = load(spec, input, sources=sources).input_shape if input else None
        options = TrainOptions(
            spec=spec, data=data, epochs=epochs, batch_size=batch_size, lr=lr, optimizer=optimizer, amp=amp,
            schedule=schedule, warmup_epochs=warmup_epochs, lr_step_size=lr_step_size,
            channels_last=channels_last, compile=compile_model, resume=resume, out=out, input_shape=shape,
            nproc=nproc, sync_bn=sync_bn, accumulate=accumulate, synthetic_size=synthetic_size, seed=seed,
            spec_path=tuple(spec_path or ()), allow_absolute=sources.allow_absolute)
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
