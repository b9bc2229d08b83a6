"""Full article text from an article page, and the quality gate: pure functions, no I/O.

The only module that imports trafilatura, and only when a page is extracted
(importing it costs about 0.15 s, which ``feeds --help`` and runs without
teaser-only feeds should not pay).

::

    page bytes ─ lxml ─ metadata (title, author, dates, og:image)
               ─ rewrite rules (pages.apply: strips; a body selector that matches → its HTML)
               ─ else: WordPress boilerplate blocks out ─ trafilatura (include_comments=False,
                 favor_precision=True, HTML out)
                 ─ fewer than MIN_WORDS words: the articleBody of the page's JSON-LD, if longer
               ─ normalize.sanitize_html (boilerplate rules again, nh3 allow-list; body
                 replacements) ─ Article

    gate(article text, feed's teaser text) → None (use it) or the reason to keep the feed's

Choices (the issue leaves them open):

* ``auto`` wants the page when the feed carries no text at all, when its body (the content,
  else the description) ends in a cut marker (WordPress's " [&#8230;]") or carries a "Continue
  reading" link (``class="more-link"``, ``#more-123``), or when its content
  has no more words than its description (a ``content:encoded`` that repeats the teaser).
  A description-only feed whose descriptions are not cut carries whole (short) articles.
* The gate asks for at least :data:`MIN_WORDS` words *and* more words than the teaser, at
  least :data:`MIN_TEASER_COVERAGE` of the teaser's word trigrams (so "most of it": a
  teaser whose last words were reworded still passes), and none of the comment-section
  phrases WordPress prints (:data:`_COMMENT_TEXT`).
* Dates come from the page's ``article:published_time`` / ``article:modified_time`` meta
  tags, else its first ``<time class="published">`` / ``class="updated"``, else its JSON-LD
  article's ``datePublished`` / ``dateModified``, else (published) its first ``<time
  datetime>`` inside an ``<article>``, else anywhere, because trafilatura reports days only;
  its date is the fallback (midnight UTC).
"""

from __future__ import annotations

import contextlib
import logging
import re
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime

import lxml.html
from lxml import etree

from feeds.core.rewrite import FeedRules, PageRules
from feeds.ingest import json_ld, normalize, pages
from feeds.ingest.page_html import html_document
from feeds.ingest.urljoin import urljoin, urlsplit
from feeds.types import ParsedEntry

__all__ = ["MIN_TEASER_COVERAGE", "MIN_WORDS", "Article", "extract", "gate", "wants_full_text"]

NO_PAGE_RULES = PageRules()

MIN_WORDS = 50
"""An extracted body shorter than this is not an article (a paywall stub, an error page)."""
MIN_TEASER_COVERAGE = 0.7
"""Share of the teaser's word trigrams the extracted body must contain."""

# What WordPress prints around its comment form and comment list. None of it may reach a body.
_COMMENT_TEXT = re.compile(
    r"Leave a (?:Reply|Comment)|Your email address will not be published"
    r"|Required fields are marked|Post Comment\b|Cancel reply"
    r"|Save my name, email, and website|\b\d+ (?:thoughts|responses|comments) on\b",
    re.IGNORECASE,
)
_WORD = re.compile(r"\w+")
# WordPress's "Continue reading" link after an excerpt: <a class="more-link" href="…#more-123">.
_MORE_LINK = re.compile(r"""class=["'][^"']*\bmore-link\b|href=["'][^"']*#more-\d+["']""")
# Sidebars and site chrome that are never part of an article body.
_CHROME = etree.XPath(
    "//aside | //nav | //footer | //*[@id='secondary' or @id='sidebar']"
    " | //*[contains(concat(' ', normalize-space(@class), ' '), ' widget-area ')]"
)
# Where a page's dates are, most telling first (each tried in turn: in one XPath union they
# came in page order, and a news ticker's <time> above the article was its date).
_PUBLISHED = tuple(
    etree.XPath(where)
    for where in (
        "//meta[@property='article:published_time']/@content",
        "//time[contains(concat(' ', normalize-space(@class), ' '), ' published ')]/@datetime",
        "//article//time/@datetime",
        "//time/@datetime",
    )
)
_IMAGE = etree.XPath(
    "//meta[@property='og:image' or @property='og:image:url' or @property='og:image:secure_url']"
    "/@content | //meta[@name='twitter:image' or @property='twitter:image']/@content"
)
# The document's base URL (the first <base> with an href counts, as in browsers).
_BASE_HREF = etree.XPath("//base[@href]/@href")
_MODIFIED = tuple(
    etree.XPath(where)
    for where in (
        "//meta[@property='article:modified_time']/@content",
        "//time[contains(concat(' ', normalize-space(@class), ' '), ' updated ')]/@datetime",
    )
)


