"""What every output format shares: the document links, the atomic write, and
:func:`publish`, which renders, checks and writes the documents of one output.

The formats themselves live in :mod:`feeds.publish.atom`, :mod:`feeds.publish.rss` and
:mod:`feeds.publish.jsonfeed`, found through the registry :mod:`feeds.publish.formats`.
The contract (DESIGN.md "Publishing"), for every format:

- valid every time: each document is checked by its format's checker before anything
  is written;
- no error and no warning in the W3C Feed Validator for what feeds itself decides (the
  tests run it): an absolute ``rel="self"`` (:func:`document_url`), a full RSS channel
  ``<link>``, ``updated`` in ``<source>``, HTML-escaped RSS descriptions, video iframes
  as links (:mod:`feeds.publish.embeds`);
- deterministic: the same stored entries give byte-identical output; the feed's
  ``updated`` is the newest entry's ``updated``, never "now";
- atomic: written to a temporary file in the same folder, fsynced, renamed; a
  file whose bytes would not change is not touched, so its mtime (and a web
  server's ETag) stays the same for feed readers.

Paged archives (RFC 5005 §4): an output with ``archive = true`` keeps its
subscription document at the newest ``max_entries`` and puts every older story
in archive documents of ``page_size`` stories, numbered from the oldest
(``business-archive-1.atom`` holds the oldest stories), so a page's number and
its stories do not shift when new stories arrive; only the newest page fills up.
The documents link to each other with ``prev-archive``/``next-archive``/
``current`` and archive documents carry ``<fh:archive/>``. WebSub (W3C
Recommendation §4): an output with a ``hub`` carries ``rel="hub"`` and
``rel="self"`` links.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import os
import stat
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import quote, urljoin

from feeds.config import LOCAL_URL, OutputConfig
from feeds.errors import PublishError, ValidationError
from feeds.publish import formats
from feeds.types import StoredEntry


@dataclass(frozen=True)
class PublishResult:
    """What publishing one output did. ``written`` is False when the bytes were unchanged.

    ``written_formats`` names the subscription documents whose bytes changed
    (what a WebSub hub must hear about); ``archive_pages`` counts the archive
    documents that were (re)written.
    """

    name: str
    path: Path
    entries: int
    written: bool
    written_formats: tuple[str, ...] = ()
    archive_pages: int = 0


@dataclass(frozen=True)
class DocLinks:
    """The links of one document besides its entries (RFC 5005, WebSub).

    ``self_href`` is the document's own URL (see :func:`document_url`). ``archive``
    marks an archive document (``fh:archive``). ``atom_ids``: the Atom ids minted for the
    output's stories that share a URI (:func:`feeds.publish.atom.minted_atom_ids` of its
    whole story index), so that a story has one id in every document.
    """

    self_href: str
    hub: str | None = None
    prev_archive: str | None = None
    next_archive: str | None = None
    current: str | None = None
    archive: bool = False
    atom_ids: Mapping[str, str] = field(default_factory=dict)


def archive_name(output: OutputConfig, fmt: str, page: int) -> str:
    """File name of archive page ``page`` (1 = oldest): ``business-archive-1.atom``."""
    path = output.format_path(fmt)
    return f"{path.stem}-archive-{page}{path.suffix}"


def archive_path(output: OutputConfig, fmt: str, page: int) -> Path:
    return output.format_path(fmt).with_name(archive_name(output, fmt, page))


def document_url(output: OutputConfig, fmt: str) -> str:
    """The absolute URL of the ``fmt`` document: its public URL when the output has a
    ``url``, else where ``feeds serve`` serves it by default (``LOCAL_URL`` and its path
    under the outputs' folder: ``sub/b.atom`` beside ``business.atom``).

    Feed readers and validators want an absolute ``rel="self"`` (a relative one or
    none is a warning of the W3C Feed Validator); without a public URL the only
    address feeds knows is its own server's. ``feeds check`` says so and how to set
    ``url``.
    """
    return output.format_url(fmt) or urljoin(LOCAL_URL, quote(output.local_path(fmt)))


def _href(output: OutputConfig, fmt: str, name: str) -> str:
    """A link to file ``name`` beside the ``fmt`` document: absolute when ``url`` is set,
    else relative (it then works wherever the files are served). The name is %-encoded
    (``news[1].atom`` is ``news%5B1%5D.atom`` in a URI)."""
    base = output.format_url(fmt)
    return urljoin(base, quote(name)) if base else quote(name)


def subscription_links(output: OutputConfig, fmt: str, pages: int) -> DocLinks:
    """Links of the subscription document when archive document ``pages`` is the newest
    (0: there is none)."""
    return DocLinks(
        self_href=document_url(output, fmt),
        hub=output.hub,
        prev_archive=_href(output, fmt, archive_name(output, fmt, pages)) if pages else None,
    )


def archive_links(
    output: OutputConfig, fmt: str, page: int, pages: int, first: int = 1
) -> DocLinks:
    """Links of archive document ``page`` of the pages ``first`` to ``pages`` (RFC 5005 §4)."""
    older = archive_name(output, fmt, page - 1)
    return DocLinks(
        self_href=urljoin(document_url(output, fmt), quote(archive_name(output, fmt, page))),
        hub=None,
        prev_archive=_href(output, fmt, older) if page > first else None,
        next_archive=(
            _href(output, fmt, archive_name(output, fmt, page + 1)) if page < pages else None
        ),
        current=_href(output, fmt, output.format_path(fmt).name),
        archive=True,
    )


def feed_id(output: OutputConfig) -> str:
    """The output's Atom id: configured ``id``, else its public ``url``, else a ``tag:`` URI."""
    return output.id or output.url or f"tag:feeds.invalid,2026:output/{output.name}"


def write_atomic(path: Path, data: bytes, like: os.stat_result | None = None) -> bool:
    """Replace ``path`` with ``data`` atomically; return False (and touch nothing) if equal.

    The new file is readable by all the umask lets read (a published feed is read by a web
    server), or, with ``like`` (the file it replaces), has that file's permissions and, where
    this user may give it, its owner: a config of mode 0600 holds cookies and API keys."""
    try:
        # (only a regular file is compared: a FIFO or a link to /dev/zero put under the name
        # would be read for ever; it is replaced, never read)
        if read_regular(path, len(data)) == data:
            return False
    except FileNotFoundError:
        pass
    except OSError as exc:
        if exc.errno == errno.ENOTDIR:
            raise PublishError(f"{path}: cannot write: {not_a_folder(path)}") from exc
        raise PublishError(f"{path}: cannot read the current file: {exc}") from exc
    tmp_name: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if like is None:
            # mkstemp creates 0600; a published feed is read by a web server.
            umask = os.umask(0)
            os.umask(umask)
            Path(tmp_name).chmod(0o666 & ~umask)
        else:
            with contextlib.suppress(OSError):  # only root may give a file away
                os.chown(tmp_name, like.st_uid, like.st_gid)
            Path(tmp_name).chmod(stat.S_IMODE(like.st_mode))
        Path(tmp_name).replace(path)
        tmp_name = None
        _fsync_dir(path.parent)
    except OSError as exc:
        if exc.errno in (errno.ENOTDIR, errno.EEXIST):
            raise PublishError(f"{path}: cannot write: {not_a_folder(path)}") from exc
        raise PublishError(f"{path}: cannot write: {exc}") from exc
    finally:
        if tmp_name is not None:
            with contextlib.suppress(OSError):
                Path(tmp_name).unlink()
    _remove_stale_temp_files(path)
    return True


def not_a_folder(path: Path) -> str:
    """Why ``path`` cannot be written when one of the folders it is in is not one:
    ``/srv/out is a file, not a folder``, not the system's "Not a directory"."""
    for folder in reversed(path.parents):
        if folder.exists() and not folder.is_dir():
            return f"{folder} is a file, not a folder"
    return f"its folder {path.parent} is not a folder"


def read_regular(path: Path, size: int | None = None) -> bytes | None:
    """The bytes of the regular file at ``path`` (through a symbolic link too); None when it
    is anything else (a FIFO, a device, a folder), or when ``size`` is given and it is not
    that long. OSError (FileNotFoundError: there is nothing) when it cannot be opened."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or size not in (None, info.st_size):
            return None
        return file.read()


#: A temporary file this old was left by a writer that died (SIGKILL, power loss) before
#: its rename; a live writer renames its file within seconds.
STALE_TEMP_SECONDS = 600


def _remove_stale_temp_files(path: Path) -> None:
    """Delete ``.NAME.*.tmp`` siblings that a killed writer left behind, so they never pile up."""
    cutoff = time.time() - STALE_TEMP_SECONDS
    for leftover in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        with contextlib.suppress(OSError):
            if leftover.stat().st_mtime < cutoff:
                leftover.unlink()


def _fsync_dir(folder: Path) -> None:
    """Make the rename durable (POSIX: the directory entry lives in the folder)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# --- RSS 2.0 ---------------------------------------------------------------------------


def render(
    fmt: str,
    output: OutputConfig,
    entries: Sequence[StoredEntry],
    links: DocLinks,
    *,
    capped: bool = True,
) -> bytes:
    """Render ``entries`` as format ``fmt`` (a name in :data:`feeds.publish.formats.FORMATS`)."""
    return formats.get(fmt).render(output, entries, links, capped=capped)


def check(fmt: str, data: bytes) -> list[str]:
    """Pre-publish validation of a document of format ``fmt``; empty list = valid."""
    return formats.get(fmt).check(data)


def _validate(fmt: str, path: Path, data: bytes) -> None:
    problems = check(fmt, data)
    if problems:
        raise ValidationError(
            f"{path}: built document is not valid {formats.get(fmt).label}, not published: "
            + "; ".join(problems[:5])
        )


def publish(
    output: OutputConfig,
    entries: Sequence[StoredEntry],
    *,
    archive_pages: int = 0,
    atom_ids: Mapping[str, str] | None = None,
    on_written: Callable[[str], None] | None = None,
) -> PublishResult:
    """Render, validate and atomically write the subscription documents of one output.

    Every format is rendered and checked before any is written, so one bad
    document never leaves the formats disagreeing. ``archive_pages`` is the number of
    the newest archive document (for the ``prev-archive`` link; 0: none); ``atom_ids`` the ids
    minted over the output's story index (see :class:`DocLinks`). ``on_written`` hears
    each format whose file changed as soon as it is written, so that a write failing
    after it (the disk full) does not hide it.
    """
    documents: list[tuple[str, Path, bytes]] = []
    for fmt in output.formats:
        links = replace(subscription_links(output, fmt, archive_pages), atom_ids=atom_ids or {})
        data = render(fmt, output, entries, links)
        _validate(fmt, output.format_path(fmt), data)
        documents.append((fmt, output.format_path(fmt), data))
    written: list[str] = []
    for fmt, path, data in documents:
        if write_atomic(path, data):
            written.append(fmt)
            if on_written is not None:
                on_written(fmt)
    return PublishResult(
        name=output.name,
        path=output.path,
        entries=min(len(entries), output.max_entries),
        written=bool(written),
        written_formats=tuple(written),
    )


def publish_archive_page(
    output: OutputConfig,
    page: int,
    pages: int,
    entries: Sequence[StoredEntry],
    atom_ids: Mapping[str, str] | None = None,
    *,
    first: int = 1,
) -> int:
    """Write archive document ``page`` of the pages ``first`` to ``pages`` in every archived
    format; return how many files changed. JSON Feed has no archive links, so only Atom
    and RSS are archived."""
    changed = 0
    for fmt in output.formats:
        if fmt == "json":
            continue
        made = archive_links(output, fmt, page, pages, first)
        links = replace(made, atom_ids=atom_ids or {})
        data = render(fmt, output, entries, links, capped=False)
        path = archive_path(output, fmt, page)
        _validate(fmt, path, data)
        changed += write_atomic(path, data)
    return changed
