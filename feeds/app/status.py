"""``feeds status``: the daemon's heartbeat, the workers sharing the store, expired leases
and every source's schedule, for people and monitors.

Several daemons may share a store; its ``daemon`` row holds the one that started last (each
daemon's heartbeat moves its ``last_activity``) and says stopped once any of them stops
cleanly. So a daemon runs when that row's does, or when a daemon is among the live workers
of the registry (:func:`live_daemons`): one of several stopping leaves the others running.

:func:`gather` builds a JSON-ready dict (the ``--json`` output, a stable
contract for monitoring); :func:`render` turns it into a table. Reading only:
the store is never written here, so it is safe while the daemon runs.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

from feeds.config import Config, SourceConfig
from feeds.core import schedule
from feeds.run.adaptive import with_adaptive_intervals
from feeds.run.shared_holds import held_until
from feeds.run.worker import claim_limit, is_refresh, lease_for, process_exists, process_gone
from feeds.store.protocol import PostingHistory, StatusReader, WorkerRegistry
from feeds.store.values import WorkerInfo
from feeds.store.work_roles import HostHoldBoard
from feeds.types import MAX_HOLD, DaemonInfo, SourceState


def daemon_running(info: DaemonInfo | None) -> bool:
    """Whether the recorded daemon is alive: not stopped, and its pid exists on this host."""
    if info is None or info.stopped is not None:
        return False
    return process_exists(info.host, info.pid)


def daemon_up(info: DaemonInfo | None, live: list[WorkerInfo]) -> bool:
    """Whether a daemon runs on the store, given its ``live`` daemons (:func:`live_daemons`):
    the one recorded last is alive (:func:`daemon_running`: not stopped, and on this host its
    process exists), or another daemon is a live worker. ``feeds status`` says so, and
    ``feeds_daemon_up`` reports it: one killed (no chance to record its stop) is not up."""
    return info is not None and (daemon_running(info) or bool(live))


#: ``feeds status`` lists the leases that expired this long ago at most.
EXPIRED_SHOWN = timedelta(days=1)


def patience(config: Config) -> timedelta:
    """How long a worker may go unheard and still be live: three heartbeats, or one lease
    if longer (a long claim renews the lease meanwhile)."""
    return max(3 * config.daemon.heartbeat, lease_for(config, claim_limit(config)))


def live_daemons(
    store: WorkerRegistry, now: datetime, within: timedelta, *, refreshes: bool = False
) -> list[WorkerInfo]:
    """The daemons among the store's workers heard from within ``within`` (``feeds
    refresh`` runs are workers too, not daemons: with ``refreshes``, they count as well);
    on this host, only those whose process exists (one killed leaves its row behind)."""
    return [
        w
        for w in store.workers()
        if (refreshes or not is_refresh(w.id)) and now - w.heartbeat <= within and worker_alive(w)
    ]


def worker_alive(worker: WorkerInfo) -> bool:
    """Whether ``worker``'s process may still run: on this host, only if its pid exists
    (one killed leaves its row, and its heartbeat looks fresh for a while)."""
    return not process_gone(worker.id)


def workers(config: Config, store: StatusReader, now: datetime) -> list[dict[str, Any]]:
    """The registered workers; ``live`` when heard from within :func:`patience` and, on this
    host, its process exists (``process_gone``: it does not, killed or ended)."""
    within = patience(config)
    return [_worker_report(w, worker_alive(w), now, within) for w in store.workers()]


def _worker_report(w: WorkerInfo, alive: bool, now: datetime, within: timedelta) -> dict[str, Any]:
    """One worker's line of :func:`workers` (``alive``: asked once, so ``live`` and
    ``process_gone`` never disagree when the process ends between two looks)."""
    return {
        "id": w.id,
        "live": now - w.heartbeat <= within and alive,
        "process_gone": not alive,
        "started": _iso(w.started),
        "heartbeat": _iso(w.heartbeat),
        "seconds_since_heartbeat": int((now - w.heartbeat).total_seconds()),
        "sources_leased": w.leased,
        "last_activity": _iso(w.last_activity),
    }


class StatusStore(StatusReader, PostingHistory, HostHoldBoard, Protocol):
    """What ``feeds status`` reads (posting history: for adaptive intervals; the hosts
    held: why sources are deferred)."""


def gather(config: Config, store: StatusStore, *, now: datetime) -> dict[str, Any]:
    config = with_adaptive_intervals(config, store, now)
    info = store.daemon_info()
    live = live_daemons(store, now, patience(config))
    daemons = [w.id for w in live]
    states = {s.name: s for s in store.sources()}
    queued = store.queued_dues()
    holds = store.host_holds(now)
    held = held_until(holds)
    sources = [
        _source_status(config, source, states.get(source.name), queued.get(source.name), held, now)
        for source in config.sources
    ]
    return {
        "now": _iso(now),
        "workers": workers(config, store, now),
        "expired_leases": [
            {
                "source": lease.source,
                "worker": lease.worker,
                "until": _iso(lease.until),
                "recorded": _iso(lease.at),
            }
            for lease in store.expired_leases(now, now - EXPIRED_SHOWN)
        ],
        "host_holds": [
            {"host": hold.host, "until": _iso(hold.until), "why": hold.why} for hold in holds
        ],
        "daemon": None
        if info is None
        else {
            "running": daemon_up(info, live),
            "live_daemons": daemons,
            "pid": info.pid,
            "host": info.host,
            "started": _iso(info.started),
            "last_activity": _iso(info.last_activity),
            "seconds_since_activity": int((now - info.last_activity).total_seconds()),
            "stopped": _iso(info.stopped),
        },
        "sources": sources,
    }


def _source_status(
    config: Config,
    source: SourceConfig,
    state: SourceState | None,
    queued: datetime | None,
    held: Callable[[str], datetime | None],
    now: datetime,
) -> dict[str, Any]:
    """One source's line of ``feeds status`` (``queued``: when the store's queue has it due;
    ``held``: when the host of a URL is held until, :func:`held_until`)."""
    state = state or SourceState(name=source.name, url=source.url)
    due, deferred = due_and_deferred(config, state, queued, held, now)
    return {
        "name": source.name,
        "url": state.url,
        "config_url": source.url,
        "interval_seconds": int(config.interval(source.name).total_seconds()),
        "interval_reason": interval_reason(config, source.name, state),
        "last_fetched": _iso(state.last_fetched),
        "last_status": state.last_status,
        "next_due": _iso(max(due, now)) if due else None,
        "due_now": due is not None and due <= now,
        "deferred_until": _iso(deferred),
        "error_count": state.error_count,
        "last_error": state.last_error,
        "retry_after": _iso(state.retry_after),
        "retired": state.retired,
        "retired_at": _iso(state.retired_at),
        "retired_reason": state.retired_reason,
        "entries": state.entry_count,
    }


def due_and_deferred(
    config: Config,
    state: SourceState,
    queued: datetime | None,
    held: Callable[[str], datetime | None],
    now: datetime,
) -> tuple[datetime | None, datetime | None]:
    """When a source is next due (None: never, retired), and when it was deferred to past
    its schedule, if it was: by the store's queue (``queued``) or by its host's hold
    (``held``, :func:`held_until`). ``config``'s intervals as adapted
    (:func:`with_adaptive_intervals`)."""
    due = schedule.next_due(state, config.schedule, config.interval(state.name))
    deferred = _deferred_until(due, queued, now)
    hold_ends = held(state.url) if due is not None else None
    if hold_ends is not None and hold_ends > max(due or now, deferred or now, now):
        # Its host asked to wait: no request goes there before, whatever its queue says
        # (`feeds enable` makes it due now, the hold stays).
        deferred = hold_ends
    return deferred or due, deferred


def _deferred_until(
    due: datetime | None, queued: datetime | None, now: datetime
) -> datetime | None:
    """When the store's queue has a source due, if a worker deferred it past its schedule
    and now: its host asked to wait (a source deferred keeps its state, which says it is
    due, but no claim takes it sooner), for :data:`MAX_HOLD` at most. None otherwise (a
    later time saved under a longer interval is not a deferral: its schedule is shown)."""
    if due is None or queued is None or queued <= max(due, now):
        return None
    return queued if queued <= now + timedelta(seconds=MAX_HOLD) else None


def render(report: dict[str, Any]) -> str:
    lines = []
    daemon = report["daemon"]
    if daemon is None:
        lines.append("daemon: never ran on this store")
    elif daemon["running"] and not _recorded_daemon_runs(daemon):
        # The daemon recorded last stopped (or is gone); others on the store go on.
        live = daemon["live_daemons"]
        gone = f"stopped at {daemon['stopped'][:19]}" if daemon["stopped"] else "is gone"
        lines.append(
            f"daemon: running ({len(live)} live: {', '.join(live)}), last activity "
            f"{daemon['last_activity'][:19]} ({daemon['seconds_since_activity']} s ago); "
            f"the one recorded last, pid {daemon['pid']} on {daemon['host']}, {gone}"
        )
    elif daemon["running"]:
        lines.append(
            f"daemon: running (pid {daemon['pid']} on {daemon['host']}, since "
            f"{daemon['started'][:19]}), last activity {daemon['last_activity'][:19]} "
            f"({daemon['seconds_since_activity']} s ago)"
        )
    else:
        stopped = daemon["stopped"] or daemon["last_activity"]
        lines.append(f"daemon: not running (last seen {stopped[:19]}, pid {daemon['pid']})")
    lines += _render_workers(report)
    lines += [
        f"host held: {hold['host']} until {hold['until'][:19]} ({hold['why']})"
        for hold in report["host_holds"]
    ]
    rows = [("NAME", "STATE", "HTTP", "LAST FETCH", "NEXT DUE", "ERRORS", "LAST ERROR")]
    for s in report["sources"]:
        if s["retired"]:
            state, next_due = "retired", "never (feeds enable " + s["name"] + ")"
        else:
            state = "error" if s["error_count"] else ("ok" if s["last_fetched"] else "new")
            next_due = "now" if s["due_now"] else s["next_due"][:19]
            if s["retry_after"] and s["retry_after"] > report["now"]:
                state += " (Retry-After)"
            elif s["deferred_until"]:
                state += " (deferred)"
        rows.append(
            (
                s["name"],
                state,
                str(s["last_status"] or "-"),
                (s["last_fetched"] or "never")[:19],
                next_due,
                str(s["error_count"]),
                s["last_error"] or "",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(6)]
    for row in rows:
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row[:6])]
        lines.append("  ".join([*cells, row[6]]).rstrip())
    lines += [f"{s['name']}: interval: {s['interval_reason']}" for s in report["sources"]]
    return "\n".join(lines)


def _recorded_daemon_runs(daemon: dict[str, Any]) -> bool:
    """Whether the daemon of the store's ``daemon`` row is among those that run (when no
    live daemon is registered, the row alone says)."""
    if daemon["stopped"] is not None:
        return False
    mine = f"{daemon['host']}:{daemon['pid']}:"
    live = daemon["live_daemons"]
    return not live or any(w.startswith(mine) for w in live)


def _render_workers(report: dict[str, Any]) -> list[str]:
    lines = []
    live = [w for w in report["workers"] if w["live"]]
    lines.append(f"workers: {len(live)} live" + (":" if live else ""))
    for w in report["workers"]:
        state = "live" if w["live"] else "process gone" if w["process_gone"] else "not heard from"
        active = (w["last_activity"] or "never")[:19]
        lines.append(
            f"  {w['id']}  {state}, heartbeat {w['heartbeat'][:19]} "
            f"({w['seconds_since_heartbeat']} s ago), {w['sources_leased']} sources leased, "
            f"last activity {active}"
        )
    for lease in report["expired_leases"]:
        when = (
            f"counted as an error at {lease['recorded'][:19]}"
            if lease["recorded"]
            else "not claimed again yet"
        )
        lines.append(
            f"expired lease: {lease['source']} (worker {lease['worker']}, "
            f"until {lease['until'][:19]}): {when}"
        )
    return lines


def interval_reason(config: Config, name: str, state: SourceState) -> str:
    """Why the source's interval is what it is: adaptive (with its numbers), its own, or
    the default, and a server hint that stretches it."""
    source = config.source(name)
    interval = config.interval(name)
    if source.interval_reason is not None:
        reason = source.interval_reason
    elif source.interval is not None:
        reason = f"its own interval, {schedule.format_duration(interval)}"
    else:
        reason = f"[schedule] interval, {schedule.format_duration(interval)}"
    hints = [s for s in (state.cache_seconds, state.ttl_seconds) if s is not None]
    if hints and timedelta(seconds=max(hints)) > interval:
        stretched = min(timedelta(seconds=max(hints)), max(interval, config.schedule.max_interval))
        reason += f"; the server's cache hint stretches it to {schedule.format_duration(stretched)}"
    if state.retired:
        reason += f"; retired: never fetched until `feeds enable {name}`"
    elif state.error_count:
        errors = "1 error" if state.error_count == 1 else f"{state.error_count} errors in a row"
        reason += f"; backing off after {errors}"
    return reason


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
