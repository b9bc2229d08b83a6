"""What preparing a feed document costs per entry: two trees, counted in instructions.

    python bench/prepare_cost.py --base HEAD~1                 # against this working tree
    python bench/prepare_cost.py --base 424e7c0 --new HEAD --workload reuters
    python bench/prepare_cost.py --base HEAD --new HEAD --sign-in-batches off,on

``feeds.ingest.prepare.prepare`` is what the worker processes of a refresh spend their time
on (parsing, cleaning, keys, signatures). Its CPU time swings by 10-20 % from run to run on a
shared machine, more than one change's effect; the number of instructions it executes does
not. Each tree prepares the documents of ``bench/refresh_bench.py`` (its WordPress feeds of
30 entries: ``synthetic`` or ``reuters`` text) in a fresh process under valgrind's callgrind,
once with one document and once with ``--docs`` more: the difference, per entry, leaves out
the interpreter's start and the imports. The documents are rendered once, before any tree
runs. ``--sign-in-batches on`` prepares as a worker process does since numpy signing
(``feeds.core.dedupe.sign_in_batches``), where the tree has it.

Needs valgrind (``apt-get install valgrind``). ``--tool time`` counts CPU seconds instead
(no valgrind; noisy: run it several times).
"""

from __future__ import annotations

import argparse
import os
import pickle
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import refresh_bench as bench  # noqa: E402
from ingest_cost import export  # noqa: E402

ENTRIES = 30
NOW = datetime(2026, 12, 4, tzinfo=UTC)


def _child(docs_file: Path, count: int, batches: bool) -> None:
    """Prepare the first ``count`` documents of ``docs_file`` (in the tree on PYTHONPATH)."""
    from feeds.core import dedupe
    from feeds.ingest.prepare import Job, prepare

    if batches and hasattr(dedupe, "sign_in_batches"):
        dedupe.sign_in_batches()
    docs: list[bytes] = pickle.loads(docs_file.read_bytes())[:count]
    start = time.process_time()
    for i, doc in enumerate(docs):
        prepare(Job(doc, f"http://127.0.0.1/feeds/{i:04d}.xml", {}, NOW))
    print(f"cpu {time.process_time() - start:.6f}")


def _measure(tree: Path, docs_file: Path, count: int, batches: bool, tool: str) -> float:
    """Instructions (callgrind) or CPU seconds of preparing ``count`` documents."""
    argv = [sys.executable, str(Path(__file__).resolve()), "--child", str(docs_file)]
    argv += ["--count", str(count), "--batches", "on" if batches else "off"]
    if tool == "callgrind":
        argv = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *argv]
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONHASHSEED": "0"}
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=True)
    if tool == "callgrind":
        found = re.search(r"Collected : (\d+)", done.stderr)
        if found is None:
            raise SystemExit(f"no instruction count from callgrind:\n{done.stderr[-2000:]}")
        return float(found.group(1))
    return float(done.stdout.split()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", default="HEAD", help="commit to compare against [HEAD]")
    parser.add_argument("--new", help="commit to measure [this working tree]")
    parser.add_argument("--workload", choices=(*bench.WORKLOADS, "all"), default="all")
    parser.add_argument("--docs", type=int, default=20, help="documents counted [20]")
    parser.add_argument("--sign-in-batches", default="on", help="on, off or off,on [on]")
    parser.add_argument("--tool", choices=("callgrind", "time"), default="callgrind")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--batches", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.count, args.batches == "on")
        return
    if args.tool == "callgrind" and shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (or use --tool time)")
    workloads = tuple(bench.WORKLOADS) if args.workload == "all" else (args.workload,)
    modes = [mode == "on" for mode in args.sign_in_batches.split(",")]
    unit = "instructions" if args.tool == "callgrind" else "µs of CPU"
    with tempfile.TemporaryDirectory(prefix="feeds-prepare-cost-") as tmp:
        base = export(args.base, Path(tmp))
        new = export(args.new, Path(tmp)) if args.new else HERE.parent
        trees = {args.base: base, args.new or "working tree": new}
        for workload in workloads:
            docs_file = Path(tmp) / f"{workload}.pickle"
            make = bench.WORKLOADS[workload]
            docs = [bench.render_feed(1, i, 0, ENTRIES, make) for i in range(args.docs + 1)]
            docs_file.write_bytes(pickle.dumps(docs))
            print(f"{workload}: {unit} per entry of prepare(), {args.docs} documents x {ENTRIES}")
            for name, tree in trees.items():
                for batches in modes:
                    one = _measure(tree, docs_file, 1, batches, args.tool)
                    many = _measure(tree, docs_file, args.docs + 1, batches, args.tool)
                    per_entry = (many - one) / (args.docs * ENTRIES)
                    shown = f"{per_entry / 1e6:.3f} M" if args.tool == "callgrind" else ""
                    if args.tool == "time":
                        shown = f"{per_entry * 1e6:.0f}"
                    label = f"sign in batches {'on' if batches else 'off'}"
                    print(f"  {name:>14} ({label}): {shown}")


if __name__ == "__main__":
    main()
