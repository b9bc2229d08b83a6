"""Read ``config.toml`` into frozen dataclasses.

Every problem in the file is collected and reported at once, each with its path
(``sources[2].url: must be an http(s) URL, a file:// URL or a path``), so an
admin fixes the file in one go. Relative paths resolve against the folder of the
config file, never against the current directory, so cron and a shell agree.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import math
import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import unquote, urljoin, urlsplit

from feeds.core.hooks import HookConfig, parse_hooks
from feeds.core.schedule import parse_duration
from feeds.core.source_http import HTTP_KEYS, Machine, parse_source_http
from feeds.errors import ConfigError
from feeds.types import (
    DaemonOptions,
    DedupeOptions,
    FetchOptions,
    FullTextOptions,
    ScheduleOptions,
    SourceHTTP,
)

ENV_VAR = "FEEDS_CONFIG"
DEFAULT_PATH = "config.toml"

FORMATS = ("atom", "rss", "json")

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


FullText = Literal["auto"] | bool
SourceType = Literal["feed", "html"]


#: Where ``feeds serve`` serves the outputs by default: the documents' own URLs when an
#: output has no public ``url`` (see :func:`feeds.publish.document_url`).
LOCAL_URL = "http://127.0.0.1:8080/"


@dataclass(frozen=True)
class SourceConfig:
    """One ``[[sources]]`` table. ``url`` is absolute: http(s) or file://.

    ``full_text``: ``"auto"`` fetches an entry's article page when the feed
    carries no body or one no longer than its teaser; ``True`` always; ``False``
    never. ``type = "html"``: ``url`` is a section page whose article links
    (``selector``, a CSS selector; a WordPress default when None) become entries.
    ``interval`` is the source's own fetch interval (None: ``[schedule] interval``).
    """

    name: str
    url: str
    title: str | None = None
    full_text: FullText = "auto"
    type: SourceType = "feed"
    selector: str | None = None
    interval: timedelta | None = None
    #: ``interval = "auto"`` (or the ``[schedule]`` default is): the interval follows how
    #: often the source posts (:mod:`feeds.run.adaptive` fills ``interval`` in per run,
    #: with the reason in ``interval_reason``).
    adaptive: bool = False
    interval_reason: str | None = None
    #: The source's own HTTP settings (:mod:`feeds.core.source_http`); the default is none.
    http: SourceHTTP = field(default_factory=SourceHTTP)


@dataclass(frozen=True)
class OutputConfig:
    """One ``[[outputs]]`` table. ``path`` is absolute; ``sources`` is never empty."""

    name: str
    path: Path
    title: str
    sources: tuple[str, ...]
    max_entries: int = 50
    summary_words: int = 40
    subtitle: str | None = None
    url: str | None = None
    id: str | None = None
    author: str = "feeds"
    formats: tuple[str, ...] = ("atom",)
    rss_path: Path | None = None
    json_path: Path | None = None
    archive: bool = False
    archive_page_size: int = 0
    hub: str | None = None
    iframes: str = "link"

    def format_path(self, fmt: str) -> Path:
        """Where format ``fmt`` is written: ``path`` for Atom; else ``rss_path``/``json_path``,
        by default ``path`` with the suffix ``.rss`` / ``.json``."""
        if fmt == "atom":
            return self.path
        explicit = self.rss_path if fmt == "rss" else self.json_path
        return explicit or self.path.with_suffix("." + fmt)

    def format_url(self, fmt: str) -> str | None:
        """The public URL of format ``fmt``: ``url`` for Atom, the other files beside it."""
        if self.url is None:
            return None
        if fmt == "atom":
            return self.url
        return urljoin(self.url, self.format_path(fmt).name)

    @property
    def page_size(self) -> int:
        """Entries per archive document (``archive_page_size``, default ``max_entries``)."""
        return self.archive_page_size or self.max_entries


def no_url_notice(outputs: Sequence[OutputConfig]) -> str | None:
    """One line for ``feeds check`` / ``feeds refresh -v`` when outputs have no public
    ``url``: what their self links and ids are then, and how to set it. None if all have."""
    missing = [o for o in outputs if o.url is None]
    if not missing:
        return None
    names = ", ".join(o.name for o in missing)
    example = f"https://feeds.example.org/{missing[0].path.name}"
    ids = "" if all(o.id for o in missing) else " and its feed id is a tag: URI"
    return (
        f"note: output {names} has no public url: its rel=self links point at {LOCAL_URL} "
        f"(where `feeds serve` serves it){ids}; set "
        f'url = "{example}" under [[outputs]] to the address readers fetch it from'
    )


@dataclass(frozen=True)
class Config:
    """The whole configuration; ``path`` is the file it came from (None when built in code)."""

    store_path: Path
    sources: tuple[SourceConfig, ...]
    outputs: tuple[OutputConfig, ...]
    fetch: FetchOptions = field(default_factory=FetchOptions)
    full_text: FullTextOptions = field(default_factory=FullTextOptions)
    lock_timeout: float = 60.0
    path: Path | None = None
    schedule: ScheduleOptions = field(default_factory=ScheduleOptions)
    daemon: DaemonOptions = field(default_factory=DaemonOptions)
    dedupe: DedupeOptions = field(default_factory=DedupeOptions)
    #: ``[[hooks]]``: webhooks and commands told about new entries and failing sources.
    hooks: tuple[HookConfig, ...] = ()

    def source(self, name: str) -> SourceConfig:
        return self._sources_by_name[name]

    @cached_property
    def _sources_by_name(self) -> dict[str, SourceConfig]:
        # A refresh asks for each source's settings a few times: 1,000 sources, 2,000 asks.
        return {source.name: source for source in self.sources}

    def interval(self, name: str) -> timedelta:
        """The fetch interval of source ``name`` (its own, else the default)."""
        return self.source(name).interval or self.schedule.interval


def default_path(env: Mapping[str, str] | None = None) -> Path:
    """``$FEEDS_CONFIG`` when set, else ``./config.toml``."""
    env = os.environ if env is None else env
    return Path(env.get(ENV_VAR) or DEFAULT_PATH)


def load(path: Path) -> Config:
    """Read and check a config file; raise :class:`ConfigError` listing every problem."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(["file not found"], str(path)) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"cannot read: {exc}"], str(path)) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"not valid TOML: {exc}"], str(path)) from exc
    return from_dict(data, base_dir=path.resolve().parent, path=path)


