"""YAML text → plain values that remember where they came from.

PyYAML's safe composer gives nodes with positions; we convert them ourselves
instead of calling a constructor so that every mapping and list keeps the span
of each key and value, duplicate keys are errors (PyYAML keeps the last one
silently), tags other than the standard scalar ones are refused, and alias
expansion is bounded ("billion laughs" documents fail fast, in bounded memory).
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import yaml

from ..errors import Span, SpecError, remember_source
from .expr import MAX_MAGNITUDE

MAX_FILE_BYTES = 1 << 20
MAX_VALUES = 200_000
MAX_DEPTH = 64

# libyaml's composer when PyYAML was built with it (positions are kept either way); it is several times faster.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_SCALAR_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
}
_COLLECTION_TAGS = {"tag:yaml.org,2002:seq", "tag:yaml.org,2002:map"}


class Map(dict):
    """A YAML mapping with the span of the mapping, of each key and of each value."""

    span: Span
    key_spans: dict[str, Span]
    value_spans: dict[str, Span]

    def key_span(self, key: str) -> Span:
        return self.key_spans.get(key, self.span)

    def value_span(self, key: str) -> Span:
        return self.value_spans.get(key, self.span)


class YamlList(list):
    """A YAML list with the span of the list and of each item."""

    span: Span
    spans: list[Span]

    def item_span(self, index: int) -> Span:
        return self.spans[index] if index < len(self.spans) else self.span


def make_map(span: Span, items: dict | None = None) -> Map:
    result = Map(items or {})
    result.span = span
    result.key_spans = {k: span for k in result}
    result.value_spans = {k: span for k in result}
    return result


def make_list(span: Span, items: list | None = None) -> YamlList:
    result = YamlList(items or [])
    result.span = span
    result.spans = [span] * len(result)
    return result


def load_yaml_file(path: Path, display: str, not_a_mapping: str | None = None) -> Any:
    """Read and convert one YAML document, raising located SpecErrors; with `not_a_mapping`, a document
    that is not a mapping is refused with that message, where its value starts."""
    try:
        # Read one byte past the limit, never more: a huge file (or /dev/zero) costs bounded memory.
        with path.open("rb") as stream:
            data = stream.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise SpecError.at(Span(display, 1, 1), f"no such file: {display}") from None
    except OSError as exc:
        raise SpecError.at(Span(display, 1, 1), f"cannot read {display}: {exc.strerror}") from None
    if len(data) > MAX_FILE_BYTES:
        raise SpecError.at(
            Span(display, 1, 1),
            f"spec file is larger than the limit of {MAX_FILE_BYTES} bytes",
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError.at(_byte_span(data, exc.start, display), f"spec file is not UTF-8 text: byte "
                           f"0x{data[exc.start]:02x} here ({exc.reason})",
                           hint="save the file as UTF-8") from None
    return load_yaml_text(text, display, not_a_mapping)


def _byte_span(data: bytes, offset: int, display: str) -> Span:
    """The line and column (in characters) of the byte at `offset`."""
    line_start = data.rfind(b"\n", 0, offset) + 1
    column = len(data[line_start:offset].decode("utf-8", errors="replace")) + 1
    span = Span(display, data.count(b"\n", 0, offset) + 1, column)
    text = data[:data.find(b"\n", offset) if b"\n" in data[offset:] else len(data)].decode("utf-8", "replace")
    remember_source(display, text)  # so that the message can quote the line
    return span


def _reader_span(text: str, offset: int, display: str) -> Span:
    """Where YAML's reader stopped: libyaml counts `offset` in UTF-8 bytes, PyYAML's own reader in characters."""
    if _LOADER is yaml.SafeLoader:
        offset = len(text[:offset].encode("utf-8"))
    return _byte_span(text.encode("utf-8"), offset, display)


def load_yaml_text(text: str, display: str, not_a_mapping: str | None = None) -> Any:
    remember_source(display, text)
    try:
        node = yaml.compose(text, Loader=_LOADER)
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(exc, text.splitlines(), display) from None
    except yaml.reader.ReaderError as exc:  # an unprintable character: located by its index in the text
        character = chr(exc.character) if isinstance(exc.character, int) else exc.character
        raise SpecError.at(_reader_span(text, exc.position, display), f"malformed YAML: the character "
                           f"{character!r} is not allowed in YAML text", hint="remove it, or write it as an "
                           "escape in a double-quoted string ('\\x01')") from None
    except yaml.YAMLError as exc:
        raise SpecError.at(Span(display, 1, 1), f"malformed YAML: {exc}") from None
    except RecursionError:
        raise SpecError.at(Span(display, 1, 1), "YAML nesting is too deep") from None
    if node is None:
        raise SpecError.at(Span(display, 1, 1), "the spec file is empty")
    converter = _Converter(display)
    converter.check_expansion(node)
    value = converter.convert(node, 0)
    if not_a_mapping is not None and not isinstance(node, yaml.MappingNode):
        raise SpecError.at(converter.span(node), not_a_mapping)
    return value


def _syntax_error(exc: yaml.MarkedYAMLError, lines: list[str], display: str) -> SpecError:
    """A YAML syntax error located where the writer has to fix it, which is not always where parsing stopped.

    libyaml and PyYAML's own parser word their messages differently but give the same marks:
    `problem_mark` where parsing stopped, `context_mark` where the construct being parsed began.
    An unclosed '{' is reported lines later, and a list item without its '- ' on the next line,
    so for those the context is the place to show.
    """
    problem, context = exc.problem_mark, exc.context_mark

    def span(mark: yaml.Mark | None) -> Span:
        if mark is None or not lines:
            return Span(display, 1, 1)
        if mark.line >= len(lines):  # stopped at the end of the file: show its last line
            last = max((i for i, line in enumerate(lines) if line.strip()), default=len(lines) - 1)
            return Span(display, last + 1, len(lines[last].rstrip()) + 1)
        return Span(display, mark.line + 1, mark.column + 1)

    tab = _indenting_tab(lines, problem)
    if tab is not None and problem is not None:  # a tab is only found where the parser stopped
        return SpecError.at(Span(display, problem.line + 1, tab + 1), "malformed YAML: a tab cannot indent YAML; "
                            "use spaces", hint="indent with spaces only, e.g. two per level")
    if context is not None and exc.context in _FLOW_CONTEXTS and (problem is None or problem.line != context.line):
        opening = "[" if exc.context == "while parsing a flow sequence" else "{"
        stopped = "the end of the file" if problem is None or problem.line >= len(lines) else \
            f"line {problem.line + 1}"
        return SpecError.at(span(context), f"malformed YAML: this '{opening}' is never closed",
                            hint=f"YAML read on to {stopped} looking for ',' or '{_CLOSING[opening]}'; "
                                 f"close it on this line, or check for a missing ','")
    if context is not None and exc.context == "while scanning a simple key" and context.line < len(lines):
        word = lines[context.line][context.column:].strip()
        return SpecError.at(span(context), f"malformed YAML: '{word}' is neither a list item nor a key",
                            hint=f"a list item starts with '- ' (as in '- {word}'); a key is followed by ':'")
    return SpecError.at(span(problem or context), f"malformed YAML: {exc.problem or exc.context}")


def _flow_text(value: Any) -> str:
    """A converted value as it would be written in a flow list."""
    if isinstance(value, list):
        return "[" + ", ".join(_flow_text(v) for v in value) + "]"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


_FLOW_CONTEXTS = ("while parsing a flow mapping", "while parsing a flow sequence")
_CLOSING = {"{": "}", "[": "]"}


def _indenting_tab(lines: list[str], mark: yaml.Mark | None) -> int | None:
    """The column (0-based) of a tab in the indentation that the parser stopped at, if there is one."""
    if mark is None or mark.line >= len(lines):
        return None
    line = lines[mark.line]
    indentation = line[:len(line) - len(line.lstrip(" \t"))]
    if "\t" in indentation and mark.column <= len(indentation):
        return indentation.index("\t")
    return None


class _Converter:
    def __init__(self, display: str):
        self.display = display
        self.count = 0
        self.scalar_loader = yaml.SafeLoader("")

    def span(self, node: yaml.Node) -> Span:
        start, end = node.start_mark, node.end_mark
        length = end.index - start.index if end.line == start.line else 1
        return Span(self.display, start.line + 1, start.column + 1, max(1, length))

    def check_expansion(self, root: yaml.Node) -> None:
        """Refuse a document whose aliases would expand it past MAX_VALUES values, before expanding anything.

        Aliases make the composed document a graph that shares nodes. Its expanded size is summed once per
        distinct node, so a "billion laughs" document is refused at once and in the memory its text takes.
        """
        sizes: dict[int, int] = {}
        nodes: dict[int, yaml.Node] = {}
        on_path: set[int] = set()
        stack: list[tuple[yaml.Node, bool]] = [(root, False)]
        while stack:
            node, finished = stack.pop()
            key = id(node)
            if finished:
                on_path.discard(key)
                sizes[key] = min(MAX_VALUES ** 2, 1 + sum(sizes[id(child)] for child in _children(node)))
                continue
            if key in sizes:
                continue
            if key in on_path:
                raise SpecError.at(self.span(node), "a YAML alias is used inside its own anchor, so the "
                                   "document never ends", hint="write the values out instead of the alias")
            on_path.add(key)
            nodes[key] = node
            stack.append((node, True))
            stack.extend((child, False) for child in _children(node) if id(child) not in sizes)
        if sizes[id(root)] > MAX_VALUES:
            # Point at the smallest value that is already too big: where the expansion explodes.
            worst = min((key for key, size in sizes.items() if size > MAX_VALUES), key=lambda key: (
                sizes[key], nodes[key].start_mark.index))
            raise SpecError.at(self.span(nodes[worst]), f"the document expands to more than {MAX_VALUES} values "
                               "(an alias/anchor expansion bomb?)",
                               hint="write the values out, or use blocks and repeat instead of YAML anchors")

    def convert(self, node: yaml.Node, depth: int) -> Any:
        self.count += 1
        if self.count > MAX_VALUES:
            raise SpecError.at(
                self.span(node),
                f"the document expands to more than {MAX_VALUES} values "
                "(an alias/anchor expansion bomb?)",
                hint="write the values out, or use blocks and repeat instead of YAML anchors",
            )
        if depth > MAX_DEPTH:
            raise SpecError.at(self.span(node), f"nesting deeper than {MAX_DEPTH} levels")
        if not isinstance(node, yaml.ScalarNode) and node.tag not in _COLLECTION_TAGS:
            raise SpecError.at(self.span(node), f"YAML tag '{node.tag}' is not allowed in a spec",
                               hint="specs hold plain numbers, strings, booleans, lists and mappings")
        if isinstance(node, yaml.MappingNode):
            return self.mapping(node, depth)
        if isinstance(node, yaml.SequenceNode):
            result = make_list(self.span(node))
            result.spans = []
            for item in node.value:
                result.append(self.convert(item, depth + 1))
                result.spans.append(self.span(item))
            return result
        return self.scalar(node)

    def mapping(self, node: yaml.MappingNode, depth: int) -> Map:
        result = make_map(self.span(node))
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise SpecError.at(self.span(key_node), "YAML merge keys ('<<') are not supported",
                                   hint="use 'extends' or 'defaults' to share values")
            key = self.scalar(key_node)
            if not isinstance(key, str):
                raise self.not_a_key(key, key_node, value_node, node, result)
            if key in result:
                first = result.key_spans[key]
                raise SpecError.at(self.span(key_node), f"duplicate key '{key}' (first given at line {first.line})")
            result[key] = self.convert(value_node, depth + 1)
            result.key_spans[key] = self.span(key_node)
            result.value_spans[key] = self.span(value_node)
        return result

    def not_a_key(self, key: Any, key_node: yaml.Node, value_node: yaml.Node, node: yaml.MappingNode,
                  previous: Map) -> SpecError:
        span = self.span(key_node)
        stray = (node.flow_style and previous and isinstance(value_node, yaml.ScalarNode)
                 and value_node.tag == "tag:yaml.org,2002:null" and not value_node.value)
        if not stray:
            return SpecError.at(span, f"keys must be names, got {key!r}")
        # `{kernel: 3, 3}`: the ',' ended kernel's value, and the second 3 became a key without one.
        last = list(previous)[-1]
        written = key_node.value
        return SpecError.at(span, f"'{written}' has no value: the ',' before it ended the value of '{last}'",
                            hint=f"to give a pair, write '{last}: [{_flow_text(previous[last])}, {written}]'")

    def scalar(self, node: yaml.Node) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            raise SpecError.at(self.span(node), "expected a plain value here")
        if node.tag not in _SCALAR_TAGS:
            raise SpecError.at(self.span(node), f"YAML tag '{node.tag}' is not allowed in a spec",
                               hint="specs hold plain numbers, strings, booleans, lists and mappings")
        value = self.construct(node)
        if isinstance(value, float) and not math.isfinite(value):
            raise SpecError.at(self.span(node), f"{node.value!r} is not a finite number",
                               hint="every number in a spec is finite")
        if isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) > MAX_MAGNITUDE:
            raise SpecError.at(self.span(node), "number is too large (more than 10^40)")
        return value


    def construct(self, node: yaml.ScalarNode) -> Any:
        """The value of a scalar by the spec's rules for numbers (see `_number_form`), or a located error."""
        text, tag = node.value, node.tag.rsplit(":", 1)[-1]
        if not node.style and tag == "str" and _OCTAL.fullmatch(text):
            tag = "int"  # `0o17`: Python's and YAML 1.2's octal, a string to YAML 1.1
        if tag in ("int", "float"):
            problem = _number_form(text, tag)
            if problem is not None:
                raise SpecError.at(self.span(node), problem[0], hint=problem[1])
            if _OCTAL.fullmatch(text):
                return int(text.replace("_", ""), 0)
        if tag == "bool" and text.lower() not in _BOOLEANS:
            raise SpecError.at(self.span(node), f"{text!r} is not a boolean", hint="write true or false")
        if tag == "null" and text not in _NULLS:
            raise SpecError.at(self.span(node), f"{text!r} is not null", hint="write null, or remove the '!!null' tag")
        try:
            return self.scalar_loader.construct_object(node)
        except (yaml.YAMLError, ValueError, KeyError, IndexError) as exc:
            # PyYAML's constructors trust the resolver; an explicit tag (`!!int ''`) skips it.
            raise SpecError.at(self.span(node), f"{text!r} is not a valid !!{tag} value") from exc


