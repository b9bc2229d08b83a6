"""Article pages for one source: the cache, the per-run budget, fetching and extraction.

The I/O shell around :mod:`feeds.ingest.fulltext` (pure). For a list of article URLs::

    url ─ cached, and this source's entry unchanged? ─ yes → the cached extraction, no request
        ─ budget left (pages, seconds)? ─ no → deferred: the next run picks it up (a retry
          of a page that failed: the next run that reads the feed anyway; retries come last)
        ─ fetcher.fetch_many(public_only=True, conditional GET with the cached validators)
        ─ 304 or same body → cached extraction kept; HTML → fulltext.extract → new record
        ─ FetchError → a record with the error (tried again next run when it was transient)

then :func:`full_text` applies the quality gate entry by entry (the feed's own content is
kept when it fails, and the reason is recorded on the article), and :func:`section_entries`
turns a section page's article links into parsed entries. Nothing here writes to the store:
the caller saves the returned records in the source's transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from feeds.core.digest import sha256
from feeds.core.rewrite import PageRules
from feeds.errors import (
    FetchAbandonedError,
    FetchError,
    FetchTimeoutError,
    HostHeldError,
    HTTPStatusError,
)
from feeds.ingest import fulltext, normalize
from feeds.ingest.article_budget import Budget
from feeds.ingest.fetch import PageFetcher
from feeds.ingest.fetch.holds import HOLD_STATUSES
from feeds.store.protocol import ArticleCache
from feeds.types import (
    ArticleRecord,
    CleanEntry,
    FetchRequest,
    FetchResult,
    ParsedEntry,
)

NO_PAGE_RULES = PageRules()

MAX_PAGE_BYTES = 4 * 2**20
"""An article page larger than this is not read for its text: reading takes about half a second
per MiB of ordinary markup, and up to three per MiB of hostile markup (every ``<p>`` left
open), in the process that saves every source. Real article pages are a few hundred KiB."""

RECHECK_SECTION_ARTICLES = timedelta(hours=6)
"""A section page's article whose page gave no article (a 404, a stub too short for the
gate) is asked again this long after, while the section page lists it: it has no feed
text to stand in for it, and a breaking story's page grows from a few lines."""

__all__ = ["Budget", "FullTextResult", "SectionResult", "full_text", "section_entries"]


@dataclass(frozen=True)
class _Pages:
    records: dict[str, ArticleRecord]
    fresh: dict[str, ArticleRecord]  # fetched (or tried) on this run: to be saved
    deferred: tuple[str, ...]


def _load(
    wanted: Sequence[tuple[str, str]],
    *,
    source: str,
    store: ArticleCache,
    fetcher: PageFetcher,
    budget: Budget,
    batch: int,
    now: datetime,
    rules: PageRules = NO_PAGE_RULES,
    recheck: timedelta | None = None,
) -> _Pages:
    """Cached or freshly fetched records for ``wanted`` (url, entry_hash) pairs; with
    ``recheck``, a page that gave no article is asked again once that long has passed."""
    records, cached_by_url, to_fetch, order = _cached_or_wanted(wanted, source, store, now, recheck)
    fresh: dict[str, ArticleRecord] = {}
    deferred: list[str] = []
    for start in range(0, len(to_fetch), batch):
        chunk: list[tuple[str, str]] = []
        for url, entry_hash in to_fetch[start : start + batch]:
            if budget.take():
                chunk.append((url, entry_hash))
                continue
            stale = cached_by_url[url]
            if stale is not None:
                records[url] = stale  # better than the teaser until the next run revalidates
            if not order[url]:
                # The next run reads the document again for it. A retry left out waits for
                # the source's next change instead: a host that stays down would otherwise
                # have the whole feed downloaded again at every run.
                deferred.append(url)

        requests = [_request(source, url, cached_by_url[url]) for url, _ in chunk]
        outcomes = fetcher.fetch_many(requests, abandon=budget.abandons_pages)
        for (url, entry_hash), outcome in zip(chunk, outcomes, strict=True):
            if _unread(outcome, budget):
                stale = cached_by_url[url]
                if stale is not None:
                    records[url] = stale
                deferred.append(url)
                continue
            record = _record(source, url, entry_hash, cached_by_url[url], outcome, now, rules)
            records[url] = fresh[url] = record
    return _Pages(records=records, fresh=fresh, deferred=tuple(deferred))


