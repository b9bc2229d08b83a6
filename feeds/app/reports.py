"""What the commands print about a refresh, a publish and a drop: JSON for machines and
the one-line summaries for people."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from feeds.app.provenance import Dropped
    from feeds.run.refresh import OutputReport, SourceReport

__all__ = ["drop_json", "output_line", "report_json"]


def report_json(
    sources: tuple[SourceReport, ...], outputs: tuple[OutputReport, ...]
) -> dict[str, Any]:
    """``feeds refresh --json``; its ``outputs`` list is what ``feeds publish --json`` prints."""
    return {
        "ok": all(s.ok for s in sources) and all(o.error is None for o in outputs),
        "sources": [_source_json(s) for s in sources],
        "outputs": [_output_json(o) for o in outputs],
    }


def _source_json(s: SourceReport) -> dict[str, Any]:
    return {
        "name": s.name,
        "url": s.url,
        "ok": s.ok,
        "status": s.status,
        "not_modified": s.not_modified,
        "skipped": s.skipped,
        "deferred": s.deferred,  # skipped: its host asked to wait (next_due: the hold's end)
        "next_due": s.next_due.isoformat() if s.next_due else None,
        "changes": dict(s.changes),
        "error": s.error,
        "warning": s.warning,
        "feed_url": s.feed_url,
        "full_text": s.full_text,
        "dropped_entries": list(s.dropped_entries),
    }


def _output_json(o: OutputReport) -> dict[str, Any]:
    return {
        "name": o.name,
        "path": o.path,
        "entries": o.entries,
        "written": o.written,
        "error": o.error,
        "archive_pages": o.archive_pages,
        "ping_errors": list(o.ping_errors),
    }


def drop_json(dropped: Dropped, outputs: tuple[OutputReport, ...]) -> dict[str, Any]:
    """``feeds drop --json``: the story dropped and the outputs republished without it."""
    return {
        "entry_id": dropped.entry_id,
        "title": dropped.title,
        "copies": dropped.copies,
        "newly_dropped": dropped.new,
        "outputs": [_output_json(o) for o in outputs],
    }


def output_line(output: OutputReport) -> str:
    """``output business: 12 entries, written`` (and the archive files written, if any)."""
    state = "written" if output.written else "unchanged"
    line = f"output {output.name}: {output.entries} entries, {state}"
    if output.archive_pages:
        line += f", {output.archive_pages} archive files written"
    return line
