"""What goes on the wire and comes back: the Accept headers, the redirect statuses, default
ports, stored validators as header bytes, and how much of an unwanted body is read.

No httpx here: a fetcher that never sends never loads it (see :mod:`.connections`)."""

from __future__ import annotations

#: What we can parse, best first (RFC 9110 §12.5.1).
ACCEPT = (
    "application/atom+xml, application/rss+xml, application/feed+json, "
    "application/json;q=0.9, application/xml;q=0.8, text/xml;q=0.8, */*;q=0.5"
)

#: What we ask for when we fetch an article or section page.
ACCEPT_HTML = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"

#: We decode all three ourselves, with bounded output (see :class:`_BoundedDecoder`).
ACCEPT_ENCODING = "gzip, deflate, br"

# RFC 9110 §15.4: the redirect statuses that carry a Location. 300 and 305/306 are not
# followed automatically. 301 and 308 are permanent (§15.4.2, §15.4.9); the rest are not.
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})

_PERMANENT_REDIRECT_STATUSES = frozenset({301, 308})

_HTTP_SCHEMES = frozenset({"http", "https"})

_DEFAULT_PORTS = {"http": 80, "https": 443}

# A body we do not keep (a 304's, a redirect's, an error page's) is read to its end when it
# is declared this small, so the connection goes back to the pool. httpcore closes a
# connection whose response was not read to the end, and a new connection per conditional
# GET would double the cost of a refresh in which nothing changed.
DRAIN_BYTES = 64 * 1024


def _content_length(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        return None  # h11 rejects a malformed one before we get here; be lenient anyway


def _header_bytes(value: str) -> bytes:
    """Encode a stored validator the way it most likely arrived.

    httpx decodes header bytes as ASCII, else UTF-8, else Latin-1; sending the
    same bytes back keeps an opaque ETag intact (RFC 9110 §8.8.3).
    """
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8")


#: The most of a URL an error message quotes: a Location header may run to 90 KB, and the
#: message goes to the source's record, ``feeds status``, ``--json`` and hook payloads.
QUOTED_URL_CHARS = 200


def shortened(text: str) -> str:
    """A URL (or an error's text about one) as a message quotes it: at most
    :data:`QUOTED_URL_CHARS` characters, the last an ellipsis when it was cut."""
    return text if len(text) <= QUOTED_URL_CHARS else text[: QUOTED_URL_CHARS - 1] + "…"
