"""The keys that name code: a change anywhere in the code they cover gives a new key.

The code fingerprint decides whether an output is rebuilt (a new version of the package
renders anew); the cleaning scheme names the code that cleaned a stored body.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from test_layers import PACKAGE, imported_modules
from test_publish_skip import make_config, rendered, save
from test_store import clean

from feeds.ingest import normalize
from feeds.run import fingerprint, publish_outputs
from feeds.store.sqlite import Store

__all__ = ["rendered"]  # the fixture, re-exported for pytest


@pytest.fixture
def package_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "feeds"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def test_the_fingerprint_covers_every_sub_package(package_copy: Path) -> None:
    before = fingerprint.code_fingerprint(package_copy)
    assert before == fingerprint.code_fingerprint(PACKAGE)  # same files, same key
    seen = {before}
    for module in ["core/schedule.py", "publish/formats.py", "store/sqlite.py", "config.py"]:
        with (package_copy / module).open("a", encoding="utf-8") as file:
            file.write("\n# changed\n")
        fingerprint.code_fingerprint.cache_clear()
        key = fingerprint.code_fingerprint(package_copy)
        assert key not in seen, module
        seen.add(key)
    (package_copy / "app" / "new_module.py").write_text("x = 1\n", encoding="utf-8")
    fingerprint.code_fingerprint.cache_clear()
    assert fingerprint.code_fingerprint(package_copy) not in seen


def test_a_change_in_a_sub_package_rebuilds_the_outputs(
    tmp_path: Path, package_copy: Path, monkeypatch: pytest.MonkeyPatch, rendered: list[str]
) -> None:
    monkeypatch.setattr(fingerprint, "PACKAGE", package_copy)
    config = make_config(tmp_path)
    with Store.open(config.store_path) as store:
        store.sync_sources([("a", "https://a.example/feed/")])
        save(store, clean(1))
        publish_outputs.publish_all(config, store)
        publish_outputs.publish_all(config, store)
        assert rendered == ["all"]  # nothing changed: not rebuilt
        with (package_copy / "publish" / "jsonfeed.py").open("a", encoding="utf-8") as file:
            file.write("\n# a new version of the JSON Feed writer\n")
        fingerprint.code_fingerprint.cache_clear()
        publish_outputs.publish_all(config, store)
        assert rendered == ["all", "all"]
    fingerprint.code_fingerprint.cache_clear()


def test_the_cleaning_scheme_covers_what_cleaning_imports() -> None:
    source = Path(normalize.__file__)
    used = {source} | {
        PACKAGE.parent.joinpath(*name.split(".")).with_suffix(".py")
        for name in imported_modules(source)
    }
    assert {p.resolve() for p in normalize.CLEANING_CODE} == {p.resolve() for p in used}
