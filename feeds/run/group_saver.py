"""Saving a run's fetched sources in groups: one transaction per group, a savepoint per
source, each source released with its next due time at its group's commit."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from datetime import datetime

from feeds.config import SourceConfig
from feeds.errors import FetchError, HostHeldError
from feeds.ingest.fetch import PageFetcher
from feeds.ingest.kinds import Postponed, kind_of
from feeds.ingest.prepare import Job, Prepared
from feeds.run.fetch_processes import FetchProcesses
from feeds.run.hooks import draft_events
from feeds.run.reports import SourceReport
from feeds.run.save_source import Run, save_or_fail
from feeds.run.shared_holds import SharedHolds
from feeds.run.tally import Tally
from feeds.types import FetchRequest, FetchResult, SourceState

__all__ = ["GROUP_ENTRIES", "GROUP_SOURCES", "GroupSaver"]

#: A refresh commits its saves after this many sources, or once they hold this many entries.
#: Each commit writes again every index and LSH page its group changed, and the commits that
#: checkpoint the WAL wait for the disk: 2,000 entries to a group write a sixth to a fifth
#: fewer bytes than 1,000 in a cold refresh, for 0.2 MiB more held by the open transaction
#: (bench/RESULTS.md, the thirty-sixth session).
GROUP_SOURCES = 200
GROUP_ENTRIES = 2000


class GroupSaver:
    """Saves the fetched sources in groups of up to ``GROUP_SOURCES`` sources or
    ``GROUP_ENTRIES`` entries: one transaction per group, a savepoint per source (all of a
    source or none of it).

    A commit writes every page the transaction touched, and new entries touch index pages
    all over the store (the LSH bands are random keys): a commit per source would write most
    of them once per source. A crash loses the open group only; its sources stay due (their
    validators were not saved either). A source that fetches pages (articles, a section
    page's feed) while being saved is saved on its own, and while a server keeps us waiting
    what is saved is committed: the write lock is not held across network waits (`feeds
    drop`, `feeds enable` would wait on it).
    """

    def __init__(
        self,
        run: Run,
        wanted: list[SourceConfig],
        states: dict[str, SourceState],
        stack: ExitStack,
        tally: Tally,
        report: Callable[[SourceReport], None],
        worker: str,
    ) -> None:
        self.run, self.wanted, self.states, self.tally, self.report = (
            run,
            wanted,
            states,
            tally,
            report,
        )
        self.worker = worker
        self.requests: list[FetchRequest] = [kind_of(s).request(s, states[s.name]) for s in wanted]
        self.group = stack.enter_context(ExitStack())
        self.sources = 0  # in the open group
        self.entries = 0
        self.releases: list[tuple[str, datetime | None]] = []  # the open group's sources
        # When a host is free for others once its last source is saved (None: at the end).
        self.free_hosts: Callable[[], datetime | None] = lambda: None
        # When a save is done, as the store's record of the worker's last activity: the
        # hosts of a run killed after it stay held min_host_delay from then.
        self.clock: Callable[[], datetime] = lambda: run.now
        # The store's host holds and the run's, kept in step as it commits (None: not).
        self.holds: SharedHolds | None = None

    def add(
        self, sources: Sequence[SourceConfig], states: dict[str, SourceState]
    ) -> dict[int, FetchRequest]:
        """Save ``sources`` too (their ``states`` as claimed): their requests, by index."""
        start = len(self.wanted)
        self.states.update(states)
        self.wanted.extend(sources)
        self.requests.extend(kind_of(s).request(s, self.states[s.name]) for s in sources)
        return {i: self.requests[i] for i in range(start, len(self.wanted))}

    def job_for(self, i: int, outcome: FetchResult) -> Job | None:
        source = self.wanted[i]
        return kind_of(source).job(self.run.store, source, outcome, self.run.now)

    def use_pages(self, pages: PageFetcher) -> None:
        self.run.fetcher = pages
        if self.holds is not None and isinstance(pages, FetchProcesses):
            self.holds.processes = pages

    def commit(self) -> None:
        self.group.close()
        self.sources = self.entries = 0
        if self.holds is not None:  # outside the group's transaction: seen at once
            self.holds.keep_up(self.clock())

    def save(self, i: int, outcome: FetchResult | FetchError, ready: Prepared | None) -> None:
        source = self.wanted[i]
        alone = (
            isinstance(outcome, FetchResult)
            and outcome.content is not None
            and (ready is None or ready.page_feed_urls is not None or any(ready.wants_full_text))
        )
        if alone or self.sources >= GROUP_SOURCES or self.entries >= GROUP_ENTRIES:
            self.commit()
        if not alone:
            if not self.sources:
                self.group.enter_context(self.run.store.transaction())
                self.group.enter_context(self._releasing())
            self.sources += 1
            self.entries += len(ready.cleaned) if ready is not None else 0
        if not isinstance(outcome, HostHeldError):  # a deferred source sent nothing
            self.tally.fetched(outcome)
        state = self.states[source.name]
        try:
            saved = save_or_fail(self.run, source, state, self.requests[i], outcome, ready)
        except Postponed:  # a stopping daemon's: left leased, released as due as it was
            return
        store = self.run.store
        if alone:  # saved in transactions of its own: its draft goes with its release
            with store.transaction():
                draft_events(self.run.config, store, saved, self.worker, self.run.now)
                store.release_source(
                    source.name,
                    self.worker,
                    saved.next_due,
                    self.clock(),
                    free_hosts_at=self.free_hosts(),
                )
        else:  # at the group's commit, in its transaction: saved and released together
            draft_events(self.run.config, store, saved, self.worker, self.run.now)
            self.releases.append((source.name, saved.next_due))
        self.report(saved)

    @contextmanager
    def _releasing(self) -> Iterator[None]:
        """Release the group's sources when it ends well (before its commit); on an error
        the transaction is rolled back, their saves with it, and they stay leased."""
        try:
            yield
            free = self.free_hosts()
            self.run.store.release_sources(
                self.worker, self.releases, self.clock(), free_hosts_at=free
            )
        finally:
            self.releases = []
