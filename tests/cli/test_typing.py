"""archspec/ passes mypy, configured in pyproject.toml: every module, with no module exempted."""

from __future__ import annotations

import pytest

from ..conftest import ROOT


def test_package_type_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    from mypy import api

    monkeypatch.chdir(ROOT)
    stdout, stderr, status = api.run(["--config-file", str(ROOT / "pyproject.toml")])
    assert status == 0, stdout + stderr
    assert "ignore_errors" not in (ROOT / "pyproject.toml").read_text(), "no module is exempt from the check"
    assert (ROOT / "archspec" / "py.typed").is_file(), "the package declares py.typed; it must ship it"
