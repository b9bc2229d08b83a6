"""Fill in the intervals of ``interval = "auto"`` sources from what the store knows.

:func:`with_adaptive_intervals` returns the config with each adaptive source's
``interval`` (and ``interval_reason``) set for ``now``, so every caller of
``Config.interval`` (the schedule, ``feeds status``, the metrics) sees the same number.
A config without adaptive sources is returned as it is, without reading the store.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from feeds.config import Config, SourceConfig
from feeds.core.adaptive import WEEK, adaptive_interval
from feeds.store.protocol import PostingHistory

__all__ = ["is_adaptive", "with_adaptive_intervals"]


def is_adaptive(config: Config, source: SourceConfig) -> bool:
    """``interval = "auto"`` on the source, or in ``[schedule]`` for a source without one."""
    own = source.interval is not None and source.interval_reason is None
    return source.adaptive or (config.schedule.adaptive and not own)


def with_adaptive_intervals(config: Config, store: PostingHistory, now: datetime) -> Config:
    auto = [s for s in config.sources if is_adaptive(config, s)]
    if not auto:
        return config
    history = store.posting_history([s.name for s in auto], now - WEEK)
    options = config.schedule
    chosen: dict[str, SourceConfig] = {}
    for source in auto:
        published, known_since = history.get(source.name, ([], None))
        result = adaptive_interval(
            published, known_since, now, options.min_interval, options.max_interval
        )
        chosen[source.name] = replace(
            source, interval=result.interval, interval_reason=result.reason
        )
    return replace(config, sources=tuple(chosen.get(s.name, s) for s in config.sources))
