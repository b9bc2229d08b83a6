"""A Ctrl-C that Python only printed, raised again.

One of feeds' SIGINT handlers raises :class:`CtrlCRaised`. Raised where Python can only
print an exception (a weakref's callback, such as those of importlib's module locks, which
the garbage collector runs at any allocation; a ``__del__``), it was lost there, and the
command went on. :func:`unraisable_hook` (``sys.unraisablehook`` while the command line
runs) raises it again at once, by the same handler, where the main thread goes on.

It imports nothing that the package has not loaded before it (``threading`` neither, whose
import a Ctrl-C could interrupt): it is in place while the command line loads.
"""

from __future__ import annotations

import _thread
import signal
import sys
import time
from collections.abc import Callable
from types import FrameType

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


class _Lost:
    """The lost Ctrl-C on its way back: owed until its handler raises it; ``sending`` is
    held by the thread that sends it, while that thread lives."""

    owed = False
    sending = _thread.allocate_lock()


def unraisable_hook(
    previous: Callable[[sys.UnraisableHookArgs], object],
) -> Callable[[sys.UnraisableHookArgs], None]:
    """``sys.unraisablehook`` while the command line runs: a lost :class:`CtrlCRaised` is
    raised again (:func:`_raise_soon`); anything else goes to ``previous``."""

    def raised_again(unraisable: sys.UnraisableHookArgs) -> None:
        lost = unraisable.exc_value
        if isinstance(lost, CtrlCRaised):
            _raise_soon(lost.handler)
        else:
            previous(unraisable)

    return raised_again


_HOOK = unraisable_hook(print).__code__
"""The code of every hook :func:`unraisable_hook` makes (one function, many closures)."""


def _raise_soon(handler: Handler) -> None:
    """Have ``handler`` raise its Ctrl-C again (called in the main thread), once the main
    thread has left the hook that found it lost, and any import (:func:`_unsafe`): a thread
    of its own sends SIGINT to the main thread then. Until it comes, the handler in place
    takes it only there, and puts ``handler`` back first: the command's replaces itself with
    the one that stops at once (a second Ctrl-C)."""

    def soon(signum: int, frame: FrameType | None) -> None:
        if _unsafe(frame):
            _raise_soon(handler)
            return
        _Lost.owed = False
        signal.signal(signal.SIGINT, handler)
        handler(signum, frame)

    signal.signal(signal.SIGINT, soon)  # first: a Ctrl-C from here on is not lost
    _Lost.owed = True
    _thread.start_new_thread(_send_out_of_the_hook, (_thread.get_ident(),))


def _send_out_of_the_hook(main: int) -> None:
    with _Lost.sending:
        while _unsafe(sys._current_frames().get(main)):
            time.sleep(0.001)
        if _Lost.owed:
            signal.pthread_kill(main, signal.SIGINT)


def _unsafe(frame: FrameType | None) -> bool:
    """Whether a Ctrl-C raised at ``frame`` could be lost again (inside the hook) or leave
    the import system locked (inside importlib's own code, whose module locks' callbacks
    take its lock first and release it in a ``finally`` after)."""
    while frame is not None:
        if frame.f_code is _HOOK or frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


def settle() -> bool:
    """End a lost Ctrl-C's way back, before the command line's handler goes (in the main
    thread): whether one was still owed, the command having ended first. Its SIGINT, sent
    or not, is not delivered then: after the command, Python's own handler would raise it
    as the interpreter exits."""
    if not (_Lost.owed or _Lost.sending.locked()):
        return False
    held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    owed, _Lost.owed = _Lost.owed, False
    with _Lost.sending:  # its thread has sent what it sends
        pass
    if owed and signal.SIGINT in signal.sigpending():
        signal.sigwait({signal.SIGINT})
    signal.pthread_sigmask(signal.SIG_SETMASK, held)
    return owed
