"""Graphviz as the layout engine: DOT text to SVG, PDF or PNG bytes.

The `pygraphviz` wheels bundle Graphviz's libraries, so installing archspec is
enough; a system `dot` is used when pygraphviz is missing. Graphviz writes
warnings (and fontconfig its notices) straight to the process's stderr: they are
captured around the call and returned, so the command prints only what matters.
"""

from __future__ import annotations

import importlib.util
import os
import pickle
import shutil
import subprocess
import tempfile
from contextlib import contextmanager
from typing import Callable, Iterator

FORMATS = ("svg", "pdf", "png", "dot")

INSTALL_HINT = ("install the Python package 'pygraphviz' (pip install pygraphviz; its wheels include Graphviz) "
                "or Graphviz's 'dot' program; '.dot' output needs neither")


class EngineError(Exception):
    """No layout engine, or the engine failed; the message says what to do."""


def layout(dot_text: str, fmt: str, dpi: int) -> tuple[bytes, list[str]]:
    """The drawing in `fmt` and the engine's warnings."""
    if fmt == "dot":
        return dot_text.encode("utf-8"), []
    arguments = f"-Gdpi={dpi}" if fmt == "png" else ""
    if importlib.util.find_spec("pygraphviz") is None:
        return _system_dot(dot_text, fmt, arguments)
    return _isolated(lambda: _pygraphviz(dot_text, fmt, arguments))


def _pygraphviz(dot_text: str, fmt: str, arguments: str) -> tuple[bytes, list[str]]:
    import pygraphviz

    with _captured_stderr() as captured:
        try:
            data = pygraphviz.AGraph(string=dot_text).draw(format=fmt, prog="dot", args=arguments)
        except Exception as exc:  # pygraphviz raises plain exceptions for Graphviz errors
            raise EngineError(f"Graphviz could not draw the diagram: {exc}") from None
    return data, _warnings(captured())


def _isolated(draw: Callable[[], tuple[bytes, list[str]]]) -> tuple[bytes, list[str]]:
    """Run `draw` in a forked child: an internal error of Graphviz aborts the process it runs in, and
    that must become an error message, not the end of the command. The child sends its result back
    through a pipe (pickled, from this same program)."""
    if not hasattr(os, "fork"):
        return draw()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: draw, send, and leave without running the parent's cleanup
        os.close(read)
        try:
            payload = pickle.dumps(("ok", draw()))
        except BaseException as exc:  # noqa: BLE001 - everything goes back to the parent as a message
            payload = pickle.dumps(("error", str(exc)))
        with os.fdopen(write, "wb") as stream:
            stream.write(payload)
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as stream:
        payload = stream.read()
    _, status = os.waitpid(pid, 0)
    if not payload or os.WIFSIGNALED(status):
        raise EngineError("Graphviz stopped with an internal error while drawing this diagram; "
                          "another --level or --direction may avoid it, and '.dot' output does not run it")
    kind, result = pickle.loads(payload)
    if kind == "error":
        raise EngineError(result)
    return result


def _system_dot(dot_text: str, fmt: str, arguments: str) -> tuple[bytes, list[str]]:
    program = shutil.which("dot")
    if program is None:
        raise EngineError(f"drawing {fmt.upper()} needs Graphviz: {INSTALL_HINT}")
    command = [program, f"-T{fmt}"] + ([arguments] if arguments else [])
    result = subprocess.run(command, input=dot_text.encode("utf-8"), capture_output=True, timeout=600)
    if result.returncode != 0:
        raise EngineError(f"Graphviz could not draw the diagram: {result.stderr.decode(errors='replace').strip()}")
    return result.stdout, _warnings(result.stderr.decode(errors="replace"))


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


def _warnings(text: str) -> list[str]:
    # fontconfig notices are about the machine's font configuration, not the diagram
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("Fontconfig")]
