"""One exception tree for everything ``feeds`` reports to a user.

::

    FeedsError
     ├── ConfigError            bad config file: carries every problem at once
     ├── SourceError            one source failed; carries the source's URL
     │    ├── FetchError        the network or the file system said no
     │    │    ├── HTTPStatusError       4xx/5xx answer (status, Retry-After)
     │    │    ├── BodyTooLargeError     body over the limit (cut off while streaming)
     │    │    ├── FetchTimeoutError     connect/read/total timeout
     │    │    │    └── NameLookupTimeoutError  the name lookup: nothing was sent
     │    │    ├── TooManyRedirectsError redirect limit or loop
     │    │    ├── AddressNotAllowedError a third-party link to a non-public address
     │    │    ├── HostHeldError         not sent: the host asked us to wait (a 429 or 503,
     │    │    │                         or it timed out) a short while ago
     │    │    └── FetchAbandonedError   abandoned by its run (a daemon stopping)
     │    └── ParseError        the bytes are not a feed we can read
     │         └── NotAFeedError         an HTML page; carries the feed URLs it links to
     ├── StoreError             the state database cannot be used
     │    ├── LockError         another refresh holds the lock past the wait
     │    └── NotAStoreError    the database or file holds something else (left untouched)
     ├── PublishError           an output could not be written
     │    └── ValidationError   the document we built is not valid Atom/RSS/JSON Feed
     └── OPMLError              an OPML file cannot be read

Only environmental failures are wrapped (``raise ... from exc``); bugs keep
their own traceback.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class FeedsError(Exception):
    """Root of every error ``feeds`` reports to a user.

    Errors cross process boundaries (a fetch made in a fetch process, see
    :mod:`feeds.run.executor`), so they pickle: subclasses take other arguments than ``args``
    holds, and are rebuilt from their attributes instead of by calling them again.

    ``exit_code`` is the command line's exit status for the error: 1 (the run finished
    but something failed), 2 for a configuration error, 75 when the store stayed locked,
    130 when Ctrl-C stopped a refresh (143 SIGTERM, 129 SIGHUP).
    """

    exit_code = 1

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.args, self.__dict__))


def _rebuild(cls: type[FeedsError], args: tuple[Any, ...], state: dict[str, Any]) -> FeedsError:
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


class ConfigError(FeedsError):
    """The configuration is unusable; ``problems`` lists each one with its path."""

    exit_code = 2  # usage: nothing was written

    def __init__(self, problems: Sequence[str], path: str | None = None) -> None:
        self.problems = tuple(problems)
        self.path = path
        where = f"{path}: " if path else ""
        super().__init__(where + "; ".join(self.problems))


class SourceError(FeedsError):
    """A single source failed; the batch goes on without it."""

    def __init__(self, url: str, message: str) -> None:
        self.url = url
        self.message = message
        super().__init__(f"{url}: {message}")


class FetchError(SourceError):
    """The source could not be fetched."""


class HTTPStatusError(FetchError):
    """The server answered with an error status.

    ``retry_after`` is the raw ``Retry-After`` header (seconds or an HTTP date),
    when the server sent one (RFC 9110 §10.2.3), and ``date`` the raw ``Date`` of the
    answer (the server's clock, which an HTTP date is measured against: RFC 9110 §6.6.1).
    ``temporary_redirect``: a 302, 303 or
    307 on the way led to the answer, which then speaks of the URL it led to, not of
    ``url`` (a 410 there does not say the source is gone). ``answered``: the URL that gave
    the answer, where redirects led (``url`` when none did).
    """

    def __init__(
        self,
        url: str,
        status: int,
        message: str | None = None,
        *,
        retry_after: str | None = None,
        temporary_redirect: bool = False,
        date: str | None = None,
        answered: str | None = None,
    ) -> None:
        self.status = status
        self.retry_after = retry_after
        self.date = date
        self.answered = answered or url
        self.temporary_redirect = temporary_redirect
        super().__init__(url, message or f"HTTP {status}")


class BodyTooLargeError(FetchError):
    """The body exceeded the configured maximum and was cut off."""


class NotHTMLError(FetchError):
    """A page asked for as HTML (``FetchRequest.html_only``: an article page) answered with
    another type (a PDF, an image): its body was not read."""


class FetchTimeoutError(FetchError):
    """A connect, read or total timeout expired."""


class NameLookupTimeoutError(FetchTimeoutError):
    """The host's name was not looked up in time (its name servers hang, or every lookup
    slot is taken by such ones): nothing was sent to the host, so it is not held for it
    (see :mod:`feeds.ingest.fetch.holds`)."""


class TooManyRedirectsError(FetchError):
    """More redirects than allowed, or a redirect loop."""


class AddressNotAllowedError(FetchError):
    """A link taken from a feed or page points at a loopback, private or other non-public
    address (or is not http/https), and the config does not allow it. Nothing was sent."""


class HostHeldError(FetchError):
    """Nothing was sent: ``host`` answered another request with 429 or 503, or timed out,
    a short while ago, and is left alone ``seconds`` more (see
    :mod:`feeds.ingest.fetch.holds`). A source's feed met with it is deferred, not failed:
    the host's doing is not the source's."""

    def __init__(self, url: str, message: str, *, host: str, seconds: float) -> None:
        self.host = host
        self.seconds = seconds
        super().__init__(url, message)


class FetchAbandonedError(FetchError):
    """The run abandoned the fetch (a daemon stopping): its connection was closed, nothing
    more was sent, and it tells nothing about the server."""


class ParseError(SourceError):
    """The document is not a feed that can be read."""


class NotAFeedError(ParseError):
    """An HTML page (or other non-feed) was served; ``feed_urls`` are its advertised feeds."""

    def __init__(self, url: str, feed_urls: Sequence[str], message: str | None = None) -> None:
        self.feed_urls = tuple(feed_urls)
        if message is None:
            message = "not a feed (an HTML page)"
            if self.feed_urls:
                message += "; it links to these feeds: " + ", ".join(self.feed_urls)
            else:
                message += " that links to no feed"
        super().__init__(url, message)


class StoreError(FeedsError):
    """The state database cannot be opened, read or written."""


class LockError(StoreError):
    """Another process holds the refresh lock for longer than we wait."""

    exit_code = 75  # EX_TEMPFAIL: try again later


class NotAStoreError(StoreError):
    """The database or file holds something other than a feeds store: nothing was written
    to it."""


class Interrupted(FeedsError):
    """A refresh stopped by Ctrl-C (or SIGTERM, SIGHUP): fetching ended at once, the open
    transaction was rolled back, an output being written was left as it was (each is
    replaced whole)."""

    exit_code = 130  # 128 + SIGINT, as a shell reports a command Ctrl-C ended

    def __init__(self, message: str, exit_code: int = 130) -> None:
        super().__init__(message)
        self.exit_code = exit_code  # 143 for SIGTERM, 129 for SIGHUP, which stop it alike


class PublishError(FeedsError):
    """An output could not be built or written; the previous file is intact."""


class ValidationError(PublishError):
    """A built document failed pre-publish validation and was not written."""


class OPMLError(FeedsError):
    """An OPML file to import cannot be read or is not OPML."""


#: How much of an error's message a source's record keeps.
MAX_MESSAGE_CHARS = 1000

_UNPRINTABLE = str.maketrans(dict.fromkeys((*range(32), *range(127, 160)), " "))


def describe(exc: BaseException) -> str:
    """An error as one line for a source's record: its class (unless it is one of ours, whose
    message says it all) and its message, controls and unpaired surrogates replaced, cut to
    :data:`MAX_MESSAGE_CHARS`.

    ``ValueError: All strings must be XML compatible`` says more than the message alone.
    """
    message = str(exc) or type(exc).__name__
    if not isinstance(exc, FeedsError):
        message = f"{type(exc).__name__}: {message}"
    return printable_line(" ".join(printable_line(message, limit=None).split()))


def printable_line(text: str, limit: int | None = MAX_MESSAGE_CHARS) -> str:
    """``text`` as a terminal may show it: each control character (C0, DEL, C1) and unpaired
    surrogate a space, cut to ``limit`` characters (None: whole).

    A source's error and a host's hold quote what a server wrote (a reason phrase, a link a
    page advertised, a Retry-After), and ``feeds refresh``, ``status`` and ``sources`` print
    them to a terminal, which obeys ``ESC ] 0 ;`` (retitle), ``ESC [ 2 J`` (clear) and
    U+009B, a CSI in one character."""
    text = text.encode("utf-8", "replace").decode("utf-8").translate(_UNPRINTABLE)
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text
