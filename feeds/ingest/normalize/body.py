"""Body cleaning: boilerplate and dangerous blocks out, URLs resolved, containers
flattened (lxml), then the nh3 allow-list."""

from __future__ import annotations

import html as htmllib
import re
from urllib.parse import SplitResult

import lxml.html
import nh3
from lxml import etree

from feeds.core import limits
from feeds.core.rewrite import FeedRules
from feeds.core.text import _collapse, _legal, _legal_collapsed
from feeds.ingest.normalize.long_body import cut_after, cut_sanitized
from feeds.ingest.normalize.markup import (
    _PLAIN_TEXT_MAX_LENGTH,
    _drop_tag,
    _drop_tree,
    _fragment_root,
    _inner_html,
    _legal_fragment_root,
    _plain_text,
    _root_text,
    _text_content,
    sanitized_text,
)
from feeds.ingest.normalize.rewrite import (
    WHOLE_BODY,
    has_text,
    replace_body,
    strip_css,
)
from feeds.ingest.normalize.rules import (
    _ALLOWED_ATTRIBUTES,
    _ALLOWED_TAGS,
    _BLOCK_CONTAINERS,
    _BLOCK_TAGS,
    _BOILERPLATE_CLASSES,
    _BOILERPLATE_IDS,
    _BOILERPLATE_START,
    _BOILERPLATE_TEXT,
    _DROP_WITH_CONTENT,
    _IFRAME_HOSTS,
    _KEEP_EMPTY,
    _LINKED_BOILERPLATE,
    _MORE_LINK_START,
    _MORE_LINK_TEXT,
    _NH3_CLEAN_CONTENT,
    _SHARE_CLASSES,
    _TEXT_CHECKED,
    _TRACKER_HOSTS,
    _TRACKER_PATH,
    _URL_SCHEMES,
    SHARE_TEXT_MAX,
)
from feeds.ingest.normalize.urls import _absolute_split, _host, _without_tracking

_PIXEL_DIMENSION = re.compile(r"\s*(\d+)\s*(?:px)?\s*$")


def _pixel_dimension(value: str | None) -> bool:
    if value is None:
        return False
    match = _PIXEL_DIMENSION.match(value)
    if match is None:
        return False
    # A width of 5,000 digits is more than int() reads: its ValueError dropped the entry.
    digits = match.group(1).lstrip("0") or "0"
    return len(digits) == 1 and int(digits) <= 2


def _is_tracker(parts: SplitResult, width: str | None, height: str | None) -> bool:
    """Whether an image (its resolved URL's ``parts``) is a tracking pixel."""
    if _pixel_dimension(width) or _pixel_dimension(height):
        return True
    host = (parts.hostname or "").lower()
    first_segment = parts.path.split("/")[1] if parts.path.count("/") >= 1 else ""
    return (
        host in _TRACKER_HOSTS
        or f"{host}/{first_segment}" in _TRACKER_HOSTS
        or bool(_TRACKER_PATH.search(parts.path))
    )


def _is_boilerplate_block(el: etree._Element) -> bool:
    element_id, classes = el.get("id"), el.get("class")
    if not element_id and not classes:  # most elements
        return False
    if (element_id or "").strip().lower() in _BOILERPLATE_IDS:
        return True
    tokens = (classes or "").lower().split()
    if any(token.startswith(_BOILERPLATE_CLASSES) for token in tokens) or any(
        "relatedposts" in token or "related-posts" in token for token in tokens
    ):
        return True
    return any(token.startswith(_SHARE_CLASSES) for token in tokens) and _is_share_buttons(el)


def _share_block_around(el: etree._Element, root: etree._Element) -> etree._Element | None:
    """The outermost block of share buttons that holds ``el`` (a button classed share-…),
    if any: dropped whole, now, while it still holds its buttons; cleaned bottom-up, the
    buttons went first and the block without them was kept with its prompt."""
    found = None
    for ancestor in el.iterancestors():
        if ancestor is root:
            break
        tokens = (ancestor.get("class") or "").lower().split()
        if any(token.startswith(_SHARE_CLASSES) for token in tokens) and _is_share_buttons(
            ancestor
        ):
            found = ancestor
    return found


