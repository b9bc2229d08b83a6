"""What every command of the command line shares: the group that turns a
:class:`~feeds.errors.FeedsError` into a message and its exit status (the one place the
command line exits with an error), ``--config``, loading the config, opening the store."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, TypeVar

import click

from feeds.app.console import (
    CTRL_C,
    CtrlCRaised,
    is_ctrl_c,
    json_typed,
    note_stop,
    stopped,
    stopped_json,
)
from feeds.errors import ConfigError, FeedsError, Interrupted

if TYPE_CHECKING:
    from feeds.config import Config
    from feeds.run.refresh import OutputReport
    from feeds.store.protocol import Storage

F = TypeVar("F", bound=Callable[..., Any])


def utc_now() -> datetime:
    return datetime.now(UTC)


class CommandFailed(FeedsError):
    """The command finished but something failed (exit 1); each failure is printed already."""

    def __init__(self) -> None:
        super().__init__("")


def print_error(exc: FeedsError) -> None:
    if isinstance(exc, ConfigError):
        where = f"{exc.path}: " if exc.path else ""
        click.echo(f"feeds: configuration error in {where or 'config'}".rstrip(": "), err=True)
        for problem in exc.problems:
            click.echo(f"  {problem}", err=True)
    elif str(exc):
        click.echo(f"feeds: {exc}", err=True)


class CtrlC(CtrlCRaised):
    """Ctrl-C, as :func:`stopped_by_ctrl_c` raises it. CPython notes a ``KeyboardInterrupt``
    of that very class that leaves code run by ``exec`` of a string (the methods of a
    dataclass, made while a module is imported), and however the process then exits, it
    ends it by SIGINT at the last moment: not with the exit status 130 promised."""


@contextmanager
def stopped_by_ctrl_c() -> Iterator[None]:
    """Ctrl-C stops the command inside: the ``KeyboardInterrupt`` unwinds it (fetching stops
    at once, see :func:`feeds.run.executor.stream`; the open transaction is rolled back) and
    becomes :class:`~feeds.errors.Interrupted`, exit status 130. A second Ctrl-C while it
    stops ends the process there: the store (SQLite's journal, PostgreSQL's transaction) and
    the outputs (each replaced whole) stay intact, and the lock goes with the process.
    SIGTERM and SIGHUP come as Ctrl-C (:mod:`feeds.app.console`), exit status 143 and 129."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread gets signals
        return

    def again(signum: int, frame: FrameType | None) -> None:
        word = stopped()[0].partition(":")[0]
        with suppress(OSError):  # a terminal closed (SIGHUP) takes no message
            os.write(2, f"feeds: {word} again: stopped at once\n".encode())
        os._exit(stopped()[1])

    def first(signum: int, frame: FrameType | None) -> None:
        note_stop(signum)
        signal.signal(signal.SIGINT, again)
        raise CtrlC(first)

    previous = signal.signal(signal.SIGINT, first)
    try:
        yield
    except CTRL_C as exc:
        if not is_ctrl_c(exc):
            raise
        raise Interrupted(*stopped()) from None
    finally:
        signal.signal(signal.SIGINT, previous)


#: ``ctx.meta`` key set by :func:`json_option`: the command was asked for JSON.
JSON_ASKED = "feeds.json"


