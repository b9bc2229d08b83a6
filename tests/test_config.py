"""config.toml is read into frozen values; every problem is reported at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from feeds import config
from feeds.errors import ConfigError
from feeds.types import DedupeOptions

GOOD = """
[store]
path = "state/feeds.db"

[[sources]]
name = "business"
url = "samples/business.rss"

[[sources]]
name = "remote"
url = "https://example.com/category/business/feed/"

[[outputs]]
name = "business"
path = "out/business.atom"
title = "Business"
max_entries = 20
summary_words = 30
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_good_config_resolves_paths_against_its_folder(tmp_path: Path) -> None:
    loaded = config.load(write(tmp_path, GOOD))
    assert loaded.store_path == tmp_path / "state" / "feeds.db"
    assert loaded.sources[0].url == (tmp_path / "samples" / "business.rss").as_uri()
    assert loaded.sources[1].url == "https://example.com/category/business/feed/"
    out = loaded.outputs[0]
    assert out.path == tmp_path / "out" / "business.atom"
    assert out.sources == ("business", "remote")
    assert (out.max_entries, out.summary_words) == (20, 30)


def test_every_problem_is_reported_with_its_path(tmp_path: Path) -> None:
    text = """
colour = "blue"
[store]
path = 3
[[sources]]
name = "a"
url = "gopher://old.example/"
[[sources]]
name = "a"
url = "x.rss"
[[sources]]
url = "y.rss"
[[outputs]]
name = "o"
path = "out/o.atom"
max_entries = 0
summary_words = "forty"
sources = ["a", "nope"]
"""
    with pytest.raises(ConfigError) as info:
        config.load(write(tmp_path, text))
    problems = "\n".join(info.value.problems)
    for expected in (
        "colour: unknown key",
        "store.path: must be a str, not an integer",
        "sources[0].url: 'gopher://old.example/'",
        "sources[1].name: 'a' is used by another source",
        "sources[2].name: is required",
        "outputs[0].max_entries: must be at least 1",
        "outputs[0].summary_words: must be an integer, not a string",
        "outputs[0].sources[1]: no source named 'nope'",
    ):
        assert expected in problems
    assert len(info.value.problems) == 8


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[outputs]]\nname='o'\npath='o.atom'\n", "sources: at least one"),
        ("[[sources]]\nname='a'\nurl='a.xml'\n", "outputs: at least one"),
        ("sources = 3\n[[outputs]]\nname='o'\npath='o.atom'\n", "sources: must be an array"),
        ("this is not toml", "not valid TOML"),
        (
            "[[sources]]\nname='a'\nurl='a.xml'\n[[outputs]]\nname='o'\npath='o.atom'\nsources=[]\n",
            r"outputs\[0\]\.sources: must name at least one source",
        ),
    ],
)
def test_structural_errors(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config.load(write(tmp_path, text))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        config.load(tmp_path / "absent.toml")


def test_default_path_prefers_environment(tmp_path: Path) -> None:
    assert config.default_path({}) == Path("config.toml")
    assert config.default_path({"FEEDS_CONFIG": "/etc/feeds.toml"}) == Path("/etc/feeds.toml")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://example.com/feed/", "https://example.com/feed/"),
        ("http://example.com/feed/", "http://example.com/feed/"),
        ("file:///srv/feed.xml", "file:///srv/feed.xml"),
        ("feed.xml", "file:///base/feed.xml"),
        ("ftp://example.com/feed", None),
        ("https:///nohost", None),
        ("  ", None),
        ("http://example.com:65535/feed", "http://example.com:65535/feed"),
        ("http://example.com:74237/feed", None),  # would connect to port 8701
        ("http://example.com:80a/feed", None),
        ("http://[::1/feed", None),
    ],
)
def test_resolve_url(url: str, expected: str | None) -> None:
    assert config.resolve_url(url, Path("/base")) == expected


