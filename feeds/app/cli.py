"""The ``feeds`` command line: a thin shell over the core.

Exit status: 0 success; 1 the run finished but something failed (a source, an
output, the store); 2 usage or configuration error (nothing written); 75
(EX_TEMPFAIL) another feeds process held the lock for longer than we wait; 130 Ctrl-C
stopped a refresh.
The status is the ``exit_code`` of the :class:`~feeds.errors.FeedsError` a command
raised, turned into a message and an exit in one place (:class:`FeedsGroup`).
Data goes to stdout (``--json`` for machines), progress and problems to stderr; a command
asked for ``--json`` that stops with an error also prints it on stdout as JSON
(:func:`~feeds.app.cli_support.error_json`).
Heavy libraries are imported inside the commands so that ``feeds --help`` and
cron's frequent start-ups stay fast.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from feeds.app.cli_filters import filters, vacuum
from feeds.app.cli_refresh import refresh
from feeds.app.cli_serve import serve
from feeds.app.cli_sources import sources
from feeds.app.cli_store import store
from feeds.app.cli_support import (
    CommandFailed,
    FeedsGroup,
    as_feeds_main,
    config_option,
    json_option,
    load_config,
    note_missing_urls,
    open_store_for,
    utc_now,
    warn_pings,
)
from feeds.app.console import CTRL_C, is_ctrl_c, stopped
from feeds.app.reports import drop_json, output_line, report_json
from feeds.errors import FeedsError
from feeds.version import __version__

__all__ = ["cli", "main", "serve", "sources"]

if TYPE_CHECKING:
    from feeds.config import Config
    from feeds.store.protocol import Storage


@click.group(cls=FeedsGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="feeds")
def cli() -> None:
    """Fetch, clean, deduplicate and publish news feeds as valid Atom.

    \b
    Quick start (uses ./config.toml):
      feeds refresh          fetch every due source and publish out/*.atom
      feeds sources          show each source's state
      feeds daemon           keep running, fetch each source when it is due
      feeds status           is the daemon alive, when is each source due
      feeds explain URL      why a story is published, merged or missing
    """


@cli.command()
@config_option
def metrics(config_path: Path | None) -> None:
    """Print the metrics in the Prometheus text format (what `serve --metrics` answers).

    Counters (fetches by outcome, bytes, entries, publishing) are kept in the
    store, so every process adds to the same numbers. Read-only.

    \b
    Example:
      feeds metrics | grep feeds_fetch_total
    """
    from feeds.app.metrics import exposition

    config = load_config(config_path)
    with open_store_for(config, locked=False, create=False) as store:
        click.echo(exposition(config, store, utc_now()), nl=False)


@cli.command(name="publish")
@config_option
@json_option("Print a JSON report on stdout.")
def publish_command(config_path: Path | None, as_json: bool) -> None:
    """Rebuild every output from the store, without fetching.

    \b
    Example:
      feeds publish --config config.toml
    """
    from feeds.ingest.fetch import Fetcher
    from feeds.run.filtering import retention_before_publishing
    from feeds.run.refresh import publish_all
    from feeds.run.worker import publisher, worker_id

    config = load_config(config_path)
    locked = config.store_url is None  # an SQLite store: the refresh lock is held
    with (
        open_store_for(config, locked=True) as store,
        publisher(
            store,
            worker_id(refresh=locked),
            config.lock_timeout,
            clock=utc_now,
            refresh_locked=locked,
        ),
        Fetcher(config.fetch) as fetcher,
    ):
        now = utc_now()
        retention_before_publishing(config, store, now)  # a failed run's may be undone
        outputs = publish_all(config, store, poster=fetcher, now=now, force=True)
    if as_json:
        click.echo(json.dumps(report_json((), outputs)["outputs"], indent=2))
    for output in outputs:
        if output.error:
            click.echo(f"output {output.name}: FAILED: {output.error}", err=True)
        elif not as_json:
            click.echo(output_line(output))
        warn_pings(output)
    if any(output.error for output in outputs):
        raise CommandFailed


@cli.command()
@config_option
@click.argument("query", metavar="ENTRY_ID|URL")
@json_option("Print JSON on stdout.")
def explain(config_path: Path | None, query: str, as_json: bool) -> None:
    """Explain a story: its copies, which one is published and why they were merged.

    QUERY is an entry id (the Atom <id>), a GUID, or the link of any copy.
    Shows each source that carried the story, when each copy was first seen,
    the rule and similarity scores that merged it, and the copy each output
    publishes, or the filter rule that blocks it there. Exit 1 when no stored
    entry matches.

    \b
    Example:
      feeds explain https://news.example.com/2026/03/acme-results/
    """
    from feeds.app.provenance import Rules
    from feeds.app.provenance import explain as run_explain

    config = load_config(config_path)
    with open_store_for(config, locked=False, create=False) as store:
        rules = Rules(config, utc_now())
        found = run_explain(store, query, config.dedupe, config.outputs, rules=rules)
    if found is None:
        raise FeedsError(f"no stored entry matches {query!r}")
    if as_json:
        click.echo(json.dumps(found.to_json(), indent=2, ensure_ascii=False))
        return
    for line in found.lines():
        click.echo(line)


@cli.command()
@config_option
@click.argument("query", metavar="ENTRY_ID|URL")
@json_option("Print JSON on stdout.")
def drop(config_path: Path | None, query: str, as_json: bool) -> None:
    """Hide a story for good (a tombstone) and republish the outputs without it.

    QUERY is an entry id, a GUID, or the link of any copy. The story does not
    come back on a later fetch, nor through another source's copy of it.
    Exit 1 when no stored entry matches.

    \b
    Example:
      feeds drop tag:feeds.invalid,2026:entry/4f1c0e
    """
    from feeds.app.provenance import drop as run_drop
    from feeds.run.refresh import publish_all
    from feeds.run.worker import publisher, worker_id

    config = load_config(config_path)
    with open_store_for(config, locked=True) as store:
        dropped = run_drop(store, query, utc_now())
        if dropped is None:
            raise FeedsError(f"no stored entry matches {query!r}")
        locked = config.store_url is None  # an SQLite store: the refresh lock is held
        me = worker_id(refresh=locked)
        with publisher(store, me, config.lock_timeout, clock=utc_now, refresh_locked=locked):
            outputs = publish_all(config, store)
    if as_json:
        click.echo(json.dumps(drop_json(dropped, outputs), indent=2, ensure_ascii=False))
    else:
        state = "dropped" if dropped.new else "already dropped"
        click.echo(f"{state}: {dropped.entry_id} ({dropped.title}; {dropped.copies} copies)")
    for output in outputs:
        if output.error:
            click.echo(f"output {output.name}: FAILED: {output.error}", err=True)
    if any(output.error for output in outputs):
        raise CommandFailed


@cli.command()
@config_option
def check(config_path: Path | None) -> None:
    """Validate the config and every published output file.

    Exit 0 when all is well, 1 when the store cannot be used or a published file
    is missing or invalid, 2 when the config is bad.

    \b
    Example:
      feeds check --config config.toml
    """
    from feeds.app.check import check_outputs, unset_secrets

    config = load_config(config_path)
    click.echo(
        f"config {config.path}: ok ({len(config.sources)} sources, {len(config.outputs)} outputs)"
    )
    note_missing_urls(config, True)
    for note in unset_secrets(config, os.environ):
        click.echo(note)
    failed = not _check_store(config)
    for found in check_outputs(config):
        failed = failed or not found.ok
        where = f"output {found.output}: {found.path}"
        if found.read_error is not None:
            click.echo(f"{where}: {found.read_error}", err=True)
        elif found.problems:
            click.echo(f"{where}: INVALID", err=True)
            for problem in found.problems:
                click.echo(f"  {problem}", err=True)
        else:
            click.echo(f"{where}: valid {found.label}")
    if failed:
        raise CommandFailed


def _check_store(config: Config) -> bool:
    """Report whether the store can be reached and used: a PostgreSQL database, or a
    SQLite file once there is one (the first refresh makes it; ``check`` never does)."""
    from feeds.core.database_url import shown_url

    if config.store_url is None and not config.store_path.exists():
        click.echo(f"store {config.store_path}: not made yet (the first `feeds refresh` makes it)")
        return True
    shown = shown_url(config.store_url) if config.store_url else config.store_path
    kind = "PostgreSQL" if config.store_url else "SQLite"
    try:
        with open_store_for(config, locked=False, create=False) as store:
            count = len(store.sources())
    except FeedsError as exc:
        click.echo(f"store {shown}: cannot be used: {exc}", err=True)
        return False
    click.echo(f"store {shown}: ok ({kind}, {count} sources)")
    return True


@cli.command()
@config_option
@click.option("-v", "--verbose", is_flag=True, help="Log every fetch, not only problems.")
def daemon(config_path: Path | None, verbose: bool) -> None:
    """Run in the foreground and fetch each source when it is due.

    Outputs are published once the first fetches are done, then shortly after
    a change ([daemon] publish_delay).
    SIGTERM or SIGINT stop it cleanly (exit 0); SIGHUP reloads the config
    (a bad one is reported and the old one kept). Several daemons on one store
    share its sources, and a `feeds refresh` beside them fetches only what no
    daemon holds (docs/scaling.md).
    Logs go to stderr (the journal, under systemd): see contrib/feeds.service.

    \b
    Example:
      feeds daemon --config /etc/feeds/config.toml
    """
    # SIGHUP asks a running daemon to read its config again: before its handler is in place
    # (as it reads the config, starts), nothing to do, rather than a stop.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        status = _run_daemon(config_path, verbose)
    except CTRL_C as exc:
        # SIGTERM or SIGINT before the daemon's own handlers are in place (it loads, starts)
        # or after (it ends): a clean stop all the same, not 143 or 130, which systemd
        # reports as a failed unit.
        if not is_ctrl_c(exc):
            raise
        click.echo(f"feeds: {stopped()[0].partition(':')[0]}: the daemon stopped", err=True)
        status = 0
    click.get_current_context().exit(status)


def _run_daemon(config_path: Path | None, verbose: bool) -> int:
    """Load the config, set up logging, run the daemon; its exit status."""
    import logging

    from feeds.run.daemon import run as run_daemon

    config = load_config(config_path)
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("feeds").setLevel(logging.INFO if verbose else logging.WARNING)
    logging.getLogger("feeds.daemon").setLevel(logging.INFO)  # started, stopped, reloaded
    logging.getLogger("feeds.daemon.fetches").setLevel(logging.INFO if verbose else logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    return run_daemon(config)


@cli.command()
@config_option
@json_option("Print JSON on stdout (for monitoring).")
def status(config_path: Path | None, as_json: bool) -> None:
    """Show whether a daemon runs, and each source's schedule and health.

    Per source: last fetch, HTTP status, next due time, error count, last
    error, and whether it is retired (HTTP 410; `feeds enable NAME` brings it
    back). Read-only: safe to run while the daemon or a refresh works.

    \b
    Example:
      feeds status --json
    """
    from feeds.app.status import gather, render

    config = load_config(config_path)
    with open_store_for(config, locked=False, create=False) as store:
        report = gather(config, store, now=utc_now())
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        click.echo(render(report))


@cli.command()
@config_option
@click.argument("names", nargs=-1, required=True, metavar="NAME...")
def enable(config_path: Path | None, names: tuple[str, ...]) -> None:
    """Re-enable retired sources (HTTP 410) and forget a Retry-After: due at once.

    A source whose host is held (it answered 429 or 503, or timed out) is due when
    the hold ends: the hold stays, for every source on the host.

    The next fetch reads the whole document again (no conditional GET), so a
    change of config that decides how it is read, such as [fetch]
    allow_private_addresses for its article pages, applies to the entries it
    lists now. Works while the daemon runs (it picks the change up on its next run). A
    source being fetched (by the daemon or a refresh) is enabled once that fetch is saved,
    which would undo it: the command waits up to [store] lock_timeout for it, then exits 75.

    \b
    Example:
      feeds enable business
    """
    config = load_config(config_path)
    known = {s.name for s in config.sources}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise click.UsageError(f"no source named {', '.join(map(repr, unknown))}")
    from feeds.run.shared_holds import holding

    with open_store_for(config, locked=False) as store:
        store.sync_sources([(s.name, s.url) for s in config.sources])
        hold_of = holding(store.host_holds(utc_now()))
        urls = {state.name: state.url for state in store.sources()}
        for name in names:
            _enable_once_saved(store, name, config.lock_timeout, config.fetch.min_host_delay)
            # The hold of its host stays (the server asked to wait): no request goes there
            # before its end, so the source is not due sooner.
            hold = hold_of(urls[name])
            if hold is None:
                click.echo(f"{name}: enabled, due now")
            else:
                click.echo(
                    f"{name}: enabled; due when its host's hold ends at "
                    f"{hold.until:%H:%M} UTC ({hold.why})"
                )


def _enable_once_saved(store: Storage, name: str, timeout: float, delay: float) -> None:
    """Enable ``name`` once no worker holds it: a fetch in flight saves the source's state
    as it answered (a 410 retires it again, a Retry-After comes back), over the enable.
    Waits up to ``timeout`` seconds, saying so; then a :class:`LockError` (exit 75). The
    leases of a worker whose process is gone (killed) end at once, as a refresh ends them."""
    from datetime import timedelta
    from time import monotonic, sleep

    from feeds.errors import LockError
    from feeds.run.worker import process_gone

    deadline = monotonic() + timeout
    waited = False
    while (holder := store.enable_unless_leased(name, utc_now())) is not None:
        if process_gone(holder):  # its hosts free min_host_delay from now (as a refresh's)
            store.worker_stopped(holder, utc_now() + timedelta(seconds=delay))
            continue
        if monotonic() >= deadline:
            raise LockError(
                f"{name}: worker {holder} is fetching it, and its save would undo the enable;"
                f" gave up after waiting {timeout:g} s: run `feeds enable {name}` again once"
                " that fetch is saved"
            )
        if not waited:
            click.echo(
                f"{name}: worker {holder} is fetching it: enabling it once that fetch is saved",
                err=True,
            )
            waited = True
        sleep(0.1)


cli.add_command(refresh)
cli.add_command(serve)
cli.add_command(sources)
cli.add_command(filters)
store.add_command(vacuum)
cli.add_command(store)


def main() -> None:
    """The command line (the console script loads it: :mod:`feeds.app.console`)."""
    as_feeds_main()
    cli()
