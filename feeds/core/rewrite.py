"""Rewrite rules as values: what a source strips and replaces, and site rules in the
ftr-site-config format (FiveFilters' Full-Text RSS), read and checked. Pure: text in,
values or problems out; applying them to HTML is :mod:`feeds.ingest.normalize.rewrite`.

A site-rules file (``example.com.txt``; ``.example.com.txt`` also covers the subdomains) is
lines of ``directive: value``; ``#`` starts a comment. Read here: ``body``, ``strip``,
``strip_id_or_class`` and ``title`` (XPath 1.0 expressions, except ``strip_id_or_class``,
a word); every other directive of the format (``test_url``, ``prune``, ``tidy``,
``single_page_link``, ``replace_string(…)``, …) is ignored, so the community's files work
as they are.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

from feeds.core.digest import sha256

__all__ = [
    "FeedRules",
    "PageRules",
    "Replace",
    "SiteRule",
    "css_problem",
    "parse_site_rule",
    "regex_problem",
    "site_files",
    "xpath_problem",
]

Field = Literal["title", "body"]


@dataclass(frozen=True)
class Replace:
    """``[[sources.replace]]``: ``pattern`` (a Python regular expression) replaced by
    ``with_`` (a replacement template: ``\\1``, ``\\g<name>``) in ``field``: the plain-text
    title, or each text node of the body (markup is never rewritten, only text)."""

    field: Field
    pattern: str
    with_: str = ""
    #: How ``feeds explain`` names the rule: ``"replace title #0"``.
    name: str = ""

    @cached_property
    def compiled(self) -> re.Pattern[str]:
        return re.compile(self.pattern)


@dataclass(frozen=True)
class FeedRules:
    """What cleaning a source's entries applies: small and picklable (it travels to the
    worker processes that clean feeds). ``strip``: CSS selectors of elements removed from
    the body."""

    strip: tuple[str, ...] = ()
    replace: tuple[Replace, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.strip or self.replace)

    @property
    def touches_body(self) -> bool:
        return bool(self.strip) or any(r.field == "body" for r in self.replace)

    @property
    def key(self) -> str:
        """Names these rules: cleaned bodies and article pages made under other rules are
        not taken for ones made under these."""
        return _digest(repr((self.strip, [(r.field, r.pattern, r.with_) for r in self.replace])))


@dataclass(frozen=True)
class SiteRule:
    """One ftr-site-config file (``file`` is its name)."""

    file: str
    body: tuple[str, ...] = ()
    strip: tuple[str, ...] = ()
    strip_id_or_class: tuple[str, ...] = ()
    title: tuple[str, ...] = ()


@dataclass(frozen=True)
class PageRules:
    """What extracting an article page applies: the source's ``strip`` (CSS), its
    ``full_text_selector`` (CSS: the article's body), its body replacements, and the
    site rules of the page's host (from ``[full_text] site_rules``)."""

    strip: tuple[str, ...] = ()
    selector: str | None = None
    replace: tuple[Replace, ...] = ()
    sites: tuple[SiteRule, ...] = ()

    @cached_property
    def _by_file(self) -> Mapping[str, SiteRule]:
        return {rule.file: rule for rule in self.sites}

    def site(self, host: str) -> SiteRule | None:
        """The site rule for ``host``: ``host.txt``, then without ``www.``, then
        ``.parent.txt`` for each parent domain (FiveFilters' order)."""
        host = host.lower().rstrip(".")
        if not host or not self.sites:
            return None
        names = [f"{host}.txt"]
        if host.startswith("www."):
            names.append(f"{host[4:]}.txt")
        labels = host.split(".")
        names += [f".{'.'.join(labels[i:])}.txt" for i in range(len(labels) - 1)]
        return next((self._by_file[n] for n in names if n in self._by_file), None)

    def key(self, host: str) -> str:
        """Names the rules a page at ``host`` is extracted under (see :attr:`FeedRules.key`)."""
        site = self.site(host)
        return _digest(
            repr(
                (
                    self.strip,
                    self.selector,
                    [(r.field, r.pattern, r.with_) for r in self.replace if r.field == "body"],
                    site,
                )
            )
        )

    def __bool__(self) -> bool:
        return bool(self.strip or self.selector or self.sites) or any(
            r.field == "body" for r in self.replace
        )


def _digest(text: str) -> str:
    return sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


# --- checks -------------------------------------------------------------------------------


def regex_problem(pattern: str, template: str = "") -> str | None:
    """Why ``pattern`` (with the replacement ``template``) is unusable, or None."""
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        return f"not a valid regular expression ({exc})"
    # The same groups, sure to match: expanding the template checks its group references.
    # (A pattern that starts with global flags, "(?i)…", cannot be wrapped: checked bare.)
    try:
        probe = re.compile(f"(?:{pattern})|").match("")
    except re.error:
        probe = None
    try:
        if probe is not None and compiled.groups == len(probe.groups()):
            probe.expand(template)
        elif probe is None and template:
            compiled.sub(template, "")
    except (re.error, IndexError) as exc:
        return f"the replacement {template!r} is not valid for this pattern ({exc})"
    return None


def css_problem(selector: str) -> str | None:
    """Why ``selector`` is not a usable CSS selector, or None."""
    from lxml.cssselect import CSSSelector, SelectorError

    try:
        CSSSelector(selector)
    except SelectorError as exc:
        return f"not a valid CSS selector ({exc})"
    return None


def xpath_problem(expression: str) -> str | None:
    """Why ``expression`` is not a usable XPath 1.0 expression, or None."""
    from lxml import etree  # only when a site rule is read: loading a config needs no lxml

    try:
        etree.XPath(expression)
    except etree.XPathSyntaxError as exc:
        return f"not a valid XPath expression ({exc})"
    return None


# --- site-rules files ---------------------------------------------------------------------

_XPATH_DIRECTIVES = ("body", "strip", "title")
_FILE_NAME = re.compile(r"\.?[a-z0-9-]+(?:\.[a-z0-9-]+)+\.txt")


def site_files(names: Iterable[str]) -> list[str]:
    """The names among ``names`` that are site-rules files (``host.txt``, ``.host.txt``),
    sorted."""
    return sorted(n for n in names if _FILE_NAME.fullmatch(n))


def parse_site_rule(file: str, text: str) -> tuple[SiteRule, list[str]]:
    """Read one site-rules file: the rule and its problems (``"line 3: …"``)."""
    found: dict[str, list[str]] = {d: [] for d in (*_XPATH_DIRECTIVES, "strip_id_or_class")}
    problems: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#") or ":" not in line:
            continue
        directive, _, value = line.partition(":")
        directive, value = directive.strip().lower(), value.strip()
        if directive not in found or not value:
            continue  # a directive we do not use (or an empty one)
        if directive in _XPATH_DIRECTIVES:
            problem = xpath_problem(value)
            if problem is not None:
                problems.append(f"line {number}: {directive}: {value!r}: {problem}")
                continue
        found[directive].append(value)
    rule = SiteRule(
        file=file,
        body=tuple(found["body"]),
        strip=tuple(found["strip"]),
        strip_id_or_class=tuple(found["strip_id_or_class"]),
        title=tuple(found["title"]),
    )
    return rule, problems
