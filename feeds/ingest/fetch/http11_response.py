"""Reading one HTTP/1.1 response off a connection with llhttp (Node.js's parser, compiled,
through httptools): the head at once, the body piece by piece as it is asked for.

It reads responses as h11 did, where that matters:

- a header value may hold control characters other than NUL, CR, LF, VT and FF (llhttp's
  strict mode refuses them all); a field name must be a token (``Content-Length :`` is an
  error: lenient llhttp would frame the body by it);
- a head's lines may end in a bare LF; a chunk's may not (a chunk one byte short is an error);
- Content-Length said twice with the same value (``5`` twice, or ``5, 5``) is read as one
  (llhttp refuses it; servers send it); Content-Length with Transfer-Encoding is framed by the
  latter and the connection is not reused;
- 1xx heads are skipped (a 101 is refused: no request asks for an Upgrade), trailer fields
  dropped, a head over :data:`MAX_HEAD_BYTES` refused.

The status, version and framing are the final head's, taken when it ends: bytes that follow
the response in the same read (another response, junk) change nothing but the connection's
reuse.

Where they still differ, on what servers hardly send: refused here, whitespace inside a chunk
extension (``5; x``), a chunk size padded with a space, a trailer line ending in a bare LF, a
Content-Length said twice in a 1xx head; taken here, blank lines before the status line and a
folded header line (joined with its whitespace kept). tests/test_http11.py compares the two on
generated responses; two reviews' differential fuzzing found the rest.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Protocol

import httptools
import httpx

#: The most a response head (status line and headers, 1xx heads included) may take: h11's
#: limit under httpcore.
MAX_HEAD_BYTES = 100 * 1024

_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # a field name (RFC 9110 §5.1)
# What h11 refuses in a reason phrase or a field value, and lenient llhttp lets through.
_ILLEGAL_IN_TEXT = re.compile(rb"[\x00\n\x0b\x0c\r]")


class _Source(Protocol):
    """Where a response comes from: a connection's reads, each by the deadline."""

    def recv(self, timeout: float | None) -> bytes: ...


class _Message:
    """httptools' callbacks for the response being read: its head, then body pieces."""

    def __init__(self) -> None:
        self.headers: list[tuple[bytes, bytes]] = []
        self.reason = b""
        self.head_done = False
        self.status = 0  # of the head read last (llhttp's moves on to what follows)
        self.version = ""
        self.keep_alive = False
        self.framed = False  # Content-Length or Transfer-Encoding: EOF does not end it
        self.lengths = 0  # Content-Length and Transfer-Encoding fields seen
        self.final = False  # a final (not 1xx) response has completed
        self.after_final = False  # bytes came after it
        self.illegal: str | None = None  # what h11 refuses and lenient llhttp lets through
        self.head_bytes = 0  # status lines and header fields so far, 1xx heads included
        self.pieces: list[bytes] = []
        self.parser: httptools.HttpResponseParser | None = None

    def on_message_begin(self) -> None:
        if self.final:
            self.after_final = True
            return
        if self.parser is not None:  # a 1xx head's end made the framing strict
            self.parser.set_dangerous_leniencies(lenient_optional_cr_before_lf=True)
        self.headers = []
        self.reason = b""
        self.head_done = False
        self.framed = False  # a 1xx head's fields say nothing of the final response's body
        self.lengths = 0

    def on_status(self, reason: bytes) -> None:
        if self.final:
            return
        if _ILLEGAL_IN_TEXT.search(reason):
            self.illegal = f"illegal reason phrase {reason!r}"
        self.reason += reason
        self.head_bytes += len(reason) + 16

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.head_done:
            return  # a trailer field (RFC 9112 §7.1.2): dropped, as h11 under httpcore does
        if _ILLEGAL_IN_TEXT.search(value):
            self.illegal = f"illegal header value {value!r}"
        if not _TOKEN.fullmatch(name):  # lenient llhttp takes "Content-Length :" as framing
            self.illegal = f"illegal header name {name!r}"
        self.headers.append((name, value))
        self.head_bytes += len(name) + len(value) + 4
        if name.lower() in (b"content-length", b"transfer-encoding"):
            self.framed = True
            self.lengths += 1

    def on_headers_complete(self) -> None:
        if self.final:
            return
        self.head_done = True
        assert self.parser is not None
        self.status = self.parser.get_status_code()
        self.version = self.parser.get_http_version()
        self.keep_alive = self.parser.should_keep_alive()  # flags reset once complete
        # The body's chunks are framed strictly: a chunk one byte short is an error,
        # not a bare LF that takes the CR for data.
        self.parser.set_dangerous_leniencies(lenient_optional_cr_before_lf=False)

    def on_body(self, piece: bytes) -> None:
        if not self.final:
            self.pieces.append(piece)

    def on_message_complete(self) -> None:
        if self.head_done and not 100 <= self.status < 200:
            self.final = True


