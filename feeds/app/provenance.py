"""Provenance of a story: ``feeds explain`` and ``feeds drop``.

A story (one ``entry_id``) has one stored copy per source that carried it. Its
explanation lists every copy (source, first seen, published, the rule and the
similarity scores that merged it) and, for each output, the copy published
there and why. Dropping a story writes a tombstone: no copy of it, present or
future, is published again, because every later copy joins the same entry id
(by exact key or as a near copy) and the tombstone hides the entry id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from feeds.config import Config, OutputConfig
from feeds.core import dedupe
from feeds.core.uri import as_iri
from feeds.ingest import normalize
from feeds.run.filtering import has_rules, output_verdict
from feeds.store import StoredCopy
from feeds.store.protocol import ProvenanceStore, PublishState
from feeds.types import DedupeOptions


@dataclass(frozen=True)
class OutputChoice:
    """The copy an output publishes for the story (``source`` None: none of its sources)."""

    output: str
    source: str | None
    why: str


@dataclass(frozen=True)
class Explanation:
    """Everything ``feeds explain`` says about one story. Datetimes are UTC."""

    query: str
    entry_id: str
    dropped_at: datetime | None
    copies: tuple[StoredCopy, ...]
    outputs: tuple[OutputChoice, ...]
    #: The index in ``copies`` of the story's first copy, by the rule the publisher settles
    #: it with (:func:`~feeds.core.dedupe.settle_first_copy`), not by the order of saving;
    #: None: no live copy was first seen with it (retention deleted its body).
    first: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "entry_id": self.entry_id,
            "dropped_at": self.dropped_at.isoformat() if self.dropped_at else None,
            "copies": [
                {
                    "source": c.source,
                    "title": c.title,
                    "link": c.link,
                    "guid": c.guid,
                    "key": c.key,
                    "first_seen": c.first_seen.isoformat(),
                    "published": c.published.isoformat(),
                    "updated": c.updated.isoformat(),
                    "updates": c.updates,
                    "words": c.words,
                    "merged_reason": c.merged_reason,
                    "first_copy": i == self.first,
                    "expired": c.expired.isoformat() if c.expired else None,
                    "scores": dict(c.scores),
                    "rules": list(c.rules),
                }
                for i, c in enumerate(self.copies)
            ],
            "outputs": [
                {"output": o.output, "published_copy": o.source, "why": o.why} for o in self.outputs
            ],
        }

    def lines(self) -> list[str]:
        """A human-readable explanation."""
        first = self.copies[self.first if self.first is not None else 0]
        out = [f"entry {self.entry_id}", f"title: {first.title}"]
        if self.dropped_at is not None:
            out.append(f"DROPPED at {self.dropped_at:%Y-%m-%d %H:%M} UTC: never published again")
        out.append(f"copies: {len(self.copies)}")
        for i, c in enumerate(self.copies):
            out.append(
                f"  - {c.source}: first seen {c.first_seen:%Y-%m-%d %H:%M},"
                f" published {c.published:%Y-%m-%d %H:%M}, {c.words} words"
                + (f", {c.updates} update(s)" if c.updates else "")
                + (f", body deleted by retention {c.expired:%Y-%m-%d}" if c.expired else "")
            )
            out.append(f"    {c.title}")
            if c.link:
                out.append(f"    {c.link}")
            out.append(f"    {merge_text(c, None if self.first is None else i == self.first)}")
            if c.rules:
                out.append(f"    rewritten by: {'; '.join(c.rules)}")
        for o in self.outputs:
            if o.source is None:
                out.append(f"output {o.output}: {o.why}")
            else:
                out.append(f"output {o.output}: publishes the {o.source} copy ({o.why})")
        return out


def merge_text(c: StoredCopy, first: bool | None = None) -> str:
    """Why a copy belongs to its story, in words. ``first``: whether it is the story's
    first copy by the rule (None: as saved). Of copies one run saved together, the one
    saved first has no merge reason, but the rule may make another the first copy (the
    story carries its id): that one is the first copy, the other was found with it."""
    if first and c.merged_reason is not None:
        return "first copy of the story (of the copies one run found together)"
    if first is False and c.merged_reason is None:
        return "found together with the story's first copy, in the same run"
    if c.merged_reason is None:
        kept = c.scores.get("kept_apart")
        if kept:
            return f"first copy of the story; kept apart: {kept}"
        return "first copy of the story"
    s: Mapping[str, object] = c.scores
    if not s:
        return f"merged: {c.merged_reason}"
    return (
        f"merged: {c.merged_reason} with the {s.get('copy_source')} copy"
        f" (body resemblance {s.get('body')}, "
        + (f"containment {s['containment']}, " if "containment" in s else "")
        + f"title {s.get('title')},"
        f" {s.get('hours')} h apart, numbers agree {s.get('numbers')},"
        f" names agree {s.get('names')})"
    )


def resolve(store: ProvenanceStore, query: str) -> str | None:
    """The entry id ``query`` names: an entry id, a GUID, or any copy's link (canonical or
    not), also as a published document writes it (non-ASCII characters percent-encoded)."""
    query = query.strip()
    tried: set[str] = set()
    for form in (query, as_iri(query)):
        for candidate in (form, normalize.canonical_url(form)):
            if candidate and candidate not in tried:
                tried.add(candidate)
                found = store.resolve(candidate)
                if found is not None:
                    return found
    return None


class ExplainStore(ProvenanceStore, PublishState, Protocol):
    """What ``feeds explain`` reads: the copies, and their text for the filter rules."""


def explain(
    store: ExplainStore,
    query: str,
    options: DedupeOptions,
    outputs: Sequence[OutputConfig],
    *,
    rules: Rules | None = None,
) -> Explanation | None:
    """Explain the story ``query`` names, or None when no stored copy matches it.

    ``rules`` (the config and the time ages count from) adds what the filter rules say.
    """
    entry_id = resolve(store, query)
    if entry_id is None:
        return None
    copies = store.copies(entry_id)
    if not copies:
        return None
    dropped = store.dropped(entry_id)
    settled = _settled(copies)
    choices = []
    for output in outputs:
        mine = [(i, c) for i, c in enumerate(copies) if c.source in output.sources]
        if dropped is not None:
            choices.append(OutputChoice(output.name, None, "dropped: not published"))
            continue
        if not mine:
            choices.append(OutputChoice(output.name, None, "none of its sources carry it"))
            continue
        live = [(i, c) for i, c in mine if c.expired is None]
        if not live:
            choices.append(OutputChoice(output.name, None, "retention deleted its body"))
            continue
        mine, blocked = _filtered(store, entry_id, live, output, rules)
        if not mine:
            choices.append(OutputChoice(output.name, None, blocked or "blocked"))
            continue
        index, why = dedupe.choose_copy([settled[i] for i, _ in mine], options)
        choices.append(OutputChoice(output.name, mine[index][1].source, why))
    first = next((i for i, info in settled.items() if not info.merged), None)
    return Explanation(query, entry_id, dropped, tuple(copies), tuple(choices), first)


def _settled(copies: Sequence[StoredCopy]) -> dict[int, dedupe.CopyInfo]:
    """What choosing the published copy looks at, of each live copy by its place in
    ``copies``, the story's first copy settled among all of them (as the publisher does)."""
    live = [i for i, c in enumerate(copies) if c.expired is None]
    infos = dedupe.settle_first_copy([_copy_info(i, copies[i]) for i in live])
    return dict(zip(live, infos, strict=True))


