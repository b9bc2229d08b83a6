"""Read ``config.toml`` into frozen dataclasses.

Every problem in the file is collected and reported at once, each with its path
(``sources[2].url: must be an http(s) URL, a file:// URL or a path``), so an
admin fixes the file in one go. Relative paths resolve against the folder of the
config file, never against the current directory, so cron and a shell agree.

The sections are read by :mod:`~feeds.config.sections`, :mod:`~feeds.config.sources` and
:mod:`~feeds.config.outputs` with the problem-collecting :mod:`~feeds.config.checker`; what
a loaded file is, is in :mod:`~feeds.config.model`.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from feeds.config.checker import _Checker
from feeds.config.filters import FILTER_KEYS, rule_set
from feeds.config.model import (
    FORMATS,
    LOCAL_URL,
    Config,
    FullText,
    OutputConfig,
    SourceConfig,
    SourceType,
    no_url_notice,
)
from feeds.config.outputs import _check_collisions, _outputs, _protected_files
from feeds.config.rewrite import site_rules
from feeds.config.sections import (
    _daemon_options,
    _dedupe_options,
    _fetch_options,
    _full_text_options,
    _schedule_options,
    _store_url,
    _with_source_http,
)
from feeds.config.sources import _sources, resolve_url
from feeds.core.database_url import is_url, shown_url
from feeds.core.filters import RuleSet
from feeds.core.hooks import parse_hooks
from feeds.core.retention import Retention
from feeds.core.rewrite import SiteRule
from feeds.errors import ConfigError

__all__ = [
    "DEFAULT_PATH",
    "ENV_VAR",
    "FORMATS",
    "LOCAL_URL",
    "Config",
    "FullText",
    "OutputConfig",
    "SourceConfig",
    "SourceType",
    "default_path",
    "from_dict",
    "load",
    "no_url_notice",
    "resolve_url",
]

ENV_VAR = "FEEDS_CONFIG"
STORE_URL_VAR = "FEEDS_STORE_URL"
"""A ``postgresql://`` URL that wins over ``[store]`` (it may hold a password: it is not a file)."""

DEFAULT_PATH = "config.toml"


def default_path(env: Mapping[str, str] | None = None) -> Path:
    """``$FEEDS_CONFIG`` when set, else ``./config.toml``."""
    env = os.environ if env is None else env
    return Path(env.get(ENV_VAR) or DEFAULT_PATH)


def load(path: Path) -> Config:
    """Read and check a config file; raise :class:`ConfigError` listing every problem."""
    try:
        # (utf-8-sig: a byte order mark, which Windows editors write, is not TOML's "statement")
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError as exc:
        raise ConfigError(["file not found"], str(path)) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"cannot read: {exc}"], str(path)) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"not valid TOML: {exc}"], str(path)) from exc
    return from_dict(data, base_dir=path.resolve().parent, path=path)


#: The tables a configuration file may have.
TOP_LEVEL_KEYS = frozenset(
    {"store", "fetch", "full_text", "sources", "outputs", "schedule", "daemon", "dedupe"}
    | {"hooks", "filters"}
)


def _store_path(checker: _Checker, store: Mapping[str, Any], base_dir: Path) -> Path:
    """``[store] path``: the SQLite file. ``path = "state/"`` made a database file named
    ``state`` (and ``state.lock``), ``path = ""`` failed at the first command with "unable
    to open database file": both are the key's problem, named at load. (A folder found
    where the file should be is the machine's state, not the text's: the command that
    opens the store says so, exit 1.)"""
    raw = checker.get(store, "store", "path", str, "state/feeds.db")
    path = base_dir / raw
    if not raw or raw.endswith(("/", "\\")):
        checker.problem("store.path", f"{raw!r} is a folder: name the file, e.g. 'state/feeds.db'")
    elif is_url(raw):  # it made an SQLite file in a folder named "postgresql:"
        checker.problem(
            "store.path",
            f"{shown_url(raw)!r} is a URL, not a file's path: a PostgreSQL store is"
            ' [store] url = "postgresql://…"',
        )
    return path


def from_dict(data: Mapping[str, Any], *, base_dir: Path, path: Path | None = None) -> Config:
    """Build a :class:`Config` from parsed TOML; relative paths resolve against ``base_dir``."""
    checker = _Checker()
    checker.keys(data, "", set(TOP_LEVEL_KEYS))

    store = checker.table(data, "store")
    checker.keys(store, "store", {"path", "url", "lock_timeout", "keep", "max_entries_per_source"})
    store_path = _store_path(checker, store, base_dir)
    store_url = _store_url(checker, store, os.environ.get(STORE_URL_VAR))
    lock_timeout = checker.number(store, "store", "lock_timeout", 60.0, minimum=0.0)
    retention = _retention(checker, store)
    filters = _checked_rules(checker, data)

    fetch = _fetch_options(checker, checker.table(data, "fetch"))
    full_text = _full_text_options(checker, checker.table(data, "full_text"))
    schedule = _schedule_options(checker, checker.table(data, "schedule"))
    daemon = _daemon_options(checker, checker.table(data, "daemon"))
    sources = _with_site_rules(
        _sources(checker, data.get("sources"), base_dir),
        site_rules(checker, checker.table(data, "full_text"), base_dir),
    )
    outputs = _outputs(checker, data.get("outputs"), base_dir, [s.name for s in sources])
    dedupe = _dedupe_options(checker, checker.table(data, "dedupe"), [s.name for s in sources])
    _check_collisions(checker, outputs, _protected_files(store_path, path, sources))
    hooks = parse_hooks(
        data.get("hooks"),
        checker.problem,
        [s.name for s in sources],
        {o.name: o.sources for o in outputs},
    )

    if checker.problems:
        raise ConfigError(checker.problems, str(path) if path else None)
    fetch = _with_source_http(fetch, sources)
    return Config(
        store_path=store_path,
        store_url=store_url,
        sources=tuple(sources),
        outputs=tuple(outputs),
        fetch=fetch,
        full_text=full_text,
        lock_timeout=lock_timeout,
        path=path,
        schedule=schedule,
        daemon=daemon,
        dedupe=dedupe,
        hooks=hooks,
        filters=filters,
        retention=retention,
    )


def _retention(checker: _Checker, store: Mapping[str, Any]) -> Retention:
    """``[store] keep`` and ``max_entries_per_source``."""
    per_source = None
    if "max_entries_per_source" in store:
        per_source = checker.integer(store, "store", "max_entries_per_source", 1)
    return Retention(
        keep=checker.duration(store, "store", "keep", None, minimum=timedelta(hours=1)),
        max_entries_per_source=per_source,
    )


def _checked_rules(checker: _Checker, data: Mapping[str, Any]) -> RuleSet:
    """The global ``[filters]`` table."""
    table = checker.table(data, "filters")
    checker.keys(table, "filters", FILTER_KEYS)
    return rule_set(checker, table, "filters")


def _with_site_rules(
    sources: list[SourceConfig], sites: tuple[SiteRule, ...]
) -> list[SourceConfig]:
    """Every source's article pages are extracted under the site rules (one shared tuple)."""
    if not sites:
        return sources
    return [
        replace(source, page_rules=replace(source.page_rules, sites=sites)) for source in sources
    ]