def _is_share_buttons(el: etree._Element) -> bool:
    """Whether a block is share buttons: links (or images, buttons) with little other text,
    not a story's own block that a theme's class names alike (a table of share prices)."""
    if el.tag in ("table", "thead", "tbody", "tr", "td", "th", "figure", "blockquote", "pre"):
        return False
    links = [a for a in el.iter("a", "button", "img") if a is not el]
    if not links and el.tag not in ("a", "button"):
        return False
    outside = _text_content(el)
    for link in el.iter("a", "button"):
        outside = outside.replace(_text_content(link), "", 1)
    # Buttons come several to a block, under a prompt ("If you liked this, share it …"); a
    # sentence of the story with one link in it is no prompt.
    limit = SHARE_TEXT_MAX if len(links) >= 2 else SHARE_TEXT_MAX // 4
    return len(outside.strip()) <= limit


def _has_link(el: etree._Element) -> bool:
    return el.tag == "a" or next(el.iter("a"), None) is not None


def drop_boilerplate_blocks(root: lxml.html.HtmlElement) -> None:
    """Remove WordPress boilerplate blocks (comment form, share buttons, related posts) in place.

    The same rules :func:`sanitize_html` applies to bodies, for a whole article page
    before its body is extracted.
    """
    doomed = [
        el
        for el in root.iter()
        if isinstance(el.tag, str) and el is not root and _is_boilerplate_block(el)
    ]
    for el in doomed:
        if el.getparent() is not None:
            el.drop_tree()


def _has_content(el: etree._Element, text: str | None = None) -> bool:
    """Whether ``el`` keeps text or an element that is kept empty; ``text``: its text content."""
    if el.tag in _KEEP_EMPTY:
        return True
    if text is None:
        text = _text_content(el)
    if text and not text.isspace():
        return True
    return any(child.tag in _KEEP_EMPTY for child in el.iter() if isinstance(child.tag, str))


def _clean_tree(root: etree._Element, base_url: str | None) -> None:
    """Remove boilerplate and dangerous blocks, resolve URLs, flatten containers (in place)."""
    # Bottom-up (reversed document order): children are handled before their parents.
    for el in reversed(list(root.iter())):
        if el is root:
            continue
        tag = el.tag
        if not isinstance(tag, str):  # comments and processing instructions
            _drop_tree(el)
            continue
        tag = tag.lower()
        if tag in _DROP_WITH_CONTENT:
            _drop_tree(el)
            continue
        if _is_boilerplate_block(el):
            if el.getparent() is not None:  # not a share block dropped with a button below
                block = _share_block_around(el, root)
                _drop_tree(el if block is None else block)
            continue
        # The element's text, taken once: nothing below changes it before _has_content.
        text = _text_content(el) if tag in _TEXT_CHECKED else None
        if (
            text is not None
            and _BOILERPLATE_START.match(text)
            and _BOILERPLATE_TEXT.fullmatch(collapsed := _collapse(text))
            and (_LINKED_BOILERPLATE.fullmatch(collapsed) is None or _has_link(el))
        ):
            _drop_tree(el)
            continue
        if tag == "a":
            assert text is not None  # "a" is one of _TEXT_CHECKED
            if _MORE_LINK_START.match(text) and _MORE_LINK_TEXT.fullmatch(_collapse(text)):
                _drop_tree(el)
                continue
            # Its href is resolved below, once the links inside dropped blocks are gone.
        elif tag in ("img", "iframe"):
            src = _embed_src(el, tag, base_url)
            if src is None:
                _drop_tree(el)
                continue
            el.set("src", src)
        elif tag == "h1":
            el.tag = "h2"  # the entry title is the h1
        elif tag in _BLOCK_CONTAINERS:
            has_block_child = any(
                isinstance(child.tag, str) and child.tag.lower() in _BLOCK_TAGS for child in el
            )
            if has_block_child:
                _drop_tag(el)  # unwrap; its blocks keep the paragraph breaks
                continue
            el.tag = "p"  # an inline-only container is a paragraph
            el.attrib.clear()
            tag = "p"
        if tag == "p" and not _has_content(el, text):
            _drop_tree(el)
    _resolve_links(root, base_url)


def _embed_src(el: etree._Element, tag: str, base_url: str | None) -> str | None:
    """The absolute ``src`` an image or iframe keeps; None when it goes (relative, not
    http(s), a tracking pixel, an iframe from an unknown host)."""
    src = (
        _image_source(el)
        if tag == "img"
        else el.get("src") or el.get("data-src") or el.get("data-lazy-src") or ""
    )
    absolute = _absolute_split(src, base_url) if src.strip() else None
    if (
        absolute is None
        or absolute[1].scheme.lower() not in ("http", "https")
        or (tag == "img" and _is_tracker(absolute[1], el.get("width"), el.get("height")))
        or (tag == "iframe" and (absolute[1].hostname or "").lower() not in _IFRAME_HOSTS)
    ):
        return None
    return absolute[0]


