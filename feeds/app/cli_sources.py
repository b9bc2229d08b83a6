"""``feeds sources``: the sources' state (a table or ``--json``), and OPML export and import."""

from __future__ import annotations

import json
from pathlib import Path

import click

from feeds.app.cli_support import config_option, json_option, load_config, open_store_for, utc_now
from feeds.core.limits import printable


@click.group(invoke_without_command=True)
@config_option
@json_option("Print JSON on stdout.")
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
        if as_json:  # export writes OPML, import a report for people: not ignored silently
            raise click.UsageError(
                f"--json is for the table, not `sources {ctx.invoked_subcommand}`"
            )
        return
    from feeds.app.sources_report import source_rows, table_lines

    config = load_config(config_path)
    with open_store_for(config, locked=False, create=False) as store:
        rows = source_rows(config, store, utc_now())
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for line in table_lines(config, rows):
        click.echo(line)


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

    config = load_config(config_path or ctx.obj)
    data = opml.export(config)
    if target is None:
        click.echo(data.decode("utf-8"), nl=False)
        return
    from feeds.publish.documents import write_atomic

    write_atomic(target, data)
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

    Feeds whose URL is already configured, non-http(s) URLs and web pages
    ("link" outlines: export writes a type = "html" source so) are skipped,
    each with its reason.
    The file is edited as text (comments and layout stay), checked with the
    config loader, then replaced atomically.

    \b
    Example:
      feeds sources import ~/Downloads/subscriptions.opml
    """
    from feeds import config as config_module
    from feeds.app import opml

    path = config_path or ctx.obj or config_module.default_path()
    config = opml.config_to_import_into(path)  # a broken config is reported before the OPML
    feeds = opml.read_file(opml_file)
    if dry_run:
        text = path.read_bytes().decode("utf-8-sig")
        plan = opml.plan_import(text, config, feeds, where=str(path))
    else:
        plan = opml.apply_import(path, feeds)
    # The URLs are a stranger's text: escaped, so none can forge a line or move the cursor.
    for url, reason in plan.skipped:
        click.echo(f"skipped {printable(url)}: {printable(reason)}", err=True)
    verb = "would add" if dry_run else "added"
    for name, url in plan.added:
        click.echo(f"{verb} {printable(name)}: {printable(url)}")
    if unread := opml.unpublished(plan):
        click.echo(
            f"note: no output reads {', '.join(unread)}: every [[outputs]] lists its sources;"
            " add them to an output's sources to publish them",
            err=True,
        )
    summary = "to add" if dry_run else "added"
    click.echo(f"{len(plan.added)} sources {summary}, {len(plan.skipped)} skipped", err=True)
