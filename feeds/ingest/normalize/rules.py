"""What body cleaning keeps and removes: the nh3 allow-list, elements dropped with their
content, allowed iframe hosts, tracking pixels, WordPress boilerplate, block elements."""

from __future__ import annotations

import re

# --- bodies -------------------------------------------------------------------------------

_ALLOWED_TAGS = frozenset(
    {
        *("p", "br", "hr", "a", "img", "ul", "ol", "li", "dl", "dt", "dd", "blockquote"),
        *("h2", "h3", "h4", "h5", "h6", "strong", "em", "b", "i", "u", "s", "small", "mark"),
        *("code", "pre", "figure", "figcaption", "sub", "sup", "cite", "q", "abbr", "del"),
        *("ins", "table", "caption", "thead", "tbody", "tfoot", "tr", "th", "td", "iframe"),
    }
)

_ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "iframe": {"src", "width", "height", "allowfullscreen", "title"},
    "abbr": {"title"},
    "blockquote": {"cite"},
    "q": {"cite"},
    "ol": {"start"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
}

_URL_SCHEMES = frozenset({"http", "https", "mailto"})

# Removed with everything inside them (nh3 would otherwise keep their text).
_DROP_WITH_CONTENT = frozenset(
    {
        *("script", "style", "noscript", "template", "form", "textarea", "select", "button"),
        *("input", "option", "svg", "math", "object", "embed", "applet", "head", "title"),
        *("meta", "link", "base", "frame", "frameset", "noembed", "noframes", "xmp"),
    }
)

_NH3_CLEAN_CONTENT = frozenset(_DROP_WITH_CONTENT - {"input", "meta", "link", "base"})

_IFRAME_HOSTS = frozenset(
    {"youtube.com", "www.youtube.com", "youtube-nocookie.com", "www.youtube-nocookie.com"}
    | {"player.vimeo.com"}
)

_TRACKER_HOSTS = frozenset(
    {
        *("pixel.wp.com", "stats.wp.com", "pixel.quantserve.com", "b.scorecardresearch.com"),
        *("sb.scorecardresearch.com", "www.google-analytics.com", "ssl.google-analytics.com"),
        *("feeds.feedburner.com/~r", "pixel.facebook.com", "www.facebook.com/tr"),
    }
)

# FeedBurner/FeedBlitz beacons live on many hosts; their paths give them away.
_TRACKER_PATH = re.compile(r"/~(?:r|ff|/i)/")

# Class names (prefixes of a class token) of WordPress/Jetpack boilerplate blocks.
_BOILERPLATE_CLASSES = (
    "comment-respond",
    "comment-form",
    "comment-notes",
    "comments-area",
    "comment-reply",
    "sharedaddy",
    "sd-sharing",
    "sd-social",
    *("share-button", "sharing-button", "share-link", "share-icon", "share-this", "share-bar"),
    *("sharing-bar", "social-share"),
    "jp-relatedposts",
    "related-posts",
    "yarpp-related",
    "addtoany",
    "feedflare",
    "more-link",
)

# Class prefixes that many themes give their share buttons, and that a story's own blocks may
# have too ("share-price"): such a block goes only when it is share buttons, links with little
# other text (see _is_share_buttons).
_SHARE_CLASSES = ("share-", "sharing-")
SHARE_TEXT_MAX = 120
"""Characters of text outside its links that a block of share buttons has at most."""

_BOILERPLATE_IDS = frozenset({"respond", "comments", "jp-relatedposts", "reply-title"})

_BOILERPLATE_TEXT = re.compile(
    r"(?:The post .+ appeared first on .+"
    r"|Leave a (?:Reply|Comment)(?: Cancel reply)?"
    r"|Cancel reply"
    r"|Your email address will not be published\.(?: Required fields are marked \*)?"
    r"|Required fields are marked \*"
    r"|Related(?: posts| articles)?:?"
    r"|Share this:?|Like this:?)",
    re.IGNORECASE | re.DOTALL,
)

_MORE_LINK_TEXT = re.compile(r"(?:Continue reading|Read more)\b.{0,200}", re.IGNORECASE)

# WordPress's footer ("The post <a>Title</a> appeared first on <a>Site</a>.") links the post
# and the site: without a link, a paragraph reading so is the story's own.
_LINKED_BOILERPLATE = re.compile(r"The post .+ appeared first on .+", re.IGNORECASE | re.DOTALL)

# What the uncollapsed text must start with for the two patterns above to match its collapsed
# form: a cheap test that spares collapsing the text of every paragraph (each alternative's
# first word; a space in the collapsed text is a run of white space in the raw text).
_BOILERPLATE_START = re.compile(
    r"\s*(?:The\s|Leave\s|Cancel\s|Your\s|Required\s|Related|Share\s|Like\s)", re.IGNORECASE
)

_MORE_LINK_START = re.compile(r"\s*(?:Continue\s|Read\s)", re.IGNORECASE)

# Elements whose whole text may be a boilerplate sentence (never the article wrapper itself,
# whose text is the whole article and so cannot match).
_TEXT_CHECKED = frozenset({"p", "div", "span", "a", "h1", "h2", "h3", "h4", "h5", "h6", "li"})

_BLOCK_CONTAINERS = frozenset(
    {"div", "section", "article", "header", "footer", "aside", "main", "center", "address"}
    | {"details", "summary", "nav", "body", "html", "font"}
)

_BLOCK_TAGS = frozenset(
    {
        *_BLOCK_CONTAINERS,
        *("p", "br", "hr", "ul", "ol", "li", "dl", "dt", "dd", "blockquote", "pre", "figure"),
        *("figcaption", "table", "caption", "thead", "tbody", "tfoot", "tr", "th", "td"),
        *("h1", "h2", "h3", "h4", "h5", "h6", "iframe", "img"),
    }
)

_XML_DECL = re.compile(r"^\s*<\?xml[^>]*>")

_KEEP_EMPTY = frozenset({"br", "hr", "img", "iframe", "td", "th", "tr"})