# Where a lazy-loading script finds an image's address (WordPress plugins, lazysizes,
# Jetpack): the real one, while ``src`` holds a placeholder (a ``data:`` GIF, a blank).
_LAZY_SOURCES = ("data-src", "data-lazy-src", "data-original")


def _image_source(el: etree._Element) -> str:
    """The address an ``<img>`` shows once a browser has run its page: a lazy-loading
    attribute's (:data:`_LAZY_SOURCES`) over ``src``, which then holds a placeholder, and
    the first candidate of ``srcset`` (or ``data-srcset``) when it has no other. Taking
    ``src`` first dropped every lazy image with its ``data:`` placeholder."""
    for name in (*_LAZY_SOURCES, "src"):
        value = el.get(name)
        if value and value.strip():
            return value
    for name in ("srcset", "data-srcset"):
        candidates = (el.get(name) or "").strip().split(",")[0].split()
        if candidates:
            return candidates[0]
    return ""


def _resolve_links(root: etree._Element, base_url: str | None) -> None:
    """Resolve the ``href`` of links and the ``cite`` of quotations that stayed (in place)."""
    # Nothing above reads an href, so links are resolved only when they stay (a WordPress body
    # ends in share buttons and an "appeared first on" line whose links all go: urljoin costs
    # about 10 µs each). A tag that lower-cases to "a" is spelled "a" or "A".
    for el in root.iter("a", "A"):
        href = el.get("href")
        if href is not None:
            resolved = _absolute_split(href, base_url)
            if resolved is None or resolved[1].scheme.lower() not in _URL_SCHEMES:
                del el.attrib["href"]  # it is there: get() found it
            else:
                el.set("href", _without_tracking(resolved[0]))
    # A quotation's source is a link too: resolved, or gone when it cannot be.
    for el in root.iter("blockquote", "q", "BLOCKQUOTE", "Q"):
        cite = el.get("cite")
        if cite is not None:
            resolved = _absolute_split(cite, base_url)
            if resolved is None or resolved[1].scheme.lower() not in ("http", "https"):
                del el.attrib["cite"]
            else:
                el.set("cite", resolved[0])


# Browsers ignore ASCII white space and controls anywhere in a URL before reading its
# scheme ("java\tscript:"); so must the check.
_URL_NOISE = re.compile(r"[\x00-\x20\x7f]")

_URL_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):")

_URL_ATTRIBUTES = frozenset({"href", "src", "cite"})


def _attribute_filter(tag: str, attribute: str, value: str) -> str | None:
    """Last line of defence inside nh3, for every kept attribute.

    An iframe may only point at an allowed host. Every attribute that takes a
    URL keeps only an allowed scheme (or none: a relative reference): nh3's
    ``url_schemes`` covers ``href`` and ``src`` but not ``cite``, so a
    ``<blockquote cite="javascript:...">`` came through before.
    """
    if tag == "iframe" and attribute == "src" and _host(value) not in _IFRAME_HOSTS:
        return None
    if attribute in _URL_ATTRIBUTES:
        scheme = _URL_SCHEME.match(_URL_NOISE.sub("", _legal(htmllib.unescape(value))))
        if scheme is not None and scheme.group(1).lower() not in _URL_SCHEMES:
            return None
    return value


# Built once: nh3.clean converts its options again on every call, which cost as much as the
# cleaning itself on a 3 kB body.
_NH3 = nh3.Cleaner(
    tags=set(_ALLOWED_TAGS),
    clean_content_tags=set(_NH3_CLEAN_CONTENT),
    attributes={tag: set(attrs) for tag, attrs in _ALLOWED_ATTRIBUTES.items()},
    attribute_filter=_attribute_filter,
    strip_comments=True,
    link_rel=None,
    url_schemes=set(_URL_SCHEMES),
)


def sanitize_html(html: str, *, base_url: str | None) -> str:
    """Return ``html`` as safe body HTML with WordPress boilerplate removed.

    Two passes: lxml removes boilerplate (comment form, share and related-post blocks, "The post
    … appeared first on …", "Leave a Reply" leftovers), scripts, styles, forms, iframes from
    hosts outside ``_IFRAME_HOSTS``, tracking pixels, and resolves relative ``href``/``src``
    against ``base_url`` (see the module docstring for what happens without a base) and drops
    tracking parameters from links; then nh3
    applies the tag/attribute/scheme allow-list and strips comments. The result contains only
    XML 1.0 legal characters and no named entity other than XML's own.
    """
    if not html.strip():
        return ""
    legal = _legal(html)
    text = _plain_text(legal)
    if text is not None:
        return _escaped(text)
    return _sanitize_tree(_legal_fragment_root(legal), base_url)


