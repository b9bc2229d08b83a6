"""feeds: a feed refinery.

Pulls articles from RSS, Atom and JSON feeds, cleans them, removes duplicates
within and across sources, and publishes clean, valid, deterministic Atom feeds
(and RSS 2.0 and JSON Feed 1.1 beside them, with RFC 5005 archives and WebSub pings).

The pipeline (one refresh)::

    store.due_sources(now) | fetch | parse | normalize | dedupe | store.save | publish
"""

__version__ = "0.1.0"
PROJECT_URL = "https://github.com/feeds-refinery/feeds"
USER_AGENT = f"feeds/{__version__} (+{PROJECT_URL})"
