"""One process that signs the workers' documents in numpy, so that no worker loads numpy.

Signing a document's entries in one numpy pass (:mod:`feeds.core.minhash_batch`) saves a
fifth of a worker's CPU, but numpy costs each process that loads it about 17 MiB (its
compiled modules, OpenBLAS and its objects: a worker's peak went from 33 to 50 MiB). The
run's process starts this signer beside the pool of workers (:func:`start_signer`): a
fresh interpreter that imports only :mod:`feeds.core.near` and, with the first document,
numpy. Each worker sends it a document's texts over a Unix socket and reads their
signatures back (:class:`RemoteSigner`): one copy of numpy for all the workers, and none
in the processes that parse and clean.

A worker cuts each text to what is signed (:func:`feeds.core.near.signed_text`: the
lead's keys ask the same of each body, and find it done) and sends them as UTF-8 (lone
surrogates kept) after their lengths; the signatures come back as numpy's bytes of signed
64-bit numbers, :data:`~feeds.core.near.NUM_BINS` to a text: no pickle and no Python int
either way in the signer. A worker that cannot reach the signer (it failed to start, or ended) signs
in numpy itself, as before: the same numbers, so only memory and CPU tell the difference.
"""

from __future__ import annotations

import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
from array import array
from collections.abc import Sequence
from contextlib import ExitStack, suppress
from pathlib import Path
from typing import BinaryIO

from feeds.core.near import NUM_BINS, signed_text

__all__ = ["RemoteSigner", "decode_rows", "decode_texts", "encode_texts", "reply"]
__all__ += ["serve", "start_signer"]

Signatures = list[tuple[int, ...] | None]

_COUNT = struct.Struct("<Q")  # how many texts a request has, how many bytes a reply
_NONE = -1  # a request's length of a text that is None
_UNSIGNED = -2  # a reply's first value for a text without a signature (too short, None)
_TIMEOUT = 120.0  # seconds a worker waits for its signatures before it signs them itself
_START = (
    "import sys; sys.path[:] = sys.argv[2:]; "
    "from feeds.run.signer import serve; serve(int(sys.argv[1]))"
)


def encode_texts(texts: Sequence[str | None]) -> bytes:
    """A request: the number of texts, each one's length in bytes (-1: None), the bytes."""
    blobs = [b"" if text is None else text.encode("utf-8", "surrogatepass") for text in texts]
    lengths = array(
        "q", (_NONE if t is None else len(b) for t, b in zip(texts, blobs, strict=True))
    )
    return b"".join((_COUNT.pack(len(texts)), lengths.tobytes(), *blobs))


def decode_texts(read: BinaryIO) -> list[str | None] | None:
    """The texts of the request ``read`` has next (None at end of file)."""
    head = read.read(_COUNT.size)
    if len(head) < _COUNT.size:
        return None
    (count,) = _COUNT.unpack(head)
    lengths = array("q")
    lengths.frombytes(_exactly(read, 8 * count))
    texts: list[str | None] = []
    for length in lengths:
        texts.append(
            None if length == _NONE else _exactly(read, length).decode("utf-8", "surrogatepass")
        )
    return texts


def reply(body: bytes) -> bytes:
    """A reply: its size in bytes, then the signatures, :data:`NUM_BINS` numbers a text
    (:func:`feeds.core.minhash_batch.signature_matrix`'s bytes)."""
    return _COUNT.pack(len(body)) + body


def decode_rows(read: BinaryIO, count: int) -> Signatures:
    """The ``count`` signatures of the reply ``read`` has next."""
    (size,) = _COUNT.unpack(_exactly(read, _COUNT.size))
    if size != 8 * NUM_BINS * count:
        raise ConnectionError(f"a reply of {size} bytes for {count} texts")
    values = array("q")
    values.frombytes(_exactly(read, size))
    return [
        None if values[k] == _UNSIGNED else tuple(values[k : k + NUM_BINS])
        for k in range(0, len(values), NUM_BINS)
    ]


def _exactly(read: BinaryIO, size: int) -> bytes:
    data = read.read(size)
    if len(data) != size:
        raise ConnectionError(f"{len(data)} of {size} bytes before the connection ended")
    return data


