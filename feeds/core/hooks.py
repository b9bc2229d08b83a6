"""Hooks: who is told what (``[[hooks]]`` in the config), and the pure parts of telling.

A hook fires on one ``event``:

- ``new_entries``: a source saved new entries (only the sources named in ``sources``, or
  read by the outputs named in ``outputs``; all sources when neither is set);
- ``source_failed``: a source failed ``after_errors`` times in a row (once per streak);
- ``source_retired``: a source was retired (HTTP 410).

It either POSTs the event as JSON to ``url``, signed with HMAC-SHA256 under the secret in
the environment variable ``secret_env`` (:func:`signature`), or runs ``command`` (an argv
list, no shell) with the JSON on its standard input.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal
from urllib.parse import urlsplit

__all__ = ["EVENTS", "HookConfig", "backoff", "parse_hooks", "signature"]

Event = Literal["new_entries", "source_failed", "source_retired"]
EVENTS: tuple[Event, ...] = ("new_entries", "source_failed", "source_retired")
KEYS = frozenset(
    {
        "name",
        "event",
        "url",
        "command",
        "secret_env",
        "sources",
        "outputs",
        "after_errors",
        "allow_private_addresses",
    }
)

#: The first retry waits this long, each next one twice as long, up to MAX_BACKOFF.
FIRST_BACKOFF = timedelta(seconds=30)
MAX_BACKOFF = timedelta(hours=1)


@dataclass(frozen=True)
class HookConfig:
    """One ``[[hooks]]`` table. Exactly one of ``url`` and ``command`` is set; ``sources``
    is the set of sources a ``new_entries`` hook listens to (empty: all)."""

    name: str
    event: Event
    url: str | None = None
    command: tuple[str, ...] = ()
    secret_env: str | None = None
    sources: frozenset[str] = frozenset()
    after_errors: int = 3
    allow_private_addresses: bool = False

    def listens_to(self, source: str) -> bool:
        return not self.sources or source in self.sources


def signature(secret: bytes, timestamp: int, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 of ``"<timestamp>." + body`` (the value of
    ``X-Feeds-Signature``; the timestamp is ``X-Feeds-Timestamp``)."""
    import hashlib  # here: a run that signs nothing never loads OpenSSL (see feeds.core.digest)
    import hmac

    mac = hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def backoff(attempts: int) -> timedelta:
    """How long to wait after the ``attempts``-th failed delivery (1, 2, …)."""
    delay: timedelta = FIRST_BACKOFF * (2 ** min(max(attempts - 1, 0), 20))
    return min(delay, MAX_BACKOFF)


Problem = Callable[[str, str], None]


def parse_hooks(
    raw: Any,
    problem: Problem,
    source_names: Sequence[str],
    output_sources: Mapping[str, Sequence[str]],
) -> tuple[HookConfig, ...]:
    """Read ``[[hooks]]``; ``output_sources`` maps each output to the sources it reads."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        problem("hooks", "must be an array of tables ([[hooks]])")
        return ()
    hooks: list[HookConfig] = []
    names: set[str] = set()
    for i, item in enumerate(raw):
        where = f"hooks[{i}]"
        if not isinstance(item, dict):
            problem(where, "must be a table")
            continue
        for key in item:
            if key not in KEYS:
                problem(
                    f"{where}.{key}", f"unknown key (expected one of: {', '.join(sorted(KEYS))})"
                )
        hook = _hook(item, where, problem, source_names, output_sources)
        if hook is None:
            continue
        if hook.name in names:
            problem(f"{where}.name", f"{hook.name!r} is used by another hook")
            continue
        names.add(hook.name)
        hooks.append(hook)
    return tuple(hooks)


def _hook(
    item: Mapping[str, Any],
    where: str,
    problem: Problem,
    source_names: Sequence[str],
    output_sources: Mapping[str, Sequence[str]],
) -> HookConfig | None:
    event = item.get("event")
    if event not in EVENTS:
        problem(f"{where}.event", f"must be one of {', '.join(EVENTS)}, not {event!r}")
        return None
    url, command = item.get("url"), item.get("command")
    if (url is None) == (command is None):
        problem(where, "needs exactly one of url and command")
        return None
    secret_env = item.get("secret_env")
    if url is not None:
        parts = urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            problem(f"{where}.url", "must be an absolute http(s) URL")
            return None
        if not isinstance(secret_env, str) or not secret_env.isidentifier():
            problem(f"{where}.secret_env", "must name the environment variable of the secret")
            return None
    if command is not None and (
        not isinstance(command, list)
        or not command
        or not all(isinstance(arg, str) and arg for arg in command)
    ):
        problem(f"{where}.command", 'must be a list of arguments, e.g. ["notify", "--json"]')
        return None
    sources = _sources(item, where, problem, source_names, output_sources)
    after = item.get("after_errors", 3)
    if isinstance(after, bool) or not isinstance(after, int) or after < 1:
        problem(f"{where}.after_errors", "must be an integer of at least 1")
        after = 3
    allow = item.get("allow_private_addresses", False)
    if not isinstance(allow, bool):
        problem(f"{where}.allow_private_addresses", "must be true or false")
        allow = False
    name = item.get("name", f"{event}-{where.removeprefix('hooks[').rstrip(']')}")
    if not isinstance(name, str) or not name:
        problem(f"{where}.name", "must be a string")
        return None
    return HookConfig(
        name=name,
        event=event,
        url=url,
        command=tuple(command or ()),
        secret_env=secret_env if isinstance(secret_env, str) else None,
        sources=sources,
        after_errors=after,
        allow_private_addresses=allow,
    )


def _sources(
    item: Mapping[str, Any],
    where: str,
    problem: Problem,
    source_names: Sequence[str],
    output_sources: Mapping[str, Sequence[str]],
) -> frozenset[str]:
    chosen: set[str] = set()
    for key, known in (("sources", source_names), ("outputs", list(output_sources))):
        value = item.get(key)
        if value is None:
            continue
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            problem(f"{where}.{key}", f"must be a list of {key[:-1]} names")
            continue
        for j, name in enumerate(value):
            if name not in known:
                problem(f"{where}.{key}[{j}]", f"no {key[:-1]} named {name!r}")
            elif key == "sources":
                chosen.add(name)
            else:
                chosen.update(output_sources[name])
    return frozenset(chosen)
