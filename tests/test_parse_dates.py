"""The fast reader reads a date as feedparser's ``_parse_date`` does, without asking its
W3C-DTF handler about a date that starts with a letter (see ``fast_elements._parsed_date``)."""

from __future__ import annotations

from typing import Any

from feedparser.datetimes import _parse_date
from hypothesis import example, given, settings
from hypothesis import strategies as st

from feeds.ingest.parse.fast_elements import _parsed_date

_PIECES = st.sampled_from(
    [
        *("Sun, ", "Tue, ", "Sat,", "Thu ", "sun", "T", "t", "Z", "z", " ", "\t", "\x1c", "\n"),
        *("05 May 2019 ", "11:57:00", " +0000", " GMT", " EST", "-05:00", "2019", "-05", "-"),
        *("2019-05-05", "T11:57:00Z", "1", "12", "0000", "May", "Oct", ":", ".", "+", "é"),
        *("\u0663\u0660\u0661\u0669", "Mon, 31 Feb 2019 25:00:00 +0000", "Wed Jul  4 10:00:00"),
    ]
)


def _outcome(value: str) -> Any:
    try:
        return _parse_date(value)
    except Exception as exc:
        return type(exc).__name__


def _shortcut_outcome(value: str) -> Any:
    try:
        return _parsed_date(value)
    except Exception as exc:
        return type(exc).__name__


@settings(max_examples=3000)
@given(st.lists(_PIECES, max_size=8).map("".join))
@example("Sun, 05 May 2019 11:57:00 +0000")
@example("Sat, 04 May 2019 23:57:00 GMT")
@example("  Tue, 07 May 2019 01:00:00 -0500")
@example("T2019-05-05")
@example("Thursday, 2019-05-05T10:00:00Z")
@example("")
def test_dates_read_as_feedparser_reads_them(value: str) -> None:
    assert _shortcut_outcome(value) == _outcome(value)
