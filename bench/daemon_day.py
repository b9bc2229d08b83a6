"""Simulate a day of `feeds daemon` time against N scripted sources on 127.0.0.1; print numbers.

    python bench/daemon_day.py [--sources 20] [--hours 24]

Drives the daemon core (feeds.run.daemon.Daemon) with a fake clock, so a day takes seconds.
Each source answers 304 after its first fetch; one in ten sends Cache-Control max-age=2h, one
in ten a 503 with Retry-After 1h now and then. Prints requests made, ticks, wall time per tick,
and the request count each source got (which the schedule predicts: about 48 a day at 30 m).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from feeds import config as config_module
from feeds.ingest.fetch import Fetcher
from feeds.run.daemon import Daemon

from httpserver import HTTPTestServer, RecordedRequest, Reply

T0 = datetime(2026, 3, 4, tzinfo=UTC)
RSS = (
    b'<?xml version="1.0"?><rss version="2.0"><channel><title>N</title>'
    b"<link>https://n.example/</link><item><title>Story</title>"
    b"<link>https://n.example/1/</link><guid>https://n.example/?p=1</guid>"
    b"<description>Shares rose.</description></item></channel></rss>"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, default=20)
    parser.add_argument("--hours", type=float, default=24)
    args = parser.parse_args()

    counts: Counter[str] = Counter()

    def handler(request: RecordedRequest) -> Reply:
        path = request.path
        counts[path] += 1
        n = int(path.strip("/s"))
        if n % 10 == 9 and counts[path] % 5 == 2:
            return Reply(status=503, headers={"Retry-After": "3600"})
        if "if-none-match" in request.headers:
            return Reply(status=304)
        headers = {"ETag": '"v1"'}
        if n % 10 == 0:
            headers["Cache-Control"] = "max-age=7200"
        return Reply(body=RSS, headers=headers)

    with HTTPTestServer() as server, tempfile.TemporaryDirectory() as folder:
        for i in range(args.sources):
            server.route(f"/s{i}", handler)
        config = config_module.from_dict(
            {
                "store": {"path": "feeds.db"},
                "fetch": {"min_host_delay": 0, "max_per_host": 8},
                "sources": [
                    {"name": f"s{i}", "url": server.url(f"/s{i}")} for i in range(args.sources)
                ],
                "outputs": [{"name": "all", "path": "all.atom"}],
            },
            base_dir=Path(folder),
        )
        now, end = T0, T0 + timedelta(hours=args.hours)
        ticks, tick_seconds = 0, 0.0
        with Fetcher(config.fetch) as fetcher:
            daemon = Daemon(config, fetcher)
            daemon.start(now)
            started = time.perf_counter()
            while now < end:
                t = time.perf_counter()
                report = daemon.tick(now)
                tick_seconds += time.perf_counter() - t
                ticks += 1
                now = report.next_run
            wall = time.perf_counter() - started
    per_source = sorted(counts.values())
    print(f"sources            {args.sources}")
    print(f"simulated hours    {args.hours:g}")
    print(f"requests           {sum(per_source)}")
    print(f"requests/source    min {per_source[0]}  max {per_source[-1]}")
    print(f"ticks              {ticks}")
    print(f"wall time          {wall:.2f} s")
    print(f"mean tick          {1000 * tick_seconds / ticks:.1f} ms")


if __name__ == "__main__":
    main()
