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
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from feeds.core.limits import printable
from feeds.errors import ConfigError, FeedsError
from feeds.version import __version__

if TYPE_CHECKING:
    from feeds.config import Config
    from feeds.run.refresh import OutputReport, SourceReport
    from feeds.store.protocol import Storage

EXIT_FAILED = 1

F = TypeVar("F", bound=Callable[..., Any])


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _fail(exc: FeedsError) -> NoReturn:
    if isinstance(exc, ConfigError):
        where = f"{exc.path}: " if exc.path else ""
        click.echo(f"feeds: configuration error in {where or 'config'}".rstrip(": "), err=True)
        for problem in exc.problems:
            click.echo(f"  {problem}", err=True)
    else:
        click.echo(f"feeds: {exc}", err=True)
    sys.exit(exc.exit_code)


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
def _open_store(config: Config, *, locked: bool) -> Iterator[Storage]:
    """Open the store (under the refresh lock when writing); FeedsError becomes a message."""
    from feeds.store import open_store
    from feeds.store.lock import refresh_lock

    try:
        if locked:
            with (
                refresh_lock(config.store_path, config.lock_timeout),
                open_store(config.store_path) as store,
            ):
                yield store
        else:
            with open_store(config.store_path) as store:
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
      feeds daemon           keep running, fetch each source when it is due
      feeds status           is the daemon alive, when is each source due
      feeds explain URL      why a story is published, merged or missing
    """


@cli.command()
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
@click.option("--json", "as_json", is_flag=True, help="Print a JSON report on stdout.")
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
    from feeds.ingest.fetch import Fetcher
    from feeds.run.refresh import refresh as run_refresh

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
        _tracebacks(verbose),
    ):
        try:
            report = run_refresh(
                config,
                store,
                fetcher,
                now=_utc_now(),
                names=names,
                force=fetch_all or bool(only),
                on_source=on_source,
            )
            if metrics_file is not None:
                _write_metrics(config, store, metrics_file)
        except FeedsError as exc:
            _fail(exc)
    if as_json:
        click.echo(json.dumps(_report_json(report.sources, report.outputs), indent=2))
    else:
        _note_missing_urls(config, interactive or verbose)
        for source in report.sources:
            if not source.ok:
                click.echo(source.summary(), err=True)
            elif (interactive or verbose) and (source.skipped is None or verbose):
                click.echo(source.summary())
        skipped = [s for s in report.sources if s.skipped is not None]
        if skipped and interactive and not verbose:
            click.echo(f"{len(skipped)} sources not due or waiting (-v says why; --all fetches)")
        for output in report.outputs:
            if output.error:
                click.echo(f"output {output.name}: FAILED: {output.error}", err=True)
            elif interactive or verbose:
                click.echo(_output_line(output))
            _warn_pings(output)
    if not report.ok:
        sys.exit(EXIT_FAILED)


def _write_metrics(config: Config, store: Storage, target: Path) -> None:
    from feeds.app.metrics import exposition, write_textfile

    try:
        write_textfile(target, exposition(config, store, _utc_now()))
    except OSError as exc:
        click.echo(f"feeds: cannot write {target}: {exc.strerror or exc}", err=True)


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

    config = _load_config(config_path)
    with _open_store(config, locked=False) as store:
        click.echo(exposition(config, store, _utc_now()), nl=False)


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
    from feeds.ingest.fetch import Fetcher
    from feeds.run.refresh import publish_all

    config = _load_config(config_path)
    with _open_store(config, locked=True) as store, Fetcher(config.fetch) as fetcher:
        try:
            outputs = publish_all(config, store, poster=fetcher, now=_utc_now(), force=True)
        except FeedsError as exc:
            _fail(exc)
    if as_json:
        click.echo(json.dumps(_report_json((), outputs)["outputs"], indent=2))
    failed = False
    for output in outputs:
        if output.error:
            failed = True
            click.echo(f"output {output.name}: FAILED: {output.error}", err=True)
        elif not as_json:
            click.echo(_output_line(output))
        _warn_pings(output)
    if failed:
        sys.exit(EXIT_FAILED)


@cli.group(invoke_without_command=True)
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout.")
@click.pass_context
def sources(ctx: click.Context, config_path: Path | None, as_json: bool) -> None:
    """Show every configured source: URL, last fetch, status, entries, last error.

    Also the feed read for a section page that advertises one, and what full
    text did on the last run (pages used, feed texts kept and why, deferred).

    With a subcommand, export or import the sources as OPML instead.

    \b
    Example:
      feeds sources --json
      feeds sources export -o sources.opml
      feeds sources import subscriptions.opml
    """
    ctx.obj = config_path
    if ctx.invoked_subcommand is not None:
        return
    from feeds.core.schedule import next_due

    config = _load_config(config_path)
    with _open_store(config, locked=False) as store:
        store.sync_sources([(s.name, s.url) for s in config.sources])
        states = {s.name: s for s in store.sources()}
    rows = []
    for source in config.sources:
        state = states[source.name]
        due = next_due(state, config.schedule, config.interval(source.name))
        rows.append(
            {
                "name": source.name,
                "url": state.url,
                "retired": state.retired,
                "next_due": due.isoformat() if due else None,
                "last_fetched": state.last_fetched.isoformat() if state.last_fetched else None,
                "last_status": state.last_status,
                "entries": state.entry_count,
                "error_count": state.error_count,
                "last_error": state.last_error,
                "type": source.type,
                "full_text": source.full_text,
                "feed_url": state.feed_url,
                "full_text_note": state.full_text_note,
                "guid_fallback": state.guid_fallback,
                "http": source.http.describe(),
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
                "retired"
                if row["retired"]
                else "never"
                if row["last_status"] is None and not fetched
                else str(row["last_status"] or "error"),
                str(row["entries"]),
                str(fetched or "-")[:19],
                str(row["url"]),
            )
        )
        http_notes = config.source(str(row["name"])).http.describe()
        if http_notes:  # which settings, never their values
            lines.append(("", "", "", "", "http: " + "; ".join(http_notes)))
        if row["feed_url"]:
            lines.append(("", "", "", "", f"reads the feed it advertises: {row['feed_url']}"))
        if row["full_text_note"]:
            lines.append(("", "", "", "", str(row["full_text_note"])))
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


@sources.command(name="export")
@config_option
@click.option(
    "-o",
    "--output",
    "target",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write to this file (atomically) instead of stdout.",
)
@click.pass_context
def sources_export(ctx: click.Context, config_path: Path | None, target: Path | None) -> None:
    """Write the configured sources as OPML 2.0, for another feed reader.

    \b
    Example:
      feeds sources export > feeds.app.opml
    """
    from feeds.app import opml

    config = _load_config(config_path or ctx.obj)
    data = opml.export(config)
    if target is None:
        click.echo(data.decode("utf-8"), nl=False)
        return
    from feeds.publish.documents import write_atomic

    try:
        write_atomic(target, data)
    except FeedsError as exc:
        _fail(exc)
    click.echo(f"wrote {len(config.sources)} sources to {target}", err=True)


@sources.command(name="import")
@config_option
@click.argument("opml_file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Show what would be added; change nothing.")
@click.pass_context
def sources_import(
    ctx: click.Context, config_path: Path | None, opml_file: Path, dry_run: bool
) -> None:
    """Add the feeds of an OPML file to config.toml as new [[sources]].

    Feeds whose URL is already configured, and non-http(s) URLs, are skipped.
    The file is edited as text (comments and layout stay), checked with the
    config loader, then replaced atomically.

    \b
    Example:
      feeds sources import ~/Downloads/subscriptions.opml
    """
    from feeds import config as config_module
    from feeds.app import opml

    path = config_path or ctx.obj or config_module.default_path()
    _load_config(path)  # a broken config is reported as such, before the OPML
    try:
        feeds = opml.read(opml_file.read_bytes(), str(opml_file))
        if dry_run:
            plan = opml.plan_import(
                path.read_text(encoding="utf-8"), config_module.load(path), feeds
            )
        else:
            plan = opml.apply_import(path, feeds)
    except FeedsError as exc:
        _fail(exc)
    # The URLs are a stranger's text: escaped, so none can forge a line or move the cursor.
    for url, reason in plan.skipped:
        click.echo(f"skipped {printable(url)}: {printable(reason)}", err=True)
    verb = "would add" if dry_run else "added"
    for name, url in plan.added:
        click.echo(f"{verb} {printable(name)}: {printable(url)}")
    click.echo(f"{len(plan.added)} sources {verb}, {len(plan.skipped)} skipped", err=True)


@cli.command()
@config_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=int, help="Port to listen on.")
@click.option(
    "--root",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=None,
    help="Folder to serve [default: the folder of the outputs, e.g. out/].",
)
@click.option("-q", "--quiet", is_flag=True, help="Do not log requests to stderr.")
@click.option(
    "--allow-root-with-secrets",
    is_flag=True,
    help="Serve a folder that holds the config, the store or a source file (only the "
    "outputs' files are served either way).",
)
@click.option(
    "--metrics",
    "with_metrics",
    is_flag=True,
    help="Also answer /metrics (Prometheus) and /healthz (503 when the daemon is stale).",
)
@click.option(
    "--stale-after",
    default=None,
    metavar="DURATION",
    help="/healthz: the oldest daemon heartbeat that is healthy [default: 3 x heartbeat].",
)
def serve(
    config_path: Path | None,
    host: str,
    port: int,
    root: Path | None,
    quiet: bool,
    allow_root_with_secrets: bool,
    with_metrics: bool,
    stale_after: str | None,
) -> None:
    """Serve the published feeds over HTTP (for trying out and small installs).

    ETag/Last-Modified with 304 answers, gzip, HEAD, an index page at /, and a
    readable HTML view when a browser opens a feed. Production: see the
    nginx snippet in docs/publishing.md.

    \b
    Example:
      feeds serve --port 8080     then open http://127.0.0.1:8080/
    """
    from feeds.app import serve as serve_module

    config = _load_config(config_path)
    folder = root or serve_module.default_root(config.outputs)
    if folder is None:
        raise click.UsageError(
            "the outputs are written to different folders; choose one with --root"
        )
    secrets = serve_module.secrets_under(folder, config)
    if secrets and not allow_root_with_secrets:
        raise click.UsageError(
            f"{folder} holds {', '.join(str(p) for p in secrets)}; write the outputs to a "
            'folder of their own (path = "out/NAME.atom"), choose one with --root, or '
            "pass --allow-root-with-secrets (only the outputs' files are served)"
        )

    def log(served: serve_module.Served) -> None:
        click.echo(f"{served.method} {served.path} {served.status}", err=True)

    try:
        server = serve_module.serve(
            folder, config.outputs, host, port, on_request=None if quiet else log
        )
    except OSError as exc:
        click.echo(f"feeds: cannot listen on {host}:{port}: {exc.strerror or exc}", err=True)
        sys.exit(EXIT_FAILED)
    if with_metrics:
        from feeds.app.metrics import routes

        server.dynamic.update(routes(config, _stale_after(config, stale_after), _utc_now))
    click.echo(f"serving {folder} on {server.url}/ (Ctrl-C stops)", err=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


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
    from feeds.app.provenance import explain as run_explain

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
    from feeds.app.provenance import drop as run_drop
    from feeds.run.refresh import publish_all

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


def _note_missing_urls(config: Config, show: bool) -> None:
    from feeds.config import no_url_notice

    notice = no_url_notice(config.outputs)
    if notice and show:
        click.echo(notice)


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
    from feeds.publish import formats
    from feeds.publish.documents import archive_path

    config = _load_config(config_path)
    click.echo(
        f"config {config.path}: ok ({len(config.sources)} sources, {len(config.outputs)} outputs)"
    )
    _note_missing_urls(config, True)
    failed = False
    for output in config.outputs:
        for name in output.formats:
            fmt = formats.get(name)
            paths = [output.format_path(name)]
            page = 1
            while fmt.archived and archive_path(output, name, page).exists():
                paths.append(archive_path(output, name, page))
                page += 1
            for path in paths:
                try:
                    data = path.read_bytes()
                except OSError as exc:
                    failed = True
                    click.echo(
                        f"output {output.name}: {path}: cannot read: {exc.strerror}", err=True
                    )
                    continue
                problems = fmt.check(data)
                if problems:
                    failed = True
                    click.echo(f"output {output.name}: {path}: INVALID", err=True)
                    for problem in problems:
                        click.echo(f"  {problem}", err=True)
                else:
                    click.echo(f"output {output.name}: {path}: valid {fmt.label}")
    if failed:
        sys.exit(EXIT_FAILED)


@cli.command()
@config_option
@click.option("-v", "--verbose", is_flag=True, help="Log every fetch, not only problems.")
def daemon(config_path: Path | None, verbose: bool) -> None:
    """Run in the foreground and fetch each source when it is due.

    Outputs are published once the first fetches are done, then shortly after
    a change ([daemon] publish_delay).
    SIGTERM or SIGINT stop it cleanly (exit 0); SIGHUP reloads the config
    (a bad one is reported and the old one kept). It holds the store's lock
    while it runs, so a `feeds refresh` from cron waits, then exits 75.
    Logs go to stderr (the journal, under systemd): see contrib/feeds.service.

    \b
    Example:
      feeds daemon --config /etc/feeds/config.toml
    """
    import logging

    from feeds.run.daemon import run as run_daemon

    config = _load_config(config_path)
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("feeds").setLevel(logging.INFO if verbose else logging.WARNING)
    logging.getLogger("feeds.daemon").setLevel(logging.INFO)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    try:
        code = run_daemon(config)
    except FeedsError as exc:
        _fail(exc)
    sys.exit(code)


@cli.command()
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout (for monitoring).")
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

    config = _load_config(config_path)
    with _open_store(config, locked=False) as store:
        report = gather(config, store, now=_utc_now())
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        click.echo(render(report))


@cli.command()
@config_option
@click.argument("names", nargs=-1, required=True, metavar="NAME...")
def enable(config_path: Path | None, names: tuple[str, ...]) -> None:
    """Re-enable retired sources (HTTP 410) and forget a Retry-After: due at once.

    Works while the daemon runs (it picks the change up on its next run).

    \b
    Example:
      feeds enable business
    """
    config = _load_config(config_path)
    known = {s.name for s in config.sources}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise click.UsageError(f"no source named {', '.join(map(repr, unknown))}")
    with _open_store(config, locked=False) as store:
        store.sync_sources([(s.name, s.url) for s in config.sources])
        for name in names:
            try:
                store.enable(name)
            except FeedsError as exc:
                _fail(exc)
            click.echo(f"{name}: enabled, due now")


def _stale_after(config: Config, text: str | None) -> timedelta:
    from feeds.core.schedule import parse_duration

    if text is None:
        return 3 * config.daemon.heartbeat
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--stale-after") from exc


def _output_line(output: OutputReport) -> str:
    state = "written" if output.written else "unchanged"
    line = f"output {output.name}: {output.entries} entries, {state}"
    if output.archive_pages:
        line += f", {output.archive_pages} archive files written"
    return line


def _warn_pings(output: OutputReport) -> None:
    """A failed WebSub ping is a warning: the files are published, the ping is retried."""
    for error in output.ping_errors:
        click.echo(f"output {output.name}: WebSub ping failed (will retry): {error}", err=True)


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
                "skipped": s.skipped,
                "next_due": s.next_due.isoformat() if s.next_due else None,
                "changes": dict(s.changes),
                "error": s.error,
                "warning": s.warning,
                "feed_url": s.feed_url,
                "full_text": s.full_text,
                "dropped_entries": list(s.dropped_entries),
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
                "archive_pages": o.archive_pages,
                "ping_errors": list(o.ping_errors),
            }
            for o in outputs
        ],
    }


def main() -> None:
    """Console-script entry point."""
    cli()
