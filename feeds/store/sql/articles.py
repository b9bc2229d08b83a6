"""The article page cache (``articles``) and the daemon's heartbeat (``daemon``)."""

from __future__ import annotations

import json
from datetime import datetime

from feeds.store.sql.codec import RowMap, optional_dt, optional_ts, required_dt, ts
from feeds.store.sql.connection import SqlConnection
from feeds.types import ArticleRecord, DaemonInfo

ARTICLE = RowMap(
    ArticleRecord,
    convert={
        "fetched": required_dt,
        "published": optional_dt,
        "updated": optional_dt,
        "retry": bool,
        "rules": lambda text: tuple(json.loads(text)) if text else (),
    },
)
DAEMON = RowMap(
    DaemonInfo,
    convert={"started": required_dt, "last_activity": required_dt, "stopped": optional_dt},
)

_REPLACE_ARTICLE = ", ".join(f"{n} = excluded.{n}" for n in ARTICLE.names if n != "url")


class ArticleTable(SqlConnection):
    """Article pages fetched for full text, by URL (the ``ArticleCache`` role)."""

    def article(self, url: str) -> ArticleRecord | None:
        """The cached article page at ``url``, if any."""
        row = self._execute(
            f"SELECT {ARTICLE.select()} FROM articles WHERE url = ?", (url,)
        ).fetchone()
        return ARTICLE.load(row) if row is not None else None

    def save_article(self, record: ArticleRecord) -> None:
        """Insert or replace the cached article page at ``record.url``."""
        stored = {name: getattr(record, name) for name in ARTICLE.names}
        stored.update(
            fetched=ts(record.fetched),
            published=optional_ts(record.published),
            updated=optional_ts(record.updated),
            retry=int(record.retry),
            rules=json.dumps(list(record.rules), ensure_ascii=False),
        )
        self._execute(
            f"INSERT INTO articles ({ARTICLE.select()})"
            f" VALUES ({', '.join('?' for _ in ARTICLE.names)})"
            f" ON CONFLICT ({self.dialect.arbiter('articles', 'url')})"
            f" DO UPDATE SET {_REPLACE_ARTICLE}",
            tuple(stored.values()),
        )


class HeartbeatTable(SqlConnection):
    """The running daemon's pid, host and last sign of life (the ``Heartbeat`` role)."""

    def daemon_started(self, pid: int, host: str, now: datetime) -> None:
        with self.batch():
            self._execute(
                "INSERT INTO daemon (id, pid, host, started, last_activity, stopped)"
                " VALUES (1, ?, ?, ?, ?, NULL)"
                " ON CONFLICT (id) DO UPDATE SET pid = excluded.pid, host = excluded.host,"
                " started = excluded.started,"
                " last_activity = excluded.last_activity, stopped = NULL",
                (pid, host, ts(now), ts(now)),
            )

    def daemon_beat(self, now: datetime) -> None:
        with self.batch():
            self._execute("UPDATE daemon SET last_activity = ? WHERE id = 1", (ts(now),))

    def daemon_stopped(self, now: datetime) -> None:
        with self.batch():
            self._execute(
                "UPDATE daemon SET last_activity = ?, stopped = ? WHERE id = 1",
                (ts(now), ts(now)),
            )

    def daemon_info(self) -> DaemonInfo | None:
        row = self._execute(f"SELECT {DAEMON.select()} FROM daemon WHERE id = 1").fetchone()
        return DAEMON.load(row) if row is not None else None
