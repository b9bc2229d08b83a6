"""Publishing: every output rebuilt from the store, unless nothing it shows changed."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from feeds.config import Config, OutputConfig
from feeds.errors import PublishError, StoreError, describe
from feeds.publish import websub
from feeds.run.filtering import acceptor, shortest_age
from feeds.run.fingerprint import output_fingerprint
from feeds.run.reports import OutputReport
from feeds.run.tally import Tally, timed
from feeds.store.protocol import Storage
from feeds.store.values import StoryKey
from feeds.types import StoredEntry

if TYPE_CHECKING:
    from feeds.publish.archive import Page

log = logging.getLogger("feeds.refresh")


def _file_marks(output: OutputConfig) -> dict[str, list[int] | None]:
    """Size and modification time of each document an output writes (None: missing)."""
    marks: dict[str, list[int] | None] = {}
    for fmt in output.formats:
        path = output.format_path(fmt)
        try:
            info = path.stat()
        except OSError:
            marks[str(path)] = None
        else:
            marks[str(path)] = [info.st_size, info.st_mtime_ns]
    return marks


def _unchanged_output(
    store: Storage, output: OutputConfig, marks: tuple[int, str], now: datetime
) -> OutputReport | None:
    """The report of an output that needs no rebuilding (see :func:`publish_all`), or None."""
    if output.archive:
        return None
    state = store.published_state(output.name)
    generation, fingerprint = marks
    if (
        state is None
        or state.get("generation") != generation
        or state.get("fingerprint") != fingerprint
        or now.timestamp() >= float(state.get("expires") or "inf")
    ):
        return None
    files = _file_marks(output)
    if state.get("files") != files or any(mark is None for mark in files.values()):
        return None
    return OutputReport(name=output.name, path=str(output.path), entries=int(state["entries"]))


def publish_all(
    config: Config,
    store: Storage,
    *,
    poster: websub.Poster | None = None,
    now: datetime | None = None,
    force: bool = False,
) -> tuple[OutputReport, ...]:
    """Rebuild every output from the store; one failing output does not stop the others.

    An output is left as it is when nothing it shows can have changed since it was
    published: the store's generation (:meth:`~feeds.store.protocol.PublishState.generation`),
    the configuration and the code are what they were then, and its files are still the ones
    written (same size and modification time), and no entry it shows is past a ``max_age``
    rule yet. ``force`` rebuilds it anyway, every archive page included (each is written
    only if its bytes differ: a page damaged since is repaired). An output with archive
    pages is always rebuilt (its pages keep their own record of what changed).

    Then deliver the pending WebSub pings with ``poster`` (none are sent without
    one, nor to a host the store or ``poster`` holds; they stay pending). ``now`` dates
    newly queued pings.

    The stories read keep their ids from then on (``store.mark_seen()``, in the transaction
    that reads them). The mark is committed first in a transaction of its own too: the files
    are written before the reading transaction ends, and a store that fails on a later
    output undoes that transaction, not the files already written. A store error stops
    publishing and is raised once what the outputs before it wrote is committed (their
    records and WebSub pings: their files are written).
    """
    reports: list[OutputReport] = []
    generation = store.generation()  # read first: a change made while publishing moves it on
    clock = now if now is not None else datetime.now(UTC)  # what max_age rules count from
    with store.transaction():  # committed before any file is written
        store.mark_seen()
    failed: StoreError | None = None
    with store.transaction():  # no story read here changes its id afterwards
        store.mark_seen()  # (and the copies saved since: PostgreSQL's workers save meanwhile)
        for output in config.outputs:
            started = time.monotonic()
            marks = (generation, output_fingerprint(config, output))
            kept = None if force else _unchanged_output(store, output, marks, clock)
            try:
                report = (
                    kept
                    if kept is not None
                    else _output(config, store, output, (now, clock), marks, force=force)
                )
            except StoreError as exc:  # the others wait; what the ones before wrote is kept
                failed = exc
                break
            reports.append(report if kept is not None else timed(report, started))
    if failed is not None:
        raise failed
    tally = Tally()
    tally.outputs(reports, now.timestamp() if now is not None else time.time())
    tally.save(store)
    if poster is None:
        return tuple(reports)
    poster.holds.keep(store.host_holds(clock))  # every worker's: a held hub gets no ping
    return _deliver_pings(config, store, poster, reports)


def _output(
    config: Config,
    store: Storage,
    output: OutputConfig,
    times: tuple[datetime | None, datetime],
    marks: tuple[int, str],
    *,
    force: bool = False,
) -> OutputReport:
    """:func:`_publish_output`, or its error as the output's report."""
    try:
        return _publish_output(config, store, output, times, marks, force=force)
    except PublishError as exc:
        return OutputReport(name=output.name, path=str(output.path), error=str(exc))
    except StoreError:
        raise
    except Exception as exc:  # a bug: this output's error, the others are published
        log.info("output %s: %s", output.name, describe(exc), exc_info=exc)
        return OutputReport(name=output.name, path=str(output.path), error=describe(exc))


def _minted_atom_ids(
    store: Storage, output: OutputConfig, index: list[StoryKey], entries: list[StoredEntry]
) -> dict[str, str]:
    """The ``tag:`` ids of the output's stories whose stored id writes another's Atom id,
    decided over its whole story index (:func:`feeds.publish.atom.minted_atom_ids`), one id
    per story in every document. Only a story whose stored id is not the Atom id it writes
    can get one, so an output without archive pages reads its index (30,000 stories: 9 MiB
    and 0.2 s a publish) only when its documents hold such a story."""
    from feeds.publish.atom import minted_atom_ids, writes_its_own_id

    if "atom" not in output.formats:
        return {}
    if not output.archive:
        if all(writes_its_own_id(entry.id) for entry in entries):
            return {}
        index = store.story_index(output.sources)
    return minted_atom_ids(key.id for key in index)


