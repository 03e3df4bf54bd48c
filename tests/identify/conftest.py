"""The identify tests pin exactly which sources load: a user's NETATLAS_FINGERPRINTS
must not leak into them (tests that want the shared databases pass paths)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _no_user_fingerprints(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NETATLAS_FINGERPRINTS", raising=False)