def from_dict(data: Mapping[str, Any], *, base_dir: Path, path: Path | None = None) -> Config:
    """Build a :class:`Config` from parsed TOML; relative paths resolve against ``base_dir``."""
    checker = _Checker()
    checker.keys(
        data,
        "",
        {
            "store",
            "fetch",
            "full_text",
            "sources",
            "outputs",
            "schedule",
            "daemon",
            "dedupe",
            "hooks",
        },
    )

    store = checker.table(data, "store")
    checker.keys(store, "store", {"path", "lock_timeout"})
    store_path = base_dir / checker.get(store, "store", "path", str, "state/feeds.db")
    lock_timeout = checker.number(store, "store", "lock_timeout", 60.0, minimum=0.0)

    fetch = _fetch_options(checker, checker.table(data, "fetch"))
    full_text = _full_text_options(checker, checker.table(data, "full_text"))
    schedule = _schedule_options(checker, checker.table(data, "schedule"))
    daemon = _daemon_options(checker, checker.table(data, "daemon"))
    sources = _sources(checker, data.get("sources"), base_dir)
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
    )


def _schedule_options(checker: _Checker, table: Mapping[str, Any]) -> ScheduleOptions:
    d = ScheduleOptions()
    checker.keys(
        table,
        "schedule",
        {"interval", "min_interval", "max_interval", "max_backoff", "jitter", "max_retry_after"},
    )
    adaptive = table.get("interval") == "auto"
    if adaptive:
        table = {k: v for k, v in table.items() if k != "interval"}
    jitter = checker.number(table, "schedule", "jitter", d.jitter, minimum=0.0)
    if jitter > 1:
        checker.problem("schedule.jitter", f"must be between 0 and 1, not {jitter:g}")
        jitter = d.jitter
    return ScheduleOptions(
        interval=checker.duration(table, "schedule", "interval", d.interval),
        adaptive=adaptive,
        min_interval=checker.duration(table, "schedule", "min_interval", d.min_interval),
        max_interval=checker.duration(table, "schedule", "max_interval", d.max_interval),
        max_backoff=checker.duration(table, "schedule", "max_backoff", d.max_backoff),
        jitter=jitter,
        max_retry_after=checker.duration(table, "schedule", "max_retry_after", d.max_retry_after),
    )


