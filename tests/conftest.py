"""Shared fixtures: every test runs isolated from the user's environment."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No FEEDS_* variable or proxy setting of the developer's leaks into a test."""
    import os

    for name in list(os.environ):
        if name.startswith("FEEDS_") or name.lower().endswith("_proxy"):
            monkeypatch.delenv(name, raising=False)
    yield
