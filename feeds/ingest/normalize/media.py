"""Enclosures and images: URLs checked and written like every link, types and sizes kept
when they are sane, duplicates and the excess dropped (:mod:`feeds.core.limits`)."""

from __future__ import annotations

import re
from collections.abc import Iterable

from feeds.core import limits
from feeds.ingest.normalize.urls import canonical_url
from feeds.ingest.urljoin import urlsplit
from feeds.types import Enclosure

# RFC 6838 §4.2: type "/" subtype, restricted names; parameters are not kept.
_MEDIA_TYPE = re.compile(
    r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,62}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,62}"
)


def media_url(url: str | None, base_url: str | None) -> str | None:
    """``url`` as an absolute http(s) URL in canonical form (see :func:`canonical_url`), or
    None when it is not one or is longer than :data:`limits.MAX_MEDIA_URL_CHARS`."""
    if not url or len(url) > limits.MAX_MEDIA_URL_CHARS:
        return None
    clean = canonical_url(url, base_url=base_url)
    if clean is None or len(clean) > limits.MAX_MEDIA_URL_CHARS or not _fetchable_host(clean):
        return None
    return clean


# A host name a client can look up: labels of letters, digits and hyphens (RFC 1123), or an
# IP literal. ``exa%20mple.com`` is none: a link keeps it (its text is the reader's), but a
# file no one can download is no enclosure, and the W3C Feed Validator rejects the URL.
_HOST_LABELS = re.compile(
    r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*"
)


def _fetchable_host(url: str) -> bool:
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return False
    if host.startswith("[") or ":" in host:
        return True  # an IPv6 literal: urlsplit checked it
    try:
        ascii_host = host.encode("idna").decode("ascii") if not host.isascii() else host
    except UnicodeError:
        return False
    return _HOST_LABELS.fullmatch(ascii_host.lower()) is not None


def media_type(value: str | None) -> str | None:
    """``type/subtype`` in lower case (parameters dropped), or None when it is not one."""
    if not value:
        return None
    head = value[: limits.MAX_MEDIA_TYPE_CHARS].split(";", 1)[0].strip()
    return head.lower() if _MEDIA_TYPE.fullmatch(head) else None


def clean_enclosures(raw: Iterable[Enclosure], base_url: str | None) -> tuple[Enclosure, ...]:
    """The distinct usable enclosures, the first :data:`limits.MAX_ENCLOSURES` of them.

    Two enclosures with the same URL are one (the first keeps its type and length): an
    RSS ``<enclosure>`` and a ``media:content`` often name the same file.
    """
    kept: dict[str, Enclosure] = {}
    for enclosure in raw:
        if len(kept) >= limits.MAX_ENCLOSURES:
            break
        url = media_url(enclosure.url, base_url)
        if url is None or url in kept:
            continue
        length = (
            enclosure.length if enclosure.length is not None and enclosure.length >= 0 else None
        )
        kept[url] = Enclosure(url, media_type(enclosure.type), length)
    return tuple(kept.values())
