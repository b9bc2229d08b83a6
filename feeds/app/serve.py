"""``feeds serve``: a small HTTP server for the published files.

For trying feeds out and for small installs; production sites put nginx (see
docs/publishing.md) in front of ``out/``. Standard library only
(:class:`http.server.ThreadingHTTPServer`).

- GET and HEAD of files under the root folder, nothing else: a path that
  would leave the folder (``..``, encoded or not, symlinks pointing out) is a
  404; hidden files (temporary files of an atomic write) are never served.
- Content types: ``application/atom+xml``, ``application/rss+xml``,
  ``application/feed+json`` (RFC 4287, the RSS board, JSON Feed 1.1).
- Validators: a strong ``ETag`` (hash of the bytes) and ``Last-Modified`` (the
  file's mtime); ``If-None-Match`` (preferred, RFC 9110 §13.2.2) and
  ``If-Modified-Since`` answer 304.
- gzip when the client accepts it (``Vary: Accept-Encoding``).
- ``/`` is an HTML index of the outputs.
- A browser (``Accept`` preferring ``text/html`` over the feed's type) that
  opens an Atom, RSS or JSON feed URL gets a readable HTML view of it instead
  (``Vary: Accept``): Chromium shows feeds as plain text and is removing XSLT,
  so an ``xml-stylesheet`` processing instruction is no longer enough.
"""

from __future__ import annotations

import gzip
import hashlib
import html
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

from feeds.config import OutputConfig
from feeds.publish import formats
from feeds.publish.formats import format_of_file

CONTENT_TYPES = {  # files that are not an output's document (those: feeds.publish.formats)
    ".xml": "application/xml",
    ".opml": "text/x-opml",
    ".html": "text/html",
    ".txt": "text/plain",
}
_COMPRESSIBLE = ("application/", "text/")


@dataclass(frozen=True)
class Served:
    """One answered request, for logs and tests."""

    method: str
    path: str
    status: int


@dataclass(frozen=True)
class _Body:
    data: bytes
    content_type: str
    etag: str
    mtime: float


class FeedServer(ThreadingHTTPServer):
    """Serves ``root``; ``outputs`` name the feeds listed on the index page."""

    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        root: Path,
        outputs: Sequence[OutputConfig] = (),
        *,
        on_request: Callable[[Served], None] | None = None,
    ) -> None:
        super().__init__(address, _Handler)
        self.root = root.resolve()
        self.outputs = tuple(outputs)
        self.on_request = on_request
        self._views: dict[tuple[Path, str], bytes] = {}
        self._views_lock = threading.Lock()
        #: Paths answered by a function instead of a file (``/metrics``, ``/healthz``):
        #: ``path`` → ``() -> (status, content type, body)``, never cached.
        self.dynamic: dict[str, Callable[[], tuple[int, str, bytes]]] = {}

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def html_view(self, path: Path, etag: str, data: bytes) -> bytes:
        """The HTML view of a feed file, cached per content hash."""
        with self._views_lock:
            cached = self._views.get((path, etag))
        if cached is None:
            cached = render_view(path.name, data)
            with self._views_lock:
                self._views = {k: v for k, v in self._views.items() if k[0] != path}
                self._views[(path, etag)] = cached
        return cached


