"""Prometheus metrics and a health check, read from the store.

:func:`exposition` writes the text format (version 0.0.4): the counters every run adds to
the store (:mod:`feeds.run.tally`) and gauges derived from what the store holds now (sources
by state, the most overdue source's lag, the daemon's heartbeat). The store is the only
source of truth, so ``feeds serve --metrics``, ``feeds metrics`` and
``feeds refresh --metrics-file`` agree whichever process did the work.

:func:`health` is ``/healthz``: 503 when the store cannot be read, or when a daemon is
recorded and its heartbeat is older than the limit, or it stopped and no other daemon on the
store is live (:func:`feeds.app.status.live_daemons`); else 200.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from feeds.app.status import daemon_up, live_daemons, patience
from feeds.config import Config
from feeds.core import schedule
from feeds.errors import FeedsError
from feeds.run.adaptive import with_adaptive_intervals
from feeds.run.tally import labels
from feeds.store.protocol import Storage

__all__ = ["CONTENT_TYPE", "exposition", "health", "routes", "write_textfile"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

#: Every family feeds exposes: name → (type, help).
FAMILIES: dict[str, tuple[str, str]] = {
    "feeds_fetch_total": ("counter", "Fetches of sources by outcome class."),
    "feeds_fetch_body_bytes_total": ("counter", "Bytes of changed bodies fetched (decoded)."),
    "feeds_entries_total": (
        "counter",
        "Incoming entries by what they did to the store (blocked: new ones filters block).",
    ),
    "feeds_entries_expired_total": ("counter", "Stored copies whose body retention deleted."),
    "feeds_publish_total": ("counter", "Publish attempts per output and result."),
    "feeds_publish_duration_seconds": ("gauge", "Seconds the last rebuild of an output took."),
    "feeds_publish_last_timestamp_seconds": (
        "gauge",
        "Unix time an output was last published or found current.",
    ),
    "feeds_sources": ("gauge", "Configured sources by state (ok, backing_off, retired)."),
    "feeds_source_max_lag_seconds": ("gauge", "How long the most overdue source has been due."),
    "feeds_daemon_up": (
        "gauge",
        "1 when a daemon runs (as feeds status says) or a daemon worker is live, else 0.",
    ),
    "feeds_daemon_heartbeat_age_seconds": ("gauge", "Seconds since the daemon's last heartbeat."),
    "feeds_hook_deliveries_total": ("counter", "Hook delivery attempts per hook and result."),
    "feeds_hook_events_pending": ("gauge", "Hook events saved and not delivered yet."),
}


def exposition(config: Config, store: Storage, now: datetime) -> str:
    """The metrics as Prometheus text exposition; ``now`` is timezone-aware UTC."""
    samples = dict(store.counts())
    samples.update(_derived(config, store, now))
    by_family: dict[str, list[tuple[str, float]]] = {}
    for (name, label_text), value in sorted(samples.items()):
        by_family.setdefault(name, []).append((label_text, value))
    lines: list[str] = []
    for name, series in by_family.items():
        kind, text = FAMILIES.get(name, ("untyped", name))
        lines += [f"# HELP {name} {text}", f"# TYPE {name} {kind}"]
        lines += [
            f"{name}{{{lt}}} {_number(v)}" if lt else f"{name} {_number(v)}" for lt, v in series
        ]
    return "\n".join(lines) + "\n"


def _derived(config: Config, store: Storage, now: datetime) -> dict[tuple[str, str], float]:
    config = with_adaptive_intervals(config, store, now)
    states = {s.name: s for s in store.sources()}
    counts = {"ok": 0, "backing_off": 0, "retired": 0}
    lag = timedelta(0)
    for source in config.sources:
        state = states.get(source.name)
        if state is None:
            continue
        if state.retired:
            counts["retired"] += 1
            continue
        counts["backing_off" if state.error_count else "ok"] += 1
        due = schedule.next_due(state, config.schedule, config.interval(source.name))
        if due is not None and state.last_fetched is not None:
            lag = max(lag, now - due)
    derived = {("feeds_sources", labels(state=k)): float(v) for k, v in counts.items()}
    derived["feeds_source_max_lag_seconds", ""] = lag.total_seconds()
    derived["feeds_hook_events_pending", ""] = float(store.pending_hook_events())
    info = store.daemon_info()
    running = daemon_up(info, live_daemons(store, now, patience(config)))
    derived["feeds_daemon_up", ""] = 1.0 if running else 0.0
    if info is not None and running:
        age = (now - info.last_activity).total_seconds()
        derived["feeds_daemon_heartbeat_age_seconds", ""] = max(age, 0.0)
    return derived


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return str(int(value)) if value.is_integer() else repr(value)


def health(
    open_store: Callable[[], Storage], now: datetime, max_age: timedelta, *, within: timedelta
) -> tuple[int, str]:
    """``(status, text)`` for ``/healthz``: 200 or 503, with the reason on one line. A
    worker heard from ``within`` is live (:func:`feeds.app.status.patience`)."""
    try:
        with open_store() as store:
            store.counts()
            info = store.daemon_info()
            live = live_daemons(store, now, within) if info else []
    except FeedsError as exc:
        return 503, f"store unreadable: {exc}"
    if info is None:
        return 200, "ok (no daemon recorded)"
    if info.stopped is not None and not live:
        return 503, f"daemon stopped at {info.stopped.isoformat()}"
    if not daemon_up(info, live):  # killed: it had no chance to record its stop
        return 503, f"daemon not running: its process {info.pid} is gone"
    others = live if info.stopped is not None else []
    age = now - info.last_activity
    if age > max_age:
        return 503, f"daemon heartbeat {age.total_seconds():.0f} s old (limit {max_age})"
    also = f"; {len(others)} daemon{'s' if len(others) > 1 else ''} live" if others else ""
    return 200, f"ok (heartbeat {age.total_seconds():.0f} s old{also})"


def write_textfile(path: Path, text: str) -> None:
    """Write ``text`` for node_exporter's textfile collector: a temp file in the same
    folder, fsync, rename, so the collector never reads half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=".feeds-metrics.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        Path(temp).chmod(0o644)
        Path(temp).replace(path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


Route = Callable[[], tuple[int, str, bytes]]


def routes(
    config: Config, stale_after: timedelta, clock: Callable[[], datetime]
) -> dict[str, Route]:
    """``/metrics`` and ``/healthz`` for :attr:`feeds.app.serve.FeedServer.dynamic`; the
    store is opened for each request (so a scrape sees what other processes saved)."""
    from feeds.store import open_store

    def opened() -> Storage:
        return open_store(config.store_location, create=False)

    def scrape() -> tuple[int, str, bytes]:
        try:
            with opened() as store:
                text = exposition(config, store, clock())
        except FeedsError as exc:
            return 503, "text/plain; charset=utf-8", f"store unreadable: {exc}\n".encode()
        return 200, CONTENT_TYPE, text.encode()

    def healthz() -> tuple[int, str, bytes]:
        status, text = health(opened, clock(), stale_after, within=patience(config))
        return status, "text/plain; charset=utf-8", (text + "\n").encode()

    return {"/metrics": scrape, "/healthz": healthz}
