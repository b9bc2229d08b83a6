"""IRIs written as URIs: what a published document's ids and links must be (the W3C Feed
Validator checks them against RFC 2396). Pure: the config writes an output's address with
it, and publishing every link."""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit, urlunsplit

__all__ = ["FULL_URI_RE", "URI_RE", "as_uri"]

# What RFC 2396 lets a URI hold besides letters and digits: what the W3C Feed Validator
# checks ids and links against ("id must be a full and valid URL", "IRI found where URL
# expected", and hrefs too long for its IDNA trick).
_URI_CHARS = ";/?:@&=+$.-_!~*'()%,#"
URI_RE = re.compile(r"[0-9A-Za-z" + re.escape(_URI_CHARS) + r"]*")
# A full URL of those characters, as the validator checks RSS 2.0's links.
FULL_URI_RE = re.compile(r"[a-zA-Z][0-9a-zA-Z+.-]*:(//)?[0-9A-Za-z" + re.escape(_URI_CHARS) + "]+")


def as_uri(iri: str) -> str:
    """``iri`` with URI characters only (RFC 3987 §3.1): an http(s) host in IDNA, the other
    characters outside RFC 2396 percent-encoded as UTF-8. The same IRI always gives the
    same URI, so an id stays stable."""
    if URI_RE.fullmatch(iri):
        return iri
    parts = urlsplit(iri)
    if parts.scheme.lower() not in ("http", "https"):
        return quote(iri, safe=_URI_CHARS)
    netloc = parts.netloc
    if not netloc.isascii():
        host = parts.hostname or ""
        try:
            ascii_host = host.encode("idna").decode("ascii")
            port = f":{parts.port}" if parts.port is not None else ""
        except (UnicodeError, ValueError):
            netloc = quote(netloc, safe=_URI_CHARS + "[]")
        else:
            userinfo = netloc.rpartition("@")[0]
            netloc = (f"{quote(userinfo, safe=_URI_CHARS)}@" if userinfo else "") + (
                ascii_host + port
            )
    path, query, fragment = (quote(p, safe=_URI_CHARS) for p in parts[2:])
    return urlunsplit((parts.scheme, netloc, path, query, fragment))
