"""The pieces of the fast reader (see :mod:`feeds.ingest.parse.fast_xml`): what feedparser
calls each element and attribute, and how it reads text, links, ids, people and dates.
:class:`~feeds.ingest.parse.fast_reader.FastReader` walks a whole document with them."""

from __future__ import annotations

import contextlib
import re
from typing import Any

import lxml.etree
import lxml.html
from feedparser import datetimes as _fp_datetimes
from feedparser.datetimes import _parse_date as _fp_parse_date
from feedparser.datetimes.w3dtf import _parse_date_w3dtf
from feedparser.html import _cp1252 as _CP1252
from feedparser.mixin import _FeedParserMixin
from feedparser.urls import _urljoin, make_safe_absolute_uri

from feeds.core.text import repaired_mojibake, shows_misreading
from feeds.ingest.parse.common import _HTML_TYPES_IN_DETAIL
from feeds.ingest.urljoin import plain_absolute, plain_or_joinable

# --- RSS 2.0 and Atom 1.0 without feedparser ------------------------------------------------
#
# feedparser costs ~0.6 ms per entry (a SAX callback in Python for every element and
# piece of text, then a dict per element); lxml builds the tree in C. The fast reader
# below accepts only documents it reads exactly as feedparser would and returns the
# same dicts feedparser returns (the keys ``_parsed_feed`` and ``_fp_entry`` read), so
# the mapping into ParsedFeed is shared code. It declines (returns None, and
# feedparser reads the document) on anything else: a DTD, XML that expat or libxml2
# rejects, RSS 0.9x/1.0, any element or attribute it does not know, a repeated
# element whose value feedparser would pick in its own way, XHTML content, etc.
# Each rule below names the feedparser 6.0 code it mirrors (feedparser/mixin.py
# ``pop`` and ``unknown_starttag``, feedparser/namespaces/_base.py); the corpus test
# checks the result against feedparser for every document it accepts.


def _joined(base: str, uri: str) -> str:
    """feedparser's ``_urljoin``; at once for a plain absolute ``uri``, which it gives back
    unchanged (its fixer of extra slashes after ``://`` finds none there)."""
    if uri and plain_absolute(uri) and (not base or plain_or_joinable(base)):
        return uri
    return str(_urljoin(base, uri))


def _rereadable(text: str) -> bool:
    """Whether every character of ``text`` is Latin-1, which mixin.pop's re-reading asks
    first: most text that is not ASCII holds a ``’`` or a ``–``, and is told at once."""
    try:
        text.encode("iso-8859-1")
    except UnicodeEncodeError:
        return False
    return True


def _parsed_date(value: str) -> Any:
    """feedparser's ``_parse_date(value)``. Its first handler, W3C-DTF's, gives up on a date
    that starts with a letter (an RSS date's day name, ``Sun, 05 May 2019 11:57:00 +0000``:
    its first word, four characters or not, is no year), and such a date is not shown to it
    (trying cost about a third of reading the date)."""
    handlers = _fp_datetimes._date_handlers
    if not (value.lstrip()[:1].isalpha() and value.isascii() and handlers[:1] == [_W3DTF]):
        return _fp_parse_date(value)
    for handler in handlers[1:]:  # _parse_date's loop, after its first handler
        try:
            parsed = handler(value)
        except (KeyError, OverflowError, ValueError, AttributeError):
            continue
        if parsed and len(parsed) == 9:
            return parsed
    return None


_W3DTF = _parse_date_w3dtf


class Decline(Exception):
    """The fast reader is not sure to match feedparser on this document."""


# Namespace URI (lower-cased) → the prefix feedparser gives its elements ("" for the
# RSS and Atom namespaces, whose elements it treats alike).
_FP_PREFIX: dict[str, str] = {k.lower(): v for k, v in _FeedParserMixin.namespaces.items()}

_FP_STD_PREFIXES = frozenset(v for v in _FP_PREFIX.values() if v)