def _escaped(text: str) -> str:
    """What both passes make of text without markup: it comes out escaped (cut to
    :data:`~feeds.core.limits.MAX_BODY_CHARS` first)."""
    text = limits.cap_line(text, limits.MAX_BODY_CHARS)
    return _legal(htmllib.escape(text, quote=False)).strip()


def sanitize_with_rules(
    html: str, *, base_url: str | None, rules: FeedRules
) -> tuple[str, tuple[str, ...]]:
    """:func:`sanitize_html` after the rules' ``strip`` and body ``replace``: the body and
    the names of the rules that changed it. Rules that would leave no text are not applied
    (the body is the feed's), and say so."""
    if not html.strip():
        return "", ()
    root = _fragment_root(html)
    before = has_text(root)
    applied = strip_css(root, rules.strip) + replace_body(root, rules.replace)
    if applied and before and not has_text(root):
        root = _fragment_root(html)
        applied = [f"{', '.join(applied)}: {WHOLE_BODY}"]
    return _sanitize_tree(root, base_url), tuple(applied)


def sanitize_with_text(html: str, *, base_url: str | None) -> tuple[str, str]:
    """:func:`sanitize_html` of ``html`` and its text (:func:`sanitized_text` of it), for one
    parse where that takes two: the text is read from the cleaned tree, unless nh3 could
    read that tree's markup into another (see :func:`_reparses_alike`)."""
    if not html.strip():
        return "", ""
    legal = _legal(html)
    text = _plain_text(legal)
    if text is not None:
        sanitized = _escaped(text)
        return sanitized, sanitized_text(sanitized)
    root = _legal_fragment_root(legal)
    sanitized = _sanitize_tree(root, base_url)
    return sanitized, _root_text(root) if _reparses_alike(root) else sanitized_text(sanitized)


# Markup-free text at most this long is read as its text at once by sanitized_text_of: escaped,
# it stays within what markup._plain_text reads back without a parser (5 characters for 1 at
# most, "&amp;"), and under MAX_BODY_CHARS, so it is never cut.
_PLAIN_TEXT_READ_BACK = _PLAIN_TEXT_MAX_LENGTH // 5


def sanitized_text_of(html: str, *, base_url: str | None) -> str:
    """``sanitize_with_text(html, base_url=base_url)[1]``: the text alone. Text without
    markup (a summary often is) is not escaped and read back to give the same text."""
    if not html.strip():
        return ""
    text = _plain_text(_legal(html))
    if text is not None and len(text) <= _PLAIN_TEXT_READ_BACK:
        return _legal_collapsed(text)
    return sanitize_with_text(html, base_url=base_url)[1]


# What nh3's HTML5 parser reads back from libxml2's markup as libxml2 built it, so that the
# text of the tree is the text of nh3's result: the tags nh3 keeps but table parts (outside
# a table, a cell is dropped by one parser and kept by the other) and iframes (their content
# is raw text to one), and spans (unwrapped, text kept). Any other element, and every body
# holding one, is read back from nh3's result (a tenth of the feedparser corpus's bodies).
_REPARSED_ALIKE = frozenset(
    (_ALLOWED_TAGS | {"span"})
    - {"table", "caption", "thead", "tbody", "tfoot", "tr", "th", "td", "iframe"}
)

# An element that an HTML5 parser closes when another of its kind opens (a list item, a
# definition's term or description, a heading), inside one of its kind: libxml2 nests them,
# and the outer one's end tag, read back, is ignored, so the break after its text is lost
# ("<h2>a<h3>b</h3>c</h2>d" reads "a b cd" back). Any ancestor counts, nested lists too.
_CLOSED_BY_KIND = frozenset({"li", "dd", "dt", "h2", "h3", "h4", "h5", "h6"})
_NESTED_ALIKE = etree.XPath(
    "boolean(descendant::*[self::li or self::dd or self::dt]"
    "[ancestor::li or ancestor::dd or ancestor::dt]"
    " or descendant::*[self::h2 or self::h3 or self::h4 or self::h5 or self::h6]"
    "[ancestor::h2 or ancestor::h3 or ancestor::h4 or ancestor::h5 or ancestor::h6])"
)


