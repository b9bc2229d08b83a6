"""A body longer than a feed reader needs, cut to :data:`~feeds.core.limits.MAX_BODY_CHARS`.

A publisher may send a body of megabytes (the fetch bounds only the whole document), or a
new one at every refresh: published whole, fifty of them make documents of hundreds of
megabytes, which feed readers refuse or time out on, for every story of the output. So a
body's cleaned tree keeps its first ``MAX_BODY_CHARS`` characters of markup: the elements
that fit whole, then, inside the first that does not, what fits of it in the same way, down
to a text cut on a word boundary with ``…``; a paragraph ``[…]`` after them says that the
story goes on at its link. The tree is cut before nh3 sanitizes it, so the cut can never
leave half a tag or an unclosed element in what is published; the rare body that nh3 makes
longer than the cap is cut again (:func:`cut_sanitized`).
"""

from __future__ import annotations

import html as htmllib
from collections.abc import Callable

from lxml import etree

from feeds.core import limits
from feeds.ingest.normalize.markup import _fragment_root, _inner_html, sanitized_text

#: What ends a cut body: a paragraph of its own, the marker feeds uses for a cut teaser.
MARKER = "[\u2026]"
#: Characters of an element's content below which an element that does not fit goes
#: whole, rather than kept with a word or two of it.
_WORTH_KEEPING = 20


def markup_length(el: etree._Element) -> int:
    """Characters of ``el`` as libxml2 writes it, its tail included."""
    return len(etree.tostring(el, method="html", encoding="unicode", with_tail=True))


def cut_after(root: etree._Element, limit: int = limits.MAX_BODY_CHARS) -> None:
    """Keep about the first ``limit`` characters of the markup inside ``root`` (in place),
    and add the :data:`MARKER` paragraph after them. For a tree whose markup is longer."""
    el, budget = root, limit
    while True:
        budget = _kept_text(el, budget)
        overflow = _first_overflowing_child(el, budget)
        if overflow is None:
            break
        child, used = overflow
        budget -= used
        _drop_following_siblings(child)
        if _fits_without_tail(child, budget):
            budget -= markup_length(child) - _written_length(child.tail or "")
            child.tail = _cut_text(child.tail or "", budget)
            break
        child.tail = None
        budget -= _tags_length(child)
        if budget < _WORTH_KEEPING:
            el.remove(child)
            break
        el = child
    marker = etree.SubElement(root, "p")
    marker.text = MARKER


#: How many times a body that nh3 grew past the cap is cut again (each cut aims lower).
_RECUTS = 4


def cut_sanitized(root: etree._Element, body: str, sanitize: Callable[[str], str]) -> str:
    """``body``, what ``sanitize`` (nh3) made of ``root``'s markup and longer than the cap,
    cut to fit it.

    nh3's HTML5 parser does not read libxml2's tree back as libxml2 built it: it closes a
    link that another link opens inside, and opens each formatting element again in every
    block that follows (``<a><p><code>w`` written many times comes out 1.8 times as long), so
    a tree cut to the cap could be stored at more than twice the cap. The sanitized markup is
    parsed, cut to a limit that shrinks by what the previous pass grew, and sanitized again
    until it fits; ``root`` is left holding the tree ``sanitize`` got last. After
    :data:`_RECUTS` passes, what is left is the body's text, escaped and cut. An ordinary
    body never comes here: its caller compares one length."""
    limit = limits.MAX_BODY_CHARS
    for _ in range(_RECUTS):
        limit = max(limit * limits.MAX_BODY_CHARS // len(body) - 1, 0)
        again = _fragment_root(body)
        cut_after(again, limit)
        body = sanitize(_inner_html(again))
        if len(body) <= limits.MAX_BODY_CHARS:
            _replace_children(root, again)
            return body
    text = htmllib.escape(_cut_text(sanitized_text(body), limits.MAX_BODY_CHARS) or "", quote=False)
    _replace_children(root, _fragment_root(text))
    return text


def _replace_children(root: etree._Element, other: etree._Element) -> None:
    """``root`` holding ``other``'s text and children instead of its own."""
    for child in list(root):
        root.remove(child)
    root.text = other.text
    root.extend(list(other))


def _kept_text(el: etree._Element, budget: int) -> int:
    """Cut ``el``'s leading text to ``budget`` (all its children go when it is cut); the
    budget left after it."""
    text = el.text or ""
    size = _written_length(text)
    if size <= budget:
        return budget - size
    el.text = _cut_text(text, budget)
    for child in list(el):
        el.remove(child)
    return 0


def _first_overflowing_child(el: etree._Element, budget: int) -> tuple[etree._Element, int] | None:
    """The first child of ``el`` that does not fit in what is left of ``budget`` after the
    ones before it, with the characters those took; None when all of them fit."""
    used = 0
    for child in el:
        size = markup_length(child)
        if used + size > budget:
            return child, used
        used += size
    return None


def _tags_length(el: etree._Element) -> int:
    """Characters of ``el``'s start tag, its attributes included, and of its end tag."""
    text, tail, children = el.text, el.tail, list(el)
    el.text = el.tail = None
    for child in children:
        el.remove(child)
    try:
        return markup_length(el)
    finally:
        el.text, el.tail = text, tail
        el.extend(children)


def _fits_without_tail(child: etree._Element, budget: int) -> bool:
    return markup_length(child) - _written_length(child.tail or "") <= budget


def _drop_following_siblings(child: etree._Element) -> None:
    parent = child.getparent()
    assert parent is not None  # a child of the element being cut
    for sibling in list(child.itersiblings()):
        parent.remove(sibling)


def _written_length(text: str) -> int:
    """Characters of ``text`` as markup (``<`` written ``&lt;``)."""
    return len(text) + 3 * (text.count("<") + text.count(">")) + 4 * text.count("&")


def _cut_text(text: str, budget: int) -> str | None:
    """``text`` cut on a word boundary to fit ``budget`` characters as markup, ``…``
    included (None when none fit)."""
    if _written_length(text) <= budget:
        return text or None
    fitting = _fitting_chars(text, budget - len(limits.ELLIPSIS))
    head = text[:fitting]
    space = head.rfind(" ")
    if space > fitting // 2:
        head = head[:space]
    head = head.rstrip()
    return head + limits.ELLIPSIS if head else None


def _fitting_chars(text: str, budget: int) -> int:
    """How many of ``text``'s first characters fit ``budget`` characters as markup."""
    low, high = 0, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if _written_length(text[:middle]) <= budget:
            low = middle
        else:
            high = middle - 1
    return low
