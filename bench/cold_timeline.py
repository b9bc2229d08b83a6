"""Where a cold refresh's wall time goes: each process's CPU, and the saving process's steps.

    python bench/cold_timeline.py                          # 1,000 Reuters feeds x 30
    python bench/cold_timeline.py --feeds 300 --workload synthetic --every 1

Serves ``bench/refresh_bench.py``'s feeds with its server (nginx when installed) and runs a
cold ``feeds refresh --all`` twice, from an empty state each time:

1. as cron runs it, sampling every process of the run from ``/proc`` (``--every`` seconds):
   how many cores the run kept busy, second by second, each process's CPU seconds
   (the saving process, its two fetch processes, the fork server's workers, the signer),
   and how often the saving process was running, waiting (for a worker's result) or in
   the kernel on the disk;
2. with the saving process's own steps timed from inside (CPU of its main thread, and the
   SQLite statements by their first words): what the critical path is made of, and how
   long its commits took of wall and of CPU (a commit that checkpoints the WAL waits for
   the disk's syncs, and the workers run out of documents meanwhile).

The second run is slower than the first (its timers); compare its lines with each other.
Reuters-21578 is read from ``../shared/corpus/reuters21578`` (or ``$FEEDS_REUTERS``).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import refresh_bench as bench  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")

# Run in the refresh's own process (``python -c``): times the saving process's steps and
# its SQLite statements, then runs the command line as the console script does.
INSTRUMENTED = r"""
import atexit, collections, sys, time
import feeds.run.ingest as ingest
from feeds.store.sqlite import connection

spent = collections.Counter()
calls = collections.Counter()

def timed(owner, name, key):
    original = getattr(owner, name)
    def run(*args, **kwargs):
        start = time.thread_time()
        try:
            return original(*args, **kwargs)
        finally:
            spent[key] += time.thread_time() - start
            calls[key] += 1
    setattr(owner, name, run)

for step in ("ingest_entries", "_find_match", "_find_near", "_joined", "_every_candidate"):
    timed(ingest, step, "step " + step)

def statements(name):
    original = getattr(connection.Connection, name)
    def run(self, sql, *args):
        start = time.thread_time()
        result = original(self, sql, *args)
        if name != "_insert_id":  # every row read: the statement's whole cost
            cursor, result = result, Rows(result)
            result.lastrowid, result.rowcount = cursor.lastrowid, cursor.rowcount
        key = "sql " + " ".join(sql.split()[:6])[:60]
        spent[key] += time.thread_time() - start
        calls[key] += 1
        return result
    setattr(connection.Connection, name, run)

class Rows(list):
    def fetchone(self):
        return self[0] if self else None
    def fetchall(self):
        return list(self)

for name in ("_execute", "_read_bands", "_insert_id"):
    statements(name)
commit = connection.Connection._commit
commits = []  # (wall, CPU) of each commit: a checkpoint's syncs are wall without CPU
def committed(self):
    start, wall = time.thread_time(), time.monotonic()
    commit(self)
    spent["sql COMMIT (and the LSH rows held to it)"] += time.thread_time() - start
    calls["sql COMMIT (and the LSH rows held to it)"] += 1
    commits.append((time.monotonic() - wall, time.thread_time() - start))
connection.Connection._commit = committed

@atexit.register
def report():
    print(f"process {time.process_time():.3f}", file=sys.stderr)
    for key, seconds in spent.most_common():
        print(f"{seconds:.3f}\t{calls[key]}\t{key}", file=sys.stderr)
    slow = [(w, c) for w, c in commits if w - c >= 0.1]
    print(f"commits {len(commits)} {sum(w for w, _ in commits):.3f} "
          f"{sum(c for _, c in commits):.3f} {len(slow)} {sum(w for w, _ in slow):.3f} "
          f"{sum(c for _, c in slow):.3f}", file=sys.stderr)

sys.argv = ["feeds", *sys.argv[1:]]
from feeds.app.console import main
main()
"""


def _processes(session: int) -> Seen:
    """Each live process of ``session``: what it is, its CPU ticks (its own: a reaped
    child's are its own line's, up to its last sample)."""
    found = {}
    for folder in Path("/proc").iterdir():
        if not folder.name.isdigit():
            continue
        try:
            fields = (folder / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[3]) != session:
                continue
            argv = (folder / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        ticks = int(fields[11]) + int(fields[12])
        found[int(folder.name)] = (_role(argv, int(fields[1]), session), ticks)
    return found


def _role(argv: list[bytes], parent: int, session: int) -> str:
    line = b" ".join(argv).decode(errors="replace")
    if "forkserver" in line:
        return "worker (fork server's)" if parent != session else "fork server"
    if "resource_tracker" in line:
        return "resource tracker"
    if "sys.path[:]" in line:
        return "signer"
    return "fetch process" if parent == session else "saving process"


Seen = dict[int, tuple[str, int]]
"""Each process of the run: what it is, its CPU ticks at its last sample."""


STATE_EVERY = 0.02
"""Seconds between two looks at the saving process's state (running, sleeping, on disk)."""


