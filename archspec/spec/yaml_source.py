"""YAML text → plain values that remember where they came from.

PyYAML's safe composer gives nodes with positions; we convert them ourselves
instead of calling a constructor so that every mapping and list keeps the span
of each key and value, duplicate keys are errors (PyYAML keeps the last one
silently), tags other than the standard scalar ones are refused, and alias
expansion is bounded ("billion laughs" documents fail fast, in bounded memory).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ..errors import Span, SpecError, remember_source

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


class Map(dict):
    """A YAML mapping with the span of the mapping, of each key and of each value."""

    span: Span
    key_spans: dict[str, Span]
    value_spans: dict[str, Span]

    def key_span(self, key: str) -> Span:
        return self.key_spans.get(key, self.span)

    def value_span(self, key: str) -> Span:
        return self.value_spans.get(key, self.span)


class Seq(list):
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


def make_seq(span: Span, items: list | None = None) -> Seq:
    result = Seq(items or [])
    result.span = span
    result.spans = [span] * len(result)
    return result


def load_yaml_file(path: Path, display: str) -> Any:
    """Read and convert one YAML document, raising located SpecErrors."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise SpecError.at(Span(display, 1, 1), f"no such file: {display}") from None
    except OSError as exc:
        raise SpecError.at(Span(display, 1, 1), f"cannot read {display}: {exc.strerror}") from None
    if len(data) > MAX_FILE_BYTES:
        raise SpecError.at(
            Span(display, 1, 1),
            f"spec file is {len(data)} bytes, larger than the limit of {MAX_FILE_BYTES}",
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError.at(Span(display, 1, 1), f"spec file is not UTF-8 text ({exc.reason})") from None
    return load_yaml_text(text, display)


def load_yaml_text(text: str, display: str) -> Any:
    remember_source(display, text)
    try:
        node = yaml.compose(text, Loader=_LOADER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        span = Span(display, mark.line + 1, mark.column + 1) if mark else Span(display, 1, 1)
        raise SpecError.at(span, f"malformed YAML: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise SpecError.at(Span(display, 1, 1), f"malformed YAML: {exc}") from None
    except RecursionError:
        raise SpecError.at(Span(display, 1, 1), "YAML nesting is too deep") from None
    if node is None:
        raise SpecError.at(Span(display, 1, 1), "the spec file is empty")
    return _Converter(display).convert(node, 0)


class _Converter:
    def __init__(self, display: str):
        self.display = display
        self.count = 0
        self.scalar_loader = yaml.SafeLoader("")

    def span(self, node: yaml.Node) -> Span:
        start, end = node.start_mark, node.end_mark
        length = end.index - start.index if end.line == start.line else 1
        return Span(self.display, start.line + 1, start.column + 1, max(1, length))

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
        if isinstance(node, yaml.MappingNode):
            return self.mapping(node, depth)
        if isinstance(node, yaml.SequenceNode):
            result = make_seq(self.span(node))
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
                raise SpecError.at(self.span(key_node), f"keys must be names, got {key!r}")
            if key in result:
                first = result.key_spans[key]
                raise SpecError.at(self.span(key_node), f"duplicate key '{key}' (first given at line {first.line})")
            result[key] = self.convert(value_node, depth + 1)
            result.key_spans[key] = self.span(key_node)
            result.value_spans[key] = self.span(value_node)
        return result

    def scalar(self, node: yaml.Node) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            raise SpecError.at(self.span(node), "expected a plain value here")
        if node.tag not in _SCALAR_TAGS:
            raise SpecError.at(self.span(node), f"YAML tag '{node.tag}' is not allowed in a spec",
                               hint="specs hold plain numbers, strings, booleans, lists and mappings")
        try:
            return self.scalar_loader.construct_object(node)
        except (yaml.YAMLError, ValueError) as exc:
            raise SpecError.at(self.span(node), f"invalid value: {exc}") from None
