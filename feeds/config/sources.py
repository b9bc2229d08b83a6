"""The ``[[sources]]`` tables: names, URLs and paths, source types, selectors, full text."""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from feeds.config.checker import _NAME_RE, _Checker
from feeds.config.filters import FILTER_KEYS, rule_set
from feeds.config.model import FullText, SourceConfig, SourceType
from feeds.config.rewrite import SOURCE_KEYS, source_rules
from feeds.core.source_http import HTTP_KEYS, Machine, parse_source_http
from feeds.core.uri import url2pathname


def _sources(checker: _Checker, raw: Any, base_dir: Path) -> list[SourceConfig]:
    sources: list[SourceConfig] = []
    if raw is None:
        checker.problem("sources", "at least one [[sources]] table is required")
        return sources
    if not isinstance(raw, list):
        checker.problem("sources", "must be an array of tables ([[sources]])")
        return sources
    seen: set[str] = set()
    for i, item in enumerate(raw):
        where = f"sources[{i}]"
        if not isinstance(item, dict):
            checker.problem(where, "must be a table")
            continue
        source = _source(checker, item, where, base_dir, seen)
        if source is not None:
            sources.append(source)
    return sources


def _source(
    checker: _Checker, item: dict[str, Any], where: str, base_dir: Path, seen: set[str]
) -> SourceConfig | None:
    """One ``[[sources]]`` table (``seen``: the names so far, this one added)."""
    checker.keys(
        item,
        where,
        {"name", "url", "title", "full_text", "type", "selector", "interval"}
        | HTTP_KEYS
        | SOURCE_KEYS
        | FILTER_KEYS,
    )
    rules, page_rules = source_rules(checker, item, where)
    name = checker.get(item, where, "name", str, None)
    url = checker.get(item, where, "url", str, None)
    title = checker.get(item, where, "title", str, None)
    full_text = _full_text_mode(checker, item, where)
    kind = _source_type(checker, item, where)
    selector = _selector(checker, item, where, kind)
    adaptive = item.get("interval") == "auto"
    interval = None if adaptive else checker.duration(item, where, "interval", None)
    if name is None:
        checker.problem(f"{where}.name", "is required")
    elif not _NAME_RE.match(name):
        checker.problem(f"{where}.name", f"{name!r}: use letters, digits, '-', '_' or '.' (max 64)")
    elif name in seen:
        checker.problem(f"{where}.name", f"{name!r} is used by another source")
    if url is None:
        checker.problem(f"{where}.url", "is required")
    if name is None or url is None:
        return None
    seen.add(name)
    resolved = _source_url(checker, url, base_dir, where)
    if resolved is None:
        return None
    return SourceConfig(
        name=name,
        url=resolved,
        title=title,
        full_text=full_text,
        type=kind,
        selector=selector,
        interval=interval,
        adaptive=adaptive,
        http=parse_source_http(item, where, checker.problem, _machine(base_dir)),
        rules=rules,
        page_rules=page_rules,
        filters=rule_set(checker, item, where),
    )


def _machine(base_dir: Path) -> Machine:
    return Machine(
        has_module=lambda name: importlib.util.find_spec(name) is not None,
        is_file=Path.is_file,
        base_dir=base_dir,
    )


def _full_text_mode(checker: _Checker, item: Mapping[str, Any], where: str) -> FullText:
    value = item.get("full_text", "auto")
    if isinstance(value, bool):
        return value
    if value == "auto":
        return "auto"
    checker.problem(f"{where}.full_text", f'must be "auto", true or false, not {value!r}')
    return "auto"


def _source_type(checker: _Checker, item: Mapping[str, Any], where: str) -> SourceType:
    value = item.get("type", "feed")
    if value == "feed":
        return "feed"
    if value == "html":
        return "html"
    checker.problem(f"{where}.type", f'must be "feed" or "html", not {value!r}')
    return "feed"


def _selector(
    checker: _Checker, item: Mapping[str, Any], where: str, kind: SourceType
) -> str | None:
    selector = checker.get(item, where, "selector", str, None)
    if selector is None:
        return None
    if kind != "html":
        checker.problem(f"{where}.selector", 'is only used with type = "html"')
        return None
    problem = _selector_problem(selector)
    if problem is not None:
        checker.problem(f"{where}.selector", f"{selector!r}: {problem}")
        return None
    return selector


def _selector_problem(selector: str) -> str | None:
    """Why ``selector`` is not a usable CSS selector, or ``None`` when it is."""
    from lxml.cssselect import CSSSelector, SelectorError  # only when a selector is set

    try:
        CSSSelector(selector)
    except SelectorError as exc:
        return f"not a valid CSS selector ({exc})"
    return None


def _source_url(checker: _Checker, url: str, base_dir: Path, where: str) -> str | None:
    """The source's ``url`` resolved (:func:`resolve_url`), or None with the problem noted."""
    resolved = resolve_url(url, base_dir)
    if resolved is None:
        checker.problem(
            f"{where}.url",
            f"{url!r}: must be an http(s) URL (with a port from 0 to 65535), a file:// URL"
            " or a path",
        )
        return None
    if urlsplit(resolved).scheme in ("http", "https") and _CONTROL_RE.search(resolved):
        # Never fetched ("invalid URL: Invalid non-printable ASCII character") on every
        # run, and shown raw by `feeds sources`: a TOML "\u001b" is an escape to a terminal.
        checker.problem(
            f"{where}.url",
            f"{url!r}: holds a control character (percent-encode it if it belongs there)",
        )
        return None
    if _has_userinfo(resolved):
        # never quoted: the part before "@" is a user name and password
        checker.problem(
            f"{where}.url",
            "holds a user name or password before '@': it would be shown and published with"
            ' the source\'s URL (and is not sent); use auth = { type = "basic", username ='
            ' "…", password_env = "…" }',
        )
        return None
    if resolved.startswith("file:") and Path(url2pathname(urlsplit(resolved).path)).is_dir():
        # Else every fetch failed with "is a directory, not a file", outputs written.
        checker.problem(f"{where}.url", f"{url!r} is a folder: name the feed's file in it")
        return None
    return resolved


_CONTROL_RE = re.compile("[\x00-\x1f\x7f-\x9f]")


def _has_userinfo(url: str) -> bool:
    """Whether an http(s) URL names a user (``http://ann:secret@host/``)."""
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and "@" in parts.netloc


def resolve_url(url: str, base_dir: Path) -> str | None:
    """Turn a config ``url`` into an absolute http(s) or file:// URL (None if unusable)."""
    url = url.strip()
    if not url:
        return None
    try:
        parts = urlsplit(url)
        _ = parts.port  # past 65535 it would wrap around when connecting: 74237 is 8701
    except ValueError:  # an unclosed IPv6 bracket, a port out of range or not a number
        return None
    if parts.scheme in ("http", "https"):
        return url if parts.netloc else None
    if parts.scheme == "file":
        return url if parts.path else None
    if parts.scheme and len(parts.scheme) > 1:
        return None
    return (base_dir / url).resolve().as_uri()
