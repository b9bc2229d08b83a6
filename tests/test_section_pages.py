"""Section pages (``type = "html"``) that are odd or hostile: what their links become, and
what ``feeds sources`` says of them."""

from __future__ import annotations

import pytest

from feeds.ingest import section

PAGE = "https://news.example.com/business/"


@pytest.mark.parametrize(
    "base",
    ["javascript:alert(1)", "data:text/html,<p>x</p>", "mailto:desk@news.example.com"],
)
def test_a_base_that_is_not_http_is_ignored_as_a_browser_ignores_it(base: str) -> None:
    """Each relative link was joined to the ``javascript:`` base and then dropped as not
    http(s): the source had no entries ("no article links on the page")."""
    page = (
        f'<html><head><base href="{base}"></head><body><article><h2 class="entry-title">'
        '<a href="/one/">One</a></h2></article><article><h2><a href="two/">Two</a></h2>'
        "</article></body></html>"
    ).encode()
    assert section.article_links(page, PAGE) == (
        "https://news.example.com/one/",
        "https://news.example.com/business/two/",
    )
