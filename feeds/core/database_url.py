"""A PostgreSQL store's URL as messages show it: without its password, wherever libpq
takes one from (the user part, ``postgresql://feeds:secret@db/feeds``, or a ``password``
parameter, ``?password=secret``), whatever the rest of it is. Pure: the config checks
``[store] url`` with it, and every message that names the store shows it so.

Nothing here may raise on any text: a URL that does not parse is what the user is told
about, not a traceback (``urllib.parse`` raises on ``postgresql://[db/feeds``, and on a
port that is no number as soon as it is read).
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

__all__ = ["has_password", "hide_passwords", "is_url", "not_a_url", "shown_url"]

_PARTS = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<netloc>[^/?#]*)(?P<rest>.*)", re.S)
"""A URL's scheme, its authority (``user:password@hosts``) and the rest, split by hand."""
HIDDEN = "***"


def _query_password(pair: str) -> bool:
    return unquote(pair.partition("=")[0]) == "password"


def _passwords(url: str) -> list[str]:
    """Every password ``url`` holds, as written and percent-decoded (longest first)."""
    found = _PARTS.fullmatch(url)
    if found is None:
        return []
    written: list[str] = []
    user, at, _ = found["netloc"].rpartition("@")
    if at and ":" in user:
        written.append(user.partition(":")[2])
    query = found["rest"].partition("?")[2].partition("#")[0]
    written += [p.partition("=")[2] for p in query.split("&") if _query_password(p)]
    secrets = {s for w in written for s in (w, unquote(w)) if s}
    return sorted(secrets, key=len, reverse=True)


def has_password(url: str) -> bool:
    """Whether ``url`` holds a password (in its user part or as a parameter)."""
    return bool(_passwords(url)) or shown_url(url) != url


def shown_url(url: str) -> str:
    """``url`` without its password: ``postgresql://feeds@db/feeds`` for
    ``postgresql://feeds:secret@db/feeds``, and no ``password=`` parameter. Any text is
    taken (what does not look like a URL is returned as it is)."""
    found = _PARTS.fullmatch(url)
    if found is None:
        return url
    netloc = found["netloc"]
    user, at, hosts = netloc.rpartition("@")
    if at:
        netloc = f"{user.partition(':')[0]}@{hosts}"
    path, mark, query = found["rest"].partition("?")
    if mark:
        query, hash_mark, fragment = query.partition("#")
        kept = "&".join(p for p in query.split("&") if not _query_password(p))
        path += (f"?{kept}" if kept else "") + hash_mark + fragment
    return f"{found['scheme']}{netloc}{path}"


def hide_passwords(text: str, url: str) -> str:
    """``text`` (a driver's message about ``url``) with ``url``'s password left out:
    libpq quotes what it cannot read, a whole URL or a password with a stray ``%``."""
    for secret in _passwords(url):
        text = text.replace(secret, HIDDEN)
    return text


def is_url(text: str) -> bool:
    """Whether ``text`` is written as a URL (``scheme://…``), not a file's path."""
    return _PARTS.fullmatch(text) is not None


def not_a_url(url: str) -> str | None:
    """Why ``url`` is no URL at all (an unclosed ``[`` of an IPv6 address), or None."""
    try:
        urlsplit(url)
    except ValueError as exc:
        return str(exc)
    return None
