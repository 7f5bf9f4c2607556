"""Graphviz as the layout engine: DOT text to SVG, PDF or PNG bytes.

The `pygraphviz` wheels bundle Graphviz's libraries, so installing archspec is
enough. Graphviz writes warnings (and fontconfig its notices) straight to the
process's stderr: they are captured around the call and returned, so the
command prints only what matters.
"""

from __future__ import annotations

import json
import os
import re
import select
import signal
import tempfile
import time
import zlib
from contextlib import contextmanager
from types import ModuleType
from typing import Callable, Iterator

from .dot import DRAWING_MARK

FORMATS = ("svg", "pdf", "png", "dot")
# How long Graphviz may lay out one drawing; a layer-level drawing of a very large network can take many minutes.
LAYOUT_SECONDS = 120.0

INSTALL_HINT = ("install the Python package 'pygraphviz' (pip install pygraphviz; its wheels include Graphviz, "
                "so no system package is needed); '.dot' output needs nothing")


class EngineError(Exception):
    """No layout engine, or the engine failed; the message says what to do."""


def layout(dot_text: str, fmt: str, dpi: int) -> tuple[bytes, list[str]]:
    """The drawing in `fmt` and the engine's warnings."""
    if fmt == "dot":
        return dot_text.encode("utf-8"), []
    try:
        import pygraphviz  # here, not at the top: only drawing needs it
    except ImportError:
        raise EngineError(f"drawing {fmt.upper()} needs Graphviz: {INSTALL_HINT}") from None
    arguments = f"-Gdpi={dpi}" if fmt == "png" else ""
    data, warnings = _isolated(lambda: _draw(pygraphviz, dot_text, fmt, arguments))
    return stamp(data, fmt), warnings


def stamp(data: bytes, fmt: str) -> bytes:
    """Mark a PDF or PNG drawing as archspec's, so that a later `render` may replace it, and make a PDF
    byte-identical between runs: cairo writes the time of the run as its creation date. Both edits keep
    every byte offset of the PDF, so its cross-reference table stays valid."""
    mark = DRAWING_MARK.encode()
    if fmt == "pdf":
        data = re.sub(rb"/CreationDate \(D:(\d+)Z\)", lambda m: b"/CreationDate (D:" + b"0" * len(m[1]) + b"Z)",
                      data, count=1)
        return re.sub(rb"/Producer \((.*)\)(?=\s)", lambda m: b"/Producer (" + mark.ljust(len(m[1])) + b")"
                      if len(m[1]) >= len(mark) else m[0], data, count=1)
    if fmt == "png" and data.startswith(b"\x89PNG\r\n\x1a\n"):
        end_of_header = 8 + 12 + int.from_bytes(data[8:12], "big")  # signature, then the IHDR chunk
        text = b"tEXt" + b"Software\x00" + mark
        chunk = len(text[4:]).to_bytes(4, "big") + text + zlib.crc32(text).to_bytes(4, "big")
        return data[:end_of_header] + chunk + data[end_of_header:]
    return data


def _draw(pygraphviz: ModuleType, dot_text: str, fmt: str, arguments: str) -> tuple[bytes, list[str]]:
    with _captured_stderr() as captured:
        try:
            data = pygraphviz.AGraph(string=dot_text).draw(format=fmt, prog="dot", args=arguments)
        except Exception as exc:  # pygraphviz raises plain exceptions for Graphviz errors
            raise EngineError(f"Graphviz could not draw the diagram: {exc}") from None
    return data, _warnings(captured())


def _isolated(draw: Callable[[], tuple[bytes, list[str]]]) -> tuple[bytes, list[str]]:
    """Run `draw` in a forked child: an internal error of Graphviz aborts the process it runs in, and
    that must become an error message, not the end of the command. The child answers through a pipe:
    one JSON line (outcome, warnings), then the drawing's bytes."""
    if not hasattr(os, "fork"):
        return draw()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: draw, answer, and leave without running the parent's cleanup
        os.close(read)
        try:
            data, warnings = draw()
            message: dict[str, object] = {"ok": True, "warnings": warnings}
        except BaseException as exc:  # noqa: BLE001 - every failure goes back to the parent as a message
            data, message = b"", {"ok": False, "error": str(exc)}
        with os.fdopen(write, "wb") as stream:
            stream.write(json.dumps(message).encode() + b"\n" + data)
        os._exit(0)
    os.close(write)
    try:
        answer = _read_within(read, LAYOUT_SECONDS)
    except TimeoutError:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        raise EngineError(f"Graphviz did not finish laying out this diagram within {LAYOUT_SECONDS:g} s; "
                          "draw a coarser --level (stage folds repeated blocks), or write '.dot' and lay it "
                          "out with a tool of your choice") from None
    finally:
        os.close(read)
    _, status = os.waitpid(pid, 0)
    head, _, data = answer.partition(b"\n")
    if not head or os.WIFSIGNALED(status):
        raise EngineError("Graphviz stopped with an internal error while drawing this diagram; "
                          "another --level or --direction may avoid it, and '.dot' output does not run it")
    outcome = json.loads(head)
    if not outcome["ok"]:
        raise EngineError(outcome["error"])
    return data, outcome["warnings"]


def _read_within(fd: int, seconds: float) -> bytes:
    """Everything the child writes to `fd` until it closes it; TimeoutError after `seconds`."""
    deadline = time.monotonic() + seconds
    chunks: list[bytes] = []
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
            raise TimeoutError
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


@contextmanager
def _captured_stderr() -> Iterator:
    """Redirect file descriptor 2 (where C libraries write) into a temporary file for the duration."""
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        text: list[str] = []
        try:
            yield lambda: "".join(text)
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            text.append(sink.read().decode(errors="replace"))


_TOO_LARGE = re.compile(r"too large for cairo-renderer bitmaps\. Scaling by ([0-9.]+)")


def _warnings(text: str) -> list[str]:
    """Graphviz's warnings, in words a user can act on; fontconfig's notices are about the machine's font
    configuration, not the diagram, and are dropped."""
    warnings = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("Fontconfig"):
            continue
        too_large = _TOO_LARGE.search(line)
        if too_large:
            line = (f"the PNG would exceed cairo's limit of 32,767 pixels a side, so it was scaled by "
                    f"{float(too_large.group(1)):.2f}; .svg and .pdf keep full size")
        warnings.append(line)
    return warnings
