"""The ``[[outputs]]`` tables, and the files no output may be written over."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from feeds.config.checker import _NAME_RE, _Checker, _string_list
from feeds.config.filters import FILTER_KEYS, rule_set
from feeds.config.model import (
    ARCHIVED_FORMATS,
    FORMATS,
    OutputConfig,
    SourceConfig,
    store_files,
)
from feeds.core.identity import is_absolute_iri
from feeds.core.uri import URI_RE, as_uri

_OUTPUT_KEYS = {
    "name",
    "path",
    "title",
    "subtitle",
    "max_entries",
    "summary_words",
    "sources",
    "url",
    "id",
    "author",
    "formats",
    "rss_path",
    "json_path",
    "archive",
    "archive_page_size",
    "hub",
    "iframes",
}


def _outputs(
    checker: _Checker, raw: Any, base_dir: Path, source_names: list[str]
) -> list[OutputConfig]:
    outputs: list[OutputConfig] = []
    if raw is None:
        checker.problem("outputs", "at least one [[outputs]] table is required")
        return outputs
    if not isinstance(raw, list):
        checker.problem("outputs", "must be an array of tables ([[outputs]])")
        return outputs
    names: set[str] = set()
    paths: set[Path] = set()
    addresses: set[str] = set()  # public URLs and feed ids: each names one feed
    for i, item in enumerate(raw):
        where = f"outputs[{i}]"
        if not isinstance(item, dict):
            checker.problem(where, "must be a table")
            continue
        output = _output(checker, item, where, base_dir, source_names, names)
        if output is None:
            continue
        names.add(output.name)
        for fmt in output.formats:
            written = output.format_path(fmt)
            if written in paths:
                checker.problem(
                    f"{where}.path" if fmt == "atom" else f"{where}.{fmt}_path",
                    f"{str(written)!r} is written by another output or format",
                )
            paths.add(written)
        _check_addresses(checker, output, where, addresses)
        outputs.append(output)
    root = served_root(outputs)
    return [replace(output, served_root=root) for output in outputs]


def _check_addresses(checker: _Checker, output: OutputConfig, where: str, taken: set[str]) -> None:
    """Two outputs may not share a public URL (of any format) or a feed id: a block copied
    without changing its ``url`` published two feeds under one id and one address, which
    readers and hubs take for one feed (RFC 4287 §4.2.6: an id is the feed's own)."""
    ident = output.id or output.url
    if ident is not None and ident in taken:
        key = "id" if output.id else "url"
        checker.problem(f"{where}.{key}", f"{ident!r} is the feed id of another output")
    for fmt in output.formats:
        public = output.format_url(fmt)
        if public is not None and public != ident and public in taken:
            checker.problem(f"{where}.url", f"{public!r} is the address of another output")
    taken.update(a for a in (ident, *map(output.format_url, output.formats)) if a is not None)


def served_root(outputs: Sequence[OutputConfig]) -> Path | None:
    """The folder holding every output's files (``out/`` for the default config), which
    ``feeds serve`` serves by default.

    None when the files are spread over folders that are not inside one of them (serving
    their common parent could expose far more than the feeds).
    """
    folders = {o.format_path(f).parent for o in outputs for f in o.formats}
    if not folders:
        return None
    common = Path(os.path.commonpath([str(f) for f in folders]))
    return common if common in folders else None


def _output(
    checker: _Checker,
    item: Mapping[str, Any],
    where: str,
    base_dir: Path,
    source_names: list[str],
    names: set[str],
) -> OutputConfig | None:
    """One ``[[outputs]]`` table; None when it has no usable name or path."""
    checker.keys(item, where, _OUTPUT_KEYS | FILTER_KEYS)
    name = _output_name(checker, item, where, names)
    path = _file_path(checker, item, where, "path", base_dir)
    if "path" not in item:
        checker.problem(f"{where}.path", "is required")
    title = checker.get(item, where, "title", str, name or "feeds")
    max_entries = checker.integer(item, where, "max_entries", 50)
    summary_words = checker.integer(item, where, "summary_words", 40)
    subtitle = checker.get(item, where, "subtitle", str, None)
    author = checker.get(item, where, "author", str, "feeds")
    url = _public_url(checker, item, where, "url")
    feed_id = _output_id(checker, item, where, name)
    wanted = _output_sources(checker, item, where, source_names)
    formats = _formats(checker, item, where)
    archive = checker.get(item, where, "archive", bool, False)
    page_size = checker.integer(item, where, "archive_page_size", 0, minimum=0)
    hub = _output_hub(checker, item, where, url)
    iframes = checker.get(item, where, "iframes", str, "link")
    if iframes not in ("link", "keep"):
        checker.problem(f"{where}.iframes", f'{iframes!r}: must be "link" or "keep"')
    rss_path, json_path = _format_paths(checker, item, where, base_dir, formats)
    filters = rule_set(checker, item, where)
    if name is None or path is None:
        return None
    return OutputConfig(
        name=name,
        path=path,
        title=title,
        sources=tuple(dict.fromkeys(wanted)),
        max_entries=max_entries,
        summary_words=summary_words,
        subtitle=subtitle,
        url=url,
        id=feed_id,
        author=author,
        formats=formats,
        rss_path=rss_path,
        json_path=json_path,
        archive=archive,
        archive_page_size=page_size,
        hub=hub,
        iframes=iframes,
        filters=filters,
    )


def _format_paths(
    checker: _Checker,
    item: Mapping[str, Any],
    where: str,
    base_dir: Path,
    formats: tuple[str, ...],
) -> tuple[Path | None, Path | None]:
    """``rss_path`` and ``json_path``; one given for a format ``formats`` leaves out is a
    problem (it wrote no file, and said nothing)."""
    paths = []
    for fmt in ("rss", "json"):
        key = f"{fmt}_path"
        if key in item and fmt not in formats:
            checker.problem(f"{where}.{key}", f'is set, but formats has no "{fmt}": add it')
        paths.append(_file_path(checker, item, where, key, base_dir))
    return paths[0], paths[1]


def _output_id(
    checker: _Checker, item: Mapping[str, Any], where: str, name: str | None
) -> str | None:
    """An output's ``id``: an absolute IRI the validators take, as an entry's id must be
    (``urn:x:1`` or ``tag:x`` made every document an error in the W3C Feed Validator,
    InvalidURN and InvalidTAG)."""
    feed_id = checker.get(item, where, "id", str, None)
    if feed_id is not None and not is_absolute_iri(feed_id):
        example = f"tag:example.org,2026:{name or 'news'}"
        checker.problem(
            f"{where}.id",
            f"{feed_id!r}: must be an http(s) URL, a tag: URI ({example}) or a URN (urn:uuid:…)",
        )
    return feed_id


def _file_path(
    checker: _Checker, item: Mapping[str, Any], where: str, key: str, base_dir: Path
) -> Path | None:
    """The file ``item[key]`` names, resolved against the config's folder (None when absent
    or a folder). ``path = "out/"`` wrote the Atom document as a file named ``out``, and a
    path naming an existing folder failed at every publish: both are the key's problem.

    Its folder is resolved, the name is not followed: a symbolic link found under the name
    (put there by anyone who may write to the folder, ``out/business.atom`` ->
    ``~/.profile``) is replaced by the next publish, never the file it points to."""
    raw = checker.get(item, where, key, str, None)
    if raw is None:
        return None
    given = base_dir / raw
    path = given.parent.resolve() / given.name
    if raw.endswith(("/", "\\")) or path.is_dir():
        checker.problem(f"{where}.{key}", f"{raw!r} is a folder: name the file in it")
        return None
    return path


def _output_name(
    checker: _Checker, item: Mapping[str, Any], where: str, names: set[str]
) -> str | None:
    name = checker.get(item, where, "name", str, None)
    if name is None:
        checker.problem(f"{where}.name", "is required")
    elif not _NAME_RE.match(name):
        checker.problem(f"{where}.name", f"{name!r}: use letters, digits, '-', '_' or '.'")
    elif name in names:
        checker.problem(f"{where}.name", f"{name!r} is used by another output")
    return name


def _output_sources(
    checker: _Checker, item: Mapping[str, Any], where: str, source_names: list[str]
) -> list[str]:
    """The sources an output publishes: all of them unless it names some.

    An output that names none takes every valid source; when there is none, the sources'
    own problems (or "at least one [[sources]] table") say why, and a problem on a
    ``sources`` key the output does not have would only send the reader looking for it."""
    wanted = _string_list(checker, item, where, "sources")
    if wanted is None:
        return list(source_names)
    known = set(source_names)
    for j, source_name in enumerate(wanted):
        if source_name not in known:
            checker.problem(f"{where}.sources[{j}]", f"no source named {source_name!r}")
    return wanted or _none_named(checker, where)


def _none_named(checker: _Checker, where: str) -> list[str]:
    checker.problem(f"{where}.sources", "must name at least one source")
    return []


def _public_url(checker: _Checker, item: Mapping[str, Any], where: str, key: str) -> str | None:
    """The output's ``key`` (``url``, ``hub``) written as a URI (an IDN host in IDNA, other
    characters %-encoded: it is a published document's id, self link and RSS channel link,
    which the feed validators check against RFC 2396); a problem when it cannot be one."""
    value = checker.get(item, where, key, str, None)
    if value is None:
        return None
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:
        host = None
    if host is None or parts.scheme.lower() not in ("http", "https"):
        checker.problem(f"{where}.{key}", f"{value!r}: must be an absolute http(s) URL")
        return None
    if "[" in parts.netloc:
        problem = "an IPv6 literal host: RSS 2.0's URLs (RFC 2396) have none; use a host name"
        checker.problem(f"{where}.{key}", f"{value!r}: {problem}")
        return None
    uri = as_uri(value)
    if not URI_RE.fullmatch(uri):
        problem = "its host holds characters no URL may (IDNA cannot write it)"
        checker.problem(f"{where}.{key}", f"{value!r}: {problem}")
        return None
    return uri


def _output_hub(
    checker: _Checker, item: Mapping[str, Any], where: str, url: str | None
) -> str | None:
    hub = _public_url(checker, item, where, "hub")
    if hub is not None and url is None:
        checker.problem(
            f"{where}.url", "is required when hub is set (the hub needs the public URL)"
        )
    return hub


def _protected_files(
    store_path: Path, config_path: Path | None, sources: Sequence[SourceConfig]
) -> dict[Path, str]:
    """Files no output may be written over, with what they are."""
    protected: dict[Path, str] = {}
    if config_path is not None:
        protected[config_path.resolve()] = "the config file"
    protected.update(store_files(store_path))
    for source in sources:
        if source.url[:8].lower().startswith(("http://", "https://")):
            continue  # (most sources: no need to split their URL)
        parts = urlsplit(source.url)
        if parts.scheme == "file":
            protected.setdefault(Path(unquote(parts.path)).resolve(), f"source {source.name}")
    return protected


def _check_collisions(
    checker: _Checker, outputs: Sequence[OutputConfig], protected: Mapping[Path, str]
) -> None:
    """An output's file (any format) may not be the config, the store or a source file:
    a publish would replace it (the store was clobbered and the refresh exited 0)."""
    for i, output in enumerate(outputs):
        for fmt in output.formats:
            written = output.format_path(fmt).resolve()
            what = protected.get(written)
            if what is not None:
                checker.problem(f"outputs[{i}].{_path_key(fmt)}", f"{str(written)!r} is {what}")
    _check_archive_pages(checker, outputs, protected)


def _path_key(fmt: str) -> str:
    return "path" if fmt == "atom" else f"{fmt}_path"


def _check_archive_pages(
    checker: _Checker, outputs: Sequence[OutputConfig], protected: Mapping[Path, str]
) -> None:
    """An archiving output's pages (``x-archive-N.atom`` beside ``x.atom``, N from 1) are its
    own: no output's file may be one (each would overwrite the other's, and the archive's
    chain of links would lead into another feed), nor the config, the store or a source."""
    written = {
        output.format_path(fmt).resolve(): f"outputs[{j}].{_path_key(fmt)}"
        for j, output in enumerate(outputs)
        for fmt in output.formats
    }
    taken = {**{path: f"{key}'s file" for path, key in written.items()}, **protected}
    for i, output in enumerate(outputs):
        if not output.archive:
            continue
        for fmt in (f for f in output.formats if f in ARCHIVED_FORMATS):
            document = output.format_path(fmt).resolve()
            for path, what in taken.items():
                if _archive_page_of(path, document):
                    checker.problem(
                        f"outputs[{i}].{_path_key(fmt)}",
                        f"its archive page {str(path)!r} would be written over {what}",
                    )


def _archive_page_of(path: Path, document: Path) -> bool:
    """``path`` is a name an archive page of ``document`` takes: ``x-archive-3.atom``."""
    if path.parent != document.parent or path.suffix != document.suffix:
        return False
    stem, found, page = path.stem.rpartition("-archive-")
    return bool(found) and stem == document.stem and page.isdigit() and page[0] != "0"


def _formats(checker: _Checker, item: Mapping[str, Any], where: str) -> tuple[str, ...]:
    value = item.get("formats", ["atom"])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        checker.problem(f"{where}.formats", f"must be a list of formats {list(FORMATS)}")
        return ("atom",)
    unknown = [v for v in value if v not in FORMATS]
    for fmt in unknown:
        checker.problem(f"{where}.formats", f"{fmt!r}: unknown format (use {', '.join(FORMATS)})")
    chosen = tuple(f for f in FORMATS if f in value)
    if not chosen and not unknown:
        checker.problem(f"{where}.formats", "must name at least one format")
    return chosen or ("atom",)
