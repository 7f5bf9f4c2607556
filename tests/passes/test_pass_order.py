"""`Analysis` runs a pass only on results computed before it: a pass that reads its own result or a later
one's is refused by name (it would recurse, or depend on an order the tuple does not give)."""

from __future__ import annotations

from typing import Any

import pytest

from archspec.passes import pipeline


def _with_passes(monkeypatch: pytest.MonkeyPatch, passes: dict[str, Any]) -> pipeline.Analysis:
    monkeypatch.setattr(pipeline, "PASSES", tuple(passes.items()))
    monkeypatch.setattr(pipeline, "_ORDER", {name: index for index, name in enumerate(passes)})
    return pipeline.Analysis(None, (3, 8, 8))  # type: ignore[arg-type]  # the passes here read no network


def test_a_pass_reads_the_results_before_it_each_computed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    runs: list[str] = []

    def first(analysis: pipeline.Analysis) -> int:
        runs.append("first")
        return 2

    def second(analysis: pipeline.Analysis) -> int:
        runs.append("second")
        return analysis.result("first") * 10

    analysis = _with_passes(monkeypatch, {"first": first, "second": second})
    assert (analysis.result("second"), analysis.result("first"), analysis.result("second")) == (20, 2, 20)
    assert runs == ["second", "first"]


@pytest.mark.parametrize("reads", ["second", "first"])
def test_a_pass_reading_its_own_or_a_later_result_is_refused(monkeypatch: pytest.MonkeyPatch,
                                                             reads: str) -> None:
    analysis = _with_passes(monkeypatch, {"first": lambda analysis: analysis.result(reads),
                                          "second": lambda analysis: 1})
    with pytest.raises(AssertionError) as raised:
        analysis.result("first")
    assert str(raised.value) == f"pass 'first' reads '{reads}', which runs after it"
    assert analysis.result("second") == 1  # the refused pass left nothing running behind it
