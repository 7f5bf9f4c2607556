"""Spec files → ResolvedSpec: reads YAML, follows `extends` and `import`, merges, parses bodies.

`extends` makes a variant from a family: the variant's `params`, `defaults` and
`blocks` are merged key by key over the family's, every other top-level key
replaces the family's. A variant may only set parameters its family declares,
so a typo is an error instead of a silently ignored value. `import` brings the
`blocks` of other files. Both resolve relative to the file that names them and
may not leave the folder of the spec being compiled (or a folder given with
``--spec-path``).
"""

from __future__ import annotations

import errno
import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

from ..errors import Diagnostics, Span, SpecError, did_you_mean, display_path, listed, processing, source_line
from ..names import module_name_problem
from ..ops import OPS
from .expr import is_identifier
from .model import (BN_MODES, CONTAINER_KEYS, CONTAINERS, GROUP_KEYS, INIT_CHOICES, INIT_TENSORS, INITIALIZERS, ITEM_KEYS,
                    REPEAT_KEYS, BlockDef, BuildStep, DroppedLayer, InitCall, InitRule, InitSpec, Item, ParamDecl,
                    ResolvedSpec, TransferSpec, Value)
from .values import is_plain
from .yaml_source import Map, YamlList, load_yaml_file, load_yaml_text, make_map

TOP_LEVEL_KEYS = ("archspec", "name", "class", "doc", "extends", "import", "input", "params", "defaults",
                  "blocks", "body", "outputs", "methods", "detect", "init", "transfer")
BLOCK_KEYS = ("class", "doc", "params", "inputs", "body", "outputs", "init")
MAX_EXTENDS_DEPTH = 16
MAX_IMPORT_DEPTH = 16
PARAM_TYPES = ("int", "float", "bool", "str", "list")
SPEC_VERSION = 1


@dataclass
class _Context:
    roots: list[Path]
    allow_absolute: bool = False
    diagnostics: Diagnostics = field(default_factory=Diagnostics)
    files: list[str] = field(default_factory=list)
    cache: dict[Path, Map] = field(default_factory=dict)
    # The blocks a file brings, with everything it imports, by (file, import depth): a file imported many
    # times (a diamond) is resolved once per depth, so imports cost what their distinct files cost.
    imported: dict[tuple[Path, int], dict[str, BlockDef]] = field(default_factory=dict)


def load_spec(path: str | Path, spec_path: tuple[str | Path, ...] = (), allow_absolute: bool = False,
              params: Mapping[str, Any] | None = None) -> ResolvedSpec:
    """Load a spec file and everything it extends and imports; raises SpecError with every problem found.

    `extends` and `import` may read the spec's folder tree and the `spec_path` folders; absolute paths
    only with `allow_absolute` (the command line's --allow-absolute-paths). `params` override the spec's
    parameters as a variant's `params` would, checked the same way (see `override_params`).
    """
    path = Path(path)
    processing(Span(display_path(path), 0, 0))
    folders = checked_spec_path(spec_path)
    spec_file = _resolved(path, Span(display_path(path), 1, 1), "the spec")
    context = _Context(roots=[spec_file.parent, *folders], allow_absolute=allow_absolute)
    spec = _load(path, context, chain=())
    context.diagnostics.check()
    return override_params(spec, params) if params else spec


PARAMS_SOURCE = "<params>"


def override_params(spec: ResolvedSpec, params: Mapping[str, Any]) -> ResolvedSpec:
    """`spec` with `params` in place of its own, as if a variant extending it set them.

    The overrides are written out as the YAML of such a variant (`params: {num_classes: 10}`) and read
    back, so a misspelled name or a value of the wrong type is a located error that quotes that text.
    """
    lines = ["params:"] + [f"  {json.dumps(str(key))}: {_yaml_value(key, value)}" for key, value in params.items()]
    root = load_yaml_text("\n".join(lines) + "\n", PARAMS_SOURCE)
    diagnostics = Diagnostics()
    merged = _merge_params(root, spec, PARAMS_SOURCE, diagnostics)
    diagnostics.check()
    return replace(spec, params=merged)


def _yaml_value(key: Any, value: Any) -> str:
    """A parameter value as YAML flow text: JSON is YAML, and JSON holds every value a parameter may hold."""
    try:
        return json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        raise SpecError.at(Span(PARAMS_SOURCE, 1, 1), f"parameter '{key}' is {value!r}, which a spec cannot hold",
                           hint="parameters hold numbers, strings, booleans or lists of them") from None


def checked_spec_path(folders: tuple[str | Path, ...]) -> list[Path]:
    """The --spec-path folders, resolved; ValueError (a usage error, not a spec error) names one that is
    not a folder or cannot be resolved."""
    resolved = []
    for folder in folders:
        try:
            target = Path(folder).resolve()
            usable = target.is_dir()
        except (OSError, RuntimeError, ValueError) as exc:
            raise ValueError(f"--spec-path '{folder}': {path_problem(exc)}") from None
        if not usable:
            raise ValueError(f"--spec-path '{folder}' is not a folder")
        resolved.append(target)
    return resolved


