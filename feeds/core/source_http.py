"""Read a source's own HTTP settings (``headers``, ``user_agent``, ``cookie``, ``auth``,
``proxy``, ``verify``, ``http2`` in its ``[[sources]]`` table) into
:class:`~feeds.types.SourceHTTP`.

Pure: what it needs to know of the machine (is a package installed, is a file there) is
passed in by the config loader.

Secrets never live in the config or the store: ``auth`` names the environment variable that
holds the token or password (``auth = { type = "bearer", token_env = "NEWS_TOKEN" }``), read
when a request is sent. :meth:`~feeds.types.SourceHTTP.describe` says which settings a
source has, never their values. What the fetcher does with them is in
:mod:`feeds.ingest.http_settings`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from feeds.types import SourceAuth, SourceHTTP

__all__ = ["HTTP_KEYS", "Machine", "header_text", "parse_source_http"]

#: The keys of a ``[[sources]]`` table that this module reads.
HTTP_KEYS = frozenset({"headers", "user_agent", "cookie", "auth", "proxy", "verify", "http2"})

_PROXY_SCHEMES = ("http", "https", "socks5")
# Headers the fetcher owns: a source may not replace them (conditional GET, decoding, framing).
_RESERVED_HEADERS = frozenset(
    {
        "accept-encoding",
        "if-none-match",
        "if-modified-since",
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
    }
)


# A field name (RFC 9110 §5.1): ASCII only, as the fetcher sends it ("Xé" would pass
# str.isalnum and fail every fetch instead of the config).
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")

Problem = Callable[[str, str], None]


@dataclass(frozen=True)
class Machine:
    """What the settings depend on outside the file: ``has_module("h2")``, ``is_file(path)``,
    and the folder relative paths resolve against."""

    has_module: Callable[[str], bool]
    is_file: Callable[[Path], bool]
    base_dir: Path


def parse_source_http(
    item: Mapping[str, Any], where: str, problem: Problem, machine: Machine
) -> SourceHTTP:
    """Read the HTTP keys of one ``[[sources]]`` table; report each bad one to ``problem``."""
    return SourceHTTP(
        headers=_headers(item.get("headers"), where, problem),
        user_agent=header_text(item, "user_agent", where, problem),
        cookie=header_text(item, "cookie", where, problem),
        auth=_auth(item.get("auth"), f"{where}.auth", problem),
        proxy=_proxy(item.get("proxy"), f"{where}.proxy", problem, machine),
        verify=_verify(item.get("verify", True), f"{where}.verify", problem, machine),
        http2=_http2(item.get("http2", False), f"{where}.http2", problem, machine),
    )


def header_text(item: Mapping[str, Any], key: str, where: str, problem: Problem) -> str | None:
    """``item[key]`` as a header value (None when absent); a value httpx would refuse to send
    (a control character but a tab) is ``where.key``'s problem now, not every fetch's error."""
    value = item.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not _header_safe(value):
        problem(f"{where}.{key}", "must be a string on one line, without control characters")
        return None
    return value


def _headers(value: Any, where: str, problem: Problem) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    if not isinstance(value, dict):
        problem(f"{where}.headers", 'must be a table, e.g. { "X-Api-Key" = "..." }')
        return ()
    headers: list[tuple[str, str]] = []
    for name, text in value.items():
        path = f"{where}.headers.{name}"
        if not _TOKEN.fullmatch(name):
            problem(path, "not a valid header name")
        elif name.lower() in _RESERVED_HEADERS:
            problem(path, "is set by feeds itself")
        elif name.lower() in ("authorization", "cookie", "user-agent"):
            problem(path, "use the source's auth, cookie or user_agent key")
        elif not isinstance(text, str) or not _header_safe(text):
            problem(path, "must be a string on one line, without control characters")
        else:
            headers.append((name, text))
    return tuple(headers)


def _auth(value: Any, where: str, problem: Problem) -> SourceAuth | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        problem(where, 'must be a table, e.g. { type = "bearer", token_env = "NEWS_TOKEN" }')
        return None
    kind = value.get("type")
    allowed = {"bearer": {"type", "token_env"}, "basic": {"type", "username", "password_env"}}
    if kind not in allowed:
        problem(f"{where}.type", f'must be "basic" or "bearer", not {kind!r}')
        return None
    for key in value:
        if key not in allowed[kind]:
            problem(f"{where}.{key}", f"unknown key for {kind} auth")
    if any(k in value for k in ("token", "password")):
        problem(where, "secrets are read from the environment: name the variable (*_env)")
    env_key = "token_env" if kind == "bearer" else "password_env"
    env = value.get(env_key)
    if not isinstance(env, str) or not env.isidentifier():
        problem(f"{where}.{env_key}", "must name an environment variable, e.g. NEWS_TOKEN")
        return None
    if kind == "bearer":
        return SourceAuth(type="bearer", token_env=env)
    username = value.get("username")
    if not isinstance(username, str) or ":" in username or not _header_safe(username):
        problem(f"{where}.username", "must be a string without ':'")
        return None
    return SourceAuth(type="basic", username=username, password_env=env)


def _proxy(value: Any, where: str, problem: Problem, machine: Machine) -> str | None:
    if value is None:
        return None
    try:
        parts = urlsplit(value) if isinstance(value, str) else None
        _ = parts and parts.port  # out of range (it would wrap around) or not a number
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in _PROXY_SCHEMES or not parts.hostname:
        problem(
            where,
            "must be an http://, https:// or socks5:// URL with a host"
            " (and a port from 0 to 65535)",
        )
        return None
    if parts.scheme == "socks5" and not machine.has_module("socksio"):
        problem(where, "a socks5 proxy needs the socksio package: pip install 'feeds[socks]'")
        return None
    assert isinstance(value, str)
    return value


def _verify(value: Any, where: str, problem: Problem, machine: Machine) -> bool | str:
    if isinstance(value, bool):
        return value
    if not isinstance(value, str):
        problem(where, "must be true, false or the path of a CA bundle")
        return True
    path = (machine.base_dir / value).resolve()
    if not machine.is_file(path):
        problem(where, f"{str(path)!r}: no such CA bundle")
        return True
    return str(path)


def _http2(value: Any, where: str, problem: Problem, machine: Machine) -> bool:
    if not isinstance(value, bool):
        problem(where, "must be true or false")
        return False
    if value and not machine.has_module("h2"):
        problem(where, "HTTP/2 needs the h2 package: pip install 'feeds[http2]'")
        return False
    return value


def _header_safe(text: str) -> bool:
    """No control character but HTAB, as in a header field value (RFC 9110 §5.5)."""
    return not any((c < " " and c != "\t") or c == "\x7f" for c in text)