def start_signer(stack: ExitStack) -> str | None:
    """Start the signer; the path of its socket, for the workers (None if it could not
    start: they sign themselves). Closing ``stack`` ends it and removes its socket.

    This process binds the socket and hands it over listening, so a worker may connect
    and send before the signer has started: the request waits in the socket. The signer
    runs in a process group of its own (a Ctrl-C at the terminal is the run's to take), on
    this process's module path, and ends when its standard input, whose writing end only
    this process holds, reads end-of-file, however this process ended.
    """
    if os.name != "posix":
        return None
    try:
        folder = tempfile.mkdtemp(prefix="feeds-signer-")  # only this user may connect
        stack.callback(shutil.rmtree, folder, ignore_errors=True)
        path = str(Path(folder) / "socket")
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listening:
            listening.bind(path)
            listening.listen(64)
            signer = subprocess.Popen(
                [sys.executable, "-c", _START, str(listening.fileno()), *sys.path],
                stdin=subprocess.PIPE,
                pass_fds=(listening.fileno(),),
                process_group=0,
            )
    except (OSError, ValueError):  # no folder, a path too long, no interpreter to start
        return None
    stack.callback(_end, signer)
    return path


def _end(signer: subprocess.Popen[bytes]) -> None:
    """Close the signer's standard input and wait for it to end (killed if it does not)."""
    if signer.stdin is not None:
        with suppress(OSError):
            signer.stdin.close()
    try:
        signer.wait(timeout=10)
    except subprocess.TimeoutExpired:
        signer.kill()
        signer.wait()


def serve(listening_fd: int) -> None:
    """The signer's process: answer each connection's requests, one thread a connection,
    until standard input reads end-of-file.

    The main thread watches standard input, and a thread of its own accepts: whatever
    becomes of the other threads, the process ends when the run's process does."""
    listening = socket.socket(fileno=listening_fd)
    threading.Thread(
        target=_accept, args=(listening,), name="feeds-signer-accept", daemon=True
    ).start()
    try:
        while sys.stdin.buffer.read(4096):
            pass
    finally:
        with suppress(OSError):
            path = Path(listening.getsockname())
            path.unlink()  # a run killed outright leaves nothing in the temporary folder
            path.parent.rmdir()
        os._exit(0)


def _accept(listening: socket.socket) -> None:
    while True:
        connection, _ = listening.accept()
        threading.Thread(target=_answer, args=(connection,), daemon=True).start()


def _answer(connection: socket.socket) -> None:
    from feeds.core.minhash_batch import signature_matrix  # numpy: with the first request

    # Whatever goes wrong closes the connection: the worker then signs itself, and a fault
    # in the signing is reported there, with its document.
    with connection, connection.makefile("rb") as read, suppress(Exception):
        while (texts := decode_texts(read)) is not None:
            connection.sendall(reply(signature_matrix(texts, _UNSIGNED).tobytes()))


class RemoteSigner:
    """A worker's way to the signer (:func:`start_signer`): called with a document's texts,
    it returns their signatures, as :func:`feeds.core.near.signatures` would. It connects
    with its first request; if the signer cannot be reached, or answers amiss, the worker
    signs in numpy itself from then on."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._connection: socket.socket | None = None
        self._read: BinaryIO | None = None
        self._failed = False

    def __call__(self, texts: Sequence[str | None]) -> Signatures:
        if not self._failed:
            try:
                return self._asked(texts)
            except (OSError, ValueError):
                self._failed = True
                self.close()
        from feeds.core.minhash_batch import minhash_texts

        return minhash_texts(texts)

    def _asked(self, texts: Sequence[str | None]) -> Signatures:
        if self._connection is None or self._read is None:
            self._connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self._connection.settimeout(_TIMEOUT)
            self._connection.connect(self._path)
            self._read = self._connection.makefile("rb")
        signed = [None if text is None else signed_text(text) for text in texts]
        self._connection.sendall(encode_texts(signed))
        return decode_rows(self._read, len(texts))

    def close(self) -> None:
        for part in (self._read, self._connection):
            if part is not None:
                with suppress(OSError):
                    part.close()
        self._connection = self._read = None
