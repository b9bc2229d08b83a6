"""When is a source due? Pure functions of a source's stored state and ``now``.

Nothing here reads the clock, the network or the disk: the daemon and
``feeds refresh`` pass in what the store knows and the current time, and get
back when the source should next be fetched. The rules::

    retired (410 Gone)              → never, until an admin runs `feeds enable NAME`
    never fetched                   → now
    last fetch failed (n in a row)  → last + min(interval · 2^(n-1), max_backoff), never < interval
    last fetch succeeded            → last + clamp(server hint, interval, max_interval)
    then, always                    → + jitter (a fixed fraction per source name)
                                      and never before the server's Retry-After

A server hint is the longest of ``Cache-Control: max-age`` (else ``Expires``)
and RSS ``<ttl>`` / ``sy:updatePeriod``; it only ever pushes the next fetch
later. The jitter is derived from a hash of the source's name, so sources with
the same interval do not fire together and a run is reproducible.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from enum import StrEnum

from feeds.core.digest import sha256
from feeds.types import ScheduleOptions, SourceState

__all__ = [
    "ASAP",
    "MAX_DURATION",
    "REDIRECT_CONFIRMATIONS",
    "TOO_LONG",
    "Due",
    "Verdict",
    "backoff_delay",
    "decide",
    "delta_seconds",
    "format_duration",
    "freshness",
    "jitter_fraction",
    "next_due",
    "parse_duration",
    "parse_retry_after",
    "track_redirect",
]

#: The due time of a source that was never fetched: the distant past.
ASAP = datetime(1970, 1, 1, tzinfo=UTC)

#: A 301/308 must be seen on this many consecutive fetches before the stored URL follows it.
REDIRECT_CONFIRMATIONS = 2

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION_RE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])", re.IGNORECASE)


MAX_DURATION = timedelta(days=36500)
"""The longest duration a setting takes (100 years): added to a date, any longer one could
pass the last date there is (the year 9999), and every run that scheduled with it failed."""

TOO_LONG = "must be at most 100 years"


def parse_duration(text: str) -> timedelta:
    """``"90s"``, ``"15m"``, ``"2h"``, ``"1d"``, ``"1w"`` or sums like ``"1h30m"``.

    Raises :class:`ValueError` for anything else (a bare number is refused: its
    unit would be a guess), and for more than :data:`MAX_DURATION`.
    """
    position, seconds = 0, 0.0
    for match in _DURATION_RE.finditer(text):
        if match.start() != position:
            break
        seconds += float(match[1]) * _UNITS[match[2].lower()]
        position = match.end()
    if position == 0 or text[position:].strip():
        raise ValueError(f"{text!r} is not a duration like '90s', '15m', '2h' or '1d'")
    if not seconds <= MAX_DURATION.total_seconds():
        raise ValueError(f"{text!r} {TOO_LONG}")
    return timedelta(seconds=seconds)


def format_duration(delta: timedelta) -> str:
    """The inverse of :func:`parse_duration`, for messages: ``1h30m``, ``45s``."""
    seconds = round(delta.total_seconds())
    if seconds <= 0:
        return "0s"
    parts = []
    for unit in ("d", "h", "m", "s"):
        amount, seconds = divmod(seconds, _UNITS[unit])
        if amount:
            parts.append(f"{amount}{unit}")
    return "".join(parts)


def jitter_fraction(name: str) -> float:
    """A number in [0, 1) fixed for a source name (the first 8 bytes of its SHA-256)."""
    digest = sha256(name.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def backoff_delay(error_count: int, interval: timedelta, max_backoff: timedelta) -> timedelta:
    """The wait after ``error_count`` (≥ 1) failures in a row: doubling, capped, ≥ interval."""
    doubled: timedelta = interval * 2 ** min(max(error_count, 1) - 1, 32)
    return max(interval, min(doubled, max_backoff))


def next_due(state: SourceState, options: ScheduleOptions, interval: timedelta) -> datetime | None:
    """When ``state``'s source should next be fetched; ``None`` when it is retired.

    ``interval`` is the source's own interval (or the default). A source never
    fetched is due at :data:`ASAP` (or at its Retry-After, if it has one).
    """
    if state.retired:
        return None
    if state.last_fetched is None:
        due = ASAP
    else:
        ceiling = max(interval, options.max_interval)
        if state.error_count > 0:
            delay = backoff_delay(state.error_count, interval, options.max_backoff)
            ceiling = max(interval, options.max_backoff)
        else:
            hints = [s for s in (state.cache_seconds, state.ttl_seconds) if s is not None]
            hint = timedelta(seconds=max(hints)) if hints else interval
            delay = min(max(hint, interval), ceiling)
        jittered = delay * (1 + options.jitter * jitter_fraction(state.name))
        due = state.last_fetched + max(delay, min(jittered, ceiling))
    if state.retry_after is not None:
        due = max(due, state.retry_after)
    return due


class Verdict(StrEnum):
    """Whether a source may be fetched now."""

    DUE = "due"
    NOT_DUE = "not due"  # its schedule says later (``--all`` overrides this)
    RETRY_AFTER = "retry-after"  # the server asked us to wait (nothing overrides this)
    RETIRED = "retired"  # 410 Gone: no requests until re-enabled


@dataclass(frozen=True)
class Due:
    """A :func:`decide` answer: the verdict, when the source is next due, and why."""

    verdict: Verdict
    at: datetime | None
    reason: str = ""

    @property
    def fetch(self) -> bool:
        return self.verdict is Verdict.DUE


def decide(
    state: SourceState,
    options: ScheduleOptions,
    interval: timedelta,
    now: datetime,
    *,
    force: bool = False,
) -> Due:
    """May ``state``'s source be fetched at ``now``? ``force`` (``--all``) skips the schedule,
    but never a retired source and never a server's Retry-After."""
    at = next_due(state, options, interval)
    if at is None:
        return Due(Verdict.RETIRED, None, f"retired: {state.retired_reason or 'by an admin'}")
    if state.retry_after is not None and now < state.retry_after:
        return Due(
            Verdict.RETRY_AFTER,
            at,
            f"the server asked to wait until {_iso(state.retry_after)} (Retry-After)",
        )
    if force or now >= at or _fetched_later_than(state, now):
        return Due(Verdict.DUE, at)
    return Due(Verdict.NOT_DUE, at, f"not due until {_iso(at)}")


