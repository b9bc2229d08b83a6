"""Hook events: saved after a run, delivered after publishing, retried with back-off.

Like WebSub pings (:mod:`feeds.publish.websub`), an event is saved in the store first
(a draft with each source's save, :func:`draft_events`; the event, once the round's sources
are saved, :func:`queue_events`: the stories it names keep their ids from then on, so a
round's copies join as they would without hooks) and sent afterwards
(:func:`deliver_due`, after the outputs are published), so a receiver that is down never
holds up publishing, and a crash in between loses nothing. A failed delivery waits 30 s,
1 min, 2 min, … up to 1 h before its next try (:func:`feeds.core.hooks.backoff`); the event
keeps its id, so a receiver drops a copy it already has. A receiver whose host is held
(it answered a request with 429 or 503, or timed out: :mod:`feeds.ingest.fetch.holds`)
is sent nothing: its events wait for the hold's end, no attempt counted, no failure.

A webhook is a JSON POST with these headers (the secret comes from ``secret_env``)::

    X-Feeds-Event: new_entries
    X-Feeds-Event-Id: 3f2a…                (the same on every retry)
    X-Feeds-Timestamp: 1767225600          (Unix time of this attempt)
    X-Feeds-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>." + body>

A receiver recomputes the signature, rejects a timestamp more than a few minutes old
(a replay) and an event id it has seen (a duplicate). A command gets the same JSON on
its standard input; exit status 0 is a delivery.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from feeds.config import Config
from feeds.core.hooks import HookConfig, backoff, signature
from feeds.errors import FetchError, HostHeldError
from feeds.run.filtering import acceptor, store_verdict
from feeds.run.tally import labels
from feeds.store import HookEvent
from feeds.store.protocol import Storage
from feeds.types import StoredEntry

if TYPE_CHECKING:
    from feeds.ingest.fetch.holds import HostHolds

__all__ = ["Delivery", "JSONPoster", "deliver_due", "draft_events", "queue_events"]

log = logging.getLogger("feeds.hooks")

COMMAND_TIMEOUT = 60.0  # seconds a command hook may take
LISTED = 20  # stories a new_entries event lists, newest first
READ_MAX = 1000  # a source's new stories read to see which readers will get


class JSONPoster(Protocol):
    """What sends a webhook: :meth:`feeds.ingest.fetch.Fetcher.post_json`, which sends
    nothing to a host its ``holds`` hold."""

    @property
    def holds(self) -> HostHolds: ...

    def post_json(
        self, url: str, body: bytes, headers: Sequence[tuple[str, str]], *, guarded: bool
    ) -> int: ...


class _Report(Protocol):
    """What :func:`queue_events` reads of a source's report (a ``SourceReport``)."""

    @property
    def name(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def error(self) -> str | None: ...
    @property
    def skipped(self) -> str | None: ...
    @property
    def changes(self) -> Mapping[str, int]: ...


@dataclass(frozen=True)
class Delivery:
    """One attempt to deliver an event; ``error`` is None when it was delivered, or when
    the receiver's host is held (``held`` says so: nothing was sent, the event waits)."""

    hook: str
    event_id: str
    error: str | None = None
    held: str | None = None


@dataclass(frozen=True)
class _Drafted:
    """A saved source's report as a draft keeps it (:func:`draft_events`)."""

    name: str
    url: str
    error: str | None
    changes: Mapping[str, int]
    skipped: str | None = None


def draft_events(
    config: Config, store: Storage, report: _Report, worker: str, saved_at: datetime
) -> None:
    """Save a draft of the events ``report`` may fire, in the transaction that saves its
    source: a worker killed before its round ends (when :func:`queue_events` makes the
    events) loses none of them; the next round of another worker makes them."""
    new = report.changes.get("new", 0)
    if report.skipped is not None or not (new or report.error is not None):
        return
    if not any(h.listens_to(report.name) for h in config.hooks):
        return
    facts = {"name": report.name, "url": report.url, "error": report.error, "new": new}
    payload = json.dumps(facts, ensure_ascii=False, sort_keys=True)
    store.add_hook_draft(HookEvent(uuid.uuid4().hex, worker, "draft", payload, saved_at))


def queue_events(
    config: Config,
    store: Storage,
    reports: Sequence[_Report],
    now: datetime,
    saved_at: Mapping[str, datetime] | None = None,
    worker: str | None = None,
) -> int:
    """Save the events this run's ``reports`` fire; return how many. The stories they name
    keep their ids from then on (:meth:`~feeds.store.protocol.PublishState.mark_seen`).
    ``saved_at``: when each source was saved, where that is not ``now`` (the time its new
    copies were first seen, and its retirement dated). The drafts of ``worker``
    (:func:`draft_events`: these reports') go, and those of a worker no longer in the
    registry (killed amid its round) become its events."""
    if not config.hooks:
        return 0
    at = saved_at or {}
    with store.transaction():
        store.mark_seen()
        events = _events(config, store, reports, now, at)
        live = {w.id for w in store.workers()} - {worker}
        these = {(r.name, at.get(r.name, now)) for r in reports}
        for draft in store.hook_drafts():
            if draft.hook in live:
                continue  # a live worker's round: its own end makes them
            store.hook_event_delivered(draft.id)
            facts = json.loads(draft.payload)
            if draft.hook == worker and (facts["name"], draft.created) in these:
                continue  # one of ``reports`` (a draft of an earlier round that failed: not)
            left = _Drafted(facts["name"], facts["url"], facts["error"], {"new": facts["new"]})
            events += _events(config, store, [left], now, {left.name: draft.created})
        for event in events:
            store.add_hook_event(event)
    return len(events)


def _events(
    config: Config,
    store: Storage,
    reports: Sequence[_Report],
    run_now: datetime,
    saved_at: Mapping[str, datetime],
) -> list[HookEvent]:
    events: list[HookEvent] = []
    for report in reports:
        if report.skipped is not None:
            continue
        now = saved_at.get(report.name, run_now)
        new = report.changes.get("new", 0)
        fired = [h for h in config.hooks if h.listens_to(report.name)]
        payload: dict[str, Any] = {"source": report.name, "url": report.url}
        if new and any(h.event == "new_entries" for h in fired):
            new, listed, outputs = _announced(config, store, report.name, new, now)
            stories = [{"id": i, "title": title, "link": link} for i, title, link in listed]
            facts = {**payload, "new_entries": new, "outputs": outputs, "entries": stories}
            if new:  # (none a reader will get: nothing to announce)
                events += [_event(h, facts, now) for h in fired if h.event == "new_entries"]
        if report.error is None:
            continue
        state = store.source(report.name)
        facts = {**payload, "error": report.error, "error_count": state.error_count}
        for hook in fired:
            if hook.event == "source_failed" and state.error_count == hook.after_errors:
                events.append(_event(hook, facts, now))
            if hook.event == "source_retired" and state.retired_at == now:
                events.append(_event(hook, facts, now))
    return events


def _announced(
    config: Config, store: Storage, source: str, new: int, now: datetime
) -> tuple[int, list[tuple[str, str, str | None]], list[str]]:
    """What a ``new_entries`` event of ``source`` announces of its ``new`` stories: how many,
    the newest :data:`LISTED` of them, and the outputs that publish any of them.

    A story no reader will get is neither listed nor counted: one the filter rules keep from
    every output of the source (``[filters]``, the source's rules, each output's, ``max_age``
    included, as publishing applies them; with no output, the global and source rules), and
    one whose copy retention let go at once (``[store] keep``)."""
    outputs = [o for o in config.outputs if source in o.sources]
    accepts: list[tuple[str | None, Callable[[StoredEntry], bool] | None]]
    accepts = [(o.name, acceptor(config, o, now)) for o in outputs]
    if not outputs:
        accepts = [(None, lambda e: not store_verdict(config, e, source, now).blocked)]
    rows = store.stories_first_seen(source, now, READ_MAX)
    kept, showing = [], set()
    for row in rows:
        copy = store.stories([row[0]], [source])  # its live copy (none: expired)
        by = {name for name, accept in accepts if copy and (accept is None or accept(copy[0]))}
        if by:
            kept.append(row)
            showing |= by
    shown = [o.name for o in outputs if o.name in showing]
    return max(0, new - (len(rows) - len(kept))), kept[:LISTED], shown


def _event(hook: HookConfig, facts: Mapping[str, Any], now: datetime) -> HookEvent:
    event_id = uuid.uuid4().hex
    body = {"id": event_id, "event": hook.event, "time": now.isoformat(), **facts}
    return HookEvent(
        id=event_id,
        hook=hook.name,
        event=hook.event,
        payload=json.dumps(body, ensure_ascii=False, sort_keys=True),
        created=now,
    )


Runner = Callable[..., subprocess.CompletedProcess[bytes]]


def deliver_due(
    config: Config,
    store: Storage,
    poster: JSONPoster,
    now: datetime,
    *,
    env: Mapping[str, str] | None = None,
    runner: Runner = subprocess.run,
    stopping: Callable[[], bool] | None = None,
) -> list[Delivery]:
    """Try every event that is due once, oldest first. Events of hooks no longer configured
    are dropped. A hook whose receiver fails (an error, a timeout) is tried no more in this
    run: its other due events wait for the next run (a receiver that accepts and never
    answers held every run for its events × the timeout), where the failed one, backing
    off, no longer goes first (one event a receiver always refuses holds no other back).
    An event whose receiver's host is held (by this process or any worker of the store)
    is sent nothing and tried again at the hold's end, neither delivered nor failed.
    Once ``stopping()`` is true (a daemon told to stop), no more is sent: the events left
    wait for the next run (each took up to its timeout, and the service manager's stop
    timeout is not that long)."""
    hooks = {hook.name: hook for hook in config.hooks}
    env = os.environ if env is None else env
    deliveries: list[Delivery] = []
    failed: set[str] = set()
    events = store.due_hook_events(now)
    if events:
        poster.holds.keep(store.host_holds(now))  # every worker's holds
    for event in events:
        if stopping is not None and stopping():
            break
        hook = hooks.get(event.hook)
        if hook is None or hook.event != event.event:
            with store.transaction():
                store.hook_event_delivered(event.id)
            continue
        if event.hook in failed:
            continue  # the next run tries it
        try:
            error = _send(hook, event, poster, now, env, runner)
        except HostHeldError as held:
            deliveries.append(_postponed(store, event, held, now))
            continue
        with store.transaction():
            if error is None:
                store.hook_event_delivered(event.id)
            else:
                store.hook_event_failed(event.id, error, now + backoff(event.attempts + 1))
                failed.add(event.hook)
            result = "delivered" if error is None else "failed"
            store.add_counts(
                {("feeds_hook_deliveries_total", labels(hook=hook.name, result=result)): 1}
            )
        if error is not None:
            log.warning(
                "hook %s: event %s not delivered (will retry): %s", hook.name, event.id, error
            )
        deliveries.append(Delivery(hook.name, event.id, error))
    return deliveries


def _postponed(store: Storage, event: HookEvent, held: HostHeldError, now: datetime) -> Delivery:
    """``event``'s receiver's host is held: the event waits for the hold's end."""
    with store.transaction():
        store.hook_event_postponed(event.id, now + timedelta(seconds=max(held.seconds, 1.0)))
    log.info("hook %s: event %s waits: %s", event.hook, event.id, held.message)
    return Delivery(event.hook, event.id, held=held.message)


def _send(
    hook: HookConfig,
    event: HookEvent,
    poster: JSONPoster,
    now: datetime,
    env: Mapping[str, str],
    runner: Runner,
) -> str | None:
    body = event.payload.encode()
    if hook.url is None:
        return _run(hook.command, body, event, runner)
    secret = env.get(hook.secret_env or "")
    if not secret:
        return f"the environment variable {hook.secret_env} (the secret) is not set"
    timestamp = int(now.timestamp())
    headers = [
        ("X-Feeds-Event", event.event),
        ("X-Feeds-Event-Id", event.id),
        ("X-Feeds-Timestamp", str(timestamp)),
        ("X-Feeds-Signature", signature(secret.encode(), timestamp, body)),
    ]
    try:
        status = poster.post_json(hook.url, body, headers, guarded=not hook.allow_private_addresses)
    except HostHeldError:
        raise  # not a failure: the caller postpones the event
    except FetchError as exc:
        return exc.message
    return None if 200 <= status < 300 else f"the receiver answered HTTP {status}"


def _run(command: Sequence[str], body: bytes, event: HookEvent, runner: Runner) -> str | None:
    try:
        done = runner(
            list(command),
            input=body,
            capture_output=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
            env={**os.environ, "FEEDS_EVENT": event.event, "FEEDS_EVENT_ID": event.id},
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return f"{command[0]}: {exc}"
    if done.returncode != 0:
        tail = done.stderr.decode(errors="replace").strip()[-200:]
        return f"{command[0]} exited with {done.returncode}" + (f": {tail}" if tail else "")
    return None
