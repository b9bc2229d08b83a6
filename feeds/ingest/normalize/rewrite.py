"""Apply rewrite rules (:mod:`feeds.core.rewrite`) to a parsed body or a title.

Each function returns the names of the rules that changed something (``"strip .ad"``,
``"replace body #1"``), which the copy keeps for ``feeds explain``. A rule that matches
nothing is not named. Markup is never rewritten by a regular expression: ``replace`` works
on text nodes (and tails) only, so it cannot open a tag or break one; what it writes is
text, escaped like any other.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache

from lxml import etree

from feeds.core.rewrite import Replace, SiteRule
from feeds.ingest.normalize.markup import _drop_tree, _text_content

#: What a rule that would leave nothing says instead of applying (the feed's text is kept).
WHOLE_BODY = "not applied: it would remove the whole body"


@lru_cache(maxsize=256)
def _css(selector: str) -> etree.XPath:
    from lxml.cssselect import CSSSelector

    return CSSSelector(selector)


@lru_cache(maxsize=1024)
def _xpath(expression: str) -> etree.XPath:
    return etree.XPath(expression)


def _matches(finder: etree.XPath, root: etree._Element) -> list[etree._Element]:
    found = finder(root)
    if not isinstance(found, list):
        return []
    return [el for el in found if isinstance(el, etree._Element) and el is not root]


def _remove(root: etree._Element, elements: Iterable[etree._Element]) -> bool:
    removed = False
    for el in elements:
        # An element inside one removed before it is gone with it.
        if any(a is root for a in el.iterancestors()):
            _drop_tree(el)
            removed = True
    return removed


def strip_css(root: etree._Element, selectors: Sequence[str]) -> list[str]:
    """Remove the elements each CSS selector matches; the names of those that matched."""
    return [f"strip {s}" for s in selectors if _remove(root, _matches(_css(s), root))]


def strip_site(root: etree._Element, rule: SiteRule) -> list[str]:
    """A site rule's ``strip`` (XPath) and ``strip_id_or_class`` (a word in an id or class)."""
    names = [
        f"{rule.file}: strip {x}" for x in rule.strip if _remove(root, _matches(_xpath(x), root))
    ]
    for word in rule.strip_id_or_class:
        # FiveFilters: contains(@id, word) or contains(@class, word), as written.
        finder = _xpath(
            f"//*[contains(@class, {_literal(word)}) or contains(@id, {_literal(word)})]"
        )
        if _remove(root, _matches(finder, root)):
            names.append(f"{rule.file}: strip_id_or_class {word}")
    return names


def _literal(text: str) -> str:
    """``text`` as an XPath 1.0 string literal (which has no escapes)."""
    if "'" not in text:
        return f"'{text}'"
    if '"' not in text:
        return f'"{text}"'
    parts = text.split("'")
    return "concat(" + ', "\'", '.join(f"'{p}'" for p in parts) + ")"


def replace_body(root: etree._Element, replaces: Sequence[Replace]) -> list[str]:
    """Apply the ``field = "body"`` replacements to every text node under ``root``."""
    names: list[str] = []
    for rule in replaces:
        if rule.field != "body":
            continue
        changed = False
        for el in root.iter():
            if el is not root and el.tail:
                new = rule.compiled.sub(rule.with_, el.tail)
                if new != el.tail:
                    el.tail, changed = new, True
            if isinstance(el.tag, str) and el.text:
                new = rule.compiled.sub(rule.with_, el.text)
                if new != el.text:
                    el.text, changed = new, True
        if changed:
            names.append(rule.name)
    return names


def replace_title(title: str, replaces: Sequence[Replace]) -> tuple[str, list[str]]:
    """Apply the ``field = "title"`` replacements; a title they would empty is kept."""
    names: list[str] = []
    for rule in replaces:
        if rule.field != "title":
            continue
        new = " ".join(rule.compiled.sub(rule.with_, title).split())
        if new == title:
            continue
        if not new:
            names.append(f"{rule.name} {WHOLE_BODY.replace('body', 'title')}")
            continue
        title = new
        names.append(rule.name)
    return title, names


def has_text(root: etree._Element) -> bool:
    """Whether ``root`` holds any text or an image (what a rule must not take away)."""
    if _text_content(root).strip():
        return True
    return any(el.tag in ("img", "video", "audio") for el in root.iter())
