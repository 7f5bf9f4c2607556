"""The JSON Schema of spec files and the language guide: shipped specs and the guide's examples pass,
broken specs fail, and both generated files are in step with the op registry."""

from __future__ import annotations

import importlib.util
import re
import textwrap
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonschema
import pytest
import yaml

from archspec.compiler import compile_spec

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_PATH = ROOT / "schemas" / "archspec.schema.json"
DOC_PATH = ROOT / "docs" / "spec-language.md"
SHIPPED = sorted((ROOT / "specs").rglob("*.yaml"))


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("schema_generate", ROOT / "schemas" / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def generator() -> ModuleType:
    return _generator()


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = yaml.safe_load(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _errors(validator: jsonschema.Draft202012Validator, document: Any) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]


# ---------------------------------------------------------------- specs that must pass


@pytest.mark.parametrize("path", SHIPPED, ids=[str(p.relative_to(ROOT)) for p in SHIPPED])
def test_shipped_spec_validates(validator: jsonschema.Draft202012Validator, path: Path) -> None:
    assert _errors(validator, yaml.safe_load(path.read_text(encoding="utf-8"))) == []


ACCEPTED = {
    "expressions where numbers and truth values go": """
        input: [3, 32, 32]
        params: {width: 16, deep: true}
        body:
          - conv: {out: width * 2, kernel: [3, "1 + 2"], stride: "2 if deep else 1", bias: not deep}
          - bn: {eps: 1e-5}
          - dropout: {p: "1.0 / 4"}
    """,
    "bare items, empty mappings and block choice by parameter": """
        input: [3, 32, 32]
        params: {unit: plain}
        blocks:
          plain: {params: {out: 8}, body: [conv: {out: out, kernel: 1}]}
        body: [relu, {relu: null}, plain, $unit: {out: 4}, $unit: {name: again, from: plain1, share: unit1}]
    """,
    "a block library with no body": """
        blocks:
          stem: {body: [conv: {out: 8, kernel: 3}, relu]}
    """,
    "a variant that sets only parameters": """
        extends: family.yaml
        name: small
        params: {width: 8}
    """,
}


@pytest.mark.parametrize("text", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_schema_accepts(validator: jsonschema.Draft202012Validator, text: str) -> None:
    assert _errors(validator, yaml.safe_load(textwrap.dedent(text))) == []


def _doc_examples() -> list[tuple[str, str]]:
    """The guide's full specs: ```yaml blocks whose first line is `# file: NAME.yaml`."""
    text = DOC_PATH.read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n# file: (\S+)\n(.*?)```", text, re.DOTALL)
    return [(name, body) for name, body in blocks]


def test_doc_examples_validate_and_compile(validator: jsonschema.Draft202012Validator, tmp_path: Path) -> None:
    examples = _doc_examples()
    assert len(examples) >= 3, "the guide's full examples start with '# file: NAME.yaml'"
    for name, body in examples:  # written first, since examples extend and import each other
        (tmp_path / name).write_text(body, encoding="utf-8")
    for name, body in examples:
        assert _errors(validator, yaml.safe_load(body)) == [], name
        if re.search(r"^(body|extends):", body, re.MULTILINE):  # a block library compiles only when imported
            compile_spec(tmp_path / name)


# ---------------------------------------------------------------- specs that must fail

REJECTED = {
    "unknown top-level key": "input: [3, 32, 32]\nlayers: 3\nbody: [relu]",
    "misspelled top-level key": "input: [3, 32, 32]\nbodies: [relu]",
    "no body and no family": "input: [3, 32, 32]\nname: empty",
    "a future format version": "archspec: 2\ninput: [3, 32, 32]\nbody: [relu]",
    "a spec name that is not an identifier": "name: my-net\ninput: [3, 32, 32]\nbody: [relu]",
    "input that is not a list": "input: 224\nbody: [relu]",
    "body that is not a list": "input: [3, 32, 32]\nbody: {conv: {out: 8, kernel: 3}}",
    "attributes indented beside the op (two keys)": "input: [3, 32, 32]\nbody:\n  - conv:\n    out: 8\n",
    "unknown attribute on a conv": "input: [3, 32, 32]\nbody: [conv: {out: 8, kernle: 3}]",
    "a list where a truth value goes": "input: [3, 32, 32]\nbody: [conv: {out: 8, kernel: 3, bias: [1]}]",
    "a kernel of three sizes": "input: [3, 32, 32]\nbody: [conv: {out: 8, kernel: [3, 3, 3]}]",
    "zero output channels": "input: [3, 32, 32]\nbody: [conv: {out: 0, kernel: 3}]",
    "attributes on a layer that shares weights": "input: [3, 32, 32]\n"
                                                 "body: [conv: {name: a, out: 3, kernel: 1}, "
                                                 "conv: {share: a, out: 3}]",
    "a layer name with a dash": "input: [3, 32, 32]\nbody: [relu: {name: my-relu}]",
    "a layer name that shadows nn.Module": "input: [3, 32, 32]\nbody: [relu: {name: forward}]",
    "an item that is a number": "input: [3, 32, 32]\nbody: [3]",
    "an item name with a dash": "input: [3, 32, 32]\nbody: [my-block]",
    "seq without a body": "input: [3, 32, 32]\nbody: [seq: {name: s}]",
    # The compiler and the schema both reject unknown keys on seq and repeat.
    "unknown key on a seq": "input: [3, 32, 32]\nbody: [seq: {body: [relu], count: 2}]",
    "repeat without a count": "input: [3, 32, 32]\nbody: [repeat: {body: [relu]}]",
    "a repeat index that is not a name": "input: [3, 32, 32]\nbody: [repeat: {count: 2, as: 1x, body: [relu]}]",
    "outputs that are a number": "input: [3, 32, 32]\nbody: [relu]\noutputs: 3",
    "defaults for an unknown op": "input: [3, 32, 32]\ndefaults: {convolution: {kernel: 3}}\nbody: [relu]",
    "item keys in defaults": "input: [3, 32, 32]\ndefaults: {conv: {name: c}}\nbody: [relu]",
    "a block name that is not an identifier": "input: [3, 32, 32]\nblocks: {my-block: {body: [relu]}}\n"
                                              "body: [relu]",
    "a block named like an op": "input: [3, 32, 32]\nblocks: {conv: {body: [relu]}}\nbody: [relu]",
    "a block without a body": "input: [3, 32, 32]\nblocks: {b: {params: {n: 1}}}\nbody: [b]",
    "an unknown key in a block": "input: [3, 32, 32]\nblocks: {b: {body: [relu], defaults: {}}}\nbody: [b]",
    "a block parameter named in_channels": "input: [3, 32, 32]\nblocks: {b: {params: {in_channels: int}, "
                                           "body: [relu]}}\nbody: [b]",
    "a block parameter without default or type": "input: [3, 32, 32]\nblocks: {b: {params: {n: null}, "
                                                 "body: [relu]}}\nbody: [b]",
    "params that are a list": "input: [3, 32, 32]\nparams: [width]\nbody: [relu]",
}


@pytest.mark.parametrize("text", REJECTED.values(), ids=REJECTED.keys())
def test_schema_rejects(validator: jsonschema.Draft202012Validator, text: str) -> None:
    assert _errors(validator, yaml.safe_load(text)) != []


# ---------------------------------------------------------------- generated files are current


def test_schema_is_what_generate_writes(generator: ModuleType) -> None:
    assert SCHEMA_PATH.read_text(encoding="utf-8") == generator.render_schema(), \
        "run: python schemas/generate.py"


def test_doc_op_table_is_what_generate_writes(generator: ModuleType) -> None:
    text = DOC_PATH.read_text(encoding="utf-8")
    assert text == generator.render_doc(text), "run: python schemas/generate.py"


def test_schema_names_every_op(generator: ModuleType) -> None:
    from archspec.ops import OPS

    defs = generator.schema()["$defs"]
    for name, op in OPS.items():
        assert set(op.attrs) <= set(defs[f"op_{name}"]["properties"])
        assert set(defs[f"defaults_{name}"]["properties"]) == set(op.attrs)