def _daemon_options(checker: _Checker, table: Mapping[str, Any]) -> DaemonOptions:
    d = DaemonOptions()
    checker.keys(table, "daemon", {"publish_delay", "heartbeat"})
    return DaemonOptions(
        publish_delay=checker.duration(
            table, "daemon", "publish_delay", d.publish_delay, minimum=timedelta(0)
        ),
        heartbeat=checker.duration(table, "daemon", "heartbeat", d.heartbeat),
    )


def _dedupe_options(
    checker: _Checker, table: Mapping[str, Any], source_names: list[str]
) -> DedupeOptions:
    d = DedupeOptions()
    checker.keys(
        table,
        "dedupe",
        {
            "near",
            "body_threshold",
            "body_min",
            "title_threshold",
            "containment_min",
            "window_hours",
            "prefer",
            "preferred_sources",
            "max_updates_per_day",
        },
    )

    def share(key: str, default: float) -> float:
        value = checker.number(table, "dedupe", key, default, minimum=0.0)
        if value > 1.0:
            checker.problem(f"dedupe.{key}", f"must be at most 1.0, not {value}")
            return default
        return value

    near = checker.get(table, "dedupe", "near", bool, d.near)
    body_threshold = share("body_threshold", d.body_threshold)
    body_min = share("body_min", d.body_min)
    if body_min > body_threshold:
        checker.problem("dedupe.body_min", "must not be above dedupe.body_threshold")
    prefer = checker.get(table, "dedupe", "prefer", str, d.prefer)
    if prefer not in ("earliest", "longest"):
        checker.problem("dedupe.prefer", f'{prefer!r}: must be "earliest" or "longest"')
        prefer = d.prefer
    preferred = _string_list(checker, table, "dedupe", "preferred_sources") or []
    for j, name in enumerate(preferred):
        if name not in source_names:
            checker.problem(f"dedupe.preferred_sources[{j}]", f"no source named {name!r}")
    return DedupeOptions(
        near=near,
        body_threshold=body_threshold,
        body_min=body_min,
        title_threshold=share("title_threshold", d.title_threshold),
        containment_min=share("containment_min", d.containment_min),
        window_hours=checker.number(table, "dedupe", "window_hours", d.window_hours),
        prefer=prefer,
        preferred_sources=tuple(preferred),
        max_updates_per_day=checker.integer(
            table, "dedupe", "max_updates_per_day", d.max_updates_per_day
        ),
    )


def _fetch_options(checker: _Checker, table: Mapping[str, Any]) -> FetchOptions:
    defaults = FetchOptions()
    checker.keys(
        table,
        "fetch",
        {
            "connect_timeout",
            "read_timeout",
            "total_timeout",
            "max_body_bytes",
            "max_redirects",
            "max_connections",
            "max_per_host",
            "user_agent",
            "allow_private_addresses",
            "min_host_delay",
        },
    )
    allow_all, networks = _private_addresses(checker, table.get("allow_private_addresses", False))
    return FetchOptions(
        connect_timeout=checker.number(table, "fetch", "connect_timeout", defaults.connect_timeout),
        read_timeout=checker.number(table, "fetch", "read_timeout", defaults.read_timeout),
        total_timeout=checker.number(table, "fetch", "total_timeout", defaults.total_timeout),
        max_body_bytes=checker.integer(table, "fetch", "max_body_bytes", defaults.max_body_bytes),
        max_redirects=checker.integer(
            table, "fetch", "max_redirects", defaults.max_redirects, minimum=0
        ),
        max_connections=checker.integer(
            table, "fetch", "max_connections", defaults.max_connections
        ),
        max_per_host=checker.integer(table, "fetch", "max_per_host", defaults.max_per_host),
        user_agent=checker.get(table, "fetch", "user_agent", str, defaults.user_agent),
        min_host_delay=checker.number(
            table, "fetch", "min_host_delay", defaults.min_host_delay, minimum=0.0
        ),
        allow_private_addresses=allow_all,
        allowed_networks=networks,
    )