class _ResponseReader:
    """Reads one response off a connection: the head, then the body on demand."""

    def __init__(self, connection: _Source, read_timeout: float | None) -> None:
        self.connection = connection
        self.read_timeout = read_timeout
        self.message, self.parser = _message_and_parser()
        self.status = 0
        self.version = b"HTTP/1.1"
        self.ended = False  # the body was read to its end (or there is none)
        self.reusable = False

    def read_head(self, head_only: bool = False) -> None:
        """Read up to the final response's head (its body, for a HEAD request, is none
        whatever the head announces: llhttp is not told the method, so the connection
        is not reused)."""
        received = 0
        head: list[bytes] = []  # kept for a second reading (see _read_with_one_length)
        while True:
            data = self.connection.recv(self.read_timeout)
            if not data:
                if received == 0:
                    raise httpx.RemoteProtocolError(
                        "Server disconnected without sending a response."
                    )
                raise httpx.RemoteProtocolError(
                    "peer closed connection without sending complete message head"
                )
            received += len(data)
            head.append(data)
            try:
                self._feed(data)
            except httpx.RemoteProtocolError as exc:
                if "Content-Length" not in str(exc):
                    raise
                received += self._read_with_one_length(head, exc)
            message = self.message
            if message.head_bytes > MAX_HEAD_BYTES or (
                not message.head_done and received > MAX_HEAD_BYTES
            ):
                raise httpx.RemoteProtocolError(f"response head larger than {MAX_HEAD_BYTES} bytes")
            if message.head_done and not 100 <= message.status < 200:
                break
        if self.message.illegal is not None:
            raise httpx.RemoteProtocolError(self.message.illegal)
        self.status = self.message.status
        self.version = b"HTTP/" + self.message.version.encode("ascii")
        if head_only:
            self.ended, self.reusable = True, False
            return
        self._check_end()

    def _read_with_one_length(self, head: list[bytes], error: Exception) -> int:
        """Read the head again with its Content-Length fields made one, when they all
        say the same (``5`` twice, ``5, 5``): llhttp refuses them, h11 and browsers take
        them (RFC 9110 §8.6 allows either). Any other length error stands. How many more
        bytes of the head had to be read comes back."""
        data = bytearray(b"".join(head))
        first = len(data)
        searched = 0  # where a head's end not found yet may start (each byte searched once)
        while not (_HEAD_END.search(data, max(searched - 3, 0)) and _final_head(bytes(data))):
            if len(data) > MAX_HEAD_BYTES:
                raise error
            searched = len(data)
            more = self.connection.recv(self.read_timeout)
            if not more:
                raise error
            data += more
        fixed = _one_length(bytes(data))
        if fixed is None:
            raise error
        self.message, self.parser = _message_and_parser()
        self._feed(fixed)
        return len(data) - first

    def pieces(self) -> Iterator[bytes]:
        """The body as it arrives (chunked framing undone, Content-Encoding not)."""
        message = self.message
        while True:
            if message.pieces:
                pieces, message.pieces = message.pieces, []
                yield from pieces
            if self.ended:
                return
            data = self.connection.recv(self.read_timeout)
            if not data:
                if message.framed:
                    raise httpx.RemoteProtocolError(
                        "peer closed connection without sending complete message body"
                    )
                self.ended = True  # delimited by the connection's end (RFC 9112 §6.3)
                continue
            self._feed(data)
            self._check_end()

    def _feed(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade) as exc:
            if self.message.final:  # garbage after a whole response: do not reuse
                self.message.after_final = True
                return
            if isinstance(exc, httptools.HttpParserUpgrade):
                # Not an HttpParserError: llhttp stops at a 101 that names the protocol it
                # switches to. We never ask for an Upgrade (RFC 9110 §15.2.2: a 101
                # answers only one), so what follows is no HTTP we could read.
                raise httpx.RemoteProtocolError(
                    "HTTP 101 Switching Protocols, but the request asked for no Upgrade"
                ) from exc
            raise httpx.RemoteProtocolError(str(exc) or type(exc).__name__) from exc

    def _check_end(self) -> None:
        message = self.message
        if message.final:
            self.ended = True
            # Both Content-Length and Transfer-Encoding: read by the latter (RFC 9112 §6.1,
            # as h11 does), and the connection closed after, as a faulty framing ought to be.
            self.reusable = message.keep_alive and not message.after_final and message.lengths < 2


def _message_and_parser() -> tuple[_Message, httptools.HttpResponseParser]:
    message = _Message()
    parser = httptools.HttpResponseParser(message)
    parser.set_dangerous_leniencies(
        lenient_headers=True, lenient_optional_cr_before_lf=True, lenient_chunked_length=True
    )
    message.parser = parser
    return message, parser


_HEAD_END = re.compile(rb"\r?\n\r?\n")
_BARE_CR = re.compile(rb"\r(?!\n)")
_INFORMATIONAL = re.compile(rb"[\r\n]*HTTP/[0-9.]+ 1[0-9][0-9]\b")
_LENGTH_LINE = re.compile(rb"content-length:(.*)", re.IGNORECASE | re.DOTALL)


def _final_head(data: bytes) -> tuple[int, re.Match[bytes]] | None:
    """Where the final (not 1xx) head in ``data`` starts, and the match of its end."""
    start = 0
    while True:
        end = _HEAD_END.search(data, start)
        if end is None:
            return None
        if not _INFORMATIONAL.match(data, start):
            return start, end
        start = end.end()


def _one_length(data: bytes) -> bytes | None:
    """``data`` with its head's Content-Length fields made one, if they agree; else None.
    The head's lines come back ending in CRLF."""
    final = _final_head(data)
    if final is None:
        return None
    start, end = final
    if _BARE_CR.search(data, 0, end.end()):  # llhttp ends a head by other rules then
        return None
    lines = [line.removesuffix(b"\r") for line in data[start : end.start()].split(b"\n")]
    values: set[bytes] = set()
    for line in lines[1:]:
        match = _LENGTH_LINE.match(line)
        if match:
            values.update(v.strip(b" \t") for v in match.group(1).split(b","))
    if len(values) != 1 or not all(v.isdigit() for v in values):
        return None
    kept, written = [], False
    for line in lines:
        if _LENGTH_LINE.match(line):
            if written:
                continue
            line, written = b"Content-Length: " + values.pop(), True
        kept.append(line)
    return data[:start] + b"\r\n".join(kept) + b"\r\n\r\n" + data[end.end() :]