def _cached_or_wanted(
    wanted: Sequence[tuple[str, str]],
    source: str,
    store: ArticleCache,
    now: datetime,
    recheck: timedelta | None,
) -> tuple[
    dict[str, ArticleRecord],
    dict[str, ArticleRecord | None],
    list[tuple[str, str]],
    dict[str, int],
]:
    """For :func:`_load`: the cached records that stand (by URL), every URL's cached record
    (None: none), the pages to fetch in the order to ask them, and each one's
    :func:`_retry_order` (a page asked again to recheck it: 1)."""
    records: dict[str, ArticleRecord] = {}
    cached_by_url: dict[str, ArticleRecord | None] = {}
    to_fetch: list[tuple[str, str]] = []
    order: dict[str, int] = {}
    for url, entry_hash in dict.fromkeys(wanted):
        if url in cached_by_url:
            continue
        cached = cached_by_url[url] = store.article(url)
        rechecked = _rechecked(cached, now, recheck)
        if (
            cached is not None
            and not cached.retry
            and (cached.entry_hash == entry_hash or cached.source != source)
            and not rechecked
        ):
            records[url] = cached
        else:
            to_fetch.append((url, entry_hash))
            order[url] = _retry_order(cached) or int(rechecked)
    # The retries of pages whose last try failed for a passing reason come after the others
    # (in feed order all): a page that keeps failing never takes the budget of the rest.
    to_fetch.sort(key=lambda wanted_page: order[wanted_page[0]])
    return records, cached_by_url, to_fetch, order


def _unread(outcome: FetchResult | FetchError, budget: Budget) -> bool:
    """A page left as if not taken: no time to read it, or abandoned (a daemon stopping)."""
    return isinstance(outcome, FetchAbandonedError) or (budget.out_of_time() and _has_page(outcome))


def _has_page(outcome: FetchResult | FetchError) -> bool:
    return isinstance(outcome, FetchResult) and outcome.content is not None


def _failed_before(cached: ArticleRecord | None) -> bool:
    """Whether the page is asked for again because its last try failed for a passing reason."""
    return cached is not None and cached.retry


def _rechecked(cached: ArticleRecord | None, now: datetime, recheck: timedelta | None) -> bool:
    """Whether a page that gave no article (an error that does not pass, a body the gate
    refused) is asked again: ``recheck`` after it was last fetched."""
    if recheck is None or cached is None or (cached.error is None and cached.note is None):
        return False
    return now - cached.fetched >= recheck


def _retry_order(cached: ArticleRecord | None) -> int:
    """When a page is asked for in its run: new and changed pages first (0), then retries
    (1), and last the retries of pages that answered 429 or 503 themselves (2). Asked first,
    a page that kept answering 429 held its host at every run, and the pages of that host
    not asked because of it (retries too) came after it, and were never asked again."""
    if not _failed_before(cached):
        return 0
    return 2 if cached is not None and cached.status in HOLD_STATUSES else 1


def _request(source: str, url: str, cached: ArticleRecord | None) -> FetchRequest:
    """A guarded GET of an HTML page of at most :data:`MAX_PAGE_BYTES` (a PDF, an image, a
    larger or endless body is not read: the fetcher looks at the answer's type and declared
    length first), conditional when the cached record holds an extracted body."""
    page = FetchRequest(
        source=source, url=url, public_only=True, html_only=True, max_bytes=MAX_PAGE_BYTES
    )
    if cached is None or cached.error is not None or not cached.content_html:
        return page
    return replace(
        page, etag=cached.etag, last_modified=cached.last_modified, body_hash=cached.body_hash
    )


def _transient(error: FetchError) -> bool:
    """Worth another try next run: timeouts, connection failures, 429 and 5xx answers, and
    pages not asked while their host was held."""
    if isinstance(error, HTTPStatusError):
        return error.status == 429 or error.status >= 500
    return isinstance(error, FetchTimeoutError | HostHeldError) or type(error) is FetchError


def _failed(
    source: str, url: str, entry_hash: str, error: FetchError, now: datetime
) -> ArticleRecord:
    return ArticleRecord(
        url=url,
        fetched=now,
        source=source,
        entry_hash=entry_hash,
        status=error.status if isinstance(error, HTTPStatusError) else None,
        error=error.message,
        retry=_transient(error),
    )


def _record(
    source: str,
    url: str,
    entry_hash: str,
    cached: ArticleRecord | None,
    outcome: FetchResult | FetchError,
    now: datetime,
    rules: PageRules = NO_PAGE_RULES,
) -> ArticleRecord:
    if isinstance(outcome, FetchError):
        failed = _failed(source, url, entry_hash, outcome, now)
        if isinstance(outcome, HostHeldError) and cached and _retry_order(cached) == 2:
            # Not asked, its host held: its own last answer (a 429) still asks it to wait.
            failed = replace(failed, status=cached.status)
        return failed
    if outcome.content is None:
        if cached is None:  # we sent no validators, so this cannot be; be safe anyway
            return ArticleRecord(
                url=url, fetched=now, source=source, entry_hash=entry_hash, error="no body"
            )
        return replace(
            cached,
            fetched=now,
            source=source,
            entry_hash=entry_hash,
            status=outcome.status,
            etag=outcome.etag,
            last_modified=outcome.last_modified,
            note=None,
        )
    base = ArticleRecord(
        url=url,
        fetched=now,
        source=source,
        entry_hash=entry_hash,
        final_url=outcome.final_url,
        status=outcome.status,
        etag=outcome.etag,
        last_modified=outcome.last_modified,
        body_hash=outcome.body_hash,
    )
    return _read_page(base, outcome, outcome.content, rules)


