"""Rewrite rules on an article page, before its body is extracted: pure, no I/O.

::

    page ─ strip (the source's CSS selectors, the site rule's strip XPaths and
           strip_id_or_class words) ─ body: the source's full_text_selector (CSS), else
           the site rule's body XPaths, first that matches → that HTML is the body
                                         ─ none set, or none matches → automatic extraction

FiveFilters' order: the first ``body:`` expression that matches wins; ``title:`` likewise.
When the rules would leave the page without text (a ``strip`` that matches the article's
container), the body is not taken from the page at all: :attr:`Ruled.problem` says which
rules, and the quality gate keeps the feed's text, saying so in the source's report.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from feeds.core.rewrite import PageRules, SiteRule
from feeds.ingest.normalize.rewrite import (
    WHOLE_BODY,
    _css,
    _matches,
    _xpath,
    has_text,
    strip_css,
    strip_site,
)

__all__ = ["Ruled", "apply", "site_title"]


@dataclass(frozen=True)
class Ruled:
    """What the rules made of a page: ``body`` is the selected body's HTML (None: extract
    it automatically from what is left of the page), ``applied`` the rules that changed
    something, ``problem`` why no body may be taken from the page."""

    body: str | None
    applied: tuple[str, ...]
    problem: str | None = None


def site_title(doc: etree._Element, site: SiteRule | None) -> str | None:
    """The first ``title:`` expression of the site rule that yields text."""
    for expression in site.title if site is not None else ():
        for value in _values(_xpath(expression)(doc)):
            if value.strip():
                return value.strip()
    return None


def _values(found: object) -> list[str]:
    if isinstance(found, str):
        return [found]
    if not isinstance(found, list):
        return []
    values: list[str] = []
    for v in found:
        if isinstance(v, str):
            values.append(v)
        elif isinstance(v, etree._Element):
            values.append("".join(str(t) for t in v.itertext()))
    return values


def _selectors(rules: PageRules, site: SiteRule | None) -> list[tuple[str, etree.XPath]]:
    """The body finders in the order they are tried, each with its rule's name."""
    if rules.selector:
        return [(f"full_text_selector {rules.selector}", _css(rules.selector))]
    if site is None:
        return []
    return [(f"{site.file}: body {x}", _xpath(x)) for x in site.body]


def apply(doc: etree._Element, rules: PageRules, site: SiteRule | None) -> Ruled:
    """Apply the strips to ``doc`` (in place) and select its body."""
    chosen: tuple[str, list[etree._Element]] | None = None
    for name, finder in _selectors(rules, site):
        found = _matches(finder, doc)
        if found and any(has_text(el) for el in found):
            chosen = (name, found)
            break
    page_had_text = has_text(doc)
    applied = strip_css(doc, rules.strip) + (strip_site(doc, site) if site else [])
    if chosen is None:
        if applied and page_had_text and not has_text(doc):
            return Ruled("", tuple(applied), f"{', '.join(applied)}: {WHOLE_BODY}")
        return Ruled(None, tuple(applied))
    name, found = chosen
    kept = [el for el in found if _inside(el, doc) and has_text(el)]
    if not kept:
        problem = f"{', '.join(applied)} (inside {name}): {WHOLE_BODY}"
        return Ruled("", tuple(applied), problem)
    body = "".join(
        etree.tostring(el, method="html", encoding="unicode", with_tail=False) for el in kept
    )
    return Ruled(body, (*applied, name))


def _inside(el: etree._Element, doc: etree._Element) -> bool:
    return el is doc or any(a is doc for a in el.iterancestors())
