"""The schedule math: pure functions of a source's stored state and an injected `now`."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from feeds.core import schedule
from feeds.core.schedule import ASAP, Verdict, decide, next_due
from feeds.types import ScheduleOptions, SourceState

T0 = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
M = timedelta(minutes=1)
H = timedelta(hours=1)
NO_JITTER = ScheduleOptions(jitter=0.0)


def state(**changes: object) -> SourceState:
    base = SourceState(name="business", url="https://a.example/feed/", last_fetched=T0)
    return replace(base, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("15m", 15 * M),
        ("2h", 2 * H),
        ("1d", timedelta(days=1)),
        ("1w", timedelta(days=7)),
        ("1h30m", 90 * M),
        ("1.5h", 90 * M),
        (" 2H ", 2 * H),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert schedule.parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "30", "m", "15 minutes", "1h30", "-5m", "1y", "5m x"])
def test_parse_duration_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        schedule.parse_duration(text)


def test_format_duration_round_trips() -> None:
    for text in ("45s", "15m", "2h", "1d", "1h30m", "1d6h"):
        assert schedule.format_duration(schedule.parse_duration(text)) == text


# name, state changes, interval, expected delay after T0 (None: retired), with jitter off
SCHEDULE_TABLE: list[tuple[str, dict[str, object], timedelta, timedelta | None]] = [
    ("plain interval", {}, 30 * M, 30 * M),
    ("own interval", {}, 2 * H, 2 * H),
    ("max-age pushes later", {"cache_seconds": 7200}, 30 * M, 2 * H),
    ("max-age below interval ignored", {"cache_seconds": 60}, 30 * M, 30 * M),
    ("ttl pushes later", {"ttl_seconds": 3 * 3600}, 30 * M, 3 * H),
    ("longest hint wins", {"cache_seconds": 3600, "ttl_seconds": 5400}, 30 * M, 90 * M),
    ("hint clamped to a day", {"cache_seconds": 7 * 86400}, 30 * M, 24 * H),
    ("interval beyond max_interval wins", {"cache_seconds": 60}, 48 * H, 48 * H),
    ("1st error: interval", {"error_count": 1}, 30 * M, 30 * M),
    ("2nd error: doubled", {"error_count": 2}, 30 * M, 60 * M),
    ("4th error", {"error_count": 4}, 30 * M, 4 * H),
    ("5th error: capped at 6h", {"error_count": 5}, 30 * M, 6 * H),
    ("50th error: still 6h", {"error_count": 50}, 30 * M, 6 * H),
    ("errors ignore cache hints", {"error_count": 1, "cache_seconds": 86400}, 30 * M, 30 * M),
    ("backoff never below interval", {"error_count": 3}, 12 * H, 12 * H),
    ("retry-after later wins", {"retry_after": T0 + 5 * H}, 30 * M, 5 * H),
    ("retry-after sooner ignored", {"retry_after": T0 + 5 * M}, 30 * M, 30 * M),
    (
        "retry-after with backoff",
        {"error_count": 3, "retry_after": T0 + 3 * H},
        30 * M,
        3 * H,
    ),
    ("retired", {"retired_at": T0, "retired_reason": "HTTP 410 Gone"}, 30 * M, None),
]


@pytest.mark.parametrize(
    ("changes", "interval", "delay"),
    [row[1:] for row in SCHEDULE_TABLE],
    ids=[row[0] for row in SCHEDULE_TABLE],
)
def test_next_due(changes: dict[str, object], interval: timedelta, delay: timedelta | None) -> None:
    due = next_due(state(**changes), NO_JITTER, interval)
    assert due == (None if delay is None else T0 + delay)


def test_never_fetched_is_due_at_once_unless_a_retry_after_says_otherwise() -> None:
    assert next_due(state(last_fetched=None), NO_JITTER, 30 * M) == ASAP
    later = T0 + H
    assert next_due(state(last_fetched=None, retry_after=later), NO_JITTER, 30 * M) == later


def test_jitter_is_deterministic_bounded_and_spreads_sources() -> None:
    options = ScheduleOptions(jitter=0.1)
    dues = [next_due(state(name=f"s{i}"), options, 30 * M) for i in range(50)]
    assert all(d is not None and T0 + 30 * M <= d < T0 + 33 * M for d in dues)
    assert len(set(dues)) == 50  # no two sources fire together
    assert dues == [next_due(state(name=f"s{i}"), options, 30 * M) for i in range(50)]
    assert 0 <= schedule.jitter_fraction("business") < 1
    # jitter never pushes past the clamp
    capped = next_due(state(cache_seconds=10 * 86400), options, 30 * M)
    assert capped == T0 + 24 * H


@pytest.mark.parametrize(
    ("changes", "now", "force", "verdict"),
    [
        ({}, T0 + 29 * M, False, Verdict.NOT_DUE),
        ({}, T0 + 30 * M, False, Verdict.DUE),
        ({}, T0 + 1 * M, True, Verdict.DUE),
        ({"last_fetched": None}, T0, False, Verdict.DUE),
        ({"retry_after": T0 + H}, T0 + 59 * M, True, Verdict.RETRY_AFTER),
        ({"retry_after": T0 + H}, T0 + H, False, Verdict.DUE),
        ({"retired_at": T0}, T0 + 100 * H, False, Verdict.RETIRED),
        ({"retired_at": T0}, T0 + 100 * H, True, Verdict.RETIRED),
    ],
    ids=[
        "early",
        "on time",
        "forced",
        "new",
        "forced but retry-after",
        "retry-after passed",
        "retired",
        "retired even forced",
    ],
)
def test_decide(changes: dict[str, object], now: datetime, force: bool, verdict: Verdict) -> None:
    due = decide(state(**changes), NO_JITTER, 30 * M, now, force=force)
    assert due.verdict is verdict
    assert due.fetch is (verdict is Verdict.DUE)
    if verdict is not Verdict.DUE:
        assert due.reason


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({}, None),
        ({"cache-control": "max-age=3600"}, 3600),
        ({"cache-control": "public, max-age=600", "age": "100"}, 500),
        ({"cache-control": 'max-age="120"'}, 120),
        ({"cache-control": "no-cache, max-age=3600"}, None),
        ({"cache-control": "no-store"}, None),
        (
            {"expires": "Wed, 04 Mar 2026 14:00:00 GMT", "date": "Wed, 04 Mar 2026 12:00:00 GMT"},
            7200,
        ),
        ({"expires": "Wed, 04 Mar 2026 13:00:00 GMT"}, 3600),  # no Date: against now
        ({"expires": "0"}, 0),  # RFC 9111 §5.3: invalid means already expired
        (
            {"cache-control": "max-age=60", "expires": "Wed, 04 Mar 2026 18:00:00 GMT"},
            60,
        ),  # max-age wins over Expires
        ({"expires": "Wed, 04 Mar 2026 10:00:00 GMT"}, 0),  # in the past
    ],
)
def test_freshness(headers: dict[str, str], seconds: int | None) -> None:
    assert schedule.freshness(headers, T0) == seconds


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("120", T0 + 2 * M),
        (" 3600 ", T0 + H),
        ("0", None),
        ("Wed, 04 Mar 2026 15:00:00 GMT", T0 + 3 * H),
        ("Wednesday, 04-Mar-26 15:00:00 GMT", T0 + 3 * H),  # obsolete RFC 850 form
        ("Wed, 04 Mar 2026 11:00:00 GMT", None),  # already past
        ("soon", None),
        ("99999999999", T0 + timedelta(days=7)),  # capped
        ("Wed, 04 Mar 2027 15:00:00 GMT", T0 + timedelta(days=7)),  # capped
    ],
)
def test_parse_retry_after(value: str | None, expected: datetime | None) -> None:
    assert schedule.parse_retry_after(value, T0, timedelta(days=7)) == expected


@pytest.mark.parametrize(
    ("value", "date", "expected"),
    [
        # The server's clock 10 minutes behind ours: "come back in 5" was already past.
        ("Wed, 04 Mar 2026 11:55:00 GMT", "Wed, 04 Mar 2026 11:50:00 GMT", T0 + 5 * M),
        # An hour ahead: "come back in 2" held the source an hour and 2 minutes.
        ("Wed, 04 Mar 2026 13:02:00 GMT", "Wed, 04 Mar 2026 13:00:00 GMT", T0 + 2 * M),
        ("Wed, 11 Mar 2026 13:00:00 GMT", "Wed, 04 Mar 2026 11:00:00 GMT", T0 + 7 * 24 * H),
        ("Wed, 04 Mar 2026 12:59:00 GMT", "Wed, 04 Mar 2026 13:00:00 GMT", None),  # before Date
        ("Wed, 04 Mar 2026 15:00:00 GMT", "yesterday", T0 + 3 * H),  # no valid Date: ours
        ("Wed, 04 Mar 2026 15:00:00 GMT", None, T0 + 3 * H),
        ("120", "Wed, 04 Mar 2026 11:00:00 GMT", T0 + 2 * M),  # seconds: no clock involved
    ],
)
def test_a_retry_after_date_is_measured_against_the_answer_s_date(
    value: str, date: str | None, expected: datetime | None
) -> None:
    """RFC 9110 §10.2.3: the date is the server's clock, as its Date is (§6.6.1)."""
    assert schedule.parse_retry_after(value, T0, timedelta(days=7), date) == expected


