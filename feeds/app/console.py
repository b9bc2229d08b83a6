"""The ``feeds`` console script and ``python -m feeds``: the command line, loaded under a
Ctrl-C guard.

Loading the command line (click and the commands' modules) takes 35 to 75 ms on a busy
machine. A Ctrl-C then, which a user who typed ``feeds refresh`` and thought better of it
sends at once, printed a ``KeyboardInterrupt`` traceback from whichever import it fell in.
This module imports nothing but the standard library's ``signal`` and ``sys``, what the
package has loaded before it (``typing``, ``collections.abc``) and :mod:`~feeds.app.lost_ctrl_c`
(a Ctrl-C that Python only printed, raised again), so that the guard is in place a moment
after Python's own start (which no code of ours can guard).

SIGTERM (``timeout`` from cron, systemd stopping a unit) and SIGHUP (the terminal closed)
stop a command as Ctrl-C does, with their own word and exit status (:func:`stopped`).
"""

from __future__ import annotations

import signal
import sys
from types import FrameType

from feeds.app import lost_ctrl_c
from feeds.app.lost_ctrl_c import CtrlCRaised

__all__ = [
    "CTRL_C",
    "CtrlCRaised",
    "is_ctrl_c",
    "json_typed",
    "main",
    "note_stop",
    "stopped",
    "stopped_json",
]

#: The signals that stop a command as Ctrl-C does, and the word its message says for each:
#: SIGTERM (``timeout`` from cron, systemd stopping a unit), SIGHUP (its terminal closed).
STOPPING = {signal.SIGINT: "interrupted", signal.SIGTERM: "terminated", signal.SIGHUP: "hung up"}


class _Stop:
    """The first of :data:`STOPPING` that reached the command (None: none yet)."""

    signum: int | None = None


def note_stop(signum: int) -> None:
    """Note that ``signum`` stops the command, unless another did first."""
    if _Stop.signum is None:
        _Stop.signum = signum


def stopped() -> tuple[str, int]:
    """What a stopped command says (``interrupted: ...``) and its exit status, 128 plus the
    number of the signal that stopped it, as a shell reports a command a signal ended:
    130 for Ctrl-C (SIGINT), 143 for SIGTERM, 129 for SIGHUP."""
    signum = _Stop.signum or signal.SIGINT
    return f"{STOPPING[signal.Signals(signum)]}: the store and every output are intact", (
        128 + signum
    )


def _ctrl_c(signum: int, frame: FrameType | None) -> None:
    """Ctrl-C while the command line loads."""
    note_stop(signum)
    raise CtrlCRaised(_ctrl_c)


def _as_ctrl_c(signum: int, frame: FrameType | None) -> None:
    """SIGTERM or SIGHUP: the command stops as Ctrl-C stops it, by the SIGINT handler in
    place, so that it is held back as Ctrl-C is while processes are forked
    (:func:`feeds.run.held_ctrl_c.ctrl_c_held`) and a second one stops the command at once.
    A process forked from the command that does not take Ctrl-C (a fetch process ignores
    it) ends as the signal ends a process by default."""
    handler = signal.getsignal(signal.SIGINT)
    if not callable(handler):
        signal.signal(signum, signal.SIG_DFL)
        signal.raise_signal(signum)
        return
    note_stop(signum)
    handler(signal.SIGINT, frame)


#: The signals besides SIGINT that :func:`main` has stop the command (:func:`_as_ctrl_c`).
_OTHERS = (signal.SIGTERM, signal.SIGHUP)

#: What a Ctrl-C can be raised as: ``except CTRL_C as exc``, then :func:`is_ctrl_c`.
CTRL_C = (KeyboardInterrupt, RuntimeError)


def is_ctrl_c(exc: BaseException) -> bool:
    """Whether ``exc`` is a Ctrl-C: a ``KeyboardInterrupt``, or one that Python 3.11 wrapped
    (raised inside a descriptor's ``__set_name__`` while a class is made, ``cached_property``'s
    as a module is imported, it becomes a ``RuntimeError``, "Error calling __set_name__",
    caused by it, and printed a traceback with exit status 1)."""
    if isinstance(exc, RuntimeError):
        return isinstance(exc.__cause__, KeyboardInterrupt)
    return isinstance(exc, KeyboardInterrupt)


def main() -> None:
    """Load the command line and run it; a Ctrl-C while it loads ends the process with the
    message and status of an interrupted command, not a traceback. The commands then
    handle Ctrl-C their own way (Python's default until they do)."""
    previous, hook = signal.signal(signal.SIGINT, _ctrl_c), sys.unraisablehook
    others = {signum: signal.signal(signum, _as_ctrl_c) for signum in _OTHERS}
    sys.unraisablehook = lost_ctrl_c.unraisable_hook(hook)
    try:
        try:
            from feeds.app.cli import main as run
        except CTRL_C as exc:
            if not is_ctrl_c(exc):
                raise
            _interrupted()
        # The guard stays until the command takes Ctrl-C over (its own handler; a Ctrl-C
        # before that is an interrupted command: FeedsGroup.invoke), so that the moments
        # between the import and the command's own handler raise no KeyboardInterrupt of
        # CPython's class. One that comes outside the command (click's own code, before it
        # parses the command line or once the command has returned) is one too.
        try:
            run()
        except CTRL_C as exc:
            if not is_ctrl_c(exc):
                raise
            _interrupted()
    finally:
        for signum, handler in others.items():  # first: none comes as Ctrl-C once it is gone
            signal.signal(signum, handler)
        owed = lost_ctrl_c.settle()
        signal.signal(signal.SIGINT, previous)
        sys.unraisablehook = hook
        if owed:  # a Ctrl-C lost at the command's very end: it did stop, though not early
            _interrupted()


def json_typed(words: list[str]) -> bool:
    """Whether ``--json`` is among the command line's ``words`` (before ``--``): a command
    stopped before click has parsed them was asked for JSON, as far as can be told."""
    return "--json" in (words[: words.index("--")] if "--" in words else words)


def stopped_json() -> str:
    """What a stopped command asked for ``--json`` prints on stdout, as
    :func:`feeds.app.cli_support.error_json` has it (here without the ``json`` module)."""
    message, status = stopped()
    return f'{{\n  "ok": false,\n  "error": "{message}",\n  "exit_status": {status}\n}}\n'


def _interrupted() -> None:
    message, status = stopped()
    try:
        if json_typed(sys.argv[1:]):
            sys.stdout.write(stopped_json())
            sys.stdout.flush()
        sys.stderr.write(f"feeds: {message}\n")
        sys.stderr.flush()
    except OSError:  # a terminal closed (SIGHUP) takes no message
        pass
    raise SystemExit(status) from None
