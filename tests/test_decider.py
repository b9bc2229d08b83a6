"""The ingest decider on its own: what the store holds goes in, intents come out (no database)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from feeds.core import decider, dedupe
from feeds.core.decider import Found
from feeds.types import Change, CleanEntry, DedupeOptions

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
OPTIONS = DedupeOptions(max_updates_per_day=2)

STORY = (
    "Harbor Mills said on Monday it would buy Delta Grain for 412 million dollars in cash, "
    "adding 37 silos across Nebraska and Kansas to its network. Chief executive Maria Lund "
    "told analysts the deal would lift earnings per share by 8 percent in 2027 and that the "
    "company expected regulators in Washington to approve it by the third quarter. Shares of "
    "Harbor Mills rose 4.2 percent in early trading while Delta Grain jumped 19 percent."
)
OTHER_STORY = (
    "City council members in Portland voted 7 to 2 on Tuesday to extend the downtown tram "
    "line by 3 miles, after a hearing that ran past midnight. Mayor Dana Whitfield said "
    "construction would start next spring and cost about 96 million dollars, most of it "
    "paid by a federal transit grant. Opponents argued that buses would serve the eastern "
    "neighborhoods better and at a fraction of the price, and promised a ballot measure."
)


def entry(body: str = STORY, **changes: object) -> CleanEntry:
    base = CleanEntry(
        guid="https://news.example.com/?p=1",
        link="https://news.example.com/2026/03/harbor-mills/",
        title="Harbor Mills to buy Delta Grain for $412 million",
        excerpt=None,
        content_html=f"<p>{body}</p>",
        body_text=body,
        published=NOW,
        updated=None,
        author=None,
        post_id="news.example.com?p=1",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def found_for(item: CleanEntry, **changes: object) -> Found:
    [keys] = dedupe.entry_keys([item])
    made = Found(item, keys, signature=dedupe.signature(item.body_text))
    return replace(made, **changes)  # type: ignore[arg-type]


def stored(item: CleanEntry, **changes: object) -> dedupe.Existing:
    [keys] = dedupe.entry_keys([item])
    base = dedupe.Existing(
        entry_id=keys.guid or "",
        content_hash=keys.content_hash,
        key=keys.key,
        title=item.title,
        signature=dedupe.signature(item.body_text),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_an_entry_nothing_is_stored_for_is_inserted_under_its_guid() -> None:
    intent = decider.decide("news", found_for(entry()), now=NOW, options=OPTIONS)
    assert isinstance(intent, decider.Insert)
    assert intent.entry_id == "https://news.example.com/?p=1"
    assert intent.change is Change.NEW and intent.reason


def test_an_entry_without_an_iri_guid_gets_a_minted_id() -> None:
    intent = decider.decide("news", found_for(entry(guid="post-1")), now=NOW, options=OPTIONS)
    assert isinstance(intent, decider.Insert)
    assert intent.entry_id == dedupe.mint_entry_id("news", "guid:post-1")


def test_an_exact_key_match_merges_into_the_stored_story() -> None:
    match = dedupe.Match("tag:wire,2026:1", "wire", "same canonical link")
    intent = decider.decide("news", found_for(entry(), match=match), now=NOW, options=OPTIONS)
    assert isinstance(intent, decider.Merge)
    assert (intent.entry_id, intent.reason) == ("tag:wire,2026:1", "same canonical link")
    assert intent.change is Change.DUPLICATE


def test_a_near_copy_in_another_source_merges_with_its_scores() -> None:
    copy_text = STORY.replace("told analysts", "said in a call with analysts")
    wire = entry(copy_text, guid="https://wire.example.org/1", title="Harbor Mills buys Delta")
    candidate = dedupe.Candidate(
        copy=7,
        entry_id="https://wire.example.org/1",
        source="wire",
        title=wire.title,
        published=NOW - timedelta(hours=2),
        signature=dedupe.signature(copy_text) or (),
        body_text=copy_text,
    )
    item = entry()
    sig = dedupe.signature(item.body_text)
    assert sig is not None
    match = decider.near_copy("news", item, sig, NOW, [candidate], set(), OPTIONS)
    assert match is not None and match.reason == "near-identical body"
    intent = decider.decide("news", found_for(item, match=match), now=NOW, options=OPTIONS)
    assert isinstance(intent, decider.Merge)
    assert intent.entry_id == "https://wire.example.org/1"
    assert float(intent.scores["body"]) >= OPTIONS.body_threshold


def test_a_story_of_the_same_fetch_is_never_a_near_copy() -> None:
    item = entry()
    sig = dedupe.signature(item.body_text)
    assert sig is not None
    twin = dedupe.Candidate(1, "https://news.example.com/?p=0", "news", item.title, NOW, sig, STORY)
    fetched = {"https://news.example.com/?p=0"}
    assert decider.near_copy("news", item, sig, NOW, [twin], fetched, OPTIONS) is None
    assert decider.near_copy("news", item, sig, NOW, [twin], set(), OPTIONS) is not None


def test_a_reused_key_carrying_another_story_is_kept_apart() -> None:
    old = entry()
    new = entry(OTHER_STORY, title="Portland extends tram line by 3 miles")
    found = found_for(new)
    apart = decider.keep_apart(found.keys, stored(old), new, found.signature, lambda: STORY)
    assert apart is not None
    assert apart.key == found.keys.key and apart.distrust_guids
    assert "another story" in apart.reason
    found = replace(found, kept_apart=apart)
    assert decider.exact_keys_of(found).guid is None and decider.exact_keys_of(found).link is None
    intent = decider.decide("news", found, now=NOW, options=OPTIONS)
    assert isinstance(intent, decider.Insert)
    assert intent.entry_id != "https://news.example.com/?p=1"  # the stored copy keeps that id
    assert intent.scores == {"kept_apart": apart.reason}


def test_an_edit_of_the_same_story_is_not_kept_apart() -> None:
    old = entry()
    edited = entry(STORY.replace("4.2 percent", "4.3 percent"))
    found = found_for(edited)
    assert decider.keep_apart(found.keys, stored(old), edited, found.signature, str) is None


@pytest.mark.parametrize(
    ("updates", "expected"),
    [(0, decider.Update), (1, decider.Update), (2, decider.Throttle)],
)
def test_a_changed_copy_is_updated_until_the_churn_cap(updates: int, expected: type) -> None:
    old = stored(entry(), updates=updates, window_start=NOW - timedelta(hours=3))
    edited = entry(STORY.replace("4.2 percent", "4.3 percent"))
    intent = decider.decide("news", found_for(edited, existing=old), now=NOW, options=OPTIONS)
    assert isinstance(intent, expected)
    assert intent.entry_id == old.entry_id


def test_the_churn_window_passes_and_the_update_is_applied() -> None:
    old = stored(entry(), updates=5, window_start=NOW - timedelta(days=1, seconds=1))
    edited = entry(STORY.replace("4.2 percent", "4.3 percent"))
    intent = decider.decide("news", found_for(edited, existing=old), now=NOW, options=OPTIONS)
    assert isinstance(intent, decider.Update)


def test_the_same_text_as_stored_is_skipped() -> None:
    found = found_for(entry(), existing=stored(entry()))
    assert decider.unchanged(found)
    intent = decider.decide("news", found, now=NOW, options=OPTIONS)
    assert isinstance(intent, decider.Skip) and intent.change is Change.UNCHANGED


def test_a_dropped_story_is_saved_and_reported_as_dropped() -> None:
    intent = decider.decide("news", found_for(entry()), now=NOW, options=OPTIONS)
    dropped = decider.tombstoned(intent)
    assert isinstance(dropped, decider.Insert) and dropped.change is Change.DROPPED
    assert dropped.entry_id == intent.entry_id
    skip = decider.Skip("x", "the same text as stored")
    assert decider.tombstoned(skip).change is Change.UNCHANGED


def test_blank_or_repeated_guids_are_distrusted_once() -> None:
    twins = [entry(), entry(OTHER_STORY, link="https://news.example.com/tram/")]
    learnt = decider.distrust_guids(twins, None)
    assert learnt is not None and "repeated" in learnt.reason
    assert decider.distrust_guids(twins, "blank GUIDs") is None  # known already
    assert decider.distrust_guids([entry()], None) is None


def test_the_decider_imports_no_store_and_no_io() -> None:
    import ast
    from pathlib import Path

    source = Path(decider.__file__).read_text(encoding="utf-8")
    imported = {
        node.module
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.ImportFrom) and node.module
    } | {
        alias.name
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    banned = ("feeds.store", "feeds.ingest", "feeds.run", "sqlite3", "os", "socket", "pathlib")
    assert not [m for m in imported if m.startswith(banned)]
