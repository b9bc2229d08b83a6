"""OPML 2.0: export the sources; import feeds into config.toml keeping its comments and layout."""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner
from lxml import etree

from feeds import config as config_module
from feeds.app import cli, opml

from support import REPO

OPML = b"""<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head><title>My subscriptions</title></head>
  <body>
    <outline text="News">
      <outline type="rss" text="Caf\xc3\xa9 Markets &amp; Money" xmlUrl="https://cafe.example/feed/"/>
      <outline type="rss" text="Wire" title="Wire" xmlUrl="https://wire.example/rss"/>
    </outline>
    <outline type="rss" text="Local file" xmlUrl="file:///etc/passwd"/>
    <outline type="rss" text="Wire" xmlUrl="https://other-wire.example/atom.xml"/>
    <outline type="rss" text="again" xmlUrl="https://wire.example/rss"/>
    <outline text="a folder without feeds"/>
  </body>
</opml>
"""


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    shutil.copy(REPO / "config.toml", tmp_path / "config.toml")
    shutil.copytree(REPO / "samples", tmp_path / "samples")
    (tmp_path / "subs.opml").write_bytes(OPML)
    return tmp_path


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli.cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_export_lists_every_source(workdir: Path) -> None:
    code, out, _ = invoke("sources", "export", "--config", str(workdir / "config.toml"))
    assert code == 0
    root = etree.fromstring(out.encode())
    assert root.get("version") == "2.0"
    outlines = root.findall("body/outline")
    assert [(o.get("text"), o.get("type")) for o in outlines] == [
        ("business", "rss"),
        ("wire", "rss"),
    ]
    assert outlines[0].get("xmlUrl") == (workdir / "samples" / "business.rss").as_uri()
    # and it is what import reads
    assert [f.url for f in opml.read(out.encode())] == [o.get("xmlUrl") for o in outlines]


def test_export_to_a_file(workdir: Path) -> None:
    target = workdir / "feeds.app.opml"
    code, out, _ = invoke(
        "sources", "--config", str(workdir / "config.toml"), "export", "-o", str(target)
    )
    assert code == 0 and out == ""
    assert len(opml.read(target.read_bytes())) == 2


def test_import_appends_sources_and_keeps_the_file_as_it_was(workdir: Path) -> None:
    path = workdir / "config.toml"
    before = path.read_text(encoding="utf-8")
    code, out, err = invoke("sources", "import", str(workdir / "subs.opml"), "--config", str(path))
    assert code == 0, err
    assert out.splitlines() == [
        "added cafe-markets-money: https://cafe.example/feed/",
        "added wire-2: https://wire.example/rss",
        "added wire-3: https://other-wire.example/atom.xml",
    ]
    assert "skipped file:///etc/passwd: not an http(s) URL" in err
    assert "skipped https://wire.example/rss: already configured" in err
    after = path.read_text(encoding="utf-8")
    # Everything that was there is still there, in order: comments included.
    added = after.replace(before[: before.index("[[outputs]]")], "", 1)
    assert after.startswith(before[: before.index("[[outputs]]")].rstrip("\n"))
    assert after.endswith(before[before.index("[[outputs]]") :])
    assert "# Relative paths resolve against this file's folder." in after
    assert added.count("[[sources]]") == 3
    config = config_module.load(path)
    assert [s.name for s in config.sources] == [
        "business",
        "wire",
        "cafe-markets-money",
        "wire-2",
        "wire-3",
    ]
    # new sources go into outputs that take every source
    assert config.outputs[0].sources == tuple(s.name for s in config.sources)

    code, out, err = invoke("sources", "import", str(workdir / "subs.opml"), "--config", str(path))
    assert code == 0 and out == "" and "0 sources added" in err
    assert path.read_text(encoding="utf-8") == after


def test_dry_run_changes_nothing(workdir: Path) -> None:
    path = workdir / "config.toml"
    before = path.read_bytes()
    code, out, _ = invoke(
        "sources", "import", "--dry-run", str(workdir / "subs.opml"), "--config", str(path)
    )
    assert code == 0 and out.count("would add") == 3
    assert path.read_bytes() == before