@dataclass(frozen=True)
class Article:
    """What an article page yielded.

    ``content_html`` is sanitized body HTML (``""`` when nothing was found) and
    ``text`` its plain text; ``title`` and ``author`` are plain text; dates are UTC.
    """

    url: str
    title: str | None
    author: str | None
    published: datetime | None
    updated: datetime | None
    content_html: str
    text: str
    #: The page's lead image: ``og:image`` (else ``twitter:image``) resolved against the
    #: page's URL, http(s) only, written like every link.
    image: str | None = None
    #: The rewrite rules that changed the body, and why the rules left no body (the
    #: feed's text is kept then).
    rules: tuple[str, ...] = ()
    problem: str | None = None


def _words(text: str) -> list[str]:
    return [w.casefold() for w in _WORD.findall(text)]


def wants_full_text(
    entry: ParsedEntry, mode: str | bool, *, content_text: str | None = None
) -> bool:
    """Whether to fetch ``entry``'s article page under ``full_text = mode``.

    Never without an http(s) link. ``"auto"``: see the module docstring.
    ``content_text`` is the entry's cleaned body text when the caller already has
    it (the normalizer made it from ``entry.content``): it saves parsing the body
    again, and boilerplate such as a comment form no longer counts as article text.
    """
    link = (entry.link or "").strip().lower()
    if mode is False or not link.startswith(("http://", "https://")):
        return False
    if mode is True:
        return True
    if content_text is None or not (entry.content and entry.content.strip()):
        content_text = normalize.html_to_text(entry.content or "")
    content = content_text
    # The description's text is needed when it is the body, else only for the word count.
    summary = None if content else normalize.html_to_text(entry.summary or "")
    body = content or summary
    if not body or normalize.is_cut(body) or _has_more_link(entry.content or entry.summary or ""):
        return True
    if not content:
        return False
    if summary is None:
        summary = normalize.html_to_text(entry.summary or "")
    return not _more_words(content, len(_WORD.findall(summary)))


def _has_more_link(html: str) -> bool:
    # Both spellings contain "more-": looking for it first is 15 times cheaper than the regex
    # search on a 3 kB body that has neither.
    return "more-" in html and _MORE_LINK.search(html) is not None


def _more_words(text: str, count: int) -> bool:
    """Whether ``text`` has more than ``count`` words, mostly without counting them all.

    A prefix has no more words than the whole text (a word it cuts in two is still one), so
    a prefix with more than ``count`` words settles it; a body is usually far longer than its
    description, and 8 characters a word is generous.
    """
    prefix = text[: 8 * (count + 1)]
    if len(_WORD.findall(prefix)) > count:
        return True
    return len(prefix) < len(text) and len(_WORD.findall(text)) > count


def _quiet_libraries() -> None:
    """Keep the extraction libraries' log records ("discarding data: …") off stderr.

    Without a handler of its own, a library's WARNING goes to Python's last-resort
    handler, i.e. to stderr and so into every cron mail. What a page yielded is
    reported through ``Article`` and the gate instead.
    """
    for name in ("trafilatura", "htmldate", "courlan", "justext"):
        logger = logging.getLogger(name)
        if not logger.handlers:
            logger.addHandler(logging.NullHandler())


def extract(
    page: bytes, url: str, rules: PageRules = NO_PAGE_RULES, content_type: str | None = None
) -> Article:
    """Extract the article of an HTML page fetched from ``url`` (its final URL), under the
    source's ``rules`` and the site rule of the page's host (see :mod:`feeds.ingest.pages`).
    ``content_type``: the response's header, whose charset says how to read the page (see
    :mod:`feeds.ingest.page_html`)."""
    with warnings.catch_warnings():
        # The extraction libraries may warn about odd pages (or about their own
        # dependencies); those are facts about one page, not our problems.
        warnings.simplefilter("ignore")
        return _extract(page, url, rules, content_type)


