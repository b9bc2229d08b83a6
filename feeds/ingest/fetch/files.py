"""A ``file://`` source read into a :class:`~feeds.types.FetchResult`, and the result of any
body read (a file's or a server's): its hash says whether it changed."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from urllib.parse import urlsplit

from feeds.core.digest import sha256
from feeds.core.uri import url2pathname
from feeds.errors import BodyTooLargeError, FetchError
from feeds.types import FetchRequest, FetchResult


def _read_file(request: FetchRequest, limit: int) -> FetchResult:
    """Read a ``file://`` source: at most ``limit`` bytes, one more tells "too large"."""
    parts = urlsplit(request.url)
    if parts.netloc not in ("", "localhost"):
        raise FetchError(
            request.url, f"file URLs must name a local file, not host {parts.netloc!r}"
        )
    path = Path(url2pathname(parts.path))
    try:
        # Without blocking: opening a named pipe waits for a writer, for ever, and the run
        # (its store lock held, nothing published) with it. Only a regular file is read.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        with os.fdopen(fd, "rb") as file:
            mode = os.fstat(fd).st_mode
            if stat.S_ISDIR(mode):
                raise FetchError(request.url, f"is a directory, not a file: {path}")
            if not stat.S_ISREG(mode):
                raise FetchError(request.url, f"not a regular file: {path}")
            # One byte past the limit tells "too large" without reading an endless file.
            body = file.read(limit + 1)
    except FileNotFoundError as exc:
        raise FetchError(request.url, f"no such file: {path}") from exc
    except IsADirectoryError as exc:
        raise FetchError(request.url, f"is a directory, not a file: {path}") from exc
    except OSError as exc:
        raise FetchError(request.url, f"cannot read {path}: {exc.strerror or exc}") from exc
    if len(body) > limit:
        raise BodyTooLargeError(request.url, f"file larger than the limit of {limit} bytes")
    return _result_with_body(request, request.url, 200, body, {}, None, None, None)


def _result_with_body(
    request: FetchRequest,
    final_url: str,
    status: int,
    body: bytes,
    headers: dict[str, str],
    etag: str | None,
    last_modified: str | None,
    permanent_redirect: str | None,
) -> FetchResult:
    """A result for a body we read; ``content`` is None when its hash is the stored one."""
    body_hash = sha256(body).hexdigest()
    return FetchResult(
        source=request.source,
        url=request.url,
        final_url=final_url,
        status=status,
        content=None if body_hash == request.body_hash else body,
        headers=headers,
        etag=etag,
        last_modified=last_modified,
        body_hash=body_hash,
        permanent_redirect=permanent_redirect,
    )