def path_problem(exc: Exception) -> str:
    """Why the system could not use a path, in words."""
    if isinstance(exc, RuntimeError) or isinstance(exc, OSError) and exc.errno == errno.ELOOP:
        return "its symbolic links form a loop"
    if isinstance(exc, ValueError):
        return "it contains a NUL character"
    if isinstance(exc, OSError) and exc.errno == errno.ENAMETOOLONG:
        return "a part of it is longer than the file system allows"
    return exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)


def _resolved(path: Path, span: Span, what: str) -> Path:
    """`path` with its links resolved; a located error where that is impossible (a loop, a NUL, a name
    too long)."""
    try:
        resolved = path.resolve()
        resolved.is_file()  # raises for a name too long, which resolve() lets through
        return resolved
    except (OSError, RuntimeError, ValueError) as exc:
        raise SpecError.at(span, f"cannot read {what} '{path}': {path_problem(exc)}") from None


def _read(path: Path, context: _Context) -> Map:
    key = path.resolve()
    if key not in context.cache:
        display = display_path(path)
        root = load_yaml_file(path, display, not_a_mapping="a spec file must be a mapping of keys such as "
                              "'name', 'params' and 'body'")
        context.cache[key] = root
        context.files.append(display)
    return context.cache[key]


def _load(path: Path, context: _Context, chain: tuple[Path, ...]) -> ResolvedSpec:
    root = _read(path, context)
    _check_keys(root, TOP_LEVEL_KEYS, "top-level key", context.diagnostics)
    _check_version(root, context.diagnostics)
    parent = None
    if "extends" in root:
        target = _linked_path(root, "extends", path, context)
        if target.resolve() in chain or target.resolve() == path.resolve():
            raise SpecError.at(root.value_span("extends"), f"'extends' cycle: {_cycle(chain, path, target)}",
                               hint="a variant extends its family, never the reverse")
        if len(chain) >= MAX_EXTENDS_DEPTH:
            raise SpecError.at(root.value_span("extends"), f"'extends' is nested deeper than {MAX_EXTENDS_DEPTH}")
        if not target.is_file():
            raise SpecError.at(root.value_span("extends"), f"the family file '{root['extends']}' does not exist")
        parent = _load(target, context, chain + (path.resolve(),))
    # Closer definitions win: the family's blocks, then this file's imports, then its own blocks.
    blocks = dict(parent.blocks) if parent else {}
    blocks.update(_imported_blocks(root, path, context, depth=0, chain=(path.resolve(),)))
    spec = _merge(root, path, parent, blocks, context)
    # A block defined here sees the defaults of this file's whole extends chain.
    for block in _parse_blocks(root, context.diagnostics, spec.defaults):
        spec.blocks[block.name] = block
    return spec


def _cycle(chain: tuple[Path, ...], path: Path, target: Path) -> str:
    """'a.yaml -> b.yaml -> a.yaml': the files of an extends cycle, from the first one repeated."""
    files = [*chain, path.resolve()]
    if target.resolve() == path.resolve():
        return f"{target.name} extends itself"
    loop = files[files.index(target.resolve()):] + [target.resolve()]
    return " -> ".join(file.name for file in loop)


def _check_version(root: Map, diagnostics: Diagnostics) -> None:
    if "archspec" in root and root["archspec"] != SPEC_VERSION:
        diagnostics.error(root.value_span("archspec"),
                          f"this is archspec spec format {SPEC_VERSION}; the file asks for {root['archspec']!r}")


def _check_keys(mapping: Map, allowed: tuple[str, ...], what: str, diagnostics: Diagnostics) -> None:
    stray = _stray_bodies(mapping, allowed)
    for key in mapping:
        if key not in allowed:
            hint = "the layers go under 'body'" if key in stray else (
                did_you_mean(key, allowed) or f"allowed: {', '.join(allowed)}")
            diagnostics.error(mapping.key_span(key), f"unknown {what} '{key}'", hint)


def _stray_bodies(mapping: Map, allowed: tuple[str, ...]) -> list[str]:
    """Unknown keys holding a list where a 'body' is missing: the body under another name. They are
    reported as unknown keys, and the missing body is not reported again (one mistake, one error)."""
    if "body" not in allowed or "body" in mapping:
        return []
    return [key for key in mapping if key not in allowed and isinstance(mapping[key], YamlList)]


