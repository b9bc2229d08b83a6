"""Near-copy detection through the store: copies merge, hard negatives stay apart,
unreliable GUIDs, updates and the churn cap, tombstones, the published copy."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Collection
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from feeds.app import provenance
from feeds.config import OutputConfig
from feeds.core import dedupe
from feeds.ingest.prepare import Prepared
from feeds.run.ingest import ingest_entries
from feeds.store.sqlite import NEAR_CANDIDATES, Store
from feeds.store.sqlite.codec import statements
from feeds.store.values import Presence
from feeds.types import CleanEntry, DedupeOptions

import dedupe_corpus as corpus
from support import REPO

NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
OPTIONS = DedupeOptions()


@pytest.fixture
def store(store: Store) -> Store:
    """The shared store (conftest.py) with every source of the corpus."""
    store.sync_sources([(name, f"https://{name}.example/feed/") for name in corpus.SOURCES])
    return store


def save(
    store: Store,
    source: str,
    entries: list[CleanEntry],
    now: datetime = NOW,
    options: DedupeOptions = OPTIONS,
) -> dict[str, int]:
    with store.transaction():
        return dict(ingest_entries(store, source, entries, now=now, options=options))


def story_id(store: Store, item: corpus.Story) -> str:
    found = store.resolve(item.entry().link or "")
    assert found is not None
    return found


def ingest_items(store: Store, *items: corpus.Story) -> list[str]:
    ids = []
    for item in items:
        save(store, item.source, [item.entry()], now=item.published)
        ids.append(story_id(store, item))
    return ids


def fresh(seed: int = 7) -> corpus.Generator:
    gen = corpus.Generator(seed)
    gen._known, gen._styles, gen._last = {}, {}, {}
    return gen


def original(gen: corpus.Generator, event: str | None = None) -> corpus.Story:
    facts = gen.facts(company=3, event=event or "earnings")
    story = gen.original(NOW, facts)
    gen._known[story.cluster] = facts
    return story


# --- each transformation is merged ------------------------------------------------------------


@pytest.mark.parametrize("kind", corpus.COPY_KINDS)
def test_each_transformation_is_merged_into_the_original(store: Store, kind: str) -> None:
    gen = fresh()
    first = original(gen)
    copy = gen.copy(first, kind)
    assert copy.uid != first.uid and copy.entry().link != first.entry().link
    a, b = ingest_items(store, first, copy)
    assert a == b
    [published] = store.entries_for_output(list(corpus.SOURCES), 10)
    assert published.id == a
    assert published.source == first.source  # the earliest copy
    explained = provenance.explain(store, copy.entry().link or "", OPTIONS, [])
    assert explained is not None
    if kind == "reposted":
        # The same source under a new GUID and URL: one copy, now at its new URL.
        [only] = explained.copies
        assert only.link == copy.entry().link
        return
    assert [c.source for c in explained.copies] == [first.source, copy.source]
    assert explained.copies[1].merged_reason is not None


def test_near_merge_keeps_rule_and_scores(store: Store) -> None:
    gen = fresh(11)
    first = original(gen)
    copy = gen.copy(first, "combined")
    ingest_items(store, first, copy)
    explained = provenance.explain(store, copy.entry().link or "", OPTIONS, [])
    assert explained is not None
    merged = explained.copies[1]
    assert merged.merged_reason in ("near-identical body", "similar body and title")
    assert merged.scores["copy_source"] == first.source
    body = merged.scores["body"]
    assert isinstance(body, float) and OPTIONS.body_min <= body < 1.0
    assert "body resemblance" in provenance.merge_text(merged)


# --- each hard negative stays apart -----------------------------------------------------------


@pytest.mark.parametrize("kind", corpus.NEGATIVE_KINDS)
def test_each_hard_negative_stays_apart(store: Store, kind: str) -> None:
    gen = fresh(5)
    if kind in ("next-quarter", "next-day-market-wrap"):
        event = "market" if kind == "next-day-market-wrap" else "earnings"
        first = gen.templated_original(NOW, event=event)
    else:
        first = original(gen)
    other = gen.negative(first, kind)
    assert other.cluster != first.cluster
    a, b = ingest_items(store, first, other)
    assert a != b
    assert len(store.entries_for_output(list(corpus.SOURCES), 10)) == 2


def test_the_labelled_set_meets_the_targets_on_a_small_sample(store: Store) -> None:
    items = corpus.labelled_set(150, seed=21)
    owner: dict[str, int] = {}
    seen: set[int] = set()
    tp = fp = fn = 0
    for item in items:
        [entry_id] = ingest_items(store, item)
        if entry_id in owner:
            tp, fp = (tp + 1, fp) if owner[entry_id] == item.cluster else (tp, fp + 1)
        elif item.cluster in seen:
            fn += 1
        owner.setdefault(entry_id, item.cluster)
        seen.add(item.cluster)
    assert fp == 0
    assert tp / (tp + fn) >= 0.95


def test_time_window_keeps_a_month_old_copy_apart(store: Store) -> None:
    gen = fresh()
    first = original(gen)
    late = replace(gen.copy(first, "boilerplate"), published=NOW + timedelta(days=30))
    a, b = ingest_items(store, first, late)
    assert a != b


def test_near_detection_can_be_switched_off(store: Store) -> None:
    gen = fresh()
    first = original(gen)
    copy = gen.copy(first, "boilerplate")
    off = replace(OPTIONS, near=False)
    save(store, first.source, [first.entry()], first.published, off)
    assert save(store, copy.source, [copy.entry()], copy.published, off) == {"new": 1}


def _save_as_new_copies(store: Store, stories: list[corpus.Story]) -> None:
    """Each story saved as a copy of its own (no matching), by source in turn."""
    for n, item in enumerate(stories):
        entry = replace(item.entry(), guid=f"g{n}", link=f"https://x.example/{n}")
        with store.transaction():
            store.insert_copy(
                corpus.SOURCES[n % len(corpus.SOURCES)],
                dedupe.entry_keys([entry])[0],
                entry,
                entry_id=f"tag:x,2026:{n}",
                merged_reason=None,
                now=NOW,
                signature=dedupe.signature(entry.body_text),
            )


def test_candidates_are_bounded_however_many_copies_share_a_band(store: Store) -> None:
    gen = fresh()
    first = original(gen)
    _save_as_new_copies(
        store, [replace(first, uid=f"same:{n}") for n in range(NEAR_CANDIDATES + 10)]
    )
    sig = dedupe.signature(first.entry().body_text)
    assert sig is not None
    assert len(store.near_candidates(sig)) == NEAR_CANDIDATES


def _fill_with_copies(store: Store, gen: corpus.Generator, count: int) -> list[corpus.Story]:
    """``count`` stories of several kinds, each saved as a new copy (no merging)."""
    first = original(gen)
    stories = [first, *(gen.copy(first, kind) for kind in corpus.COPY_KINDS)]
    stories += [original(gen, event) for event in ("guidance", "acquisition", "layoffs", "plant")]
    stories = (stories * (count // len(stories) + 1))[:count]
    _save_as_new_copies(store, stories)
    return stories


def test_candidates_below_the_resemblance_asked_for_are_not_read(store: Store) -> None:
    gen = fresh()
    stories = _fill_with_copies(store, gen, 20)
    dropped = 0
    for item in stories[:6]:
        sig = dedupe.signature(item.entry().body_text)
        assert sig is not None
        every = store.near_candidates(sig, bodies=False)
        assert every  # the story itself, at least
        for minimum in (0.0, 0.35, 0.6, 1.0):
            kept = store.near_candidates(sig, bodies=False, min_resemblance=minimum)
            # the same candidates as filtering them all afterwards, in the same order
            assert kept == [c for c in every if dedupe.resemblance(sig, c.signature) >= minimum]
            dropped += len(every) - len(kept)
        # only the buckets known to hold copies are read: the same answer
        present = store.presence("x", [], dedupe.lsh_buckets(sig)).buckets
        assert store.near_candidates(sig, bodies=False, present=present) == every
        assert store.near_candidates(sig, bodies=False, present=set()) == []
    assert dropped  # some candidates were less alike than asked


# A bin's bits that differ: any, and the edges of the lane count (the top bit alone, the
# low 31 bits, one bit beside the top)
_DIFFERENT_BITS = st.integers(1, 2**32 - 1) | st.sampled_from((2**31, 2**31 - 1, 2**30, 1))


@given(
    st.lists(st.integers(0, 2**32 - 1), min_size=dedupe.NUM_BINS, max_size=dedupe.NUM_BINS),
    st.dictionaries(st.integers(0, dedupe.NUM_BINS - 1), _DIFFERENT_BITS),
)
# a bin of all bits different beside an equal one (no carry may reach it), the top bit alone
@example([7] * dedupe.NUM_BINS, {0: 2**32 - 1, 2: 2**31, 5: 2**31 + 1})
def test_alike_counts_the_equal_bins_as_resemblance_does(
    bins: list[int], changed: dict[int, int]
) -> None:
    a = tuple(bins)
    b = tuple(v ^ changed.get(i, 0) for i, v in enumerate(a))
    alike = dedupe.Alike(a)
    for threshold in range(dedupe.NUM_BINS + 1):  # each count: the one threshold it crosses
        minimum = threshold / dedupe.NUM_BINS
        found = alike.at_least(dedupe.encode_signature(b), minimum)
        assert found == (b if dedupe.resemblance(a, b) >= minimum else None)
    assert alike.at_least(b"short", 0.0) is None


WORKER_TABLES_REVERTED = """
DROP TABLE host_leases; DROP TABLE workers; DROP TABLE publisher;
DROP INDEX sources_due; DROP INDEX sources_leased;
ALTER TABLE sources DROP COLUMN host; ALTER TABLE sources DROP COLUMN next_due;
ALTER TABLE sources DROP COLUMN lease_worker; ALTER TABLE sources DROP COLUMN lease_until;
ALTER TABLE sources DROP COLUMN expired_leases; ALTER TABLE sources DROP COLUMN expired_worker;
ALTER TABLE sources DROP COLUMN expired_until; ALTER TABLE sources DROP COLUMN expired_at;
"""


def test_a_store_from_before_the_signatures_table_gets_one(tmp_path: Path) -> None:
    path = tmp_path / "feeds.db"
    gen = fresh()
    with Store.open(path) as store:
        store.sync_sources([(name, f"https://{name}.example/") for name in corpus.SOURCES])
        first = _fill_with_copies(store, gen, 3)[0]
        sig = dedupe.signature(first.entry().body_text)
        assert sig is not None
        before = store.near_candidates(sig)
        # as version 8 left it (without what migrations 12 and 15 added, too)
        store._db.execute("DROP TABLE signatures")
        store._db.execute("DROP TABLE lsh_staged")  # migration 17
        store._db.execute("ALTER TABLE entries DROP COLUMN shared_link")  # migration 18
        store._db.execute("DROP TABLE host_holds")  # migration 19
        for index in ("entries_live_published", "entries_live_source"):
            store._db.execute(f"DROP INDEX {index}")
        store._db.execute("ALTER TABLE entries DROP COLUMN expired")
        for table, column in (
            ("entries", "media"),
            ("entries", "rules"),
            ("articles", "image"),
            ("articles", "rules"),
        ):  # added by migration 12
            store._db.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
        for statement in statements(WORKER_TABLES_REVERTED):  # migration 12 alters sources
            store._db.execute(statement)
        store._db.execute("PRAGMA user_version = 8")
    with Store.open(path) as store:
        assert store._db.execute("SELECT count(*) FROM signatures").fetchone() == (3,)
        assert store.near_candidates(sig) == before


def test_signatures_do_not_depend_on_the_process() -> None:
    text = " ".join(corpus.BACKGROUND)
    code = (
        "import sys; from feeds.core import dedupe; "
        "print(dedupe.lsh_buckets(dedupe.signature(sys.argv[1])))"
    )
    runs = {
        subprocess.run(
            [sys.executable, "-c", code, text],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": seed, "PYTHONPATH": str(REPO)},
        ).stdout
        for seed in ("1", "2")
    }
    assert len(runs) == 1
    sig = dedupe.signature(text)
    assert sig is not None
    assert runs == {f"{dedupe.lsh_buckets(sig)}\n"}


# --- which buckets presence is asked about ----------------------------------------------------


def _asked_buckets(store: Store, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every bucket ingest asks the store about from now on (the store's own method runs)."""
    asked: list[int] = []
    ask = store.add_present_buckets

    def spy(found: Presence, buckets: Collection[int]) -> None:
        asked.extend(buckets)
        ask(found, buckets)

    monkeypatch.setattr(store, "add_present_buckets", spy)
    return asked


