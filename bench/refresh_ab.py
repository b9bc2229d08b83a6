"""Two trees' ``feeds refresh``, phase by phase, on the same feeds, alternately: wall, RSS, CPU.

    python bench/refresh_ab.py --base HEAD~1                   # against this working tree
    python bench/refresh_ab.py --base 0eaecd7 --new HEAD --workload reuters --runs 5
    python bench/refresh_ab.py --base-tree /tmp/a --new-tree /tmp/b --phases cold

``bench/refresh_bench.py`` compares ``feeds`` with other programs in one run; on a machine
whose speed drifts from hour to hour, one change's effect is smaller than that drift. This
script measures one change: the feeds of ``refresh_bench.py`` (same generator, same nginx),
each phase (cold, warm, incremental: the bench's phases) run from a fresh state with one
tree, then the other, alternating which goes first, ``--runs`` times. It prints each run and
the medians: wall time, peak RSS of the process (the bench's measure), the peak of the
process tree's summed PSS, CPU of the main process and of all processes.

A commit is exported with ``git archive`` into a temporary folder (the repository is not
touched); ``--new`` defaults to this working tree as it is. ``--base-tree`` and
``--new-tree`` take folders holding a ``feeds`` package instead (a patched copy, to measure
a setting the code does not expose).
"""

from __future__ import annotations

import argparse
import compileall
import statistics
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import refresh_bench as bench  # noqa: E402
from ingest_cost import export  # noqa: E402

PHASES = ("cold", "warm", "incremental")


def _trees(args: argparse.Namespace, tmp: Path) -> dict[str, Path]:
    base = args.base_tree or export(args.base, tmp)
    new = args.new_tree or (export(args.new, tmp) if args.new else HERE.parent)
    names = (
        str(args.base_tree or args.base),
        str(args.new_tree or args.new or "working tree"),
    )
    for tree in (base, new):
        if not (tree / "feeds" / "__init__.py").is_file():
            raise SystemExit(f"{tree}: no feeds package there")
    return dict(zip(names, (base.resolve(), new.resolve()), strict=True))


def _argv(tree: Path, config: Path) -> list[str]:
    # PYTHONPATH first: the tree's package, not the installed one, is imported
    feeds = [sys.executable, "-m", "feeds", "refresh", "--all", "--config", str(config)]
    # PYTHONSAFEPATH: "python -m" would put the current folder first (run from the
    # repository, its working tree would be imported whatever PYTHONPATH says)
    return ["env", f"PYTHONPATH={tree}", "PYTHONSAFEPATH=1", *feeds]


def _run_phases(
    tree: Path, corpus: bench.Corpus, urls: Path, work: Path, phases: Sequence[str]
) -> dict[str, bench.Sample]:
    """One tree's phases from a fresh state (the phases before the first asked run too)."""
    if "incremental" in phases:
        corpus.reset()  # the other tree's incremental phase grew the feeds
    player = bench.Contender("feeds refresh", "feeds")
    player.fresh(work, urls, argparse.Namespace(feeds_connections=8))
    out: dict[str, bench.Sample] = {}
    for phase in PHASES:
        if phase == "incremental":
            corpus.grow()
        sample, _ = bench.measure(_argv(tree, player.state / "config.toml"))
        if phase in phases:
            out[phase] = sample
        if phase == phases[-1]:
            break
    return out


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--base", default="HEAD", help="commit to compare against [HEAD]")
    parser.add_argument("--new", help="commit to measure [this working tree]")
    parser.add_argument("--base-tree", type=Path, help="a folder instead of --base")
    parser.add_argument("--new-tree", type=Path, help="a folder instead of --new")
    parser.add_argument("--workload", choices=tuple(bench.WORKLOADS), default="synthetic")
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--entries", type=int, default=30)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--phases", default="cold,warm,incremental")
    args = parser.parse_args(argv)
    phases = [p for p in PHASES if p in args.phases.split(",")]
    if not phases:
        raise SystemExit(f"--phases: some of {', '.join(PHASES)}")
    with tempfile.TemporaryDirectory(prefix="feeds-ab-") as tmp_dir:
        tmp = Path(tmp_dir)
        trees = _trees(args, tmp)
        for tree in trees.values():
            compileall.compile_dir(str(tree / "feeds"), quiet=1)
        samples: dict[tuple[str, str], list[bench.Sample]] = {}
        with bench.served(tmp, args.feeds, args.entries, args.workload) as (corpus, urls, server):
            print(f"{args.feeds} feeds x {args.entries}, {args.workload} text, {server}")
            names = list(trees)
            for run in range(args.runs):
                for name in names if run % 2 == 0 else names[::-1]:
                    done = _run_phases(trees[name], corpus, urls, tmp / "state", phases)
                    for phase, sample in done.items():
                        samples.setdefault((name, phase), []).append(sample)
                        print(f"run {run + 1} {phase:11s} {name}: {_line([sample])}", flush=True)
        print("\nmedians:")
        for phase in phases:
            for name in names:
                print(f"{phase:11s} {name}: {_line(samples[(name, phase)])}")


def _line(samples: list[bench.Sample]) -> str:
    def median(field: str) -> float:
        return float(statistics.median(getattr(s, field) for s in samples))

    return (
        f"wall {median('wall'):6.2f} s, peak RSS {median('rss_mib'):5.1f} MiB,"
        f" tree PSS {median('tree_mib'):5.1f} MiB,"
        f" CPU main {median('cpu_main'):6.2f} s / all {median('cpu'):6.2f} s"
    )


if __name__ == "__main__":
    main()
