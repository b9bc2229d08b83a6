"""What published documents do with the video embeds (``<iframe>``) a body may keep.

The sanitizer keeps iframes that point at an allowed video host. Feed readers
show a feed's HTML inside their own pages, so the W3C Feed Validator warns
about any iframe ("content should not contain iframe tag"), and many readers
drop them anyway. Per output, ``iframes`` chooses:

- ``"link"`` (the default): each iframe becomes a link to the video's page,
  with the video's title as its text (``Video: <title>``, or ``Video on <host>``);
- ``"keep"``: the iframe stays, with ``sandbox`` and ``loading="lazy"`` added.

Stored bodies keep their iframes; this runs when a document is rendered. The
bodies are the sanitizer's output (attribute values double-quoted and escaped),
so a pattern finds every iframe.
"""

from __future__ import annotations

import html
import re
from urllib.parse import urlsplit

IFRAME_MODES = ("link", "keep")
#: Enough for a video player (its scripts, full screen); still no top navigation,
#: no forms, no pop-ups.
SANDBOX = "allow-scripts allow-same-origin allow-presentation"

_IFRAME_RE = re.compile(r"<iframe\b([^>]*)>.*?</iframe>", re.IGNORECASE | re.DOTALL)
_ATTR_RE = re.compile(r'([A-Za-z_:][-\w:.]*)(?:\s*=\s*"([^"]*)")?')


def _attributes(raw: str) -> dict[str, str]:
    return {m.group(1).lower(): html.unescape(m.group(2) or "") for m in _ATTR_RE.finditer(raw)}


def video_page(src: str) -> str:
    """The page of an embedded video: YouTube and Vimeo players map to their watch pages."""
    parts = urlsplit(src)
    host = (parts.hostname or "").lower()
    segments = [s for s in parts.path.split("/") if s]
    if "youtube" in host and len(segments) == 2 and segments[0] == "embed":
        return f"https://www.youtube.com/watch?v={segments[1]}"
    if host == "player.vimeo.com" and len(segments) == 2 and segments[0] == "video":
        return f"https://vimeo.com/{segments[1]}"
    return src


def _as_link(match: re.Match[str]) -> str:
    attributes = _attributes(match.group(1))
    src = attributes.get("src", "")
    if not src:
        return ""
    title = " ".join(attributes.get("title", "").split())
    text = f"Video: {title}" if title else f"Video on {urlsplit(src).hostname or src}"
    return f'<a href="{html.escape(video_page(src))}">{html.escape(text, quote=False)}</a>'


def _sandboxed(match: re.Match[str]) -> str:
    attributes = _attributes(match.group(1))
    attributes.pop("sandbox", None)
    attributes.pop("loading", None)
    attributes["sandbox"] = SANDBOX
    attributes["loading"] = "lazy"
    rendered = "".join(f' {name}="{html.escape(value)}"' for name, value in attributes.items())
    return f"<iframe{rendered}></iframe>"


def publishable(content_html: str, mode: str) -> str:
    """``content_html`` with its iframes as ``mode`` says (see the module docstring)."""
    if "<iframe" not in content_html.lower():
        return content_html
    return _IFRAME_RE.sub(_as_link if mode == "link" else _sandboxed, content_html)
