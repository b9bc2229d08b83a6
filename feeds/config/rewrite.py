"""Rewrite rules in config.toml: a source's ``strip``, ``[[sources.replace]]`` and
``full_text_selector``, and ``[full_text] site_rules`` (a folder of ftr-site-config files).
Every bad regular expression, selector or XPath expression is a problem with its key path
(a site-rules file's with its file name and line)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from feeds.config.checker import _Checker, _kind
from feeds.core.rewrite import (
    FeedRules,
    PageRules,
    Replace,
    SiteRule,
    css_problem,
    parse_site_rule,
    regex_problem,
    site_files,
)

SOURCE_KEYS = frozenset({"strip", "replace", "full_text_selector"})
_REPLACE_KEYS = {"field", "pattern", "with"}


def source_rules(
    checker: _Checker, item: Mapping[str, Any], where: str
) -> tuple[FeedRules, PageRules]:
    """A source's rules for its feed's bodies and for its article pages."""
    strip = tuple(_selectors(checker, item, where))
    replaces = tuple(_replaces(checker, item.get("replace"), f"{where}.replace"))
    selector = item.get("full_text_selector")
    if selector is not None:
        problem = (
            css_problem(selector)
            if isinstance(selector, str)
            else f"must be a CSS selector string, not {_kind(selector)}"
        )
        if problem is not None:
            checker.problem(f"{where}.full_text_selector", f"{selector!r}: {problem}")
            selector = None
    return FeedRules(strip, replaces), PageRules(strip, selector, replaces)


def _selectors(checker: _Checker, item: Mapping[str, Any], where: str) -> list[str]:
    value = item.get("strip")
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        checker.problem(f"{where}.strip", "must be a list of CSS selectors")
        return []
    good: list[str] = []
    for n, selector in enumerate(value):
        problem = css_problem(selector)
        if problem is None:
            good.append(selector)
        else:
            checker.problem(f"{where}.strip[{n}]", f"{selector!r}: {problem}")
    return good


def _replaces(checker: _Checker, raw: object, where: str) -> list[Replace]:
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(t, dict) for t in raw):
        checker.problem(where, "must be an array of tables ([[sources.replace]])")
        return []
    found: list[Replace] = []
    for n, table in enumerate(raw):
        here = f"{where}[{n}]"
        checker.keys(table, here, _REPLACE_KEYS)
        field = table.get("field")
        pattern = checker.get(table, here, "pattern", str, None)
        template = checker.get(table, here, "with", str, "")
        # Each key is checked on its own, so a bad field does not hide a bad pattern.
        field_ok = field in ("title", "body")
        if not field_ok:
            checker.problem(f"{here}.field", f'must be "title" or "body", not {field!r}')
        if pattern is None:
            checker.problem(f"{here}.pattern", "is required")
            continue
        problem = regex_problem(pattern, template)
        if problem is not None:
            checker.problem(f"{here}.pattern", f"{pattern!r}: {problem}")
        elif field_ok:
            found.append(Replace(field, pattern, template, f"replace {field} #{n}"))
    return found


def site_rules(checker: _Checker, table: Mapping[str, Any], base_dir: Path) -> tuple[SiteRule, ...]:
    """``[full_text] site_rules``: every ``host.txt`` / ``.host.txt`` file of the folder."""
    value = table.get("site_rules")
    if value is None:
        return ()
    where = "full_text.site_rules"
    if not isinstance(value, str) or not value.strip():
        checker.problem(where, f"must be the path of a folder, not {_kind(value)}")
        return ()
    folder = (base_dir / value).resolve()
    if not folder.is_dir():
        checker.problem(where, f"{value!r}: not a folder ({folder})")
        return ()
    rules: list[SiteRule] = []
    for name in site_files(p.name for p in folder.iterdir() if p.is_file()):
        try:
            text = (folder / name).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            checker.problem(where, f"{name}: cannot be read ({exc})")
            continue
        rule, problems = parse_site_rule(name, text)
        for problem in problems:
            checker.problem(where, f"{folder / name} {problem}")
        if not problems:
            rules.append(rule)
    return tuple(rules)