@pytest.mark.parametrize(
    "url", ["https://ann:S3CRET@example.com/feed/", "http://S3CRET@example.com/feed/"]
)
def test_a_source_url_with_a_password_is_refused_without_showing_it(
    tmp_path: Path, url: str
) -> None:
    """A password in a source's URL was never sent, and was shown by `feeds sources` and
    published in every output's <source>: the config refuses it, pointing to auth."""
    text = GOOD.replace("https://example.com/category/business/feed/", url)
    with pytest.raises(ConfigError) as info:
        config.load(write(tmp_path, text))
    assert any(
        p.startswith("sources[1].url: holds a user name or password") and "auth" in p
        for p in info.value.problems
    )
    assert "S3CRET" not in str(info.value)


@pytest.mark.parametrize("char", ["\\u0001", "\\u001b", "a\\tb", "\\u007f", "\\u009b"])
def test_a_source_url_with_a_control_character_is_refused(tmp_path: Path, char: str) -> None:
    """It failed every fetch ("invalid URL") and `feeds sources` printed it raw."""
    text = GOOD.replace(
        "https://example.com/category/business/feed/", f"https://example.com/feed?x={char}"
    )
    with pytest.raises(ConfigError) as info:
        config.load(write(tmp_path, text))
    assert any(
        p.startswith("sources[1].url: ") and "holds a control character" in p
        for p in info.value.problems
    ), info.value.problems


def test_fetch_table_is_checked(tmp_path: Path) -> None:
    text = GOOD + "\n[fetch]\nmax_body_bytes = 1024\ntotal_timeout = -1\nretries = 3\n"
    with pytest.raises(ConfigError) as info:
        config.load(write(tmp_path, text))
    assert any(p.startswith("fetch.total_timeout: must be at least") for p in info.value.problems)
    assert any(p.startswith("fetch.retries: unknown key") for p in info.value.problems)


def test_repository_default_config_is_valid() -> None:
    repo = Path(__file__).resolve().parents[1]
    loaded = config.load(repo / "config.toml")
    assert [s.name for s in loaded.sources] == ["business", "wire"]
    assert loaded.outputs[0].path == repo / "out" / "business.atom"


def test_dedupe_table_is_read(tmp_path: Path) -> None:
    text = GOOD + (
        "\n[dedupe]\nprefer = 'longest'\npreferred_sources = ['remote']\n"
        "body_threshold = 0.7\nbody_min = 0.4\ntitle_threshold = 0.45\n"
        "window_hours = 48\nmax_updates_per_day = 2\nnear = false\n"
    )
    options = config.load(write(tmp_path, text)).dedupe
    assert options.prefer == "longest"
    assert options.preferred_sources == ("remote",)
    assert (options.body_threshold, options.body_min, options.title_threshold) == (0.7, 0.4, 0.45)
    assert options.window_hours == 48.0
    assert options.max_updates_per_day == 2
    assert options.near is False


def test_dedupe_defaults_when_absent(tmp_path: Path) -> None:
    assert config.load(write(tmp_path, GOOD)).dedupe == DedupeOptions()


def test_dedupe_table_problems_are_all_reported(tmp_path: Path) -> None:
    text = GOOD + (
        "\n[dedupe]\nprefer = 'newest'\npreferred_sources = ['nope']\n"
        "body_threshold = 1.5\nbody_min = 0.9\nmax_updates_per_day = 0\ncolour = 1\n"
    )
    with pytest.raises(ConfigError) as info:
        config.load(write(tmp_path, text))
    problems = "\n".join(info.value.problems)
    for expected in (
        "dedupe.prefer: 'newest'",
        "dedupe.preferred_sources[0]: no source named 'nope'",
        "dedupe.body_threshold: must be at most 1.0",
        "dedupe.body_min: must not be above dedupe.body_threshold",
        "dedupe.max_updates_per_day: must be at least 1",
        "dedupe.colour: unknown key",
    ):
        assert expected in problems


FLOAT_KEYS = [
    ("fetch", "connect_timeout"),
    ("fetch", "read_timeout"),
    ("fetch", "total_timeout"),
    ("fetch", "min_host_delay"),
    ("store", "lock_timeout"),
    ("schedule", "jitter"),
    ("dedupe", "body_threshold"),
    ("dedupe", "body_min"),
    ("dedupe", "title_threshold"),
    ("dedupe", "window_hours"),
]


