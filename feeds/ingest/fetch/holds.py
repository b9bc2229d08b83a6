"""Hosts that told the fetcher to wait (a 429 or 503), or did not answer in time.

A feed source's 429 or 503 holds back that source (its ``Retry-After`` is stored with it:
:mod:`feeds.core.schedule`). Article pages have no such record, and a run asks for up to
``[full_text] max_pages`` of them, many on one host: without a hold, a host that answered
the first with "429 Too Many Requests" got the other 29 anyway, one ``min_host_delay``
apart. The same went for the host's other feeds: a host that said 429 to one source's feed
got the next source's feed a ``min_host_delay`` later, in the same run. Now the first such
answer, to a feed or a page, holds the host for its ``Retry-After`` (RFC 9110 §10.2.3,
RFC 6585 §4), or :data:`DEFAULT_HOLD` without one, and every request for it meanwhile,
feed or page, fails at once, unsent, with :class:`~feeds.errors.HostHeldError`: a page as
a passing failure (tried again on a later run), a feed's source deferred (see
:mod:`feeds.run.save_source`). A timeout holds the host :data:`DEFAULT_HOLD` too: behind
a host that hangs, a batch of 8 pages took four read timeouts, two at a time (two minutes
by default, twice the run's page budget), where one says all. The holds live as long as
the fetcher: a run, or a daemon's life.

A hold is also shared: every worker of the store and every fetch process of a run keeps
off the host until it ends, not only the one that met the answer. :meth:`HostHolds.seen`
gives the holds begun here since it was last asked (the run writes them to the store),
:meth:`HostHolds.keep` takes those begun elsewhere (read from the store, or passed on
by another fetch process), within the same limits, and :meth:`HostHolds.on_hold` tells a
listener of each hold begun or made longer here (a fetch process passes it on at once).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

from feeds.core.schedule import parse_retry_after
from feeds.errors import (
    FetchError,
    FetchTimeoutError,
    HostHeldError,
    HTTPStatusError,
    NameLookupTimeoutError,
    printable_line,
)
from feeds.types import MAX_HOLD as MAX_HOLD  # where it was, for those who read it here
from feeds.types import HostHold

#: The answers that hold a host: too many requests, or the server is overloaded.
HOLD_STATUSES = frozenset({429, 503})

#: Seconds a host is held after such an answer without a readable Retry-After.
DEFAULT_HOLD = 60.0


#: How many holds are kept before the ended ones are dropped.
_PURGE_AT = 1024


class HostHolds:
    """Per host, until when no request is sent (``clock``: ``time.monotonic``;
    ``wall``: the UTC time a Retry-After date is measured against). Thread-safe."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._clock = clock
        self._wall = wall
        self._held: dict[str, tuple[float, str]] = {}  # host → (until, why)
        self._lock = threading.Lock()
        self._seen: list[HostHold] = []  # begun here (or by a fetch process), not yet asked
        self._listener: Callable[[HostHold], None] | None = None

    def check(self, host: str, url: str) -> None:
        """Raise :class:`HostHeldError` for ``url`` when ``host`` is held (nothing is sent)."""
        with self._lock:
            held = self._held.get(host)
            if held is not None and held[0] <= self._clock():
                del self._held[host]
                held = None
        if held is not None:
            left = max(held[0] - self._clock(), 0.0)
            message = f"not asked: {held[1]}; {host} is left alone {left:.0f} s more"
            raise HostHeldError(url, message, host=host, seconds=left)

    def note(self, host: str, error: FetchError) -> None:
        """Hold ``host`` when ``error`` is a 429 or 503 (for its Retry-After, if it has one)
        or a timeout of the host's (not of its name's lookup)."""
        if isinstance(error, NameLookupTimeoutError):
            return  # nothing reached the host: its name servers (or our lookup slots) hung
        if isinstance(error, FetchTimeoutError):
            seconds, why = DEFAULT_HOLD, f"{host} timed out on {error.url}"
        elif isinstance(error, HTTPStatusError) and error.status in HOLD_STATUSES:
            seconds = _seconds(error.retry_after, self._wall(), error.date)
            # The URL it answered (a redirect from another host's may have led there).
            why = f"{host} answered HTTP {error.status} to {error.answered}"
            if error.retry_after is not None:
                why += f" (Retry-After: {error.retry_after[:40]})"
        else:
            return
        why = printable_line(why)  # feeds status prints it: the server's Retry-After, quoted
        hold = HostHold(host, self._wall() + timedelta(seconds=seconds), why)
        if self._hold(host, self._clock() + seconds, why):
            self._tell(hold)

    def keep(self, holds: Iterable[HostHold], *, seen_here: bool = False) -> None:
        """Hold the hosts of ``holds``, begun elsewhere, until their end (at most
        :data:`MAX_HOLD` from now, whatever the clock of the machine that saw them said).
        ``seen_here``: they are this run's (a fetch process met them), to be :meth:`seen`
        and told to the listener as if begun here."""
        wall, now = self._wall(), self._clock()
        for hold in holds:
            seconds = min((hold.until - wall).total_seconds(), MAX_HOLD)
            if seconds > 0 and self._hold(hold.host, now + seconds, hold.why) and seen_here:
                self._tell(hold)

    def held(self) -> list[HostHold]:
        """Every hold not ended yet, by host (to hand to a fetch process)."""
        wall, now = self._wall(), self._clock()
        with self._lock:
            held = sorted((h, until, why) for h, (until, why) in self._held.items() if until > now)
        return [HostHold(h, wall + timedelta(seconds=until - now), why) for h, until, why in held]

    def seen(self) -> list[HostHold]:
        """The holds begun here since the last call (to share them); each once."""
        with self._lock:
            seen, self._seen = self._seen, []
        return seen

    def on_hold(self, listener: Callable[[HostHold], None] | None) -> None:
        """Call ``listener`` with each hold begun or made longer here from now on, from the
        thread that met it, instead of keeping it for :meth:`seen` (None: keep them again)."""
        self._listener = listener

    def _hold(self, host: str, until: float, why: str) -> bool:
        """Hold ``host`` until ``until`` (``clock``'s); whether that began or lengthened it."""
        with self._lock:
            now = self._clock()
            if len(self._held) >= _PURGE_AT:  # a daemon meets many hosts in its life
                self._held = {h: held for h, held in self._held.items() if held[0] > now}
            if until <= self._held.get(host, (0.0, ""))[0]:
                return False
            self._held[host] = (until, why)
            return True

    def _tell(self, hold: HostHold) -> None:
        listener = self._listener
        if listener is not None:
            listener(hold)
            return
        with self._lock:
            self._seen.append(hold)


def _seconds(retry_after: str | None, now: datetime, date: str | None = None) -> float:
    """How long a Retry-After holds a host: its delay (a date less the answer's ``Date``,
    when it has a valid one), at most :data:`MAX_HOLD`; :data:`DEFAULT_HOLD` when it is
    absent, unreadable or already past."""
    until = parse_retry_after(retry_after, now, timedelta(seconds=MAX_HOLD), date)
    return DEFAULT_HOLD if until is None else (until - now).total_seconds()
