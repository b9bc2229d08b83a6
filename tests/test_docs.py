"""The docs keep up with the code: every config key documented, links that lead somewhere."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import click
import pytest

from feeds import config
from feeds.app.cli import cli
from feeds.app.metrics import FAMILIES
from feeds.core.schedule import _UNITS, parse_duration
from feeds.run.tally import _CHANGE_LABELS

from support import REPO

DOCS = sorted((REPO / "docs").glob("*.md"))
PAGES = [REPO / "README.md", *DOCS]


def config_keys() -> set[str]:
    """Every key the config package (and the hooks' reader) accepts: the string sets it
    checks tables against."""
    files = [*(REPO / "feeds" / "config").glob("*.py"), REPO / "feeds" / "core" / "hooks.py"]
    trees = [ast.parse(f.read_text(encoding="utf-8")) for f in files]
    keys: set[str] = set()
    for node in (node for tree in trees for node in ast.walk(tree)):
        if isinstance(node, ast.Set) and all(
            isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts
        ):
            keys.update(str(e.value) for e in node.elts if isinstance(e, ast.Constant))
    return keys


def test_every_config_key_is_in_the_reference() -> None:
    reference = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
    keys = config_keys()
    assert {"lock_timeout", "allow_private_addresses", "archive_page_size", "command"} <= keys
    # A key the example leaves commented out (`# command = […]`) is documented too.
    documented = set(re.findall(r"^\[\[?(\w+)\]\]?|^(?:# )?(\w+) = ", reference, re.M))
    names = {name for pair in documented for name in pair if name}
    assert sorted(keys - names) == []


def toml_examples() -> list[tuple[str, str]]:
    """Every ```toml block of the README and docs/, named by its page and line."""
    found = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for match in re.finditer(r"^```toml\n(.*?)^```", text, re.S | re.M):
            line = text.count("\n", 0, match.start()) + 1
            found.append((f"{page.name}:{line}", match[1]))
    return found


@pytest.mark.parametrize("example", toml_examples(), ids=lambda e: e[0])
def test_every_toml_example_loads(tmp_path: Path, example: tuple[str, str]) -> None:
    """Copied into a config.toml, each example loads: a fragment with a minimal source and
    output around it (keys of one source, such as ``replace = […]``, in that source)."""
    data = tomllib.loads(example[1])
    if not set(data) <= config.TOP_LEVEL_KEYS:
        data = {"sources": [{"name": "s", "url": "s.rss", **data}]}
    data.setdefault("sources", [{"name": "s", "url": "s.rss"}])
    data.setdefault("outputs", [{"name": "o", "path": "out/o.atom"}])
    (tmp_path / "site-rules").mkdir()
    config.from_dict(data, base_dir=tmp_path, path=tmp_path / "config.toml")


def commands(group: click.Group, path: str = "feeds") -> list[tuple[str, click.Command]]:
    """Every command under ``group``, subcommands included, by its command line."""
    found: list[tuple[str, click.Command]] = []
    for name, command in group.commands.items():
        found.append((f"{path} {name}", command))
        if isinstance(command, click.Group):
            found.extend(commands(command, f"{path} {name}"))
    return found


def readme_rows() -> dict[str, str]:
    """The README's table of commands: each row by the command it names."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    rows = {}
    for row, usage in re.findall(r"^(\| `([^`]+)` \|.*)$", readme, re.M):
        words = re.match(r"feeds(?: [a-z]+)+", usage)
        assert words, row
        rows[words[0]] = row
    return rows


@pytest.mark.parametrize("command", commands(cli), ids=lambda c: c[0])
def test_every_command_and_option_is_documented(command: tuple[str, click.Command]) -> None:
    """A command has its row in the README's table (a group is its subcommands); each of its
    options is in that row or in a section of docs/ that names the command."""
    line, found = command
    rows = readme_rows()
    if not isinstance(found, click.Group):
        assert line in rows, f"{line}: not in the README's table of commands"
    sections = [rows.get(line, "")] + [
        section
        for page in DOCS
        for section in re.split(r"^(?=#)", page.read_text(encoding="utf-8"), flags=re.M)
        if line in section
    ]
    for option in found.params:
        names = [name for name in option.opts if name not in ("--help", "--config")]
        spelled = "|".join(re.escape(name) for name in names)
        if isinstance(option, click.Option) and names:
            named = re.compile(rf"(?<![\w-])({spelled})(?![\w-])")
            assert any(named.search(section) for section in sections), f"{line} {names[0]}"


def test_every_metric_is_in_the_reference_table() -> None:
    """configuration.md's table has a row for each family `/metrics` exposes, and names every
    ``change`` an entry is counted under."""
    reference = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| `(feeds_\w+)(?:\{\w+(?:,\w+)*\})?` \|(.*)$", reference, re.M))
    assert sorted(set(FAMILIES) - set(rows)) == []
    changes = set(re.findall(r"`(\w+)`", rows["feeds_entries_total"]))
    assert sorted(set(_CHANGE_LABELS.values()) - changes) == []


def test_every_duration_unit_is_in_the_reference() -> None:
    """The durations configuration.md shows parse, and use every unit the parser takes."""
    reference = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
    sentence = reference.split("Durations are written", 1)[1].split(";", 1)[0]
    shown = re.findall(r'`"([^"`]+)"`', sentence)
    assert all(parse_duration(text) for text in shown)
    assert sorted(set(_UNITS) - {text[-1] for text in shown}) == []


def test_the_default_config_loads_with_every_commented_key_turned_on(tmp_path: Path) -> None:
    """config.toml shows the keys a user may turn on as `# key = value` lines under
    `# [table]` lines: with all of them uncommented, it still loads."""
    text = (REPO / "config.toml").read_text(encoding="utf-8")
    uncommented = re.sub(r"^# (?=\[|\w+ = )", "", text, flags=re.M)
    config.from_dict(tomllib.loads(uncommented), base_dir=tmp_path, path=tmp_path / "c.toml")


def test_the_readme_says_what_to_change_for_a_real_source() -> None:
    """README's "Real sources" names every key of the default config's sources that a
    real feed should not keep: its `full_text = false` kept article pages from being read."""
    section = (REPO / "README.md").read_text(encoding="utf-8").split("## Real sources")[1]
    section = section.split("\n## ")[0]
    default = tomllib.loads((REPO / "config.toml").read_text(encoding="utf-8"))
    for source in default["sources"]:
        for key, value in source.items():
            if key not in ("name", "url"):
                assert f"`{key} = {str(value).lower()}`" in section, key


def test_the_filters_example_reads_as_many_stories_as_it_says() -> None:
    """filters.md's worked example: the entries each source's `feeds refresh -v` line
    accounts for (blocked ones are among the new) are the stories it says the feed lists."""
    text = (REPO / "docs" / "filters.md").read_text(encoding="utf-8")
    said = re.search(r"the wire lists (\w+) stories, the newsroom (\w+)\)", text)
    assert said
    numbers = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6}
    for source, count in zip(("wire", "newsroom"), said.groups(), strict=True):
        line = re.search(
            rf"^{source}: (\d+) new, (\d+) updated, (\d+) unchanged, (\d+)", text, re.M
        )
        assert line and sum(map(int, line.groups())) == numbers[count], source


def test_the_readme_is_short() -> None:
    assert len((REPO / "README.md").read_bytes()) <= 10 * 1024


def anchors(page: Path) -> set[str]:
    """GitHub's anchors for a page's headings."""
    found = set()
    for heading in re.findall(r"^#+ (.+)$", page.read_text(encoding="utf-8"), re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        found.add(slug)
    return found


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_files_named_in_the_text_are_there(page: Path) -> None:
    """A path of the repository in backticks (`feeds/store/sql/candidates.py`) names a file
    or folder that exists, so a reader sent to it finds it."""
    text = page.read_text(encoding="utf-8")
    named = re.findall(r"`((?:feeds|tests|bench|contrib|samples|\.ci)/[\w./@-]+)`", text)
    assert named or page.name not in ("README.md", "architecture.md")
    assert sorted(path for path in set(named) if not (REPO / path).exists()) == []


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_links_lead_somewhere(page: Path) -> None:
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if target.startswith(("http://", "https://")):
            continue
        file, _, anchor = target.partition("#")
        linked = (page.parent / file).resolve() if file else page
        assert linked.exists(), f"{page.name}: {target}"
        if anchor and linked.suffix == ".md":
            assert anchor in anchors(linked), f"{page.name}: {target}"