def _extract(page: bytes, url: str, rules: PageRules, content_type: str | None) -> Article:
    import trafilatura  # lazily: see the module docstring

    _quiet_libraries()
    try:
        doc = html_document(page, content_type)
    except (etree.LxmlError, ValueError):
        return Article(url, None, None, None, None, "", "")
    base = _links_made_absolute(doc, url)
    metadata = trafilatura.extract_metadata(doc, default_url=url)
    site = rules.site(urlsplit(url).hostname or "") if rules else None
    raw_title = pages.site_title(doc, site) or metadata.title
    title = normalize.clean_title(raw_title) if raw_title else None
    author = normalize.clean_title(metadata.author) if metadata.author else None
    ld = json_ld.scripts(doc)  # before the extraction drops them
    published, updated = _dates(doc, ld, metadata.date)
    image = _lead_image(doc, url)

    ruled = pages.apply(doc, rules, site) if rules else None
    if ruled is not None and ruled.body is not None:
        body: str | None = ruled.body
    else:
        body = _or_json_ld(_automatic(doc, url), ld)
        if not body and ruled is not None and ruled.applied:
            # Nothing left to extract: was it the rules? Then they are not applied, and
            # the reason goes to the report (the gate keeps the feed's text).
            unruled = html_document(page, content_type)
            _links_made_absolute(unruled, url)
            if _automatic(unruled, url):
                problem = f"{', '.join(ruled.applied)}: {normalize.WHOLE_BODY}"
                ruled = pages.Ruled("", ruled.applied, problem)
    applied: tuple[str, ...] = ruled.applied if ruled is not None else ()
    if body and rules.replace:
        content_html, replaced = normalize.sanitize_with_rules(
            body, base_url=base, rules=FeedRules((), rules.replace)
        )
        applied += replaced
    else:
        content_html = normalize.sanitize_html(body, base_url=base) if body else ""
    content_html = _without_title(content_html, title)
    return Article(
        url=url,
        title=title or None,
        author=author or None,
        published=published,
        updated=updated,
        content_html=content_html,
        text=normalize.html_to_text(content_html),
        image=image,
        rules=applied,
        problem=ruled.problem if ruled is not None else None,
    )


def _links_made_absolute(doc: lxml.html.HtmlElement, url: str) -> str:
    """Make the links of ``doc`` absolute, against its base: its first ``<base href>``
    (joined to ``url``, the page's own URL) when that is an http(s) URL, else ``url``; the
    base, which the links left in the extracted body (``srcset``) are joined to.

    Done before the extraction, which joined an ``<a href>`` to the site's root (not to the
    page: ``part-2.html`` of ``/news/story.html`` became ``/part-2.html``) and knew nothing
    of ``<base>``."""
    base = url
    found = _BASE_HREF(doc)
    if isinstance(found, list) and found:
        with contextlib.suppress(ValueError):
            joined = urljoin(url, str(found[0]).strip())
            if urlsplit(joined).scheme in ("http", "https"):
                base = joined
    for tag in doc.iter("base"):
        tag.drop_tree()
    doc.make_links_absolute(base, resolve_base_href=False, handle_failures="ignore")
    return base


def _automatic(doc: lxml.html.HtmlElement, url: str) -> str | None:
    """The article body trafilatura finds in ``doc`` (HTML), after the built-in cleanup."""
    import trafilatura  # lazily: see the module docstring

    normalize.drop_boilerplate_blocks(doc)
    chrome = _CHROME(doc)
    for el in chrome if isinstance(chrome, list) else []:
        if isinstance(el, lxml.html.HtmlElement) and el.getparent() is not None:
            el.drop_tree()
    body: str | None = trafilatura.extract(
        doc,
        url=url,
        output_format="html",
        include_comments=False,
        favor_precision=True,
        include_links=True,
        include_images=True,
        include_tables=True,
        include_formatting=True,
    )
    return body


def _or_json_ld(body: str | None, scripts: list[str]) -> str | None:
    """``body``, or the ``articleBody`` of the page's JSON-LD ``scripts`` (see
    :mod:`feeds.ingest.json_ld`) when ``body`` has fewer than :data:`MIN_WORDS` words and
    that has more: a page built by JavaScript has no body in its HTML."""
    words = len(_WORD.findall(normalize.html_to_text(body))) if body else 0
    if not scripts or words >= MIN_WORDS:
        return body
    found = json_ld.article_body(scripts)
    if found is not None and len(_WORD.findall(normalize.html_to_text(found))) > words:
        return found
    return body