def test_import_into_a_config_without_trailing_newline_or_following_tables(
    tmp_path: Path,
) -> None:
    text = (
        '# mine\n[[outputs]]\nname = "o"\npath = "o.atom"\n\n'
        '[[sources]]\nname = "a"\nurl = "https://a.example/f"  # keep me'
    )
    config = config_module.from_dict(tomllib.loads(text), base_dir=tmp_path)
    plan = opml.plan_import(text, config, [opml.Feed("https://b.example/f", 'B "quoted" \\ feed')])
    assert plan.text.startswith(text + "\n")
    data = tomllib.loads(plan.text)
    assert data["sources"][1] == {
        "name": "b-quoted-feed",
        "url": "https://b.example/f",
        "title": 'B "quoted" \\ feed',
    }


@pytest.mark.parametrize(
    "own_tables",
    [
        '[sources.auth]\ntype = "bearer"\ntoken_env = "NEWS_TOKEN"\n'
        '[sources.headers]\nX-Api-Key = "secret"\n',
        '[[sources.replace]]\nfield = "title"\npattern = "a"\nwith = "b"\n',
        # a header that no line pattern knows as the source's: only the end is safe
        '[ "sources" . headers ]\nX-Api-Key = "secret"\n',
    ],
)
def test_import_leaves_the_last_source_its_own_tables(tmp_path: Path, own_tables: str) -> None:
    """A block put below ``[[sources]]`` but above its ``[sources.auth]`` would take the
    table over: the secret would go to the imported (a stranger's) host."""
    text = (
        '[[sources]]\nname = "private"\nurl = "https://intranet.example/f"\n'
        + own_tables
        + '\n[[outputs]]\nname = "o"\npath = "o.atom"\n'
    )
    config = config_module.from_dict(tomllib.loads(text), base_dir=tmp_path)
    plan = opml.plan_import(text, config, [opml.Feed("https://stranger.example/f", "Free")])
    before, after = tomllib.loads(text), tomllib.loads(plan.text)
    assert after["sources"] == [
        before["sources"][0],
        {"name": "free", "url": "https://stranger.example/f", "title": "Free"},
    ]
    assert after["outputs"] == before["outputs"]


def test_a_name_from_a_title_without_letters_falls_back_to_the_host(tmp_path: Path) -> None:
    text = '[[sources]]\nname = "a"\nurl = "https://a.example/f"\n'
    text += '[[outputs]]\nname = "o"\npath = "o.atom"\n'
    config = config_module.from_dict(tomllib.loads(text), base_dir=tmp_path)
    plan = opml.plan_import(text, config, [opml.Feed("https://news.example.com/rss", "日本")])
    assert plan.added == (("news.example.com", "https://news.example.com/rss"),)
    assert plan.text.index("news.example.com") < plan.text.index("[[outputs]]")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"<opml", "not well-formed"),
        (b"<rss/>", "not an OPML document"),
        (
            b'<!DOCTYPE opml [<!ENTITY x SYSTEM "file:///etc/passwd">]><opml><body>'
            b'<outline xmlUrl="&x;"/></body></opml>',
            None,
        ),
    ],
)
def test_bad_opml_is_an_error_and_entities_are_not_resolved(
    workdir: Path, data: bytes, message: str | None
) -> None:
    bad = workdir / "bad.opml"
    bad.write_bytes(data)
    path = workdir / "config.toml"
    before = path.read_bytes()
    code, _, err = invoke("sources", "import", str(bad), "--config", str(path))
    if message:
        assert code == 1 and message in err
    else:
        assert "root:" not in path.read_text(encoding="utf-8")
    assert path.read_bytes() == before