class _Handler(BaseHTTPRequestHandler):
    server: FeedServer
    protocol_version = "HTTP/1.1"
    server_version = "feeds-serve"
    timeout = 30

    def log_message(self, format: str, *args: object) -> None:
        pass  # requests are reported through on_request (the CLI prints them)

    def do_GET(self) -> None:
        self._answer(head=False)

    def do_HEAD(self) -> None:
        self._answer(head=True)

    def _finish(self, status: int) -> None:
        """Report the answer before it is sent, so a client that got it sees it logged."""
        callback = self.server.on_request
        if callback is not None:
            callback(Served(self.command, self.path, status))

    def _answer(self, *, head: bool) -> None:
        path = urlsplit(self.path).path
        if path in self.server.dynamic:
            self._send_dynamic(*self.server.dynamic[path](), head=head)
            return
        if path in ("/", "/index.html"):
            body = _Body(
                render_index(self.server.root, self.server.outputs),
                "text/html; charset=utf-8",
                "",
                0.0,
            )
            self._send(body, head=head, validators=False)
            return
        file = _resolve(self.server.root, path)
        if file is None:
            self._error(404, "Not Found")
            return
        try:
            data = file.read_bytes()
            mtime = file.stat().st_mtime
        except OSError:
            self._error(404, "Not Found")
            return
        etag = '"' + hashlib.sha256(data).hexdigest()[:32] + '"'
        feed_format = format_of_file(file, self.server.outputs)
        if feed_format is not None:
            content_type = feed_format.media_type
        else:
            content_type = CONTENT_TYPES.get(file.suffix, "application/octet-stream")
        vary = ["Accept-Encoding"]
        if feed_format is not None:
            vary.append("Accept")
            if _wants_html(self.headers.get("Accept", ""), content_type):
                etag = etag[:-1] + '-html"'
                data = self.server.html_view(file, etag, data)
                content_type = "text/html"
        if content_type.startswith("text/") or content_type.endswith(("+xml", "+json")):
            content_type += "; charset=utf-8"
        self._send(_Body(data, content_type, etag, mtime), head=head, vary=vary)

    def _not_modified(self, body: _Body) -> bool:
        inm = self.headers.get("If-None-Match")
        if inm is not None:
            tags = [t.strip().removeprefix("W/") for t in inm.split(",")]
            return "*" in tags or any(t in (body.etag, _gzip_etag(body.etag)) for t in tags)
        ims = self.headers.get("If-Modified-Since")
        if ims:
            try:
                since = parsedate_to_datetime(ims)
            except (TypeError, ValueError):
                return False
            if since.tzinfo is None:
                since = since.replace(tzinfo=UTC)
            return int(body.mtime) <= since.timestamp()
        return False

    def _send(
        self,
        body: _Body,
        *,
        head: bool,
        validators: bool = True,
        vary: Sequence[str] = ("Accept-Encoding",),
    ) -> None:
        data = body.data
        gzipped = (
            "gzip" in _codings(self.headers.get("Accept-Encoding", ""))
            and body.content_type.startswith(_COMPRESSIBLE)
            and len(data) > 256
        )
        etag = _gzip_etag(body.etag) if gzipped and body.etag else body.etag
        if validators and self._not_modified(body):
            self.send_response(304)
            self.send_header("ETag", etag)
            self.send_header("Last-Modified", formatdate(body.mtime, usegmt=True))
            self.send_header("Vary", ", ".join(vary))
            self._finish(304)
            self.end_headers()
            return
        if gzipped:
            data = gzip.compress(data, mtime=0)
        self.send_response(200)
        self.send_header("Content-Type", body.content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Vary", ", ".join(vary))
        if gzipped:
            self.send_header("Content-Encoding", "gzip")
        if validators:
            self.send_header("ETag", etag)
            self.send_header("Last-Modified", formatdate(body.mtime, usegmt=True))
            self.send_header("Cache-Control", "no-cache")
        self._finish(200)
        self.end_headers()
        if not head:
            self.wfile.write(data)

    def _send_dynamic(self, status: int, content_type: str, data: bytes, *, head: bool) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self._finish(status)
        self.end_headers()
        if not head:
            self.wfile.write(data)

    def _error(self, status: int, reason: str) -> None:
        data = f"{status} {reason}\n".encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self._finish(status)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)


def _gzip_etag(etag: str) -> str:
    """A gzip body is a different representation: a different strong ETag (RFC 9110 §8.8.3)."""
    return etag[:-1] + '-gz"' if etag else etag


def _codings(header: str) -> set[str]:
    accepted: set[str] = set()
    for part in header.split(","):
        name, _, params = part.strip().partition(";")
        if _quality(params) > 0:
            accepted.add(name.strip().lower())
    return accepted


def _quality(params: str) -> float:
    for param in params.split(";"):
        key, _, value = param.strip().partition("=")
        if key.strip().lower() == "q":
            try:
                return float(value)
            except ValueError:
                return 0.0
    return 1.0


def _wants_html(accept: str, feed_type: str) -> bool:
    """True when ``Accept`` ranks ``text/html`` above the feed's own media type."""
    if not accept:
        return False
    ranks: list[tuple[str, float]] = []
    for part in accept.split(","):
        name, _, params = part.strip().partition(";")
        ranks.append((name.strip().lower(), _quality(params)))

    def quality(media: str) -> float:
        major = media.split("/")[0]
        best = {1: 0.0, 2: 0.0, 3: 0.0}
        found = 0
        for name, q in ranks:
            level = 3 if name == media else 2 if name == f"{major}/*" else 1 if name == "*/*" else 0
            if level > found:
                found = level
                best[level] = q
        return best.get(found, 0.0) if found else 0.0

    return quality("text/html") > max(quality(feed_type), quality("application/xml"))


def _resolve(root: Path, url_path: str) -> Path | None:
    """The file that ``url_path`` names under ``root``, or None (traversal, hidden, absent)."""
    parts = [p for p in unquote(url_path).split("/") if p]
    if any(p in ("..", ".") or p.startswith(".") or "\\" in p or "\x00" in p for p in parts):
        return None
    if not parts:
        return None
    candidate = root.joinpath(*parts)
    try:
        resolved = candidate.resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if not resolved.is_relative_to(root) or not resolved.is_file():
        return None
    return resolved


# --- HTML ---------------------------------------------------------------------------------

_STYLE = (
    "body{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;"
    "color:#222}h1{font-size:1.6rem}article{border-top:1px solid #ddd;padding:.6rem 0}"
    "h2{font-size:1.15rem;margin:.2rem 0}time,.note{color:#666;font-size:.85rem}"
    "code{background:#f3f3f3;padding:0 .2rem}"
)


