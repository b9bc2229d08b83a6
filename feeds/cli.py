"""The ``feeds`` command line: a thin shell over the core.

Exit status: 0 success; 1 the run finished but something failed (a source, an
output, the store); 2 usage or configuration error (nothing written); 75
(EX_TEMPFAIL) another feeds process held the lock for longer than we wait.
Data goes to stdout (``--json`` for machines), progress and problems to stderr.
Heavy libraries are imported inside the commands so that ``feeds --help`` and
cron's frequent start-ups stay fast.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from feeds import __version__
from feeds.errors import ConfigError, FeedsError, LockError

if TYPE_CHECKING:
    from feeds.config import Config
    from feeds.refresh import OutputReport, SourceReport
    from feeds.store import Store

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_LOCKED = 75

F = TypeVar("F", bound=Callable[..., Any])


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _fail(exc: FeedsError) -> NoReturn:
    if isinstance(exc, ConfigError):
        where = f"{exc.path}: " if exc.path else ""
        click.echo(f"feeds: configuration error in {where or 'config'}".rstrip(": "), err=True)
        for problem in exc.problems:
            click.echo(f"  {problem}", err=True)
        sys.exit(EXIT_USAGE)
    click.echo(f"feeds: {exc}", err=True)
    sys.exit(EXIT_LOCKED if isinstance(exc, LockError) else EXIT_FAILED)


def config_option(func: F) -> F:
    """``--config PATH`` (default ``$FEEDS_CONFIG`` or ``./config.toml``)."""
    return click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Config file [default: $FEEDS_CONFIG or ./config.toml].",
    )(func)


def _load_config(config_path: Path | None) -> Config:
    from feeds import config as config_module

    path = config_path or config_module.default_path()
    try:
        return config_module.load(path)
    except ConfigError as exc:
        _fail(exc)


@contextmanager
def _open_store(config: Config, *, locked: bool) -> Iterator[Store]:
    """Open the store (under the refresh lock when writing); FeedsError becomes a message."""
    from feeds.lock import refresh_lock
    from feeds.store import Store

    try:
        if locked:
            with (
                refresh_lock(config.store_path, config.lock_timeout),
                Store.open(config.store_path) as store,
            ):
                yield store
        else:
            with Store.open(config.store_path) as store:
                yield store
    except FeedsError as exc:
        _fail(exc)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="feeds")
def cli() -> None:
    """Fetch, clean, deduplicate and publish news feeds as valid Atom.

    \b
    Quick start (uses ./config.toml):
      feeds refresh          fetch every due source and publish out/*.atom
      feeds sources          show each source's state
      feeds explain URL      why a story is published, merged or missing
    """


@cli.command()
@config_option
@click.option("--all", "fetch_all", is_flag=True, help="Fetch every source now, due or not.")
@click.option(
    "--source", "only", multiple=True, metavar="NAME", help="Refresh only this source (repeat)."
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON report on stdout.")
@click.option("-v", "--verbose", is_flag=True, help="Print a line per source even off a terminal.")
def refresh(
    config_path: Path | None,
    fetch_all: bool,
    only: tuple[str, ...],
    as_json: bool,
    verbose: bool,
) -> None:
    """Fetch the sources that are due, store what changed, publish the outputs.

    Until per-source schedules exist every source is due on every run, so
    --all changes nothing yet. On a terminal a line per source is printed;
    from cron only failures are, so cron mails only problems.

    \b
    Example:
      feeds refresh --config /etc/feeds/config.toml --source business
    """
    from feeds.fetch import Fetcher
    from feeds.refresh import refresh as run_refresh

    config = _load_config(config_path)
    unknown = [name for name in only if name not in {s.name for s in config.sources}]
    if unknown:
        raise click.UsageError(f"no source named {', '.join(map(repr, unknown))}")
    names = list(only) or None
    interactive = sys.stderr.isatty() and not as_json
    total = len(names) if names else len(config.sources)
    with (
        _open_store(config, locked=True) as store,
        Fetcher(config.fetch) as fetcher,
        _progress(interactive, total) as on_source,
    ):
        try:
            report = run_refresh(
                config, store, fetcher, now=_utc_now(), names=names, on_source=on_source
            )
        except FeedsError as exc:
            _fail(exc)
    if as_json:
        click.echo(json.dumps(_report_json(report.sources, report.outputs), indent=2))
    else:
        for source in report.sources:
            if not source.ok:
                click.echo(source.summary(), err=True)
            elif interactive or verbose:
                click.echo(source.summary())
        for output in report.outputs:
            if output.error:
                click.echo(f"output {output.name}: FAILED: {output.error}", err=True)
            elif interactive or verbose:
                state = "written" if output.written else "unchanged"
                click.echo(f"output {output.name}: {output.entries} entries, {state}")
    if not report.ok:
        sys.exit(EXIT_FAILED)


@contextmanager
def _progress(enabled: bool, total: int) -> Iterator[Callable[[SourceReport], None] | None]:
    if not enabled:
        yield None
        return
    with click.progressbar(length=total, label="refreshing", file=sys.stderr) as bar:
        yield lambda _report: bar.update(1)


@cli.command(name="publish")
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print a JSON report on stdout.")
def publish_command(config_path: Path | None, as_json: bool) -> None:
    """Rebuild every output from the store, without fetching.

    \b
    Example:
      feeds publish --config config.toml
    """
    from feeds.refresh import publish_all

    config = _load_config(config_path)
    with _open_store(config, locked=True) as store:
        outputs = publish_all(config, store)
    if as_json:
        click.echo(json.dumps(_report_json((), outputs)["outputs"], indent=2))
    failed = False
    for output in outputs:
        if output.error:
            failed = True
            click.echo(f"output {output.name}: FAILED: {output.error}", err=True)
        elif not as_json:
            state = "written" if output.written else "unchanged"
            click.echo(f"output {output.name}: {output.entries} entries, {state}")
    if failed:
        sys.exit(EXIT_FAILED)


@cli.command()
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout.")
def sources(config_path: Path | None, as_json: bool) -> None:
    """Show every configured source: URL, last fetch, status, entries, last error.

    \b
    Example:
      feeds sources --json
    """
    config = _load_config(config_path)
    with _open_store(config, locked=False) as store:
        store.sync_sources([(s.name, s.url) for s in config.sources])
        states = {s.name: s for s in store.sources()}
    rows = []
    for source in config.sources:
        state = states[source.name]
        rows.append(
            {
                "name": source.name,
                "url": source.url,
                "last_fetched": state.last_fetched.isoformat() if state.last_fetched else None,
                "last_status": state.last_status,
                "entries": state.entry_count,
                "error_count": state.error_count,
                "last_error": state.last_error,
                "guid_fallback": state.guid_fallback,
            }
        )
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    header = ("NAME", "STATUS", "ENTRIES", "LAST FETCH", "URL / LAST ERROR")
    lines = [header]
    for row in rows:
        fetched = row["last_fetched"]
        lines.append(
            (
                str(row["name"]),
                "never"
                if row["last_status"] is None and not fetched
                else str(row["last_status"] or "error"),
                str(row["entries"]),
                str(fetched or "-")[:19],
                str(row["url"]),
            )
        )
        if row["last_error"]:
            lines.append(("", "", "", "", f"error ({row['error_count']}x): {row['last_error']}"))
        if row["guid_fallback"]:
            lines.append(
                (
                    "",
                    "",
                    "",
                    "",
                    f"GUIDs not trusted ({row['guid_fallback']}):"
                    " entries keyed by post id, link or content",
                )
            )
    widths = [max(len(line[i]) for line in lines) for i in range(4)]
    for line in lines:
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(line[:4])]
        click.echo("  ".join([*cells, line[4]]).rstrip())


@cli.command()
@config_option
@click.argument("query", metavar="ENTRY_ID|URL")
@click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout.")
def explain(config_path: Path | None, query: str, as_json: bool) -> None:
    """Explain a story: its copies, which one is published and why they were merged.

    QUERY is an entry id (the Atom <id>), a GUID, or the link of any copy.
    Shows each source that carried the story, when each copy was first seen,
    the rule and similarity scores that merged it, and the copy each output
    publishes. Exit 1 when no stored entry matches.

    \b
    Example:
      feeds explain https://news.example.com/2026/03/acme-results/
    """
    from feeds.provenance import explain as run_explain

    config = _load_config(config_path)
    with _open_store(config, locked=False) as store:
        found = run_explain(store, query, config.dedupe, config.outputs)
    if found is None:
        click.echo(f"feeds: no stored entry matches {query!r}", err=True)
        sys.exit(EXIT_FAILED)
    if as_json:
        click.echo(json.dumps(found.to_json(), indent=2, ensure_ascii=False))
        return
    for line in found.lines():
        click.echo(line)


@cli.command()
@config_option
@click.argument("query", metavar="ENTRY_ID|URL")
@click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout.")
def drop(config_path: Path | None, query: str, as_json: bool) -> None:
    """Hide a story for good (a tombstone) and republish the outputs without it.

    QUERY is an entry id, a GUID, or the link of any copy. The story does not
    come back on a later fetch, nor through another source's copy of it.
    Exit 1 when no stored entry matches.

    \b
    Example:
      feeds drop tag:feeds.invalid,2026:entry/4f1c0e
    """
    from feeds.provenance import drop as run_drop
    from feeds.refresh import publish_all

    config = _load_config(config_path)
    with _open_store(config, locked=True) as store:
        try:
            dropped = run_drop(store, query, _utc_now())
        except FeedsError as exc:
            _fail(exc)
        if dropped is None:
            click.echo(f"feeds: no stored entry matches {query!r}", err=True)
            sys.exit(EXIT_FAILED)
        outputs = publish_all(config, store)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "entry_id": dropped.entry_id,
                    "title": dropped.title,
                    "copies": dropped.copies,
                    "newly_dropped": dropped.new,
                    "outputs": _report_json((), outputs)["outputs"],
                },
                indent=2,
                ensure_ascii=False,
            )
        )
    else:
        state = "dropped" if dropped.new else "already dropped"
        click.echo(f"{state}: {dropped.entry_id} ({dropped.title}; {dropped.copies} copies)")
    failed = False
    for output in outputs:
        if output.error:
            failed = True
            click.echo(f"output {output.name}: FAILED: {output.error}", err=True)
    if failed:
        sys.exit(EXIT_FAILED)


@cli.command()
@config_option
def check(config_path: Path | None) -> None:
    """Validate the config and every published output file.

    Exit 0 when all is well, 1 when a published file is missing or invalid,
    2 when the config is bad.

    \b
    Example:
      feeds check --config config.toml
    """
    from feeds.publish import check_atom

    config = _load_config(config_path)
    click.echo(
        f"config {config.path}: ok ({len(config.sources)} sources, {len(config.outputs)} outputs)"
    )
    failed = False
    for output in config.outputs:
        try:
            data = output.path.read_bytes()
        except OSError as exc:
            failed = True
            click.echo(
                f"output {output.name}: {output.path}: cannot read: {exc.strerror}", err=True
            )
            continue
        problems = check_atom(data)
        if problems:
            failed = True
            click.echo(f"output {output.name}: {output.path}: INVALID", err=True)
            for problem in problems:
                click.echo(f"  {problem}", err=True)
        else:
            click.echo(f"output {output.name}: {output.path}: valid Atom")
    if failed:
        sys.exit(EXIT_FAILED)


def _report_json(
    sources: tuple[SourceReport, ...], outputs: tuple[OutputReport, ...]
) -> dict[str, Any]:
    return {
        "ok": all(s.ok for s in sources) and all(o.error is None for o in outputs),
        "sources": [
            {
                "name": s.name,
                "url": s.url,
                "ok": s.ok,
                "status": s.status,
                "not_modified": s.not_modified,
                "changes": dict(s.changes),
                "error": s.error,
                "warning": s.warning,
            }
            for s in sources
        ],
        "outputs": [
            {
                "name": o.name,
                "path": o.path,
                "entries": o.entries,
                "written": o.written,
                "error": o.error,
            }
            for o in outputs
        ],
    }


def main() -> None:
    """Console-script entry point."""
    cli()
