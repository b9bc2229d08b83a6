"""The public API: the names in ``feeds.__all__``, imported on first use."""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

import feeds
from feeds.ingest.fetch import Fetcher

from support import REPO


def test_all_is_sorted_and_every_name_is_there() -> None:
    assert feeds.__all__ == sorted(feeds.__all__)
    assert set(feeds.__all__) == {
        "__version__",
        "errors",
        "load_config",
        "open_store",
        "publish_all",
        "refresh",
    }
    for name in feeds.__all__:
        assert getattr(feeds, name) is not None, name
    assert issubclass(feeds.errors.StoreError, feeds.errors.FeedsError)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        _ = feeds.nothing


def test_import_feeds_loads_nothing_heavy() -> None:
    code = (
        "import sys, feeds; heavy = {'httpx', 'sqlite3', 'feedparser', 'lxml', 'feeds.run'};"
        "print(sorted(heavy & set(sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_one_refresh_through_the_public_api(tmp_path: Path) -> None:
    """The example in the package docstring, on the offline sample config."""
    shutil.copy(REPO / "config.toml", tmp_path / "config.toml")
    shutil.copytree(REPO / "samples", tmp_path / "samples")
    config = feeds.load_config(tmp_path / "config.toml")
    with feeds.open_store(config.store_path) as store, Fetcher(config.fetch) as fetcher:
        report = feeds.refresh(config, store, fetcher, now=datetime.now(UTC), force=True)
        assert report.ok and report.changed
        assert feeds.publish_all(config, store, force=True)
    published = (tmp_path / "out" / "business.atom").read_bytes()
    assert published == (REPO / "out" / "business.atom").read_bytes()