def _with_source_http(fetch: FetchOptions, sources: list[SourceConfig]) -> FetchOptions:
    """The fetcher learns each source's own HTTP settings (and where the source lives)."""
    own = tuple((s.name, s.url, s.http) for s in sources if not s.http.is_default)
    return replace(fetch, source_http=own) if own else fetch


def _private_addresses(checker: _Checker, value: Any) -> tuple[bool, tuple[str, ...]]:
    """``allow_private_addresses``: a boolean, or a list of networks allowed anyway."""
    where = "fetch.allow_private_addresses"
    if isinstance(value, bool):
        return value, ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        checker.problem(where, f"must be true, false or a list of networks, not {_kind(value)}")
        return False, ()
    networks: list[str] = []
    for i, text in enumerate(value):
        try:
            networks.append(str(ipaddress.ip_network(text.strip(), strict=False)))
        except ValueError:
            checker.problem(f"{where}[{i}]", f"{text!r} is not a network such as '10.0.0.0/8'")
    return False, tuple(networks)


def _full_text_options(checker: _Checker, table: Mapping[str, Any]) -> FullTextOptions:
    defaults = FullTextOptions()
    checker.keys(table, "full_text", {"max_pages", "max_seconds"})
    return FullTextOptions(
        # At least one page and some time: a budget of nothing would defer every page forever
        # (and re-read the feed on every run); `full_text = false` turns pages off.
        max_pages=checker.integer(table, "full_text", "max_pages", defaults.max_pages),
        max_seconds=checker.number(table, "full_text", "max_seconds", defaults.max_seconds),
    )


def _sources(checker: _Checker, raw: Any, base_dir: Path) -> list[SourceConfig]:
    sources: list[SourceConfig] = []
    if raw is None:
        checker.problem("sources", "at least one [[sources]] table is required")
        return sources
    if not isinstance(raw, list):
        checker.problem("sources", "must be an array of tables ([[sources]])")
        return sources
    seen: set[str] = set()
    for i, item in enumerate(raw):
        where = f"sources[{i}]"
        if not isinstance(item, dict):
            checker.problem(where, "must be a table")
            continue
        checker.keys(
            item,
            where,
            {"name", "url", "title", "full_text", "type", "selector", "interval"} | HTTP_KEYS,
        )
        name = checker.get(item, where, "name", str, None)
        url = checker.get(item, where, "url", str, None)
        title = checker.get(item, where, "title", str, None)
        full_text = _full_text_mode(checker, item, where)
        kind = _source_type(checker, item, where)
        selector = _selector(checker, item, where, kind)
        adaptive = item.get("interval") == "auto"
        interval = None if adaptive else checker.duration(item, where, "interval", None)
        if name is None:
            checker.problem(f"{where}.name", "is required")
        elif not _NAME_RE.match(name):
            checker.problem(
                f"{where}.name", f"{name!r}: use letters, digits, '-', '_' or '.' (max 64)"
            )
        elif name in seen:
            checker.problem(f"{where}.name", f"{name!r} is used by another source")
        if url is None:
            checker.problem(f"{where}.url", "is required")
        if name is None or url is None:
            continue
        seen.add(name)
        resolved = resolve_url(url, base_dir)
        if resolved is None:
            checker.problem(
                f"{where}.url", f"{url!r}: must be an http(s) URL, a file:// URL or a path"
            )
            continue
        sources.append(
            SourceConfig(
                name=name,
                url=resolved,
                title=title,
                full_text=full_text,
                type=kind,
                selector=selector,
                interval=interval,
                adaptive=adaptive,
                http=parse_source_http(item, where, checker.problem, _machine(base_dir)),
            )
        )
    return sources


