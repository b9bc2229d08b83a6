"""Large refreshes parse in worker processes, with exactly the result of a serial run."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from test_pipeline import make_config, rss, run

from feeds import prepare as prepare_module
from feeds.store import Store

from httpserver import HTTPTestServer, Reply, http_server

__all__ = ["http_server"]  # the fixture, re-exported for pytest


class CountingPool(ProcessPoolExecutor):
    started = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        CountingPool.started += 1
        super().__init__(*args, **kwargs)


def _refresh(tmp_path: Path, server: HTTPTestServer) -> tuple[Any, bytes]:
    sources = {f"s{i}": server.url(f"/feed{i}") for i in range(5)}
    sources["broken"] = server.url("/broken")
    config = make_config(tmp_path, sources)
    with Store.open(config.store_path) as store:
        report = run(config, store)
        entries = [
            (s.source, s.id, s.title, s.excerpt) for s in store.entries_for_output([*sources], 100)
        ]
    out = (tmp_path / "out" / "all.atom").read_bytes()
    summaries = [(s.name, s.changes, s.error, s.warning) for s in report.sources]
    return (summaries, entries), out


def test_large_runs_parse_in_worker_processes_with_the_serial_result(
    tmp_path: Path, http_server: HTTPTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(5):
        items = [(f"{i}{n}", f"Story {n} of feed {i}") for n in range(4)]
        http_server.route(f"/feed{i}", Reply(body=rss(*items)))
    http_server.route("/broken", Reply(body=b"neither XML nor JSON"))
    monkeypatch.setattr(prepare_module, "ProcessPoolExecutor", CountingPool)
    monkeypatch.setattr(prepare_module, "usable_cores", lambda: 2)

    monkeypatch.setattr(prepare_module, "PARALLEL_MIN_BYTES", 10**12)
    serial, serial_out = _refresh(tmp_path / "serial", http_server)
    assert CountingPool.started == 0

    monkeypatch.setattr(prepare_module, "PARALLEL_MIN_BYTES", 1)
    parallel, parallel_out = _refresh(tmp_path / "parallel", http_server)
    assert CountingPool.started == 1
    assert parallel == serial
    assert parallel_out == serial_out
    summaries = serial[0]
    assert summaries[0][1] == {"new": 4}
    # An unreadable document is that source's error, in the worker as in the main process.
    assert summaries[-1][0] == "broken" and "not a readable feed" in str(summaries[-1][2])


def test_small_runs_stay_in_process(
    tmp_path: Path, http_server: HTTPTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(5):
        http_server.route(f"/feed{i}", Reply(body=rss((f"{i}", f"Story of feed {i}"))))
    http_server.route("/broken", Reply(body=b"neither XML nor JSON"))
    monkeypatch.setattr(prepare_module, "ProcessPoolExecutor", CountingPool)
    monkeypatch.setattr(prepare_module, "usable_cores", lambda: 2)
    CountingPool.started = 0
    (summaries, _), _ = _refresh(tmp_path, http_server)
    assert CountingPool.started == 0
    assert [sum(s[1].values()) for s in summaries[:5]] == [1] * 5
