"""Settings every test shares."""

from __future__ import annotations

import pytest

from loyalty_cli.stage1.passes import Footprint


@pytest.fixture(autouse=True)
def _not_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    """CI runners set ``CI``, which turns terminal tables off; tests decide that for themselves."""
    monkeypatch.delenv("CI", raising=False)


@pytest.fixture
def tiny_footprint(monkeypatch: pytest.MonkeyPatch) -> Footprint:
    """A footprint where small files need passes (stage 1 in passes on test data): 1 kB fixed, 10 bytes a line (20
    with the activity table), no floor."""
    from loyalty_cli.stage1 import passes as passes_module

    tiny = Footprint(
        fixed=1000,
        per_line=10,
        activity_per_line=10,
        text_per_line=0,
        pass_fixed=1000,
        partitioned_read=0,
        partitioned_read_csv=0,
    )
    monkeypatch.setattr(passes_module, "FOOTPRINT", tiny)
    return tiny
