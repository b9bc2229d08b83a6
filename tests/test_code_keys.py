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
    for module in [
        "core/schedule.py",
        "publish/formats.py",
        "store/sqlite.py",
        "config/outputs.py",
    ]:
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


def _module_file(name: str) -> Path:
    """The file of module ``name`` of the package: ``x.py``, or ``x/__init__.py``."""
    path = PACKAGE.parent.joinpath(*name.split("."))
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def test_the_cleaning_scheme_covers_what_cleaning_imports() -> None:
    """Every module of the cleaning package, and every module of the package they import."""
    cleaning = Path(normalize.__file__).parent
    modules = sorted(cleaning.glob("*.py"))
    assert len(modules) > 1  # a package of several modules
    used = set(modules)
    for module in modules:
        used |= {_module_file(name) for name in imported_modules(module)}
    assert {p.resolve() for p in normalize.CLEANING_CODE} == {p.resolve() for p in used}


def test_a_change_in_any_cleaning_module_is_a_new_scheme(package_copy: Path) -> None:
    copied = [package_copy / p.resolve().relative_to(PACKAGE) for p in normalize.CLEANING_CODE]
    assert normalize.cleaning_scheme(copied) == normalize.BODY_SCHEME
    rules = package_copy / "ingest" / "normalize" / "rules.py"
    assert rules in copied
    with rules.open("a", encoding="utf-8") as file:
        file.write("\n# a new boilerplate rule\n")
    assert normalize.cleaning_scheme(copied) != normalize.BODY_SCHEME