# Declaring these anywhere makes feedparser call an RSS feed "rss10"/"rss090".
_VERSION_NAMESPACES = frozenset(
    {"http://purl.org/rss/1.0/", "http://my.netscape.com/rdf/simple/0.9/"}
)

_NS_DECLARATION = re.compile(rb"""xmlns(?::([^\s=>/]+))?\s*=\s*(?:"([^"]*)"|'([^']*)')""")

_XML_NS = "http://www.w3.org/XML/1998/namespace"

_XML_BASE = "xml:base"

# feedparser's mixin.pop "fixes" link text that looks like an unhandled entity reference.
_LINK_AMP = re.compile("&([A-Za-z0-9_]+);")

# mixin._sync_author_detail: an e-mail address inside an author string.
_AUTHOR_EMAIL = re.compile(
    r"""(([a-zA-Z0-9\_\-\.\+]+)@((\[[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.)|(([a-zA-Z0-9\-]+\.)+))([a-zA-Z]{2,4}|[0-9]{1,3})(\]?))(\?subject=\S+)?"""
)

_TEXT_TYPES = frozenset({"text/plain", "text/html"})

# Keys of feedparser's feed and entry dicts that _parsed_feed and _fp_entry read and an
# unknown element's ``prefix_local`` could overwrite.
_READ_KEYS = frozenset(
    {
        "title_detail",
        "summary_detail",
        "published_parsed",
        "updated_parsed",
        "author_detail",
        "sy_updateperiod",
        "sy_updatefrequency",
    }
)

_LANG = frozenset({"xml:lang", "lang"})

_PLAIN = _LANG | {_XML_BASE}

_TEXT_CONSTRUCT = _PLAIN | {"type"}

_LINK_ATTRS = _PLAIN | {"rel", "type", "href", "hreflang", "title", "length", "count", "updated"}

_ENCLOSURE_ATTRS = _PLAIN | {"url", "length", "type"}

_CATEGORY_ATTRS = _PLAIN | {"term", "scheme", "domain", "label"}

_ANY_ATTRS = frozenset({"*"})

# Elements that change nothing feedparser reports to us (stored under keys we never
# read); they may carry any attribute but no child element.
_RSS_CHANNEL_INERT = frozenset(
    {
        "language",
        "copyright",
        "docs",
        "generator",
        "rating",
        "webmaster",
        "managingeditor",
        "cloud",
        "category",
        "sy:updatebase",
        "dc:language",
        "dc:rights",
        "dc:creator",
        "dc:publisher",
    }
)

_RSS_ITEM_INERT = frozenset(
    {"comments", "wfw:commentrss", "wfw:comment", "slash:comments", "source"}
)

_ATOM_FEED_INERT = frozenset({"generator", "icon", "logo", "category"})

_ATOM_ENTRY_INERT = frozenset({"thr:total", "thr:in-reply-to"})

_DATES = {"pubdate": "published", "lastbuilddate": "updated", "dc:date": "updated"}

_ATOM_DATES = {"published": "published", "updated": "updated"}

# Children feedparser keeps inside <image> and <textInput> (mixin.unknown_starttag's
# "special hack" leaves the container on any other plain element).
_IMAGE_CHILDREN = frozenset({"title", "url", "link", "width", "height", "description"})

_TEXTINPUT_CHILDREN = frozenset({"title", "description", "name", "link"})

_SKIP_CHILDREN = {"skiphours": "hour", "skipdays": "day"}

_PERSON_CHILDREN = frozenset({"name", "email", "uri"})


