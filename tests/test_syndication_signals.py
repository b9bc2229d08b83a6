"""The signals real syndication needs, each through the store (``ingest_entries`` into a real
SQLite file): a copy cut to its first paragraphs, a copy that links to the story it copies,
an edited lead, a table sent again with other labels, and the hard negatives beside them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from html import escape

import pytest

from feeds.app import provenance
from feeds.core import dedupe
from feeds.run.ingest import ingest_entries
from feeds.store.sql.candidates import LEAD_MIN_BANDS
from feeds.store.sqlite import Store
from feeds.types import CleanEntry, DedupeOptions

NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
SOURCES = ("ledger", "partner", "newswire", "digest")

STORY = [
    "The Ruritanian state railway said it would buy 42 electric locomotives from Westyard"
    " Engineering for about 1.3 billion crowns, its largest order in two decades, as it"
    " replaces diesel engines on the northern lines by 2031.",
    "Chief executive Marta Kessler told reporters in Strelsau that the first engines would"
    " arrive in 2028 and that the order would be paid for from the railway's own reserves"
    " and a loan from the Northern Development Bank.",
    "Westyard shares rose 6.4 percent to 212 crowns in morning trading, their highest since"
    " the company listed in 2019, while the wider market was flat.",
    "The unions at the railway welcomed the order but said they expected talks on training"
    " for drivers and maintenance crews to start before the summer.",
    "Analysts at Eastport Securities said the contract would lift Westyard's order book to"
    " a record and keep its Lindholm plant busy for at least four years.",
]
# Another railway's order, told in the same words: a hard negative for every signal.
OTHER = [p.replace("Ruritanian", "Borduvian").replace("42", "17") for p in STORY]
OTHER = [
    p.replace("1.3 billion", "540 million")
    .replace("Marta Kessler", "Ivo Brandt")
    .replace("Strelsau", "Zenda")
    .replace("2031", "2033")
    .replace("2028", "2030")
    .replace("6.4 percent to 212", "2.1 percent to 198")
    for p in OTHER
]
TABLE = (
    "Shr profit 13 cts vs loss one ct Net profit 853,000 vs loss 22,000 Revs 41.1 mln vs"
    " 20.3 mln Avg shrs 6,349,753 vs 4,403,852 Nine mths Shr profit 57 cts vs profit 28 cts"
    " Net profit 2,869,000 vs profit 1,252,000 Revs 119.0 mln vs 67.6 mln"
)


@pytest.fixture
def store(store: Store) -> Store:
    """The shared store (conftest.py) with every source of the corpus."""
    store.sync_sources([(name, f"https://{name}.example/feed/") for name in SOURCES])
    return store


def entry(source: str, n: int, title: str, paragraphs: list[str], extra: str = "") -> CleanEntry:
    link = f"https://{source}.example/2026/03/{n}/"
    html = "".join(f"<p>{escape(p)}</p>" for p in paragraphs) + extra
    text = " ".join(paragraphs)
    if extra:
        text += " " + extra.split(">", 2)[1].split("<")[0] + " Ledger"
    return CleanEntry(
        guid=f"urn:{source}:{n}",
        link=link,
        title=title,
        excerpt=None,
        content_html=html,
        body_text=text,
        published=NOW + timedelta(minutes=n),
        updated=None,
        author=None,
    )


def save(store: Store, source: str, item: CleanEntry) -> str:
    with store.transaction():
        ingest_entries(store, source, [item], now=NOW, options=DedupeOptions())
    found = store.resolve(item.link or "")
    assert found is not None
    return found


def test_a_copy_cut_to_its_first_paragraph_is_the_same_story(store: Store) -> None:
    original = save(store, "ledger", entry("ledger", 1, "Railway orders 42 engines", STORY))
    credit = '<p>Read the full story at <a href="https://ledger.example/2026/03/1/">The'
    cut = entry("partner", 2, "Railway orders 42 engines", STORY[:1], credit + " Ledger</a></p>")
    # the cut copy resembles the whole story too little for the signature alone
    sig_a, sig_b = dedupe.signature(" ".join(STORY)), dedupe.signature(cut.body_text)
    assert sig_a is not None and sig_b is not None
    assert dedupe.resemblance(sig_a, sig_b) < DedupeOptions().body_min
    assert save(store, "partner", cut) == original
    (copy,) = [c for c in store.copies(original) if c.source == "partner"]
    assert provenance.merge_text(copy).startswith("merged: contained in the other copy")
    assert "containment 1.0" in provenance.merge_text(copy)


def test_the_cut_of_another_railway_s_order_stays_apart(store: Store) -> None:
    original = save(store, "ledger", entry("ledger", 1, "Railway orders 42 engines", STORY))
    cut = entry("partner", 2, "Railway orders 17 engines", OTHER[:2])
    assert save(store, "partner", cut) != original


def test_an_original_edited_in_its_lead_still_finds_its_cut_copy(store: Store) -> None:
    cut = entry("partner", 2, "Railway orders 42 engines", STORY[:2])
    edited = [STORY[0].replace(" said ", " said on Tuesday ", 1), *STORY[1:]]
    shared = set(dedupe.lead_buckets(cut.body_text)) & set(dedupe.lead_buckets(" ".join(edited)))
    assert len(shared) >= LEAD_MIN_BANDS, "an edit in the lead changes only the keys it touches"
    save(store, "partner", cut)
    story = save(store, "ledger", entry("ledger", 1, "Railway orders 42 engines", edited))
    # one story (the original's id: no reader was shown the cut copy's before it came)
    assert store.resolve(cut.link or "") == story == "urn:ledger:1"


TEASER = [
    "Ruritania's state railway is to buy 42 electric locomotives from Westyard"
    " Engineering in a 1.3 billion crown deal announced in Strelsau by Marta Kessler,"
    " with deliveries from 2028 and the diesel fleet retired by 2031.",
]


@pytest.mark.parametrize("links", [True, False])
def test_a_rewritten_teaser_is_the_story_it_links_to(store: Store, links: bool) -> None:
    original = save(
        store, "ledger", entry("ledger", 1, "Railway orders 42 electric engines", STORY)
    )
    link = (
        '<p>More at <a href="https://ledger.example/2026/03/1/?utm_source=rss">The Ledger</a></p>'
    )
    teaser = entry("digest", 3, "Railway buys 42 electric engines", TEASER, link if links else "")
    # the rewrite alone is not enough; the link to the original's canonical URL is
    assert (save(store, "digest", teaser) == original) is links


def test_a_link_to_a_related_story_does_not_make_it_the_same(store: Store) -> None:
    original = save(store, "ledger", entry("ledger", 1, "Railway orders 42 engines", STORY))
    related = '<p>Related: <a href="https://ledger.example/2026/03/1/">Railway order</a></p>'
    other = entry("digest", 3, "Borduvia orders 17 engines", OTHER, related)
    assert save(store, "digest", other) != original


def test_a_table_sent_again_with_other_labels_is_the_same_report(store: Store) -> None:
    first = save(store, "ledger", entry("ledger", 1, "Wtd industries 3rd qtr net", [TABLE]))
    again = TABLE.replace("Revs", "Sales") + " Note: Company went public in October 1986."
    assert (
        save(store, "newswire", entry("newswire", 2, "Wtd industries 3rd qtr net", [again]))
        == first
    )


def test_another_company_s_table_stays_apart(store: Store) -> None:
    first = save(store, "ledger", entry("ledger", 1, "Wtd industries 3rd qtr net", [TABLE]))
    other = (
        TABLE.replace("853,000", "611,000")
        .replace("41.1", "38.2")
        .replace("6,349,753", "2,100,400")
    )
    other = (
        other.replace("2,869,000", "1,904,000").replace("119.0", "97.5").replace("57 cts", "44 cts")
    )
    got = save(store, "newswire", entry("newswire", 2, "Harbor holdings 3rd qtr net", [other]))
    assert got != first


def test_figures_prove_one_report_only_when_nearly_all_agree() -> None:
    a = frozenset(str(n) for n in range(10))
    assert dedupe.figures_prove(a, a | {"77"})
    assert not dedupe.figures_prove(a, frozenset(str(n) for n in range(5, 15)))
    assert not dedupe.figures_prove(frozenset({"1", "2", "3"}), frozenset({"1", "2", "3"}))


def test_datelines_and_credit_lines_are_not_signed_but_stay_published() -> None:
    body = (
        "LONDON, Mar 3 (The Ledger) - "
        + STORY[0]
        + " (Reporting by Ana Souza; Editing by Sam Hall)"
    )
    assert dedupe.signed_text(body).split() == STORY[0].split()
    assert dedupe.normalized_title("UPDATE 2-Railway orders 42 engines | The Ledger") == (
        "Railway orders 42 engines"
    )


NOTICE = "Qtly div four cts vs four cts prior Pay April 15 Record March 31"


def test_two_companies_short_notices_stay_apart(store: Store) -> None:
    first = save(store, "ledger", entry("ledger", 1, "Kestrel transport sets quarterly", [NOTICE]))
    other = NOTICE.replace("four cts vs four", "four cts vs three")
    got = save(
        store, "newswire", entry("newswire", 2, "Harbor asset management ups payout", [other])
    )
    assert got != first


def test_a_short_notice_sent_again_with_its_title_is_the_same(store: Store) -> None:
    first = save(store, "ledger", entry("ledger", 1, "Kestrel transport sets quarterly", [NOTICE]))
    again = entry("newswire", 2, "Kestrel transport co sets quarterly dividend", [NOTICE])
    assert save(store, "newswire", again) == first