PAST_THE_LAST_DAY = "Fri, 31 Dec 9999 23:59:59 -2359"  # 10000-01-01 in UTC
BEFORE_THE_FIRST_DAY = "Mon, 01 Jan 0001 00:00:00 +2359"  # read as the year 1


def test_a_date_past_the_calendar_in_utc_is_its_end_not_an_error() -> None:
    """A server's date that UTC takes past the year 9999 raised OverflowError: the source
    failed, and the entries of the feed it came with were lost."""
    far = {"expires": PAST_THE_LAST_DAY}
    assert schedule.freshness(far, T0) == schedule.GREATEST_DELTA_SECONDS
    assert (
        schedule.freshness(
            {"expires": "Wed, 04 Mar 2026 13:00:00 GMT", "date": PAST_THE_LAST_DAY}, T0
        )
        == 0
    )
    cap = timedelta(days=7)
    assert schedule.parse_retry_after(PAST_THE_LAST_DAY, T0, cap) == T0 + cap
    assert (
        schedule.parse_retry_after("Wed, 04 Mar 2026 15:00:00 GMT", T0, cap, PAST_THE_LAST_DAY)
        is None
    )
    assert schedule.parse_retry_after(BEFORE_THE_FIRST_DAY, T0, cap) is None


def test_track_redirect_needs_consecutive_sightings() -> None:
    new = "https://b.example/feed/"
    other = "https://c.example/feed/"
    assert schedule.track_redirect(None, 0, new) == (new, 1, False)
    assert schedule.track_redirect(new, 1, new) == (new, 2, True)
    assert schedule.track_redirect(new, 1, None) == (None, 0, False)  # not consecutive
    assert schedule.track_redirect(new, 1, other) == (other, 1, False)


def test_a_fetch_dated_after_now_makes_the_source_due() -> None:
    """Saved by a clock that was ahead: it says nothing of when the source was fetched, and
    held it back by as much as the clock was ahead (a Retry-After still holds)."""
    ahead = state(last_fetched=T0 + timedelta(days=2))
    assert decide(ahead, NO_JITTER, H, T0).verdict is Verdict.DUE
    waiting = replace(ahead, retry_after=T0 + H)
    assert decide(waiting, NO_JITTER, H, T0).verdict is Verdict.RETRY_AFTER
    # a few seconds or minutes ahead: another machine's clock, and a fetch just made
    skewed = state(last_fetched=T0 + 2 * M)
    assert decide(skewed, NO_JITTER, H, T0).verdict is Verdict.NOT_DUE
