"""Settings every test shares."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _not_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    """CI runners set ``CI``, which turns terminal tables off; tests decide that for themselves."""
    monkeypatch.delenv("CI", raising=False)
