"""The run's signer: one process that signs the workers' documents in numpy.

A worker sends a document's texts and reads their signatures back; what comes back must be
what :func:`feeds.core.near.signature` gives, the texts of any Unicode, and a worker that
cannot reach the signer signs itself. The signer leaves nothing behind: it ends with its
run, or when the run's process is killed.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
import uuid
from array import array
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feeds.core import near
from feeds.run.signer import (
    RemoteSigner,
    decode_rows,
    decode_texts,
    encode_texts,
    reply,
    start_signer,
)

pytestmark = pytest.mark.skipif(os.name != "posix", reason="Unix sockets")

_TEXTS = st.one_of(
    st.none(),
    st.text(),  # lone surrogates too: a JSON feed may hold them
    st.lists(st.sampled_from(["the", "bank", "rates", "Öl", "株価", "1.5", "—"]), max_size=60).map(
        " ".join
    ),
)


@given(st.lists(_TEXTS, max_size=12))
def test_texts_arrive_as_they_were_sent(texts: list[str | None]) -> None:
    read = io.BytesIO(encode_texts(texts) * 2)
    assert decode_texts(read) == texts
    assert decode_texts(read) == texts
    assert decode_texts(read) is None  # the end of the connection


_ROWS = st.lists(
    st.one_of(st.none(), st.lists(st.integers(-1, 2**32 - 1), min_size=64, max_size=64))
)


def _body(rows: list[list[int] | None]) -> bytes:
    return array("q", [v for row in rows for v in (row or [-2] * near.NUM_BINS)]).tobytes()


@given(_ROWS)
def test_signatures_arrive_as_they_were_sent(rows: list[list[int] | None]) -> None:
    sent = [None if row is None else tuple(row) for row in rows]
    assert decode_rows(io.BytesIO(reply(_body(rows))), len(sent)) == sent


def test_a_reply_of_the_wrong_size_is_refused() -> None:
    with pytest.raises(ConnectionError):
        decode_rows(io.BytesIO(reply(_body([None, None]))), 3)
    with pytest.raises(ConnectionError):
        decode_rows(io.BytesIO(reply(_body([None]))[:-8]), 1)


@settings(max_examples=300)
@given(st.lists(_TEXTS, max_size=12))
def test_the_signers_rows_are_the_signatures(texts: list[str | None]) -> None:
    from feeds.core.minhash_batch import signature_matrix

    signed = [None if t is None else near.signed_text(t) for t in texts]
    body = signature_matrix(signed, -2).tobytes()
    got = decode_rows(io.BytesIO(reply(body)), len(texts))
    assert got == [None if t is None else near.signature(t) for t in texts]


@pytest.fixture(scope="module")
def remote() -> Iterator[RemoteSigner]:
    with ExitStack() as stack:
        path = start_signer(stack)
        assert path is not None
        remote = RemoteSigner(path)
        yield remote
        remote.close()
    assert not Path(path).parent.exists()  # its socket is removed with it


@settings(max_examples=150, deadline=None)
@given(st.lists(_TEXTS, max_size=12))
def test_the_signer_signs_as_one_at_a_time(remote: RemoteSigner, texts: list[str | None]) -> None:
    assert remote(texts) == [None if t is None else near.signature(t) for t in texts]
    assert not remote._failed


def test_a_worker_that_cannot_reach_the_signer_signs_itself(tmp_path: Path) -> None:
    texts = [f"story {n} about the bank and its rates, said the oil minister" for n in range(20)]
    alone = RemoteSigner(str(tmp_path / "no-socket"))
    assert alone(texts) == [near.signature(t) for t in texts]
    assert alone._failed


def test_a_signer_that_ends_midway_leaves_the_worker_signing_itself() -> None:
    texts = [f"story {n} about the bank and its rates, said the oil minister" for n in range(20)]
    expected = [near.signature(t) for t in texts]
    with ExitStack() as stack:
        path = start_signer(stack)
        assert path is not None
        remote = RemoteSigner(path)
        assert remote(texts) == expected and not remote._failed
    assert remote(texts) == expected  # the signer is gone
    assert remote._failed


def _signing_in_a_worker() -> tuple[str, bool, bool]:
    texts = [f"story {n} about the bank and its rates, said the oil minister" for n in range(30)]
    assert near.signatures(texts) == [near.signature(t) for t in texts]
    remote = near._batch
    assert isinstance(remote, RemoteSigner)
    return type(remote).__name__, remote._failed, "numpy" in sys.modules


def test_workers_have_the_signer_sign_and_never_load_numpy() -> None:
    from feeds.run import worker_pool

    with ExitStack() as stack:
        pool = worker_pool.start_pool(stack, 2)  # the run's workers, from the fork server
        assert pool is not None
        found = pool.submit(_signing_in_a_worker).result(timeout=60)
    assert found == ("RemoteSigner", False, False)
    assert near._batch is None  # this process signs one text at a time


ORPHANED = """
import os, sys, time
from contextlib import ExitStack
from feeds.run.signer import RemoteSigner, start_signer
sys.path.append(sys.argv[1])  # a mark in the signer's command line
stack = ExitStack()
path = start_signer(stack)
RemoteSigner(path)(["the bank said rates rose by half a point on Monday"] * 20)
print(path, flush=True)
time.sleep(60)
"""


def _signers(mark: str, run: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and entry.name != str(run):
            try:
                command = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if mark.encode() in command and b"feeds.run.signer" in command:
                found.append(int(entry.name))
    return found


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="Linux /proc")
def test_the_signer_ends_when_its_run_is_killed() -> None:
    mark = f"/nonexistent/{uuid.uuid4().hex}"
    run = subprocess.Popen(
        [sys.executable, "-c", ORPHANED, mark], stdout=subprocess.PIPE, text=True
    )
    assert run.stdout is not None
    path = Path(run.stdout.readline().strip())
    assert path.is_socket()
    assert len(_signers(mark, run.pid)) == 1  # it answered
    run.send_signal(signal.SIGKILL)  # no stack closed, no clean-up of any kind
    run.wait()
    run.stdout.close()
    deadline = time.monotonic() + 20
    while _signers(mark, run.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _signers(mark, run.pid) == []
    assert not path.parent.exists()  # nothing left in the temporary folder


def test_a_signer_that_cannot_start_leaves_the_workers_signing_themselves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No temporary folder to make the socket in, then a socket path longer than Unix allows.
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path / "missing"))
    with ExitStack() as stack:
        assert start_signer(stack) is None
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path / ("x" * 120)))
    (tmp_path / ("x" * 120)).mkdir()
    with ExitStack() as stack:
        assert start_signer(stack) is None
    assert list((tmp_path / ("x" * 120)).iterdir()) == []  # nothing left behind
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    monkeypatch.setattr("sys.executable", str(tmp_path / "no-python"))  # an embedded Python
    with ExitStack() as stack:
        assert start_signer(stack) is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x" * 120]
