"""``feeds refresh``: fetch the sources that are due, store what changed, publish."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING

import click

from feeds.app.cli_support import (
    CommandFailed,
    config_option,
    json_option,
    load_config,
    note_missing_urls,
    open_store_for,
    stopped_by_ctrl_c,
    utc_now,
    warn_pings,
)
from feeds.app.reports import output_line, report_json

if TYPE_CHECKING:
    from feeds.config import Config
    from feeds.run.refresh import RefreshReport, SourceReport
    from feeds.store.protocol import Storage


@click.command()
@config_option
@click.option(
    "--all",
    "fetch_all",
    is_flag=True,
    help="Fetch every source now, due or not (never a retired one, never before Retry-After).",
)
@click.option(
    "--source",
    "only",
    multiple=True,
    metavar="NAME",
    help="Fetch only this source, now, due or not (repeat).",
)
@json_option("Print a JSON report on stdout.")
@click.option("-v", "--verbose", is_flag=True, help="Print a line per source even off a terminal.")
@click.option(
    "--metrics-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the metrics there (node_exporter textfile, replaced atomically).",
)
def refresh(
    config_path: Path | None,
    fetch_all: bool,
    only: tuple[str, ...],
    as_json: bool,
    verbose: bool,
    metrics_file: Path | None,
) -> None:
    """Fetch the sources that are due, store what changed, publish the outputs.

    A source is due when its interval has passed since its last fetch (later
    when the server asks for it, sooner never); a source that is not due is
    skipped, which is not an error. On a terminal a line per source is
    printed; from cron only failures are, so cron mails only problems.

    \b
    Example:
      feeds refresh --config /etc/feeds/config.toml --source business
    """
    with stopped_by_ctrl_c():
        try:
            config = load_config(config_path)
            unknown = [name for name in only if name not in {s.name for s in config.sources}]
            if unknown:
                raise click.UsageError(f"no source named {', '.join(map(repr, unknown))}")
            interactive = sys.stderr.isatty() and not as_json
            report, metrics_error = _refresh_once(
                config, list(only) or None, fetch_all, interactive, verbose, metrics_file
            )
            if as_json:
                found = report_json(report.sources, report.outputs)
                if metrics_error is not None:
                    found.update(ok=False, metrics_file_error=metrics_error)
                click.echo(json.dumps(found, indent=2))
            else:
                _print_refresh(
                    config, report, interactive=interactive, verbose=verbose, named=bool(only)
                )
        finally:
            _stop_fork_server()
    if metrics_error is not None:
        click.echo(f"feeds: {metrics_error}", err=True)
    if not report.ok or metrics_error is not None:
        raise CommandFailed


def _stop_fork_server() -> None:
    """End the workers' fork server, if documents started one: none outlives the run.
    Imported here, not before the run, so a Ctrl-C while the run's modules load stops it
    as any other does (exit 130)."""
    from feeds.run.worker_pool import stop_fork_server

    stop_fork_server()


def _refresh_once(
    config: Config,
    names: list[str] | None,
    fetch_all: bool,
    interactive: bool,
    verbose: bool,
    metrics_file: Path | None,
) -> tuple[RefreshReport, str | None]:
    """One run of ``feeds refresh``: the store locked, this process in its registry. Its
    report, and why ``metrics_file`` could not be written (None: it was, or none asked)."""
    from feeds.ingest.fetch import Fetcher
    from feeds.run.refresh import refresh as run_refresh
    from feeds.run.worker import registered, worker_id

    total = len(names) if names else len(config.sources)
    worker = worker_id(refresh=True)
    with (
        open_store_for(config, locked=True) as store,
        registered(config, store, worker, clock=utc_now) as renew,
        Fetcher(config.fetch) as fetcher,
        _progress(interactive, total) as on_source,
        _tracebacks(verbose),
    ):
        report = run_refresh(
            config,
            store,
            fetcher,
            now=utc_now(),
            names=names,
            force=fetch_all or bool(names),
            on_source=on_source,
            worker=worker,
            renew=renew,
        )
        metrics_error = None
        if metrics_file is not None:
            metrics_error = _write_metrics(config, store, metrics_file)
    return report, metrics_error


def _print_refresh(
    config: Config, report: RefreshReport, *, interactive: bool, verbose: bool, named: bool = False
) -> None:
    """A line per failure on stderr; on a terminal or with ``-v`` a line per source and output.
    A source skipped gets its line on a terminal when ``named`` (``--source``): it was asked
    for, and why it was not fetched (retired, another worker's) is no count of the sources
    "not due or waiting" with "--all fetches", which fetches neither."""
    note_missing_urls(config, interactive or verbose)
    for source in report.sources:
        if not source.ok:
            click.echo(source.summary(), err=True)
        elif (interactive or verbose) and (source.skipped is None or verbose or named):
            click.echo(source.summary())
    skipped = [s for s in report.sources if s.skipped is not None]
    if skipped and interactive and not verbose and not named:
        click.echo(f"{len(skipped)} sources not due or waiting (-v says why; --all fetches)")
    for output in report.outputs:
        if output.error:
            click.echo(f"output {output.name}: FAILED: {output.error}", err=True)
        elif interactive or verbose:
            click.echo(output_line(output))
        warn_pings(output)


def _write_metrics(config: Config, store: Storage, target: Path) -> str | None:
    """Write the metrics to ``target``; why it could not be written (the run then exits 1:
    a textfile left as it was tells the monitoring nothing is wrong), or None."""
    from feeds.app.metrics import exposition, write_textfile

    try:
        write_textfile(target, exposition(config, store, utc_now()))
    except OSError as exc:
        return f"cannot write the metrics file {target}: {exc.strerror or exc}"
    return None


@contextmanager
def _tracebacks(enabled: bool) -> Iterator[None]:
    """With ``-v``, the traceback of each unexpected error a source or output met, on stderr
    (the one-line error is printed with the source either way)."""
    if not enabled:
        yield
        return
    import logging

    logger = logging.getLogger("feeds.refresh")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


@contextmanager
def _progress(enabled: bool, total: int) -> Iterator[Callable[[SourceReport], None] | None]:
    """The progress bar on stderr, a terminal, while the run goes on (``enabled``): a step a
    source. A terminal that closed takes no more of it (SIGHUP stops the run), and its
    failed writes neither stop the run nor take the place of the stop (a traceback, exit 1)."""
    if not enabled:
        yield None
        return
    bar = click.progressbar(length=total, label="refreshing", file=sys.stderr)

    def step(_report: SourceReport) -> None:
        with suppress(OSError):
            bar.update(1)

    with suppress(OSError):
        bar.__enter__()
    try:
        yield step
    finally:
        with suppress(OSError):
            bar.render_finish()