_OCTAL = re.compile(r"[-+]?0o[0-7_]+", re.IGNORECASE)
_BOOLEANS = {"true", "false", "yes", "no", "on", "off", "y", "n"}
_NULLS = {"", "~", "null", "Null", "NULL"}
_DECIMAL_INT = re.compile(r"[-+]?(0|[1-9][0-9_]*)")
_PREFIXED_INT = re.compile(r"[-+]?(0x[0-9a-fA-F_]+|0b[01_]+|0o[0-7_]+)", re.IGNORECASE)
_FLOAT = re.compile(r"[-+]?([0-9][0-9_]*)?(\.[0-9_]*)?([eE][-+]?[0-9]+)?")


def _number_form(text: str, tag: str) -> tuple[str, str] | None:
    """Why `text` is refused as a number of `tag`, with a hint, or None.

    Numbers are read as Python reads them (`1_000`, `0x1F`, `0b101`, `0o17`); the YAML 1.1 forms that
    Python reads otherwise are refused rather than silently converted: a leading zero (`017`, octal 15
    to YAML 1.1) and base 60 (`1:30`, which YAML 1.1 reads as 90).
    """
    if ":" in text:
        return (f"{text!r} is a base-60 number to YAML 1.1 (it would be read as {_sexagesimal(text)})",
                f"write the number in base 10, or quote '{text}' for a string")
    if tag == "int" and re.fullmatch(r"[-+]?0[0-7_]+", text):
        digits = text.replace("_", "")
        return (f"{text!r} is an octal number to YAML 1.1 (it would be read as {int(digits, 8)})",
                f"write {int(digits)} for the decimal number, or {digits.replace('0', '0o', 1)} for octal")
    if tag == "int" and not (_DECIMAL_INT.fullmatch(text) or _PREFIXED_INT.fullmatch(text)):
        return f"{text!r} is not an integer", "write the integer in decimal digits, e.g. 64"
    if tag == "float" and not (text.lower().lstrip("+-") in (".inf", ".nan") or
                               (_FLOAT.fullmatch(text) and any(c.isdigit() for c in text))):
        if not (_DECIMAL_INT.fullmatch(text) or _PREFIXED_INT.fullmatch(text)):
            return f"{text!r} is not a number", "write a number such as 0.5 or 1e-5"
    return None


def _sexagesimal(text: str) -> str:
    try:
        value: float = 0
        for part in text.lstrip("+-").split(":"):
            value = value * 60 + float(part.replace("_", ""))
        return str(-value if text.startswith("-") else value).removesuffix(".0")
    except ValueError:
        return "a number"


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []
