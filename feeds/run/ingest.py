"""Save one fetch's cleaned entries: batched reads, the pure decider, intents applied in order.

::

    guid trust | entry_keys | presence (one read for the fetch)
      | per entry: this source's copy? | kept apart? | exact match | near match (LSH
        candidates, then the lead, then cited links) | decide | tombstone | apply

An entry's lookups depend on what the entries before it were saved as (a story of this
fetch is never matched again; a retired key is not found), so the loop stays here; each
decision is a call into :mod:`feeds.core.decider`, and each intent is applied by
:func:`apply_intent` before the next entry is looked up.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Container, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from feeds.core import decider, dedupe
from feeds.core.decider import Found, Intent
from feeds.ingest.prepare import Prepared, cited_links
from feeds.store import Presence
from feeds.store.protocol import Storage
from feeds.types import Change, CleanEntry, DedupeOptions


def apply_intent(store: Storage, source: str, intent: Intent, now: datetime) -> None:
    """Save what ``intent`` says through the store's write methods (inside a transaction)."""
    if isinstance(intent, decider.DistrustGuids):
        store.set_guid_fallback(source, intent.reason)
    elif isinstance(intent, decider.KeepApart):
        if intent.distrust_guids:
            store.set_guid_fallback(source, decider.REUSED_GUIDS)
        store.retire_key(source, intent.key)
    elif isinstance(intent, decider.Update):
        store.update_copy(
            source,
            intent.keys,
            intent.entry,
            now=now,
            signature=intent.signature,
            body_key=intent.body_key,
        )
    elif isinstance(intent, decider.Insert | decider.Merge):
        store.insert_copy(
            source,
            intent.keys,
            intent.entry,
            entry_id=intent.entry_id,
            merged_reason=intent.reason if isinstance(intent, decider.Merge) else None,
            now=now,
            signature=intent.signature,
            scores=intent.scores,
            body_key=intent.body_key,
        )


