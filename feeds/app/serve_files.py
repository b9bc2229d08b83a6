"""Which files ``feeds serve`` may hand out: the outputs' files and their archive pages
(:class:`AllowList`), and the files that must not lie under the folder it serves
(:func:`secrets_under`)."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from feeds.config import Config, OutputConfig
from feeds.publish import formats

__all__ = ["AllowList", "read_published", "secrets_under"]


@dataclass(frozen=True)
class _Allowed:
    """A file the server may hand out and the media type of its format."""

    path: Path
    media_type: str


class AllowList:
    """The URL paths of the outputs' files under ``root``: each format's file, and its
    archive pages (``NAME-archive-N.SUFFIX``, N from 1, which appear while serving)."""

    def __init__(self, root: Path, outputs: Sequence[OutputConfig]) -> None:
        self.root = root
        self._files: dict[str, _Allowed] = {}
        self._archives: dict[tuple[str, str, str], _Allowed] = {}
        for output in outputs:
            for fmt in output.formats:
                path = output.format_path(fmt)
                url = _url_path(root, path)
                if url is None:
                    continue
                self._files.setdefault(url, _Allowed(path, formats.get(fmt).media_type))
                if fmt != "json":  # pages written while ``archive`` was on stay served
                    folder, _, _ = url.rpartition("/")
                    key = (folder, path.stem, path.suffix)
                    self._archives.setdefault(key, _Allowed(path, formats.get(fmt).media_type))

    def lookup(self, url_path: str) -> _Allowed | None:
        """The file ``url_path`` (as sent, %-encoded) names, or None."""
        path = unquote(url_path)
        found = self._files.get(path)
        if found is not None:
            return found
        folder, _, name = path.rpartition("/")
        match = _ARCHIVE_RE.fullmatch(name)
        if match is None:
            return None
        stem, suffix = match.group("stem"), match.group("suffix") or ""
        base = self._archives.get((folder, stem, suffix))
        return _Allowed(base.path.with_name(name), base.media_type) if base else None

    def listed(self, path: Path) -> str | None:
        """The URL path of a configured file, for the index page."""
        for url, allowed in self._files.items():
            if allowed.path == path:
                return url
        return None


def read_published(root: Path, path: Path) -> tuple[bytes, float] | None:
    """The bytes and modification time of the file at ``path``, if it is a regular file of
    its own in a folder under ``root``; else None. feeds writes each output by renaming a
    new file over it, so what it published is never a link, symbolic or hard: a hard link
    (a second name of a file elsewhere, the store or one under ``/etc``) put there is not
    served either (a file published over while a request reads it has no name left, and is
    served). Asked at each request: a link or a FIFO put there while serving, say
    named like an archive page, is not followed or waited on."""
    try:
        if not path.parent.resolve().is_relative_to(root):
            return None
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
        fd = os.open(path, flags)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as file:
        try:
            info = os.fstat(file.fileno())
            if not _published_by_rename(info):
                return None
            return file.read(), info.st_mtime
        except OSError:
            return None


def _published_by_rename(info: os.stat_result) -> bool:
    """A regular file with one name, what an atomic rename of a new file leaves, or with
    none: the name it was opened by was renamed over since (a publish), and it is what
    was published until then."""
    return stat.S_ISREG(info.st_mode) and info.st_nlink <= 1


_ARCHIVE_RE = re.compile(r"(?P<stem>[^/]+)-archive-[1-9][0-9]{0,8}(?P<suffix>\.[^./]*)?")


def _url_path(root: Path, path: Path) -> str | None:
    """``/relative/path`` of ``path`` under ``root``, or None when it lies outside."""
    try:
        relative = path.resolve().relative_to(root)
    except ValueError:
        return None
    return "/" + relative.as_posix()


def secrets_under(root: Path, config: Config) -> list[Path]:
    """The config file, the store and local source files that lie under ``root``.

    The server hands out only the outputs' files, whatever the folder holds; a
    folder that holds these is refused anyway unless the user says so, in case
    some other server is pointed at it next.
    """
    root = root.resolve()
    candidates = [config.path, config.store_path]
    candidates += [_local_file(source.url, config) for source in config.sources]
    return [path for path in candidates if path is not None and path.resolve().is_relative_to(root)]


def _local_file(url: str, config: Config) -> Path | None:
    parts = urlsplit(url)
    if parts.scheme == "file":
        return Path(unquote(parts.path))
    if parts.scheme or config.path is None:
        return None
    return config.path.parent / url
