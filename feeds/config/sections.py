"""The one-table sections: ``[schedule]``, ``[daemon]``, ``[dedupe]``, ``[fetch]``,
``[full_text]``."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import replace
from datetime import timedelta
from typing import Any

from feeds.config.checker import _Checker, _kind, _string_list
from feeds.config.model import SourceConfig
from feeds.core.database_url import has_password, not_a_url, shown_url
from feeds.core.source_http import header_text
from feeds.types import (
    DaemonOptions,
    DedupeOptions,
    FetchOptions,
    FullTextOptions,
    ScheduleOptions,
)

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


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
    options = ScheduleOptions(
        interval=checker.duration(table, "schedule", "interval", d.interval),
        adaptive=adaptive,
        min_interval=checker.duration(table, "schedule", "min_interval", d.min_interval),
        max_interval=checker.duration(table, "schedule", "max_interval", d.max_interval),
        max_backoff=checker.duration(table, "schedule", "max_backoff", d.max_backoff),
        jitter=jitter,
        max_retry_after=checker.duration(table, "schedule", "max_retry_after", d.max_retry_after),
    )
    if "min_interval" in table and options.min_interval > options.max_interval:
        # "auto" clamps between the two: a floor written above the ceiling has no meaning,
        # and one of them (which, the code would decide silently) is not what the admin
        # wrote. A max_interval alone below the default floor is what they wrote: it caps
        # a fixed interval's server hints, and under "auto" it wins over the default.
        checker.problem(
            "schedule.min_interval",
            f"{_shown(options.min_interval)} is longer than max_interval"
            f" ({_shown(options.max_interval)})",
        )
    return options


def _shown(delta: timedelta) -> str:
    """A duration as the config writes it ("2d", "90m", "45s")."""
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _daemon_options(checker: _Checker, table: Mapping[str, Any]) -> DaemonOptions:
    d = DaemonOptions()
    checker.keys(table, "daemon", {"publish_delay", "heartbeat", "save_time"})
    return DaemonOptions(
        publish_delay=checker.duration(
            table, "daemon", "publish_delay", d.publish_delay, minimum=timedelta(0)
        ),
        heartbeat=checker.duration(table, "daemon", "heartbeat", d.heartbeat),
        save_time=checker.duration(table, "daemon", "save_time", d.save_time),
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


#: The most seconds a ``[fetch]`` timeout or ``min_host_delay`` may be (a day). Past some
#: 3·10⁹ a wait overflowed the platform's time_t (a traceback per source), past 10³⁰⁰ the
#: run's lease did (a traceback, nothing published); none needs more than a day.
MAX_FETCH_SECONDS = 86400.0


#: The most sources fetched at once (a thread each). A claim's lease is this many fetches in
#: turn: at 10¹² it passed the year 9999, a traceback before anything was fetched.
MAX_CONNECTIONS = 10000


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

    def seconds(key: str, default: float, minimum: float = 0.001) -> float:
        return checker.number(
            table, "fetch", key, default, minimum=minimum, maximum=MAX_FETCH_SECONDS
        )

    return FetchOptions(
        connect_timeout=seconds("connect_timeout", defaults.connect_timeout),
        read_timeout=seconds("read_timeout", defaults.read_timeout),
        total_timeout=seconds("total_timeout", defaults.total_timeout),
        max_body_bytes=checker.integer(
            table, "fetch", "max_body_bytes", defaults.max_body_bytes, maximum=2**63 - 1
        ),
        max_redirects=checker.integer(
            table, "fetch", "max_redirects", defaults.max_redirects, minimum=0
        ),
        max_connections=checker.integer(
            table, "fetch", "max_connections", defaults.max_connections, maximum=MAX_CONNECTIONS
        ),
        max_per_host=checker.integer(table, "fetch", "max_per_host", defaults.max_per_host),
        user_agent=header_text(table, "user_agent", "fetch", checker.problem)
        or defaults.user_agent,
        min_host_delay=seconds("min_host_delay", defaults.min_host_delay, minimum=0.0),
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
    checker.keys(table, "full_text", {"max_pages", "max_seconds", "site_rules"})
    return FullTextOptions(
        # At least one page and some time: a budget of nothing would defer every page forever
        # (and re-read the feed on every run); `full_text = false` turns pages off.
        max_pages=checker.integer(table, "full_text", "max_pages", defaults.max_pages),
        max_seconds=checker.number(table, "full_text", "max_seconds", defaults.max_seconds),
    )


def _check_store_url(checker: _Checker, where: str, url: str) -> None:
    """A problem when ``url`` is no ``postgresql://`` URL (shown without its password)."""
    if not url.startswith(POSTGRES_SCHEMES):
        checker.problem(where, f"{shown_url(url)!r}: must be a postgresql:// URL")
    elif (why := not_a_url(url)) is not None:
        checker.problem(where, f"{shown_url(url)!r}: not a URL ({why})")


def _store_url(checker: _Checker, store: Mapping[str, Any], env_url: str | None) -> str | None:
    """``[store] url`` (or ``$FEEDS_STORE_URL``, which wins): a PostgreSQL database instead
    of the SQLite file at ``path``. The file never holds a password: libpq reads it from
    ``PGPASSWORD`` or ``~/.pgpass``."""
    url = checker.get(store, "store", "url", str, None)  # "" is a mistake, not "no URL"
    if url is not None:
        if "path" in store:
            checker.problem("store.url", "set path (a SQLite file) or url, not both")
        _check_store_url(checker, "store.url", url)
        if has_password(url):
            checker.problem(
                "store.url",
                "holds a password: leave it out of the file and set PGPASSWORD or ~/.pgpass",
            )
    if env_url:
        _check_store_url(checker, "FEEDS_STORE_URL", env_url)
        return env_url
    return url