def _save_prepared(store: Store, source: str, entries: list[CleanEntry]) -> dict[str, int]:
    """:func:`save` with the keys, signatures and buckets a worker sends along."""
    signatures = tuple(dedupe.signature(e.body_text) for e in entries)
    prepared = Prepared(
        url=f"https://{source}.example/feed/",
        cleaned=tuple(entries),
        keys=tuple(dedupe.entry_keys(entries)),
        signatures=signatures,
        buckets=tuple(dedupe.lsh_buckets(s) if s is not None else () for s in signatures),
        leads=tuple(dedupe.lead_buckets(e.body_text) for e in entries),
    )
    with store.transaction():
        changes = ingest_entries(
            store, source, entries, now=NOW, options=OPTIONS, prepared=prepared
        )
    return dict(changes)


def _buckets(entry: CleanEntry) -> set[int]:
    sig = dedupe.signature(entry.body_text)
    assert sig is not None
    return {*dedupe.lsh_buckets(sig), *dedupe.lead_buckets(entry.body_text)}


def test_an_exact_copy_is_matched_without_asking_about_its_buckets(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Syndicated word for word: the title and body's hash finds the stored copy.
    first = _stored_original(store)
    resent = replace(first.entry(), guid="https://market-times.example/?p=1", link=None)
    new = entry(2, guid="https://market-times.example/?p=2")
    asked = _asked_buckets(store, monkeypatch)
    assert _save_prepared(store, "market-times", [resent, new]) == {"duplicate": 1, "new": 1}
    assert _buckets(new) <= set(asked)
    assert not _buckets(resent) & set(asked)


def _matched_by(store: Store, monkeypatch: pytest.MonkeyPatch) -> list[dedupe.Keys]:
    """The keys of every ``find_match`` from now on (the store's own method runs)."""
    asked: list[dedupe.Keys] = []
    find = store.find_match

    def spy(
        keys: dedupe.Keys, source: str = "", listed: Collection[str] = ()
    ) -> dedupe.Match | None:
        asked.append(keys)
        return find(keys, source, listed)

    monkeypatch.setattr(store, "find_match", spy)
    return asked


def _stored_original(store: Store) -> corpus.Story:
    """A story saved by its own source (the copy the tests' others meet)."""
    first = original(fresh())
    save(store, first.source, [first.entry()], now=first.published)
    return first


def _merged_reasons(store: Store, item: corpus.Story) -> list[str | None]:
    """Why each copy of ``item``'s story is in it (None: the copy that started it)."""
    explained = provenance.explain(store, item.entry().link or "", OPTIONS, [])
    assert explained is not None
    return [c.merged_reason for c in explained.copies]


def test_an_exact_copy_is_looked_up_by_the_keys_a_stored_copy_has(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Its GUID and link are its own site's: only its title and body hash can find a story.
    first = _stored_original(store)
    resent = replace(
        first.entry(),
        guid="https://market-times.example/?p=1",
        link="https://market-times.example/a",
    )
    asked = _matched_by(store, monkeypatch)
    assert _save_prepared(store, "market-times", [resent]) == {"duplicate": 1}
    keys = dedupe.entry_keys([resent])[0]
    assert asked == [replace(keys, guid=None, post_id=None, link=None)]
    assert keys.match_hash is not None
    assert _merged_reasons(store, first) == [None, "same title and body"]


def test_a_guid_another_source_has_still_finds_its_story(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _stored_original(store)
    edited = fresh().copy(first, "copy-edited").entry()  # its text is no stored copy's
    retold = replace(edited, guid=first.entry().guid, link=None, post_id=None)
    asked = _matched_by(store, monkeypatch)
    assert _save_prepared(store, "market-times", [retold]) == {"duplicate": 1}
    assert asked[0].guid == first.entry().guid
    assert asked[0].match_hash is None  # no copy has its text
    assert _merged_reasons(store, first) == [None, "same GUID"]


def test_a_guid_another_source_writes_over_another_story_is_kept_apart(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another story under the same GUID in another source: not the stored story's copy
    (a GUID is public; anyone can write it), so a story of its own, under an id of its own."""
    first = _stored_original(store)
    other = replace(entry(3), guid=first.entry().guid)
    assert _save_prepared(store, "market-times", [other]) == {"new": 1}
    assert _merged_reasons(store, first) == [None]


def test_a_copy_whose_keys_match_none_of_its_story_is_still_found_near(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A source listing two items under one post id: the edited copy's post id is its
    # neighbour's, so presence sees a key to match and is not asked about its buckets; the
    # neighbour is of the same fetch, so no exact key finds a story, and the near lookup
    # reads every bucket of the copy.
    gen = fresh()
    first = original(gen)
    edited = gen.copy(first, "copy-edited")
    save(store, first.source, [first.entry()], now=first.published)
    neighbour = entry(1, guid="https://market-times.example/?p=1", post_id="P1")
    save(store, "market-times", [neighbour])
    copy = replace(
        edited.entry(), guid="https://market-times.example/?p=2", link=None, post_id="P1"
    )
    asked = _asked_buckets(store, monkeypatch)
    counts = _save_prepared(store, "market-times", [neighbour, copy])
    assert counts == {"unchanged": 1, "duplicate": 1}
    assert not _buckets(copy) & set(asked)


# --- unreliable GUIDs -------------------------------------------------------------------------


def entry(n: int, **changes: object) -> CleanEntry:
    gen = fresh(100 + n)
    item = original(gen, ("earnings", "layoffs", "plant", "acquisition")[n % 4])
    base = replace(item.entry(), guid=f"https://wire.example/?p={n}", link=None, post_id=None)
    return replace(base, **changes)  # type: ignore[arg-type]


def test_blank_guids_make_the_source_fall_back_for_good(store: Store) -> None:
    assert store.guid_fallback("wire") is None
    save(store, "wire", [entry(1, guid=None, link="https://wire.example/1"), entry(2)])
    assert store.guid_fallback("wire") == "blank GUIDs"
    assert store.source("wire").guid_fallback == "blank GUIDs"
    # Later fetches with GUIDs do not restore trust, and keys stay link/content based.
    assert save(store, "wire", [entry(3, link="https://wire.example/3")]) == {"new": 1}
    assert [c.key for c in store.copies(store.resolve("https://wire.example/3") or "")] == [
        "link:https://wire.example/3"
    ]


def test_guid_repeated_within_a_fetch_makes_the_source_fall_back(store: Store) -> None:
    same = "https://wire.example/?p=1"
    changes = save(
        store,
        "wire",
        [entry(1, guid=same, link="https://wire.example/a"), entry(2, guid=same)],
    )
    assert changes == {"new": 2}
    assert "repeated" in (store.guid_fallback("wire") or "")


def test_guid_reused_for_another_article_is_a_new_entry_not_an_update(store: Store) -> None:
    guid = "https://wire.example/?p=7"
    first = entry(1, guid=guid, link="https://wire.example/one")
    assert save(store, "wire", [first]) == {"new": 1}
    other = entry(2, guid=guid, link="https://wire.example/two")
    later = NOW + timedelta(days=1)
    assert save(store, "wire", [other], later) == {"new": 1}
    assert store.guid_fallback("wire") == "GUIDs reused for different articles"
    published = store.entries_for_output(["wire"], 10)
    assert sorted(e.title for e in published) == sorted([first.title, other.title])
    # The next fetch carries both: neither is new again, neither changed.
    assert save(store, "wire", [first, other], later) == {"unchanged": 2}


def test_repost_under_a_new_guid_and_same_link_is_the_same_entry(store: Store) -> None:
    first = entry(1, link="https://wire.example/story")
    save(store, "wire", [first])
    before = store.resolve("https://wire.example/story")
    repost = replace(first, guid="https://wire.example/?p=999")
    assert save(store, "wire", [repost]) == {"unchanged": 1}
    assert store.resolve("https://wire.example/?p=999") == before


def test_a_repost_under_a_new_guid_with_an_edited_text_updates_its_entry(store: Store) -> None:
    # Only its link is the stored copy's: found by it, re-keyed, and updated.
    first = entry(1, link="https://wire.example/story")
    save(store, "wire", [first])
    before = store.resolve("https://wire.example/story")
    edited = replace(first, guid="https://wire.example/?p=999", title=first.title + " (updated)")
    assert save(store, "wire", [edited]) == {"updated": 1}
    assert store.resolve("https://wire.example/?p=999") == before


# --- updates and the churn cap ----------------------------------------------------------------


def test_corrected_text_is_an_update_of_the_published_entry(store: Store) -> None:
    first = entry(1)
    save(store, "wire", [first])
    fixed = replace(first, title=first.title + " (corrected)")
    later = NOW + timedelta(hours=2)
    assert save(store, "wire", [fixed], later) == {"updated": 1}
    [published] = store.entries_for_output(["wire"], 10)
    assert published.id == "https://wire.example/?p=1"
    assert published.title.endswith("(corrected)")
    assert published.updated == later


def test_churn_cap_holds_back_updates_then_applies_the_newest_text(store: Store) -> None:
    capped = replace(OPTIONS, max_updates_per_day=2)
    first = entry(1)
    save(store, "wire", [first], NOW, capped)
    results = []
    for n in range(1, 5):
        changed = replace(first, title=f"{first.title} v{n}")
        results.append(save(store, "wire", [changed], NOW + timedelta(hours=n), capped))
    assert results == [{"updated": 1}, {"updated": 1}, {"throttled": 1}, {"throttled": 1}]
    [published] = store.entries_for_output(["wire"], 10)
    assert published.title.endswith(" v2")
    newest = replace(first, title=f"{first.title} v5")
    next_day = NOW + timedelta(days=1, hours=1)
    assert save(store, "wire", [newest], next_day, capped) == {"updated": 1}
    [published] = store.entries_for_output(["wire"], 10)
    assert published.title.endswith(" v5")
    assert published.updated == next_day


def test_churn_window_is_pure() -> None:
    assert dedupe.churn_window(3, None, NOW) == (0, NOW)
    assert dedupe.churn_window(3, NOW, NOW + timedelta(hours=23)) == (3, NOW)
    later = NOW + timedelta(hours=24)
    assert dedupe.churn_window(3, NOW, later) == (0, later)


# --- tombstones -------------------------------------------------------------------------------


def test_dropped_story_never_comes_back(store: Store) -> None:
    gen = fresh()
    first = original(gen)
    ingest_items(store, first)
    dropped = provenance.drop(store, first.entry().link or "", NOW)
    assert dropped is not None and dropped.new and dropped.copies == 1
    assert store.entries_for_output(list(corpus.SOURCES), 10) == []
    assert store.story_index(list(corpus.SOURCES)) == []  # archive pages skip it too
    # a re-fetch of the same copy, another source's exact copy, a near copy
    assert save(store, first.source, [first.entry()]) == {"unchanged": 1}
    exact = gen.copy(first, "syndicated")
    near = gen.copy(first, "combined")
    assert save(store, exact.source, [exact.entry()], exact.published) == {"dropped": 1}
    assert save(store, near.source, [near.entry()], near.published) == {"dropped": 1}
    assert store.entries_for_output(list(corpus.SOURCES), 10) == []
    again = provenance.drop(store, dropped.entry_id, NOW)
    assert again is not None and not again.new
    assert provenance.drop(store, "https://nowhere.example/", NOW) is None


# --- the published copy -----------------------------------------------------------------------


def three_copies(store: Store) -> tuple[corpus.Story, corpus.Story, corpus.Story]:
    gen = fresh()
    first = replace(original(gen), source="city-desk")
    longer = replace(gen.copy(first, "added-paragraph"), source="money-post")
    other = replace(gen.copy(first, "syndicated"), source="wire")
    ingest_items(store, first, longer, other)
    return first, longer, other


@pytest.mark.parametrize(
    ("options", "expected", "why"),
    [
        (DedupeOptions(), 0, "earliest published"),
        (DedupeOptions(prefer="longest"), 1, "longest body"),
        (DedupeOptions(preferred_sources=("nowhere", "wire")), 2, "preferred source 'wire'"),
    ],
)
def test_published_copy_follows_the_rule(
    store: Store, options: DedupeOptions, expected: int, why: str
) -> None:
    copies = three_copies(store)
    [published] = store.entries_for_output(list(corpus.SOURCES), 10, options)
    assert published.source == copies[expected].source
    assert set(published.also_in) == {c.source for c in copies} - {published.source}
    output = OutputConfig(name="all", path=Path("out.atom"), title="All", sources=corpus.SOURCES)
    explained = provenance.explain(store, published.id, options, [output])
    assert explained is not None
    [choice] = explained.outputs
    assert choice.source == copies[expected].source
    assert why in choice.why


def test_explain_unknown_is_none(store: Store) -> None:
    assert provenance.explain(store, "https://nowhere.example/", OPTIONS, []) is None


# --- pure functions ---------------------------------------------------------------------------


def test_of_copies_published_at_one_instant_the_longest_is_published() -> None:
    """A wire story and a teaser of it often carry the same time: the teaser, seen first, was
    published over the whole story."""
    at, seen = datetime(2026, 12, 1, 9, tzinfo=UTC), datetime(2026, 12, 1, 10, tzinfo=UTC)
    teaser = dedupe.CopyInfo("teasers", at, seen, 31, 0)
    wire = dedupe.CopyInfo("wire", at, seen + timedelta(minutes=5), 342, 1)
    later = dedupe.CopyInfo("late", at + timedelta(seconds=1), seen, 900, 2)
    assert dedupe.choose_copy([teaser, wire, later], DedupeOptions()) == (
        1,
        "earliest published, the longest of 2 published then",
    )
    assert dedupe.choose_copy([teaser, later], DedupeOptions()) == (0, "earliest published")
    first_seen = dedupe.CopyInfo("again", at, seen + timedelta(minutes=1), 342, 3)
    assert dedupe.choose_copy([first_seen, wire], DedupeOptions())[0] == 0


def test_of_copies_published_at_one_instant_a_padded_one_does_not_replace_the_first_seen() -> None:
    """A copy under the wire's own date that adds a footer or an advertisement to the wire's
    text was published in the wire's place: the longest of copies published at one
    instant won. Only a first seen copy under half the longest one's words (a teaser) is
    passed over now."""
    at, seen = datetime(2026, 12, 1, 9, tzinfo=UTC), datetime(2026, 12, 1, 10, tzinfo=UTC)
    wire = dedupe.CopyInfo("wire", at, seen, 300, 0)
    padded = dedupe.CopyInfo("copier", at, seen + timedelta(minutes=30), 599, 1)
    assert dedupe.choose_copy([wire, padded], DedupeOptions()) == (
        0,
        "earliest published, the first seen of 2 published then",
    )
    doubled = dedupe.CopyInfo("copier", at, seen + timedelta(minutes=30), 601, 1)
    assert dedupe.choose_copy([wire, doubled], DedupeOptions())[0] == 1  # the wire: a teaser
    assert dedupe.choose_copy([wire, padded], DedupeOptions(prefer="longest"))[0] == 1


def test_thin_text_has_no_signature() -> None:
    assert dedupe.signature("Markets close higher") is None


def test_names_skip_sentence_starts() -> None:
    text = 'Acme Corp said on Monday. The board agreed. "We grew," said Laura Becker.'
    assert dedupe.names(text) == {"Corp", "Monday", "Laura", "Becker"}


@pytest.mark.slow
def test_bench_quick_run_meets_the_targets() -> None:
    run = subprocess.run(
        [sys.executable, str(REPO / "bench" / "dedupe_eval.py"), "--quick"],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "targets (precision >= 0.99, recall >= 0.95): met" in run.stdout


def test_twins_in_one_fetch_keep_their_own_copies(store: Store) -> None:
    twin = entry(1, guid=None, link=None)
    assert save(store, "wire", [twin, twin]) == {"new": 1, "duplicate": 1}
    assert save(store, "wire", [twin, twin]) == {"unchanged": 2}
    [published] = store.entries_for_output(["wire"], 10)
    # One entry written twice: the twins' keys are its key and its text's digest, numbered.
    told_apart = f"hash:{dedupe.match_hash(twin)}#"
    keys = sorted(c.key for c in store.copies(published.id))
    assert keys == sorted(k.key for k in dedupe.entry_keys([twin, twin]))
    assert keys[0].startswith(told_apart) and keys[1] == keys[0] + "#2"


def test_cjk_text_is_signed_by_characters() -> None:
    text = "トヨタ自動車は通期の営業利益見通しを上方修正した。円安が追い風となった。"
    assert dedupe.words("トヨタ2026年")[:3] == ["ト", "ヨ", "タ"]
    sig = dedupe.signature(text)
    edited = dedupe.signature(text + "詳細は後日発表する。")
    assert sig is not None and edited is not None
    assert dedupe.resemblance(sig, edited) >= 0.6


def test_copies_from_before_signatures_are_signed_and_then_matched(tmp_path: Path) -> None:
    import sqlite3

    from feeds.store.sqlite import APPLICATION_ID, MIGRATIONS

    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.executescript(MIGRATIONS[0])
    db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()
    gen = fresh()
    first = original(gen)
    with Store.open(path) as old:
        old.sync_sources([(name, f"https://{name}.example/") for name in corpus.SOURCES])
        with old.transaction():
            old.insert_copy(
                first.source,
                dedupe.entry_keys([first.entry()])[0],
                first.entry(),
                entry_id="tag:old,2026:1",
                merged_reason=None,
                now=NOW,
            )
            # as an older feeds left it: no signature, nothing in the band index
            old._db.execute("UPDATE entries SET signature = NULL")
            old._db.execute("DELETE FROM lsh")
        with old.transaction():
            assert old.sign_unsigned(10) == 1
            assert old.sign_unsigned(10) == 0
        copy = gen.copy(first, "combined")
        [entry_id] = ingest_items(old, copy)
        assert entry_id == "tag:old,2026:1"


def test_near_copies_side_by_side_in_one_fetch_stay_two_items(store: Store) -> None:
    gen = fresh()
    first = original(gen)
    twin = gen.copy(first, "boilerplate")
    a, b = (replace(x.entry(), guid=None, post_id=None) for x in (first, twin))
    assert save(store, "wire", [a, b]) == {"new": 2}
    # ... while the same near copy from another source, or in a later fetch, is merged
    assert save(store, "city-desk", [replace(b, link="https://c.example/1")]) == {"duplicate": 1}


def test_a_store_signed_under_another_scheme_is_signed_again(tmp_path: Path) -> None:
    gen = fresh()
    first = original(gen)
    path = tmp_path / "store.db"
    with Store.open(path) as store:
        store.sync_sources([(name, f"https://{name}.example/") for name in corpus.SOURCES])
        [entry_id] = ingest_items(store, first)
        # as another scheme (an older feeds, another Python) left it
        stale = dedupe.encode_signature(tuple(range(dedupe.NUM_BINS)))
        store._db.execute("UPDATE entries SET signature = ?", (stale,))
        store._db.execute("UPDATE meta SET value = 'another-scheme'")
    with Store.open(path) as store:
        rows = store._db.execute("SELECT count(*) FROM entries WHERE signature IS NULL")
        assert rows.fetchone()[0] == 1
        assert store._db.execute("SELECT count(*) FROM lsh").fetchone()[0] == 0
        with store.transaction():
            assert store.sign_unsigned(10) == 1
        [blob] = store._db.execute("SELECT signature FROM entries").fetchone()
        assert dedupe.decode_signature(blob) == dedupe.signature(first.entry().body_text)
        # signed again, the copy is found as a near copy once more
        [merged] = ingest_items(store, gen.copy(first, "combined"))
        assert merged == entry_id
    with Store.open(path) as store:  # the same scheme: nothing is forgotten
        rows = store._db.execute("SELECT count(*) FROM entries WHERE signature IS NULL")
        assert rows.fetchone()[0] == 0
