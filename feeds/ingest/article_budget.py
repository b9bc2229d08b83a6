"""The per-run budget of article pages: how many pages, and how many seconds of fetching,
one run may spend (shared by every source of the run)."""

from __future__ import annotations

import time
from collections.abc import Callable

from feeds.types import FullTextOptions

__all__ = ["Budget"]


class Budget:
    """How many article pages, and how many seconds of fetching, one run may spend.

    Shared by every source of a run. ``clock`` is a monotonic clock in seconds
    (injectable for tests); the seconds start counting at the first page. Once
    ``stopping()`` is true (a daemon told to stop) no page more is taken, and those under
    way are abandoned ``grace`` seconds later: the stop is not held up by them.
    """

    def __init__(
        self,
        options: FullTextOptions,
        clock: Callable[[], float] = time.monotonic,
        stopping: Callable[[], bool] = lambda: False,
        grace: float = 0.0,
    ) -> None:
        self.pages_left = options.max_pages
        self._seconds = options.max_seconds
        self._clock, self._stopping, self._grace = clock, stopping, grace
        self._deadline: float | None = None
        self._stopped_at: float | None = None

    def abandons_pages(self) -> bool:
        """Whether ``grace`` seconds passed since ``stopping()`` was first seen true."""
        if self._stopped_at is None:
            if not self._stopping():
                return False
            self._stopped_at = self._clock()
        return self._clock() >= self._stopped_at + self._grace

    def take(self) -> bool:
        """Spend one page if pages and time are left; False when the budget is spent."""
        if self._stopping():
            return False
        now = self._clock()
        if self._deadline is None:
            self._deadline = now + self._seconds
        if self.pages_left <= 0 or now >= self._deadline:
            return False
        self.pages_left -= 1
        return True

    def out_of_time(self) -> bool:
        """Whether the seconds are spent (reading a page's text counts too: a page that is
        slow to read must not hold the run past them)."""
        return self._deadline is not None and self._clock() >= self._deadline