def test_sources_without_a_subcommand_still_prints_the_table(workdir: Path) -> None:
    code, out, _ = invoke("sources", "--config", str(workdir / "config.toml"))
    assert code == 0 and out.startswith("NAME") and "business" in out
    code, out, _ = invoke("sources", "--json", "--config", str(workdir / "config.toml"))
    assert code == 0 and out.lstrip().startswith("[")


def test_a_section_page_is_exported_as_a_link_not_a_feed(tmp_path: Path) -> None:
    config = config_module.from_dict(
        {
            "sources": [
                {"name": "feed", "url": "https://a.example/feed/"},
                {"name": "page", "url": "https://a.example/markets/", "type": "html"},
            ],
            "outputs": [{"name": "o", "path": "o.atom"}],
        },
        base_dir=tmp_path,
    )
    root = etree.fromstring(opml.export(config))
    outlines = root.findall("body/outline")
    assert [(o.get("type"), o.get("xmlUrl"), o.get("url")) for o in outlines] == [
        ("rss", "https://a.example/feed/", None),
        ("link", None, "https://a.example/markets/"),
    ]
    # Read back, the link is a page (import lists it as skipped, with its reason), not a feed.
    assert [(f.url, f.page) for f in opml.read(opml.export(config))] == [
        ("https://a.example/feed/", False),
        ("https://a.example/markets/", True),
    ]


HOSTILE_OPML = b"""<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0"><head><title>t</title></head><body>
  <outline type="rss" text="Metadata" xmlUrl="http://169.254.169.254/latest/meta-data/"/>
  <outline type="rss" text="Loopback" xmlUrl="http://127.0.0.1:5432/"/>
  <outline type="rss" text="Local name" xmlUrl="http://localhost:6379/"/>
  <outline type="rss" text="IPv6" xmlUrl="http://[::1]/feed"/>
  <outline type="rss" text="Private" xmlUrl="https://10.1.2.3/feed"/>
  <outline type="rss" text="Delete char" xmlUrl="https://del.example/a\x7fb"/>
  <outline type="rss" text="Forged" xmlUrl="https://forge.example/x&#10;added evil: https://evil.example/&#155;2J"/>
  <outline type="rss" text="Fine" xmlUrl="https://fine.example/feed"/>
</body></opml>
"""
REFUSED = (
    "http://169.254.169.254/latest/meta-data/",
    "http://127.0.0.1:5432/",
    "http://localhost:6379/",
    "http://[::1]/feed",
    "https://10.1.2.3/feed",
)


def test_import_refuses_non_public_addresses_and_control_characters(workdir: Path) -> None:
    (workdir / "hostile.opml").write_bytes(HOSTILE_OPML)
    config = str(workdir / "config.toml")
    before = (workdir / "config.toml").read_bytes()
    code, out, err = invoke(
        "sources", "import", "--dry-run", "--config", config, str(workdir / "hostile.opml")
    )
    assert code == 0, err
    assert (workdir / "config.toml").read_bytes() == before
    for url in REFUSED:
        assert f"skipped {url}: refused" in err, err
    # Nothing from the file can forge a line of the review or reach the terminal raw.
    lines = (out + err).splitlines()
    assert not any(line.startswith("added evil") for line in lines)
    assert "\x9b" not in out + err and "\x7f" not in out + err
    assert out.splitlines() == ["would add fine: https://fine.example/feed"]

    code, out, err = invoke("sources", "import", "--config", config, str(workdir / "hostile.opml"))
    assert code == 0, err
    loaded = config_module.load(workdir / "config.toml")
    assert [s.url for s in loaded.sources][-1] == "https://fine.example/feed"
    assert not any(url in {s.url for s in loaded.sources} for url in REFUSED)