def _publish_output(
    config: Config,
    store: Storage,
    output: OutputConfig,
    times: tuple[datetime | None, datetime],
    marks: tuple[int, str],
    *,
    force: bool = False,
) -> OutputReport:
    """Write one output's archive pages and documents; record what they were made from
    (``marks``: the store's generation and the output's fingerprint). ``times``: ``now``
    for WebSub pings (None: queue none) and the time filter rules count ages from;
    ``force``: render every archive page, not only those whose stories changed."""
    from feeds.publish import archive
    from feeds.publish.documents import publish

    now, clock = times
    accept = acceptor(config, output, clock)
    index = store.story_index(output.sources) if output.archive else []
    entries = store.entries_for_output(output.sources, output.max_entries, config.dedupe, accept)
    atom_ids = _minted_atom_ids(store, output, index, entries)
    pages = _planned_pages(store, config, output, accept, index, atom_ids)
    changed: list[str] = []  # the documents written so far, whatever happens next
    try:
        with store.transaction():
            # The archive pages first: the subscription documents link to the last of them,
            # so a page that fails its check leaves them as they were, never linking to a
            # page that is not there; and pages no longer needed go last, once no document
            # links to them.
            written_pages = archive.publish_archives(
                output, store, pages, config.dedupe, accept, atom_ids, every_page=force
            )
            result = publish(
                output,
                entries,
                archive_pages=pages[-1].number if pages else 0,
                atom_ids=atom_ids,
                on_written=changed.append,
            )
            archive.remove_stale_pages(output, store, pages)
            if now is not None:
                websub.queue(store, output, result.written_formats, now)
            expires = _expires(config, output, entries)
            _record(store, output, marks, result.entries, expires, pages)
    except PublishError:
        # A document written before another failed has changed all the same, and the next
        # run finds it as it would write it: its hub hears of it now or never.
        if now is not None and changed:
            with store.transaction():
                websub.queue(store, output, changed, now)
        raise
    return OutputReport(
        name=result.name,
        path=str(result.path),
        entries=result.entries,
        written=result.written,
        archive_pages=written_pages,
    )


def _planned_pages(
    store: Storage,
    config: Config,
    output: OutputConfig,
    accept: Callable[[StoredEntry], bool] | None,
    index: list[StoryKey],
    atom_ids: dict[str, str],
) -> list[Page]:
    """The archive pages of ``output`` (none without ``archive``) over the stories of its
    ``index`` that the filter rules (``accept``) let it publish, each page where it began
    when last published (:func:`~feeds.publish.archive.plan`)."""
    from feeds.publish import archive

    if not output.archive:
        return []
    starts = archive.recorded_starts(store.published_state(output.name), output.page_size)
    return archive.plan(output, _accepted(store, index, output, config, accept), atom_ids, starts)


def _record(
    store: Storage,
    output: OutputConfig,
    marks: tuple[int, str],
    entries: int,
    expires: float | None,
    pages: list[Page],
) -> None:
    """What ``output``, just written with ``entries`` entries, was made from (``marks``: the
    store's generation and its fingerprint), its files as written, when an entry it
    shows passes a ``max_age`` rule (see :func:`_unchanged_output`), and where its archive
    pages begin (see :func:`~feeds.publish.archive.recorded_starts`)."""
    from feeds.publish import archive

    generation, fingerprint = marks
    state: dict[str, object] = {
        "generation": generation,
        "fingerprint": fingerprint,
        "entries": entries,
        "files": _file_marks(output),
        "expires": expires,
    }
    if output.archive:
        state["archive_starts"] = archive.starts_record(pages, output.page_size)
    store.record_published(output.name, state)


def _accepted(
    store: Storage,
    index: list[StoryKey],
    output: OutputConfig,
    config: Config,
    accept: Callable[[StoredEntry], bool] | None,
) -> list[StoryKey]:
    """The stories of ``index`` that the filter rules let ``output`` publish."""
    if accept is None:
        return index
    kept: set[str] = set()
    for start in range(0, len(index), 500):
        ids = [key.id for key in index[start : start + 500]]
        kept.update(e.id for e in store.stories(ids, output.sources, config.dedupe, accept))
    return [key for key in index if key.id in kept]


def _expires(config: Config, output: OutputConfig, entries: list[StoredEntry]) -> float | None:
    """When the oldest entry published may pass a ``max_age`` rule (a Unix time), so the
    output is rebuilt then even if nothing else changed (None: no such rule)."""
    age = shortest_age(config, output)
    if age is None or not entries:
        return None
    return (min(e.published for e in entries) + age).timestamp()


def aged_at(config: Config, store: Storage) -> datetime | None:
    """When the first of ``config``'s outputs as last published shows an entry past a
    ``max_age`` rule (its rebuild is due then, though nothing else changed); None: none will."""
    times = []
    for output in config.outputs:
        state = store.published_state(output.name)
        if state is not None and state.get("expires") is not None:
            times.append(float(state["expires"]))
    return datetime.fromtimestamp(min(times), UTC) if times else None


def _deliver_pings(
    config: Config, store: Storage, poster: websub.Poster, reports: list[OutputReport]
) -> tuple[OutputReport, ...]:
    """Deliver the pending WebSub pings; each output's report lists its failed ones."""
    failed: dict[str, list[str]] = {}
    for ping in websub.deliver(store, poster, config.outputs):
        if not ping.ok:
            for output in config.outputs:
                if output.hub == ping.hub:
                    failed.setdefault(output.name, []).append(f"{ping.topic}: {ping.error}")
    return tuple(replace(r, ping_errors=tuple(failed.get(r.name, ()))) for r in reports)
