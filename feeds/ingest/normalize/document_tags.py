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
_HINT = re.compile(r"<(?:/?(?:html|body|head)|!doctype)", re.IGNORECASE | re.ASCII)

_SPACE = r"[\t\n\f\r ]"

# Where a tag's name ends (it does not go on).
_NAME_END = r"(?![^\t\n\f\r />])"

_DOCUMENT_NAME = rf"(?:html|body|head){_NAME_END}"

# A tag's attributes: spaces and slashes between them (not the "/" of "/>"); a name (its first
# character may be "="), then perhaps "=" and a value: double- or single-quoted (up to the
# end of the input when the quote is never closed) or unquoted (up to a space or ">", so
# "/" is part of it: <script src=a/> does not close itself).
_ATTRIBUTES = (
    rf"(?:{_SPACE}++|/(?!>)|[^\t\n\f\r />][^\t\n\f\r />=]*+"
    rf"(?:{_SPACE}*+={_SPACE}*+(?:\"[^\"]*+\"?|'[^']*+'?|[^\t\n\f\r >]*+))?)*+"
)

# Elements whose text the tokenizer does not read as markup, up to their end tag (or, for
# <plaintext>, the end). As libxml2 does, and not the standard, one written as closing
# itself (<script src="…"/>) has no such text.
_RAW_TEXT = ("script", "style", "xmp", "iframe", "noembed", "noframes", "textarea", "title")

# One alternative each: a backreference to the name, inside the possessive repetition below,
# trips Python 3.11's re ("The span of capturing group is wrong").
_RAW_TEXT_ELEMENTS = "|".join(
    rf"<{name}{_NAME_END}{_ATTRIBUTES}(?:>|\Z)(?:.*?(?=</{name}(?:[\t\n\f\r />]|\Z))|.*+)"
    for name in _RAW_TEXT
)

# Everything up to the next document tag, as whole tokens: text, comments ("<!-->" is an empty
# one), other declarations, processing instructions, "</" without a name (nothing, or a
# comment up to ">"), raw-text elements, other tags, and a "<" that starts none of these.
_KEPT = (
    r"(?:[^<]++"
    r"|<!--(?:-?>|.*?--!?>|.*+)"
    r"|<!(?!doctype)[^>]*+>?"
    r"|<\?[^>]*+>?"
    r"|</(?![A-Za-z])[^>]*+>?"
    rf"|{_RAW_TEXT_ELEMENTS}"
    rf"|<plaintext{_NAME_END}{_ATTRIBUTES}(?:>|\Z).*+"
    rf"|</?(?!{_DOCUMENT_NAME})[A-Za-z][^\t\n\f\r />]*+{_ATTRIBUTES}/?>?"
    r"|<(?![!?/A-Za-z])"
    r")*+"
)

_DOCUMENT_TAG = rf"<!doctype[^>]*+>?|</?{_DOCUMENT_NAME}{_ATTRIBUTES}/?>?"

# One match: what is kept, then a document tag (absent only at the end of the fragment).
_UP_TO_DOCUMENT_TAG = re.compile(
    rf"(?P<kept>{_KEPT})(?P<document>{_DOCUMENT_TAG})?", re.DOTALL | re.IGNORECASE | re.ASCII
)

# What replaces a document tag that follows something other than a space or the end of a
# tag: an empty comment, so that what was before the tag and what was after it do not join
# into a token neither of them was ("<<body>p>" is not a paragraph, "&amp<body>;" not "&").
_SEPARATOR = "<!---->"


def without_document_tags(html: str) -> str:
    """``html`` without the document tags an HTML tokenizer finds in it (see the module)."""
    if _HINT.search(html) is None:
        return html
    return _UP_TO_DOCUMENT_TAG.sub(_kept, html)


def _kept(match: re.Match[str]) -> str:
    """What stays of ``match``: all but its document tag, and perhaps a separator."""
    kept = match.group("kept")
    start = match.start("document")
    if start < 0:
        return kept
    if start == 0 or match.string[start - 1] in ">\t\n\f\r ":
        return kept
    return kept + _SEPARATOR