def _read_page(
    base: ArticleRecord, outcome: FetchResult, content: bytes, rules: PageRules
) -> ArticleRecord:
    """``base`` with what the fetched page ``content`` says (its article, or why none)."""
    media = outcome.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media and "html" not in media and "xml" not in media:
        return replace(base, error=f"not an HTML page ({media})")
    if len(content) > MAX_PAGE_BYTES:
        size = len(content) / 2**20
        limit = MAX_PAGE_BYTES // 2**20
        return replace(
            base, error=f"the page is too large to read ({size:.1f} MiB, at most {limit})"
        )
    content_type = outcome.headers.get("content-type")
    article = fulltext.extract(content, outcome.final_url, rules, content_type)
    return replace(
        base,
        title=article.title,
        author=article.author,
        published=article.published,
        updated=article.updated,
        content_html=article.content_html,
        text=article.text,
        error=article.problem
        or (None if article.content_html else "no article text found on the page"),
        image=article.image,
        rules=article.rules,
    )


def _entry_hash(entry: ParsedEntry, rules: PageRules = NO_PAGE_RULES) -> str:
    """What the feed said about an article, and the rules its page is read under: a
    change to either makes us look at the page again."""
    parts: tuple[str | None, ...] = (entry.link, entry.title, entry.summary, entry.content)
    if rules:
        parts += (_rules_key(entry.link, rules),)
    return sha256("\x1f".join(p or "" for p in parts).encode()).hexdigest()


def _rules_key(url: str | None, rules: PageRules) -> str:
    try:
        host = urlsplit(url or "").hostname or ""
    except ValueError:
        host = ""
    return "rules:" + rules.key(host)


@dataclass(frozen=True)
class FullTextResult:
    """Entries with full text where the gate let it in, and what to save and report."""

    entries: tuple[CleanEntry, ...]
    records: tuple[ArticleRecord, ...]
    deferred: int
    note: str | None


def full_text(
    source: str,
    mode: str | bool,
    parsed: Sequence[ParsedEntry],
    cleaned: Sequence[CleanEntry],
    *,
    store: ArticleCache,
    fetcher: PageFetcher,
    budget: Budget,
    batch: int,
    now: datetime,
    wants: Sequence[bool] | None = None,
    rules: PageRules = NO_PAGE_RULES,
) -> FullTextResult:
    """Replace teaser-only bodies by their article pages' text where the gate allows it.

    ``wants`` is :func:`fulltext.wants_full_text` for each entry when the caller has it
    (``parsed`` may then be empty when no entry wants its page).
    """
    wanted = _wanted_pages(mode, parsed, cleaned, wants, rules)
    if not wanted:
        return FullTextResult(tuple(cleaned), (), 0, None)
    pages = _load(
        list(wanted.values()),
        source=source,
        store=store,
        fetcher=fetcher,
        budget=budget,
        batch=batch,
        now=now,
        rules=rules,
    )
    entries = list(cleaned)
    verdicts: dict[str, str | None] = {}
    used = 0
    reasons: list[str] = []
    for i, (url, _) in wanted.items():
        record = pages.records.get(url)
        if record is None:
            continue  # deferred
        entries[i], reason = _with_page(entries[i], record)
        verdicts[url] = reason
        if reason is not None:
            reasons.append(f"{url}: {reason}")
        else:
            used += 1
    note = _note(used, reasons, len(pages.deferred), "from article pages")
    to_save = _records_to_save(pages, verdicts)
    return FullTextResult(tuple(entries), to_save, len(pages.deferred), note)


def _with_page(clean: CleanEntry, record: ArticleRecord) -> tuple[CleanEntry, str | None]:
    """The entry with its article page's body if the gate allows it (else the reason not),
    and the page's lead image in any case."""
    if clean.image is None and record.image is not None:
        # The page's lead image, also when its text is not used: the publisher chose
        # it for this article (the feed's own image, when it has one, comes first).
        clean = replace(clean, image=record.image)
    reason = record.error or fulltext.gate(record.text, clean.body_text)
    if reason is not None:
        return clean, reason
    # A cut excerpt only said "this is a teaser"; the teaser is now cut from the body.
    excerpt = clean.excerpt if clean.excerpt and not normalize.is_cut(clean.excerpt) else None
    page = replace(
        clean,
        content_html=record.content_html,
        body_text=record.text,
        excerpt=excerpt,
        author=clean.author or record.author,
        rules=(*clean.rules, *record.rules),
    )
    return page, None


