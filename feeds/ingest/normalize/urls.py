"""Links: URLs read as a browser reads them, resolved against a base, tracking parameters
removed; canonical links and WordPress post ids."""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import SplitResult, unquote, urlunsplit

from feeds.core.text import _legal
from feeds.ingest.urljoin import plain_absolute, urljoin, urlsplit


def _host(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


# What a browser removes from a URL before it reads it (the WHATWG URL standard, "basic URL
# parser"): C0 controls and spaces at both ends, tabs and newlines anywhere.
_URL_ENDS = "".join(map(chr, range(0x21)))

_URL_TAB_OR_NEWLINE = re.compile("[\t\n\r]")

# ASCII characters a URL may not hold as they are: a browser sends them percent-encoded.
_URL_UNSAFE = re.compile(r'[ "<>`{}|\\^]')


# A "%" that begins no percent-encoded octet ("100%-off", "50%.jpg").
_STRAY_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


def _escaped_percents(url: str) -> str:
    """``url`` with each stray ``%`` written ``%25``, the octet it stands for.

    A browser opens ``/sale-100%-off/`` as written, but no such URL is a URI (RFC 3986
    §2.1): the publishing checks refused it, and the entry was published with no link at
    all; in a body, the W3C Feed Validator calls it an invalid URI."""
    return _STRAY_PERCENT.sub("%25", url) if "%" in url else url


def _browser_url(url: str) -> str:
    """``url`` as a browser reads it, with no character that XML forbids left in it.

    ``" \x0e javascript:x"`` is the ``javascript:`` URL it is to a browser; the other
    control characters go too (lxml refuses them in an attribute), and spaces, quotes,
    angle brackets and the like are percent-encoded, as a browser sends them; so is a stray
    ``%`` (see :func:`_escaped_percents`).
    """
    url = _URL_TAB_OR_NEWLINE.sub("", url.strip(_URL_ENDS))
    url = _escaped_percents(_legal(url).strip())
    return _URL_UNSAFE.sub(lambda m: f"%{ord(m.group()):02X}", url)


_browser_base = lru_cache(maxsize=64)(_browser_url)  # a document's entries share a base


def _plain(url: str) -> bool:
    """A plain absolute URL (:func:`plain_absolute`) with no stray ``%``."""
    return plain_absolute(url) and ("%" not in url or _STRAY_PERCENT.search(url) is None)


def _absolute_split(url: str, base_url: str | None) -> tuple[str, SplitResult] | None:
    """Resolve ``url`` against ``base_url``, with its parts; ``None`` when it stays relative."""
    if not _plain(url):  # a plain one is read by a browser as it is written
        url = _browser_url(url)
    if base_url:
        try:
            base = base_url if _plain(base_url) else _browser_base(base_url)
            url = urljoin(base, url)
        except ValueError:
            return None
    if url.startswith("//"):
        url = "https:" + url
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme:
        return url, parts
    return None


# --- links --------------------------------------------------------------------------------

# Dropped query parameters (compared case-insensitively). Generic names such as ``ref``,
# ``source`` or ``from`` are kept: many sites use them for real content.
_TRACKING_PARAMS = frozenset(
    {
        *("fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid"),
        *("ttclid", "li_fat_id", "igshid", "mc_cid", "mc_eid", "_hsenc", "_hsmi", "mkt_tok"),
        *("ref_src", "ref_url", "spm", "_ga", "_gl", "oly_anon_id", "oly_enc_id", "vero_id"),
        *("wickedid", "rb_clickid", "s_cid"),
    }
)

_DEFAULT_PORTS = {"http": 80, "https": 443}


def _is_tracking(param: str) -> bool:
    name = unquote(param.split("=", 1)[0]).strip().lower()
    return name.startswith("utm_") or name in _TRACKING_PARAMS


def _without_tracking(url: str) -> str:
    """Drop tracking parameters from an http(s) URL, keeping everything else (fragment too)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.scheme.lower() not in _DEFAULT_PORTS or not parts.query:
        return url
    return urlunsplit(parts._replace(query=_kept_query(parts.query)))


def _kept_query(query: str) -> str:
    """An http(s) URL's query without its tracking parameters."""
    return "&".join(p for p in query.split("&") if p and not _is_tracking(p))


def canonical_url(
    url: str, *, base_url: str | None = None, keep_fragment: bool = False
) -> str | None:
    """Return ``url`` in canonical form, or ``None`` when it is not an http(s) URL.

    Resolved against ``base_url``; scheme and host lower-cased; default port, fragment, empty
    query parameters and tracking parameters (``utm_*``, ``fbclid``, ``gclid``, …) dropped; the
    other parameters kept in their order and encoding; an empty path becomes ``/``.
    ``keep_fragment`` keeps the fragment (see :mod:`feeds.ingest.normalize.fragments`).
    """
    resolved = _absolute_split(_legal(url), base_url)
    if resolved is None:
        return None
    parts = resolved[1]
    try:
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    if scheme not in _DEFAULT_PORTS or not host or _SPACE.search(host):
        return None
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = host
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc = f"{host}:{port}"
    userinfo = parts.netloc.rpartition("@")[0] if "@" in parts.netloc else ""
    if userinfo:
        netloc = f"{userinfo}@{netloc}"
    query = _kept_query(parts.query) if parts.query else ""
    fragment = parts.fragment if keep_fragment else ""
    return urlunsplit((scheme, netloc, parts.path or "/", query, fragment))


# White space as str.isspace() knows it (re's \s for str patterns is the same table), found
# in one C call where a generator over the host's characters cost 4,000 instructions.
_SPACE = re.compile(r"\s")

_POST_PARAM = re.compile(r"^p=0*([1-9][0-9]{0,18})$")


def post_id(url: str | None) -> str | None:
    """Return the WordPress post id of ``url`` as ``"host?p=123"``, else ``None``.

    Accepts links and GUIDs of the form ``https://host/?p=123`` (also ``/index.php?p=123`` and
    sub-folder installs, whose folder is kept: ``"host/blog?p=123"``); the host is kept as
    written (lower-cased), the scheme and other parameters do not matter, leading zeros are dropped.
    """
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").lower().rstrip(".")
    except ValueError:
        return None
    if parts.scheme.lower() not in _DEFAULT_PORTS or not host:
        return None
    path = parts.path
    if path.endswith("/index.php"):
        path = path[: -len("index.php")]
    if path and not path.endswith("/"):
        return None
    ids = [m.group(1) for p in parts.query.split("&") if (m := _POST_PARAM.match(p))]
    if len(ids) != 1:
        return None
    return f"{host}{path.rstrip('/')}?p={ids[0]}"
