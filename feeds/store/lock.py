"""The refresh lock: one ``feeds refresh`` (or ``publish``, ``drop``, ``store vacuum``,
``store migrate``) at a time on a store.

A slow cron run and the next one must not both run. Daemons do not take it: they, and
a refresh beside them, are workers that lease what they fetch in the store
(:mod:`feeds.run.worker`). ``flock`` on a file beside the store is released by the
kernel when the holder dies, so a crash never leaves a stale lock behind.
"""

from __future__ import annotations

import errno
import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from feeds.config.model import LOCK_SUFFIX
from feeds.core.limits import printable
from feeds.errors import LockError, StoreError

POLL_SECONDS = 0.1

#: Why a lock file cannot be made or opened for writing, by errno: the store is read-only.
READ_ONLY = {
    errno.EROFS: "read-only file system",
    errno.EACCES: "read-only for this user (permission denied)",
    errno.EPERM: "read-only for this user (permission denied)",
}


def lock_path(store_path: Path) -> Path:
    return store_path.with_name(store_path.name + LOCK_SUFFIX)


@contextmanager
def refresh_lock(
    store_path: Path,
    timeout: float,
    *,
    monotonic: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    role: str = "refresh",
    on_wait: Callable[[str], None] | None = None,
) -> Iterator[None]:
    """Hold the store's lock; wait at most ``timeout`` seconds, then raise :class:`LockError`
    (:class:`~feeds.errors.StoreError` when the lock file cannot be opened for writing: the
    store is read-only, say).

    ``role`` is written beside our pid in the lock file, so a process that
    waits in vain can say who holds the lock: the command (``refresh``, ``store vacuum``).
    ``on_wait`` is told once, as the wait begins, who holds it (``another feeds process,
    `feeds refresh` (pid 42), is working on …; waiting up to 60 s``).
    """
    fd = _open_lock_file(store_path)
    try:
        deadline = monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if on_wait is not None:
                    pid, holder_role = _holder(fd)
                    on_wait(
                        f"another feeds process{_named(pid, holder_role)} is working on "
                        f"{store_path}; waiting up to {timeout:g} s"
                    )
                    on_wait = None
                if monotonic() >= deadline:
                    raise _gave_up(fd, store_path, timeout) from None
                sleep(POLL_SECONDS)
        _note_holder(fd, role)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _open_lock_file(store_path: Path) -> int:
    """The lock file of the store at ``store_path``, open for writing (made if absent)."""
    path = lock_path(store_path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        # Not another process's lock (LockError, exit 75: try again later): a store that
        # cannot be written, which waiting does not change.
        if exc.errno in READ_ONLY:
            raise StoreError(f"cannot write {path}: {READ_ONLY[exc.errno]}") from exc
        if exc.errno in (errno.EEXIST, errno.ENOTDIR):  # not "[Errno 17] File exists"
            raise StoreError(f"{store_path}: cannot open: {_file_in_the_way(path)}") from exc
        raise StoreError(f"{path}: cannot open the lock file: {exc}") from exc


def _gave_up(fd: int, store_path: Path, timeout: float) -> LockError:
    """The error of a wait for the lock (open as ``fd``) that lasted ``timeout`` in vain."""
    pid, holder_role = _holder(fd)
    if holder_role == "daemon":
        return LockError(
            f"the feeds daemon (pid {pid}) is running on {store_path} and "
            f"holds its lock; gave up after waiting {timeout:g} s. The daemon "
            "fetches due sources itself: do not also run `feeds refresh` "
            "from cron, or stop the daemon first"
        )
    return LockError(
        f"another feeds process{_named(pid, holder_role)} is working on "
        f"{store_path}; gave up after waiting {timeout:g} s"
    )


def _file_in_the_way(path: Path) -> str:
    """Why the folders of ``path`` cannot be made: the one that is a file."""
    for folder in reversed(path.parents):
        if folder.exists() and not folder.is_dir():
            return f"{folder} is a file, not a folder"
    return f"its folder {path.parent} is not a folder"


def _note_holder(fd: int, role: str) -> None:
    """Write our pid and ``role`` into the lock file, for a process that waits in vain. Only
    a note: on a full disk (or a failing one) the lock is held without it, and the store's
    own writes say what is wrong."""
    with suppress(OSError):
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} {role}\n".encode())


def _holder(fd: int) -> tuple[str, str]:
    """The (pid, role) written by the lock's holder; empty strings when unreadable. The
    role is the holder's command, which may be two words (``store vacuum``)."""
    try:
        fields = os.pread(fd, 256, 0).decode("ascii").split()
    except (OSError, UnicodeDecodeError):
        return "", ""
    pid = fields[0] if fields and fields[0].isdigit() else ""
    return pid, printable(" ".join(fields[1:]))


def _named(pid: str, role: str) -> str:
    """``, `feeds store vacuum` (pid 42),``: who holds the lock, as far as its note says."""
    if not role:
        return f" (pid {pid})" if pid else ""
    return f", `feeds {role}`" + (f" (pid {pid})," if pid else ",")
