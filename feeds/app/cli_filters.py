"""``feeds filters test`` (what rules would block, before they are saved) and
``feeds store vacuum`` (give the space of deleted bodies back)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from feeds.app.cli_support import config_option, json_option, load_config, open_store_for, utc_now

if TYPE_CHECKING:
    from feeds.config import Config, OutputConfig
    from feeds.core.filters import RuleSet


@click.group()
@config_option
@click.pass_context
def filters(ctx: click.Context, config_path: Path | None) -> None:
    """Try filter rules on the stored entries (docs/filters.md).

    \b
    Example:
      feeds filters test 'block:category=Press Release'
    """
    ctx.obj = config_path


@filters.command(name="test")
@config_option
@click.option(
    "--source",
    "source",
    metavar="NAME",
    help="Only this source's entries; RULEs replace its rules.",
)
@click.option(
    "--output",
    "output",
    metavar="NAME",
    help="What this output would show; RULEs replace its rules.",
)
@click.option(
    "--limit",
    default=1000,
    show_default=True,
    type=click.IntRange(1, 2**31 - 1),
    help="How many newest stories to try.",
)
@json_option("Print JSON on stdout.")
@click.argument("rules", nargs=-1, metavar="[RULE]...")
def test_rules(
    config_path: Path | None,
    source: str | None,
    output: str | None,
    limit: int,
    as_json: bool,
    rules: tuple[str, ...],
) -> None:
    """List which stored entries a rule set blocks or keeps, before it is saved.

    Without RULEs, the configured rules are tried. RULEs (block:FIELD=PATTERN,
    keep:FIELD=PATTERN, max_age=14d) replace the global [filters] rules, or
    those of --source or --output. Read-only: nothing is published.

    \b
    Example:
      feeds filters test --source wire 'block:title=press release' 'keep:text=/\\$[A-Z]{2,5}\\b/c'
    """
    from feeds.config.filters import parse_cli_rules
    from feeds.run.filtering import output_verdict, store_verdict

    config = load_config(config_path)
    try:
        candidate: RuleSet | None = parse_cli_rules(list(rules)) if rules else None
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    config, chosen = _with_rules(config, candidate, source, output)
    names = [s.name for s in config.sources]
    sources = [source] if source else list(chosen.sources if chosen else names)
    now = utc_now()
    with open_store_for(config, locked=False, create=False) as store:
        entries = store.entries_for_output(sources, limit, config.dedupe)
    rows: list[dict[str, Any]] = []
    for entry in entries:
        if chosen is not None:
            found = output_verdict(config, chosen, entry, entry.source, now)
        else:
            found = store_verdict(config, entry, entry.source, now)
        rows.append(
            {
                "verdict": "block" if found.blocked else "keep",
                "rule": found.rule,
                "source": entry.source,
                "published": entry.published.isoformat(),
                "title": entry.title,
                "link": entry.link,
                "id": entry.id,
            }
        )
    _print(rows, as_json)


def _with_rules(
    config: Config, candidate: RuleSet | None, source: str | None, output: str | None
) -> tuple[Config, OutputConfig | None]:
    """The config with ``candidate`` rules in place, and the output asked for."""
    if source is not None and output is not None:
        # Whose rules would RULEs replace, and would a source the output does not read count?
        raise click.UsageError("give --source or --output, not both")
    if source is not None and source not in {s.name for s in config.sources}:
        raise click.UsageError(f"no source named {source!r}")
    chosen = next((o for o in config.outputs if o.name == output), None)
    if output is not None and chosen is None:
        raise click.UsageError(f"no output named {output!r}")
    if candidate is None:
        return config, chosen
    if chosen is not None:
        chosen = replace(chosen, filters=candidate)
        return replace(
            config, outputs=tuple(chosen if o.name == output else o for o in config.outputs)
        ), chosen
    if source is not None:
        changed = tuple(
            replace(s, filters=candidate) if s.name == source else s for s in config.sources
        )
        return replace(config, sources=changed), None
    return replace(config, filters=candidate), None


def _print(rows: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    for row in rows:
        why = f"  [{row['rule']}]" if row["rule"] else ""
        click.echo(
            f"{row['verdict']:5}  {row['source']}  {row['published'][:10]}  {row['title']}{why}"
        )
    blocked = sum(1 for row in rows if row["verdict"] == "block")
    click.echo(f"{blocked} blocked, {len(rows) - blocked} kept of {len(rows)} stored stories")


@click.command()
@config_option
def vacuum(config_path: Path | None) -> None:
    """Give the space of deleted bodies back to the file system (SQLite VACUUM).

    Retention ([store] keep, max_entries_per_source) deletes old bodies on every
    refresh; the file keeps its size until it is vacuumed (on PostgreSQL, VACUUM FULL
    of the store's tables). Takes the refresh lock; exit 2, doing nothing, while daemons
    work on the store (stop them first).

    \b
    Example:
      feeds store vacuum --config /etc/feeds/config.toml
    """
    from feeds.app.cli_store import refuse_beside_daemons

    config = load_config(config_path)
    with open_store_for(config, locked=True) as opened:
        refuse_beside_daemons(config, opened, "vacuum")
        before, after = opened.vacuum()
    where: object = config.store_path
    if config.store_url is not None:
        from feeds.core.database_url import shown_url

        where = shown_url(config.store_url)
    click.echo(f"{where}: {before:,} bytes before, {after:,} after ({before - after:,} reclaimed)")