@pytest.mark.parametrize(("table", "key"), FLOAT_KEYS)
@pytest.mark.parametrize("value", ["nan", "inf", "-nan", "+inf"])
def test_nan_and_infinity_are_refused_with_the_key_path(
    tmp_path: Path, table: str, key: str, value: str
) -> None:
    text = GOOD.replace(
        "[store]\n", "[store]\n" if table != "store" else f"[store]\n{key} = {value}\n"
    )
    if table != "store":
        text += f"\n[{table}]\n{key} = {value}\n"
    with pytest.raises(ConfigError) as caught:
        config.load(write(tmp_path, text))
    assert any(
        p.startswith(f"{table}.{key}: must be a finite number") for p in caught.value.problems
    )


@pytest.mark.parametrize(
    "key", ["connect_timeout", "read_timeout", "total_timeout", "min_host_delay"]
)
@pytest.mark.parametrize("value", ["86401", "1e10", "1e300"])
def test_fetch_seconds_past_a_day_are_refused_with_the_key_path(
    tmp_path: Path, key: str, value: str
) -> None:
    """Past some 3e9 seconds a wait overflowed time_t (a traceback for each source of the
    host), at 1e300 the run's lease did (a traceback, nothing published)."""
    with pytest.raises(ConfigError) as caught:
        config.load(write(tmp_path, GOOD + f"\n[fetch]\n{key} = {value}\n"))
    assert any(p.startswith(f"fetch.{key}: must be at most 86400,") for p in caught.value.problems)
    loaded = config.load(write(tmp_path, GOOD + f"\n[fetch]\n{key} = 86400\n"))
    assert getattr(loaded.fetch, key) == 86400


@pytest.mark.parametrize("value", [10001, 1_000_000_000_000, 9223372036854775807])
def test_max_connections_past_ten_thousand_is_refused(tmp_path: Path, value: int) -> None:
    """The lease of a claim of that many sources passed the year 9999: a traceback."""
    with pytest.raises(ConfigError) as caught:
        config.load(write(tmp_path, GOOD + f"\n[fetch]\nmax_connections = {value}\n"))
    assert f"fetch.max_connections: must be at most 10000, not {value}" in caught.value.problems
    loaded = config.load(write(tmp_path, GOOD + "\n[fetch]\nmax_connections = 10000\n"))
    assert loaded.fetch.max_connections == 10000


