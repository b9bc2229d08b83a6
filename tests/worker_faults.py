"""Faults put into the worker processes, for tests/test_isolation.py.

The workers come from a fork server (``feeds.run.executor``), a fresh interpreter: a test
cannot patch them from its own process. It names this module among the server's preloads
and says in ``FEEDS_TEST_WORKER_FAULT`` what goes wrong when a worker reads the document of
source ``s3``: ``raise`` (an unexpected exception) or ``die:<path>`` (the worker ends at once,
as the OOM killer would end it, the first time only: it leaves ``path`` behind).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from feeds.core import dedupe

FAULT = os.environ.get("FEEDS_TEST_WORKER_FAULT", "")
_real_entry_keys = dedupe.entry_keys


def _entry_keys(entries: Any, *args: Any, **kwargs: Any) -> Any:
    if any(e.title.startswith("s3 ") for e in entries):
        if FAULT == "raise":
            raise ZeroDivisionError(f"injected in process {os.getpid()}")
        marker = Path(FAULT.removeprefix("die:"))
        if FAULT.startswith("die:") and not marker.exists():
            marker.write_text(str(os.getpid()))
            os._exit(9)
    return _real_entry_keys(entries, *args, **kwargs)


if FAULT:
    dedupe.entry_keys = _entry_keys