def _linked_path(root: Map, key: str, path: Path, context: _Context, value: Any = None,
                 span: Span | None = None) -> Path:
    value = root[key] if value is None else value
    span = span or root.value_span(key)
    if not isinstance(value, str) or not value:
        raise SpecError.at(span, f"'{key}' takes a file path, got {value!r}")
    if "\0" in value:
        raise SpecError.at(span, f"the path {value!r} contains a NUL character", hint="no file name can hold one")
    if Path(value).is_absolute():
        if context.allow_absolute:
            return _resolved(Path(value), span, "the file")
        raise SpecError.at(span, f"'{key}' must be a path relative to the spec, got the absolute path {value!r}",
                           hint="move the file next to the spec, pass its folder with --spec-path, or allow "
                                "absolute paths with --allow-absolute-paths")
    target = _resolved(path.parent / value, span, "the file")
    inside = any(target.is_relative_to(folder) for folder in context.roots)
    if inside and target.is_file():
        return target
    for folder in context.roots[1:]:  # the folders given with --spec-path
        candidate = _resolved(folder / value, span, "the file")
        if candidate.is_relative_to(folder) and candidate.is_file():
            return candidate
    if inside:
        return target  # missing: the caller reports it where it is named
    raise SpecError.at(span, f"'{value}' is outside the spec's folder",
                       hint="a spec may only read files in its own folder tree; "
                            "pass another folder with --spec-path to allow it")


def _imported_blocks(root: Map, path: Path, context: _Context, depth: int,
                     chain: tuple[Path, ...]) -> dict[str, BlockDef]:
    """The blocks `root`'s imports bring, by name; a later definition of a name wins."""
    if "import" not in root:
        return {}
    imports = root["import"]
    if isinstance(imports, str):
        imports, spans = [imports], [root.value_span("import")]
    elif isinstance(imports, YamlList):
        spans = imports.spans
    else:
        raise SpecError.at(root.value_span("import"), "'import' takes a file path or a list of them")
    if depth >= MAX_IMPORT_DEPTH:
        raise SpecError.at(root.value_span("import"), f"imports are nested deeper than {MAX_IMPORT_DEPTH}")
    found: dict[str, BlockDef] = {}
    for value, span in zip(imports, spans):
        target = _linked_path(root, "import", path, context, value=value, span=span)
        if target in chain:
            raise SpecError.at(span, f"import cycle: {target.name} is already being imported",
                               hint="move the shared blocks into a file that imports nothing")
        if not target.is_file():
            raise SpecError.at(span, f"imported file '{value}' does not exist")
        key = (target, depth + 1)
        if key not in context.imported:
            # A result is kept only once complete, and a cycle through it would have been found then.
            context.imported[key] = _file_blocks(target, context, depth + 1, chain + (target,))
        found.update(context.imported[key])
    return found


def _file_blocks(target: Path, context: _Context, depth: int, chain: tuple[Path, ...]) -> dict[str, BlockDef]:
    """The blocks an imported file defines and imports; its own definitions win over what it imports."""
    imported = _read(target, context)
    found = _imported_blocks(imported, target, context, depth, chain)
    defaults = _merge_defaults(imported, None, display_path(target), context.diagnostics)
    found.update((block.name, block) for block in _parse_blocks(imported, context.diagnostics, defaults))
    return found


def _merge(root: Map, path: Path, parent: ResolvedSpec | None, blocks: dict[str, BlockDef],
           context: _Context) -> ResolvedSpec:
    diagnostics = context.diagnostics
    display = display_path(path)
    file_span = Span(display, 1, 1)

    def value(key: str) -> Value | None:
        """The value this file gives `key`, if it gives one."""
        return Value(root[key], root.value_span(key), display) if key in root else None

    name = value("name") or (parent.name if parent else Value(path.stem, file_span, display))
    if not isinstance(name.value, str) or not is_identifier(name.value):
        diagnostics.error(name.span, f"the spec name {name.value!r} is not a valid Python identifier",
                          hint="it names the factory function of the emitted file, e.g. 'resnet50'")
        name = Value(path.stem if is_identifier(path.stem) else "network", name.span, display)
    elif problem := module_name_problem(name.value):
        diagnostics.error(name.span, f"the spec name {problem}",
                          hint="it names the factory function of the emitted file; set 'name' to another one")
        name = Value("network", name.span, display)
    inherited = parent.class_name if parent and parent.class_name.origin != "derived" else None
    class_name = value("class") or inherited or Value(_camel(name.value), name.span, "derived")
    if not isinstance(class_name.value, str) or not is_identifier(class_name.value):
        diagnostics.error(class_name.span, f"class name {class_name.value!r} is not a valid Python identifier",
                          hint="it names the nn.Module class of the emitted file, e.g. 'ResNet'")
        class_name = Value(_camel(name.value), name.span, "derived")
    elif problem := module_name_problem(class_name.value):
        diagnostics.error(class_name.span, f"class name {problem}",
                          hint="it names the nn.Module class of the emitted file; set 'class' to another name")
        class_name = Value("Network", name.span, "derived")
    params = _merge_params(root, parent, display, diagnostics)
    defaults = _merge_defaults(root, parent, display, diagnostics)
    if "body" in root:
        body = parse_body(root["body"], root.value_span("body"), diagnostics)
        body_span = root.value_span("body")
    elif parent:
        body, body_span = parent.body, parent.body_span
    else:
        if not _stray_bodies(root, TOP_LEVEL_KEYS):
            diagnostics.error(file_span, "the spec has no 'body'", hint="list the network's layers under 'body:'")
        body, body_span = [], file_span
    input_value = value("input") or (parent.input if parent else None)
    if input_value is None:
        diagnostics.error(file_span, "the spec has no 'input' shape", hint="add e.g. 'input: [3, 224, 224]'")
        input_value = Value([3, 224, 224], file_span, "missing")
    doc = root.get("doc", parent.doc if parent else "")
    return ResolvedSpec(
        path=display, name=name, class_name=class_name, doc=doc if isinstance(doc, str) else "",
        input=input_value, params=params, defaults=defaults, blocks=blocks, body=body, body_span=body_span,
        outputs=value("outputs") or (parent.outputs if parent else None),
        methods=value("methods") or (parent.methods if parent else None), files=list(context.files),
        detect=value("detect") or (parent.detect if parent else None),
        init=_parse_init(root, diagnostics) if "init" in root else parent.init if parent else None,
        transfer=_parse_transfer(root, path, diagnostics) if "transfer" in root else (
            parent.transfer if parent else None))