def _machine(base_dir: Path) -> Machine:
    return Machine(
        has_module=lambda name: importlib.util.find_spec(name) is not None,
        is_file=Path.is_file,
        base_dir=base_dir,
    )


def _full_text_mode(checker: _Checker, item: Mapping[str, Any], where: str) -> FullText:
    value = item.get("full_text", "auto")
    if isinstance(value, bool):
        return value
    if value == "auto":
        return "auto"
    checker.problem(f"{where}.full_text", f'must be "auto", true or false, not {value!r}')
    return "auto"


def _source_type(checker: _Checker, item: Mapping[str, Any], where: str) -> SourceType:
    value = item.get("type", "feed")
    if value == "feed":
        return "feed"
    if value == "html":
        return "html"
    checker.problem(f"{where}.type", f'must be "feed" or "html", not {value!r}')
    return "feed"


def _selector(
    checker: _Checker, item: Mapping[str, Any], where: str, kind: SourceType
) -> str | None:
    selector = checker.get(item, where, "selector", str, None)
    if selector is None:
        return None
    if kind != "html":
        checker.problem(f"{where}.selector", 'is only used with type = "html"')
        return None
    problem = _selector_problem(selector)
    if problem is not None:
        checker.problem(f"{where}.selector", f"{selector!r}: {problem}")
        return None
    return selector


def _selector_problem(selector: str) -> str | None:
    """Why ``selector`` is not a usable CSS selector, or ``None`` when it is."""
    from lxml.cssselect import CSSSelector, SelectorError  # only when a selector is set

    try:
        CSSSelector(selector)
    except SelectorError as exc:
        return f"not a valid CSS selector ({exc})"
    return None


