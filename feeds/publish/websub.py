"""WebSub publisher pings (W3C WebSub Recommendation, §4 "Publishing").

When a subscription document of an output with a ``hub`` changes, the hub is
told with ``POST hub.mode=publish&hub.url=<topic>`` (the form most hubs accept,
e.g. Google's and Superfeedr's). The ping is first saved in the store as
pending, then delivered; a hub that is down or answers an error leaves it
pending, and every later run (refresh or publish) tries again. A ping never
blocks publishing: the files are written before any ping is attempted, and a
failed ping is a warning in the report, not a failure of the run. A hub whose host
is held (it answered a request with 429 or 503, or timed out:
:mod:`feeds.ingest.fetch.holds`) is sent nothing: its ping waits, pending, for a run
after the hold, and is no failure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from feeds.config import OutputConfig
from feeds.errors import FetchError, HostHeldError
from feeds.store.protocol import PingQueue

if TYPE_CHECKING:
    from feeds.ingest.fetch.holds import HostHolds


class Poster(Protocol):
    """What sends a ping: :meth:`feeds.ingest.fetch.Fetcher.post_form`, which sends
    nothing to a host its ``holds`` hold."""

    @property
    def holds(self) -> HostHolds: ...

    def post_form(self, url: str, form: Sequence[tuple[str, str]]) -> int: ...


@dataclass(frozen=True)
class PingReport:
    """One delivery attempt; ``error`` is None when the hub accepted the ping, or when
    its host is held (``held`` says so: nothing was sent, the ping waits)."""

    hub: str
    topic: str
    error: str | None = None
    held: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def queue(store: PingQueue, output: OutputConfig, formats: Sequence[str], now: datetime) -> None:
    """Remember that the hub of ``output`` must hear about the changed ``formats``."""
    if output.hub is None:
        return
    for fmt in formats:
        topic = output.format_url(fmt)
        if topic is not None:
            store.add_pending_ping(output.hub, topic, now)


def deliver(store: PingQueue, poster: Poster, outputs: Sequence[OutputConfig]) -> list[PingReport]:
    """Try every pending ping once. Pings to hubs no longer configured are dropped; a
    ping to a held host stays pending as it was (no attempt, no error recorded)."""
    wanted = {
        (output.hub, output.format_url(fmt))
        for output in outputs
        if output.hub
        for fmt in output.formats
    }
    reports: list[PingReport] = []
    for ping in store.pending_pings():
        if (ping.hub, ping.topic) not in wanted:
            store.ping_delivered(ping.hub, ping.topic)
            continue
        error: str | None
        try:
            status = poster.post_form(ping.hub, [("hub.mode", "publish"), ("hub.url", ping.topic)])
            error = None if 200 <= status < 300 else f"hub answered HTTP {status}"
        except HostHeldError as held:
            reports.append(PingReport(ping.hub, ping.topic, held=held.message))
            continue
        except FetchError as exc:
            error = exc.message
        if error is None:
            store.ping_delivered(ping.hub, ping.topic)
        else:
            store.ping_failed(ping.hub, ping.topic, error)
        reports.append(PingReport(ping.hub, ping.topic, error))
    return reports
