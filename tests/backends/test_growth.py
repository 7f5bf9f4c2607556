"""Reports that must stay linear in the size of the network: the work is counted, not timed."""

from __future__ import annotations

from pathlib import Path

import pytest

from archspec.compiler import compile_spec, resolve_spec

BLOCKS = """archspec: 1
name: chain
input: [8, 16, 16]
blocks:
  unit:
    params: {{w: int}}
    body:
      - conv: {{name: conv, out: w, kernel: 3, padding: 1}}
      - relu: {{name: relu}}
body:
  - repeat:
      name: stage
      count: {count}
      body: [unit: {{w: 8}}]
  - conv: {{out: 8, kernel: 3, padding: 1}}
"""


def _chain(folder: Path, count: int) -> Path:
    path = folder / f"chain{count}.yaml"
    path.write_text(BLOCKS.format(count=count))
    return path


def test_resolve_finds_each_layers_predecessor_without_comparing_layers(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Before, each layer's predecessor was found with list.index, comparing whole dataclasses: quadratic."""
    from archspec.backends.report import resolved_json
    from archspec.ir.graph import Node
    from archspec.ir.lower import lower

    spec = _chain(tmp_path, 300)
    resolved = resolve_spec(spec)
    network = lower(resolved)
    compared = []
    real = Node.__eq__
    monkeypatch.setattr(Node, "__eq__", lambda self, other: compared.append(1) or real(self, other))
    document = resolved_json(resolved, network)
    assert len(document["body"]) == 2 and len(document["body"][0]["body"]) == 300
    assert len(compared) <= 10, len(compared)


class _Counted(list):
    """A list that counts the elements every scan of it visits."""

    visits = 0

    def __iter__(self):
        _Counted.visits += len(self)
        return super().__iter__()

    def __reversed__(self):
        _Counted.visits += len(self)
        return super().__reversed__()

    def __contains__(self, item: object) -> bool:
        _Counted.visits += len(self)
        return super().__contains__(item)


def test_rf_report_visits_each_layer_a_bounded_number_of_times(tmp_path: Path) -> None:
    """Before, every container scanned all layers (and every name was looked up in a list): quadratic."""
    from archspec.backends.analysis import rf_names
    from archspec.passes.receptive_field import receptive_fields

    network = compile_spec(_chain(tmp_path, 300))
    report = receptive_fields(network)
    report.order = _Counted(report.order)
    _Counted.visits = 0
    names = rf_names(network, report)
    assert names[:4] == ["stage.0.conv", "stage.0.relu", "stage.0", "stage.1.conv"]
    assert names[-3:] == ["stage.299", "stage", "conv1"]
    assert _Counted.visits <= 5 * len(report.order), _Counted.visits

