"""Publishing: every output rebuilt from the store, unless nothing it shows changed."""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from datetime import datetime

from feeds.config import Config, OutputConfig
from feeds.errors import PublishError, StoreError, describe
from feeds.publish import websub
from feeds.run.fingerprint import output_fingerprint
from feeds.run.reports import OutputReport
from feeds.run.tally import Tally, timed
from feeds.store.protocol import Storage

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
    store: Storage, output: OutputConfig, generation: int, fingerprint: str
) -> OutputReport | None:
    """The report of an output that needs no rebuilding (see :func:`publish_all`), or None."""
    if output.archive:
        return None
    state = store.published_state(output.name)
    if (
        state is None
        or state.get("generation") != generation
        or state.get("fingerprint") != fingerprint
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
    written (same size and modification time). ``force`` rebuilds it anyway. An output with archive
    pages is always rebuilt (its pages keep their own record of what changed).

    Then deliver the pending WebSub pings with ``poster`` (none are sent without
    one; they stay pending). ``now`` dates newly queued pings.
    """
    reports: list[OutputReport] = []
    generation = store.generation()  # read first: a change made while publishing moves it on
    for output in config.outputs:
        started = time.monotonic()
        fingerprint = output_fingerprint(config, output)
        kept = None if force else _unchanged_output(store, output, generation, fingerprint)
        if kept is not None:
            reports.append(kept)
            continue
        try:
            report = _publish_output(config, store, output, now, (generation, fingerprint))
        except PublishError as exc:
            report = OutputReport(name=output.name, path=str(output.path), error=str(exc))
        except StoreError:
            raise
        except Exception as exc:  # a bug: this output's error, the others are published
            log.info("output %s: %s", output.name, describe(exc), exc_info=exc)
            report = OutputReport(name=output.name, path=str(output.path), error=describe(exc))
        reports.append(timed(report, started))
    tally = Tally()
    tally.outputs(reports, now.timestamp() if now is not None else time.time())
    tally.save(store)
    if poster is None:
        return tuple(reports)
    return _deliver_pings(config, store, poster, reports)


def _publish_output(
    config: Config,
    store: Storage,
    output: OutputConfig,
    now: datetime | None,
    marks: tuple[int, str],
) -> OutputReport:
    """Write one output's documents and archive pages; record what they were made from
    (``marks``: the store's generation and the output's fingerprint)."""
    from feeds.publish import archive
    from feeds.publish.documents import publish

    generation, fingerprint = marks
    pages: list[archive.Page] = []
    if output.archive:
        pages = archive.plan(output, store.story_index(output.sources))
    entries = store.entries_for_output(output.sources, output.max_entries, config.dedupe)
    result = publish(output, entries, archive_pages=len(pages))
    with store.transaction():
        written_pages = archive.publish_archives(output, store, pages, config.dedupe)
        if now is not None:
            websub.queue(store, output, result.written_formats, now)
        store.record_published(
            output.name,
            {
                "generation": generation,
                "fingerprint": fingerprint,
                "entries": result.entries,
                "files": _file_marks(output),
            },
        )
    return OutputReport(
        name=result.name,
        path=str(result.path),
        entries=result.entries,
        written=result.written,
        archive_pages=written_pages,
    )


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
