"""The benchmark keeps working: its smoke run completes and every contender did the work."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from support import REPO

BENCH = REPO / "bench" / "refresh_bench.py"


def _smoke(*extra: str) -> str:
    run = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--no-install", *extra],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return run.stdout


@pytest.mark.slow
def test_smoke_run_prints_every_table() -> None:
    out = _smoke()
    # Each contender checked its own work (entries stored, 200s and 304s counted) and
    # the run printed one row per contender and the ratios the targets are about.
    for row in ("| feeds refresh |", "| reader w1 |", "| raw httpx-async c4 |"):
        assert row in out
    assert "| reader best / feeds" in out
    assert "| feeds / raw bound" in out
    assert "| 1,200 |" in out  # the store-size table


@pytest.mark.slow
def test_smoke_run_with_the_python_server() -> None:
    out = _smoke("--server", "python", "--skip-store")
    assert "served by Python http.server fallback" in out
    assert "| feeds refresh |" in out


def test_the_floor_script_does_every_step() -> None:
    run = subprocess.run(
        [sys.executable, str(REPO / "bench" / "floor.py"), "--feeds", "3", "--entries", "4"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "3 feeds x 4 entries (12 entries), synthetic text" in run.stdout
    for step in ("parse", "sanitize", "text", "sign", "save", "total"):
        assert f"  {step} " in run.stdout
    assert "at best" in run.stdout


def test_the_reuters_workload_serves_real_stories_in_wordpress_markup() -> None:
    import importlib.util

    from lxml import etree

    sys.path.insert(0, str(REPO / "bench"))
    try:
        import reuters

        if not reuters.available():
            pytest.skip("Reuters-21578 is not beside the repository")
        spec = importlib.util.spec_from_file_location("refresh_bench", BENCH)
        assert spec is not None and spec.loader is not None
        bench = importlib.util.module_from_spec(spec)
        sys.modules["refresh_bench"] = bench  # dataclasses look their module up
        spec.loader.exec_module(bench)
        stories = list(reuters.stories((0,)))[:40]
        document = bench.render_feed(3, 0, 0, 30, bench.reuters_post)
    finally:
        sys.path.remove(str(REPO / "bench"))
    items = etree.fromstring(document).findall("channel/item")
    assert len(items) == 30
    content = "{http://purl.org/rss/1.0/modules/content/}encoded"
    # newest first: post 29 is story 3 + 29 of the collection
    for item, story in zip(items, reversed(stories[3:33]), strict=True):
        # the title's words (its <, >, & and " are spaces: the synthetic template's slug)
        assert re.findall(r"\w+", item.findtext("title", "")) == re.findall(r"\w+", story.title)
        body = item.findtext(content, "")
        assert story.paragraphs[0][:40].replace("&", "&amp;").replace("<", "&lt;") in body
        assert 'class="comment-respond"' in body  # the WordPress boilerplate around it


def _bench_script(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``bench/<name>`` with ``args`` from the repository; it must succeed."""
    run = subprocess.run(
        [sys.executable, str(REPO / "bench" / name), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=REPO,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return run


@pytest.mark.slow
def test_the_comparison_script_measures_both_trees_in_every_phase() -> None:
    run = _bench_script("refresh_ab.py", "--base", "HEAD", "--feeds", "12", "--runs", "1")
    medians = run.stdout.split("medians:")[1]
    for phase in ("cold", "warm", "incremental"):
        for tree in ("HEAD", "working tree"):
            line = (
                rf"{phase} +{tree}: wall +[\d.]+ s, peak RSS +[\d.]+ MiB,"
                rf" tree PSS +[\d.]+ MiB, CPU main +[\d.]+ s"
            )
            assert re.search(line, medians), medians


@pytest.mark.slow
def test_the_memory_trace_names_where_the_process_grew() -> None:
    run = _bench_script("rss_trace.py", "--feeds", "12", "--entries", "5")
    # each line: the size, then where in feeds the process was (file:line function)
    assert re.search(r"^ *\d+ MiB  \w+\.py:\d+ \w+", run.stderr, re.MULTILINE), run.stderr


_SAMPLE_ONCE = """
import signal, sys
sys.path.insert(0, "bench")
import rss_trace
sample = rss_trace.sampler(0)
before = set(sys.modules)
sample(signal.SIGPROF, sys._getframe())
print(sorted(set(sys.modules) - before))
"""


def test_the_memory_trace_imports_nothing_in_its_signal_handler() -> None:
    # The handler may interrupt an import; one of its own inside would break the
    # interpreter's module locks (KeyError in _ModuleLock.acquire) and stop the refresh.
    run = subprocess.run(
        [sys.executable, "-c", _SAMPLE_ONCE],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=REPO,
    )
    assert run.stdout.strip() == "[]"
    assert re.match(r" *\d+ MiB  \n", run.stderr), run.stderr  # it did sample (no feeds frame)


@pytest.mark.slow
def test_the_prepare_cost_script_measures_both_trees_both_ways() -> None:
    # --tool time: valgrind (the default tool) need not be installed here
    args = ("--base", "HEAD", "--docs", "1", "--tool", "time", "--sign-in-batches", "off,on")
    run = _bench_script("prepare_cost.py", *args)
    for tree in ("HEAD", "working tree"):
        for mode in ("off", "on"):
            line = rf"{tree} \(sign in batches {mode}\): -?\d+$"  # noise can be < 0
            assert len(re.findall(line, run.stdout, re.MULTILINE)) == 2, run.stdout  # 2 workloads


def test_the_comparison_script_runs_the_tree_it_names_from_the_repository(tmp_path: Path) -> None:
    # "python -m feeds" puts the current folder first on sys.path: run from the repository,
    # each side of a comparison imported the working tree, whatever PYTHONPATH said.
    sys.path.insert(0, str(REPO / "bench"))
    try:
        import refresh_ab
    finally:
        sys.path.remove(str(REPO / "bench"))
    (tmp_path / "feeds").mkdir()
    (tmp_path / "feeds" / "__init__.py").write_text("")
    (tmp_path / "feeds" / "__main__.py").write_text("print(__file__)\n")
    argv = refresh_ab._argv(tmp_path, tmp_path / "config.toml")
    run = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, check=True, timeout=60)
    assert run.stdout.strip() == str(tmp_path / "feeds" / "__main__.py")


def test_the_refresh_cost_script_counts_every_process_of_the_run(tmp_path: Path) -> None:
    # callgrind's own log lines, one file per process, as valgrind writes them with
    # --log-file=callgrind.%p (valgrind need not be installed here to read them)
    sys.path.insert(0, str(REPO / "bench"))
    import refresh_cost

    logs = {
        "101": "==101== Command: python -m feeds refresh --all\n==101== Collected : 7158861048\n",
        "102": "==102== Command: python -m feeds refresh --all\n==102== Collected : 1630622333\n",
        "103": "==103== Command: python -B -P -c from multiprocessing.forkserver import main\n"
        "==103== Collected : 8362829040\n",
        "104": "==104== Command: python -B -P -c from multiprocessing.resource_tracker import m\n"
        "==104== Collected : 137766045\n",
        "105": "==105== Command: /bin/sh -c true\n",  # exec'd away: no count of its own
    }
    for pid, text in logs.items():
        (tmp_path / f"callgrind.{pid}").write_text(text)
    assert refresh_cost._counted(tmp_path) == [
        (8362829040, "fork server or worker"),
        (7158861048, "refresh (saving or fetch)"),
        (1630622333, "refresh (saving or fetch)"),
        (137766045, "resource tracker"),
    ]