def _page(title: str, body: str) -> bytes:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width"><title>{html.escape(title)}'
        f"</title><style>{_STYLE}</style></head><body>\n{body}\n</body></html>\n"
    ).encode()


def render_index(root: Path, outputs: Sequence[OutputConfig]) -> bytes:
    """An HTML list of the outputs' files that exist under ``root``."""
    items: list[str] = []
    for output in outputs:
        links: list[str] = []
        for fmt in output.formats:
            media_type = formats.get(fmt).media_type
            path = output.format_path(fmt)
            if not path.exists() or not path.resolve().is_relative_to(root):
                continue
            href = "/" + path.resolve().relative_to(root).as_posix()
            links.append(
                f'<a href="{html.escape(href)}" type="{media_type}">'
                f"{html.escape(fmt.upper() if fmt != 'json' else 'JSON Feed')}</a>"
            )
        if links:
            items.append(
                f"<li><strong>{html.escape(output.title)}</strong> ({html.escape(output.name)}): "
                + " · ".join(links)
                + "</li>"
            )
    body = "<h1>Feeds</h1>\n<ul>\n" + "\n".join(items or ["<li>nothing published yet</li>"])
    body += '\n</ul>\n<p class="note">Subscribe by pasting a feed link into a feed reader.</p>'
    return _page("Feeds", body)


def render_view(name: str, data: bytes) -> bytes:
    """A readable HTML page of a feed document (any of the formats we publish)."""
    from feeds.errors import ParseError
    from feeds.ingest.parse import parse

    try:
        feed = parse(data, url=f"http://localhost/{name}")
    except ParseError as exc:
        return _page(name, f"<h1>{html.escape(name)}</h1><p>{html.escape(exc.message)}</p>")
    title = feed.title or name
    parts = [
        f"<h1>{html.escape(title)}</h1>",
        f'<p class="note">This is a feed. Subscribe by copying its address '
        f"(<code>{html.escape(name)}</code>) into a feed reader.</p>",
    ]
    if feed.subtitle:
        parts.append(f"<p>{html.escape(feed.subtitle)}</p>")
    nav = _archive_nav(data)
    for entry in feed.entries:
        entry_title = html.escape(entry.title or "(untitled)")
        heading = (
            f'<a href="{html.escape(entry.link)}">{entry_title}</a>'
            if entry.link and urlsplit(entry.link).scheme in ("http", "https")
            else entry_title
        )
        when = entry.published or entry.updated
        stamp = (
            f'<time datetime="{when.isoformat()}">{when.astimezone(UTC):%Y-%m-%d %H:%M} UTC</time>'
            if isinstance(when, datetime)
            else ""
        )
        summary = _plain(entry.summary or "")
        parts.append(f"<article><h2>{heading}</h2>{stamp}<p>{html.escape(summary)}</p></article>")
    if nav:
        parts.append(f"<nav>{nav}</nav>")
    return _page(title, "\n".join(parts))


_NAV_LABELS = (
    ("current", "Newest entries"),
    ("next-archive", "Newer entries"),
    ("prev-archive", "Older entries"),
)


def _archive_nav(data: bytes) -> str:
    """Links between an Atom or RSS document and its RFC 5005 archive pages, as HTML."""
    from lxml import etree

    if data.lstrip()[:1] != b"<":
        return ""
    try:
        root = etree.fromstring(
            data, etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
        )
    except etree.XMLSyntaxError:
        return ""
    top = root.find("channel") if root.tag == "rss" else root
    if top is None:
        return ""
    hrefs = {
        link.get("rel"): link.get("href")
        for link in top.findall("{http://www.w3.org/2005/Atom}link")
    }
    links = [
        f'<a rel="{rel}" href="{html.escape(href)}">{label}</a>'
        for rel, label in _NAV_LABELS
        if (href := hrefs.get(rel))
    ]
    return " · ".join(links)


def _plain(fragment: str) -> str:
    from lxml import etree
    from lxml import html as lxml_html

    if "<" not in fragment:
        return html.unescape(fragment)
    try:
        root = lxml_html.fragment_fromstring(fragment, create_parent="div")
    except (etree.ParserError, ValueError):
        return fragment
    return " ".join("".join(root.itertext()).split())


def serve(
    root: Path,
    outputs: Sequence[OutputConfig],
    host: str = "127.0.0.1",
    port: int = 8080,
    *,
    on_request: Callable[[Served], None] | None = None,
) -> FeedServer:
    """Create (not start) a server; call ``serve_forever()`` on it."""
    return FeedServer((host, port), root, outputs, on_request=on_request)


def default_root(outputs: Sequence[OutputConfig]) -> Path | None:
    """The folder holding every output's files (``out/`` for the default config).

    None when the files are spread over folders that are not inside one of
    them (serving their common parent could expose far more than the feeds):
    the caller must then name the folder to serve.
    """
    import os

    folders = {o.format_path(f).parent for o in outputs for f in o.formats}
    if not folders:
        return None
    common = Path(os.path.commonpath([str(f) for f in folders]))
    return common if common in folders else None