def _lead_image(doc: lxml.html.HtmlElement, url: str) -> str | None:
    """The first usable ``og:image`` / ``twitter:image`` of the page."""
    found = _IMAGE(doc)
    for value in found if isinstance(found, list) else []:
        image = normalize.media_url(str(value), url)
        if image is not None:
            return image
    return None


def _without_title(content_html: str, title: str | None) -> str:
    """Drop a leading heading that repeats the title (the entry carries it already)."""
    if not title:
        return content_html
    match = re.match(r"\s*<h[1-6][^>]*>(.*?)</h[1-6]>", content_html, re.DOTALL)
    if match and normalize.clean_title(match.group(1), is_html=True) == title:
        return content_html[match.end() :].lstrip()
    return content_html


def _dates(
    doc: etree._Element, ld: list[str], day: str | None
) -> tuple[datetime | None, datetime | None]:
    """The page's published and updated dates: its meta tags and marked ``<time>``, else its
    JSON-LD article's, else (published) its other ``<time>``, else ``day`` (trafilatura's)."""
    published = _first_date(doc, _PUBLISHED[:2])
    if published is None and ld:
        published = _day(json_ld.article_field(ld, "datePublished"))
    published = published or _first_date(doc, _PUBLISHED[2:]) or _day(day)
    updated = _first_date(doc, _MODIFIED)
    if updated is None and ld:
        updated = _day(json_ld.article_field(ld, "dateModified"))
    return published, updated


def _first_date(doc: etree._Element, places: tuple[etree.XPath, ...]) -> datetime | None:
    """The first readable date of the first of ``places`` that has one in ``doc``."""
    for place in places:
        values = place(doc)
        for value in values if isinstance(values, list) else []:
            parsed = _iso_date(str(value))
            if parsed is not None:
                return parsed
    return None


def _iso_date(value: str) -> datetime | None:
    value = value.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(value)
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError):  # in UTC past year 9999 or before year 1
        return None


def _day(value: str | None) -> datetime | None:
    return _iso_date(value) if value else None


# A whole segment of the path (with an extension, or not): an article's slug that starts
# so (/news/register-to-vote-by-friday/, moved to its trailing slash) is no sign-in page.
_SIGN_IN_PATH = re.compile(
    r"(?:^|/)(?:wp-login|log-?in|sign-?in|sign-?on|sso|auth|register|subscribe|paywall)"
    r"(?:\.[a-z0-9]+)?(?:/|$)",
    re.IGNORECASE,
)


def sign_in_redirect(url: str, final_url: str | None) -> str | None:
    """Why the page fetched for ``url`` is no article, when a redirect took it to a sign-in
    or subscription page (``/wp-login.php?redirect_to=…``), else ``None``: with no teaser to
    compare, a login form with enough words around it passed the gate as the article."""
    if not final_url or final_url == url:
        return None
    with contextlib.suppress(ValueError):
        path = urlsplit(final_url).path
        if path != urlsplit(url).path and _SIGN_IN_PATH.search(path):
            return f"redirected to a sign-in page ({final_url})"
    return None


def gate(text: str, teaser: str | None) -> str | None:
    """``None`` when an extracted body may replace the feed's, else the reason it may not.

    ``teaser`` is the text the feed carried for the article (``None`` for an
    article found on a section page: only length and comment text count then).
    """
    words = _words(text)
    comment = _COMMENT_TEXT.search(text)
    if comment is not None:
        return f"extracted text contains comment-section text ({comment.group(0).strip()!r})"
    if len(words) < MIN_WORDS:
        return f"extracted text too short ({len(words)} words, need {MIN_WORDS})"
    if not teaser:
        return None
    teaser_words = _words(teaser)  # a cut marker (" […]") has no word characters
    if len(words) <= len(teaser_words):
        return f"extracted text ({len(words)} words) is no longer than the feed's teaser"
    wanted = _trigrams(teaser_words)
    if wanted:
        found = len(wanted & _trigrams(words)) / len(wanted)
        if found < MIN_TEASER_COVERAGE:
            return f"extracted text does not contain the feed's teaser ({found:.0%} of it found)"
    return None


def _trigrams(words: list[str]) -> set[tuple[str, ...]]:
    if len(words) < 3:
        return {tuple(words)} if words else set()
    return {tuple(words[i : i + 3]) for i in range(len(words) - 2)}
