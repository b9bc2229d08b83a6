"""What a run does once its sources are saved: retention, the run's counts, the hooks'
events (a daemon's saves dated by their claims: each source's own time is used)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from feeds.config import Config
from feeds.errors import StoreError
from feeds.run import hooks
from feeds.run.filtering import retention_before_publishing
from feeds.run.reports import SourceReport, without_joined
from feeds.run.tally import Tally
from feeds.store.protocol import Storage

__all__ = ["after_saving"]


def after_saving(
    config: Config,
    store: Storage,
    tally: Tally,
    saved: list[SourceReport],
    now: datetime,
    saved_at: Mapping[str, datetime] | None = None,
    worker: str | None = None,
) -> dict[str, SourceReport]:
    """Retention, the run's counts and the hooks' events, once its sources are saved; the
    reports whose ``new`` count a join changed (:func:`_settled_counts`), by source. A
    change saved leaves a publish request (a daemon's tick that fails here publishes it
    at a later one). Retention that cannot write (the disk full) raises
    :class:`~feeds.errors.StoreError` once the counts and events are saved: a run must not
    publish the copies it would have let go.
    ``saved_at``: when each source was saved, where that is not ``now`` (a daemon dates the
    saves after each claim by that claim). ``worker``: whose hook drafts these saves wrote
    (:func:`~feeds.run.hooks.queue_events`)."""
    at = saved_at or {}
    settled = _settled_counts(store, saved, now, at)
    saved = [settled.get(r.name, r) for r in saved]
    tally.sources(saved)
    if any(r.changed for r in saved):  # published by this run, or by the next if it fails
        store.request_publish(now)
    failed: StoreError | None = None
    try:
        expired = retention_before_publishing(config, store, now)
    except StoreError as exc:  # the disk full: the counts and events are saved all the same
        failed, expired = exc, 0
    tally.expired(expired)
    if expired:  # what retention let go leaves the outputs (a daemon's next publish)
        store.request_publish(now)
    tally.save(store)
    hooks.queue_events(config, store, saved, now, at, worker)
    if failed is not None:  # nothing is published before retention has run
        raise failed
    return settled


def _settled_counts(
    store: Storage, saved: list[SourceReport], now: datetime, saved_at: Mapping[str, datetime]
) -> dict[str, SourceReport]:
    """The reports of ``saved`` that counted as ``new`` a story a copy saved later joined
    to another (counted once, as the hooks list it), settled, by source."""
    counted = [r for r in saved if r.changes.get("new")]
    if not counted:
        return {}
    by_time: dict[datetime, list[str]] = {}
    for r in counted:
        by_time.setdefault(saved_at.get(r.name, now), []).append(r.name)
    started: dict[str, int] = {}
    for at, names in by_time.items():
        started.update(store.stories_started(names, at))
    settled = [(r, without_joined(r, started.get(r.name, 0))) for r in counted]
    return {r.name: s for r, s in settled if s is not r}
