"""The ``feeds`` console script and ``python -m feeds``: the command line, loaded under a
Ctrl-C guard.

Loading the command line (click and the commands' modules) takes 35 to 75 ms on a busy
machine. A Ctrl-C then, which a user who typed ``feeds refresh`` and thought better of it
sends at once, printed a ``KeyboardInterrupt`` traceback from whichever import it fell in.
This module imports nothing but the standard library's ``signal`` and ``sys``, what the
package has loaded before it (``typing``, ``collections.abc``) and :mod:`~feeds.app.lost_ctrl_c`
(a Ctrl-C that Python only printed, raised again), so that the guard is in place a moment
after Python's own start (which no code of ours can guard).
"""

from __future__ import annotations

import signal
import sys
from types import FrameType

from feeds.app import lost_ctrl_c
from feeds.app.lost_ctrl_c import CtrlCRaised

__all__ = ["CTRL_C", "CtrlCRaised", "is_ctrl_c", "main"]

#: What a Ctrl-C while the command line loads prints: nothing was opened yet.
INTERRUPTED = "feeds: interrupted: the store and every output are intact\n"

#: The exit status of a command Ctrl-C stopped (:class:`feeds.errors.Interrupted`'s).
INTERRUPTED_STATUS = 130


def _ctrl_c(signum: int, frame: FrameType | None) -> None:
    """Ctrl-C while the command line loads."""
    raise CtrlCRaised(_ctrl_c)


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
        owed = lost_ctrl_c.settle()
        signal.signal(signal.SIGINT, previous)
        sys.unraisablehook = hook
        if owed:  # a Ctrl-C lost at the command's very end: it did stop, though not early
            _interrupted()


def _interrupted() -> None:
    sys.stderr.write(INTERRUPTED)
    sys.stderr.flush()
    raise SystemExit(INTERRUPTED_STATUS) from None
