#!/usr/bin/env python3
"""Side-by-side benchmark: ``feeds refresh`` against the ``reader`` library and the raw HTTP bound.

One command (see docs/performance.md)::

    python bench/refresh_bench.py                      # full run: 1,000 feeds x 30 entries
    python bench/refresh_bench.py --feeds 200 --entries 30
    python bench/refresh_bench.py --quick              # smoke run (CI): tiny N, one repetition
    python bench/refresh_bench.py --workload reuters   # the same, on Reuters-21578's real stories

Two workloads, each run on its own (the lead's side-by-side runs both, one after the other):
``--workload synthetic`` (the default) generates the text, ``--workload reuters`` reads
Reuters-21578 at run time from ``../shared/corpus/reuters21578`` (or ``$FEEDS_REUTERS``;
never copied into the repository) and puts its real titles, paragraphs and topics in the
same WordPress markup: real vocabulary, short and long stories.

What it does, in one process that orchestrates many:

1. Generates N WordPress-style Business feeds (RSS 2.0 with ``content:encoded``,
   5-8 paragraph synthetic bodies or a Reuters story, the usual comment-form and
   "appeared first on" boilerplate), deterministically from ``--seed``.
2. Serves them from a real HTTP server on 127.0.0.1 that answers conditional GETs with
   ETag / Last-Modified: nginx (installed with apt-get when missing and allowed, run in the
   foreground with a generated config in a temporary folder), else a small Python server.
3. Runs every contender in its own subprocess, from a fresh state, three times (``--reps``),
   and reads each child's wall time and peak RSS (``ru_maxrss`` from ``wait4``):

   - ``feeds refresh`` (the console script, exactly as cron runs it);
   - ``reader`` (``update_feeds(workers=N, scheduled=False)``) with 1, 8 and 16 workers;
   - the raw bound: httpx sync and async, and aiohttp, at concurrency 1/4/8/32, plus lxml
     parsing of every 200 body, with the validators kept in a JSON file and nothing else.

   Phases: *cold* (empty state, every feed fetched), *warm* (nothing changed, every request
   a 304), *incremental* (10% of the feeds gained two entries; the two oldest fell off).
   Contenders take turns within each phase, so they see the same machine load.
4. Store-size section: publish time and the cost of ingesting 1,000 new entries with
   10,000 and 100,000 entries already stored (the store is populated through
   ``feeds.store.sqlite`` directly, for speed), and the WAL checkpoint after each ingest
   (a large store's ingest passes ``wal_autocheckpoint`` and checkpoints inside; a small
   store's WAL is written back later, here). A store large enough to stage its new LSH rows
   (``feeds/store/sqlite/staged_bands.py``) starts midway between two merges (the rows of its
   newest copies staged, half as many as a merge takes); after the ingests its staged rows
   are merged (and checkpointed), timed, and the all-in cost per 1,000 counts that merge at
   the share of ingests it comes after.

Prints Markdown tables (medians and ratios) ready for ``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import compileall
import contextlib
import email.utils
import functools
import html
import importlib.util
import json
import os
import platform
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
BASE_TIME = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
BASE_MTIME = int(BASE_TIME.timestamp())


def _words(text: str, sep: str | None = None) -> tuple[str, ...]:
    return tuple(text.split(sep))


# --- synthetic WordPress feeds ---------------------------------------------------------------

_NOUNS = _words(
    "revenue profit margin investors shareholders analysts board regulators market shares "
    "bonds yields currency exports imports tariffs supply chain factory output demand inflation "
    "interest rates central bank lenders deposits loans startup venture fund merger acquisition "
    "dividend guidance forecast quarter earnings outlook consumers retailers airline carmaker "
    "chipmaker refinery pipeline port logistics freight wages workforce headcount budget deficit"
)
_VERBS = _words(
    "rose fell climbed slipped jumped dropped rebounded stalled widened narrowed beat missed "
    "raised cut lifted trimmed doubled halved expanded contracted announced confirmed reported "
    "warned expected signalled"
)
_ADJS = _words(
    "quarterly annual regional global domestic strong weak steady volatile record modest sharp "
    "gradual unexpected cautious upbeat lower higher"
)
_PLACES = _words(
    "Singapore Jakarta Frankfurt London Tokyo Seoul Mumbai Shanghai Sydney Toronto "
    "Chicago Lagos Nairobi Santiago Warsaw"
)
_COMPANIES = _words(
    "Acme Holdings|Northwind Traders|Globex|Initech|Umbrella Logistics|Stark Industries|"
    "Wayne Capital|Hooli|Vandelay Imports|Cyberdyne Systems|Soylent Foods|Tyrell Energy",
    sep="|",
)
_CATEGORIES = ("Business", "Markets", "Economy", "Companies", "Technology", "Energy", "Trade")


def _sentence(rng: random.Random) -> str:
    n = rng.choice(_NOUNS)
    return (
        f"{rng.choice(_COMPANIES)}'s {rng.choice(_ADJS)} {n} {rng.choice(_VERBS)} "
        f"{rng.randint(2, 40)}.{rng.randint(0, 9)} percent in {rng.choice(_PLACES)}, "
        f"as {rng.choice(_NOUNS)} and {rng.choice(_NOUNS)} {rng.choice(_VERBS)} "
        f"{rng.choice(('again', 'this week', 'over the quarter', 'on Tuesday', 'overnight'))}."
    ).capitalize()


@dataclass(frozen=True)
class Post:
    feed: int
    number: int
    title: str
    paragraphs: tuple[str, ...]
    categories: tuple[str, ...]
    published: datetime

    @property
    def post_id(self) -> int:
        return self.feed * 100_000 + self.number

    def link(self, host: str) -> str:
        d = self.published
        slug = "-".join(self.title.lower().replace("'", "").replace(",", "").split()[:8])
        return f"https://{host}/{d:%Y/%m/%d}/{slug}-{self.number}/"


def make_post(seed: int, feed: int, number: int) -> Post:
    """Post ``number`` of feed ``feed``: same seed, same post, byte for byte."""
    rng = random.Random(f"{seed}:{feed}:{number}")
    paragraphs = tuple(
        " ".join(_sentence(rng) for _ in range(rng.randint(3, 5))) for _ in range(rng.randint(5, 8))
    )
    title = (
        f"{rng.choice(_COMPANIES)} {rng.choice(_VERBS)} {rng.choice(_ADJS)} "
        f"{rng.choice(_NOUNS)} outlook in {rng.choice(_PLACES)}"
    )
    cats = tuple(rng.sample(_CATEGORIES, rng.randint(1, 3)))
    published = BASE_TIME - timedelta(hours=6 * (10_000 - number), minutes=feed % 60)
    return Post(feed, number, title, paragraphs, cats, published)


@functools.cache
def _reuters_stories() -> tuple[Any, ...]:
    import reuters  # bench/reuters.py, beside this file

    if not reuters.available():
        raise SystemExit(f"--workload reuters: no Reuters-21578 at {reuters.corpus_dir()}")
    # The collection sends some stories twice, word for word: two posts of one feed with the
    # same title and text are one story to feeds (it re-keys the copy), so each is kept once
    # and every post of the bench is a story of its own.
    seen: set[tuple[str, tuple[str, ...]]] = set()
    kept = []
    for story in reuters.stories():
        text = (story.title, tuple(story.paragraphs))
        if text not in seen:
            seen.add(text)
            kept.append(story)
    return tuple(kept)


def reuters_post(seed: int, feed: int, number: int) -> Post:
    """Post ``number`` of feed ``feed`` from Reuters-21578, read at run time: the story's
    real title, paragraphs and topics in the same WordPress item. Feed ``f`` takes the
    stories from ``40 f + seed`` on, in the collection's order (so short and long, on
    neighbouring days); past the 18,814 distinct stories with a body the feeds share stories, as
    syndicated copies do."""
    stories = _reuters_stories()
    story = stories[(seed + 40 * feed + number) % len(stories)]
    title = " ".join(re.sub(r"[<>&\"]", " ", story.title).split())
    paragraphs = tuple(html.escape(p, quote=False).replace("]]>", "]] >") for p in story.paragraphs)
    cats = tuple(t.capitalize() for t in story.topics[:3]) or ("Business",)
    published = BASE_TIME - timedelta(hours=6 * (10_000 - number), minutes=feed % 60)
    return Post(feed, number, title, paragraphs, cats, published)


#: How each --workload makes its posts.
WORKLOADS: dict[str, Callable[[int, int, int], Post]] = {
    "synthetic": make_post,
    "reuters": reuters_post,
}


def _host(feed: int) -> str:
    return f"news{feed:04d}.example.com"


def render_feed(
    seed: int, feed: int, first: int, count: int, make: Callable[[int, int, int], Post] = make_post
) -> bytes:
    """RSS 2.0 as WordPress writes it: posts ``first`` .. ``first + count - 1``, newest first
    (each made by ``make``: a workload's posts)."""
    host = _host(feed)
    posts = [make(seed, feed, n) for n in range(first + count - 1, first - 1, -1)]
    items = []
    for post in posts:
        body = "\n".join(f"<p>{p}</p>" for p in post.paragraphs)
        link = post.link(host)
        excerpt = " ".join(" ".join(post.paragraphs).split()[:55])
        cats = "".join(f"\n\t\t<category><![CDATA[{c}]]></category>" for c in post.categories)
        items.append(
            f"""	<item>
		<title>{post.title}</title>
		<link>{link}</link>
		<comments>{link}#respond</comments>
		<dc:creator><![CDATA[Staff Reporter]]></dc:creator>
		<pubDate>{email.utils.format_datetime(post.published)}</pubDate>{cats}
		<guid isPermaLink="false">https://{host}/?p={post.post_id}</guid>
		<description><![CDATA[{excerpt} [&#8230;]]]></description>
		<content:encoded><![CDATA[{body}
<p><img src="https://{host}/wp-content/uploads/2026/03/chart-{post.number}.png" alt="Chart" width="640" height="360" /></p>
<div class="sharedaddy"><a href="https://twitter.com/share?url={link}">Share on X</a></div>
<div id="respond" class="comment-respond"><h3>Leave a Reply</h3><p>Your email address will not be published. Required fields are marked *</p></div>
<p>The post <a href="{link}">{post.title}</a> appeared first on <a href="https://{host}">Example News {feed}</a>.</p>
]]></content:encoded>
		<wfw:commentRss>{link}feed/</wfw:commentRss>
		<slash:comments>0</slash:comments>
	</item>"""
        )
    newest = email.utils.format_datetime(posts[0].published)
    return (
        f"""<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"
	xmlns:content="http://purl.org/rss/1.0/modules/content/"
	xmlns:wfw="http://wellformedweb.org/CommentAPI/"
	xmlns:dc="http://purl.org/dc/elements/1.1/"
	xmlns:atom="http://www.w3.org/2005/Atom"
	xmlns:sy="http://purl.org/rss/1.0/modules/syndication/"
	xmlns:slash="http://purl.org/rss/1.0/modules/slash/"
	>
<channel>
	<title>Business &#8211; Example News {feed}</title>
	<atom:link href="https://{host}/category/business/feed/" rel="self" type="application/rss+xml" />
	<link>https://{host}</link>
	<description>Markets, companies and the economy</description>
	<lastBuildDate>{newest}</lastBuildDate>
	<language>en-US</language>
	<sy:updatePeriod>
	hourly	</sy:updatePeriod>
	<sy:updateFrequency>
	1	</sy:updateFrequency>
	<generator>https://wordpress.org/?v=6.7.2</generator>
"""
        + "\n".join(items)
        + "\n</channel>\n</rss>\n"
    ).encode()


@dataclass
class Corpus:
    """The served files: ``www/feeds/NNNN.xml``; ``reset`` and ``grow`` rewrite them."""

    root: Path
    feeds: int
    entries: int
    seed: int
    workload: str = "synthetic"

    def path(self, feed: int) -> Path:
        return self.root / "feeds" / f"{feed:04d}.xml"

    def urls(self, port: int) -> list[str]:
        return [f"http://127.0.0.1:{port}/feeds/{i:04d}.xml" for i in range(self.feeds)]

    def _write(self, feed: int, first: int, mtime: int) -> None:
        path = self.path(feed)
        path.write_bytes(
            render_feed(self.seed, feed, first, self.entries, WORKLOADS[self.workload])
        )
        path.chmod(0o644)
        os.utime(path, (mtime, mtime))

    def reset(self) -> None:
        """Every feed in its base state: posts 0 .. entries-1."""
        (self.root / "feeds").mkdir(parents=True, exist_ok=True)
        for d in (self.root.parent, self.root, self.root / "feeds"):
            d.chmod(0o755)  # nginx workers run as nobody when started by root
        for i in range(self.feeds):
            self._write(i, 0, BASE_MTIME)

    def grown(self) -> list[int]:
        """The feeds that gain entries in the incremental phase: every tenth one (10%)."""
        return list(range(0, self.feeds, 10))

    def grow(self) -> None:
        """10% of the feeds gain two new posts (and drop their two oldest, as WordPress does)."""
        for i in self.grown():
            self._write(i, 2, BASE_MTIME + 3600)

    def total_bytes(self) -> int:
        return sum(self.path(i).stat().st_size for i in range(self.feeds))


# --- servers ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_listening(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited ({proc.returncode}): {log.read_text()[-2000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError("server did not start listening")


def find_nginx(install: bool) -> str | None:
    """nginx on PATH (or /usr/sbin); installed from Debian's packages when allowed."""
    for candidate in (shutil.which("nginx"), "/usr/sbin/nginx"):
        if candidate and Path(candidate).exists():
            return candidate
    if not install or not shutil.which("apt-get"):
        return None
    apt = ["apt-get"] if os.geteuid() == 0 else ["sudo", "-n", "apt-get"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    print("nginx not found: installing it with apt-get ...", file=sys.stderr)
    for cmd in ([*apt, "update", "-qq"], [*apt, "install", "-y", "-qq", "nginx"]):
        if subprocess.run(cmd, env=env, capture_output=True, check=False).returncode != 0:
            return None
    found = shutil.which("nginx") or "/usr/sbin/nginx"
    return found if Path(found).exists() else None


NGINX_CONF = """\
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    types {{ application/rss+xml xml; }}
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    keepalive_timeout 120s;
    etag on;
    if_modified_since exact;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        location / {{ }}
    }}
}}
"""


@contextlib.contextmanager
def served(
    work: Path,
    feeds: int,
    entries: int,
    workload: str,
    *,
    seed: int = 1,
    kind: str = "auto",
    install: bool = False,
) -> Iterator[tuple[Corpus, Path, str]]:
    """The bench's feeds written under ``work`` and served on 127.0.0.1 (:func:`serve`):
    their :class:`Corpus`, the file of their URLs, the server's description."""
    corpus = Corpus(work / "www", feeds, entries, seed, workload)
    corpus.reset()
    with serve(corpus.root, kind, install) as (port, server):
        urls = work / "urls.txt"
        urls.write_text("\n".join(corpus.urls(port)) + "\n")
        yield corpus, urls, server


@contextlib.contextmanager
def serve(root: Path, kind: str, install: bool) -> Iterator[tuple[int, str]]:
    """Serve ``root`` on 127.0.0.1; yields (port, description)."""
    tmp = Path(tempfile.mkdtemp(prefix="feeds-bench-server-"))
    port = free_port()
    log = tmp / "server.log"
    nginx = find_nginx(install) if kind in ("auto", "nginx") else None
    if kind == "nginx" and nginx is None:
        raise SystemExit("nginx is not installed and could not be installed")
    if nginx is not None:
        conf = tmp / "nginx.conf"
        conf.write_text(NGINX_CONF.format(tmp=tmp, port=port, root=root))
        version = subprocess.run(
            [nginx, "-v"], capture_output=True, text=True, check=False
        ).stderr.strip()
        argv = [nginx, "-p", str(tmp), "-c", str(conf), "-e", str(tmp / "error.log")]
        description = f"{version.replace('nginx version: ', '')} (1 worker)"
    else:
        argv = [sys.executable, str(HERE), "_serve", str(root), str(port)]
        description = "Python http.server fallback (ThreadingHTTPServer)"
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_listening(port, proc, log)
        yield port, description
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def _python_server(root: Path, port: int) -> None:
    """The fallback: static files with ETag / Last-Modified and 304s, HTTP/1.1 keep-alive."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            path = (root / self.path.lstrip("/").split("?")[0]).resolve()
            if root not in path.parents or not path.is_file():
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            st = path.stat()
            etag = f'"{int(st.st_mtime):x}-{st.st_size:x}"'
            modified = email.utils.formatdate(int(st.st_mtime), usegmt=True)
            fresh = self.headers.get("If-None-Match") == etag or (
                self.headers.get("If-None-Match") is None
                and self.headers.get("If-Modified-Since") == modified
            )
            self.send_response(304 if fresh else 200)
            self.send_header("ETag", etag)
            self.send_header("Last-Modified", modified)
            self.send_header("Content-Type", "application/rss+xml")
            if fresh:
                self.end_headers()
                return
            body = path.read_bytes()
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer.request_queue_size = 1024
    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


# --- measuring a child -----------------------------------------------------------------------


@dataclass
class Sample:
    wall: float
    rss_mib: float  # the largest single process (ru_maxrss)
    tree_mib: float = 0.0  # the peak of the whole process tree's summed PSS (sampled)
    cpu: float = 0.0  # user + system seconds of the process and its children (wait4)
    cpu_main: float = 0.0  # ... of the process alone (its last /proc sample, ~0.1 s early)


def _descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (from /proc/PID/task/*/children)."""
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        try:
            tasks = list(Path(f"/proc/{current}/task").iterdir())
        except OSError:
            continue
        for task in tasks:
            try:
                todo += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
    return out


def _pss_kib(pid: int) -> int:
    try:
        with Path(f"/proc/{pid}/smaps_rollup").open() as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


class TreeSampler(threading.Thread):
    """Samples the summed PSS of a process tree every ``interval`` seconds; keeps the peak.

    PSS shares each page among the processes that map it, so forked workers are not
    counted twice for what they share with their parent (RSS would be).
    """

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval, self.peak_kib = pid, interval, 0
        self.cpu_main = 0.0  # the process's own CPU seconds at the last sample
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            total = sum(_pss_kib(p) for p in _descendants(self.pid))
            self.peak_kib = max(self.peak_kib, total)
            self.cpu_main = max(self.cpu_main, _cpu_seconds(self.pid))
            self.done.wait(self.interval)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` itself (all its threads), from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


# Every measured command is started by this small process, itself started before the bench
# loads or generates anything. Linux carries a process's peak RSS over into what it runs
# (exec keeps the higher of the old and the new peak), so a command forked straight from the
# bench, which holds the whole corpus, reported at least the bench's own RSS as its peak.
_LAUNCHER_CODE = """
import json, os, subprocess, sys, time
for line in sys.stdin:
    job = json.loads(line)
    with open(job["out"], "wb") as out, open(job["err"], "wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(job["argv"], stdout=out, stderr=err, cwd=job["cwd"])
        print(json.dumps({"pid": proc.pid}), flush=True)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
    cpu = usage.ru_utime + usage.ru_stime
    done = {"status": status, "wall": wall, "maxrss": usage.ru_maxrss, "cpu": cpu}
    print(json.dumps(done), flush=True)
"""


class Launcher:
    """Starts each measured command and reports its wall time, peak RSS and CPU time."""

    _proc: subprocess.Popen[str] | None = None

    @classmethod
    def start(cls) -> None:
        """Start the launcher now, while this process is small (see above)."""
        if cls._proc is None:
            cls._proc = subprocess.Popen(
                [sys.executable, "-c", _LAUNCHER_CODE],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )

    @classmethod
    def run(
        cls, argv: Sequence[str], cwd: Path | None, out: Path, err: Path
    ) -> tuple[int, float, float, float, float, float]:
        """(exit code, wall s, peak RSS KiB, CPU s, peak tree PSS KiB, own CPU s)."""
        cls.start()
        proc = cls._proc
        assert proc is not None and proc.stdin is not None and proc.stdout is not None
        job = {"argv": list(argv), "cwd": str(cwd) if cwd else None}
        proc.stdin.write(json.dumps({**job, "out": str(out), "err": str(err)}) + "\n")
        proc.stdin.flush()
        sampler = TreeSampler(json.loads(proc.stdout.readline())["pid"])
        sampler.start()
        done = json.loads(proc.stdout.readline())
        sampler.done.set()
        sampler.join()
        code = os.waitstatus_to_exitcode(done["status"])
        return code, done["wall"], done["maxrss"], done["cpu"], sampler.peak_kib, sampler.cpu_main


def measure(argv: Sequence[str], *, cwd: Path | None = None) -> tuple[Sample, str]:
    """Run ``argv``; its wall time, peak RSS (``ru_maxrss``), tree PSS, stdout."""
    with tempfile.TemporaryDirectory(prefix="feeds-measure-") as tmp:
        out, err = Path(tmp) / "out", Path(tmp) / "err"
        code, wall, maxrss, cpu, pss, cpu_main = Launcher.run(argv, cwd, out, err)
        stdout = out.read_bytes().decode(errors="replace")
        if code != 0:
            raise RuntimeError(
                f"{' '.join(argv)} exited {code}:\n"
                f"{stdout[-2000:]}\n{err.read_bytes().decode(errors='replace')[-3000:]}"
            )
    return Sample(wall, maxrss / 1024, pss / 1024, cpu, cpu_main), stdout


def _count_rows(db: Path, table: str) -> int:
    import sqlite3

    with contextlib.closing(sqlite3.connect(db)) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


# --- contenders ------------------------------------------------------------------------------


@dataclass
class Contender:
    name: str
    kind: str  # feeds | reader | raw
    option: str = ""  # reader workers / raw client
    concurrency: int = 1
    state: Path = field(default_factory=Path)

    def fresh(self, work: Path, urls_file: Path, args: argparse.Namespace) -> None:
        self.state = work / self.name.replace(" ", "_").replace("/", "_")
        shutil.rmtree(self.state, ignore_errors=True)
        self.state.mkdir(parents=True)
        if self.kind == "feeds":
            urls = urls_file.read_text().split()
            lines = [
                "[store]",
                'path = "state/feeds.db"',
                "[fetch]",
                f"max_connections = {args.feeds_connections}",
                # All bench feeds live on one host (127.0.0.1); real admins' sources are
                # spread over many hosts, so the per-host cap and the politeness delay between
                # requests to one host would only model this bench.
                f"max_per_host = {args.feeds_connections}",
                "min_host_delay = 0",
            ]
            for i, url in enumerate(urls):
                # No article pages: reader fetches none, and the bench serves none (its posts
                # link to hosts that do not resolve). A short story whose excerpt is all of
                # it, as WordPress writes one, would otherwise ask for its page at every run.
                lines += [
                    "[[sources]]",
                    f'name = "s{i:04d}"',
                    f'url = "{url}"',
                    "full_text = false",
                ]
            lines += [
                "[[outputs]]",
                'name = "business"',
                'path = "out/business.atom"',
                'title = "Business"',
                "max_entries = 50",
            ]
            (self.state / "config.toml").write_text("\n".join(lines) + "\n")
        elif self.kind == "reader":
            # Subscribing is set-up, not refresh work: done once, untimed.
            measure([sys.executable, str(HERE), "_reader", str(self.state), "0", str(urls_file)])

    def argv(self, urls_file: Path) -> list[str]:
        if self.kind == "feeds":
            feeds = Path(sys.executable).with_name("feeds")
            exe = [str(feeds)] if feeds.exists() else [sys.executable, "-m", "feeds"]
            # --all: every source now, as reader's update_feeds(scheduled=False) does
            return [*exe, "refresh", "--all", "--config", str(self.state / "config.toml")]
        if self.kind == "reader":
            return [sys.executable, str(HERE), "_reader", str(self.state), self.option]
        return [
            sys.executable,
            str(HERE),
            "_raw",
            self.option,
            str(self.concurrency),
            str(self.state / "validators.json"),
            str(urls_file),
        ]

    def stored(self) -> int | None:
        """Entries in the contender's store (to check it did the work), if it has one."""
        if self.kind == "feeds":
            return _count_rows(self.state / "state" / "feeds.db", "entries")
        if self.kind == "reader":
            return _count_rows(self.state / "reader.sqlite", "entries")
        return None


def contenders(args: argparse.Namespace) -> list[Contender]:
    out = [Contender("feeds refresh", "feeds")]
    out += [Contender(f"reader w{w}", "reader", str(w)) for w in args.reader_workers]
    clients = ["httpx-sync", "httpx-async"]
    try:
        import aiohttp  # noqa: F401

        clients.append("aiohttp")
    except ImportError:
        print("aiohttp is not installed: left out of the raw bound", file=sys.stderr)
    for client in clients:
        out += [Contender(f"raw {client} c{c}", "raw", client, c) for c in args.raw_concurrency]
    if args.only:
        out = [c for c in out if c.name == "feeds refresh" or any(o in c.name for o in args.only)]
    return out


def _reader_child(state: Path, workers: int, urls_file: str | None) -> None:
    """Subscribe (workers 0) or update every feed with ``workers`` threads."""
    from reader import make_reader

    reader = make_reader(str(state / "reader.sqlite"), search_enabled=False)
    if workers == 0:
        assert urls_file is not None
        for url in Path(urls_file).read_text().split():
            reader.add_feed(url, exist_ok=True)
        reader.close()
        return
    reader.update_feeds(scheduled=False, workers=workers)
    reader.close()


def _raw_child(client: str, concurrency: int, state_file: Path, urls_file: Path) -> None:
    """GET every feed (conditionally when validators are known) and parse 200s with lxml."""
    import lxml.etree

    urls = urls_file.read_text().split()
    validators: dict[str, list[str | None]] = (
        json.loads(state_file.read_text()) if state_file.exists() else {}
    )
    parser = lxml.etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    counts = {"200": 0, "304": 0, "items": 0}

    def headers_for(url: str) -> dict[str, str]:
        etag, modified = validators.get(url, [None, None])
        h = {}
        if etag:
            h["If-None-Match"] = etag
        if modified:
            h["If-Modified-Since"] = modified
        return h

    def done(url: str, status: int, headers: Any, body: bytes) -> None:
        if status == 304:
            counts["304"] += 1
            return
        if status != 200:
            raise RuntimeError(f"{url}: HTTP {status}")
        counts["200"] += 1
        validators[url] = [headers.get("etag"), headers.get("last-modified")]
        root = lxml.etree.fromstring(body, parser)
        for item in root.iter("item"):
            counts["items"] += 1
            item.findtext("title")
            item.findtext("{http://purl.org/rss/1.0/modules/content/}encoded")

    if client == "httpx-sync":
        import httpx

        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        with httpx.Client(limits=limits, trust_env=False) as http:

            def get(url: str) -> tuple[str, int, Any, bytes]:
                r = http.get(url, headers=headers_for(url))
                return url, r.status_code, r.headers, r.content

            if concurrency == 1:
                for url in urls:
                    done(*get(url))
            else:
                from concurrent.futures import ThreadPoolExecutor

                with ThreadPoolExecutor(concurrency) as pool:
                    for result in pool.map(get, urls):
                        done(*result)
    elif client == "httpx-async":
        import httpx

        async def run_httpx() -> None:
            limits = httpx.Limits(
                max_connections=concurrency, max_keepalive_connections=concurrency
            )
            sem = asyncio.Semaphore(concurrency)
            async with httpx.AsyncClient(limits=limits, trust_env=False) as http:

                async def get(url: str) -> None:
                    async with sem:
                        r = await http.get(url, headers=headers_for(url))
                    done(url, r.status_code, r.headers, r.content)

                await asyncio.gather(*(get(u) for u in urls))

        asyncio.run(run_httpx())
    elif client == "aiohttp":
        import aiohttp

        async def run_aiohttp() -> None:
            connector = aiohttp.TCPConnector(limit=concurrency)
            async with aiohttp.ClientSession(connector=connector) as http:

                async def get(url: str) -> None:
                    async with http.get(url, headers=headers_for(url)) as r:
                        body = await r.read()
                    done(url, r.status, r.headers, body)

                await asyncio.gather(*(get(u) for u in urls))

        asyncio.run(run_aiohttp())
    else:
        raise SystemExit(f"unknown client {client}")
    state_file.write_text(json.dumps(validators))
    print(json.dumps(counts))


# --- the side-by-side run --------------------------------------------------------------------

PHASES = ("cold", "warm", "incremental")


def compile_packages(names: Sequence[str] = ("feeds", "reader")) -> None:
    """Byte-compile the measured packages first, as installing them does.

    An editable install (or ``PYTHONDONTWRITEBYTECODE``) would otherwise make every
    measured start compile the changed modules again: a cost of a first run, not of cron's.
    """
    for name in names:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.submodule_search_locations:
            for folder in spec.submodule_search_locations:
                compileall.compile_dir(folder, quiet=1)


def run_refresh_bench(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    compile_packages()
    corpus = Corpus(work / "www", args.feeds, args.entries, args.seed, args.workload)
    corpus.reset()
    size_mib = corpus.total_bytes() / 2**20
    print(
        f"generated {args.feeds} feeds x {args.entries} entries ({size_mib:.1f} MiB)",
        file=sys.stderr,
    )
    players = contenders(args)
    results: dict[tuple[str, str], list[Sample]] = {}
    with serve(corpus.root, args.server, args.install) as (port, server):
        urls_file = work / "urls.txt"
        urls_file.write_text("\n".join(corpus.urls(port)) + "\n")
        for rep in range(args.reps):
            if rep:
                corpus.reset()
            for player in players:
                player.fresh(work / "state", urls_file, args)
            expected = {"cold": args.feeds * args.entries, "warm": args.feeds * args.entries}
            expected["incremental"] = expected["warm"] + 2 * len(corpus.grown())
            for phase in PHASES:
                if phase == "incremental":
                    corpus.grow()
                for player in players:
                    sample, out = measure(player.argv(urls_file))
                    results.setdefault((player.name, phase), []).append(sample)
                    _check(player, phase, out, expected[phase], args, corpus)
                    print(
                        f"rep {rep + 1} {phase:<11} {player.name:<22} "
                        f"{sample.wall:7.2f} s {sample.rss_mib:7.1f} MiB RSS"
                        f" {sample.tree_mib:7.1f} MiB tree PSS"
                        f" {sample.cpu_main:6.2f}/{sample.cpu:6.2f} s CPU (main/all)",
                        file=sys.stderr,
                    )
            shutil.rmtree(work / "state", ignore_errors=True)
    return {"server": server, "corpus_mib": size_mib, "results": results, "players": players}


def profile_phase(args: argparse.Namespace, work: Path) -> str:
    """A pyinstrument profile (text) of one ``feeds refresh`` phase on the generated feeds.

    The phases before the profiled one run unprofiled, as in the benchmark.
    """
    compile_packages()
    player = Contender("feeds refresh", "feeds")
    with served(
        work,
        args.feeds,
        args.entries,
        args.workload,
        seed=args.seed,
        kind=args.server,
        install=args.install,
    ) as (corpus, urls_file, _server):
        player.fresh(work / "state", urls_file, args)
        argv = player.argv(urls_file)
        for phase in PHASES:
            if phase == "incremental":
                corpus.grow()
            if phase == args.profile:
                break
            measure(argv)
        profile = work / "profile.txt"
        sample, _ = measure(
            [
                sys.executable,
                "-m",
                "pyinstrument",
                "-r",
                "text",
                "--show-all" if args.profile_all else "--hide-regex=^$",
                "-o",
                str(profile),
                "-m",
                "feeds",
                *argv[-4:],
            ]
        )
        return f"{args.profile} refresh under the profiler: {sample.wall:.2f} s\n" + (
            profile.read_text()
        )


def _check(
    player: Contender,
    phase: str,
    out: str,
    expected: int,
    args: argparse.Namespace,
    corpus: Corpus,
) -> None:
    """Every contender must have done the same work, or the comparison means nothing."""
    if player.kind == "raw":
        counts = json.loads(out.strip().splitlines()[-1])
        want = {
            "cold": (args.feeds, 0),
            "warm": (0, args.feeds),
            "incremental": (len(corpus.grown()), args.feeds - len(corpus.grown())),
        }[phase]
        got = (counts["200"], counts["304"])
        if got != want:
            raise RuntimeError(f"{player.name} {phase}: (200s, 304s) = {got}, expected {want}")
        return
    stored = player.stored()
    if stored != expected:
        raise RuntimeError(f"{player.name} {phase}: {stored} entries stored, expected {expected}")


# --- store size: publish and ingest ----------------------------------------------------------


def run_store_bench(sizes: Sequence[int], batch: int, reps: int, work: Path) -> dict[int, Any]:
    """Publish time and ingest cost per ``batch`` new entries, for each stored size."""
    out: dict[int, Any] = {}
    for size in sizes:
        argv = [sys.executable, str(HERE), "_store", str(size), str(batch), str(reps), str(work)]
        _, stdout = measure(argv)
        out[size] = json.loads(stdout.strip().splitlines()[-1])
        print(f"store {size}: {out[size]}", file=sys.stderr)
    return out


def _stage_newest(db: Any, merged_through: int) -> None:
    """Move the LSH rows of the copies after ``merged_through`` to ``lsh_staged``, as a store
    that last merged its staged rows when that copy was its newest would have them."""
    db.execute("BEGIN IMMEDIATE")
    db.execute(
        "INSERT INTO lsh_staged SELECT bucket, copy FROM lsh WHERE copy > ?", (merged_through,)
    )
    db.execute("DELETE FROM lsh WHERE copy > ?", (merged_through,))
    db.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES ('lsh_merged_through', ?)",
        (str(merged_through),),
    )
    db.execute("COMMIT")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def _store_child(size: int, batch: int, reps: int, work: Path) -> None:
    from feeds import config as config_module
    from feeds.core import dedupe
    from feeds.ingest.fetch import Fetcher
    from feeds.run.refresh import publish_all, refresh
    from feeds.store.sqlite import FetchOutcome, Store, staged_bands
    from feeds.types import CleanEntry

    per_source = 30
    n_sources = max(1, size // per_source)
    folder = work / f"store-{size}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for r in range(reps):  # the new entries each ingest repetition reads (a file source)
        (folder / f"ingest{r}.xml").write_bytes(render_feed(7, n_sources + r, 0, batch))
    config = config_module.from_dict(
        {
            "store": {"path": "feeds.db"},
            "sources": [
                *(
                    {"name": f"s{i:05d}", "url": f"http://127.0.0.1:9/{i}.xml"}
                    for i in range(n_sources)
                ),
                *({"name": f"s{n_sources + r:05d}", "url": f"ingest{r}.xml"} for r in range(reps)),
            ],
            "outputs": [{"name": "business", "path": "business.atom", "title": "Business"}],
        },
        base_dir=folder,
    )
    now = BASE_TIME + timedelta(days=1)
    populate_start = time.perf_counter()
    with Store.open(config.store_path) as store:
        store.sync_sources([(s.name, s.url) for s in config.sources])
        with store.transaction():
            for i in range(n_sources):
                name = f"s{i:05d}"
                entries = []
                for n in range(per_source):
                    post = make_post(1, i, n)
                    link = post.link(_host(i))
                    entries.append(
                        CleanEntry(
                            guid=f"https://{_host(i)}/?p={post.post_id}",
                            link=link,
                            title=post.title,
                            excerpt=None,
                            content_html="".join(f"<p>{p}</p>" for p in post.paragraphs),
                            body_text=" ".join(post.paragraphs),
                            published=post.published,
                            updated=post.published,
                            author="Staff Reporter",
                            categories=post.categories,
                            post_id=f"{_host(i)}?p={post.post_id}",
                        )
                    )
                for entry, keys in zip(entries, dedupe.entry_keys(entries), strict=True):
                    store.insert_copy(
                        name,
                        keys,
                        entry,
                        entry_id=keys.guid or dedupe.mint_entry_id(name, keys.key),
                        merged_reason=None,
                        now=now,
                    )
                store.record_fetch(
                    name, FetchOutcome(status=200, error=None, title=f"Example {i}"), now
                )
        store._db.execute("ANALYZE")  # as a long-lived store would have had
        populated = time.perf_counter() - populate_start
        stored = n_sources * per_source
        staging = staged_bands.staging(store._db)
        if staging:  # a store midway between two merges: its newest copies' rows staged
            _stage_newest(store._db, stored - int(stored / staged_bands.MERGE_SHARE / 2))

        publish_times = []
        for _ in range(reps):
            (folder / "business.atom").unlink(missing_ok=True)
            start = time.perf_counter()
            reports = publish_all(config, store)
            publish_times.append(time.perf_counter() - start)
            assert reports[0].error is None and reports[0].entries == 50, reports

        ingest_times, checkpoint_times = [], []
        for r in range(reps):
            name = f"s{n_sources + r:05d}"
            start = time.perf_counter()
            with Fetcher(config.fetch) as fetcher:
                result = refresh(
                    config, store, fetcher, now=now, names=[name], force=True, publish=False
                )
            ingest_times.append(time.perf_counter() - start)
            report = result.sources[-1]
            assert report.name == name and report.changes.get("new") == batch, report
            # What the ingest left in the WAL is written to the database at a checkpoint: inside
            # the ingest once the WAL passes wal_autocheckpoint (a large store's), else later.
            start = time.perf_counter()
            store._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            checkpoint_times.append(time.perf_counter() - start)
        merge_s, merge_every = 0.0, 0.0
        if staging:  # what the ingests staged, merged as the commit that finds it due does
            start = time.perf_counter()
            with store.batch():
                staged_bands.merge(store._db)
            store._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            merge_s = time.perf_counter() - start
            merge_every = stored / staged_bands.MERGE_SHARE / batch  # ingests between merges
    print(
        json.dumps(
            {
                "stored": stored,
                "populate_s": populated,
                "publish_s": statistics.median(publish_times),
                "ingest_s": statistics.median(ingest_times),
                "checkpoint_s": statistics.median(checkpoint_times),
                "merge_s": merge_s,
                "merge_every": merge_every,
                "batch": batch,
            }
        )
    )
    shutil.rmtree(folder, ignore_errors=True)


# --- report ----------------------------------------------------------------------------------


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram = ""
    with contextlib.suppress(OSError, ValueError, IndexError):
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        ram = f", {kib / 2**20:.0f} GiB RAM"
    return (
        f"{os.cpu_count()} CPUs ({cpu}){ram}; Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )


def _versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    parts = []
    for name in ("feeds", "reader", "feedparser", "httpx", "aiohttp", "lxml"):
        with contextlib.suppress(PackageNotFoundError):
            parts.append(f"{name} {version(name)}")
    return ", ".join(parts)


def startup_seconds(runs: int = 10) -> float:
    """Median wall time of ``feeds --help`` (what cron pays on every start)."""
    feeds = Path(sys.executable).with_name("feeds")
    exe = [str(feeds)] if feeds.exists() else [sys.executable, "-m", "feeds"]
    measure([*exe, "--help"])  # warm the file cache
    return statistics.median(measure([*exe, "--help"])[0].wall for _ in range(runs))


def report(args: argparse.Namespace, run: dict[str, Any] | None, store: dict[int, Any]) -> str:
    lines = [
        f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"machine: {machine()}",
        f"versions: {_versions()}",
        f"command: python bench/refresh_bench.py {' '.join(sys.argv[1:])}".rstrip(),
        f"start-up: `feeds --help` {startup_seconds() * 1000:.0f} ms (median of 10; target < 300)",
    ]
    if run is not None:
        results: dict[tuple[str, str], list[Sample]] = run["results"]
        lines += [
            f"feeds: {args.feeds} x {args.entries} entries, {args.workload} text ({run['corpus_mib']:.1f} MiB), "
            f"served by {run['server']}; {args.reps} repetition(s) from a fresh state, medians",
            "",
            "| contender | cold s | warm s | incremental s "
            "| peak RSS MiB (cold/warm/incr) | peak tree PSS MiB (cold/warm/incr) |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        med: dict[tuple[str, str], float] = {}
        for player in run["players"]:
            walls, rsses, trees = [], [], []
            for phase in PHASES:
                samples = results[(player.name, phase)]
                med[(player.name, phase)] = statistics.median(s.wall for s in samples)
                walls.append(f"{med[(player.name, phase)]:.2f}")
                rsses.append(f"{statistics.median(s.rss_mib for s in samples):.0f}")
                med[(player.name, phase + "_rss")] = max(s.rss_mib for s in samples)
                trees.append(f"{statistics.median(s.tree_mib for s in samples):.0f}")
                med[(player.name, phase + "_tree")] = max(s.tree_mib for s in samples)
            lines.append(
                f"| {player.name} | {' | '.join(walls)} | {'/'.join(rsses)} | {'/'.join(trees)} |"
            )
        lines += ["", "| ratio | cold | warm | incremental |", "|---|---:|---:|---:|"]
        readers = [p.name for p in run["players"] if p.kind == "reader"]
        raws = [p.name for p in run["players"] if p.kind == "raw"]
        ours = "feeds refresh"

        def best(names: list[str], phase: str) -> tuple[str, float]:
            name = min(names, key=lambda n: med[(n, phase)])
            return name, med[(name, phase)]

        if readers:
            cells = []
            for phase in PHASES:
                name, value = best(readers, phase)
                cells.append(f"{value / med[(ours, phase)]:.2f}x ({name.split()[-1]})")
            lines.append(f"| reader best / feeds (>= 3 wanted) | {' | '.join(cells)} |")
        if raws:
            cells = []
            for phase in PHASES:
                name, value = best(raws, phase)
                cells.append(f"{med[(ours, phase)] / value:.2f}x ({name[4:]})")
            lines.append(f"| feeds / raw bound (<= 2 wanted) | {' | '.join(cells)} |")
        if readers:
            cells = []
            for phase in PHASES:
                lowest = min(med[(n, phase + "_rss")] for n in readers)
                cells.append(f"{med[(ours, phase + '_rss')]:.0f} / {lowest:.0f}")
            lines.append(f"| peak RSS MiB feeds / lowest reader | {' | '.join(cells)} |")
            cells = []
            for phase in PHASES:
                lowest = min(med[(n, phase + "_tree")] for n in readers)
                cells.append(f"{med[(ours, phase + '_tree')]:.0f} / {lowest:.0f}")
            lines.append(f"| peak tree PSS MiB feeds / lowest reader | {' | '.join(cells)} |")
        cells = []
        for phase in PHASES:
            samples = results[(ours, phase)]
            main_cpu = statistics.median(s.cpu_main for s in samples)
            all_cpu = statistics.median(s.cpu for s in samples)
            cells.append(f"{main_cpu:.2f} / {all_cpu:.2f}")
        lines.append(f"| feeds CPU s, main process / all processes | {' | '.join(cells)} |")
    if store:
        lines += [
            "",
            "| entries stored | publish (50 entries) ms | ingest per 1,000 new entries s"
            " | then its checkpoint s | merge of staged LSH rows s (every n ingests)"
            " | all in per 1,000 s |",
            "|---:|---:|---:|---:|---:|---:|",
        ]
        for row in store.values():
            scale = 1000 / row["batch"]
            per_1000 = row["ingest_s"] * scale
            checkpoint = row.get("checkpoint_s", 0.0) * scale
            merge, every = row.get("merge_s", 0.0), row.get("merge_every", 0.0)
            share = merge / every * scale if every else 0.0
            merged = f"{merge:.2f} (every {every:.1f})" if every else "none staged"
            lines.append(
                f"| {row['stored']:,} | {row['publish_s'] * 1000:.1f} | {per_1000:.2f}"
                f" | {checkpoint:.2f} | {merged} | {per_1000 + checkpoint + share:.2f} |"
            )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    raw_argv = list(sys.argv[1:] if argv is None else argv)
    if raw_argv and raw_argv[0].startswith("_"):  # a child process
        command, rest = raw_argv[0], raw_argv[1:]
        if command == "_serve":
            _python_server(Path(rest[0]).resolve(), int(rest[1]))
        elif command == "_reader":
            _reader_child(Path(rest[0]), int(rest[1]), rest[2] if len(rest) > 2 else None)
        elif command == "_raw":
            _raw_child(rest[0], int(rest[1]), Path(rest[2]), Path(rest[3]))
        elif command == "_store":
            _store_child(int(rest[0]), int(rest[1]), int(rest[2]), Path(rest[3]))
        return

    Launcher.start()  # before anything is loaded: see Launcher
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Both workloads, one after the other (the full side-by-side run): "
        "`python bench/refresh_bench.py` then `python bench/refresh_bench.py --workload reuters` "
        "(1,000 feeds x 30 entries, 3 repetitions each). See docs/performance.md.",
    )
    parser.add_argument("--feeds", type=int, default=1000, help="number of feeds [1000]")
    parser.add_argument("--entries", type=int, default=30, help="entries per feed [30]")
    parser.add_argument("--reps", type=int, default=3, help="repetitions per phase [3]")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--workload",
        choices=tuple(WORKLOADS),
        default="synthetic",
        help="the feeds' text [synthetic]: generated sentences, or 'reuters': Reuters-21578's "
        "real stories (read at run time from ../shared/corpus/reuters21578 or $FEEDS_REUTERS) "
        "in the same WordPress markup; the store-size part stays synthetic",
    )
    parser.add_argument(
        "--server", choices=("auto", "nginx", "python"), default="auto", help="[auto: nginx]"
    )
    parser.add_argument(
        "--no-install", dest="install", action="store_false", help="never apt-get nginx"
    )
    parser.add_argument("--reader-workers", type=_ints, default=[1, 8, 16])
    parser.add_argument("--raw-concurrency", type=_ints, default=[1, 4, 8, 32])
    parser.add_argument(
        "--feeds-connections", type=int, default=8, help="feeds' [fetch] max_connections [8]"
    )
    parser.add_argument(
        "--store-sizes", type=_ints, default=[10_000, 100_000], help="[10000,100000]"
    )
    parser.add_argument("--ingest-batch", type=int, default=1000)
    parser.add_argument("--skip-refresh", action="store_true", help="only the store-size part")
    parser.add_argument("--skip-store", action="store_true", help="only the refresh part")
    parser.add_argument(
        "--profile",
        nargs="?",
        const="cold",
        choices=PHASES,
        help="instead: profile one `feeds refresh` of this phase [cold] with pyinstrument",
    )
    parser.add_argument(
        "--only",
        type=lambda t: t.split(","),
        help="measure feeds and only the contenders whose names contain one of these, e.g. "
        "'reader w1,aiohttp c8'",
    )
    parser.add_argument("--profile-all", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help="work folder (default: a temporary one)")
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 12 feeds x 5, 1 rep, small store"
    )
    args = parser.parse_args(raw_argv)
    if args.quick:
        args.feeds, args.entries, args.reps = 12, 5, 1
        args.reader_workers, args.raw_concurrency = [1, 8], [1, 4]
        args.store_sizes, args.ingest_batch = [300, 1200], 30

    work_ctx = (
        contextlib.nullcontext(args.work)
        if args.work
        else tempfile.TemporaryDirectory(prefix="feeds-bench-")
    )
    with work_ctx as work_dir:
        work = Path(work_dir)
        work.mkdir(parents=True, exist_ok=True)
        if args.profile:
            print(profile_phase(args, work))
            return
        run = None if args.skip_refresh else run_refresh_bench(args, work)
        store = (
            {}
            if args.skip_store
            else run_store_bench(args.store_sizes, args.ingest_batch, args.reps, work)
        )
    print(report(args, run, store))


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


if __name__ == "__main__":
    main()
