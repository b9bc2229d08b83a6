"""What a source's own HTTP settings (:mod:`feeds.core.source_http`) change in a request.

The settings belong to the source's *origin* (scheme, host and port of its configured
URL): its feed and its article pages there. A request, or a redirect hop, to any other
origin goes out with none of them, so credentials, cookies and custom headers never reach
another host (as browsers drop ``Authorization`` on a cross-origin redirect, Fetch
standard §4.4 step 13). The secret behind ``auth`` is read from the environment when the
request is made, so it is never kept in the config, the store or a log.
"""

from __future__ import annotations

import base64
import os
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from feeds.errors import FetchError
from feeds.types import SourceHTTP

__all__ = ["Origin", "SourceSettings", "origin", "private_headers"]

Origin = tuple[str, str, int]
_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin(url: str) -> Origin | None:
    """``(scheme, host, port)`` of an http(s) URL, the port made explicit; None otherwise."""
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        port = parts.port or _DEFAULT_PORTS.get(scheme)
    except ValueError:
        return None
    if scheme not in _DEFAULT_PORTS or not parts.hostname or port is None:
        return None
    return scheme, parts.hostname.lower(), port


@dataclass(frozen=True)
class SourceSettings:
    """A source's settings and the origin they are bound to."""

    source: str
    origin: Origin
    http: SourceHTTP

    def applies_to(self, url: str) -> bool:
        return origin(url) == self.origin


def settings_by_source(
    entries: tuple[tuple[str, str, SourceHTTP], ...],
) -> dict[str, SourceSettings]:
    """``FetchOptions.source_http`` as a lookup by source name (file:// sources have none)."""
    found: dict[str, SourceSettings] = {}
    for name, url, http in entries:
        bound = origin(url)
        if bound is not None:
            found[name] = SourceSettings(name, bound, http)
    return found


def private_headers(
    settings: SourceSettings, url: str, env: Mapping[str, str] | None = None
) -> list[tuple[bytes, bytes]]:
    """The headers a request to the source's origin gets on top of the usual ones
    (``User-Agent`` replaced when the source sets one).

    Raises :class:`FetchError`, naming the setting or the variable and never a value, when
    the variable named by ``auth`` is not set, or when a value holds a control character
    (no such header can be sent, and an error quoting it would put the secret in the
    source's record, ``feeds status`` and hook payloads)."""
    http = settings.http
    env = os.environ if env is None else env
    headers = [
        (name.encode(), _value(value, f"header {name}", url)) for name, value in http.headers
    ]
    if http.user_agent is not None:
        headers.append((b"User-Agent", _value(http.user_agent, "user_agent", url)))
    if http.cookie is not None:
        headers.append((b"Cookie", _value(http.cookie, "cookie", url)))
    if http.auth is not None:
        secret = _secret(env, http.auth.env_name, url)
        if http.auth.type == "bearer":
            headers.append((b"Authorization", b"Bearer " + secret.encode()))
        else:
            user = _value(http.auth.username or "", "auth.username", url)
            pair = user + b":" + secret.encode()
            headers.append((b"Authorization", b"Basic " + base64.b64encode(pair)))
    return headers


def _has_control(text: str) -> bool:
    """Whether ``text`` holds a control character other than HTAB, which no header field
    value may hold (RFC 9110 §5.5)."""
    return any((c < " " and c != "\t") or c == "\x7f" for c in text)


def _value(text: str, what: str, url: str) -> bytes:
    if _has_control(text):
        raise FetchError(url, f"{what} holds a control character: not sent (value not shown)")
    return text.encode()


def _secret(env: Mapping[str, str], name: str, url: str) -> str:
    """The secret in variable ``name``, its surrounding white space (a file's trailing
    newline) stripped."""
    raw = env.get(name)
    secret = raw.strip() if raw is not None else ""
    if not secret:
        state = "is not set" if raw is None else "is empty"
        raise FetchError(url, f"auth: the environment variable {name} {state}")
    if any(unicodedata.category(c) == "Cc" for c in secret):  # HTAB too: not in a secret
        raise FetchError(
            url,
            f"auth: the environment variable {name} holds a control character:"
            " not sent (value not shown)",
        )
    return secret


def merge_headers(
    base: list[tuple[bytes, bytes]], extra: list[tuple[bytes, bytes]]
) -> list[tuple[bytes, bytes]]:
    """``base`` with ``extra`` added; a name in both takes ``extra``'s value."""
    replaced = {name.lower() for name, _ in extra}
    return [h for h in base if h[0].lower() not in replaced] + extra