def _outputs(
    checker: _Checker, raw: Any, base_dir: Path, source_names: list[str]
) -> list[OutputConfig]:
    outputs: list[OutputConfig] = []
    if raw is None:
        checker.problem("outputs", "at least one [[outputs]] table is required")
        return outputs
    if not isinstance(raw, list):
        checker.problem("outputs", "must be an array of tables ([[outputs]])")
        return outputs
    names: set[str] = set()
    paths: set[Path] = set()
    allowed = {
        "name",
        "path",
        "title",
        "subtitle",
        "max_entries",
        "summary_words",
        "sources",
        "url",
        "id",
        "author",
        "formats",
        "rss_path",
        "json_path",
        "archive",
        "archive_page_size",
        "hub",
        "iframes",
    }
    for i, item in enumerate(raw):
        where = f"outputs[{i}]"
        if not isinstance(item, dict):
            checker.problem(where, "must be a table")
            continue
        checker.keys(item, where, allowed)
        name = checker.get(item, where, "name", str, None)
        if name is None:
            checker.problem(f"{where}.name", "is required")
        elif not _NAME_RE.match(name):
            checker.problem(f"{where}.name", f"{name!r}: use letters, digits, '-', '_' or '.'")
        elif name in names:
            checker.problem(f"{where}.name", f"{name!r} is used by another output")
        raw_path = checker.get(item, where, "path", str, None)
        if raw_path is None:
            checker.problem(f"{where}.path", "is required")
        title = checker.get(item, where, "title", str, name or "feeds")
        max_entries = checker.integer(item, where, "max_entries", 50)
        summary_words = checker.integer(item, where, "summary_words", 40)
        subtitle = checker.get(item, where, "subtitle", str, None)
        author = checker.get(item, where, "author", str, "feeds")
        url = checker.get(item, where, "url", str, None)
        if url is not None and urlsplit(url).scheme not in ("http", "https"):
            checker.problem(f"{where}.url", f"{url!r}: must be an absolute http(s) URL")
        feed_id = checker.get(item, where, "id", str, None)
        if feed_id is not None and not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$", feed_id):
            checker.problem(f"{where}.id", f"{feed_id!r}: must be an absolute IRI")
        wanted = _string_list(checker, item, where, "sources")
        if wanted is None:
            wanted = list(source_names)
        for j, source_name in enumerate(wanted):
            if source_name not in source_names:
                checker.problem(f"{where}.sources[{j}]", f"no source named {source_name!r}")
        if not wanted:
            checker.problem(f"{where}.sources", "must name at least one source")
        formats = _formats(checker, item, where)
        archive = checker.get(item, where, "archive", bool, False)
        page_size = checker.integer(item, where, "archive_page_size", 0, minimum=0)
        hub = checker.get(item, where, "hub", str, None)
        if hub is not None:
            if urlsplit(hub).scheme not in ("http", "https") or not urlsplit(hub).netloc:
                checker.problem(f"{where}.hub", f"{hub!r}: must be an absolute http(s) URL")
            if url is None:
                checker.problem(
                    f"{where}.url", "is required when hub is set (the hub needs the public URL)"
                )
        iframes = checker.get(item, where, "iframes", str, "link")
        if iframes not in ("link", "keep"):
            checker.problem(f"{where}.iframes", f'{iframes!r}: must be "link" or "keep"')
        raw_rss = checker.get(item, where, "rss_path", str, None)
        raw_json = checker.get(item, where, "json_path", str, None)
        if name is None or raw_path is None:
            continue
        names.add(name)
        path = (base_dir / raw_path).resolve()
        output = OutputConfig(
            name=name,
            path=path,
            title=title,
            sources=(),
            formats=formats,
            rss_path=(base_dir / raw_rss).resolve() if raw_rss else None,
            json_path=(base_dir / raw_json).resolve() if raw_json else None,
        )
        for fmt in formats:
            written = output.format_path(fmt)
            if written in paths:
                checker.problem(
                    f"{where}.path" if fmt == "atom" else f"{where}.{fmt}_path",
                    f"{str(written)!r} is written by another output or format",
                )
            paths.add(written)
        outputs.append(
            OutputConfig(
                name=name,
                path=path,
                title=title,
                sources=tuple(dict.fromkeys(wanted)),
                max_entries=max_entries,
                summary_words=summary_words,
                subtitle=subtitle,
                url=url,
                id=feed_id,
                author=author,
                formats=formats,
                rss_path=output.rss_path,
                json_path=output.json_path,
                archive=archive,
                archive_page_size=page_size,
                hub=hub,
                iframes=iframes,
            )
        )
    return outputs


def _protected_files(
    store_path: Path, config_path: Path | None, sources: Sequence[SourceConfig]
) -> dict[Path, str]:
    """Files no output may be written over, with what they are."""
    protected: dict[Path, str] = {}
    if config_path is not None:
        protected[config_path.resolve()] = "the config file"
    store = store_path.resolve()
    for suffix in ("", "-wal", "-shm", "-journal"):
        protected[store.with_name(store.name + suffix)] = "the store"
    for source in sources:
        parts = urlsplit(source.url)
        if parts.scheme == "file":
            protected.setdefault(Path(unquote(parts.path)).resolve(), f"source {source.name}")
    return protected


def _check_collisions(
    checker: _Checker, outputs: Sequence[OutputConfig], protected: Mapping[Path, str]
) -> None:
    """An output's file (any format) may not be the config, the store or a source file:
    a publish would replace it (the store was clobbered and the refresh exited 0)."""
    for i, output in enumerate(outputs):
        for fmt in output.formats:
            written = output.format_path(fmt).resolve()
            what = protected.get(written)
            if what is not None:
                key = "path" if fmt == "atom" else f"{fmt}_path"
                checker.problem(f"outputs[{i}].{key}", f"{str(written)!r} is {what}")