CLOCK_SLACK = timedelta(minutes=15)
"""A last fetch dated more than this after now was saved by a clock that was ahead. Less is
taken as it is: the clocks of machines sharing a store differ by seconds, and a source one of
them just fetched must not look due to another."""


def _fetched_later_than(state: SourceState, now: datetime) -> bool:
    """Whether the last fetch is dated well after ``now`` (:data:`CLOCK_SLACK`): saved by a
    clock that was ahead, it says nothing of when the source was really fetched, and would
    hold the source back by as much as the clock was ahead. It is due."""
    return state.last_fetched is not None and state.last_fetched > now + CLOCK_SLACK


# --- reading the server's hints -------------------------------------------------------------


GREATEST_DELTA_SECONDS = 2**31
"""What a delta-seconds (or a lifetime) greater than this is taken as (RFC 9111 §1.2.2): a
store's integers hold it, where ``max-age=99999999999999999999`` failed the source."""


def freshness(headers: Mapping[str, str], now: datetime) -> int | None:
    """Seconds the response stays fresh per RFC 9111 §4.2.1, or ``None`` when it says nothing.

    ``max-age`` wins over ``Expires`` (measured against the response's ``Date``,
    else ``now``); an unreadable ``Expires`` means already stale (§5.3);
    ``Age`` is subtracted. ``no-cache``/``no-store`` give no hint (the interval
    applies). At most :data:`GREATEST_DELTA_SECONDS`. ``headers`` has lower-cased names.
    """
    directives = _cache_control(headers.get("cache-control", ""))
    if "no-store" in directives or "no-cache" in directives:
        return None
    lifetime: float | None = None
    max_age = delta_seconds(directives.get("max-age"))
    if max_age is not None:
        lifetime = max_age
    elif "expires" in headers:
        expires = _http_date(headers["expires"])
        date = _http_date(headers.get("date", "")) or now
        lifetime = 0 if expires is None else (expires - date).total_seconds()
    if lifetime is None:
        return None
    lifetime -= delta_seconds(headers.get("age")) or 0
    return max(0, min(int(lifetime), GREATEST_DELTA_SECONDS))