def _reparses_alike(root: etree._Element) -> bool:
    """Whether every element below ``root`` is one of :data:`_REPARSED_ALIKE` (a comment or
    processing instruction is not), and none is nested as :data:`_NESTED_ALIKE` says (asked
    only of a tree that holds one of those kinds)."""
    kinds = False
    for el in root.iterdescendants():
        tag = el.tag
        if not isinstance(tag, str) or tag not in _REPARSED_ALIKE:
            return False
        kinds = kinds or tag in _CLOSED_BY_KIND
    return not (kinds and _NESTED_ALIKE(root))


def _sanitize_markup(html: str, base_url: str | None) -> str:
    """:func:`sanitize_html` of a non-blank ``html`` through lxml and nh3."""
    return _sanitize_tree(_fragment_root(html), base_url)


def _sanitize_tree(root: etree._Element, base_url: str | None) -> str:
    """The second half of :func:`sanitize_html`: a parsed fragment through lxml and nh3 (the
    tree is left cleaned, as nh3 got it)."""
    _clean_tree(root, base_url)
    markup = _inner_html(root)
    if len(markup) > limits.MAX_BODY_CHARS:
        cut_after(root)
        markup = _inner_html(root)
    body = _nh3_body(markup)
    if len(body) > limits.MAX_BODY_CHARS:  # a body nh3 grew past the cap: rare, crafted
        body = cut_sanitized(root, body, _nh3_body)
    return body


def _nh3_body(markup: str) -> str:
    """``markup`` through nh3's allow-list, its references and attribute values plain."""
    cleaned = _NH3.clean(markup)
    # nh3 writes U+00A0 as &nbsp;, which is not an XML entity.
    return _plain_attribute_values(_legal(cleaned.replace("&nbsp;", "\u00a0"))).strip()


# An attribute and its value as nh3 writes them: double quotes, a quote inside as &quot;.
_ATTRIBUTE = re.compile(r'(\s[a-z][a-z0-9-]*)="([^"]*)"')
# nh3's markup read in order: a start tag as it writes one (a lower-case name, then each
# attribute as name="value", with `"` and `&` escaped in the value), a run of text (in which
# it escapes every `<`), or a `<` that starts anything else (an end tag: read on as text).
# Attributes are rewritten only inside the start tags: text such as `a="` would otherwise
# pair with the next attribute's opening quote, and the rewrite shifted every quote after it
# (an alt text then read as live attributes, `onerror` among them).
_TAG_OR_TEXT = re.compile(r'(<[a-z][a-z0-9]*(?:\s[a-z][a-z0-9-]*="[^"]*")*\s*/?>)|[^<]+|<')
# What any attribute _plain_value changes looks like (and more: a match may start inside a
# URL's value, which _ATTRIBUTE reads past). Without one, nothing changes: most bodies are
# scanned once in C, with no call back into Python for each link.
_MAY_CHANGE = re.compile(r'\s(?!(?:href|src|cite)=)[a-z][a-z0-9-]*="[^"]*=')
# Part of every _MAY_CHANGE match, found by a scan for a literal: 2 µs on a 3 kB body, where
# _MAY_CHANGE, which tries a match at every space, takes 45 µs. Most bodies hold neither.
_EQUALS_IN_VALUE = re.compile(r'="[^"]*=')


def _plain_attribute_values(html: str) -> str:
    """``=`` inside the values of attributes that hold text (``alt``, ``title``) written as
    ``&#61;``: the same text to an HTML parser, but a value such as ``alt="&lt;IMG SRC="``
    no longer reads as an ``src=`` to readers and checkers that find URLs in markup with a
    pattern rather than a parser (the W3C Feed Validator is one: it took ``>`` for the
    image's URL). URL attributes keep their ``=`` (query strings)."""
    if _EQUALS_IN_VALUE.search(html) is None or _MAY_CHANGE.search(html) is None:
        return html
    return _TAG_OR_TEXT.sub(_plain_tag, html)


def _plain_tag(match: re.Match[str]) -> str:
    tag = match.group(1)
    return match.group(0) if tag is None else _ATTRIBUTE.sub(_plain_value, tag)


def _plain_value(match: re.Match[str]) -> str:
    name, value = match.group(1), match.group(2)
    if "=" not in value or name.strip() in _URL_ATTRIBUTES:
        return match.group(0)
    return f'{name}="{value.replace("=", "&#61;")}"'
