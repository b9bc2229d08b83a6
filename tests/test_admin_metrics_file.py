"""``feeds refresh --metrics-file`` that cannot write its file."""

from __future__ import annotations

import json
from pathlib import Path

from support import run_feeds


def test_a_metrics_file_that_cannot_be_written_fails_the_refresh(admin_dir: Path) -> None:
    """Cron's refresh said so on stderr but exited 0 (and --json said "ok": true), while
    node_exporter went on reading the old file."""
    (admin_dir / "textfile").write_text("a file, not a folder")
    target = admin_dir / "textfile" / "feeds.prom"
    result = run_feeds("refresh", "--metrics-file", str(target), cwd=admin_dir)
    assert result.returncode == 1
    assert result.stderr.startswith(f"feeds: cannot write the metrics file {target}: ")
    reported = run_feeds("refresh", "--json", "--metrics-file", str(target), cwd=admin_dir)
    assert reported.returncode == 1
    found = json.loads(reported.stdout)
    assert found["ok"] is False
    assert found["metrics_file_error"].startswith(f"cannot write the metrics file {target}")
