"""Content-Encoding (gzip, deflate, br) undone with bounded output: no step yields more than
``DECODE_CHUNK`` bytes, whatever the compression ratio."""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator

import brotli  # type: ignore[import-untyped]

from feeds.errors import (
    FetchError,
)

#: The most bytes one decoding step may produce (and so the most a bomb adds past the limit).
DECODE_CHUNK = 64 * 1024

# --- bounded Content-Encoding decoding ----------------------------------------------------


class _BoundedDecoder:
    """Undo a response's Content-Encoding (RFC 9110 §8.4) a bounded step at a time.

    ``gzip``/``x-gzip`` (concatenated members too), ``deflate`` (zlib-wrapped, or
    raw as some servers send it), ``br`` and ``identity``, in any stack (e.g.
    ``gzip, br``, undone last first). Every yielded chunk is at most
    :data:`DECODE_CHUNK` bytes, and no stage holds more than that of output, so
    the caller's size limit bounds memory however well the body compresses. A
    corrupt or truncated stream raises :class:`FetchError`.
    """

    def __init__(self, header: str | None, url: str) -> None:
        self._url = url
        codings = [c.strip().lower() for c in (header or "").split(",")]
        # Any other token is passed through as identity, as httpx did: servers send
        # "none", "utf-8" or "binary" for bodies that are not encoded at all. Bytes in a
        # coding we cannot undo then fail to parse, with the parser's message.
        self._codings = [c for c in codings if c in ("gzip", "x-gzip", "deflate", "br")]

    def decode(self, raw: Iterable[bytes]) -> Iterator[bytes]:
        stream: Iterable[bytes] = raw
        # Codings are listed in the order they were applied; undo the last one first.
        for coding in reversed(self._codings):
            stream = self._stage(coding, stream)
        return iter(stream)

    def _stage(self, coding: str, chunks: Iterable[bytes]) -> Iterator[bytes]:
        try:
            if coding == "br":
                yield from _unbrotli(chunks)
            else:
                yield from _inflate(chunks, gzip=coding != "deflate")
        except (zlib.error, brotli.error) as exc:
            raise FetchError(
                self._url, f"could not decode the body ({coding}): {exc or 'corrupt data'}"
            ) from exc


#: How a gzip member starts (RFC 1952 §2.3.1).
_GZIP_MAGIC = b"\x1f\x8b"


def _inflate(chunks: Iterable[bytes], *, gzip: bool) -> Iterator[bytes]:
    """zlib inflate with ``max_length``: no call returns more than DECODE_CHUNK bytes."""
    wbits = zlib.MAX_WBITS | 16 if gzip else zlib.MAX_WBITS
    inflater = zlib.decompressobj(wbits)
    # Until the first output, keep the input: "deflate" is meant to be zlib-wrapped
    # (RFC 9110 §8.4.1.2), but some servers send raw deflate, which shows only once the
    # two header bytes have arrived (perhaps in separate reads); then start over raw.
    head: bytes | None = b"" if not gzip else None
    started = False
    split_magic = b""  # a next member's first byte, the last of a read
    for data in chunks:
        started = started or bool(data)
        data, split_magic = split_magic + data, b""
        while data:
            if inflater.eof:
                if gzip and data == _GZIP_MAGIC[:1]:  # its second byte comes with the next read
                    split_magic = data
                    break
                # A new gzip member may follow (RFC 1952 §2.2); anything else is trailing junk.
                if not (gzip and data[:2] == _GZIP_MAGIC):
                    return
                inflater = zlib.decompressobj(wbits)
            try:
                out = inflater.decompress(data, DECODE_CHUNK)
            except zlib.error:
                if head is None:
                    raise
                data, head = head + data, None
                inflater = zlib.decompressobj(-zlib.MAX_WBITS)
                continue
            if head is not None:
                head = None if out else head + data[: len(data) - len(inflater.unconsumed_tail)]
            data = inflater.unconsumed_tail or (inflater.unused_data if inflater.eof else b"")
            if out:
                yield out
            # Output may still be pending inside zlib once the input is consumed.
            while len(out) == DECODE_CHUNK and not inflater.unconsumed_tail:
                out = inflater.decompress(b"", DECODE_CHUNK)
                if out:
                    yield out
    if started and not inflater.eof:
        raise zlib.error("the compressed stream ends early")


def _unbrotli(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Brotli with ``output_buffer_limit`` (brotli >= 1.2): bounded output per call."""
    decompressor = brotli.Decompressor()
    started = False
    for data in chunks:
        if not data:
            continue
        started = True
        out = decompressor.process(data, output_buffer_limit=DECODE_CHUNK)
        if out:
            yield out
        # Until it can accept more input, the decompressor must be drained with empty input.
        while not decompressor.can_accept_more_data():
            out = decompressor.process(b"", output_buffer_limit=DECODE_CHUNK)
            if not out:
                break
            yield out
    # Output may still be pending once the input has all been accepted.
    while started and not decompressor.is_finished():
        out = decompressor.process(b"", output_buffer_limit=DECODE_CHUNK)
        if not out:
            raise brotli.error("the compressed stream ends early")
        yield out