def _formats(checker: _Checker, item: Mapping[str, Any], where: str) -> tuple[str, ...]:
    value = item.get("formats", ["atom"])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        checker.problem(f"{where}.formats", f"must be a list of formats {list(FORMATS)}")
        return ("atom",)
    unknown = [v for v in value if v not in FORMATS]
    for fmt in unknown:
        checker.problem(f"{where}.formats", f"{fmt!r}: unknown format (use {', '.join(FORMATS)})")
    chosen = tuple(f for f in FORMATS if f in value)
    if not chosen and not unknown:
        checker.problem(f"{where}.formats", "must name at least one format")
    return chosen or ("atom",)


def resolve_url(url: str, base_dir: Path) -> str | None:
    """Turn a config ``url`` into an absolute http(s) or file:// URL (None if unusable)."""
    url = url.strip()
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme in ("http", "https"):
        return url if parts.netloc else None
    if parts.scheme == "file":
        return url if parts.path else None
    if parts.scheme and len(parts.scheme) > 1:
        return None
    return (base_dir / url).resolve().as_uri()


T = TypeVar("T")
D = TypeVar("D", timedelta, None)


class _Checker:
    """Collects config problems instead of stopping at the first one."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def problem(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}")

    def keys(self, table: Mapping[str, Any], where: str, allowed: set[str]) -> None:
        for key in table:
            if key not in allowed:
                path = f"{where}.{key}" if where else key
                self.problem(path, f"unknown key (expected one of: {', '.join(sorted(allowed))})")

    def table(self, data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
        value = data.get(key, {})
        if not isinstance(value, dict):
            self.problem(key, "must be a table")
            return {}
        return value

    def get(self, table: Mapping[str, Any], where: str, key: str, kind: type[T], default: T) -> T:
        value = table.get(key, default)
        if value is default or isinstance(value, kind):
            return value
        self.problem(f"{where}.{key}", f"must be a {kind.__name__}, not {_kind(value)}")
        return default

    def integer(
        self, table: Mapping[str, Any], where: str, key: str, default: int, *, minimum: int = 1
    ) -> int:
        value = table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(f"{where}.{key}", f"must be an integer, not {_kind(value)}")
            return default
        if value < minimum:
            self.problem(f"{where}.{key}", f"must be at least {minimum}, not {value}")
            return default
        return value

    def duration(
        self,
        table: Mapping[str, Any],
        where: str,
        key: str,
        default: D,
        *,
        minimum: timedelta = timedelta(seconds=1),
    ) -> timedelta | D:
        """A duration written as ``"15m"``, ``"2h"``, ``"1d"`` (or an integer of seconds)."""
        value = table.get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | str):
            self.problem(f"{where}.{key}", f"must be a duration like '30m', not {_kind(value)}")
            return default
        if isinstance(value, int):
            delta = timedelta(seconds=value)
        else:
            try:
                delta = parse_duration(value)
            except ValueError as exc:
                self.problem(f"{where}.{key}", str(exc))
                return default
        if delta < minimum:
            self.problem(f"{where}.{key}", f"must be at least {minimum.total_seconds():g} s")
            return default
        return delta

    def number(
        self,
        table: Mapping[str, Any],
        where: str,
        key: str,
        default: float,
        *,
        minimum: float = 0.001,
    ) -> float:
        value = table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.problem(f"{where}.{key}", f"must be a number, not {_kind(value)}")
            return default
        if not math.isfinite(value):
            # TOML allows nan and inf; a nan timeout compares false with everything and
            # turned the total deadline off.
            self.problem(f"{where}.{key}", f"must be a finite number, not {value}")
            return default
        if value < minimum:
            self.problem(f"{where}.{key}", f"must be at least {minimum}, not {value}")
            return default
        return float(value)


def _string_list(
    checker: _Checker, table: Mapping[str, Any], where: str, key: str
) -> list[str] | None:
    value = table.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        checker.problem(f"{where}.{key}", "must be a list of source names")
        return None
    return list(value)


def _kind(value: object) -> str:
    names: Mapping[type, str] = {
        str: "a string",
        int: "an integer",
        float: "a number",
        bool: "a boolean",
        list: "an array",
        dict: "a table",
    }
    return names.get(type(value), type(value).__name__)
