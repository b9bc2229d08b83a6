"""What a cold ``feeds refresh`` costs, counted in instructions, in every one of its processes.

    python bench/refresh_cost.py --base 9e1d4b0                # against this working tree
    python bench/refresh_cost.py --base 3385486 --new HEAD --workload synthetic --feeds 150

``bench/refresh_ab.py`` times two trees' runs; on a shared machine their CPU seconds swing by
10-20 % from hour to hour, more than a session's changes. The number of instructions does
not. Each tree runs one cold refresh of ``--feeds`` of the bench's feeds (the same generator
and nginx as ``bench/refresh_bench.py``) under valgrind's callgrind, which follows every
process of the run: the saving process, its fetch processes, the fork server and the worker
processes it starts, and the signer. Printed: the total, and each process's count with its
part (the saving process and the fetch processes are forks of the command, the workers
children of the fork server, the signer a fresh interpreter the saving process starts). A
forked process's count starts at its fork (``--zero-before=PyOS_AfterFork_Child``):
callgrind would otherwise give it its parent's count up to then, the saving process's start
(about 1 G instructions) in each fetch process, the fork server's in each worker. A small run counts the start of each process too (imports: some 0.4 G
instructions a process), so compare trees at one ``--feeds``, not runs of two sizes.

Needs valgrind (``apt-get install valgrind``). Slow: about a minute per 20 feeds.
"""

from __future__ import annotations

import argparse
import compileall
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import refresh_bench as bench  # noqa: E402
from ingest_cost import export  # noqa: E402


def _counted(logs: Path) -> list[tuple[int, str]]:
    """Each process's instructions and what it was, from callgrind's logs in ``logs``."""
    counts: list[tuple[int, str]] = []
    for log in sorted(logs.glob("callgrind.*")):
        text = log.read_text(errors="replace")
        found = re.search(r"Collected : (\d+)", text)
        if found is None:
            continue  # a process that exec'd another program (its own log has the count)
        part = "fork server or worker" if "forkserver" in text else "refresh (saving or fetch)"
        if "resource_tracker" in text:
            part = "resource tracker"
        elif "feeds.run.signer" in text:
            part = "signer"
        counts.append((int(found.group(1)), part))
    return sorted(counts, reverse=True)


def _run(tree: Path, player: bench.Contender, work: Path) -> list[tuple[int, str]]:
    logs = work / "logs"
    logs.mkdir(parents=True)
    argv = [
        "valgrind",
        "--tool=callgrind",
        "--trace-children=yes",
        # A forked process starts with its parent's count: each fetch process and worker
        # would count again what the saving process (the fork server) ran before the fork.
        "--zero-before=PyOS_AfterFork_Child",
        "--callgrind-out-file=/dev/null",
        f"--log-file={logs}/callgrind.%p",
        sys.executable,
        "-m",
        "feeds",
        "refresh",
        "--all",
        "--config",
        str(player.state / "config.toml"),
    ]
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONSAFEPATH": "1", "PYTHONHASHSEED": "0"}
    done = subprocess.run(argv, env=env, cwd=player.state, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{tree}: feeds refresh exited {done.returncode}:\n{done.stderr[-2000:]}")
    return _counted(logs)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--base", default="HEAD", help="commit to compare against [HEAD]")
    parser.add_argument("--new", help="commit to measure [this working tree]")
    parser.add_argument("--workload", choices=tuple(bench.WORKLOADS), default="reuters")
    parser.add_argument("--feeds", type=int, default=150, help="feeds of 30 entries [150]")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="feeds-cost-") as tmp_dir:
        tmp = Path(tmp_dir)
        trees = {args.base: export(args.base, tmp)}
        trees[args.new or "working tree"] = export(args.new, tmp) if args.new else HERE.parent
        for tree in trees.values():
            compileall.compile_dir(str(tree / "feeds"), quiet=1)  # as an install does
        with bench.served(tmp, args.feeds, 30, args.workload) as (_corpus, urls, server):
            print(f"cold refresh of {args.feeds} feeds x 30, {args.workload} text, {server}")
            for n, (name, tree) in enumerate(trees.items()):
                player = bench.Contender("feeds refresh", "feeds")
                player.fresh(tmp / f"state{n}", urls, argparse.Namespace(feeds_connections=8))
                counts = _run(tree, player, tmp / f"run{n}")
                total = sum(count for count, _ in counts)
                print(f"{name}: {total / 1e9:.3f} G instructions, {len(counts)} processes")
                for count, part in counts:
                    print(f"    {count / 1e9:8.3f} G  {part}")


if __name__ == "__main__":
    main()
