"""Where a refresh's main process grows: its resident memory, step by step, with the code.

    python bench/rss_trace.py                          # cold, 1,000 synthetic feeds x 30
    python bench/rss_trace.py --workload reuters --phase incremental

The bench's peak RSS is the main process's (``bench/refresh_bench.py``). This runs one
``feeds refresh`` of the bench's feeds (the phases before ``--phase`` first, untraced) with
a timer of the process's CPU time: every 5 ms of it the process reads its ``VmRSS``, and each
time that has grown by ``--step`` MiB or more it prints the size and the innermost calls of
``feeds`` running then (an import, a statement, a cache filling). The lines say where the
memory went, not who frees it; the last is the peak.
"""

from __future__ import annotations

import argparse
import os
import runpy
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import FrameType

HERE = Path(__file__).resolve().parent
PHASES = ("cold", "warm", "incremental")


def _vm_rss_mib() -> int:
    """``VmRSS`` in MiB, read as bytes: a signal handler must not import (no codec lookup)."""
    descriptor = os.open("/proc/self/status", os.O_RDONLY)
    try:
        status = os.read(descriptor, 1 << 16)
    finally:
        os.close(descriptor)
    for line in status.splitlines():
        if line.startswith(b"VmRSS:"):
            return int(line.split()[1]) // 1024
    return 0


def _feeds_calls(frame: FrameType | None) -> list[str]:
    """The innermost ``feeds`` calls on the stack, innermost first, without ``traceback``.

    ``traceback`` reads source lines through ``linecache``, which may import; an import inside
    a handler that interrupted another import breaks the interpreter's module locks.
    """
    calls: list[str] = []
    while frame is not None and len(calls) < 4:
        filename = frame.f_code.co_filename
        if f"{os.sep}feeds{os.sep}" in filename:
            calls.append(
                f"{filename.rpartition(os.sep)[2]}:{frame.f_lineno} {frame.f_code.co_name}"
            )
        frame = frame.f_back
    return calls


def sampler(step: int) -> Callable[[int, FrameType | None], None]:
    """A signal handler printing the size and the calls each time RSS grew by ``step`` MiB.

    It imports nothing, even on its first call: it may interrupt an import.
    """
    grown = [0]

    def sample(_signal: int, frame: FrameType | None) -> None:
        size = _vm_rss_mib()
        if size < grown[0] + step:
            return
        grown[0] = size
        sys.stderr.write(f"{size:4d} MiB  " + " < ".join(_feeds_calls(frame)) + "\n")
        sys.stderr.flush()

    return sample


def child(step: int, argv: list[str]) -> None:
    """Run ``feeds`` with ``argv`` in this process, printing each growth of ``step`` MiB."""
    signal.signal(signal.SIGPROF, sampler(step))
    signal.setitimer(signal.ITIMER_PROF, 0.005, 0.005)
    sys.argv = ["feeds", *argv]
    try:
        runpy.run_module("feeds", run_name="__main__")
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--workload", choices=("synthetic", "reuters"), default="synthetic")
    parser.add_argument("--phase", choices=PHASES, default="cold")
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--entries", type=int, default=30)
    parser.add_argument("--step", type=int, default=2, help="MiB of growth per line [2]")
    parser.add_argument("--child", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.step, args.child)
        return
    sys.path.insert(0, str(HERE))
    import refresh_bench as bench

    with tempfile.TemporaryDirectory(prefix="feeds-rss-") as tmp_dir:
        tmp = Path(tmp_dir)
        with bench.served(tmp, args.feeds, args.entries, args.workload) as (corpus, urls, _):
            player = bench.Contender("feeds refresh", "feeds")
            player.fresh(tmp / "state", urls, argparse.Namespace(feeds_connections=8))
            feeds = ["refresh", "--all", "--config", str(player.state / "config.toml")]
            for phase in PHASES:
                if phase == "incremental":
                    corpus.grow()
                if phase == args.phase:
                    break
                bench.measure([sys.executable, "-m", "feeds", *feeds])
            print(f"{args.phase} refresh, {args.feeds} {args.workload} feeds x {args.entries}:")
            command = [sys.executable, __file__, "--step", str(args.step), "--child", *feeds]
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL)


if __name__ == "__main__":
    main()
