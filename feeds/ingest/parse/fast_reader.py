"""The fast reader's walk of one RSS 2.0 or Atom 1.0 document (see
:mod:`feeds.ingest.parse.fast_xml`)."""

from __future__ import annotations

from typing import Any

import lxml.etree
import lxml.html
from feedparser.mixin import _FeedParserMixin

from feeds.ingest.parse.fast_elements import (
    _ANY_ATTRS,
    _ATOM_DATES,
    _ATOM_ENTRY_INERT,
    _ATOM_FEED_INERT,
    _DATES,
    _IMAGE_CHILDREN,
    _LANG,
    _PLAIN,
    _RSS_CHANNEL_INERT,
    _RSS_ITEM_INERT,
    _SKIP_CHILDREN,
    _TEXT_CONSTRUCT,
    _TEXTINPUT_CHILDREN,
    Decline,
    ElementReader,
)


class FastReader(ElementReader):
    """One document's walk; methods raise :class:`Decline` when unsure."""

    def rss(self, root: lxml.etree._Element) -> tuple[str, dict[str, Any], list[dict[str, Any]]]:
        attrs = self._attrs(root, _LANG | {"version"})
        version = attrs.get("version", "")
        # _base._start_rss; 0.9x and unknown versions are left to feedparser.
        if not version.startswith("2.") or len(root) != 1 or (root.text or "").strip():
            raise Decline
        base = self._child_base(self._base, attrs)
        channel = root[0]
        if self._key(channel.tag) != "channel":
            raise Decline
        base = self._child_base(base, self._attrs(channel, _LANG))
        feed: dict[str, Any] = {}
        entries: list[dict[str, Any]] = []
        seen: set[str] = set()
        for child in channel:
            key = self._key(child.tag)
            if key == "item":
                entries.append(self._rss_item(child, base))
            elif key in ("title", "description", "ttl", "sy:updateperiod", "sy:updatefrequency"):
                self._once(seen, key)
                self._attrs(child, _PLAIN)
                feed["subtitle" if key == "description" else key.replace(":", "_")] = self._text(
                    child
                )
            elif key == "link":
                if "href" not in child.attrib:
                    self._once(seen, key)
                self._link(child, base, feed, in_entry=False)
            elif key in _DATES:
                self._attrs(child, _PLAIN)
                self._date(self._text(child))
            elif key in self._unknown_keys or key in _RSS_CHANNEL_INERT:
                self._attrs(child, _ANY_ATTRS)
                self._inert(child)
            elif key in ("image", "textinput") or key in _SKIP_CHILDREN:
                self._once(seen, key)
                self._attrs(child, _PLAIN)
                allowed = (
                    _IMAGE_CHILDREN
                    if key == "image"
                    else _TEXTINPUT_CHILDREN
                    if key == "textinput"
                    else frozenset({_SKIP_CHILDREN[key]})
                )
                for part in child:
                    if self._key(part.tag) not in allowed:
                        raise Decline
                    self._attrs(part, _PLAIN)
                    self._inert(part)
            else:
                raise Decline
        return "rss20", feed, entries

    def _rss_item(self, item: lxml.etree._Element, base: str) -> dict[str, Any]:
        base = self._child_base(base, self._attrs(item, _LANG))
        entry: dict[str, Any] = {}
        seen: set[str] = set()
        for child in item:
            key = self._key(child.tag)
            if key == "title":
                self._once(seen, key)
                self._attrs(child, _PLAIN)
                raw = self._raw(child)
                # mixin.pop: RSS titles are text unless they look like HTML.
                mime = "text/html" if _FeedParserMixin.looks_like_html(raw) else "text/plain"
                entry["title"] = self._finish(raw)
                entry["title_detail"] = {"type": mime}
            elif key in ("description", "content:encoded"):
                self._once(seen, key)
                value, detail = self._content(child, base, "text/html", _PLAIN)
                if key == "description":
                    entry["summary"] = value
                    entry["summary_detail"] = detail
                else:
                    entry.setdefault("content", []).append({**detail, "value": value})
                    entry.setdefault("summary", value)
            elif key == "link":
                if "href" not in child.attrib:
                    self._once(seen, key)
                self._link(child, base, entry, in_entry=True)
            elif key == "guid":
                self._once(seen, key)
                attrs = self._attrs(child, _PLAIN | {"ispermalink"})
                is_link = attrs.get("ispermalink", "true") == "true"
                self._id(child, self._child_base(base, attrs), entry, is_link)
            elif key in ("author", "dc:creator"):
                self._once(seen, "author")
                self._author_text(child, entry)
            elif key in ("category", "dc:subject"):
                self._category(child, entry)
            elif key == "enclosure":
                self._enclosure(child, entry)
            elif key in _DATES:
                self._once(seen, _DATES[key])
                self._attrs(child, _PLAIN)
                value = self._text(child)
                entry[_DATES[key]] = value
                entry[f"{_DATES[key]}_parsed"] = self._date(value)
            elif key in self._unknown_keys or key in _RSS_ITEM_INERT:
                if key in ("source", "comments"):
                    self._once(seen, key)
                attrs = self._attrs(child, _ANY_ATTRS)
                self._inert(child)
                if key == "source":  # as feedparser's _start_source and _end_source
                    title = self._text(child)
                    entry["source"] = {"href": attrs["url"]} if "url" in attrs else {}
                    entry["source"] |= {"title": title} if title else {}
            else:
                raise Decline
        return entry

    # -- Atom 1.0 ---------------------------------------------------------------------------

    def atom(self, root: lxml.etree._Element) -> tuple[str, dict[str, Any], list[dict[str, Any]]]:
        base = self._child_base(self._base, self._attrs(root, _PLAIN))
        feed: dict[str, Any] = {}
        entries: list[dict[str, Any]] = []
        seen: set[str] = set()
        for child in root:
            key = self._key(child.tag)
            if key == "entry":
                entries.append(self._atom_entry(child, base))
            elif key in ("title", "subtitle", "rights"):
                self._once(seen, key)
                value, detail = self._content(child, base, "text/plain", _TEXT_CONSTRUCT)
                feed[key] = value
                feed[f"{key}_detail"] = detail
            elif key == "link":
                self._link(child, base, feed, in_entry=False)
            elif key == "id":
                self._once(seen, key)
                attrs = self._attrs(child, _PLAIN)
                self._id(child, self._child_base(base, attrs), feed, is_link=True)
            elif key in _ATOM_DATES:
                self._once(seen, key)
                self._attrs(child, _PLAIN)
                self._date(self._text(child))
            elif key == "author":
                self._once(seen, key)
                self._person(child, feed)
            elif key == "contributor":
                self._person(child, None)
            elif key in self._unknown_keys or key in _ATOM_FEED_INERT:
                self._attrs(child, _ANY_ATTRS)
                self._inert(child)
            else:
                raise Decline
        return "atom10", feed, entries

    def _atom_entry(self, el: lxml.etree._Element, base: str) -> dict[str, Any]:
        base = self._child_base(base, self._attrs(el, _PLAIN))
        entry: dict[str, Any] = {}
        seen: set[str] = set()
        for child in el:
            key = self._key(child.tag)
            if key == "title":
                self._once(seen, key)
                value, detail = self._content(child, base, "text/plain", _TEXT_CONSTRUCT)
                entry["title"] = value
                entry["title_detail"] = detail
            elif key == "summary":
                self._once(seen, key)
                value, detail = self._content(child, base, "text/plain", _TEXT_CONSTRUCT)
                entry["summary"] = value
                entry["summary_detail"] = detail
            elif key == "content":
                self._once(seen, key)
                value, detail = self._content(child, base, "text/plain", _TEXT_CONSTRUCT)
                entry["content"] = [{**detail, "value": value}]
                entry.setdefault("summary", value)
            elif key == "link":
                self._link(child, base, entry, in_entry=True)
            elif key == "id":
                self._once(seen, key)
                attrs = self._attrs(child, _PLAIN)
                self._id(child, self._child_base(base, attrs), entry, is_link=True)
            elif key in _ATOM_DATES:
                self._once(seen, key)
                self._attrs(child, _PLAIN)
                value = self._text(child)
                entry[key] = value
                entry[f"{key}_parsed"] = self._date(value)
            elif key == "author":
                self._once(seen, key)
                self._person(child, entry)
            elif key == "contributor":
                self._person(child, None)
            elif key == "category":
                self._category(child, entry)
            elif key == "rights":
                self._once(seen, key)
                self._content(child, base, "text/plain", _TEXT_CONSTRUCT)
            elif key in self._unknown_keys or key in _ATOM_ENTRY_INERT:
                self._attrs(child, _ANY_ATTRS)
                self._inert(child)
            else:
                raise Decline
        return entry
