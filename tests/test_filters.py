"""Filter rules, end to end: a business feed served on 127.0.0.1, `feeds refresh` through the
command line, the published Atom read back. Each rule kind blocks what it should, in
Miniflux's order; rules apply to stored entries (a changed rule republishes, also what was
blocked before); `feeds explain` names the rule; `feeds filters test` tries rules on the
store; a bad regex is a config error with its path; two outputs from one store differ.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from feeds.app.cli import cli
from feeds.core.filters import RuleSet, parse_rule, verdict

from httpserver import HTTPTestServer, Reply, http_server
from support import assert_w3c_clean, validate_independently

__all__ = ["http_server"]

NOW = datetime.now(UTC)

#: (slug, title, author, category, body, age): business news as a wire and a newsroom write it.
STORIES: list[tuple[str, str, str, str, str, timedelta]] = [
    (
        "acme-q3",
        "Acme Corp beats forecasts as cloud revenue climbs",
        "Jane Okafor",
        "Earnings",
        "Acme Corp ($ACME) reported third-quarter net income of $412 million, up 18% from a"
        " year earlier, as revenue from its cloud unit rose to $2.1 billion. Shares rose 4% in"
        " after-hours trading. The company raised its full-year outlook.",
        timedelta(hours=20),
    ),
    (
        "globex-board",
        "Globex Appoints Former Treasury Official to Board of Directors",
        "PR Newswire",
        "Press Release",
        "SPRINGFIELD, March 3 /PRNewswire/ -- Globex Corporation today announced the"
        " appointment of Maria Chen to its board of directors, effective immediately."
        " Ms. Chen served for twelve years at the Treasury Department.",
        timedelta(days=2),
    ),
    (
        "retire-savings",
        "Five ways to make your retirement savings last longer",
        "Brand Studio",
        "Sponsored",
        "Planning ahead matters. A financial adviser can help you set a withdrawal rate,"
        " balance stocks and bonds, and plan for health costs in retirement.",
        timedelta(days=3),
    ),
    (
        "initech-jobs",
        "Initech to cut 200 jobs as demand for printers slows",
        "Tom Reyes",
        "Companies",
        "Initech said on Tuesday it would cut about 200 jobs, or 4% of its workforce, as"
        " demand for office printers kept falling. The cuts will cost $15 million.",
        timedelta(days=40),
    ),
    (
        "umbrella-recall",
        "Umbrella shares tumble after product recall widens",
        "Sara Lind",
        "Markets",
        "Shares of Umbrella Corp ($UMBR) fell 11% on Wednesday after the drugmaker widened a"
        " recall of its allergy tablets to Europe. Analysts cut their price targets.",
        timedelta(hours=5),
    ),
]


def rss(stories: list[tuple[str, str, str, str, str, timedelta]], host: str) -> bytes:
    items = "".join(
        f"<item><title>{title}</title><link>{host}/news/{slug}/</link>"
        f"<guid isPermaLink='false'>urn:news:{slug}</guid>"
        f"<dc:creator>{author}</dc:creator><category>{category}</category>"
        f"<pubDate>{format_datetime(NOW - age)}</pubDate>"
        f"<description><![CDATA[<p>{body}</p>]]></description></item>"
        for slug, title, author, category, body, age in stories
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
        f"<title>Business</title><link>{host}/</link><description>Business news</description>"
        f"{items}</channel></rss>"
    ).encode()


class Site:
    """A config folder whose one source is the feed on 127.0.0.1."""

    def __init__(self, tmp_path: Path, server: HTTPTestServer) -> None:
        self.tmp = tmp_path
        self.server = server
        self.serve(STORIES)

    def serve(self, stories: list[tuple[str, str, str, str, str, timedelta]]) -> None:
        self.server.route("/feed", Reply(body=rss(stories, "https://news.example.com")))

    def write(self, extra: str = "", source: str = "", outputs: str | None = None) -> Path:
        default = '[[outputs]]\nname = "business"\npath = "out/business.atom"\n'
        formats = 'formats = ["atom", "rss", "json"]\n'
        text = (
            '[store]\npath = "state/feeds.db"\n'
            "[fetch]\nmin_host_delay = 0\n"
            f"{extra}\n"
            f'[[sources]]\nname = "wire"\nurl = "{self.server.url("/feed")}"\nfull_text = false\n'
            f"{source}\n"
            f"{outputs if outputs is not None else default + formats}"
        )
        path = self.tmp / "config.toml"
        path.write_text(text, encoding="utf-8")
        return path

    def run(self, *args: str) -> Result:
        return CliRunner().invoke(cli, [*args, "--config", str(self.tmp / "config.toml")])

    def refresh(self) -> Result:
        result = self.run("refresh", "--all", "--json")
        assert result.exit_code == 0, result.output
        return result

    def titles(self, output: str = "business") -> list[str]:
        text = (self.tmp / "out" / f"{output}.atom").read_text(encoding="utf-8")
        return re.findall(r"<entry>.*?<title[^>]*>([^<]*)</title>", text, re.S)


@pytest.fixture
def site(tmp_path: Path, http_server: HTTPTestServer) -> Iterator[Site]:
    yield Site(tmp_path, http_server)


ALL = [s[1] for s in STORIES]


def without(*slugs: str) -> list[str]:
    return sorted(s[1] for s in STORIES if s[0] not in slugs)


@pytest.mark.parametrize(
    ("rule", "blocked"),
    [
        ('"title=press release"', ()),  # the words are not in any title
        ('"title=board of directors"', ("globex-board",)),  # plain words, any case
        ('"body=/\\\\$\\\\d+ million/"', ("acme-q3", "initech-jobs")),  # a regex on the body
        ('"link=/\\\\/news\\\\/retire-/"', ("retire-savings",)),
        ('"author=PR Newswire"', ("globex-board",)),
        ('"category=sponsored"', ("retire-savings",)),
        ('"text=recall"', ("umbrella-recall",)),
    ],
)
def test_each_rule_kind_blocks_its_entries(site: Site, rule: str, blocked: tuple[str, ...]) -> None:
    site.write(f"[filters]\nblock = [{rule}]\n")
    site.refresh()
    assert sorted(site.titles()) == without(*blocked)


def test_max_age_blocks_old_entries(site: Site) -> None:
    site.write('[filters]\nmax_age = "14d"\n')
    site.refresh()
    assert sorted(site.titles()) == without("initech-jobs")
    result = site.run("explain", "urn:news:initech-jobs")
    assert "blocked by filters.max_age (max_age=14d)" in result.output


def test_source_rules_and_explain_say_which_rule(site: Site) -> None:
    site.write(source='block = ["category=Press Release", "author=/brand studio/"]')
    site.refresh()
    assert sorted(site.titles()) == without("globex-board", "retire-savings")
    result = site.run("explain", "https://news.example.com/news/retire-savings/")
    assert result.exit_code == 0
    assert (
        "output business: wire copy blocked by sources[0].block[1] (author=/brand studio/)"
        in result.output
    )
    data = json.loads(site.run("explain", "urn:news:acme-q3", "--json").output)
    assert data["outputs"][0]["published_copy"] == "wire"


@pytest.mark.parametrize(
    ("extra", "source", "kept"),
    [
        # global keep: only what it matches
        ('[filters]\nkeep = ["category=Earnings"]', "", ("acme-q3",)),
        # global keep or source keep: either keeps
        (
            '[filters]\nkeep = ["category=Earnings"]',
            'keep = ["category=Markets"]',
            ("acme-q3", "umbrella-recall"),
        ),
        # global block beats the source's keep
        (
            '[filters]\nblock = ["text=recall"]',
            'keep = ["category=Markets", "category=Earnings"]',
            ("acme-q3",),
        ),
        # the source's block beats the global keep
        (
            '[filters]\nkeep = ["text=/\\\\$[A-Z]{2,5}\\\\b/c"]',
            'block = ["author=Sara Lind"]',
            ("acme-q3",),
        ),
    ],
)
def test_precedence_global_block_source_block_global_keep_source_keep(
    site: Site, extra: str, source: str, kept: tuple[str, ...]
) -> None:
    site.write(extra, source)
    site.refresh()
    assert sorted(site.titles()) == sorted(s[1] for s in STORIES if s[0] in kept)


def test_the_order_is_miniflux_s() -> None:
    entry = _Entry("Acme shares jump", "Body", "https://x/1", "A", ("Markets",), NOW)
    block_all = RuleSet(block=(parse_rule("title=acme", "block", "filters.block[0]"),))
    keep_it = RuleSet(keep=(parse_rule("category=markets", "keep", "sources[0].keep[0]"),))
    assert verdict(entry, (block_all, keep_it), NOW).rule == "filters.block[0] (title=acme)"
    assert verdict(entry, (RuleSet(), keep_it), NOW).blocked is False
    other = RuleSet(keep=(parse_rule("category=bonds", "keep", "filters.keep[0]"),))
    assert verdict(entry, (other, keep_it), NOW).rule == "sources[0].keep[0] (category=markets)"
    assert verdict(entry, (other,), NOW).rule == "filters.keep (no keep rule matched)"


class _Entry:
    def __init__(self, *values: Any) -> None:
        (self.title, self.body_text, self.link, self.author, self.categories, self.published) = (
            values
        )


def test_rules_apply_to_stored_entries_and_republish(site: Site) -> None:
    site.write()
    site.refresh()
    assert sorted(site.titles()) == sorted(ALL)
    # the same feed, a new rule: the stored entry leaves the output on the next refresh
    site.write('[filters]\nblock = ["category=Press Release"]')
    report = json.loads(site.refresh().output)
    assert report["outputs"][0]["written"] is True
    assert sorted(site.titles()) == without("globex-board")
    # unchanged rules, unchanged feed: the output is not rewritten
    report = json.loads(site.refresh().output)
    assert report["outputs"][0]["written"] is False
    # the rule removed: the entry blocked before is published again
    site.write()
    site.refresh()
    assert sorted(site.titles()) == sorted(ALL)


def test_new_entries_are_blocked_and_counted(site: Site) -> None:
    site.write('[filters]\nblock = ["author=PR Newswire"]')
    site.serve(STORIES[2:])
    site.refresh()
    pr = (
        "acme-pr",
        "Acme Announces Date of Third-Quarter Earnings Call",
        "PR Newswire",
        "Press Release",
        "Acme Corp will hold a conference call to discuss its results on October 24.",
        timedelta(hours=1),
    )
    site.serve([pr, *STORIES])
    report = json.loads(site.refresh().output)
    assert report["sources"][0]["changes"]["new"] == 3
    assert report["sources"][0]["changes"]["blocked"] == 2
    assert sorted(site.titles()) == without("globex-board")
    metrics = site.run("metrics").output
    assert 'feeds_entries_total{change="blocked"} 2' in metrics


def test_per_output_rules_give_two_outputs_from_one_store(site: Site) -> None:
    outputs = (
        '[[outputs]]\nname = "business"\npath = "out/business.atom"\n'
        'formats = ["atom", "rss", "json"]\n'
        'block = ["category=Press Release", "author=PR Newswire"]\n'
        '[[outputs]]\nname = "markets"\npath = "out/markets.atom"\n'
        'formats = ["atom", "rss", "json"]\n'
        'keep = ["text=/\\\\$[A-Z]{2,5}\\\\b/c"]\n'
    )
    site.write(outputs=outputs)
    site.refresh()
    assert sorted(site.titles("business")) == without("globex-board")
    assert sorted(site.titles("markets")) == sorted(
        s[1] for s in STORIES if s[0] in ("acme-q3", "umbrella-recall")
    )
    out = site.tmp / "out"
    validate_independently(out / "business.atom", out / "markets.atom")
    assert_w3c_clean(out / "business.atom", out / "markets.atom")
    assert_w3c_clean(out / "business.rss", out / "markets.rss")
    feed = json.loads((out / "markets.json").read_text(encoding="utf-8"))
    assert len(feed["items"]) == 2
    explained = site.run("explain", "urn:news:initech-jobs").output
    assert "output business: publishes the wire copy" in explained
    assert "output markets: wire copy blocked by outputs[1].keep (no keep rule matched)" in (
        explained
    )


def test_filters_test_lists_what_a_rule_set_would_block(site: Site) -> None:
    site.write()
    site.refresh()
    before = (site.tmp / "out" / "business.atom").read_bytes()
    result = site.run("filters", "test", "block:category=Sponsored", "keep:text=/\\$[A-Z]+/c")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[-1] == "3 blocked, 2 kept of 5 stored stories"
    blocked = [line for line in lines if line.startswith("block")]
    assert any(
        "Five ways" in line and "rule.block[0] (category=Sponsored)" in line for line in blocked
    )
    kept = [line for line in lines if line.startswith("keep")]
    assert sorted(line.split("  ")[3].split(" ")[0] for line in kept) == ["Acme", "Umbrella"]
    data = json.loads(site.run("filters", "test", "--json", "--source", "wire").output)
    assert {row["verdict"] for row in data} == {"keep"}
    # a bad rule on the command line is a usage error; nothing was published either way
    bad = site.run("filters", "test", "block:title=/(oops/")
    assert bad.exit_code == 2 and "not a valid regular expression" in bad.output
    assert (site.tmp / "out" / "business.atom").read_bytes() == before


def test_filters_test_refuses_a_limit_it_cannot_use(site: Site) -> None:
    """``--limit -1`` tried no story ("0 kept of 0 stored stories", exit 0) and a limit of
    20 digits stopped with an OverflowError traceback: both are usage errors now."""
    site.write()
    site.refresh()
    for limit in ("0", "-1", str(10**20)):
        result = site.run("filters", "test", "--limit", limit)
        assert result.exit_code == 2, (limit, result.output)
        assert "Invalid value for '--limit'" in result.output
    assert site.run("filters", "test", "--limit", "2").output.endswith("of 2 stored stories\n")


def test_filters_test_takes_a_source_or_an_output_not_both(site: Site) -> None:
    """docs/filters.md: `[--source NAME | --output NAME]`. Both were taken: RULEs replaced
    the output's rules alone, and the source's entries were judged as the output's even
    when the output does not read that source."""
    site.write()
    site.refresh()
    result = site.run("filters", "test", "--source", "wire", "--output", "business")
    assert result.exit_code == 2
    assert "give --source or --output, not both" in result.output


@pytest.mark.parametrize(
    ("extra", "source", "where"),
    [
        ('[filters]\nblock = ["title=/(unclosed/"]', "", "filters.block[0]"),
        ("", 'keep = ["title=ok", "body=/[z-a]/"]', "sources[0].keep[1]"),
        ("", 'block = ["headline=acme"]', "sources[0].block[0]"),
        ('[filters]\nmax_age = "soon"', "", "filters.max_age"),
    ],
)
def test_a_bad_rule_is_a_config_error_with_its_path(
    site: Site, extra: str, source: str, where: str
) -> None:
    site.write(extra, source)
    result = site.run("refresh")
    assert result.exit_code == 2
    assert f"  {where}: " in result.output
    assert not (site.tmp / "state").exists()
    assert not (site.tmp / "out").exists()
    assert site.server.requests_to("/feed") == []


@pytest.mark.parametrize(
    ("rule", "title", "matches"),
    [
        ("title=press release", "PRESS  Release: Globex names CFO", True),
        ("title=press release", "Globex press releases", False),  # whole words only
        ("title=press release", "Pressrelease", False),
        ("title=/press\\s+rel/", "Press Release", True),  # regexes ignore case too
        ("title=/\\$[A-Z]{2,5}\\b/c", "Shares of $ACME rise", True),
        ("title=/\\$[A-Z]{2,5}\\b/c", "Shares of $acme rise", False),  # /…/c: case counts
        ("title=S&P 500", "Dow & S&P 500 close higher", True),  # plain words are not regexes
    ],
)
def test_plain_words_and_regular_expressions(rule: str, title: str, matches: bool) -> None:
    entry = _Entry(title, "", None, None, (), NOW)
    assert parse_rule(rule, "block", "filters.block[0]").matches(entry, NOW) is matches


def test_rules_read_whatever_the_entry_carries() -> None:
    class Enclosure:
        url = "https://cdn.example.com/podcast/ep12.mp3"

    entry = _Entry("Episode 12", "", None, None, ("Audio",), NOW)
    rule = parse_rule("enclosure=/\\.mp3$/", "block", "filters.block[0]")
    assert rule.matches(entry, NOW) is False  # no enclosures: nothing to match
    entry.enclosures = (Enclosure(),)  # type: ignore[attr-defined]
    assert rule.matches(entry, NOW) is True
    assert parse_rule("any=audio", "block", "x").matches(entry, NOW) is True


def test_an_output_is_rebuilt_when_an_entry_passes_max_age(site: Site) -> None:
    """Nothing in the store changes, but time passes: the entry past max_age leaves."""
    from feeds import config as config_module
    from feeds.run.publish_outputs import publish_all
    from feeds.store import open_store

    config = config_module.load(site.write('[filters]\nmax_age = "3d"'))
    site.refresh()
    assert sorted(site.titles()) == without("retire-savings", "initech-jobs")
    with open_store(config.store_path) as store:
        [same] = publish_all(config, store, now=NOW + timedelta(hours=1))
        assert same.written is False  # nothing aged out yet: left as it was
        [later] = publish_all(config, store, now=NOW + timedelta(days=1, hours=6))
    assert later.written is True
    assert sorted(site.titles()) == without("retire-savings", "initech-jobs", "globex-board")
