"""Modules and functions stay small enough to read: no function of the package over
``MAX_FUNCTION_LINES`` lines and no module over ``MAX_MODULE_LINES`` lines.

``KNOWN_LONG`` lists what is still too long today, each with its size, so the test passes
now and fails when anything else grows past the limits, or when a listed one shrinks (then
its line here goes). Tests themselves are not checked.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "feeds"
MAX_FUNCTION_LINES = 60
MAX_MODULE_LINES = 550

#: What is too long today (all in core/, run/ and store/, being split elsewhere): a module
#: path, or ``path:function`` (``Class.method``).
KNOWN_LONG: frozenset[str] = frozenset(
    {
        "feeds/core/dedupe.py",
        "feeds/core/dedupe.py:near_match",
        "feeds/run/daemon.py:run",
        "feeds/run/executor.py",
        "feeds/run/executor.py:_serve_fetches",
        "feeds/run/executor.py:stream",
        "feeds/run/refresh.py",
        "feeds/run/refresh.py:_ingest",
        "feeds/run/refresh.py:ingest_entries",
        "feeds/run/refresh.py:publish_all",
        "feeds/run/refresh.py:refresh",
        "feeds/store/sqlite.py",
    }
)


def too_long() -> set[str]:
    """Every module over the module limit and every function over the function limit."""
    found: set[str] = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        name = path.relative_to(PACKAGE.parent).as_posix()
        text = path.read_text(encoding="utf-8")
        if len(text.splitlines()) > MAX_MODULE_LINES:
            found.add(name)
        found.update(f"{name}:{qualname}" for qualname in _long_functions(ast.parse(text)))
    return found


def _long_functions(tree: ast.Module) -> list[str]:
    long: list[str] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                qualname = prefix + child.name
                start = child.lineno  # the def line: click options above it do not count
                if (child.end_lineno or child.lineno) - start + 1 > MAX_FUNCTION_LINES:
                    long.append(qualname)
                visit(child, qualname + ".")
            elif isinstance(child, ast.ClassDef):
                visit(child, prefix + child.name + ".")

    visit(tree, "")
    return long


def test_no_new_long_module_or_function() -> None:
    grown = sorted(too_long() - KNOWN_LONG)
    limits = f"{MAX_FUNCTION_LINES} lines a function, {MAX_MODULE_LINES} a module"
    assert not grown, f"over {limits}: {grown}"


def test_the_list_of_known_long_code_is_current() -> None:
    shrunk = sorted(KNOWN_LONG - too_long())
    assert not shrunk, f"no longer too long, remove from KNOWN_LONG: {shrunk}"


def test_the_walk_finds_a_long_method_and_not_a_short_one() -> None:
    long_body = "\n".join(f"        x{n} = {n}" for n in range(MAX_FUNCTION_LINES))
    short_body = "\n".join(f"        x{n} = {n}" for n in range(MAX_FUNCTION_LINES - 1))
    source = f"class C:\n    def long(self):\n{long_body}\n    def short(self):\n{short_body}\n"
    assert _long_functions(ast.parse(source)) == ["C.long"]
