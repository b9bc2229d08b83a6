"""The benchmark keeps working: its smoke run completes and every contender did the work."""

from __future__ import annotations

import subprocess
import sys

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
    assert "3 feeds x 4 entries (12 entries)" in run.stdout
    for step in ("parse", "sanitize", "text", "sign", "save", "total"):
        assert f"  {step} " in run.stdout
    assert "at best" in run.stdout
