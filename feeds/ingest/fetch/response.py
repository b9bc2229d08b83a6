"""Reading what a server answered into a :class:`~feeds.types.FetchResult`:
redirect targets, 304s, status errors, the body under its limits, and the timeouts."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping

import httpx

from feeds.errors import (
    BodyTooLargeError,
    FetchError,
    FetchTimeoutError,
    HTTPStatusError,
    NotHTMLError,
    TooManyRedirectsError,
)
from feeds.ingest.fetch.decode import _BoundedDecoder
from feeds.ingest.fetch.files import _result_with_body
from feeds.ingest.fetch.resolver import LookupTimeout
from feeds.ingest.fetch.wire import (
    _HTTP_SCHEMES,
    ACCEPT,
    ACCEPT_ENCODING,
    ACCEPT_HTML,
    DRAIN_BYTES,
    _content_length,
    _header_bytes,
    shortened,
)
from feeds.types import FetchOptions, FetchRequest, FetchResult


def _drain(response: httpx.Response, deadline: float) -> None:
    """Read the rest of a small unwanted body (see :data:`DRAIN_BYTES`); give up quietly.

    Only a body whose length is known in advance (Content-Length, or none by its
    status) is read: anything else is cut off by closing the connection, as before.
    """
    if response.is_stream_consumed:
        return
    if response.status_code not in (204, 304):
        declared = _content_length(response.headers.get("content-length"))
        if declared is None or declared > DRAIN_BYTES:
            return
    read = 0
    try:
        for chunk in response.iter_raw():
            read += len(chunk)
            if read > DRAIN_BYTES or time.monotonic() > deadline:
                return
    except (httpx.HTTPError, httpx.StreamError):
        return


def _raw_chunks(response: httpx.Response) -> Iterable[bytes]:
    """The body as it came off the wire (Content-Encoding not undone).

    A response built in memory (``httpx.MockTransport`` handlers returning
    ``content=``) has been read already, so ``iter_raw`` refuses it; its stream
    still replays the raw bytes.
    """
    if response.is_stream_consumed and isinstance(response.stream, httpx.SyncByteStream):
        return response.stream
    return response.iter_raw()


def _request_headers(request: FetchRequest, user_agent: bytes) -> list[tuple[bytes, bytes]]:
    """What every GET sends, with the stored validators of a conditional GET."""
    accept = ACCEPT_HTML if request.public_only else ACCEPT
    headers = [
        (b"User-Agent", user_agent),
        (b"Accept", accept.encode()),
        (b"Accept-Encoding", ACCEPT_ENCODING.encode()),
    ]
    if request.etag:
        headers.append((b"If-None-Match", _header_bytes(request.etag)))
    if request.last_modified:
        headers.append((b"If-Modified-Since", _header_bytes(request.last_modified)))
    return headers


#: Fields that hold one value (RFC 9110: no list syntax). A server that sends one twice,
#: the same each time, means it once; joined as a list field is ("d, d"), a Last-Modified
#: or Expires is no date and a Location no URL.
_SINGLE_VALUED = frozenset(
    {
        "age",
        "content-location",
        "content-type",
        "date",
        "etag",
        "expires",
        "last-modified",
        "location",
        "retry-after",
    }
)

#: The validators, sent back as they came (see :func:`_header_bytes`).
_VALIDATORS = frozenset({"etag", "last-modified"})


def _response_headers(response: httpx.Response) -> dict[str, str]:
    """The answer's fields by lower-cased name, a field sent more than once joined with
    ", " (RFC 9110 §5.3), except a one-value field said twice alike: that value, once.

    A validator is decoded one character per byte (ISO-8859-1), whatever httpx made of
    the head (UTF-8 when every field is): sent back as ISO-8859-1 by
    :func:`_header_bytes`, an ETag such as ``"café"`` in UTF-8 goes back byte for byte
    (RFC 9110 §8.8.3: opaque), and the server can answer 304.
    """
    encoding = response.headers.encoding  # httpx's choice: ASCII, else UTF-8, else Latin-1
    fields: dict[str, str] = {}
    said: dict[str, set[str]] = {}  # the values of a field said more than once
    for raw_name, raw_value in response.headers.raw:
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1" if name in _VALIDATORS else encoding)
        first = fields.get(name)
        if first is None:
            fields[name] = value
        elif name not in _SINGLE_VALUED:
            fields[name] += ", " + value  # a list field (RFC 9110 §5.3)
        elif value not in (seen := said.setdefault(name, {first})):
            seen.add(value)
            fields[name] += ", " + value
    if len(said.get("last-modified", ())) > 1:  # two dates are no date: nothing to send back
        del fields["last-modified"]  # (joined, they made an If-Modified-Since of no date)
    return fields


def _location(response: httpx.Response) -> str | None:
    """Where a redirect sends us: its Location, said once (or again alike); None without
    one. Two different ones are an error, as browsers make it: neither can be trusted."""
    found = list(dict.fromkeys(response.headers.get_list("location")))
    if len(found) > 1:
        raise httpx.RemoteProtocolError(f"a redirect with {len(found)} different Location fields")
    return found[0] if found else None


def _redirect_target(
    request: FetchRequest, current: httpx.URL, location: str, visited: list[str], limit: int
) -> httpx.URL:
    """Where a redirect goes: an http(s) URL not visited yet, within ``limit`` redirects."""
    try:
        target = current.join(location)  # a relative Location is allowed (RFC 9110 §10.2.2)
        port = target.port
    except httpx.InvalidURL as exc:
        raise FetchError(
            request.url,
            f"redirect to an invalid URL {shortened(location)!r}: {shortened(str(exc))}",
        ) from exc
    if port is not None and not 0 <= port <= 65535:  # would wrap around: 74237 is 8701
        raise FetchError(
            request.url,
            f"redirect to an invalid URL {shortened(location)!r}: port out of range 0-65535",
        )
    if target.scheme not in _HTTP_SCHEMES:
        raise FetchError(
            request.url,
            f"redirect to {shortened(str(target))} refused: only http and https are followed",
        )
    if str(target) in visited:
        chain = " → ".join(shortened(url) for url in [*visited, str(target)])
        raise TooManyRedirectsError(request.url, f"redirect loop: {chain}")
    if len(visited) > limit:
        raise TooManyRedirectsError(request.url, f"more than {limit} redirects")
    return target


def _read_response(
    request: FetchRequest,
    response: httpx.Response,
    deadline: float,
    permanent_redirect: str | None,
    options: FetchOptions,
    *,
    temporary: bool = False,
) -> FetchResult:
    """The result of a final (non-redirect) answer: 304, 2xx with its body, or an error
    (``temporary``: a 302, 303 or 307 led to it, so an error speaks of where it led).

    An answer to a question we did not ask is an error, and none of its validators are
    kept: a 304 to a request that sent no validators (it says "not modified" of nothing
    we hold), a 206 (we never ask for a Range: its body is a part of the document).
    """
    status = response.status_code
    # Where a redirect led, less a user name and password its Location held: relative
    # links, GUIDs and a page's canonical link are resolved against it and published.
    final_url = (
        str(response.url.copy_with(userinfo=b"")) if response.url.userinfo else str(response.url)
    )
    where = f" (at {shortened(final_url)})" if final_url != request.url else ""
    if status == 304 and not (request.etag or request.last_modified):
        raise FetchError(
            request.url,
            f"HTTP 304 Not Modified{where}, but the request sent no ETag or Last-Modified:"
            " refused (there is no document it could leave unchanged)",
        )
    if status == 206:
        raise FetchError(
            request.url,
            f"HTTP 206 Partial Content{where}, but the request asked for no Range:"
            " refused (its body is only a part of the document)",
        )
    headers = _response_headers(response)
    etag = headers.get("etag")
    last_modified = headers.get("last-modified")
    if status == 304:
        # RFC 9111 §4.3.4: a 304 may carry fresh validators; keep the old ones otherwise.
        return FetchResult(
            source=request.source,
            url=request.url,
            final_url=final_url,
            status=status,
            content=None,
            headers=headers,
            etag=etag if etag is not None else request.etag,
            last_modified=last_modified if last_modified is not None else request.last_modified,
            body_hash=request.body_hash,
            permanent_redirect=permanent_redirect,
        )
    if not 200 <= status < 300:
        raise _status_error(request, response, headers, final_url, temporary)
    body = _read_body(request, response, headers, deadline, options)
    return _result_with_body(
        request, final_url, status, body, headers, etag, last_modified, permanent_redirect
    )


def _status_error(
    request: FetchRequest,
    response: httpx.Response,
    headers: Mapping[str, str],
    final_url: str,
    temporary: bool,
) -> HTTPStatusError:
    """The error for an answer that is neither 2xx nor 304 (nor a redirect we followed)
    from ``final_url``."""
    where = f" (at {shortened(final_url)})" if final_url != request.url else ""
    status = response.status_code
    message = f"HTTP {status} {response.reason_phrase}".rstrip()
    if 300 <= status < 400:
        message += " without a redirect to follow"
    return HTTPStatusError(
        request.url,
        status,
        message + where,
        retry_after=headers.get("retry-after"),
        temporary_redirect=temporary,
        date=headers.get("date"),
        answered=final_url,
    )


def _read_body(
    request: FetchRequest,
    response: httpx.Response,
    headers: Mapping[str, str],
    deadline: float,
    options: FetchOptions,
) -> bytes:
    """The decoded body, cut off past ``max_body_bytes`` (or the request's ``max_bytes``)
    or the total deadline; not read at all when its type or declared length rules it out."""
    limit = options.max_body_bytes
    if request.max_bytes is not None:
        limit = min(limit, request.max_bytes)
    media = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if request.html_only and media and "html" not in media and "xml" not in media:
        raise NotHTMLError(request.url, f"not an HTML page ({shortened(media)}): not read")
    declared = _content_length(headers.get("content-length"))
    if declared is not None and declared > limit:
        raise BodyTooLargeError(
            request.url,
            f"body of {declared} bytes (Content-Length) is over the limit of {limit} bytes",
        )
    decoder = _BoundedDecoder(headers.get("content-encoding"), request.url)
    body = bytearray()
    # The raw bytes are decoded here, a bounded step at a time, so the limit counts
    # what we would keep in memory: a small gzip or brotli bomb is cut off, not inflated.
    for chunk in decoder.decode(_raw_chunks(response)):
        body += chunk
        if len(body) > limit:
            raise BodyTooLargeError(
                request.url, f"body larger than the limit of {limit} bytes (cut off)"
            )
        if time.monotonic() > deadline:
            raise FetchTimeoutError(
                request.url, f"total timeout of {options.total_timeout:g} s exceeded"
            )
    return bytes(body)


def _timeout(options: FetchOptions, deadline: float) -> httpx.Timeout:
    """The per-operation timeouts, each clamped to the time left before ``deadline``."""
    remaining = max(deadline - time.monotonic(), 0.001)
    return httpx.Timeout(
        connect=min(options.connect_timeout, remaining),
        read=min(options.read_timeout, remaining),
        write=min(options.read_timeout, remaining),
        pool=remaining,  # waiting for a pooled connection is not clamped by the backend
    )


def _describe_timeout(options: FetchOptions, exc: Exception, deadline: float) -> str:
    # Timeouts are clamped to the deadline, so one that fires near it is the total's.
    if time.monotonic() >= deadline - 0.01:
        return f"total timeout of {options.total_timeout:g} s exceeded"
    if isinstance(exc, LookupTimeout):
        return f"name lookup timeout ({options.connect_timeout:g} s): {exc}"
    if isinstance(exc, httpx.ConnectTimeout):
        return f"connect timeout ({options.connect_timeout:g} s)"
    if isinstance(exc, httpx.PoolTimeout):
        return "timed out waiting for a free connection"
    return f"read timeout (no data for {options.read_timeout:g} s)"
