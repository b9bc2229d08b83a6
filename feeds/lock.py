"""The refresh lock: one process at a time works on a store.

A slow cron run and the next one (or a cron run and the daemon) must never write
the same store at once. ``flock`` on a file beside the store is released by the
kernel when the holder dies, so a crash never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from feeds.errors import LockError

POLL_SECONDS = 0.1


def lock_path(store_path: Path) -> Path:
    return store_path.with_name(store_path.name + ".lock")


@contextmanager
def refresh_lock(
    store_path: Path,
    timeout: float,
    *,
    monotonic: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[None]:
    """Hold the store's lock; wait at most ``timeout`` seconds, then raise :class:`LockError`."""
    path = lock_path(store_path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise LockError(f"{path}: cannot open the lock file: {exc}") from exc
    try:
        deadline = monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if monotonic() >= deadline:
                    holder = _holder(fd)
                    raise LockError(
                        f"another feeds process{holder} is working on {store_path}; "
                        f"gave up after waiting {timeout:g} s"
                    ) from None
                sleep(POLL_SECONDS)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _holder(fd: int) -> str:
    try:
        pid = os.pread(fd, 32, 0).decode("ascii").strip()
    except (OSError, UnicodeDecodeError):
        return ""
    return f" (pid {pid})" if pid.isdigit() else ""
