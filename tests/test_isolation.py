"""One bad source, entry or output never stops a run: errors are values.

Each test runs ``feeds refresh`` in this process (click's runner) over file sources, one of
which goes wrong, and checks that the others are saved and every other output published.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from lxml import etree
from lxml import html as lxml_html

from feeds.app import cli
from feeds.errors import FetchError
from feeds.types import FetchRequest, FetchResult

from support import REPO, assert_w3c_valid, validate_independently

A = "{http://www.w3.org/2005/Atom}"

REPORT_ITEM = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel>
<title>Third party</title><link>https://third.example/</link><description>News</description>
<item>
<title>The report</title>
<link>https://third.example/2026/report</link>
<guid>https://third.example/2026/report</guid>
<pubDate>Tue, 17 Mar 2026 08:00:00 GMT</pubDate>
<description>Read &lt;a href=" &amp;#14;  javascript:alert(3)"&gt;the report&lt;/a&gt;
today.</description>
</item>
</channel></rss>
"""


def write_config(
    folder: Path, sources: dict[str, str], formats: str = '"atom", "rss", "json"'
) -> Path:
    """A config with these file sources (name → file name) and one output in ``formats``."""
    lines = ['[store]\npath = "state/feeds.db"\n']
    for name, file in sources.items():
        lines.append(f'[[sources]]\nname = "{name}"\nurl = "{file}"\nfull_text = false\n')
    lines.append(
        f'[[outputs]]\nname = "all"\npath = "out/all.atom"\ntitle = "All"\n'
        f'url = "https://feeds.example.org/all.atom"\nformats = [{formats}]\n'
    )
    path = folder / "config.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def refresh(config: Path, *args: str) -> Result:
    result = CliRunner().invoke(cli.cli, ["refresh", "--config", str(config), *args])
    # A crash is an exception other than the SystemExit of a chosen exit status.
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    if "-v" not in args:  # -v shows the traceback of an unexpected error, on stderr
        assert "Traceback" not in result.output
    return result


def atom_titles(path: Path) -> list[str]:
    root = etree.parse(str(path)).getroot()
    return [e.findtext(A + "title") or "" for e in root.iter(A + "entry")]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    shutil.copy(REPO / "samples" / "business.rss", tmp_path / "good.rss")
    return tmp_path


def test_a_control_character_in_a_link_publishes_everything_without_the_link(
    folder: Path,
) -> None:
    (folder / "third.rss").write_text(REPORT_ITEM, encoding="utf-8")
    config = write_config(folder, {"third": "third.rss", "good": "good.rss"})
    result = refresh(config)
    assert result.exit_code == 0, result.output
    atom, rss, feed = (folder / "out" / f"all.{ext}" for ext in ("atom", "rss", "json"))
    validate_independently(atom)
    assert_w3c_valid(atom, rss)
    titles = atom_titles(atom)
    assert "The report" in titles
    assert len(titles) > 1  # the good source's entries too
    for path in (atom, rss, feed):
        text = path.read_text(encoding="utf-8")
        assert "javascript" not in text and "\x0e" not in text and "&#14;" not in text
    items = json.loads(feed.read_text(encoding="utf-8"))["items"]
    (report,) = [item for item in items if item["title"] == "The report"]
    assert "the report" in report["content_html"]
    assert "href" not in report["content_html"]


# --- an unexpected error in each stage -----------------------------------------------------


def story_feed(name: str, count: int = 2, poison: str = "") -> str:
    """An RSS 2.0 feed of ``count`` stories from ``name``; ``poison`` goes in the first body."""
    items = "".join(
        f"<item><title>{name} story {n}</title>"
        f"<link>https://{name}.example/{n}</link><guid>https://{name}.example/{n}</guid>"
        f"<pubDate>Tue, 17 Mar 2026 0{n}:00:00 GMT</pubDate>"
        f"<description>{poison if n == 0 else ''}Body of {name} story number {n}, about "
        f"{name}'s results in the quarter.</description></item>"
        for n in range(count)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{name}</title><link>https://{name}.example/</link>"
        f"<description>{name}</description>{items}</channel></rss>"
    )


