"""Writing generated files safely: atomically, only over files archspec generated, never over a spec.

The rules every command that writes follows (`build`, `render`):

* the output must be a regular file or not exist yet: a device (`/dev/null`,
  `/dev/zero`), a FIFO, a socket or `/dev/stdout` is refused, never read and
  never replaced (`-o -` writes to standard output on purpose);
* a symbolic link is written through: its target is replaced, the link stays;
* an existing file is replaced only if archspec generated it (a Python file
  with an unedited body, a drawing with archspec's mark), unless `--force`;
* a spec the command read is never replaced, even with `--force`;
* the temporary file is named `.NAME.archspec-PID.XXXX.tmp` next to the
  target; one left behind by a killed run is removed by the next write there.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import stat
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from .backends.diagram.dot import DRAWING_MARK as _MARK
from .backends.pytorch import split_header

STDOUT = "-"
DRAWING_MARK = _MARK.encode()  # a comment in SVG and DOT, the PDF's producer, a PNG's text chunk
_TEMPORARY = re.compile(r"^\.(?P<name>.+)\.archspec-(?P<pid>\d+)\.[^.]+\.tmp$")
# Larger files are not read: archspec generates nothing near this size (a 100,000-layer module is a few MB).
MAX_INSPECTED_BYTES = 256 << 20


class OutputError(Exception):
    """A file cannot be written (or checked); the message says why and what to do."""


def output_target(path: Path) -> Path:
    """The file a write to `path` replaces: `path` itself, or the final target of a symbolic link.

    Raises OutputError for a path that is not (or would not be) a regular file, or that the system refuses.
    """
    info = _stat(path, follow=True)
    if info is not None and stat.S_ISDIR(info.st_mode):
        raise OutputError(f"cannot write {path}: it is a folder")
    if info is not None and not stat.S_ISREG(info.st_mode):
        raise OutputError(f"cannot write {path}: it is not a regular file (a device, a pipe or a socket); "
                          "archspec writes only regular files (use -o - to write to standard output)")
    return Path(os.path.realpath(path)) if path.is_symlink() else path


def _stat(path: Path, follow: bool) -> os.stat_result | None:
    """The file's status, None when nothing is there; an unusable path (too long, a loop) is an OutputError."""
    try:
        return os.stat(path, follow_symlinks=follow)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {_reason(exc)}") from None
    except ValueError as exc:  # a NUL in the path
        raise OutputError(f"cannot write {path!r}: {exc}") from None