def _merge_params(root: Map, parent: ResolvedSpec | None, display: str,
                  diagnostics: Diagnostics) -> dict[str, Value]:
    params = dict(parent.params) if parent else {}
    given = root.get("params")
    if given is None:
        return params
    if not isinstance(given, Map):
        diagnostics.error(root.value_span("params"), "'params' must be a mapping of names to values")
        return params
    for key, raw in given.items():
        if parent is not None and key not in parent.params:
            hint = did_you_mean(key, parent.params) or (
                "declared parameters: " + listed(parent.params) if parent.params else "it declares none")
            diagnostics.error(given.key_span(key), f"unknown parameter '{key}': the family does not declare it",
                              hint)
            continue
        if not is_identifier(key):
            diagnostics.error(given.key_span(key), f"parameter name '{key}' is not a valid identifier")
            continue
        if isinstance(raw, dict):
            diagnostics.error(given.value_span(key), f"parameter '{key}' is a mapping",
                              hint="parameters hold numbers, strings, booleans or lists")
            continue
        if parent is not None and not _same_type(parent.params[key].value, raw):
            expected = _type_name(parent.params[key].value)
            diagnostics.error(given.value_span(key), f"parameter '{key}' is {expected} in the family, "
                              f"got {raw!r}")
            continue
        params[key] = Value(raw, given.value_span(key), display)
    return params


def _type_name(value: Any) -> str:
    for python_type, name in ((bool, "a boolean"), (int, "an integer"), (float, "a number"), (str, "a string"),
                              (list, "a list")):
        if isinstance(value, python_type):
            return name
    return type(value).__name__


def _same_type(old: Any, new: Any) -> bool:
    if old is None:
        return True
    if isinstance(old, bool) or isinstance(new, bool):
        return isinstance(old, bool) == isinstance(new, bool)
    if isinstance(old, (int, float)) and isinstance(new, (int, float)):
        return not (isinstance(old, int) and isinstance(new, float))
    return type(old) is type(new) or isinstance(old, list) and isinstance(new, list) or old is None


def _merge_defaults(root: Map, parent: ResolvedSpec | None, display: str,
                    diagnostics: Diagnostics) -> dict[str, dict[str, Value]]:
    merged = {op: dict(attrs) for op, attrs in (parent.defaults.items() if parent else ())}
    given = root.get("defaults")
    if given is None:
        return merged
    if not isinstance(given, Map):
        diagnostics.error(root.value_span("defaults"), "'defaults' maps op names to attribute values, "
                          "e.g. 'conv: {kernel: 3, padding: 1}'")
        return merged
    for op_name, attrs in given.items():
        op = OPS.get(op_name)
        if op is None:
            diagnostics.error(given.key_span(op_name), f"unknown op '{op_name}' in defaults",
                              did_you_mean(op_name, OPS))
            continue
        if not isinstance(attrs, Map):
            diagnostics.error(given.value_span(op_name), f"defaults for '{op_name}' must be a mapping")
            continue
        for attr, raw in attrs.items():
            if attr not in op.attrs:
                diagnostics.error(attrs.key_span(attr), f"op '{op_name}' has no attribute '{attr}'",
                                  did_you_mean(attr, op.attrs) or f"attributes: {', '.join(op.attrs)}")
                continue
            merged.setdefault(op_name, {})[attr] = Value(raw, attrs.value_span(attr), display)
    return merged


# ---------------------------------------------------------------- init and transfer

TRANSFER_KEYS = ("pretrained", "replace", "freeze", "bn", "lr_mult")


def _parse_init(root: Map, diagnostics: Diagnostics) -> InitSpec | None:
    """`init: {conv: {weight: …}, bn: {…}, parts: {bottleneck.bn3: {weight: 0, if: …}}, dropped: […]}`, of the
    spec, a group or a block definition (`root` is the mapping that holds it)."""
    raw, span = root["init"], root.value_span("init")
    if not isinstance(raw, Map):
        diagnostics.error(span, "'init' maps op kinds to how their tensors start, and 'parts' named parts to theirs",
                          hint="e.g. 'init: {conv: {weight: {kaiming_normal: {mode: fan_out}}}, bn: {weight: 1}}'")
        return None
    return _init_rules(raw, span, diagnostics, keys=INIT_KEYS)


