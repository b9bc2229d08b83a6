"""HTML escaped twice: a body or summary whose publisher escaped its text once too often.

A CMS that escapes text that was escaped already writes
``Acme&amp;#8217;s &amp;quot;deal&amp;quot;`` in its HTML, and every reader shows
``Acme&#8217;s &quot;deal&quot;``. Such text is told by what it shows: not one ``&``, ``<``
or ``>`` of its own (the second escaping left none), and references, one at least of them
what an escaping function or a CMS's typography writes and no author writes about: a numeric
one (``&#8217;``, ``&#039;``) or a quote, dash or ellipsis by name (``&quot;``,
``&rsquo;``, ``&hellip;``). Its text (never its tags or attribute values) is then unescaped
once more, up to ``MAX_DECODE_ROUNDS`` times.

Text about HTML stays as written: ``type &amp;amp; to show &amp;`` (shown ``type &amp; to
show &``) shows a bare ``&``; ``Say &amp;lt;b&amp;gt; for bold`` (shown ``Say &lt;b&gt; for
bold``) and ``write &amp;amp; for an ampersand`` show no reference of the kinds above.
Unescaping only turns ``&amp;`` into ``&``, so it never makes markup: ``&amp;lt;b&amp;gt;``
becomes ``&lt;b&gt;``, shown as the text ``<b>``.
"""

from __future__ import annotations

import html as htmllib
import re
from html.entities import html5

from feeds.core.text import MAX_DECODE_ROUNDS

# A tag, a comment, a doctype or a processing instruction: what lies outside the text.
_MARKUP = re.compile(r"<!--.*?(?:-->|\Z)|<[A-Za-z/!?][^>]*>?", re.DOTALL)
# A reference escaped once more, the sign that makes the rest worth reading.
_ESCAPED_REFERENCE = re.compile(r"&amp;(?:#[0-9]+|#[xX][0-9A-Fa-f]+|[A-Za-z][A-Za-z0-9]*);")
# In shown text: a reference, or an ampersand that begins none.
_SHOWN_AMPERSAND = re.compile(r"&(?:(#[0-9]+|#[xX][0-9A-Fa-f]+|[A-Za-z][A-Za-z0-9]*);)?")

# A reference that escaping functions and CMS typography write (PHP's htmlspecialchars,
# WordPress's wptexturize), also under ``&amp;`` escaped once more: a numeric one, or a quote,
# a dash or the ellipsis by name.
_ESCAPING_SIGN = re.compile(
    r"&(?:amp;)*(?:#[0-9]+|#[xX][0-9A-Fa-f]+"
    r"|quot|apos|lsquo|rsquo|sbquo|ldquo|rdquo|bdquo|laquo|raquo|ndash|mdash|hellip);"
)


def _escaped_twice(shown: str) -> bool:
    """Whether the text ``shown`` (what a reader shows) shows no ``&``, ``<`` or ``>`` of
    its own, and references, one of them an :data:`_ESCAPING_SIGN` (see the
    module docstring)."""
    if "<" in shown or ">" in shown:
        return False
    for match in _SHOWN_AMPERSAND.finditer(shown):
        name = match.group(1)
        if name is None or (name[0] != "#" and f"{name};" not in html5):
            return False
    return _ESCAPING_SIGN.search(shown) is not None


def unescaped_once_more(html: str) -> str:
    """``html`` with the text of a body escaped twice unescaped once more (each ``&amp;`` of
    its text is ``&``), while it is so, at most ``MAX_DECODE_ROUNDS`` times; any other
    ``html`` as it is. Its tags, comments and attribute values are kept as they are."""
    for _ in range(MAX_DECODE_ROUNDS):
        if not _ESCAPED_REFERENCE.search(html):
            break
        pieces = _MARKUP.split(html)
        if not _escaped_twice(htmllib.unescape("".join(pieces))):
            break
        tags = _MARKUP.findall(html)
        text = [piece.replace("&amp;", "&") for piece in pieces]
        html = "".join(part for pair in zip(text, [*tags, ""], strict=True) for part in pair)
    return html
