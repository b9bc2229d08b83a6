"""One bad source, entry or output never stops a run: errors are values.

Each test runs ``feeds refresh`` in this process (click's runner) over file sources, one of
which goes wrong, and checks that the others are saved and every other output published.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from lxml import etree

from feeds import cli

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