INIT_KEYS = ("parts", "dropped", "order")
STEP_KEYS = ("build", "dropped")  # a step's rules are of op kinds: its parts are built, not named


def _init_rules(raw: Map, span: Span, diagnostics: Diagnostics, keys: tuple[str, ...]) -> InitSpec:
    """The rules of an `init`, or of one step of its `order` (`keys` are the words it takes besides op kinds)."""
    ops, parts, dropped, order = [], [], [], []
    for key, rules in raw.items():
        if key == "build" and key in keys:
            continue  # the step reads it
        if key == "dropped":
            dropped = _dropped_layers(rules, raw.value_span(key), diagnostics)
        elif key == "order" and key in keys:
            order = _build_steps(rules, raw.value_span(key), diagnostics)
        elif key == "parts" and key in keys:
            if not isinstance(rules, Map):
                diagnostics.error(raw.value_span(key), "'parts' maps part names (fc, bottleneck.bn3) to initialisers")
                continue
            parts += [_init_rule(part, rules, diagnostics, conditional=True) for part in rules]
        elif key in INIT_KEYS and key not in keys:
            diagnostics.error(raw.key_span(key), f"'{key}' belongs to the `init` itself, not to a step of 'order'",
                              hint="a step builds its parts and initialises them with rules of op kinds")
        elif key not in OPS:
            where = "init" if "order" in keys else "a step of 'order'"
            hint = "named parts go under 'parts'" if "parts" in keys else "a step takes rules of op kinds only"
            diagnostics.error(raw.key_span(key), f"unknown op '{key}' in {where}",
                              did_you_mean(key, [*OPS, *keys]) or hint)
        else:
            ops.append(_init_rule(key, raw, diagnostics, conditional=False))
    return InitSpec(ops=[r for r in ops if r], parts=[r for r in parts if r], span=span, dropped=dropped, order=order)


def _build_steps(raw: Any, span: Span, diagnostics: Diagnostics) -> list[BuildStep]:
    """`order: [{build: [features, extra.0], conv: {…}}, {build: [extra.1]}, …]`: the steps in which the class
    builds its parts, each initialising what it built; the IR checks the names."""
    if not isinstance(raw, list):
        diagnostics.error(span, "'order' is a list of steps, each {build: [parts], op kind: rules}",
                          hint="e.g. 'order: [{build: [features]}, {build: [classifier]}]'")
        return []
    steps = []
    for index, entry in enumerate(raw):
        where = raw.item_span(index) if isinstance(raw, YamlList) else span
        if not isinstance(entry, Map) or "build" not in entry:
            diagnostics.error(where, "a step of 'order' names the parts it builds under 'build'",
                              hint="e.g. {build: [extra.1, extra.2], conv: {weight: xavier_uniform}}")
            continue
        names = entry["build"]
        if not isinstance(names, list) or not names or not all(isinstance(name, str) for name in names):
            diagnostics.error(entry.value_span("build"), "'build' is a list of part names",
                              hint="e.g. 'build: [features, extra.0]'")
            continue
        built = [Value(name, names.item_span(i) if isinstance(names, YamlList) else entry.value_span("build"))
                 for i, name in enumerate(names)]
        steps.append(BuildStep(built, _init_rules(entry, where, diagnostics, keys=STEP_KEYS), where))
    return steps


def _dropped_layers(raw: Any, span: Span, diagnostics: Diagnostics) -> list[DroppedLayer]:
    """`dropped: [linear: {in: 2048, out: 1000}]`: each entry one op with its attributes, all stated (a
    dropped layer has no input to infer its channels from; the IR checks that)."""
    if not isinstance(raw, list):
        diagnostics.error(span, "'dropped' is a list of layers, each {op: {attributes}}",
                          hint="e.g. 'dropped: [linear: {in: 2048, out: 1000}]'")
        return []
    layers = []
    for index, entry in enumerate(raw):
        where = raw.item_span(index) if isinstance(raw, YamlList) else span
        if not isinstance(entry, Map) or len(entry) != 1:
            diagnostics.error(where, "a dropped layer is one op with its attributes",
                              hint="e.g. {linear: {in: 2048, out: 1000}}")
            continue
        (op, attrs), = entry.items()
        if op not in OPS:
            diagnostics.error(entry.key_span(op), f"unknown op '{op}' in 'dropped'",
                              did_you_mean(op, OPS) or "ops: " + ", ".join(sorted(OPS)))
            continue
        if not isinstance(attrs, Map):
            diagnostics.error(entry.value_span(op), f"the attributes of '{op}' must be a mapping, got {attrs!r}")
            continue
        unknown = [key for key in attrs if key not in OPS[op].attrs]
        for key in unknown:
            diagnostics.error(attrs.key_span(key), f"op '{op}' has no attribute '{key}'",
                              did_you_mean(key, OPS[op].attrs) or f"attributes: {', '.join(OPS[op].attrs)}")
        if not unknown:
            layers.append(DroppedLayer(op, attrs, entry.key_span(op)))
    return layers