def timeline(
    argv: list[str], cwd: Path, every: float
) -> tuple[list[tuple[float, float]], Seen, Counter[str]]:
    """Run ``argv``; cores busy per interval, CPU seconds per process, and how often the
    saving process (the session's leader) was seen in each state: ``R`` running or ready,
    ``S`` waiting (for a worker's result, mostly), ``D`` in the kernel on the disk."""
    run = subprocess.Popen(argv, cwd=cwd, start_new_session=True, stdout=subprocess.DEVNULL)
    start = last = time.monotonic()
    seen: Seen = {}
    busy: list[tuple[float, float]] = []
    states: Counter[str] = Counter()
    while run.poll() is None:
        time.sleep(STATE_EVERY)
        states[_state(run.pid)] += 1
        if time.monotonic() - last < every:
            continue
        now, current = time.monotonic(), _processes(run.pid)
        used = sum(t - seen.get(pid, (r, 0))[1] for pid, (r, t) in current.items())
        busy.append((now - start, used / TICK / (now - last)))
        seen.update(current)
        last = now
    busy.append((time.monotonic() - start, 0.0))
    return busy, seen, states


def _state(pid: int) -> str:
    """The state letter of process ``pid`` (``?``: gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--entries", type=int, default=30)
    parser.add_argument("--workload", choices=tuple(bench.WORKLOADS), default="reuters")
    parser.add_argument("--every", type=float, default=2.0, help="seconds a line [2]")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="feeds-timeline-") as tmp:
        work = Path(tmp)
        served = bench.served(work, args.feeds, args.entries, args.workload)
        with served as (_corpus, urls, server):
            player = bench.Contender("feeds refresh", "feeds")
            player.fresh(work, urls, argparse.Namespace(feeds_connections=8))
            argv = player.argv(urls)
            print(f"{args.feeds} {args.workload} feeds x {args.entries}, cold, {server}\n")
            busy, seen, states = timeline(argv, player.state, args.every)
            _print_timeline(busy, seen)
            _print_states(states)
            for path in (player.state / "state", player.state / "out"):
                subprocess.run(["rm", "-rf", str(path)], check=True)
            command = [sys.executable, "-c", INSTRUMENTED, *argv[argv.index("refresh") :]]
            ran = subprocess.run(
                command, cwd=player.state, capture_output=True, text=True, check=True
            )
            _print_steps(ran.stderr)


def _print_timeline(busy: list[tuple[float, float]], seen: Seen) -> None:
    wall = busy[-1][0]
    print("| seconds | cores busy |\n|---:|---:|")
    for at, cores in busy[:-1]:
        print(f"| {at:.1f} | {cores:.2f} |")
    print(f"\nwall {wall:.1f} s\n\n| process | CPU s |\n|---|---:|")
    for pid, (role, ticks) in sorted(seen.items(), key=lambda item: -item[1][1]):
        if ticks >= TICK / 10:
            print(f"| {role} ({pid}) | {ticks / TICK:.2f} |")
    total = sum(ticks for _, ticks in seen.values()) / TICK
    print(f"| all | {total:.2f} |\n")


def _print_states(states: Counter[str]) -> None:
    looks = sum(states.values()) or 1
    shares = ", ".join(
        f"{name} {100 * states[letter] / looks:.0f}%"
        for letter, name in (("R", "running"), ("S", "waiting"), ("D", "on the disk"))
    )
    print(f"The saving process, looked at every {STATE_EVERY} s: {shares}\n")


def _print_steps(report: str) -> None:
    lines = [line for line in report.splitlines() if line.strip()]
    process = next(line for line in lines if line.startswith("process "))
    print(f"The saving process, timed from inside: {process.split()[1]} s of CPU\n")
    print("| CPU s | calls | step or statement |\n|---:|---:|---|")
    for line in lines:
        if line.count("\t") == 2:
            seconds, calls, key = line.split("\t")
            if float(seconds) >= 0.05:
                print(f"| {float(seconds):.2f} | {calls} | `{key}` |")
    counts = next((line.split()[1:] for line in lines if line.startswith("commits ")), None)
    if counts is not None:
        n, wall, cpu, slow, slow_wall, slow_cpu = counts
        print(
            f"\n{n} commits: {float(wall):.2f} s of wall, {float(cpu):.2f} s of CPU; {slow} of"
            f" them waited 0.1 s or more on the disk (a WAL checkpoint's syncs): {float(slow_wall):.2f}"
            f" s of wall, {float(slow_cpu):.2f} s of CPU"
        )


if __name__ == "__main__":
    main()