def sources_folder(folder: Path, names: list[str]) -> Path:
    for name in names:
        (folder / f"{name}.rss").write_text(story_feed(name), encoding="utf-8")
    return write_config(folder, {name: f"{name}.rss" for name in names})


def published(folder: Path) -> set[str]:
    """The sources whose stories every output shows (all three formats agree)."""
    titles = atom_titles(folder / "out" / "all.atom")
    rss = etree.parse(str(folder / "out" / "all.rss")).getroot()
    assert sorted(titles) == sorted(item.findtext("title") or "" for item in rss.iter("item"))
    items = json.loads((folder / "out" / "all.json").read_text(encoding="utf-8"))["items"]
    assert sorted(titles) == sorted(item["title"] for item in items)
    return {title.split(" story ")[0] for title in titles}


def source_errors(config: Path) -> dict[str, str | None]:
    result = CliRunner().invoke(cli.cli, ["sources", "--config", str(config), "--json"])
    assert result.exit_code == 0, result.output
    return {s["name"]: s["last_error"] for s in json.loads(result.stdout)}


NAMES = ["alpha", "bravo", "charlie"]


def test_an_unexpected_error_in_a_fetch_is_that_source_s_error(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from feeds.ingest.fetch import Fetcher

    config = sources_folder(folder, NAMES)
    real = Fetcher.attempt

    def attempt(self: Fetcher, request: FetchRequest) -> FetchResult | FetchError:
        if request.source == "bravo":
            raise KeyError("injected into the fetch")
        return real(self, request)

    monkeypatch.setattr(Fetcher, "attempt", attempt)
    result = refresh(config)
    assert result.exit_code == 1
    assert "bravo: FAILED: KeyError: 'injected into the fetch'" in result.output
    assert published(folder) == {"alpha", "charlie"}
    assert source_errors(config) == {
        "alpha": None,
        "bravo": "KeyError: 'injected into the fetch'",
        "charlie": None,
    }


def test_an_unexpected_error_in_a_parse_keeps_the_source_s_entries_and_retries_it(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from feeds.ingest import parse

    config = sources_folder(folder, NAMES)
    assert refresh(config).exit_code == 0
    real = parse.parse

    def broken(content: bytes, **kwargs: Any) -> Any:
        if b"<title>bravo</title>" in content:
            raise AttributeError("injected into the parse")
        return real(content, **kwargs)

    monkeypatch.setattr(parse, "parse", broken)
    for name in NAMES:  # every document changed: each is parsed again
        (folder / f"{name}.rss").write_text(story_feed(name, count=3), encoding="utf-8")
    result = refresh(config, "--all", "-v")
    assert result.exit_code == 1
    # -v: the traceback of the unexpected error, the line says what it was
    assert "Traceback" not in result.stdout
    assert 'raise AttributeError("injected into the parse")' in result.stderr
    errors = source_errors(config)
    assert (
        errors["bravo"] is not None and "AttributeError: injected into the parse" in errors["bravo"]
    )
    assert errors["alpha"] is errors["charlie"] is None
    titles = atom_titles(folder / "out" / "all.atom")
    assert "alpha story 2" in titles and "charlie story 2" in titles
    # bravo's stored entries are still published; its new one waits for a run that works
    assert "bravo story 0" in titles and "bravo story 2" not in titles
    status = CliRunner().invoke(cli.cli, ["status", "--config", str(config)])
    assert "AttributeError: injected into the parse" in status.output


def test_an_unexpected_error_while_saving_a_source_undoes_that_source_only(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from feeds.store.sqlite import Store

    config = sources_folder(folder, NAMES)
    real = Store.insert_copy

    def insert_copy(self: Store, source: str, *args: Any, **kwargs: Any) -> None:
        real(self, source, *args, **kwargs)  # the first copy is saved, then undone
        if source == "bravo":
            raise sqlite3.IntegrityError("injected into the save")

    monkeypatch.setattr(Store, "insert_copy", insert_copy)
    result = refresh(config)
    assert result.exit_code == 1
    assert published(folder) == {"alpha", "charlie"}
    assert source_errors(config)["bravo"] == "IntegrityError: injected into the save"
    monkeypatch.undo()
    again = refresh(config, "--all")  # retried (sooner than its back-off), it is saved
    assert again.exit_code == 0
    assert published(folder) == set(NAMES)


def test_an_entry_that_cannot_be_cleaned_is_dropped_and_named(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from feeds.ingest import normalize

    config = sources_folder(folder, NAMES)
    (folder / "bravo.rss").write_text(story_feed("bravo", 3, poison="POISON "), encoding="utf-8")
    real = normalize.clean_body

    def clean_body(source: normalize.BodySource, *rules: Any) -> Any:
        if "POISON" in (source.summary or ""):
            raise TypeError("injected into the cleaning")
        return real(source, *rules)

    monkeypatch.setattr(normalize, "clean_body", clean_body)
    result = refresh(config, "--json")
    assert result.exit_code == 0
    (bravo,) = [s for s in json.loads(result.stdout)["sources"] if s["name"] == "bravo"]
    assert bravo["changes"]["new"] == 2
    assert bravo["dropped_entries"] == ["'bravo story 0': TypeError: injected into the cleaning"]
    titles = atom_titles(folder / "out" / "all.atom")
    assert "bravo story 1" in titles and "bravo story 0" not in titles
    line = refresh(config, "--all", "-v").output
    assert "bravo: 0 new" in line and "1 entries could not be cleaned" in line


def test_one_output_that_fails_does_not_stop_the_others(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from feeds.publish import documents as publish

    config = sources_folder(folder, NAMES)
    with config.open("a", encoding="utf-8") as f:
        f.write('\n[[outputs]]\nname = "second"\npath = "out/second.atom"\ntitle = "Second"\n')
        f.write('\n[[outputs]]\nname = "third"\npath = "out/third.atom"\ntitle = "Third"\n')
    real = publish.publish

    def broken(output: Any, *args: Any, **kwargs: Any) -> Any:
        if output.name == "second":
            raise OverflowError("injected into the publishing")
        return real(output, *args, **kwargs)

    monkeypatch.setattr(publish, "publish", broken)
    result = refresh(config)
    assert result.exit_code == 1
    assert "output second: FAILED: OverflowError: injected into the publishing" in result.output
    assert published(folder) == set(NAMES)
    assert not (folder / "out" / "second.atom").exists()
    assert set(atom_titles(folder / "out" / "third.atom")) == set(
        atom_titles(folder / "out" / "all.atom")
    )


# --- in the worker processes ---------------------------------------------------------------

MANY = [f"s{n}" for n in range(9)]  # enough to prepare in worker processes


@pytest.fixture
def workers(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    """Sets the fault the workers meet (see tests/worker_faults.py) in a fork server of
    their own, started with the run and stopped after it (the next test gets a clean one)."""
    from feeds.run import executor as pipeline
    from feeds.run import worker_pool

    monkeypatch.setattr(pipeline, "usable_cores", lambda: 2)
    assert len(MANY) >= pipeline.PARALLEL_MIN_SOURCES
    monkeypatch.setattr(worker_pool, "PRELOAD", (*worker_pool.PRELOAD, "worker_faults"))
    worker_pool.stop_fork_server()

    def fault(what: str) -> None:
        monkeypatch.setenv("FEEDS_TEST_WORKER_FAULT", what)
        # The server imports its preloads before it applies this process's sys.path
        # (Python 3.11's multiprocessing.forkserver.main): it finds this folder by PYTHONPATH.
        here = str(Path(__file__).parent)
        monkeypatch.setenv(
            "PYTHONPATH", os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")]))
        )

    yield fault
    worker_pool.stop_fork_server()


def test_an_unexpected_error_in_a_worker_is_that_source_s_error(
    folder: Path, workers: Callable[[str], None]
) -> None:
    config = sources_folder(folder, MANY)
    workers("raise")
    result = refresh(config)
    assert result.exit_code == 1
    error = source_errors(config)["s3"]
    assert error is not None and error.startswith("ZeroDivisionError: injected in process")
    assert f"process {os.getpid()}" not in error  # it was a worker's
    assert published(folder) == set(MANY) - {"s3"}


def test_a_worker_that_dies_costs_no_source(folder: Path, workers: Callable[[str], None]) -> None:
    """A worker killed mid-document breaks its pool: its jobs go to a new pool, where they
    are prepared; nothing is lost."""
    config = sources_folder(folder, MANY)
    died = folder / "died"
    workers(f"die:{died}")
    result = refresh(config)
    assert died.exists()  # a worker did die
    assert result.exit_code == 0, result.output
    assert published(folder) == set(MANY)


def test_the_daemon_goes_on_past_a_source_that_breaks(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import UTC, datetime

    from feeds import config as config_module
    from feeds.ingest import parse
    from feeds.ingest.fetch import Fetcher
    from feeds.run.daemon import Daemon

    config = config_module.load(sources_folder(folder, NAMES))
    real = parse.parse

    def broken(content: bytes, **kwargs: Any) -> Any:
        if b"<title>bravo</title>" in content:
            raise RecursionError("injected into the parse")
        return real(content, **kwargs)

    monkeypatch.setattr(parse, "parse", broken)
    now = datetime(2026, 3, 18, 12, 0, tzinfo=UTC)
    with Fetcher(config.fetch) as fetcher:
        daemon = Daemon(config, fetcher)
        daemon.start(now)
        daemon.tick(now)
        outputs = daemon.finish(now)
    # The first round is published at the end of its tick; finish() has nothing left.
    assert [o.error for o in outputs if o.error] == []
    assert published(folder) == {"alpha", "charlie"}
    assert source_errors(folder / "config.toml")["bravo"] == (
        "RecursionError: injected into the parse (while reading the document)"
    )


# --- a tag shown inside an attribute (found by the pipeline fuzzer) ------------------------

TAG_IN_ALT = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Alt</title><link>https://alt.example/</link>
<description>Alt text</description>
<item><title>Pictured</title><link>https://alt.example/p</link><guid>https://alt.example/p</guid>
<description>&lt;p&gt;&lt;img src="https://alt.example/p.png" alt='&lt;IMG SRC="'&gt;"
onerror=alert(1)&amp;gt;&lt;/p&gt;</description>
</item>
</channel></rss>
"""


def test_a_tag_inside_an_attribute_reaches_no_reader_as_a_tag(folder: Path) -> None:
    (folder / "alt.rss").write_text(TAG_IN_ALT, encoding="utf-8")
    config = write_config(folder, {"alt": "alt.rss", "good": "good.rss"})
    assert refresh(config).exit_code == 0
    atom, rss = folder / "out" / "all.atom", folder / "out" / "all.rss"
    validate_independently(atom)
    # The validator finds image URLs with a pattern: it took the alt's "SRC=" for one and
    # reported its ">" (InvalidUriChar). Written &#61;, the alt text is the same.
    assert_w3c_valid(atom, rss)
    items = json.loads((folder / "out" / "all.json").read_text(encoding="utf-8"))["items"]
    (pictured,) = [item for item in items if item["title"] == "Pictured"]
    assert 'alt="&lt;IMG SRC&#61;&quot;"' in pictured["content_html"]
    image = lxml_html.fromstring(pictured["content_html"]).find(".//img")
    assert image is not None and image.get("alt") == '<IMG SRC="'
