"""feeds: a feed refinery.

Pulls articles from RSS, Atom and JSON feeds, cleans them, removes duplicates
within and across sources, and publishes clean, valid, deterministic Atom feeds
(and RSS 2.0 and JSON Feed 1.1 beside them, with RFC 5005 archives and WebSub pings).

The public API is what ``__all__`` names; everything else may change. One refresh::

    import feeds
    from datetime import UTC, datetime
    from pathlib import Path
    from feeds.ingest.fetch import Fetcher

    if __name__ == "__main__":  # the worker processes import this script again
        config = feeds.load_config(Path("config.toml"))
        with feeds.open_store(config.store_location) as store, Fetcher(config.fetch) as fetcher:
            report = feeds.refresh(config, store, fetcher, now=datetime.now(UTC))

A run with new documents reads them in worker processes started by multiprocessing's fork
server, which import the script that started the run as its workers do under ``spawn``:
a script that refreshes keeps that under ``if __name__ == "__main__":``.

The names are imported on first use, so ``import feeds`` loads no HTTP client, parser or
database (``feeds --help`` stays fast). The layers behind them: docs/architecture.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from feeds.version import __version__

if TYPE_CHECKING:
    from feeds import errors
    from feeds.config import load as load_config
    from feeds.run.refresh import publish_all, refresh
    from feeds.store import open_store

__all__ = [
    "__version__",
    "errors",
    "load_config",
    "open_store",
    "publish_all",
    "refresh",
]

_LAZY = {
    "errors": ("feeds.errors", None),
    "load_config": ("feeds.config", "load"),
    "open_store": ("feeds.store", "open_store"),
    "publish_all": ("feeds.run.refresh", "publish_all"),
    "refresh": ("feeds.run.refresh", "refresh"),
}


def __getattr__(name: str) -> object:
    """Import a public name on first use (PEP 562). Typed ``object`` so that the type
    checker does not take every other name as present: the public ones are imported
    above for it."""
    if name not in _LAZY:
        raise AttributeError(f"module 'feeds' has no attribute {name!r}")
    from importlib import import_module

    module_name, attribute = _LAZY[name]
    module = import_module(module_name)
    value = module if attribute is None else getattr(module, attribute)
    globals()[name] = value
    return value