def _reason(exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "symbolic links form a loop"
    if exc.errno == errno.ENAMETOOLONG:
        return "the file name is longer than the file system allows"
    return exc.strerror or str(exc)


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write `data` (text as UTF-8) to `path` through a temporary file in the same folder and a rename.

    Readers see the old file or the new one, never a half-written one, and a
    failure leaves nothing behind. `path` should come from `output_target`.
    """
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise OutputError(f"cannot write {path}: the folder {folder} does not exist")
    remove_stale_temporaries(folder, path.name)
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.archspec-{os.getpid()}.", suffix=".tmp",
                                             dir=folder)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {_reason(exc)}") from None
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data.encode("utf-8") if isinstance(data, str) else data)
            stream.flush()
            os.fsync(stream.fileno())
        existing = _stat(path, follow=True)
        os.chmod(temporary, existing.st_mode & 0o777 if existing else 0o644)
        os.replace(temporary, path)
    except BaseException as exc:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise OutputError(f"cannot write {path}: {_reason(exc)}") from None
        raise


def remove_stale_temporaries(folder: Path, name: str) -> list[Path]:
    """Remove temporaries of `name` that archspec left in `folder` when it was killed mid-write: regular
    files of archspec's naming whose process no longer runs. Returns what was removed."""
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        match = _TEMPORARY.match(entry.name)
        if match is None or match["name"] != name or _running(int(match["pid"])):
            continue
        try:
            if entry.is_file(follow_symlinks=False):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            pass
    return removed


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # someone else's process, or a pid the system cannot name: leave its file alone
    return True


@dataclass
class ExistingFile:
    generated: bool  # carries an archspec header, or a drawing's mark
    edited: bool  # the body no longer matches the hash in its header


def inspect_existing(path: Path) -> ExistingFile | None:
    """What is at `path` now: nothing, a file archspec generated (edited or not), or something else.
    Only regular files are read (see `output_target`), and no more of them than a drawing needs."""
    info = _stat(path, follow=True)
    if info is None:
        return None
    if stat.S_ISDIR(info.st_mode):
        raise OutputError(f"cannot write {path}: it is a folder")
    if not stat.S_ISREG(info.st_mode):
        raise OutputError(f"cannot write {path}: it is not a regular file")
    if info.st_size > MAX_INSPECTED_BYTES:
        return ExistingFile(generated=False, edited=False)
    try:
        with open(path, "rb") as stream:
            data = stream.read(MAX_INSPECTED_BYTES)
    except OSError:
        return ExistingFile(generated=False, edited=False)
    try:
        fields, body = split_header(data.decode("utf-8"))
    except UnicodeDecodeError:
        fields, body = {}, ""
    if "header" in fields:
        digest = hashlib.sha256(body.encode()).hexdigest()
        return ExistingFile(generated=True, edited=digest != fields.get("body") or fields["header"] != "intact")
    return ExistingFile(generated=is_drawing(data), edited=False)


def is_drawing(data: bytes) -> bool:
    """Whether `data` is a drawing archspec made (see `backends.diagram.engine.stamp`)."""
    return (data.startswith(b"\x89PNG") and b"tEXtSoftware\x00" + DRAWING_MARK in data
            or data.startswith(b"%PDF") and b"/Producer (" + DRAWING_MARK in data
            or data.startswith(b"<?xml") and b"<!-- " + DRAWING_MARK + b" -->" in data[:4096]
            or data.startswith(b"digraph") and b"comment=\"" + DRAWING_MARK + b"\"" in data[:4096])


def refuse_overwrite(path: Path, force: bool, inputs: Iterable[str | Path] = ()) -> None:
    """Raise OutputError if `path` holds a file archspec must not replace: one of the spec files the
    command read (`inputs`), whatever `force` says; without `force`, a file archspec did not generate or
    one edited by hand since."""
    if any(_same_file(path, Path(spec)) for spec in inputs):
        raise OutputError(f"refusing to write {path}: it is a spec this command reads "
                          "(choose another output path with -o)")
    existing = inspect_existing(path)
    if existing is None or force:
        return
    if not existing.generated:
        raise OutputError(f"refusing to overwrite {path}: it was not generated by archspec "
                          "(use --force to replace it, or choose another path with -o)")
    if existing.edited:
        raise OutputError(f"refusing to overwrite {path}: it was edited by hand since archspec generated it "
                          "(its body no longer matches the hash in its header; use --force to discard the edits)")


def write_generated(path: Path, data: str | bytes, force: bool = False, inputs: Iterable[str | Path] = ()
                    ) -> Path:
    """Write a generated file by every rule above; returns the file written (a link's target)."""
    target = output_target(path)
    refuse_overwrite(target, force, inputs)
    write_atomic(target, data)
    return target


def write_output(path: Path, data: str | bytes, force: bool = False, inputs: Iterable[str | Path] = ()) -> None:
    """`write_generated`, or the data on standard output when `path` is `-` (STDOUT)."""
    if str(path) != STDOUT:
        write_generated(path, data, force, inputs)
        return
    sys.stdout.flush()
    sys.stdout.buffer.write(data.encode("utf-8") if isinstance(data, str) else data)
    sys.stdout.buffer.flush()


def read_generated(path: Path) -> bytes | None:
    """The bytes of the file at `path` for `build --check`, None when there is none; only a regular file
    is read, and at most MAX_INSPECTED_BYTES of it."""
    target = output_target(path)
    info = _stat(target, follow=True)
    if info is None:
        return None
    if info.st_size > MAX_INSPECTED_BYTES:
        return b""  # differs: archspec generates nothing that large
    try:
        with open(target, "rb") as stream:
            return stream.read(MAX_INSPECTED_BYTES)
    except OSError as exc:
        raise OutputError(f"cannot read {path}: {_reason(exc)}") from None


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):
        return False


def default_module_path(name: str) -> Path:
    """`NAME.py` in the working folder, the default output of `build`; refused when importing it from
    there would shadow a standard-library or installed module (`typing.py` breaks `import torch`)."""
    path = Path(f"{name}.py")
    if shadowed_module(name):
        raise OutputError(f"refusing to write {path}: it would shadow Python's '{name}' module for every "
                          "program run from this folder (choose another file with -o, or another spec 'name')")
    return path


def shadowed_module(name: str) -> bool:
    """Whether a top-level module `name` exists in the standard library or in an installed package
    (folders of sys.path other than the working folder, where the file is going)."""
    if name in sys.stdlib_module_names or name in sys.builtin_module_names:
        return True
    here = os.path.realpath(os.getcwd())
    for folder in sys.path:
        if not folder or os.path.realpath(folder) == here or not os.path.isdir(folder):
            continue
        for candidate in (name, f"{name}.py"):
            if os.path.exists(os.path.join(folder, candidate)):
                return True
        try:
            if any(entry.startswith(f"{name}.") and entry.endswith((".so", ".pyd"))
                   for entry in os.listdir(folder) if entry.startswith(name)):
                return True
        except OSError:
            continue
    return False