def test_import_skips_a_url_with_a_password_and_does_not_show_it(workdir: Path) -> None:
    (workdir / "secret.opml").write_bytes(
        b'<?xml version="1.0"?><opml version="2.0"><head/><body>'
        b'<outline type="rss" text="S" xmlUrl="https://ann:S3CRET@news.example/feed"/>'
        b'<outline type="rss" text="Fine" xmlUrl="https://fine.example/feed"/></body></opml>'
    )
    config = str(workdir / "config.toml")
    code, out, err = invoke("sources", "import", "--config", config, str(workdir / "secret.opml"))
    assert code == 0, err
    assert "S3CRET" not in out + err
    assert "skipped https://…@news.example/feed: the URL holds a user name or password" in err
    loaded = config_module.load(workdir / "config.toml")
    assert [s.url for s in loaded.sources][-1] == "https://fine.example/feed"
    assert "S3CRET" not in (workdir / "config.toml").read_text()


def test_import_allows_private_addresses_when_the_config_does(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[store]\npath = "s.db"\n\n[fetch]\nallow_private_addresses = ["10.0.0.0/8"]\n\n'
        '[[sources]]\nname = "a"\nurl = "a.rss"\n\n'
        '[[outputs]]\nname = "o"\npath = "o.atom"\ntitle = "O"\n',
        encoding="utf-8",
    )
    (tmp_path / "h.opml").write_bytes(HOSTILE_OPML)
    code, out, err = invoke(
        "sources", "import", "--dry-run", "--config", str(config), str(tmp_path / "h.opml")
    )
    assert code == 0, err
    assert "would add private: https://10.1.2.3/feed" in out
    assert "skipped http://127.0.0.1:5432/: refused" in err


def test_import_into_inline_sources_is_a_clear_error_and_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        'sources = [{name = "a", url = "https://a.example/f"}]\n'
        '[[outputs]]\nname = "o"\npath = "o.atom"\n',
        encoding="utf-8",
    )
    before = path.read_bytes()
    (tmp_path / "b.opml").write_bytes(
        b'<opml version="2.0"><body><outline xmlUrl="https://b.example/f"/></body></opml>'
    )
    code, _, err = invoke("sources", "import", str(tmp_path / "b.opml"), "--config", str(path))
    assert code == 2
    assert "cannot be added as [[sources]] tables" in err and str(path) in err
    assert path.read_bytes() == before