def _init_rule(target: str, owner: Map, diagnostics: Diagnostics, conditional: bool) -> InitRule | None:
    raw, span = owner[target], owner.value_span(target)
    allowed = INIT_TENSORS + (("if",) if conditional else ())
    if not isinstance(raw, Map):
        diagnostics.error(span, f"the init of '{target}' maps its tensors ({', '.join(INIT_TENSORS)}) to initialisers",
                          hint="e.g. {weight: {normal: {std: 0.01}}, bias: 0}")
        return None
    rule = InitRule(target=target, span=owner.key_span(target), tensors={})
    for tensor, value in raw.items():
        if tensor == "if" and conditional:
            rule.condition, rule.condition_span = value, raw.value_span(tensor)
        elif tensor not in allowed:
            diagnostics.error(raw.key_span(tensor), f"unknown tensor '{tensor}' in the init of '{target}'",
                              did_you_mean(tensor, allowed) or f"allowed: {', '.join(allowed)}")
        elif (call := _init_call(value, raw.value_span(tensor), diagnostics)) is not None:
            rule.tensors[tensor] = call
    return rule


def _init_call(raw: Any, span: Span, diagnostics: Diagnostics) -> InitCall | None:
    """A number (a constant), an initialiser's name, or `{name: {keyword: value}}`."""
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        return InitCall("constant", {"val": raw}, span)
    args: Any = {}
    if isinstance(raw, Map) and len(raw) == 1:
        (name, args), = raw.items()
        args = {} if args is None else args
    elif isinstance(raw, str):
        name = raw
    else:
        diagnostics.error(span, "an initialiser is a number, a name or {name: {keyword: value}}",
                          hint="e.g. 0, zeros or {kaiming_normal: {mode: fan_out, nonlinearity: relu}}")
        return None
    if name not in INITIALIZERS:
        diagnostics.error(span, f"unknown initialiser '{name}'",
                          did_you_mean(name, INITIALIZERS) or f"known: {', '.join(INITIALIZERS)}")
        return None
    if not isinstance(args, Map) and args != {}:
        diagnostics.error(span, f"the keywords of '{name}' must be a mapping, e.g. {{{name}: {{...}}}}")
        return None
    good = True
    for key, value in args.items():
        choices = INIT_CHOICES.get(key)
        if key not in INITIALIZERS[name]:
            diagnostics.error(args.key_span(key), f"'{name}' takes no keyword '{key}'",
                              f"it takes: {', '.join(INITIALIZERS[name])}" if INITIALIZERS[name] else "it takes none")
        elif choices is not None and value not in choices:
            diagnostics.error(args.value_span(key), f"'{key}' of '{name}' must be one of {', '.join(choices)}, "
                              f"got {value!r}", did_you_mean(str(value), choices))
        elif choices is None and (not isinstance(value, (int, float)) or isinstance(value, bool)):
            diagnostics.error(args.value_span(key), f"'{key}' of '{name}' must be a number, got {value!r}")
        else:
            continue
        good = False
    if name == "constant" and "val" not in args:
        diagnostics.error(span, "'constant' needs its value", hint="write the number itself, e.g. 'bias: 0'")
        good = False
    return InitCall(name, dict(args), span) if good else None


def _parse_transfer(root: Map, path: Path, diagnostics: Diagnostics) -> TransferSpec | None:
    """`transfer: {pretrained: FILE, replace: [fc], freeze: [layer1], bn: frozen, lr_mult: {layer3: 0.1}}`."""
    raw, span = root["transfer"], root.value_span("transfer")
    if not isinstance(raw, Map):
        diagnostics.error(span, "'transfer' is a mapping of " + ", ".join(TRANSFER_KEYS))
        return None
    _check_keys(raw, TRANSFER_KEYS, "key of 'transfer'", diagnostics)
    display = display_path(path)
    transfer = TransferSpec(span=span)
    if "pretrained" in raw:
        if isinstance(raw["pretrained"], str) and raw["pretrained"]:
            # Relative to the spec, like `extends`; read only by `archspec train`, never by the emitted file.
            transfer.pretrained = Value(str(path.parent / raw["pretrained"]), raw.value_span("pretrained"), display)
        else:
            diagnostics.error(raw.value_span("pretrained"), "'pretrained' takes the path of a weights file")
    for key in ("replace", "freeze"):
        setattr(transfer, key, _part_names(raw, key, display, diagnostics))
    if "bn" in raw:
        if raw["bn"] in BN_MODES:
            transfer.bn = Value(raw["bn"], raw.value_span("bn"), display)
        else:
            diagnostics.error(raw.value_span("bn"), f"'bn' must be one of {', '.join(BN_MODES)}, got {raw['bn']!r}",
                              "frozen: scale, shift and statistics fixed; eval: statistics fixed")
    multipliers = raw.get("lr_mult")
    if isinstance(multipliers, Map):
        transfer.lr_mult += _lr_multipliers(multipliers, display, diagnostics)
    elif multipliers is not None:
        diagnostics.error(raw.value_span("lr_mult"), "'lr_mult' maps part names to learning-rate multipliers",
                          hint="e.g. 'lr_mult: {layer3: 0.1, layer4: 0.1}'")
    return transfer


