"""The package's layers: a module imports only from layers below its own.

::

    api      feeds/__init__.py: the public names          (for other programs)
    app      cli, serve, status, opml, provenance        (the terminal)
    run      refresh, executor, daemon                   (the clock)
    publish  documents, formats, archive, websub         (writes outputs)
    ingest   fetch, parse, normalize, articles, …    store   protocol, open_store, sqlite
    config   config.toml → frozen dataclasses
    core     schedule, dedupe                            (pure: no I/O)
    base     errors, types, version                      (values shared by every layer)

``ingest`` and ``store`` sit side by side: neither imports the other, except that ingest may
name the store's role Protocols (``feeds.store.protocol``), never a backend. Every import
counts, also one inside a function or under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "feeds"

RANK = {
    "base": 0,
    "core": 1,
    "config": 2,
    "ingest": 3,
    "store": 3,
    "publish": 4,
    "run": 5,
    "app": 6,
    "api": 7,
}
BASE = frozenset({"feeds.errors", "feeds.types", "feeds.version"})
SEAM = "feeds.store.protocol"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts).removesuffix(".__init__")


def layer(module: str) -> str:
    """The layer of a module of the package (``feeds.ingest.fetch`` → ``ingest``)."""
    if module in BASE:
        return "base"
    if module == "feeds.config":
        return "config"
    if module == "feeds":
        return "api"  # the public face: nothing inside the package imports it
    if module == "feeds.__main__":
        return "app"
    sub = module.split(".")[1]
    assert sub in RANK, f"{module}: not in a known layer"
    return sub


def imported_modules(path: Path) -> set[str]:
    """Every module of the package that ``path`` imports, anywhere in the file."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "feeds")
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] != "feeds":
                continue
            for alias in node.names:  # `from feeds.core import dedupe` imports feeds.core.dedupe
                candidate = f"{node.module}.{alias.name}"
                is_module = (PACKAGE.parent / Path(*candidate.split("."))).with_suffix(".py")
                is_package = PACKAGE.parent / Path(*candidate.split(".")) / "__init__.py"
                sub = is_module.exists() or is_package.exists()
                found.add(candidate if sub else node.module)
    return found


def violations(importer: str, imported: set[str]) -> list[str]:
    """The imports of ``importer`` that reach up (or sideways) into another layer."""
    mine = layer(importer)
    bad = []
    for target in sorted(imported):
        theirs = layer(target)
        if theirs == mine:
            continue
        allowed = RANK[theirs] < RANK[mine] or (mine == "ingest" and target == SEAM)
        if not allowed:
            bad.append(f"{importer} ({mine}) imports {target} ({theirs})")
    return bad


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_no_module_imports_from_a_higher_layer(path: Path) -> None:
    name = module_name(path)
    assert violations(name, imported_modules(path)) == []


def test_only_the_factory_names_a_store_backend() -> None:
    """Consumers take a role of the store; only ``open_store`` knows SQLite is behind it."""
    for path in MODULES:
        name = module_name(path)
        if name.startswith("feeds.store"):
            continue
        backends = {m for m in imported_modules(path) if m.startswith("feeds.store.sqlite")}
        assert not backends, f"{name} imports {sorted(backends)}"


@pytest.mark.parametrize(
    ("importer", "imported", "expected"),
    [
        ("feeds.core.dedupe", {"feeds.types"}, []),
        ("feeds.core.dedupe", {"feeds.store.sqlite"}, ["store"]),
        ("feeds.store.sqlite", {"feeds.core.dedupe", "feeds.errors"}, []),
        ("feeds.store.sqlite", {"feeds.ingest.normalize"}, ["ingest"]),
        ("feeds.ingest.articles", {SEAM}, []),
        ("feeds.ingest.articles", {"feeds.store.sqlite"}, ["store"]),
        ("feeds.config", {"feeds.ingest.section"}, ["ingest"]),
        ("feeds.config", {"feeds.core.schedule"}, []),
        ("feeds.core.schedule", {"feeds.config"}, ["config"]),
        ("feeds.run.refresh", {"feeds.app.cli"}, ["app"]),
        ("feeds.app.cli", {"feeds.run.refresh", "feeds.store"}, []),
        ("feeds.app.cli", {"feeds"}, ["api"]),
    ],
)
def test_the_rule_itself(importer: str, imported: set[str], expected: list[str]) -> None:
    """The checker catches what it must (a rule that cannot fail proves nothing)."""
    found = violations(importer, imported)
    assert [v.rsplit("(", 1)[1].rstrip(")") for v in found] == expected


def test_every_module_is_seen() -> None:
    names = {module_name(p) for p in MODULES}
    assert {"feeds.core.dedupe", "feeds.run.refresh", "feeds.app.cli"} <= names
    assert imported_modules(PACKAGE / "run" / "ingest.py") >= {"feeds.core.dedupe"}