def json_option(help_text: str) -> Callable[[F], F]:
    """``--json``: the command prints JSON on stdout, its error too (:func:`error_json`)."""

    def remember(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
        if value:
            ctx.meta[JSON_ASKED] = True
        return value

    return click.option("--json", "as_json", is_flag=True, help=help_text, callback=remember)


def error_json(message: str, exit_status: int, problems: tuple[str, ...] = ()) -> str:
    """What a ``--json`` command prints on stdout when it stops with an error, as well as
    the message on stderr: ``{"ok": false, "error": ..., "exit_status": ...}`` (and a bad
    config's ``problems``), so that a script reading stdout never gets plain text or
    nothing."""
    found: dict[str, object] = {"ok": False, "error": message, "exit_status": exit_status}
    if problems:
        found["problems"] = list(problems)
    return json.dumps(found, indent=2, ensure_ascii=False)


#: ``ctx.meta`` key set by :meth:`FeedsGroup.make_context`: ``--json`` is among the words of
#: the command line (before ``--``), parsed or not.
JSON_TYPED = "feeds.json-typed"


def _asked_for_json(ctx: click.Context, exc: FeedsError | click.ClickException) -> bool:
    """Whether the command was asked for JSON: its ``--json`` parsed, or, for a command line
    that click could not parse (an unknown option, a missing value, a bad choice: the
    option's callback never ran), ``--json`` typed to a command that has it."""
    if ctx.meta.get(JSON_ASKED):
        return True
    if not ctx.meta.get(JSON_TYPED) or not isinstance(exc, click.ClickException):
        return False
    failed = exc.ctx if isinstance(exc, click.UsageError) else None
    # an option without its value names no command: the --json typed is taken at its word
    return failed is None or any(param.name == "as_json" for param in failed.command.params)


def _echo_error_json(ctx: click.Context, exc: FeedsError | click.ClickException) -> None:
    """The error as JSON on stdout, when the command was asked for JSON. Not for
    :class:`CommandFailed`: that command printed its report (``"ok": false``) already."""
    if not _asked_for_json(ctx, exc) or isinstance(exc, CommandFailed):
        return
    if isinstance(exc, click.ClickException):
        click.echo(error_json(exc.format_message(), exc.exit_code))
    else:
        problems = exc.problems if isinstance(exc, ConfigError) else ()
        click.echo(error_json(str(exc), exc.exit_code, problems))


class FeedsGroup(click.Group):
    """The one place a :class:`FeedsError` becomes a message on stderr and its exit status
    (and, for a command asked for ``--json``, a JSON object on stdout)."""

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        """The group's context, its arguments parsed; Ctrl-C meanwhile (a busy machine's
        moment between loading the command line and running a command) is an interrupted
        command, as in :meth:`invoke`, not click's "Aborted!" (exit 1)."""
        try:
            ctx = super().make_context(info_name, args, parent, **extra)
        except CTRL_C as exc:
            if not is_ctrl_c(exc):
                raise
            raise click.exceptions.Exit(_interrupted(typed=json_typed(args))) from None
        if json_typed(args):
            ctx.meta[JSON_TYPED] = True
        return ctx

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except FeedsError as exc:
            with suppress(OSError):  # a closed terminal (SIGHUP) takes no message: its status
                print_error(exc)
                _echo_error_json(ctx, exc)
            ctx.exit(exc.exit_code)
        except click.ClickException as exc:  # a usage error: click prints it, exit 2
            _echo_error_json(ctx, exc)
            raise
        except CTRL_C as exc:
            # Ctrl-C before the command took it over (stopped_by_ctrl_c): nothing was
            # opened yet, an interrupted command (exit 130), not click's "Aborted!" (exit 1).
            if not is_ctrl_c(exc):
                raise
            ctx.exit(_interrupted(ctx))


def _interrupted(ctx: click.Context | None = None, *, typed: bool = False) -> int:
    """Say that a command was interrupted before it opened anything (as JSON too, if
    ``ctx``'s command was asked for it, or ``--json`` was ``typed`` to a command line not
    parsed yet); its exit status."""
    interrupted = Interrupted(*stopped())
    with suppress(OSError):  # a terminal closed (SIGHUP) takes no message
        if typed:
            click.echo(stopped_json(), nl=False)
        print_error(interrupted)
        if ctx is not None:
            _echo_error_json(ctx, interrupted)
    return interrupted.exit_code


def config_option(func: F) -> F:
    """``--config PATH`` (default ``$FEEDS_CONFIG`` or ``./config.toml``)."""
    return click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Config file [default: $FEEDS_CONFIG or ./config.toml].",
    )(func)


def load_config(config_path: Path | None) -> Config:
    """The config at ``config_path``, else at the ``--config`` given to the command's group
    (``feeds store --config PATH vacuum``), else the default."""
    from feeds import config as config_module

    ctx = click.get_current_context(silent=True)
    group_path = ctx.obj if ctx is not None and isinstance(ctx.obj, Path) else None
    return config_module.load(config_path or group_path or config_module.default_path())


@contextmanager
def open_store_for(config: Config, *, locked: bool, create: bool = True) -> Iterator[Storage]:
    """Open the store, under the refresh lock when ``locked`` (for writing); without
    ``create`` (a command that only reads it), a SQLite file not there yet is not made."""
    from feeds.store import open_store
    from feeds.store.lock import refresh_lock

    # A PostgreSQL store is shared by several processes and machines: no lock file beside
    # a local path keeps them apart; claiming sources does (SourceRegistry.claim_due).
    if locked and config.store_url is None:
        with (
            refresh_lock(
                config.store_path,
                config.lock_timeout,
                role=_command_name(),
                on_wait=_say_on_a_terminal,
            ),
            open_store(config.store_path) as store,
        ):
            yield store
    else:
        with open_store(config.store_location, create=create) as store:
            yield store


def _say_on_a_terminal(message: str) -> None:
    """``feeds: MESSAGE`` on stderr when it is a terminal: an admin's command that waits for
    the store's lock says for whom, while cron's (a refresh behind another) stays quiet."""
    if sys.stderr.isatty():
        click.echo(f"feeds: {message}", err=True)


def _command_name() -> str:
    """The running command, as typed after ``feeds`` (``store vacuum``); ``refresh`` outside
    the command line. The lock file names it, for a command that waits for it in vain."""
    ctx = click.get_current_context(silent=True)
    names: list[str] = []
    while ctx is not None and ctx.parent is not None:
        names.append(ctx.info_name or "")
        ctx = ctx.parent
    return " ".join(reversed(names)) or "refresh"


def as_feeds_main() -> None:
    """Name the console script's module as ``feeds.__main__``, which it stands for.

    A worker that multiprocessing's fork server (or ``spawn``) starts imports the main module
    of the process that started it, by its name, or by its file when it has no name: the
    console script, which imports this CLI (click and 120 modules, 4.5 MiB in each of a cold
    run's workers, which never use them). A main module named ``<package>.__main__`` is not
    imported again (``python -m feeds`` is named so already)."""
    module = sys.modules.get("__main__")
    if module is not None and getattr(module, "__spec__", None) is None:
        module.__spec__ = importlib.util.find_spec("feeds.__main__")


def note_missing_urls(config: Config, show: bool) -> None:
    """The notice that some outputs have no public URL, when ``show``."""
    from feeds.config import no_url_notice

    notice = no_url_notice(config.outputs)
    if notice and show:
        click.echo(notice)


def warn_pings(output: OutputReport) -> None:
    """A failed WebSub ping is a warning: the files are published, the ping is retried."""
    for error in output.ping_errors:
        click.echo(f"output {output.name}: WebSub ping failed (will retry): {error}", err=True)
