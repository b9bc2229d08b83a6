"""``feeds store migrate``: move the store to PostgreSQL, or back to a SQLite file."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from feeds.app.cli_support import config_option, load_config, open_store_for, utc_now
from feeds.core.database_url import shown_url
from feeds.errors import FeedsError, NotAStoreError

if TYPE_CHECKING:
    from feeds.config import Config
    from feeds.store import Storage
    from feeds.store.work_roles import WorkerRegistry


@click.group()
@config_option
@click.pass_context
def store(ctx: click.Context, config_path: Path | None) -> None:
    """The store itself: move it to another database, give deleted space back.

    \b
    Example:
      feeds store migrate --to postgresql://feeds@db.example/feeds
    """
    ctx.obj = config_path


@store.command()
@config_option
@click.option(
    "--to",
    "target",
    required=True,
    metavar="URL|PATH",
    help="The new store: postgresql://user@host/db, a SQLite file's path, or sqlite:///path.",
)
def migrate(config_path: Path | None, target: str) -> None:
    """Copy the configured store, everything in it, into a new empty one.

    Sources and their fetch state, entries with their copies, provenance and signatures,
    tombstones, the article cache, archive pages, pending WebSub pings, counters and hook
    events. Prints the rows of each table on both sides. Exit 2, writing nothing, when the
    target is not empty, or is no file of its own (an SQLite URI, :memory:, one of the
    store's files). A relative path is taken from the config file's folder, as
    [store] path is. Then point [store] at the target.

    \b
    Example:
      feeds store migrate --to postgresql://feeds@db.example/feeds
      feeds store migrate --to state/feeds.db
    """
    from feeds.store import is_postgres_url
    from feeds.store.migrate import migrate as copy_store
    from feeds.store.migrate import sqlite_target

    config = load_config(config_path)
    store = config.store_path if config.store_url is None else None
    base_dir = config.path.resolve().parent if config.path is not None else None
    location = target if is_postgres_url(target) else sqlite_target(target, store, base_dir)
    with open_store_for(config, locked=True) as source:
        refuse_beside_daemons(config, source, "migrate")
        with _empty_or_new(location) as new:
            counts = copy_store(source, new)  # type: ignore[arg-type]
    width = max(len(c.table) for c in counts)
    click.echo(f"{'table':<{width}}  {'source':>9}  {'target':>9}")
    for count in counts:
        click.echo(f"{count.table:<{width}}  {count.source:>9}  {count.target:>9}")
    unequal = [c.table for c in counts if c.source != c.target]
    if unequal:
        raise FeedsError(f"the counts differ in {', '.join(unequal)}")
    click.echo(f"copied into {_shown(location)}: point [store] at it")


def _empty_or_new(location: Path | str) -> Storage:
    """The target store, opened; a database or file that holds something other than a
    store (another application's tables, a file that is no database) is refused as a
    store holding rows is (exit 2; it was exit 1), left as it was."""
    from feeds.store import open_store
    from feeds.store.migrate import MigrationRefused

    try:
        return open_store(location)
    except NotAStoreError as exc:
        raise MigrationRefused(f"{exc}: migrate into a new, empty database or file") from exc


def _shown(location: Path | str) -> str:
    """The file's full path (what to write in [store] path), or the URL without its
    password."""
    return str(location) if isinstance(location, Path) else shown_url(location)


class StoreInUse(FeedsError):
    """Daemons (on PostgreSQL, ``feeds refresh`` runs too) work on the store, which the
    command needs to itself: nothing was done (exit 2)."""

    exit_code = 2


def refuse_beside_daemons(config: Config, store: WorkerRegistry, then: str) -> None:
    """Refuse (exit 2, nothing written) while daemons work on the store: they do not hold
    the refresh lock. ``migrate`` would miss what they save meanwhile, or stop with "the
    counts differ" after writing the target (which then refuses a second try: not empty);
    ``vacuum`` rewrites the whole store while their saves wait, and fail. The docs said
    "stop the daemons first"; the commands now check. On PostgreSQL, where no refresh lock
    keeps them out either, a live `feeds refresh` (cron's) too."""
    from feeds.app.status import live_daemons, patience

    postgres = config.store_url is not None
    live = live_daemons(store, utc_now(), patience(config), refreshes=postgres)
    if live:
        who = "daemons or feeds refresh runs" if postgres else "daemons"
        raise StoreInUse(
            f"{who} are working on this store ({', '.join(w.id for w in live)}):"
            f" stop them first (`feeds status` lists them), then {then}"
        )
