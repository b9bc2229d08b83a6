"""``urllib.parse.urljoin`` without its work where the answer is the URL itself.

Most links in a feed are absolute ``http(s)`` URLs written plainly, and resolving one against
the document's URL gives it back unchanged; ``urljoin`` still parses both URLs and writes the
result again (about 4 µs, several times per entry). :func:`urljoin` answers such a URL at once
and leaves every other one to ``urllib.parse.urljoin``, with the same result (tests/
test_urljoin.py checks both against each other on generated URLs).
"""

from __future__ import annotations

import re
import urllib.parse
from functools import lru_cache

__all__ = ["joinable", "plain_absolute", "plain_or_joinable", "urljoin", "urlsplit"]

# An absolute http(s) URL that urljoin gives back as it is: a lower-case scheme (urlparse
# lower-cases it), a host of letters, digits, dots and hyphens (no user, no IPv6 brackets),
# an optional port, then printable ASCII without space, quotes, angle brackets, backslash,
# caret, backtick, braces, bar (what a browser would percent-encode) or ";" (urlparse's
# "params", which urlunparse writes back only when they are not empty).
_PLAIN_ABSOLUTE = re.compile(r"https?://([A-Za-z0-9.\-]+(?::[0-9]*)?)(?:[/?#][!#-:=?-\[\]_a-z~]*)?")


def plain_absolute(url: str) -> bool:
    """Whether ``urljoin`` gives ``url`` back unchanged against any base it accepts.

    Also excluded: an empty query or fragment (``"?"`` before ``"#"`` or at the end, ``"#"`` at
    the end), whose marks urlunparse drops.
    """
    return _plain_netloc(url) is not None


# An entry's link is asked about three times or more (by the reader, by canonical_url, by
# urljoin and urlsplit), a document's URL once for each entry: the pattern costs about 70
# instructions a character, a remembered answer a few hundred in all.
@lru_cache(maxsize=512)
def _plain_netloc(url: str) -> str | None:
    """The host and port of a :func:`plain_absolute` ``url`` (never empty); None for another."""
    found = _PLAIN_ABSOLUTE.fullmatch(url)
    if found is None or url[-1] in "?#" or "?#" in url:
        return None
    return found.group(1)


@lru_cache(maxsize=64)  # a document's entries share its base
def joinable(base: str) -> bool:
    """Whether ``urllib.parse.urljoin`` accepts ``base`` as a base (it raises ValueError on
    some hosts, such as unbalanced IPv6 brackets)."""
    try:
        urllib.parse.urljoin(base, "x")
    except ValueError:
        return False
    return True


def urljoin(base: str, url: str) -> str:
    """``urllib.parse.urljoin(base, url)``, raising what it raises; at once for a
    :func:`plain_absolute` ``url``."""
    if url and plain_absolute(url) and (not base or plain_or_joinable(base)):
        return url
    return urllib.parse.urljoin(base, url)


def urlsplit(url: str) -> urllib.parse.SplitResult:
    """``urllib.parse.urlsplit(url)``, raising what it raises; at once for a
    :func:`plain_absolute` ``url`` (urlsplit costs about 30,000 instructions, and an entry's
    link, GUID and image are each split once or more).

    Such a URL holds no white space or control that urlsplit removes, no upper-case scheme
    that it lower-cases, no bracket or non-ASCII host that it checks: its parts are its
    scheme, the host and port, then the path up to the first "?" or "#", the query up to
    the first "#", the fragment."""
    netloc = _plain_netloc(url)
    if netloc is None:
        return urllib.parse.urlsplit(url)
    scheme = "https" if url[4] == "s" else "http"
    rest, _, fragment = url[len(scheme) + 3 + len(netloc) :].partition("#")
    path, _, query = rest.partition("?")
    return urllib.parse.SplitResult(scheme, netloc, path, query, fragment)


def plain_or_joinable(base: str) -> bool:
    """:func:`joinable`, at once for a :func:`plain_absolute` base (urlparse takes any)."""
    return plain_absolute(base) or joinable(base)