def _lr_multipliers(multipliers: Map, display: str, diagnostics: Diagnostics) -> list[tuple[Value, Value]]:
    """The (part, multiplier) pairs of `lr_mult`; a multiplier that is no number of at least 0 is an error."""
    found = []
    for name, value in multipliers.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            diagnostics.error(multipliers.value_span(name), f"the learning-rate multiplier of '{name}' must be a "
                              f"number of at least 0, got {value!r}")
            continue
        found.append((Value(name, multipliers.key_span(name), display),
                      Value(value, multipliers.value_span(name), display)))
    return found


def _part_names(raw: Map, key: str, display: str, diagnostics: Diagnostics) -> list[Value]:
    value = raw.get(key)
    if value is None:
        return []
    if isinstance(value, str) and value:
        items, spans = [value], [raw.value_span(key)]
    elif isinstance(value, YamlList) and all(isinstance(item, str) and item for item in value):
        items, spans = list(value), value.spans
    else:
        diagnostics.error(raw.value_span(key), f"'{key}' takes a part name or a list of them, e.g. [layer1, layer2]")
        return []
    return [Value(item, span, display) for item, span in zip(items, spans)]


def _camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_") if part) or "Network"


# ---------------------------------------------------------------- blocks


def _parse_blocks(root: Map, diagnostics: Diagnostics, defaults: dict[str, dict[str, Value]]) -> list[BlockDef]:
    blocks = root.get("blocks")
    if blocks is None:
        return []
    if not isinstance(blocks, Map):
        diagnostics.error(root.value_span("blocks"), "'blocks' maps block names to their definitions")
        return []
    parsed = []
    for name, definition in blocks.items():
        span = blocks.key_span(name)
        if not is_identifier(name):
            diagnostics.error(span, f"block name '{name}' is not a valid identifier")
            continue
        if name in OPS or name in CONTAINERS:
            diagnostics.error(span, f"block name '{name}' is already the name of an op",
                              hint="choose another name for the block")
            continue
        if not isinstance(definition, Map):
            diagnostics.error(blocks.value_span(name), f"block '{name}' must be a mapping with 'params' and 'body'")
            continue
        _check_keys(definition, BLOCK_KEYS, "block key", diagnostics)
        if "body" not in definition:
            if not _stray_bodies(definition, BLOCK_KEYS):
                diagnostics.error(span, f"block '{name}' has no 'body'")
            continue
        class_name = definition.get("class", _camel(name))
        class_span = definition.value_span("class") if "class" in definition else span
        if not isinstance(class_name, str) or not is_identifier(class_name):
            diagnostics.error(definition.value_span("class"), f"class name {class_name!r} is not a valid identifier")
            class_name = _camel(name)
        elif problem := module_name_problem(class_name):
            diagnostics.error(class_span, f"block '{name}': class name {problem}",
                              hint="it names the block's nn.Module class in the emitted file; set 'class'")
        inputs = definition.get("inputs", ["input"])
        if isinstance(inputs, str):
            inputs = [inputs]
        if not isinstance(inputs, list) or not inputs or not all(isinstance(i, str) and is_identifier(i)
                                                                 for i in inputs):
            diagnostics.error(definition.value_span("inputs"), "'inputs' is a list of input names, e.g. [x]")
            inputs = ["input"]
        elif len(set(inputs)) != len(inputs):
            twice = next(i for i in inputs if inputs.count(i) > 1)
            diagnostics.error(definition.value_span("inputs"), f"block '{name}' names its input '{twice}' twice")
            inputs = ["input"]
        parsed.append(BlockDef(
            name=name, span=span, file=span.file, params=_param_decls(definition, diagnostics),
            body=parse_body(definition["body"], definition.value_span("body"), diagnostics),
            class_name=class_name, class_span=class_span,
            doc=definition.get("doc", "") if isinstance(definition.get("doc"), str) else "",
            inputs=list(inputs), outputs=definition.get("outputs"),
            outputs_span=definition.value_span("outputs") if "outputs" in definition else None,
            defaults=defaults, init=_parse_init(definition, diagnostics) if "init" in definition else None))
    return parsed


def _param_decls(definition: Map, diagnostics: Diagnostics) -> dict[str, ParamDecl]:
    params = definition.get("params")
    if params is None:
        return {}
    if not isinstance(params, Map):
        diagnostics.error(definition.value_span("params"), "block 'params' maps names to defaults or types")
        return {}
    decls = {}
    for name, raw in params.items():
        span = params.key_span(name)
        if not is_identifier(name) or name in ("in_channels", "self"):
            diagnostics.error(span, f"'{name}' cannot name a block parameter",
                              hint="'in_channels' is provided by archspec; names must be Python identifiers")
            continue
        if isinstance(raw, str) and raw in PARAM_TYPES:
            decls[name] = ParamDecl(name, raw, None, True, span)
        elif raw is None:
            diagnostics.error(params.value_span(name), f"parameter '{name}' needs a default value or a type",
                              hint=f"write a default, or one of {', '.join(PARAM_TYPES)} to make it required")
        elif isinstance(raw, dict):
            diagnostics.error(params.value_span(name), f"parameter '{name}' has a mapping as its default",
                              hint="parameters hold numbers, strings, booleans or lists")
        elif not is_plain(raw):
            diagnostics.error(params.value_span(name), f"the default of parameter '{name}' is not a number, "
                              "string, boolean or list of them", hint="generated code writes it as a literal")
        else:
            decls[name] = ParamDecl(name, _type_of(raw), raw, False, span)
    return decls