def test_a_config_with_crlf_line_ends_keeps_them(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    text = '# mine\r\n[[sources]]\r\nname = "a"\r\nurl = "https://a.example/f"\r\n\r\n'
    text += '[[outputs]]\r\nname = "o"\r\npath = "o.atom"\r\n'
    path.write_bytes(text.encode())
    (tmp_path / "b.opml").write_bytes(
        b'<opml version="2.0"><body><outline xmlUrl="https://b.example/f"/></body></opml>'
    )
    code, _, err = invoke("sources", "import", str(tmp_path / "b.opml"), "--config", str(path))
    assert code == 0, err
    after = path.read_bytes().decode()
    assert after.count("\n") == after.count("\r\n") and after.startswith(text[:60])
    assert [s["name"] for s in tomllib.loads(after)["sources"]] == ["a", "b.example"]


@pytest.mark.parametrize("port", ["99999", "80a"])
def test_a_url_with_a_bad_port_is_skipped_and_the_other_feeds_are_added(
    workdir: Path, port: str
) -> None:
    # The config refuses such a URL: it made the whole import a configuration error.
    (workdir / "port.opml").write_bytes(
        b'<?xml version="1.0"?><opml version="2.0"><head/><body>'
        b'<outline type="rss" text="P" xmlUrl="https://news.example:%s/feed"/>'
        b'<outline type="rss" text="Fine" xmlUrl="https://fine.example/feed"/></body></opml>'
        % port.encode()
    )
    config = str(workdir / "config.toml")
    code, _out, err = invoke("sources", "import", "--config", config, str(workdir / "port.opml"))
    assert code == 0, err
    assert f"skipped https://news.example:{port}/feed: not a valid URL" in err
    loaded = config_module.load(workdir / "config.toml")
    assert [s.url for s in loaded.sources][-1] == "https://fine.example/feed"


def test_a_feed_configured_under_another_spelling_of_its_url_is_not_added_again(
    tmp_path: Path,
) -> None:
    # Compared as written, each was a second source for one feed, fetched twice a run.
    config = tmp_path / "config.toml"
    config.write_text(
        '[store]\npath = "s.db"\n\n[[sources]]\nname = "a"\nurl = "https://news.example/feed"\n'
        '\n[[sources]]\nname = "b"\nurl = "https://wire.example"\n'
        '\n[[outputs]]\nname = "o"\npath = "o.atom"\n',
        encoding="utf-8",
    )
    spellings = [
        "HTTPS://NEWS.example/feed",
        "https://news.example:443/feed",
        "https://news.example/feed#top",
        "https://wire.example/",
        "https://Fine.example/rss",
        "https://fine.example:443/rss",
    ]
    outlines = "".join(f'<outline type="rss" text="x" xmlUrl="{url}"/>' for url in spellings)
    (tmp_path / "s.opml").write_text(
        f'<?xml version="1.0"?><opml version="2.0"><head/><body>{outlines}</body></opml>'
    )
    code, out, err = invoke("sources", "import", "--config", str(config), str(tmp_path / "s.opml"))
    assert code == 0, err
    assert out.splitlines() == ["added x: https://Fine.example/rss"], out
    for url in spellings[:4] + spellings[5:]:
        assert f"skipped {url}: already configured" in err, err


def test_export_leaves_out_what_xml_cannot_hold(tmp_path: Path) -> None:
    # lxml refused a title with a control character: a traceback, nothing exported.
    config = tmp_path / "config.toml"
    config.write_text(
        '[store]\npath = "s.db"\n\n[[sources]]\nname = "a"\n'
        'url = "https://a.example/feed"\ntitle = "Tab\\u000bVT\\u0000"\n'
        '\n[[sources]]\nname = "b"\nurl = "https://b.example/feed"\ntitle = "\\u0007"\n'
        '\n[[outputs]]\nname = "o"\npath = "o.atom"\n',
        encoding="utf-8",
    )
    code, out, err = invoke("sources", "export", "--config", str(config))
    assert code == 0, err
    outlines = etree.fromstring(out.encode()).findall("body/outline")
    assert [(o.get("text"), o.get("xmlUrl")) for o in outlines] == [
        ("TabVT", "https://a.example/feed"),
        ("b", "https://b.example/feed"),
    ]


def test_import_keeps_the_config_s_mode_and_writes_through_a_symbolic_link(
    tmp_path: Path,
) -> None:
    # The file was replaced by a new one of mode 0644 (the umask's): a config holding a
    # cookie or an API key became readable by all; a symbolic link became a copy.
    real = tmp_path / "conf" / "feeds.toml"
    real.parent.mkdir()
    real.write_text(
        '[store]\npath = "s.db"\n\n[[sources]]\nname = "a"\nurl = "https://a.example/feed"\n'
        'cookie = "session=S3CRET"\n\n[[outputs]]\nname = "o"\npath = "o.atom"\n',
        encoding="utf-8",
    )
    real.chmod(0o600)
    link = tmp_path / "config.toml"
    link.symlink_to(real)
    (tmp_path / "n.opml").write_bytes(
        b'<?xml version="1.0"?><opml version="2.0"><head/><body>'
        b'<outline type="rss" text="New" xmlUrl="https://new.example/feed"/></body></opml>'
    )
    code, _out, err = invoke("sources", "import", "--config", str(link), str(tmp_path / "n.opml"))
    assert code == 0, err
    assert link.is_symlink() and link.resolve() == real
    assert real.stat().st_mode & 0o777 == 0o600
    assert [s.url for s in config_module.load(link).sources][-1] == "https://new.example/feed"


def test_an_exported_source_comes_back_with_its_title(tmp_path: Path) -> None:
    """Export, then import into a config of outputs alone: each source comes back under the
    name its title makes, with that title (a source without one, under its name)."""
    mine = tmp_path / "mine.toml"
    mine.write_text(
        '[[sources]]\nname = "markets"\nurl = "https://m.example/feed"\n'
        'title = "Café Markets & Money"\n\n'
        '[[sources]]\nname = "wire"\nurl = "https://w.example/rss"\n\n'
        '[[outputs]]\nname = "all"\npath = "all.atom"\n',
        encoding="utf-8",
    )
    code, exported, err = invoke("sources", "export", "--config", str(mine))
    assert code == 0, err
    (tmp_path / "out.opml").write_text(exported, encoding="utf-8")
    fresh = tmp_path / "fresh.toml"
    fresh.write_text('[[outputs]]\nname = "all"\npath = "all.atom"\n', encoding="utf-8")
    code, _, err = invoke("sources", "import", str(tmp_path / "out.opml"), "--config", str(fresh))
    assert code == 0, err
    sources = config_module.load(fresh).sources
    assert [(s.name, s.url, s.title) for s in sources] == [
        ("cafe-markets-money", "https://m.example/feed", "Café Markets & Money"),
        ("wire", "https://w.example/rss", None),
    ]


def test_a_config_written_with_a_byte_order_mark_is_read_and_keeps_it(tmp_path: Path) -> None:
    """Windows editors start a UTF-8 file with a byte order mark: the config is read (it was
    "not valid TOML: Invalid statement (line 1, column 1)"), and an import keeps the mark."""
    path = tmp_path / "config.toml"
    text = '[[sources]]\nname = "a"\nurl = "https://a.example/f"\n\n'
    text += '[[outputs]]\nname = "o"\npath = "o.atom"\n'
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    assert [s.name for s in config_module.load(path).sources] == ["a"]
    (tmp_path / "b.opml").write_bytes(
        b'<opml version="2.0"><body><outline xmlUrl="https://b.example/f"/></body></opml>'
    )
    opml_file = str(tmp_path / "b.opml")
    code, out, err = invoke("sources", "import", opml_file, "--dry-run", "--config", str(path))
    assert code == 0 and out == "would add b.example: https://b.example/f\n", err
    code, _, err = invoke("sources", "import", opml_file, "--config", str(path))
    assert code == 0, err
    assert path.read_bytes().startswith(b"\xef\xbb\xbf[[sources]]")
    assert [s.name for s in config_module.load(path).sources] == ["a", "b.example"]


@pytest.mark.parametrize("special", ["/dev/zero", "fifo"])
def test_import_of_a_file_that_never_ends_is_refused_at_once(tmp_path: Path, special: str) -> None:
    """``feeds sources import /dev/zero`` (or a named pipe nobody writes) read for ever,
    its memory growing: only a regular file is read."""
    import os

    path = tmp_path / "config.toml"
    path.write_text('[[outputs]]\nname = "o"\npath = "o.atom"\n', encoding="utf-8")
    target = special
    if special == "fifo":
        target = str(tmp_path / "subs.opml")
        os.mkfifo(target)
    code, _, err = invoke("sources", "import", target, "--config", str(path))
    assert code != 0 and "not a regular file" in err
    assert path.read_text(encoding="utf-8") == '[[outputs]]\nname = "o"\npath = "o.atom"\n'


def test_feed_scheme_urls_are_imported_as_the_http_urls_they_name(tmp_path: Path) -> None:
    """Older readers export ``feed://`` URLs (and ``feed:https://``): they were skipped as
    "not an http(s) URL"."""
    text = '[[outputs]]\nname = "o"\npath = "o.atom"\n'
    feeds = [
        opml.Feed("feed://a.example/rss", "A"),
        opml.Feed("feed:https://b.example/atom.xml", "B"),
        opml.Feed("FEED:http://c.example/feed", "C"),
    ]
    plan = opml.plan_import(text, opml.config_to_import_into(_written(tmp_path, text)), feeds)
    assert plan.skipped == ()
    assert [url for _, url in plan.added] == [
        "http://a.example/rss",
        "https://b.example/atom.xml",
        "http://c.example/feed",
    ]


def _written(folder: Path, text: str) -> Path:
    path = folder / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path
