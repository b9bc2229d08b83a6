"""The checker that reads values out of the TOML tables and collects every problem with its
path, instead of stopping at the first."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, TypeVar

from feeds.core.schedule import MAX_DURATION, TOO_LONG, parse_duration

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

T = TypeVar("T")

D = TypeVar("D", timedelta, None)

#: The largest count a setting may give (a C ``int``): TOML integers have no bound, and a
#: larger one stopped a run with an OverflowError (a store's ``LIMIT``, a pool's size).
MAX_INTEGER = 2**31 - 1


class _Checker:
    """Collects config problems instead of stopping at the first one."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def problem(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}")

    def keys(self, table: Mapping[str, Any], where: str, allowed: set[str]) -> None:
        for key in table:
            if key not in allowed:
                path = f"{where}.{key}" if where else key
                self.problem(path, f"unknown key (expected one of: {', '.join(sorted(allowed))})")

    def table(self, data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
        value = data.get(key, {})
        if not isinstance(value, dict):
            self.problem(key, "must be a table")
            return {}
        return value

    def get(self, table: Mapping[str, Any], where: str, key: str, kind: type[T], default: T) -> T:
        value = table.get(key, default)
        if value is default or isinstance(value, kind):
            return value
        self.problem(f"{where}.{key}", f"must be a {kind.__name__}, not {_kind(value)}")
        return default

    def integer(
        self,
        table: Mapping[str, Any],
        where: str,
        key: str,
        default: int,
        *,
        minimum: int = 1,
        maximum: int = MAX_INTEGER,
    ) -> int:
        value = table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(f"{where}.{key}", f"must be an integer, not {_kind(value)}")
            return default
        if value < minimum:
            self.problem(f"{where}.{key}", f"must be at least {minimum}, not {value}")
            return default
        if value > maximum:
            self.problem(f"{where}.{key}", f"must be at most {maximum}, not {value}")
            return default
        return value

    def duration(
        self,
        table: Mapping[str, Any],
        where: str,
        key: str,
        default: D,
        *,
        minimum: timedelta = timedelta(seconds=1),
    ) -> timedelta | D:
        """A duration written as ``"15m"``, ``"2h"``, ``"1d"`` (or an integer of seconds)."""
        value = table.get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | str):
            self.problem(f"{where}.{key}", f"must be a duration like '30m', not {_kind(value)}")
            return default
        if isinstance(value, int):
            if value > MAX_DURATION.total_seconds():
                self.problem(f"{where}.{key}", TOO_LONG)
                return default
            delta = timedelta(seconds=value)
        else:
            try:
                delta = parse_duration(value)
            except ValueError as exc:
                self.problem(f"{where}.{key}", str(exc))
                return default
        if delta < minimum:
            self.problem(f"{where}.{key}", f"must be at least {minimum.total_seconds():g} s")
            return default
        return delta

    def number(
        self,
        table: Mapping[str, Any],
        where: str,
        key: str,
        default: float,
        *,
        minimum: float = 0.001,
        maximum: float | None = None,
    ) -> float:
        value = table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.problem(f"{where}.{key}", f"must be a number, not {_kind(value)}")
            return default
        if not math.isfinite(value):
            # TOML allows nan and inf; a nan timeout compares false with everything and
            # turned the total deadline off.
            self.problem(f"{where}.{key}", f"must be a finite number, not {value}")
            return default
        if value < minimum:
            self.problem(f"{where}.{key}", f"must be at least {minimum}, not {value}")
            return default
        if maximum is not None and value > maximum:
            self.problem(f"{where}.{key}", f"must be at most {maximum:g}, not {value}")
            return default
        return float(value)


def _string_list(
    checker: _Checker, table: Mapping[str, Any], where: str, key: str
) -> list[str] | None:
    value = table.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        checker.problem(f"{where}.{key}", "must be a list of source names")
        return None
    return list(value)


def _kind(value: object) -> str:
    names: Mapping[type, str] = {
        str: "a string",
        int: "an integer",
        float: "a number",
        bool: "a boolean",
        list: "an array",
        dict: "a table",
    }
    return names.get(type(value), type(value).__name__)
