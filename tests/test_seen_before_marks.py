"""A store from before the seen-copies mark (``meta`` ``seen_copies``) keeps the ids of the
stories its hook events named, on SQLite and PostgreSQL.

Such a store has no mark: it was taken to have shown readers nothing unless it had
published an output. A store refreshed without publishing (``feeds refresh --no-publish``,
or every publish failed) whose hooks named a story in an event had shown it all the same:
after the upgrade, a copy saved later that is the story's first by the rule of its copies
gave it another id, and the hook's receiver, and the outputs, had it twice.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from test_story_ids import save, stories

from feeds.run.tally import labels
from feeds.store import open_store
from feeds.store.values import HookEvent

WHEN = datetime(2026, 3, 20, 17, 0, tzinfo=UTC)


@pytest.mark.parametrize("event", ["queued", "delivered"])
def test_a_story_a_hook_event_named_before_the_mark_keeps_its_id(
    new_store: Callable[[Path], tuple[str, str]], tmp_path: Path, event: str
) -> None:
    first, site, _correction = stories()
    url, _backend = new_store(tmp_path)
    [shown] = save(url, [site])
    with open_store(url) as store, store.transaction():  # as the former version queued it
        if event == "queued":  # (waiting for its receiver)
            payload = f'{{"entries": [{{"id": "{shown}"}}]}}'
            store.add_hook_event(HookEvent("e1", "news", "new_entries", payload, WHEN, 0, WHEN))
        else:  # delivered: the event is gone, its delivery counted
            hook = labels(hook="news", result="delivered")
            store.add_counts({("feeds_hook_deliveries_total", hook): 1})
    assert save(url, [first]) == [shown]  # the wire's copy, the first by the rule, joins it