def _wanted_pages(
    mode: str | bool,
    parsed: Sequence[ParsedEntry],
    cleaned: Sequence[CleanEntry],
    wants: Sequence[bool] | None,
    rules: PageRules,
) -> dict[int, tuple[str, str]]:
    """The entries whose article page is wanted: index → (link, entry hash)."""
    if wants is None:
        wants = [
            bool(clean.link) and fulltext.wants_full_text(raw, mode, content_text=clean.body_text)
            for raw, clean in zip(parsed, cleaned, strict=True)
        ]
    if not any(wants):
        return {}
    wanted: dict[int, tuple[str, str]] = {}
    for i, (raw, clean) in enumerate(zip(parsed, cleaned, strict=True)):
        if wants[i] and clean.link:
            wanted[i] = (clean.link, _entry_hash(raw, rules))
    return wanted


def _records_to_save(pages: _Pages, verdicts: dict[str, str | None]) -> tuple[ArticleRecord, ...]:
    """The fresh records, and every record whose verdict changed, so that `feeds sources`
    and the cache agree."""
    to_save = dict(pages.fresh)
    for url, reason in verdicts.items():
        record = to_save.get(url) or pages.records[url]
        if url in to_save or record.note != reason:
            to_save[url] = replace(record, note=reason)
    return tuple(to_save.values())


def _note(used: int, reasons: list[str], deferred: int, what: str) -> str:
    parts = [f"{used} {what}"]
    if reasons:
        parts.append(f"{len(reasons)} kept the feed's text (first: {reasons[0]})")
    if deferred:
        parts.append(f"{deferred} left for the next run (budget)")
    return "full text: " + ", ".join(parts)


@dataclass(frozen=True)
class SectionResult:
    """Entries built from a section page's article links."""

    entries: tuple[ParsedEntry, ...]
    records: tuple[ArticleRecord, ...]
    #: Article pages to try on the next run: left out by the budget, or failed for a
    #: passing reason (a timeout, a 5xx or 429 answer).
    deferred: int
    note: str
    #: The rewrite rules that changed each entry's page, by its link.
    rules: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


def _article_entry(url: str, record: ArticleRecord, headline: str | None) -> ParsedEntry:
    """The entry a section page's article link makes of its page (and of its ``headline``)."""
    return ParsedEntry(
        link=url,
        canonical_link=record.final_url,
        title=record.title or headline,
        content=record.content_html,
        published=record.published,
        updated=record.updated,
        author=record.author,
        base_url=record.final_url or url,
        image=record.image,
    )


def section_entries(
    source: str,
    links: Sequence[str],
    *,
    store: ArticleCache,
    fetcher: PageFetcher,
    budget: Budget,
    batch: int,
    now: datetime,
    rules: PageRules = NO_PAGE_RULES,
    headlines: Mapping[str, str] | None = None,  # each link's text on the section page
) -> SectionResult:
    """Fetch (or take from the cache) each article link and build an entry from its page."""
    pages = _load(
        [(url, _rules_key(url, rules) if rules else "") for url in links],
        source=source,
        store=store,
        fetcher=fetcher,
        budget=budget,
        batch=batch,
        now=now,
        rules=rules,
        recheck=RECHECK_SECTION_ARTICLES,
    )
    entries: list[ParsedEntry] = []
    reasons: list[str] = []
    to_save = dict(pages.fresh)
    for url in links:
        record = pages.records.get(url)
        if record is None:
            continue
        reason = (
            record.error
            or fulltext.sign_in_redirect(url, record.final_url)
            or fulltext.gate(record.text, None)
        )
        if url in to_save or record.note != reason:
            to_save[url] = replace(record, note=reason)
        if reason is not None:
            reasons.append(f"{url}: {reason}")
            continue
        entries.append(_article_entry(url, record, (headlines or {}).get(url)))
    note = _note(len(entries), reasons, len(pages.deferred), "articles from the section page")
    note = note.replace("kept the feed's text", "skipped")
    applied = {e.link or "": r.rules for e in entries if (r := pages.records[e.link or ""]).rules}
    # A page that failed for a passing reason has no entry at all (a feed's has its teaser):
    # the section page is read again next run, so it is tried again while the page lists it.
    retries = sum(_failed_before(pages.records.get(url)) for url in links)
    return SectionResult(
        tuple(entries), tuple(to_save.values()), len(pages.deferred) + retries, note, applied
    )
