"""Filter rules: which stored entries are published. Pure: no I/O, no clock (``now`` is given).

A rule is written ``FIELD=PATTERN``: ``title=press release`` (plain words: whole words,
any whitespace between them, case-insensitive), ``link=/\\/pr\\//`` (a regular expression
between slashes, case-insensitive; ``/…/c`` is case-sensitive). Fields are read from an
entry through :data:`FIELDS`, so a rule works on a parsed entry, a stored one, or anything
else that carries those attributes. ``max_age`` blocks entries published longer ago.

Rules come in layers (:class:`RuleSet`): ``[filters]`` (global), a source's, an output's.
:func:`verdict` applies them in Miniflux's order: global block, source block, global keep,
source keep; an output's block and keep rules then decide for that output alone. A keep
rule anywhere means "only what some keep rule of that evaluation matches".
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, Protocol

__all__ = [
    "FIELDS",
    "Filtered",
    "Rule",
    "RuleSet",
    "Verdict",
    "parse_rule",
    "verdict",
]

Action = Literal["block", "keep"]


class Filtered(Protocol):
    """What a rule reads: a :class:`~feeds.types.CleanEntry` or a stored entry."""

    @property
    def title(self) -> str: ...

    @property
    def body_text(self) -> str: ...

    @property
    def link(self) -> str | None: ...

    @property
    def author(self) -> str | None: ...

    @property
    def categories(self) -> tuple[str, ...]: ...

    @property
    def published(self) -> datetime | None: ...


def _one(value: str | None) -> tuple[str, ...]:
    return (value,) if value else ()


def _extra(name: str) -> Callable[[Filtered], tuple[str, ...]]:
    """An attribute an entry may carry or not (media URLs, enclosures): strings or objects
    with a ``url``."""

    def read(entry: Filtered) -> tuple[str, ...]:
        values = getattr(entry, name, ()) or ()
        return tuple(v if isinstance(v, str) else str(getattr(v, "url", "")) for v in values)

    return read


#: How each field is read from an entry: every string a rule on it is tried against.
FIELDS: dict[str, Callable[[Filtered], tuple[str, ...]]] = {
    "title": lambda e: _one(e.title),
    "body": lambda e: _one(e.body_text),
    "text": lambda e: (*_one(e.title), *_one(e.body_text)),
    "link": lambda e: _one(e.link),
    "url": lambda e: _one(e.link),
    "author": lambda e: _one(e.author),
    "category": lambda e: tuple(e.categories),
    "enclosure": _extra("enclosures"),
    "any": lambda e: (
        *_one(e.title),
        *_one(e.body_text),
        *_one(e.link),
        *_one(e.author),
        *e.categories,
    ),
}


@dataclass(frozen=True)
class Rule:
    """One rule: ``text`` as written, ``where`` its config key (``filters.block[0]``)."""

    action: Action
    field: str
    pattern: re.Pattern[str] | None
    text: str
    where: str
    max_age: timedelta | None = None

    def matches(self, entry: Filtered, now: datetime) -> bool:
        if self.max_age is not None:
            published = entry.published
            return published is not None and published < now - self.max_age
        assert self.pattern is not None
        return any(self.pattern.search(value) for value in FIELDS[self.field](entry))

    def describe(self) -> str:
        """``filters.block[0] (title=press release)``: where and what, for ``feeds explain``."""
        return f"{self.where} ({self.text})"


def parse_rule(text: str, action: Action, where: str) -> Rule:
    """Read ``FIELD=PATTERN``; :class:`ValueError` says what is wrong with it."""
    field, sep, pattern = text.partition("=")
    field = field.strip().lower()
    if not sep or field not in FIELDS:
        raise ValueError(
            f"{text!r}: write FIELD=PATTERN, FIELD one of {', '.join(FIELDS)}"
            " (e.g. 'title=press release' or 'link=/\\/pr\\//')"
        )
    pattern = pattern.strip()
    if not pattern:
        raise ValueError(f"{text!r}: the pattern is empty")
    return Rule(action, field, compile_pattern(pattern), text, where)


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """``/regex/`` (``/regex/c``: case-sensitive) or plain words, matched as whole words."""
    if len(pattern) >= 3 and pattern.startswith("/") and pattern.endswith(("/", "/c")):
        sensitive = pattern.endswith("/c")
        body = pattern[1:-2] if sensitive else pattern[1:-1]
        try:
            return re.compile(body, 0 if sensitive else re.IGNORECASE)
        except re.error as exc:
            raise ValueError(f"{pattern!r}: not a valid regular expression ({exc})") from exc
    words = r"\s+".join(re.escape(word) for word in pattern.split())
    return re.compile(rf"(?<!\w){words}(?!\w)", re.IGNORECASE)


def age_rule(max_age: timedelta, where: str, text: str) -> Rule:
    """The block rule of ``max_age``."""
    return Rule("block", "published", None, f"max_age={text}", where, max_age=max_age)


@dataclass(frozen=True)
class RuleSet:
    """One layer's rules: block rules (``max_age`` among them) and keep rules."""

    block: tuple[Rule, ...] = ()
    keep: tuple[Rule, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.block or self.keep)

    def ages(self) -> tuple[timedelta, ...]:
        return tuple(r.max_age for r in self.block if r.max_age is not None)


@dataclass(frozen=True)
class Verdict:
    """Whether an entry is published; ``rule`` says which rule blocked or kept it."""

    blocked: bool
    rule: str | None = None

    def why(self) -> str:
        if self.rule is None:
            return "no filter rule applies"
        return f"blocked by {self.rule}" if self.blocked else f"kept by {self.rule}"


NOT_KEPT = "no keep rule matched"


def verdict(entry: Filtered, layers: Sequence[RuleSet], now: datetime) -> Verdict:
    """Block rules of every layer in order, then keep rules of every layer in order.

    ``layers`` is ``(global, source)`` for the store-wide decision and ``(output,)`` for an
    output's own; the first matching block rule blocks; when any layer has keep rules, the
    first matching one keeps the entry, and none matching blocks it.
    """
    for layer in layers:
        for rule in layer.block:
            if rule.matches(entry, now):
                return Verdict(True, rule.describe())
    keeps = [rule for layer in layers for rule in layer.keep]
    if not keeps:
        return Verdict(False)
    for rule in keeps:
        if rule.matches(entry, now):
            return Verdict(False, rule.describe())
    where = ", ".join(dict.fromkeys(rule.where.rsplit("[", 1)[0] for rule in keeps))
    return Verdict(True, f"{where} ({NOT_KEPT})")


def rule_texts(rules: Iterable[Rule]) -> list[str]:
    """The rules as written (for fingerprints and messages)."""
    return [rule.text for rule in rules]
