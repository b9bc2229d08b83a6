"""How the parts of a stream (:func:`feeds.run.executor.stream`) end when it does: its fetching
and its pool of workers are waited for, unless Ctrl-C stopped the run, which should end
now: then they are abandoned (fetch threads left to end with the process, fetch processes
killed, workers told to end at once).
"""

from __future__ import annotations

import multiprocessing
import signal
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import process as process_module
from contextlib import suppress
from multiprocessing.connection import Connection
from typing import Any

from feeds.run.fetch_processes import FetchProcesses
from feeds.run.fetching import Fetching, Rolling
from feeds.run.held_ctrl_c import ctrl_c_held


def _interrupted(exc_type: type[BaseException] | None) -> bool:
    return exc_type is not None and issubclass(exc_type, KeyboardInterrupt)


def fetching_ending(fetching: Fetching | FetchProcesses | Rolling) -> Callable[..., bool]:
    """How a stream's fetching ends when its ``stack`` closes: the fetches under way are
    waited for, unless the run was interrupted (Ctrl-C), which should end it now: then they
    are abandoned (killed, in fetch processes), since nothing more is saved."""

    def end(exc_type: type[BaseException] | None, *_: object) -> bool:
        if _interrupted(exc_type):
            fetching.abort()
        else:
            fetching.stop()
        return False  # the exception, if any, goes on

    return end


def pool_ending(pool: ProcessPoolExecutor, held: Connection) -> Callable[..., bool]:
    """How the pool ends with its stream: the jobs not started are cancelled (saving failed
    half-way, or the run is stopped) and the workers waited for; after Ctrl-C, the workers
    end at once, their job or not (their lifeline, ``held``, is closed: see
    :func:`feeds.run.worker_pool._worker`)."""

    def end(exc_type: type[BaseException] | None, *_: object) -> bool:
        if _interrupted(exc_type):
            held.close()
            # Interrupted as its first job started its thread, the pool cannot join it.
            with suppress(RuntimeError):
                pool.shutdown(wait=False, cancel_futures=True)
        else:
            pool.shutdown(wait=True, cancel_futures=True)
        return False

    return end


def start_fork_server_deaf(context: multiprocessing.context.BaseContext) -> None:
    """Start the fork server, if ``context`` uses one, with SIGINT blocked: the server
    ignores Ctrl-C itself only once it has imported its preloads, and a Ctrl-C before that
    printed a traceback (it is the run's process that stops). The blocked signal stays
    blocked through the server's ``exec``, and in the workers it forks (which ignore it as
    well). A Ctrl-C during the start waits, blocked, and reaches the run when it is done:
    it was ignored there, and lost."""
    if (
        context.get_start_method() != "forkserver"
        or threading.current_thread() is not threading.main_thread()
    ):
        return
    from multiprocessing import forkserver, resource_tracker

    # It ignores SIGINT and SIGTERM itself; a SIGHUP (the terminal closed) it would die of,
    # and be started again by the stopping run, which printed tracebacks: kept blocked.
    held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP})
    try:
        resource_tracker.ensure_running()  # it blocks SIGINT while it starts, then unblocks it
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)
    with ctrl_c_held():
        forkserver.ensure_running()


def _wakeup_closed_meanwhile_is_quiet() -> None:
    """A pool's wakeup pipe closed by its manager thread between another thread's look at
    it and its write is no error. CPython 3.11's ``_ThreadWakeup.wakeup`` looks at
    ``_closed`` and then writes, unlocked: a Ctrl-C as the workers start (the pool broken
    and its manager closing the pipe while the run ends it) printed an ``OSError: [Errno 9]
    Bad file descriptor`` traceback. The write is let go once the pipe is known closed;
    any other error is raised as before."""
    wakeup_class = getattr(process_module, "_ThreadWakeup", None)
    original = getattr(wakeup_class, "wakeup", None)
    if original is None or getattr(original, "quiet_when_closed", False):
        return

    def wakeup(self: Any) -> None:
        try:
            original(self)
        except OSError:
            if not self._closed:
                raise

    wakeup.quiet_when_closed = True  # type: ignore[attr-defined]
    wakeup_class.wakeup = wakeup  # type: ignore[union-attr]


_wakeup_closed_meanwhile_is_quiet()
