"""The SQL both backends share: every table's statements, written once.

The modules here (one per group of tables: ``sources``, ``copies``, ``candidates``,
``publish_state``, ``provenance``, ``articles``, ``counters``, ``hook_queue``, ``history``,
``retention``, ``workers``) are mixins of :class:`~feeds.store.sql.connection.SqlConnection`:
they write SQLite's SQL (``?`` and ``:name`` placeholders) and run it through the backend's
hooks. A backend package (:mod:`feeds.store.sqlite`, :mod:`feeds.store.postgres`) keeps only
its connection (how a statement runs, units of work, locks, the error boundary), its schema
and migrations, and the few statements that really differ, in its
:class:`~feeds.store.sql.dialect.Dialect`.
"""
