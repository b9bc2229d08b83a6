"""The worker processes that prepare a run's documents: a pool of them, one per core, forked
from a fork server that has imported the parsing libraries (see :func:`_mp_context`).

:func:`feeds.run.executor.stream` starts the pool with the run's first new document;
:func:`stop_fork_server` ends the server when a ``feeds refresh`` is done.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack, suppress
from multiprocessing.connection import Connection

from feeds.core import dedupe
from feeds.run.ending import pool_ending, start_fork_server_deaf
from feeds.run.held_ctrl_c import ctrl_c_held
from feeds.run.signer import RemoteSigner, start_signer

__all__ = ["PRELOAD", "start_pool", "stop_fork_server", "usable_cores"]

PRELOAD = ("lxml.etree", "lxml.html", "feedparser", "nh3", "json", "dataclasses")
"""The libraries :func:`feeds.ingest.prepare.prepare` loads on first use, which the fork server
imports before it forks the workers: each worker shares their pages with it.

Not feeds' own modules (39 of them, 2.4 MiB and 45 ms of CPU in each worker): the server
imports its preloads by its own search path (Python 3.11 to 3.13 apply this process's
``sys.path`` only in the workers), which may hold another copy of feeds than the one that
runs, say an installed one beside a checkout a script put on its path; the workers would
then prepare with that copy's code. Each worker imports feeds from this process's path."""


def start_pool(stack: ExitStack, workers: int) -> ProcessPoolExecutor | None:
    """A pool of ``workers`` workers, one per core (None for fewer than two: the run's
    process prepares). Closing ``stack`` ends it."""
    if workers < 2:
        return None
    context = _mp_context()
    start_fork_server_deaf(context)
    # A Ctrl-C waits until the pool is made and its ending is on the stack: taken inside
    # the pool's queues, between a semaphore's registration with multiprocessing's tracker
    # and its finalizer, it left the tracker warning of a leaked semaphore.
    with ctrl_c_held():
        # The workers' lifeline (see _worker): this process holds the only end that writes.
        lifeline, held = context.Pipe(duplex=False)
        stack.callback(held.close)
        stack.callback(lifeline.close)
        signer = start_signer(stack)  # ended after the pool (the stack ends it first)
        pool = ProcessPoolExecutor(
            workers, mp_context=context, initializer=_worker, initargs=(lifeline, signer)
        )
        stack.push(pool_ending(pool, held))
    return pool


def _mp_context() -> multiprocessing.context.BaseContext:
    """How to start the workers: from a fork server (``spawn`` where there is none).

    The server is a fresh interpreter that imports the parsing and cleaning libraries
    (:data:`PRELOAD`) and forks each worker from that: about 0.3 s of CPU, once per run
    (once per daemon), beside the fetching. Forked from this process instead, a worker
    would start with a copy of everything the saving process holds (its modules, the
    store's cache, the run's sources: 20 MiB of a cold run's 53 MiB per worker), and it
    could copy a lock another thread holds (the fetch threads, the daemon's scheduler).
    A cold refresh of 1,000 feeds (bench/RESULTS.md, seventeenth session): each worker's
    peak 54.7 -> 44-45 MiB, the server 29 MiB; a run in which nothing changed starts none.
    """
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(list(PRELOAD))
        return context
    return multiprocessing.get_context("spawn")


def stop_fork_server() -> None:
    """End the fork server (:func:`_mp_context`) this process started, if any, and wait for
    it: a ``feeds refresh`` about to exit leaves no process behind, and the server's CPU
    time and its workers' are counted in the run's (``wait4``). The standard library's
    ``_stop`` (its own tests' way); where a Python lacks it, the server ends by itself
    when this process exits."""
    from multiprocessing import forkserver

    stop = getattr(getattr(forkserver, "_forkserver", None), "_stop", None)
    if stop is not None:
        stop()


WORKER_NICENESS = 10
"""How much lower a worker's scheduling priority is than its parent's (``nice``).

The saving process is the one part of a run that cannot be shared out, and the workers
(one per core) want every core too. Treated alike, three processes on two cores each
got two thirds of one: the saving fell behind, the documents waiting for it filled the
buffer, fetching stopped, and the workers idled. Niced, a worker runs when the saving
process does not need the core. A cold refresh of 1,000 feeds (bench/RESULTS.md, eighth
session): 1.77 of 2 cores busy, then 1.86; wall 14.89 -> 14.23 s in 5 of 5 pairs.
"""


def _worker(lifeline: Connection, signer: str | None) -> None:
    """Set up a worker: lower its priority (:data:`WORKER_NICENESS`), leave Ctrl-C to the
    run's process, have each document's entries signed together
    (:func:`feeds.core.near.sign_in_batches`) by the run's signer at ``signer``
    (:mod:`feeds.run.signer`; without one, in numpy in the worker), and end the worker once
    the run's process is gone.

    A worker waits for work on a queue whose other end it holds itself, so a refresh killed
    outright (SIGKILL, the OOM killer) would leave it waiting for ever; and its parent is the
    fork server, which lives as long as its children do. ``lifeline`` is the reading end of a
    pipe whose only writing end the run's process holds: it reads end-of-file when that
    process is gone, however it ended (a killed process that nobody has reaped yet too)."""
    with suppress(OSError):  # a lower priority: never refused, but not worth failing over
        os.nice(WORKER_NICENESS)
    # Ctrl-C reaches every process of the terminal's group: the run's process stops the
    # workers (they end with the pool), and a worker would only print a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if signer is None:
        dedupe.sign_in_batches()
    else:
        dedupe.sign_in_batches(RemoteSigner(signer))

    def watch() -> None:
        with suppress(OSError):
            lifeline.poll(None)  # nothing is ever sent: this returns at end-of-file
        os._exit(1)

    threading.Thread(target=watch, name="feeds-orphan-check", daemon=True).start()


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