@dataclass
class _Fetch:
    """What is known of one fetch while its entries are saved one by one."""

    name: str
    cleaned: Sequence[CleanEntry]
    keys: list[dedupe.Keys]
    prepared: Prepared | None
    presence: Presence | None
    #: The LSH buckets of the leads, per entry (empty: not computed).
    leads: list[tuple[int, ...]]
    #: The signatures the worker made, per entry index.
    known_sigs: dict[int, tuple[int, ...]]
    #: The entries whose buckets presence was not asked about: their lookups read them all.
    unasked: frozenset[int] = frozenset()
    #: This fetch's keys: a copy holding one of them is never re-keyed to another entry.
    taken: set[str] = field(default_factory=set)
    #: The stories of this fetch so far.
    fetched: set[str] = field(default_factory=set)
    #: The names each source goes by in its titles (dropped before titles are compared).
    sites: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: The near lookups made for the entry being saved (its index, then the candidates
    #: of each lookup by name), read again when its merge looks for stories to join.
    looked: tuple[int, dict[str, list[dedupe.Candidate]]] = (-1, {})

    @property
    def links(self) -> frozenset[str]:
        """The links of this fetch's entries (read when a stored copy's link differs)."""
        return frozenset(e.link for e in self.cleaned if e.link)


def ingest_entries(
    store: Storage,
    name: str,
    cleaned: Sequence[CleanEntry],
    *,
    now: datetime,
    options: DedupeOptions,
    prepared: Prepared | None = None,
    blocked: Callable[[CleanEntry], bool] | None = None,
    sites: Mapping[str, tuple[str, ...]] | None = None,
) -> Counter[str]:
    """Identify and save one fetch's cleaned entries (inside the caller's transaction).

    ``prepared`` (when ``cleaned`` is its entries) brings their keys and signatures,
    computed in a worker; an entry whose content is already stored needs no signature.
    Returns how many entries were new, updated, unchanged, merged, throttled, dropped,
    and how many of the new ones the filter rules block (``blocked``; saved all the same).
    ``sites``: the names each source goes by in its titles (``Site: …``, ``… | Site``).
    """
    fetch = _read_fetch(store, name, cleaned, now, options, prepared)
    fetch.sites = sites or {}
    changes: Counter[str] = Counter()
    for i in range(len(cleaned)):
        intent = _entry_intent(store, fetch, i, now, options)
        if isinstance(intent, decider.Merge):
            intent = _settled_story(
                store, fetch, _joined(store, fetch, i, intent, now, options), now
            )
        if isinstance(intent, decider.Saved) and fetch.presence is not None:
            sig = intent.signature
            buckets = (*dedupe.lsh_buckets(sig), *fetch.leads[i]) if sig is not None else ()
            fetch.presence.add(fetch.keys[i], buckets)
        apply_intent(store, name, intent, now)
        fetch.fetched.add(intent.entry_id)
        tombstones = fetch.presence is None or fetch.presence.tombstones
        if intent.change is not Change.UNCHANGED and tombstones and store.dropped(intent.entry_id):
            intent = decider.tombstoned(intent)
        changes[intent.change.value] += 1
        if blocked is not None and intent.change is Change.NEW and blocked(cleaned[i]):
            changes["blocked"] += 1
    return changes


def _settled_story(
    store: Storage, fetch: _Fetch, merge: decider.Merge, now: datetime
) -> decider.Merge:
    """``merge`` into the story as the store numbers it with this copy: a story whose copies
    were all saved in the open transaction takes the id of its first copy, whatever order
    they came in (:meth:`~feeds.store.protocol.IngestStore.story_id_with`)."""
    settled = store.story_id_with(
        merge.entry_id,
        lambda: dedupe.saved_copy(fetch.name, merge.keys.key, merge.entry, now),
        lambda: decider.own_id(fetch.name, merge),
    )
    if settled == merge.entry_id:
        return merge
    if merge.entry_id in fetch.fetched:  # a story of this fetch under its new id
        fetch.fetched.discard(merge.entry_id)
        fetch.fetched.add(settled)
    return replace(merge, entry_id=settled)


def _read_fetch(
    store: Storage,
    name: str,
    cleaned: Sequence[CleanEntry],
    now: datetime,
    options: DedupeOptions,
    prepared: Prepared | None,
) -> _Fetch:
    """The batched reads of one fetch: GUID trust, keys, and which lookups can find anything
    (asked once: a cold run's entries are mostly new, their lookups would come back empty)."""
    if prepared is not None and len(prepared.keys) != len(cleaned):
        prepared = None
    distrust = store.guid_fallback(name)
    learnt = decider.distrust_guids(cleaned, distrust)
    if learnt is not None:
        apply_intent(store, name, learnt, now)
        distrust = learnt.reason
    if prepared is not None and distrust is None:
        all_keys = list(prepared.keys)
    else:
        all_keys = dedupe.entry_keys(cleaned, trust_guids=distrust is None)
    known_sigs: dict[int, tuple[int, ...]] = {}
    if prepared is not None:
        for i in range(len(cleaned)):
            sig = prepared.signatures[i]
            if i not in prepared.unsigned and sig is not None:
                known_sigs[i] = sig
                dedupe.remember_buckets(sig, prepared.buckets[i])  # the worker made them
                if prepared.leads:  # and these (unless it was an older feeds)
                    dedupe.remember_leads(cleaned[i].body_text, prepared.leads[i])
    # The leads' keys too: most new entries' leads are in no stored copy.
    unsigned = prepared.unsigned if prepared is not None else frozenset[int]()
    leads = [
        dedupe.lead_buckets(e.body_text) if options.near and i not in unsigned else ()
        for i, e in enumerate(cleaned)
    ]
    presence = store.presence(name, all_keys)
    # An entry whose exact keys a stored copy has is most likely that copy's story, found by
    # find_match: its buckets are not asked about (should it match no copy, its near lookup
    # reads them all). A syndicated story's copies are found so.
    unasked = frozenset(i for i, k in enumerate(all_keys) if presence.may_match(k))
    buckets = [b for i, s in known_sigs.items() if i not in unasked for b in dedupe.lsh_buckets(s)]
    buckets += [b for i, lead in enumerate(leads) if i not in unasked for b in lead]
    store.add_present_buckets(presence, buckets)
    return _Fetch(
        name,
        cleaned,
        all_keys,
        prepared,
        presence,
        leads,
        known_sigs,
        unasked,
        {k.key for k in all_keys},
    )


def _entry_intent(
    store: Storage, fetch: _Fetch, i: int, now: datetime, options: DedupeOptions
) -> decider.EntryIntent:
    """Look up what the store holds for entry ``i`` and ask the decider what it is."""
    name, entry, keys, prepared, presence = (
        fetch.name,
        fetch.cleaned[i],
        fetch.keys[i],
        fetch.prepared,
        fetch.presence,
    )
    body_key = prepared.body_keys[i] if prepared is not None and prepared.body_keys else None
    existing, read_keys = None, keys
    if presence is None or presence.own:
        existing = store.find_copy(name, keys, fetch.taken)
    if existing is not None and existing.link != entry.link:
        entry, keys = decider.kept_link(entry, keys, existing, fetch.links)
        fetch.keys[i] = keys
    found = Found(entry, keys, body_key=body_key, existing=existing)
    if decider.unchanged(found):
        return decider.decide(name, found, now=now, options=options)
    if existing is not None:  # (not expired: unchanged, above)
        stored_key = existing.key or keys.key
        kept = decider.cut_short(entry, existing, lambda: store.copy_body(name, stored_key))
        if kept is not None:
            return kept
    sig = prepared.signature(i) if prepared else dedupe.signature(entry.body_text)
    apart = None
    if existing is not None:
        apart = decider.keep_apart(
            keys,
            existing,
            entry,
            sig,
            lambda: store.copy_body(name, keys.key),
            fetch.sites.get(name, ()),
        )
        if apart is not None:
            apply_intent(store, name, apart, now)
            existing = None
            entry, keys = fetch.cleaned[i], read_keys  # another story: its own link
            fetch.keys[i] = keys
    # Found is built whole, not by dataclasses.replace (which reads its fields each call)
    found = Found(entry, keys, sig, body_key, existing, apart)
    if existing is not None:
        return decider.decide(name, found, now=now, options=options)
    match, elsewhere = _find_match(store, fetch, i, found, now, options)
    found = Found(entry, keys, sig, body_key, None, apart or elsewhere, match)
    return decider.decide(name, found, now=now, options=options)


def _find_match(
    store: Storage, fetch: _Fetch, i: int, found: Found, now: datetime, options: DedupeOptions
) -> tuple[dedupe.Match | None, decider.KeepApart | None]:
    """A stored copy of entry ``i``'s story: by an exact key, else as a near copy; and the
    entry kept apart from another source's story whose GUID, post id or link it writes."""
    name, presence, entry, sig = fetch.name, fetch.presence, found.entry, found.signature
    match = None
    if found.kept_apart is not None:
        match = store.find_match(decider.exact_keys_of(found))
    elif presence is None:
        match = store.find_match(found.keys, name, fetch.taken)
    elif presence.may_match(found.keys):
        match = store.find_match(presence.matchable(found.keys), name, fetch.taken)
    elsewhere = None
    if match is not None and found.kept_apart is None:
        elsewhere = _another_sources_story(store, fetch, found, match)
        if elsewhere is not None:  # only its text may find a copy now
            match = store.find_match(decider.text_keys(found.keys))
    if match is not None or sig is None or not options.near:
        return match, elsewhere
    published = entry.published or entry.updated or now
    return _find_near(store, fetch, i, sig, published, _lookups(fetch, i), options), elsewhere


def _lookups(fetch: _Fetch, i: int) -> tuple[Container[int] | None, Sequence[int] | None]:
    """Which LSH buckets of entry ``i``'s signature hold copies, and which of its lead's
    keys do (None: unknown). Presence knows, for a prepared signature, unless not asked."""
    presence = fetch.presence
    asked = presence if presence is not None and i not in fetch.unasked else None
    present = asked.buckets if asked is not None and i in fetch.known_sigs else None
    lead_keys = fetch.leads[i]
    lead = [k for k in lead_keys if k in asked.buckets] if asked is not None else None
    return present, (lead if lead_keys else None)  # (not computed: its content was stored)


def _every_candidate(
    store: Storage, fetch: _Fetch, i: int, sig: tuple[int, ...], options: DedupeOptions
) -> list[dedupe.Candidate]:
    """The stored copies entry ``i`` may be a near copy of, by each lookup of
    :func:`_find_near` (which stops at the first that finds its story)."""
    entry, (present, lead) = fetch.cleaned[i], _lookups(fetch, i)
    looked = fetch.looked[1] if fetch.looked[0] == i else {}  # (nothing saved since)
    found = looked.get("bands")
    if found is None:
        found = store.near_candidates(
            sig, bodies=False, present=present, min_resemblance=options.body_min
        )
    if lead is None or lead:
        by_lead = looked.get("lead")
        found = found + (
            by_lead if by_lead is not None else store.lead_candidates(entry.body_text, lead)
        )
    cited = looked.get("cited")
    if cited is None:
        prepared = fetch.prepared
        linked = prepared.cited_links(i, entry) if prepared is not None else cited_links(entry)
        cited = store.cited_candidates(linked)
    return found + cited


def _joined(
    store: Storage,
    fetch: _Fetch,
    i: int,
    merge: decider.Merge,
    now: datetime,
    options: DedupeOptions,
) -> decider.Merge:
    """``merge`` into its story joined with the other stories the copy is a near copy of
    that no one has seen yet (saved in the open transaction: the store's ``join_stories``).

    Matching is not transitive: a teaser matches an update, the update its correction, the
    correction not the teaser. Saved teaser, correction, update, the update found two
    stories and joined one; saved in another order, the three were one. A copy of two
    stories makes them one, so the copies make the same stories in any order."""
    sig, entry = merge.signature, merge.entry
    if sig is None or not options.near:
        return merge
    found = _every_candidate(store, fetch, i, sig, options)
    others = frozenset(c.entry_id for c in found) - {merge.entry_id}
    if not store.unseen_stories([merge.entry_id]):
        others = store.unseen_stories(others)  # (two stories a reader knows stay two)
    published = entry.published or entry.updated or now
    matched = [
        story
        for story in sorted(others)
        if decider.near_copy(
            fetch.name,
            entry,
            sig,
            published,
            [c for c in found if c.entry_id == story],
            fetch.fetched,
            options,
            body_of=store.body_text,
            sites=fetch.sites,
        )
        is not None
    ]
    if not matched:
        return merge
    reason = f"one story with another: {fetch.name}'s copy {merge.keys.key} is a near copy of both"
    joined, gone = store.join_stories(merge.entry_id, matched, reason)
    if fetch.fetched.intersection(gone):  # stories of this fetch under their new id
        fetch.fetched.difference_update(gone)
        fetch.fetched.add(joined)
    return replace(merge, entry_id=joined)


def _another_sources_story(
    store: Storage, fetch: _Fetch, found: Found, match: dedupe.Match
) -> decider.KeepApart | None:
    """The entry kept apart from ``match``, another source's copy found by a GUID, post id
    or link, when that copy tells another story (see :func:`decider.another_sources_story`)."""
    if match.source == fetch.name or match.reason not in decider.NAMING_MATCHES:
        return None
    other = store.find_existing(match.source, match.key)
    if other is None:
        return None
    return decider.another_sources_story(
        found.keys,
        match,
        other,
        found.entry,
        found.signature,
        lambda: store.copy_body(match.source, match.key),
        (*fetch.sites.get(fetch.name, ()), *fetch.sites.get(match.source, ())),
    )


def _find_near(
    store: Storage,
    fetch: _Fetch,
    i: int,
    sig: tuple[int, ...],
    published: datetime,
    lookups: tuple[Container[int] | None, Sequence[int] | None],
    options: DedupeOptions,
) -> dedupe.Match | None:
    """Another stored copy of entry ``i``'s story, by its signature's LSH bands, else by its
    lead (a copy cut to its first paragraphs, or the original of one), else by the links
    in its body. ``lookups``: the LSH buckets that hold copies, and the lead's keys that do
    (None: unknown; see :class:`~feeds.store.Presence`)."""
    present, present_leads = lookups
    entry = fetch.cleaned[i]

    def near(candidates: Sequence[dedupe.Candidate]) -> dedupe.Match | None:
        return decider.near_copy(
            fetch.name,
            entry,
            sig,
            published,
            candidates,
            fetch.fetched,
            options,
            body_of=store.body_text,
            sites=fetch.sites,
        )

    looked: dict[str, list[dedupe.Candidate]] = {}
    fetch.looked = (i, looked)
    found = looked["bands"] = store.near_candidates(
        sig, bodies=False, present=present, min_resemblance=options.body_min
    )
    usable = [c for c in found if not (c.source == fetch.name and c.entry_id in fetch.fetched)]
    match = near(found)
    if match is not None or any(c.signature == sig for c in usable):
        return match
    if present_leads is None or present_leads:  # found again by their lead: containment too
        match = near(
            looked.setdefault("lead", store.lead_candidates(entry.body_text, present_leads))
        )
        if match is not None:
            return match
    # asked again as cited (a copy found by its lead may be linked to as well)
    prepared = fetch.prepared
    linked = prepared.cited_links(i, entry) if prepared is not None else cited_links(entry)
    return near(looked.setdefault("cited", store.cited_candidates(linked)))
