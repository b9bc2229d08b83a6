"""``feeds check``: read every published file (documents and archive pages) and check it
with its format's checker."""

from __future__ import annotations

import glob
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from feeds.config import Config, OutputConfig
from feeds.publish import formats
from feeds.publish.documents import archive_path, not_a_folder, read_regular

__all__ = ["NOT_PUBLISHED", "FileCheck", "check_outputs", "unset_secrets"]

#: What ``feeds check`` says of an output's document that is not there yet.
NOT_PUBLISHED = "not published yet (`feeds refresh` or `feeds publish` writes it)"

#: What it says of a name that is no regular file: it is not read (a FIFO would never end).
NOT_A_FILE = "not a regular file (a FIFO, a device, a folder): not read"

#: What it says of archive pages missing below the last one found or linked (``gap``: which).
MISSING_PAGES = "missing{gap}: links lead to it (`feeds publish` writes it again)"

#: What it says of an archive page missing below the last one found.
MISSING_PAGE = "missing: the archive pages beside it link to it (`feeds publish` writes it again)"


@dataclass(frozen=True)
class FileCheck:
    """What checking one published file found: ``read_error`` when it could not be read
    (:data:`NOT_PUBLISHED`, a page missing between others, or ``cannot read: …``), else the
    format checker's ``problems`` (empty: valid)."""

    output: str
    path: Path
    label: str
    problems: tuple[str, ...] = ()
    read_error: str | None = None

    @property
    def ok(self) -> bool:
        return self.read_error is None and not self.problems


def check_outputs(config: Config) -> Iterator[FileCheck]:
    """Check each output's documents, format by format, each followed by its archive pages."""
    for output in config.outputs:
        for name in output.formats:
            fmt = formats.get(name)
            found, data = _check_file(output.name, output.format_path(name), fmt.label, fmt)
            yield found
            if not fmt.archived:
                continue
            linked = _linked_page(output, name, data) if data is not None else None
            for path, missing in _archive_pages(output, name, linked):
                if missing is not None:
                    yield FileCheck(output.name, path, fmt.label, read_error=missing)
                else:
                    yield _check_file(output.name, path, fmt.label, fmt)[0]


def _check_file(
    output: str, path: Path, label: str, fmt: formats.OutputFormat
) -> tuple[FileCheck, bytes | None]:
    """What checking the file at ``path`` found, and its bytes (None: not read)."""
    try:
        data = read_regular(path)
    except FileNotFoundError:
        # A new install runs `feeds check` before its first refresh: say what to do, not
        # the errno.
        return FileCheck(output, path, label, read_error=NOT_PUBLISHED), None
    except NotADirectoryError:
        return FileCheck(output, path, label, read_error=f"cannot read: {not_a_folder(path)}"), None
    except OSError as exc:
        return FileCheck(output, path, label, read_error=f"cannot read: {exc.strerror}"), None
    if data is None:
        return FileCheck(output, path, label, read_error=NOT_A_FILE), None
    return FileCheck(output, path, label, tuple(fmt.check(data))), data


def _archive_pages(
    output: OutputConfig, name: str, linked: int | None
) -> Iterator[tuple[Path, str | None]]:
    """The archive pages of the ``name`` document found beside it, oldest first, each with
    None; and those missing from the oldest one linked to up to the last one found or the
    one the document links to (``linked``), each with what is wrong (links lead to it).
    The oldest pages go when their stories all left, so the first page need not be 1."""
    found = set(_page_numbers(output, name))
    expected = _oldest_linked(output, name, min(found)) if found else linked or 1
    for page in sorted(found | ({linked} if linked else set())):
        if page > expected:
            gap = f", and the pages after it up to {page - 1}" if page - 1 > expected else ""
            yield archive_path(output, name, expected), MISSING_PAGES.format(gap=gap)
        missing = None if page in found else MISSING_PAGES.format(gap="")
        yield archive_path(output, name, page), missing
        expected = page + 1


def _oldest_linked(output: OutputConfig, name: str, oldest: int) -> int:
    """The oldest archive page of the ``name`` document there should be: ``oldest``, the
    oldest found, or the page it links to as older (``prev-archive``), missing."""
    try:
        data = read_regular(archive_path(output, name, oldest))
    except OSError:
        return oldest
    older = _linked_page(output, name, data) if data is not None else None
    return older if older is not None and older < oldest else oldest


def _page_re(output: OutputConfig, name: str) -> re.Pattern[str]:
    """The file names of the archive pages of the ``name`` document; group 1: the number."""
    document = output.format_path(name)
    stem, suffix = re.escape(document.stem), re.escape(document.suffix)
    return re.compile(stem + "-archive-([1-9][0-9]{0,8})" + suffix)


def _page_numbers(output: OutputConfig, name: str) -> Iterator[int]:
    """The numbers of the archive pages of the ``name`` document found in its folder."""
    document = output.format_path(name)
    page = _page_re(output, name)
    pattern = f"{glob.escape(document.stem)}-archive-*{glob.escape(document.suffix)}"
    for found in document.parent.glob(pattern):
        if match := page.fullmatch(found.name):
            yield int(match.group(1))


def _linked_page(output: OutputConfig, name: str, data: bytes) -> int | None:
    """The number of the archive page the ``prev-archive`` link of ``data`` (the ``name``
    document: the newest page, RFC 5005 §4; or an archive page: the one before it) leads
    to, or None."""
    from lxml import etree

    from feeds.publish.markup import ATOM_NS, own_document_parser

    try:
        root = etree.fromstring(data, own_document_parser())
    except etree.XMLSyntaxError:
        return None
    top = root.find("channel") if root.tag == "rss" else root
    for link in top.iterchildren(f"{{{ATOM_NS}}}link") if top is not None else ():
        if link.get("rel") == "prev-archive":
            file = unquote(urlsplit(link.get("href") or "").path).rpartition("/")[2]
            if match := _page_re(output, name).fullmatch(file):
                return int(match.group(1))
    return None


def unset_secrets(config: Config, environ: Mapping[str, str]) -> list[str]:
    """A note per secret the config names (a source's ``auth`` variable, a webhook's
    ``secret_env``) that is not set in ``environ``.

    Secrets are read at each request, so the config loads without them and every fetch of
    the source (or every delivery of the hook) fails later, run after run. They are notes,
    not failures: the daemon's environment (a unit's ``EnvironmentFile``) may hold what the
    shell running ``feeds check`` does not."""
    notes: list[str] = []
    for i, source in enumerate(config.sources):
        auth = source.http.auth
        if auth is not None and auth.env_name not in environ:
            notes.append(
                f"note: sources[{i}].auth: ${auth.env_name} is not set here: every fetch of"
                f" {source.name} fails where it is not"
            )
    for i, hook in enumerate(config.hooks):
        if hook.secret_env and hook.secret_env not in environ:
            notes.append(
                f"note: hooks[{i}].secret_env: ${hook.secret_env} is not set here: no event"
                f" of {hook.name} is delivered where it is not"
            )
    return notes