def delta_seconds(value: str | None) -> int | None:
    """A header's delta-seconds (RFC 9111 §1.2.2: ASCII digits), at most
    :data:`GREATEST_DELTA_SECONDS`; None when it is absent or not one.

    Python reads no more than 4,300 digits into an int: a ``max-age``, ``Age`` or
    ``Retry-After`` of 5,000 nines raised ValueError, which failed the source and lost the
    entries of the document it came with."""
    text = (value or "").strip()
    if not text.isascii() or not text.isdigit():
        return None
    digits = text.lstrip("0")
    if len(digits) > len(str(GREATEST_DELTA_SECONDS)):
        return GREATEST_DELTA_SECONDS
    return min(int(digits or "0"), GREATEST_DELTA_SECONDS)


def parse_retry_after(
    value: str | None, now: datetime, cap: timedelta, date: str | None = None
) -> datetime | None:
    """The time a ``Retry-After`` value (delay-seconds or an HTTP date) asks us to wait until.

    An HTTP date is the server's clock: with the response's ``Date`` (``date``, when it is
    a valid HTTP date) the wait is the one between the two, counted from ``now`` (as
    :func:`freshness` takes ``Expires`` less ``Date``); a server whose clock is ten minutes
    behind ours, saying "come back in five", was taken as already past, and one ahead as
    asking for more than it meant. Without a valid ``Date``, the date is taken on our
    clock. Capped at ``now + cap`` so a mistaken header cannot silence a source for
    ever; ``None`` when absent, unreadable or already past.
    """
    if value is None:
        return None
    seconds = delta_seconds(value)
    if seconds is not None:
        wait = timedelta(seconds=seconds)
    else:
        asked = _http_date(value)
        if asked is None:
            return None
        server_now = _http_date(date) if date is not None else None
        wait = asked - (server_now or now)
    # The wait before it is added: a date centuries before the answer's Date (1900 against
    # 9999) put ``now`` past the calendar's start, an OverflowError that failed the source.
    return now + min(wait, cap) if wait > timedelta(0) else None


def track_redirect(
    pending_url: str | None, pending_count: int, seen: str | None
) -> tuple[str | None, int, bool]:
    """Follow a permanent redirect only once it is seen on consecutive fetches.

    ``seen`` is this fetch's permanent redirect target (every hop 301/308), or
    None. Returns the new ``(pending_url, pending_count, move)``; ``move`` is
    True when the stored URL should now become ``pending_url``.
    """
    if seen is None:
        return None, 0, False
    count = pending_count + 1 if seen == pending_url else 1
    return seen, count, count >= REDIRECT_CONFIRMATIONS


def _cache_control(value: str) -> dict[str, str]:
    directives: dict[str, str] = {}
    for part in value.split(","):
        name, _, argument = part.strip().partition("=")
        if name:
            directives[name.strip().lower()] = argument.strip().strip('"')
    return directives


_FIRST_DAY = datetime.min.replace(tzinfo=UTC)
_LAST_DAY = datetime.max.replace(tzinfo=UTC)


def _http_date(value: str) -> datetime | None:
    try:
        parsed = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed.tzinfo is None:  # "-0000" means UTC without a claim (RFC 5322 §3.3)
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        # A day at the calendar's end whose offset takes it past it in UTC ("Fri, 31 Dec
        # 9999 23:59:59 -2359" in an Expires, a Date or a Retry-After): it failed the
        # source, and the entries of the document it came with were lost. It is that end.
        return _LAST_DAY if parsed.year == datetime.max.year else _FIRST_DAY


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
