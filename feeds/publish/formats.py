"""The output formats: one :class:`OutputFormat` per format, and the registry that finds them.

Each format is one module that renders and checks its documents (:mod:`feeds.publish.atom`,
:mod:`feeds.publish.rss`, :mod:`feeds.publish.jsonfeed`); a new format is one new module
and one entry in :data:`FORMATS`.

``publish``, ``archive``, ``serve``, ``check`` and the CLI ask the registry what a format is
(its media type, its default file suffix, whether it has RFC 5005 archive pages, how it is
rendered and checked) instead of branching on its name. The renderers and checkers are
imported when first called, so reading the registry costs no feedgen or jsonschema import
(``feeds --help`` and ``feeds serve`` stay fast).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from feeds.config import OutputConfig
    from feeds.publish.documents import DocLinks
    from feeds.types import StoredEntry

__all__ = ["FORMATS", "OutputFormat", "format_of_file", "get"]

Renderer = Callable[["OutputConfig", "Sequence[StoredEntry]", "DocLinks", bool], bytes]


@dataclass(frozen=True)
class OutputFormat:
    """What one output format is: name (as in ``formats = [...]``), label, media type, suffix.

    ``archived``: the format has RFC 5005 archive pages (``…-archive-N`` files beside it).
    """

    name: str
    label: str
    media_type: str
    suffix: str
    archived: bool
    _render: Callable[[], Renderer]
    _check: Callable[[], Callable[[bytes], list[str]]]

    def render(
        self,
        output: OutputConfig,
        entries: Sequence[StoredEntry],
        links: DocLinks,
        *,
        capped: bool = True,
    ) -> bytes:
        """The document of ``entries`` in this format (the newest ``max_entries`` if capped)."""
        return self._render()(output, entries, links, capped)

    def check(self, data: bytes) -> list[str]:
        """Pre-publish validation of a document in this format; empty list = valid."""
        return self._check()(data)


def _atom_renderer() -> Renderer:
    from feeds.publish.atom import render_atom

    return lambda output, entries, links, capped: render_atom(output, entries, links, capped=capped)


def _atom_checker() -> Callable[[bytes], list[str]]:
    from feeds.publish.atom import check_atom

    return check_atom


def _rss_renderer() -> Renderer:
    from feeds.publish.rss import render_rss

    return lambda output, entries, links, capped: render_rss(output, entries, links, capped=capped)


def _rss_checker() -> Callable[[bytes], list[str]]:
    from feeds.publish.rss import check_rss

    return check_rss


def _json_renderer() -> Renderer:
    from feeds.publish.jsonfeed import render_document

    return render_document


def _json_checker() -> Callable[[bytes], list[str]]:
    from feeds.publish import jsonfeed

    return jsonfeed.check


ATOM = OutputFormat(
    "atom", "Atom", "application/atom+xml", ".atom", True, _atom_renderer, _atom_checker
)
RSS = OutputFormat(
    "rss", "RSS 2.0", "application/rss+xml", ".rss", True, _rss_renderer, _rss_checker
)
JSON_FEED = OutputFormat(
    "json",
    "JSON Feed 1.1",
    "application/feed+json",
    ".json",
    False,  # JSON Feed has no archive links
    _json_renderer,
    _json_checker,
)

FORMATS: dict[str, OutputFormat] = {f.name: f for f in (ATOM, RSS, JSON_FEED)}
"""Every format, by name, in the order outputs list them by default."""


def get(name: str) -> OutputFormat:
    """The format called ``name`` (``atom``, ``rss``, ``json``); KeyError for another."""
    return FORMATS[name]


def format_of_file(file: Path, outputs: Sequence[OutputConfig]) -> OutputFormat | None:
    """The format of ``file`` when it is an output's document or one of its archive pages.

    Asked of the configuration first (an ``rss_path`` ending in ``.xml`` is RSS), then of the
    suffix (``.atom``, ``.rss``, ``.json``). None for any other file.
    """
    file = file.resolve()
    for output in outputs:
        for name in output.formats:
            document = output.format_path(name).resolve()
            if file == document:
                return FORMATS[name]
            if FORMATS[name].archived and _is_archive_page(file, document):
                return FORMATS[name]
    return next((f for f in FORMATS.values() if f.suffix == file.suffix), None)


def _is_archive_page(file: Path, document: Path) -> bool:
    """``file`` is an archive page of ``document``: ``business-archive-3.atom`` beside it."""
    stem, _, page = file.stem.rpartition("-archive-")
    same_place = file.parent == document.parent and file.suffix == document.suffix
    return same_place and stem == document.stem and page.isdigit()
