"""Removing a fragment's document tags (``<html>``, ``<body>``, ``<head>``, their end tags and
a doctype) where an HTML tokenizer finds them, and nowhere else.

libxml2 ends the body we parse a fragment into at a ``</body>`` and drops what follows a
``</html>``, so these tags must go before the fragment is parsed. A pattern that looks for
them alone also finds them inside attribute values (``title="<html"``), comments and the text
of ``<style>``; removing them there cut a tag open and lost the rest of the body. So the
fragment is read token by token, as the HTML standard's tokenizer reads it: comments,
declarations and processing instructions whole; the elements whose text is not markup
(``<script>``, ``<style>``, ``<textarea>``, ``<title>`` …) up to their end tag; and each tag
with its attributes, a value quoted or not (a quoted value may hold ``<body>`` or ``>``).
"""

from __future__ import annotations

import re

# Any of the document tags starts like this; a fragment without one is returned as it is.
_HINT = re.compile(r"<(?:/?(?:html|body|head)|!doctype)", re.IGNORECASE)

_DOCUMENT_TAG_NAMES = frozenset({"html", "body", "head"})

_SPACE = r"[\t\n\f\r ]"

# A tag's attributes: spaces and slashes between them; a name (its first character may be
# "="), then perhaps "=" and a value: double- or single-quoted (up to the end of the input
# when the quote is never closed) or unquoted (up to a space or ">").
_ATTRIBUTES = (
    rf"(?:[\t\n\f\r /]++|[^\t\n\f\r />][^\t\n\f\r />=]*+"
    rf"(?:{_SPACE}*+={_SPACE}*+(?:\"[^\"]*+\"?|'[^']*+'?|[^\t\n\f\r >]*+))?)*+"
)

# Elements whose text the tokenizer does not read as markup, up to their end tag.
_RAW_TEXT = "script|style|xmp|iframe|noembed|noframes|textarea|title"

_TOKEN = re.compile(
    r"<!--(?:-?>|.*?--!?>|.*+)"  # a comment ("<!-->" is an empty one)
    r"|<[!?][^>]*+>?"  # a doctype, another declaration or a processing instruction
    r"|</(?![A-Za-z])[^>]*+>?"  # "</" and no name: nothing, or a comment up to ">"
    rf"|<(?P<raw>{_RAW_TEXT})(?![^\t\n\f\r />]){_ATTRIBUTES}>?"
    rf"(?:.*?(?=</(?P=raw)(?:[\t\n\f\r />]|\Z))|.*+)"
    rf"|<plaintext(?![^\t\n\f\r />]){_ATTRIBUTES}>?.*+"  # the rest is text
    rf"|</?(?P<name>[A-Za-z][^\t\n\f\r />]*+){_ATTRIBUTES}>?",
    re.DOTALL | re.IGNORECASE,
)

# What replaces a document tag that follows something other than a space or the end of a
# tag: an empty comment, so that what was before the tag and what was after it do not join
# into a token neither of them was ("<<body>p>" is not a paragraph, "&amp<body>;" not "&").
_SEPARATOR = "<!---->"


def without_document_tags(html: str) -> str:
    """``html`` without the document tags an HTML tokenizer finds in it (see the module)."""
    if _HINT.search(html) is None:
        return html
    return _TOKEN.sub(_without_if_document_tag, html)


def _without_if_document_tag(match: re.Match[str]) -> str:
    token = match.group()
    name = match.group("name")
    if name is not None:
        document_tag = name.lower() in _DOCUMENT_TAG_NAMES
    else:
        document_tag = token[:9].lower() == "<!doctype"
    if not document_tag:
        return token
    start = match.start()
    if start == 0 or match.string[start - 1] in ">\t\n\f\r ":
        return ""
    return _SEPARATOR