def _copy_info(order: int, copy: StoredCopy) -> dedupe.CopyInfo:
    """What choosing the published copy looks at, of a stored copy (the publisher's view)."""
    return dedupe.CopyInfo(
        copy.source,
        copy.published,
        copy.first_seen,
        copy.words,
        order,
        title=copy.title,
        merged=copy.merged_reason is not None,
        key=copy.key,
    )


@dataclass(frozen=True)
class Rules:
    """The filter rules ``feeds explain`` applies: the config's, ages counted from ``now``."""

    config: Config
    now: datetime


def _filtered(
    store: ExplainStore,
    entry_id: str,
    mine: list[tuple[int, StoredCopy]],
    output: OutputConfig,
    rules: Rules | None,
) -> tuple[list[tuple[int, StoredCopy]], str | None]:
    """The copies the rules let ``output`` publish, and why the first blocked one is."""
    if rules is None or not has_rules(rules.config, output):
        return mine, None
    kept: list[tuple[int, StoredCopy]] = []
    why: str | None = None
    for i, copy in mine:
        texts = store.stories([entry_id], [copy.source], rules.config.dedupe)
        if not texts:
            continue
        found = output_verdict(rules.config, output, texts[0], copy.source, rules.now)
        if found.blocked:
            why = why or f"{copy.source} copy {found.why()}"
        else:
            kept.append((i, copy))
    return kept, why


@dataclass(frozen=True)
class Dropped:
    """The result of ``feeds drop``: ``new`` is False when it was dropped before."""

    entry_id: str
    title: str
    copies: int
    new: bool


def drop(store: ProvenanceStore, query: str, now: datetime) -> Dropped | None:
    """Tombstone the story ``query`` names (inside the caller's lock); None when unknown."""
    entry_id = resolve(store, query)
    if entry_id is None:
        return None
    copies = store.copies(entry_id)
    with store.transaction():
        new = store.drop(entry_id, query, now)
    return Dropped(entry_id, copies[0].title if copies else "", len(copies), new)
