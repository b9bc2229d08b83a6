"""``feeds store vacuum`` beside running daemons."""

from __future__ import annotations

from pathlib import Path

from feeds.store.sqlite import Store

from support import run_feeds


def test_vacuum_refuses_while_a_daemon_works_on_the_store(admin_dir: Path) -> None:
    """Daemons hold no lock that vacuum takes: their saves waited for the whole rewrite (and
    failed), though the docs said to stop them first. Now checked, as migrate checks."""
    from datetime import UTC, datetime

    from feeds.run.worker import worker_id

    assert run_feeds("refresh", cwd=admin_dir).returncode == 0
    store = admin_dir / "state" / "feeds.db"
    daemon = worker_id()  # this process: alive, as a running daemon's is
    with Store.open(store) as opened:
        opened.worker_started(daemon, datetime.now(UTC))
    before = store.read_bytes()
    refused = run_feeds("store", "vacuum", cwd=admin_dir)
    assert refused.returncode == 2, refused.stderr
    assert f"daemons are working on this store ({daemon}): stop them first" in refused.stderr
    assert refused.stderr.rstrip().endswith("then vacuum")
    assert store.read_bytes() == before
    with Store.open(store) as opened:
        opened.worker_stopped(daemon, datetime.now(UTC))
    assert run_feeds("store", "vacuum", cwd=admin_dir).returncode == 0
