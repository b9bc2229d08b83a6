"""Filter rules in the config: ``[filters]``, and ``block``/``keep``/``max_age`` in a
``[[sources]]`` or ``[[outputs]]`` table (see :mod:`feeds.core.filters`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from feeds.config.checker import _Checker, _kind
from feeds.core.filters import Action, Rule, RuleSet, age_rule, parse_rule

#: The keys a ``[filters]`` table, a source or an output takes for its rules.
FILTER_KEYS = {"block", "keep", "max_age"}


def rule_set(checker: _Checker, table: Mapping[str, Any], where: str) -> RuleSet:
    """The rules of one table (``where``: its path, ``filters`` or ``sources[2]``); every bad
    rule is a problem with its key path (``filters.block[1]: … not a valid regular …``)."""
    block = _rules(checker, table, where, "block")
    keep = _rules(checker, table, where, "keep")
    raw_age = table.get("max_age")
    max_age = checker.duration(table, where, "max_age", None)
    if max_age is not None:
        block = (*block, age_rule(max_age, f"{_path(where)}max_age", str(raw_age)))
    return RuleSet(block=block, keep=keep)


def parse_cli_rules(texts: list[str]) -> RuleSet:
    """Rules given on the command line: ``block:FIELD=PATTERN``, ``keep:FIELD=PATTERN`` or
    ``max_age=14d``; :class:`ValueError` says what is wrong."""
    checker = _Checker()
    table: dict[str, Any] = {"block": [], "keep": []}
    for text in texts:
        action, sep, rule = text.partition(":")
        if text.startswith("max_age="):
            table["max_age"] = text.split("=", 1)[1]
        elif sep and action in ("block", "keep"):
            table[action].append(rule)
        else:
            raise ValueError(
                f"{text!r}: write block:FIELD=PATTERN, keep:FIELD=PATTERN or max_age=14d"
            )
    rules = rule_set(checker, table, "rule")
    if checker.problems:
        raise ValueError("; ".join(checker.problems))
    return rules


def _path(where: str) -> str:
    return f"{where}." if where else ""


def _rules(
    checker: _Checker, table: Mapping[str, Any], where: str, key: Action
) -> tuple[Rule, ...]:
    value = table.get(key)
    if value is None:
        return ()
    path = f"{_path(where)}{key}"
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        checker.problem(
            path, f"must be a list of rules like 'title=press release', not {_kind(value)}"
        )
        return ()
    rules: list[Rule] = []
    for i, text in enumerate(value):
        try:
            rules.append(parse_rule(text, key, f"{path}[{i}]"))
        except ValueError as exc:
            checker.problem(f"{path}[{i}]", str(exc))
    return tuple(rules)
