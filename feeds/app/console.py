"""The ``feeds`` console script and ``python -m feeds``: the command line, loaded under a
Ctrl-C guard.

Loading the command line (click and the commands' modules) takes 35 to 75 ms on a busy
machine. A Ctrl-C then, which a user who typed ``feeds refresh`` and thought better of it
sends at once, printed a ``KeyboardInterrupt`` traceback from whichever import it fell in.
This module imports nothing but the standard library's ``signal`` and ``sys`` and what the
package has loaded before it (``typing``, ``collections.abc``), so that the guard is in place a
moment after Python's own start (which no code of ours can guard).

A Ctrl-C that one of feeds' handlers raises where Python can only print an exception (a
weakref's callback, such as those of importlib's module locks, which the garbage collector
runs at any allocation; a ``__del__``) was lost there, and the command went on: it is raised
again at once, where the main thread goes on (:func:`_raised_again`).
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from types import FrameType

__all__ = ["CTRL_C", "CtrlCRaised", "is_ctrl_c", "main"]

#: What a Ctrl-C while the command line loads prints: nothing was opened yet.
INTERRUPTED = "feeds: interrupted: the store and every output are intact\n"

#: The exit status of a command Ctrl-C stopped (:class:`feeds.errors.Interrupted`'s).
INTERRUPTED_STATUS = 130


Handler = Callable[[int, FrameType | None], None]
"""A SIGINT handler of feeds'."""


class CtrlCRaised(KeyboardInterrupt):
    """A Ctrl-C that ``handler`` raised, which raises it again if it is lost. Not
    ``KeyboardInterrupt`` itself: CPython ends a process by SIGINT, whatever its exit
    status, once one of that very class has left code run by ``exec`` (a dataclass's
    methods, made while a module is imported)."""

    def __init__(self, handler: Handler) -> None:
        super().__init__()
        self.handler = handler


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
    sys.unraisablehook = _raised_again(hook)
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
        signal.signal(signal.SIGINT, previous)
        sys.unraisablehook = hook


def _interrupted() -> None:
    sys.stderr.write(INTERRUPTED)
    sys.stderr.flush()
    raise SystemExit(INTERRUPTED_STATUS) from None


def _raised_again(
    hook: Callable[[sys.UnraisableHookArgs], object],
) -> Callable[[sys.UnraisableHookArgs], None]:
    """``sys.unraisablehook`` while the command line runs: a Ctrl-C that Python could only
    print (see the module's doc) is raised again (:func:`_raise_soon`); anything else goes
    to ``hook``."""

    def raised_again(unraisable: sys.UnraisableHookArgs) -> None:
        lost = unraisable.exc_value
        if isinstance(lost, CtrlCRaised):
            _raise_soon(lost.handler)
        else:
            hook(unraisable)

    _HOOKS.add(raised_again.__code__)
    return raised_again


_HOOKS: set[object] = set()
"""The code of the hooks :func:`_raised_again` makes."""


def _raise_soon(handler: Handler) -> None:
    """Have ``handler`` raise its Ctrl-C again in the main thread, out of the hook that found
    it lost: a thread of its own sends SIGINT to the main thread once it has left the hook.
    ``handler`` goes back in place just before it raises: the command's replaces itself with
    the one that stops at once (a second Ctrl-C)."""
    import threading

    def soon(signum: int, frame: FrameType | None) -> None:
        if _inside_a_hook(frame):  # raised here, it would only be printed
            _raise_soon(handler)
            return
        signal.signal(signal.SIGINT, handler)
        handler(signum, frame)

    signal.signal(signal.SIGINT, soon)
    main = threading.main_thread().ident
    threading.Thread(target=_send_out_of_the_hook, args=(main,), daemon=True).start()


def _send_out_of_the_hook(main: int) -> None:
    import time

    while _inside_a_hook(sys._current_frames().get(main)):
        time.sleep(0.001)
    signal.pthread_kill(main, signal.SIGINT)


def _inside_a_hook(frame: FrameType | None) -> bool:
    while frame is not None:
        if frame.f_code in _HOOKS:
            return True
        frame = frame.f_back
    return False
