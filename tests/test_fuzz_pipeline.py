"""A fuzzer over the whole pipeline: hostile documents through ``feeds refresh``.

Each example is one generated RSS 2.0, Atom 1.0, RSS 1.0 or JSON Feed document
(tests/fuzz_documents.py; an XML one in one of its ``BYTE_FORMS``: UTF-8 with or without
a BOM or declaration, UTF-16/32, a legacy code page declared or not, UTF-8 declared
``utf-16`` or ``cp037``) beside a good neighbour source, refreshed through the real
command line (click's runner, in this process) with every output format enabled. Whatever
the document holds: no traceback, exit 0 or 1, the neighbour published, every output
valid (tools/atom/validate_atom.py, the W3C Feed Validator, the JSON Feed schema) and no
active content in any of them, as a reader would parse their HTML.

The default profile is bounded and derandomized (a fixed seed per test), so the default test
command runs it in about a minute; ``FEEDS_FUZZ=slow`` runs many more examples from a
random seed (see README, "Tests").
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
from click.testing import CliRunner
from fuzz_documents import Document, documents
from hypothesis import HealthCheck, Phase, given, settings
from lxml import etree

from feeds.app import cli
from feeds.publish import jsonfeed

from hostile import SAFE_SCHEMES, active_content, html_problems, url_scheme
from support import REPO, validate_independently, w3c_events

A = "{http://www.w3.org/2005/Atom}"
CONTENT = "{http://purl.org/rss/1.0/modules/content/}encoded"

settings.register_profile(
    "fuzz",
    max_examples=100,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
    print_blob=True,
)
settings.register_profile(
    "fuzz-slow", max_examples=2000, deadline=None, suppress_health_check=list(HealthCheck)
)
settings.register_profile(  # to hunt: many examples, no shrinking, each failure reported
    "fuzz-find",
    max_examples=1000,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.generate],
    report_multiple_bugs=True,
)
#: A folder to copy each failing example's folder to (documents, outputs, store), to look at.
KEEP_FAILURES = os.environ.get("FEEDS_FUZZ_KEEP")
FUZZ = settings.get_profile(
    "fuzz-" + os.environ.get("FEEDS_FUZZ", "") if os.environ.get("FEEDS_FUZZ") else "fuzz"
)


def write_config(folder: Path, sources: dict[str, str]) -> Path:
    lines = ['[store]\npath = "state/feeds.db"\n']
    for name, file in sources.items():
        lines.append(f'[[sources]]\nname = "{name}"\nurl = "{file}"\nfull_text = false\n')
    lines.append(
        '[[outputs]]\nname = "all"\npath = "out/all.atom"\ntitle = "All"\nmax_entries = 500\n'
        'url = "https://feeds.example.org/all.atom"\nformats = ["atom", "rss", "json"]\n'
    )
    path = folder / "config.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def refresh(config: Path) -> dict[str, Any]:
    """``feeds refresh --json``: no exception but the exit, status 0 or 1; its report."""
    result = CliRunner().invoke(cli.cli, ["refresh", "--config", str(config), "--json"])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code in (0, 1), result.output
    assert "Traceback" not in result.output
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def atom_titles(path: Path) -> set[str]:
    root = etree.parse(str(path)).getroot()
    return {e.findtext(A + "title") or "" for e in root.iter(A + "entry")}


@cache
def neighbour_titles() -> frozenset[str]:
    """What the good neighbour publishes on its own."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        shutil.copy(REPO / "samples" / "business.rss", folder / "good.rss")
        report = refresh(write_config(folder, {"good": "good.rss"}))
        assert report["ok"]
        return frozenset(atom_titles(folder / "out" / "all.atom"))


def _url_problems(value: str | None, where: str) -> list[str]:
    if value is None:
        return []
    scheme = url_scheme(value)
    if scheme is not None and scheme not in SAFE_SCHEMES:
        return [f"{where}: {value[:80]!r}"]
    return []


def rss_active_content(path: Path) -> list[str]:
    """Active content in a published RSS 2.0 file: its HTML (description, content:encoded,
    as readers read them) and its URLs."""
    root = etree.parse(str(path)).getroot()
    problems: list[str] = []
    for item in root.iter("item"):
        for name in ("description", CONTENT):
            problems += html_problems(item.findtext(name) or "", f"rss:{name}")
        for name in ("link", "comments"):
            problems += _url_problems(item.findtext(name), f"rss:{name}")
        for element in item.iter("enclosure", "source"):
            problems += _url_problems(element.get("url"), f"rss:{element.tag}")
    for element in root.iter():
        if isinstance(element.tag, str):
            problems += _url_problems(element.get("href"), f"rss:{element.tag}@href")
    return problems


def json_active_content(feed: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    for name in ("home_page_url", "feed_url", "icon", "favicon"):
        problems += _url_problems(feed.get(name), f"json:{name}")
    for item in feed["items"]:
        problems += html_problems(item.get("content_html") or "", "json:content_html")
        for name in ("url", "external_url", "image", "banner_image"):
            problems += _url_problems(item.get(name), f"json:{name}")
        for part in (*item.get("attachments", ()), *item.get("authors", ())):
            problems += _url_problems(part.get("url"), "json:url")
        if "_source" in item:
            problems += _url_problems(item["_source"].get("url"), "json:_source")
    return problems


def check_outputs(out: Path) -> None:
    """Every output valid and inert."""
    atom, rss, feed = (out / f"all.{ext}" for ext in ("atom", "rss", "json"))
    validate_independently(atom)
    errors = [e for e in w3c_events(atom, rss) if ": error " in e]
    assert not errors, "\n".join(errors)
    document = json.loads(feed.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(jsonfeed.schema()).validate(document)
    problems = active_content(atom.read_bytes()) + rss_active_content(rss)
    problems += json_active_content(document)
    assert not problems, "\n".join(problems)


@FUZZ
@given(documents())
def test_a_hostile_document_never_stops_a_refresh(document: Document) -> None:
    expected = neighbour_titles()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / f"fuzz{document.suffix}").write_bytes(document.content)
        shutil.copy(REPO / "samples" / "business.rss", folder / "good.rss")
        config = write_config(folder, {"fuzz": f"fuzz{document.suffix}", "good": "good.rss"})
        try:
            report = refresh(config)
            (good,) = [s for s in report["sources"] if s["name"] == "good"]
            assert good["ok"], good
            assert [o["error"] for o in report["outputs"]] == [None]
            assert expected <= atom_titles(folder / "out" / "all.atom")
            check_outputs(folder / "out")
        except BaseException:
            if KEEP_FAILURES:
                Path(KEEP_FAILURES).mkdir(parents=True, exist_ok=True)
                shutil.copytree(folder, tempfile.mkdtemp(dir=KEEP_FAILURES), dirs_exist_ok=True)
            raise
