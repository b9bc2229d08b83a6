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
import traceback
from pathlib import Path
from types import FrameType

HERE = Path(__file__).resolve().parent
PHASES = ("cold", "warm", "incremental")


def _vm_rss_mib() -> int:
    with Path("/proc/self/status").open(encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) // 1024
    return 0


def child(step: int, argv: list[str]) -> None:
    """Run ``feeds`` with ``argv`` in this process, printing each growth of ``step`` MiB."""
    grown = [0]

    def sample(_signal: int, frame: FrameType | None) -> None:
        size = _vm_rss_mib()
        if size < grown[0] + step:
            return
        grown[0] = size
        calls = [
            f"{Path(f.filename).name}:{f.lineno} {f.name}"
            for f in traceback.extract_stack(frame)
            if f"{os.sep}feeds{os.sep}" in f.filename
        ]
        print(f"{size:4d} MiB  " + " < ".join(reversed(calls[-4:])), file=sys.stderr, flush=True)

    signal.signal(signal.SIGPROF, sample)
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
        corpus = bench.Corpus(tmp / "www", args.feeds, args.entries, 1, args.workload)
        corpus.reset()
        with bench.serve(corpus.root, "auto", install=False) as (port, _server):
            urls = tmp / "urls.txt"
            urls.write_text("\n".join(corpus.urls(port)) + "\n")
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