def test_the_cli_exits_2_on_nan(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from feeds.app import cli

    path = write(tmp_path, GOOD + "\n[fetch]\ntotal_timeout = nan\n")
    result = CliRunner().invoke(cli.cli, ["refresh", "--config", str(path)])
    assert result.exit_code == 2
    assert "fetch.total_timeout: must be a finite number" in result.output
    assert not (tmp_path / "state").exists()


@pytest.mark.parametrize(
    ("keys", "clash"),
    [
        ('path = "config.toml"', "the config file"),
        ('path = "state/feeds.db"', "the store"),
        (
            'path = "out/b.atom"\nrss_path = "state/feeds.db-wal"\nformats = ["atom", "rss"]',
            "the store",
        ),
        ('path = "state/feeds.db.lock"', "the store's lock file"),
        (
            'path = "out/b.atom"\njson_path = "state/feeds.db.lock"\nformats = ["atom", "json"]',
            "the store's lock file",
        ),
        ('path = "samples/business.rss"', "source business"),
        (
            'path = "out/b.atom"\njson_path = "config.toml"\nformats = ["atom", "json"]',
            "the config",
        ),
        ('path = "out/business.atom"', "another output"),
    ],
)
def test_an_output_may_not_overwrite_the_config_the_store_or_a_source(
    tmp_path: Path, keys: str, clash: str
) -> None:
    text = GOOD + f'\n[[outputs]]\nname = "second"\ntitle = "S"\n{keys}\n'
    with pytest.raises(ConfigError) as caught:
        config.load(write(tmp_path, text))
    problems = [p for p in caught.value.problems if p.startswith("outputs[1].")]
    assert problems and clash in problems[0], caught.value.problems


def test_feeds_check_refuses_an_output_over_the_stores_lock_file(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from feeds.app import cli

    text = GOOD + '\n[[outputs]]\nname = "second"\ntitle = "S"\npath = "state/feeds.db.lock"\n'
    result = CliRunner().invoke(cli.cli, ["check", "--config", str(write(tmp_path, text))])
    assert result.exit_code == 2
    assert "outputs[1].path" in result.output and "the store's lock file" in result.output


@pytest.mark.parametrize(
    ("first", "second", "clash"),
    [
        # the second output's file is one of the first's archive pages, and the other way
        ("archive = true", 'path = "out/business-archive-2.atom"', "outputs[1].path's file"),
        ("", 'path = "out/business.atom-x"\narchive = true', None),
        ("", 'path = "out/business-archive.atom"\narchive = true', None),
        (
            'rss_path = "out/s-archive-1.rss"\nformats = ["atom", "rss"]',
            'path = "out/s.atom"\nformats = ["atom", "rss"]\narchive = true',
            "outputs[0].rss_path's file",
        ),
        ("archive = true", 'path = "out/business-archive-01.atom"', None),
        # JSON Feed has no archive pages
        (
            'archive = true\nformats = ["atom", "json"]',
            'path = "out/s.atom"\njson_path = "out/business-archive-1.json"\n'
            'formats = ["atom", "json"]',
            None,
        ),
        # an archive page over a source file
        ('path = "samples/business.atom"\narchive = true', 'path = "out/s.atom"', "source"),
    ],
)
def test_no_file_may_be_an_archiving_outputs_page(
    tmp_path: Path, first: str, second: str, clash: str | None
) -> None:
    """``business-archive-2.atom`` is the ``business`` output's page once it archives: another
    output written there would overwrite it (and be overwritten), its chain of links broken."""
    text = GOOD.replace('title = "Business"\n', f'title = "Business"\n{first}\n')
    text += f'\n[[outputs]]\nname = "second"\ntitle = "S"\n{second}\n'
    if "samples/business.atom" in first:
        text = text.replace("samples/business.rss", "samples/business-archive-1.atom")
        text = text.replace('path = "out/business.atom"\n', "", 1)
    if clash is None:
        config.load(write(tmp_path, text))
        return
    with pytest.raises(ConfigError) as caught:
        config.load(write(tmp_path, text))
    problems = [p for p in caught.value.problems if "its archive page" in p]
    assert problems and clash in problems[0], caught.value.problems


@pytest.mark.parametrize(
    ("url", "written"),
    [
        ("http://[2001:db8::1]/b.atom", "an IPv6 literal host"),
        ("https://café.example/b.atom", "https://xn--caf-dma.example/b.atom"),
        ("https://feeds.example/a b|c.atom", "https://feeds.example/a%20b%7Cc.atom"),
        ("HTTPS://Feeds.Example:8443/b.atom?x=1#y", "HTTPS://Feeds.Example:8443/b.atom?x=1#y"),
        ("https://feeds.example/b%20c.atom", "https://feeds.example/b%20c.atom"),
        ("ftp://feeds.example/b.atom", "must be an absolute http(s) URL"),
        ("https:///b.atom", "must be an absolute http(s) URL"),
    ],
)
@pytest.mark.parametrize("key", ["url", "hub"])
def test_a_published_address_is_written_as_a_uri(
    tmp_path: Path, key: str, url: str, written: str
) -> None:
    """The output's url is its documents' id and self link and RSS's channel link; its hub a
    link in each: an IRI there failed both documents in the W3C validator, so it is written
    as a URI; an IPv6 host cannot be one in RSS 2.0."""
    keys = f'{key} = "{url}"\n'
    if key == "hub":
        keys += 'url = "https://feeds.example/b.atom"\n'
    text = GOOD.replace('title = "Business"\n', f'title = "Business"\n{keys}')
    if written.startswith(("http", "HTTP")):
        assert getattr(config.load(write(tmp_path, text)).outputs[0], key) == written
        return
    with pytest.raises(ConfigError) as caught:
        config.load(write(tmp_path, text))
    assert any(p.startswith(f"outputs[0].{key}:") and written in p for p in caught.value.problems)


def test_the_cli_exits_2_before_an_output_clobbers_the_store(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from feeds.app import cli

    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "feeds.db").write_bytes(b"precious")
    path = write(tmp_path, GOOD.replace('path = "out/business.atom"', 'path = "state/feeds.db"'))
    result = CliRunner().invoke(cli.cli, ["refresh", "--config", str(path)])
    assert result.exit_code == 2, result.output
    assert (tmp_path / "state" / "feeds.db").read_bytes() == b"precious"


def test_the_config_knows_which_formats_have_archive_pages() -> None:
    from feeds.config.model import ARCHIVED_FORMATS
    from feeds.publish.formats import FORMATS as PUBLISHED

    assert set(ARCHIVED_FORMATS) == {name for name, f in PUBLISHED.items() if f.archived}


def test_a_count_too_large_for_the_machine_is_a_config_error(tmp_path: Path) -> None:
    """TOML integers have no bound: a count of 20 digits passed the check and stopped
    refresh with an OverflowError traceback (retention's OFFSET, an output's LIMIT)."""
    huge = 10**20
    text = f"""
[store]
path = "state/feeds.db"
max_entries_per_source = {huge}
[fetch]
max_connections = {huge}
max_body_bytes = {2**40}
[[sources]]
name = "a"
url = "x.rss"
[[outputs]]
name = "o"
path = "out/o.atom"
max_entries = {huge}
"""
    with pytest.raises(ConfigError) as info:
        config.load(write(tmp_path, text))
    assert list(info.value.problems) == [
        f"store.max_entries_per_source: must be at most 2147483647, not {huge}",
        f"fetch.max_connections: must be at most 10000, not {huge}",
        f"outputs[0].max_entries: must be at most 2147483647, not {huge}",
    ]


@pytest.mark.parametrize(
    ("feed_id", "valid"),
    [
        ("tag:example.org,2026:business", True),
        ("https://feeds.example.org/business.atom", True),
        ("urn:uuid:60a76c80-d399-11d9-b93c-0003939e0af6", True),
        ("urn:isbn:0451450523", True),
        ("urn:x:1", False),  # the W3C Feed Validator: InvalidURN, in every document
        ("urn:uuid:1234", False),  # InvalidUUID
        ("tag:business", False),  # InvalidTAG
        ("http:business", False),  # InvalidFullLink
    ],
)
def test_an_output_id_is_one_the_validators_take(tmp_path: Path, feed_id: str, valid: bool) -> None:
    text = GOOD + f'id = "{feed_id}"\n'
    if valid:
        assert config.load(write(tmp_path, text)).outputs[0].id == feed_id
        return
    with pytest.raises(ConfigError) as caught:
        config.load(write(tmp_path, text))
    assert caught.value.problems == (
        f"outputs[0].id: {feed_id!r}: must be an http(s) URL, a tag: URI"
        " (tag:example.org,2026:business) or a URN (urn:uuid:…)",
    )


@pytest.mark.parametrize(
    ("second", "problem"),
    [
        (
            'url = "https://feeds.example.org/business.atom"',
            "outputs[1].url: 'https://feeds.example.org/business.atom' is the feed id of"
            " another output",
        ),
        (
            'url = "https://feeds.example.org/business.atom"\nid = "tag:example.org,2026:two"',
            "outputs[1].url: 'https://feeds.example.org/business.atom' is the address of"
            " another output",
        ),
        (
            'id = "https://feeds.example.org/business.atom"',
            "outputs[1].id: 'https://feeds.example.org/business.atom' is the feed id of"
            " another output",
        ),
    ],
)
def test_two_outputs_may_not_publish_under_one_address_or_id(
    tmp_path: Path, second: str, problem: str
) -> None:
    """A copied [[outputs]] block whose url was left as it was published two feeds under
    one id and one address."""
    text = (
        GOOD
        + 'url = "https://feeds.example.org/business.atom"\n'
        + f'\n[[outputs]]\nname = "two"\npath = "out/two.atom"\n{second}\n'
    )
    with pytest.raises(ConfigError) as caught:
        config.load(write(tmp_path, text))
    assert caught.value.problems == (problem,)
    fine = GOOD + '\n[[outputs]]\nname = "two"\npath = "out/two.atom"\n'
    assert len(config.load(write(tmp_path, fine)).outputs) == 2