def _type_of(value: Any) -> str:
    for python_type, name in ((bool, "bool"), (int, "int"), (float, "float"), (str, "str"), (list, "list")):
        if isinstance(value, python_type):
            return name
    return "str"


# ---------------------------------------------------------------- bodies


def parse_body(raw: Any, span: Span, diagnostics: Diagnostics) -> list[Item]:
    """Parse a `body` list into Items, reporting malformed entries."""
    if not isinstance(raw, YamlList):
        diagnostics.error(span, "'body' must be a list of layers")
        return []
    items = []
    for index, entry in enumerate(raw):
        item = _parse_item(entry, raw.item_span(index), diagnostics)
        if item is not None:
            items.append(item)
    return items


def _parse_item(entry: Any, span: Span, diagnostics: Diagnostics) -> Item | None:
    if isinstance(entry, str):
        if _missing_colon(entry, span, diagnostics):
            return None
        return Item(kind=_kind(entry), op=entry, span=span, attrs=make_map(span))
    if not isinstance(entry, Map) or len(entry) != 1:
        diagnostics.error(span, "each layer is an op name or a one-key mapping like 'conv: {out: 64, kernel: 3}'",
                          hint="check the indentation: the attributes belong inside the op's mapping")
        return None
    (op, attrs), = entry.items()
    key_span = entry.key_span(op)
    if _missing_colon(op, key_span, diagnostics):
        return None
    if attrs is None:
        attrs = make_map(key_span)
    if not isinstance(attrs, Map):
        diagnostics.error(entry.value_span(op), f"the attributes of '{op}' must be a mapping, got {attrs!r}",
                          hint=f"write e.g. '{op}: {{name: x}}'")
        return None
    item = Item(kind=_kind(op), op=op, span=key_span, attrs=attrs)
    item.name = attrs.get("name")
    item.inputs = attrs.get("from")
    item.condition = attrs.get("if")
    share = attrs.get("share")
    if share is not None and not isinstance(share, str):
        diagnostics.error(attrs.value_span("share"), "'share' names an earlier layer whose weights are reused")
    item.share = share if isinstance(share, str) else None
    if item.kind in CONTAINERS:
        if "body" not in attrs:
            if not _stray_bodies(attrs, ("body",)):
                diagnostics.error(key_span, f"'{op}' needs a 'body' list")
        else:
            item.body = parse_body(attrs["body"], attrs.value_span("body"), diagnostics)
    if item.kind in CONTAINERS:
        extra = {"repeat": REPEAT_KEYS, "group": GROUP_KEYS}.get(item.kind, CONTAINER_KEYS)
        allowed = tuple(k for k in ITEM_KEYS if k != "share") + extra
        _check_keys(attrs, allowed, f"key of '{item.kind}'", diagnostics)
    if item.kind == "group" and "init" in attrs:
        item.init = _parse_init(attrs, diagnostics)
    if item.kind == "repeat" and "from" in attrs and "name" not in attrs:
        diagnostics.error(attrs.key_span("from"), "an unnamed 'repeat' splices its layers into the body; "
                          "it has no input of its own", hint="put 'from' on its first layer, or name the repeat")
    if item.kind == "repeat":
        item.count = attrs.get("count")
        if item.count is None:
            diagnostics.error(key_span, "'repeat' needs a 'count'")
        var = attrs.get("as", "i")
        if not isinstance(var, str) or not is_identifier(var):
            diagnostics.error(attrs.value_span("as"), f"'as' names the loop index; {var!r} is not a valid name")
            var = "i"
        item.var = var
    return item


_OP_THEN_BRACE = re.compile(r"([A-Za-z_]\w*)\s*[{\[]")


def _missing_colon(op: str, span: Span, diagnostics: Diagnostics) -> bool:
    """Report `- linear {out: 10}`, which YAML reads as the key 'linear {out' with the value '10}'."""
    match = _OP_THEN_BRACE.match(op)
    if match is None:
        return False
    written = (source_line(span) or "")[span.column - 1:].strip() or op
    fixed = _OP_THEN_BRACE.sub(lambda m: f"{m.group(1)}: {m.group(0)[-1]}", written, count=1)
    diagnostics.error(replace(span, length=len(match.group(1))), f"missing ':' after the op name '{match.group(1)}'",
                      hint=f"write '{fixed}'")
    return True


def _kind(op: str) -> str:
    if op in CONTAINERS:
        return op
    return "op" if op in OPS else "block"
