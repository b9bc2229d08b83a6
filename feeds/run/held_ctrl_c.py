"""Ctrl-C held back while a thread forks processes (fetch processes, the workers' pool).

Ctrl-C reaches every process of the terminal's group; delivered during a fork it was lost,
or killed a process just forked (see :func:`ctrl_c_held`).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

__all__ = ["ctrl_c_held", "deaf_to_ctrl_c"]


@contextlib.contextmanager
def ctrl_c_held() -> Iterator[None]:
    """SIGINT held back while this thread forks fetch processes (or makes the workers' pool).

    Ctrl-C reaches every process of the terminal's group. Delivered during a fork, it raised
    ``KeyboardInterrupt`` inside the fork's handlers (logging's, threading's), which print
    it and go on: the run lost its Ctrl-C and finished, or a process just forked, still
    with the run's handler, printed a traceback and died. Held, it reaches the run once the
    processes are there (so the run stops, and kills them); a process starts with it
    blocked too, and discards it (:func:`deaf_to_ctrl_c`).

    Blocking the signal in this thread is not enough in the main thread: another thread
    (a fetch process's reader) takes it instead, and Python runs the handler in the main
    thread all the same, at its next check for signals. So the main thread's handler is
    replaced first, by one that notes the Ctrl-C, and the handler it replaced gets it on the
    way out (a second one too: the command's stops at once then)."""
    noted = _CtrlCNoted.install()  # a Ctrl-C before it is in place comes as ever
    try:
        held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            yield
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
    finally:
        if noted is not None:
            noted.hand_back()


class _CtrlCNoted:
    """A SIGINT handler in place of ``replaced`` that notes each Ctrl-C and raises nothing."""

    def __init__(self, replaced: Callable[[int, FrameType | None], Any]) -> None:
        self.replaced = replaced
        self.pressed = 0

    @classmethod
    def install(cls) -> _CtrlCNoted | None:
        """In the main thread, in place of a handler of Python's: the noting handler."""
        replaced = signal.getsignal(signal.SIGINT)
        if threading.current_thread() is not threading.main_thread() or not callable(replaced):
            return None
        noted = cls(replaced)
        signal.signal(signal.SIGINT, noted.note)
        return noted

    def note(self, signum: int, frame: FrameType | None) -> None:
        self.pressed += 1

    def hand_back(self) -> None:
        """Put the replaced handler back, and give it the Ctrl-C noted meanwhile; a second
        one to the handler the first put in place, if it put one."""
        signal.signal(signal.SIGINT, self.replaced)
        if not self.pressed:
            return
        try:
            self.replaced(signal.SIGINT, None)
        finally:
            again = signal.getsignal(signal.SIGINT)
            if self.pressed > 1 and callable(again) and again is not self.replaced:
                again(signal.SIGINT, None)


def deaf_to_ctrl_c() -> None:
    """In a fetch process (forked under :func:`ctrl_c_held`): ignore SIGINT, which
    discards one already sent, then unblock it. Ctrl-C reaches the run, which stops us."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