class ElementReader:
    """Reading one element as feedparser would; methods raise :class:`Decline` when unsure."""

    def __init__(self, data: bytes, content_location: str, *, reread_latin1: bool) -> None:
        #: Whether text is read again as UTF-8 where its Latin-1 bytes are UTF-8, as
        #: feedparser_run has feedparser do (``rereads_latin1``).
        self._reread_latin1 = reread_latin1
        self._keys: dict[str, str] = {}
        self._unknown_keys: set[str] = set()
        self._bases: dict[tuple[str, str | None], str] = {}
        #: Namespace URI feedparser does not know → the document's prefix it names
        #: that namespace's elements by (mixin.track_namespace, strict.startElementNS).
        self._unknown: dict[str, str] = {}
        self._base = self._initial_base(data, content_location)

    def _initial_base(self, data: bytes, content_location: str) -> str:
        in_use: dict[str, str] = {}  # mixin's namespaces_in_use
        ambiguous: set[str] = set()
        mapped: set[str] = set()  # document prefixes of known namespaces (namespacemap)
        for match in _NS_DECLARATION.finditer(data):
            raw = match.group(2) if match.group(2) is not None else match.group(3)
            if b"&" in raw:
                raise Decline  # a reference we would have to expand like expat does
            prefix = (match.group(1) or b"").decode("utf-8", "replace")
            uri = raw.decode("utf-8", "replace").lower()
            if uri in _VERSION_NAMESPACES or "backend.userland.com/rss" in uri:
                raise Decline
            # mixin.track_namespace maps a document prefix to feedparser's prefix for
            # that URI; a document prefix that *is* another namespace's standard prefix
            # would rename that namespace's elements.
            std = _FP_PREFIX.get(uri)
            if prefix in _FP_STD_PREFIXES and std is not None and std != prefix:
                raise Decline
            exact = raw.decode("utf-8", "replace")
            name = prefix if std is None else std
            if in_use.setdefault(name, exact) != exact:
                ambiguous.add(name)
            if std is not None:
                mapped.add(prefix)
        for name, uri in in_use.items():
            if (
                name
                and name not in ambiguous
                and name not in mapped
                and uri.lower() not in _FP_PREFIX
            ):
                if uri in self._unknown:
                    self._unknown[uri] = ""  # two prefixes: which one names it depends on order
                else:
                    self._unknown[uri] = name
        # api.parse: the strict parser starts from Content-Location as it is.
        if not content_location:
            raise Decline  # an empty base is not restored after an xml:base
        return content_location

    # -- names, attributes, bases, text ---------------------------------------------------

    def _key(self, tag: object) -> str:
        """feedparser's name for an element: ``prefix:local`` lower-cased, or ``local``."""
        if not isinstance(tag, str):
            raise Decline
        key = self._keys.get(tag)
        if key is None:
            if tag[0] == "{":
                uri, _, local = tag[1:].partition("}")
                prefix = _FP_PREFIX.get(uri.lower())
                if prefix is None:
                    key = self._unknown_key(uri, local)
                else:
                    key = f"{prefix}:{local}".lower() if prefix else local.lower()
            else:
                key = tag.lower()
            self._keys[tag] = key
        return key

    def _unknown_key(self, uri: str, local: str) -> str:
        """An element in a namespace feedparser does not know, if it is sure to be inert.

        feedparser names it ``prefix:local`` after the document's prefix and stores
        its text under ``prefix_local``, unless it has a handler of that name.
        """
        prefix = self._unknown.get(uri)
        if not prefix:
            raise Decline  # the default namespace, or an ambiguous prefix
        key = f"{prefix}:{local}".lower()
        method = key.replace(":", "_", 1)
        if (
            hasattr(_FeedParserMixin, f"_start_{method}")
            or hasattr(_FeedParserMixin, f"_end_{method}")
            or method in _READ_KEYS
        ):
            raise Decline
        self._unknown_keys.add(key)
        return key

    @staticmethod
    def _attrs(el: lxml.etree._Element, allowed: frozenset[str]) -> dict[str, str]:
        """The attributes as feedparser's strict parser names them (``attrs_d``)."""
        out: dict[str, str] = {}
        for name, value in el.attrib.items():
            if not isinstance(name, str) or not isinstance(value, str):
                raise Decline  # never from lxml; the stubs allow bytes
            if name[0] == "{":
                uri, _, local = name[1:].partition("}")
                if uri == _XML_NS:
                    key = f"xml:{local}".lower()
                elif _FP_PREFIX.get(uri.lower()):
                    raise Decline  # "prefix:local", which may be one feedparser reads
                else:
                    # strict.startElementNS names it by its local name alone (and by its
                    # qualified name, which cannot clash with a name we read).
                    key = local.lower()
            else:
                key = name.lower()
            if key in out or (key not in allowed and "*" not in allowed) or key == "base":
                raise Decline
            out[key] = value.lower() if key in ("rel", "type") else value
        return out

    def _child_base(self, parent: str, attrs: dict[str, str]) -> str:
        """mixin.unknown_starttag: the base URI in effect inside an element."""
        xml_base = attrs.get(_XML_BASE)
        cache_key = (parent, xml_base)
        base = self._bases.get(cache_key)
        if base is None:
            base = make_safe_absolute_uri(parent, xml_base or parent) or parent
            self._bases[cache_key] = base
        return base

    def _raw(self, el: lxml.etree._Element) -> str:
        """An element's text, stripped: feedparser reads any child element as XHTML. Text
        that shows UTF-8 misread is read again first, where feedparser_run has feedparser do
        it (``_TextAsWritten.pop``, before pop joins and strips the text)."""
        if len(el):
            raise Decline
        text = el.text or ""
        if not self._reread_latin1 and shows_misreading(text):
            text = repaired_mojibake(text)
        return text.strip()

    def _finish(self, text: str) -> str:
        """The end of mixin.pop: undo UTF-8 read as ISO-8859-1 where feedparser_run has
        feedparser do it (a document of UTF-8 read as another encoding), map C1 controls as
        cp1252."""
        if text.isascii():
            return text
        if self._reread_latin1 and _rereadable(text):
            with contextlib.suppress(UnicodeError):
                text = text.encode("iso-8859-1").decode("utf-8")
        return text.translate(_CP1252)

    def _text(self, el: lxml.etree._Element) -> str:
        return self._finish(self._raw(el))

    def _uri(self, el: lxml.etree._Element, base: str) -> str:
        raw = self._raw(el)
        return self._finish(_joined(base, raw) if raw else raw)

    @staticmethod
    def _date(value: str) -> Any:
        try:
            return _parsed_date(value)
        # feedparser's date handlers raise little, but what they raise would stop
        # feedparser itself: leave those documents to it.
        except Exception as exc:
            raise Decline from exc

    @staticmethod
    def _inert(el: lxml.etree._Element) -> None:
        if len(el):
            raise Decline

    @staticmethod
    def _once(seen: set[str], group: str) -> None:
        if group in seen:
            raise Decline
        seen.add(group)

    # -- shared element handlers ----------------------------------------------------------

    def _content(
        self, el: lxml.etree._Element, base: str, default_type: str, allowed: frozenset[str]
    ) -> tuple[str, dict[str, Any]]:
        """A text construct (mixin.push_content/pop): its value and its ``*_detail``."""
        attrs = self._attrs(el, allowed)
        mime = _FeedParserMixin.map_content_type(attrs.get("type", default_type))
        if mime not in _TEXT_TYPES:
            raise Decline  # XHTML, or a type feedparser would base64-decode
        return self._text(el), {"type": mime, "base": self._child_base(base, attrs)}

    def _link(
        self, el: lxml.etree._Element, base: str, context: dict[str, Any], in_entry: bool
    ) -> None:
        """_base._start_link: an href (Atom, atom:link) or, without one, text (RSS)."""
        attrs = self._attrs(el, _LINK_ATTRS)
        base = self._child_base(base, attrs)
        if "href" not in attrs:
            if set(attrs) - _PLAIN:
                raise Decline
            value = self._uri(el, base)
            if in_entry:
                value = value.replace("&amp;", "&")
            context["link"] = _LINK_AMP.sub(r"&\g<1>", value)
            return
        self._inert(el)
        rel = attrs.get("rel", "alternate")
        mime = attrs.get("type", "application/atom+xml" if rel == "self" else "text/html")
        href = _joined(base, attrs["href"])
        if rel == "enclosure":  # _start_link: only the enclosures of ``links`` are read
            enclosure = {**attrs, "rel": rel, "type": mime, "href": href}
            context.setdefault("links", []).append(enclosure)
        if rel == "alternate" and _FeedParserMixin.map_content_type(mime) in _HTML_TYPES_IN_DETAIL:
            context["link"] = href

    def _enclosure(self, el: lxml.etree._Element, context: dict[str, Any]) -> None:
        """_base._start_enclosure: an entry of ``links`` with rel="enclosure", its ``url``
        also as ``href`` (_enforce_href), nothing resolved."""
        attrs = self._attrs(el, _ENCLOSURE_ATTRS)
        self._inert(el)
        if "url" in attrs and "href" not in attrs:
            attrs["href"] = attrs["url"]
        context.setdefault("links", []).append({**attrs, "rel": "enclosure"})

    def _id(
        self, el: lxml.etree._Element, base: str, context: dict[str, Any], is_link: bool
    ) -> None:
        """_base._start_guid/_end_guid: a permalink id is resolved and stands in for a link."""
        value = self._uri(el, base) if is_link else self._text(el)
        context["id"] = value
        if is_link:
            context.setdefault("link", value)

    def _category(self, el: lxml.etree._Element, context: dict[str, Any]) -> None:
        """_base._start_category/_end_category and mixin._add_tag."""
        attrs = self._attrs(el, _CATEGORY_ATTRS)
        tags: list[dict[str, Any]] = context.setdefault("tags", [])
        self._add_tag(
            tags, attrs.get("term"), attrs.get("scheme", attrs.get("domain")), attrs.get("label")
        )
        value = self._text(el)
        if not value:
            return
        if tags and not tags[-1]["term"]:
            tags[-1]["term"] = value
        else:
            self._add_tag(tags, value, None, None)

    @staticmethod
    def _add_tag(
        tags: list[dict[str, Any]], term: str | None, scheme: str | None, label: str | None
    ) -> None:
        if not term and not scheme and not label:
            return
        value = {"term": term, "scheme": scheme, "label": label}
        if value not in tags:
            tags.append(value)

    def _author_text(self, el: lxml.etree._Element, context: dict[str, Any]) -> None:
        """An RSS author string (mixin._sync_author_detail without a detail)."""
        self._attrs(el, _PLAIN)
        author = self._text(el)
        context["author"] = author
        if not author:
            return
        email = None
        match = _AUTHOR_EMAIL.search(author)
        if match:
            email = match.group(0)
            author = author.replace(email, "").replace("()", "").replace("<>", "")
            author = author.replace("&lt;&gt;", "").strip()
            if author and author[0] == "(":
                author = author[1:]
            if author and author[-1] == ")":
                author = author[:-1]
            author = author.strip()
        detail: dict[str, str] = {}
        if author or email:
            context["author_detail"] = detail
        if author:
            detail["name"] = author
        if email:
            detail["email"] = email

    def _person(self, el: lxml.etree._Element, context: dict[str, Any] | None) -> None:
        """An Atom person construct (name/email/uri children); ``None`` for a contributor."""
        self._attrs(el, _PLAIN)
        if (el.text or "").strip():
            raise Decline
        fields: dict[str, str] = {}
        for child in el:
            key = self._key(child.tag)
            if key not in _PERSON_CHILDREN or key in fields or (child.tail or "").strip():
                raise Decline
            self._attrs(child, _PLAIN)
            # push('name', 0) and push('email', 0): returned before pop's fix-ups.
            fields[key] = self._raw(child)
        if context is None:
            return
        name, email = fields.get("name"), fields.get("email")
        if "name" in fields:
            context["author_detail"] = {"name": name}
        if name and email:
            context["author"] = f"{name} ({email})"
        else:
            context["author"] = name or email or ""

    # -- RSS 2.0 ----------------------------------------------------------------------------
