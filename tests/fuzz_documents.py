"""Hypothesis strategies for whole hostile feed documents: RSS 2.0, Atom 1.0, RSS 1.0, JSON Feed.

Every element and attribute draws from :data:`nasty_text`: all classes of code points (C0 and
C1 controls raw and as numeric character references, non-characters, lone surrogates, bidi
controls, NUL), invalid and double-encoded entities, very long tokens, markup shown as text
(``&lt;img onerror&gt;``) and the OWASP XSS filter-evasion vectors; HTML bodies carry those
in ``href``/``src``/``cite``/event attributes. A field is written escaped (what a careful
publisher does), in CDATA, or raw (which may leave the XML ill-formed, as real feeds are).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, NamedTuple

from hypothesis import strategies as st

CONTROLS = [chr(c) for c in (*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F)]
C1 = [chr(c) for c in range(0x80, 0xA0)]
NONCHARACTERS = ["\ufdd0", "\ufdef", "\ufffe", "\uffff", "\U0001fffe", "\U0010ffff"]
SURROGATES = ["\ud800", "\udbff", "\udc00", "\udfff"]
BIDI = ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068"]
BIDI += ["\u2069", "\u200e", "\u200f", "\u061c", "\ufeff", "\u200b", "\u00ad", "\u2028"]
REFERENCES = [
    *("&#0;", "&#x0;", "&#1;", "&#8;", "&#11;", "&#14;", "&#x1b;", "&#x1F;", "&#127;"),
    *("&#x7f;", "&#128;", "&#x81;", "&#x85;", "&#x8D;", "&#x9f;", "&#150;", "&#xD800;"),
    *("&#xdfff;", "&#55296;", "&#xFFFE;", "&#xffff;", "&#xFDD0;", "&#x1FFFE;", "&#1114112;"),
    *("&#x110000;", "&#99999999999999999999;", "&#x" + "f" * 40 + ";", "&#9;", "&#10;"),
    *("&#13;", "&#x202e;", "&#xfeff;", "&#14", "&#x0", "&#0000000000000065;", "&#x00041"),
]
ENTITIES = [
    *("&bogus;", "&amp;amp;", "&amp;amp;amp;lt;", "&#;", "&#x;", "&", "&&", "&lt;", "&gt"),
    *("&nbsp", "&nbsp;", "&hellip;", "&AElig", "&amp;#14;", "&amp;#x6A;avascript:", "&;"),
    *("&#38;#14;", "&amp;lt;script&amp;gt;alert(1)&amp;lt;/script&amp;gt;", "&lt;![CDATA["),
    *(
        "]]>",
        "&quot;",
        "&apos;",
        "&#x26;lt;",
        "&notin;",
        "&notit;",
        "&copy",
        "&CounterClockwiseContourIntegral;",
    ),
]
#: URL-shaped filter-evasion vectors (OWASP XSS Filter Evasion Cheat Sheet and friends).
XSS_URLS = [
    *("javascript:alert('XSS')", "JaVaScRiPt:alert(1)", "java\tscript:alert(1)", "java\nscript:"),
    *("java&#x09;script:alert(1)", "jav&#x0A;ascript:alert(1)", "jav&#x0D;ascript:alert(1)"),
    "&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)",
    "&#0000106&#0000097&#0000118&#0000097&#0000115&#0000099&#0000114&#0000105&#0000112&#0000116:1",
    "&#x6A&#x61&#x76&#x61&#x73&#x63&#x72&#x69&#x70&#x74&#x3A;alert(1)",
    *(" &#14;  javascript:alert(3)", "&#1;javascript:alert(1)", "\x01javascript:alert(1)"),
    *("\x00javascript:alert(1)", " \x0e javascript:alert(1)", "javas&#99;ript:alert(1)"),
    *("vbscript:msgbox(1)", "livescript:[code]", "mocha:[code]", "`javascript:alert(1)`"),
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    *("data:image/svg+xml,<svg onload=alert(1)>", "DATA:text/html,<script>alert(1)</script>"),
    *("//evil.example/x.js", "\\\\evil.example\\x", "/\\evil.example", "http:javascript:x"),
    *("https://www.youtube.com/embed/x?onload=alert(1)", 'https://evil.example/"><script>'),
    *("javascript&colon;alert(1)", "javascript&#58;alert(1)", "java\u0000script:alert(1)"),
    *("\u2028javascript:alert(1)", "\ufeffjavascript:alert(1)", "java\u00adscript:alert(1)"),
    *("feed:javascript:alert(1)", "jar:http://x!/", "file:///etc/passwd", "about:blank"),
]
#: Markup-shaped vectors (the same cheat sheet): tags, event handlers, broken quoting.
XSS_MARKUP = [
    *('"><script>alert(1)</script>', "'><img src=x onerror=alert(1)>", '" onmouseover="alert(1)'),
    *(
        "<svg/onload=alert(1)>",
        "<IMG SRC=\"jav\tascript:alert('XSS');\">",
        "<<SCRIPT>alert(1);//<</SCRIPT>",
    ),
    *(
        "<iframe src=javascript:alert(1)>",
        "<BODY ONLOAD=alert(1)>",
        "<object data=javascript:alert(1)>",
    ),
    *(
        "<embed src=data:image/svg+xml;base64,PHN2Zz4=>",
        "<form action=javascript:alert(1)><button>x",
    ),
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    *("<IMG SRC=`javascript:alert(1)`>", '<IMG """><SCRIPT>alert("XSS")</SCRIPT>">'),
    *(
        '<SCRIPT/XSS SRC="http://x.example/x.js"></SCRIPT>',
        "<STYLE>@import'javascript:alert(1)';</STYLE>",
    ),
    '<META HTTP-EQUIV="refresh" CONTENT="0;url=javascript:alert(1);">',
    *(
        '<TABLE BACKGROUND="javascript:alert(1)">',
        '<DIV STYLE="background:url(javascript:alert(1))">',
    ),
    *(
        '<BASE HREF="javascript:alert(1);//">',
        "<!--[if gte IE 4]><SCRIPT>alert(1);</SCRIPT><![endif]-->",
    ),
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
    *('<a href="&#1;javascript:alert(1)">x</a>', "<svg><a xlink:href=javascript:alert(1)><text>x"),
    *(
        "<details open ontoggle=alert(1)>",
        "<video><source onerror=alert(1)>",
        "<x onclick=alert(1)>x",
    ),
    *("<img src=x:alert(alt) onerror=eval(src) alt=0>", "<a href=javascript&colon;alert(1)>x</a>"),
    *(
        "<isindex type=image src=1 onerror=alert(1)>",
        "<frameset onload=alert(1)>",
        "<template><script>",
    ),
    *(
        "<scr<script>ipt>alert(1)</scr</script>ipt>",
        "<a/href=javascript:alert(1)>x",
        "</p><script>",
    ),
    *(
        "<![CDATA[<script>alert(1)</script>]]>",
        "<?xml-stylesheet href=javascript:alert(1)?>",
        "<!DOCTYPE",
    ),
    *("<img srcset='javascript:alert(1) 1x'>", "<link rel=import href=data:text/html,x>"),
]
#: Markup a publisher meant to *show* (escaped once more than it is live).
SHOWN_MARKUP = [
    *("&lt;img src=x onerror=alert(1)&gt;", "&lt;script&gt;alert(1)&lt;/script&gt;"),
    *(
        "&amp;lt;svg onload=alert(1)&amp;gt;",
        "&lt;a href=&quot;javascript:alert(1)&quot;&gt;x&lt;/a&gt;",
    ),
    *(
        "&#60;iframe src=javascript:alert(1)&#62;",
        "&lt;b&gt;bold&lt;/b&gt;",
        "2 &lt; 3 &amp;&amp; 4 &gt; 1",
    ),
]

PIECES = [
    *CONTROLS,
    *C1,
    *NONCHARACTERS,
    *SURROGATES,
    *BIDI,
    *REFERENCES,
    *ENTITIES,
    *XSS_URLS,
    *XSS_MARKUP,
    *SHOWN_MARKUP,
]

long_token = st.builds(
    lambda piece, n: piece * n,
    st.sampled_from(["a", "é", "日", "&amp;", "x ", "&#14;", "\u202e", "<b>", "%"]),
    st.integers(min_value=500, max_value=6000),
)
nasty_text = st.lists(
    st.one_of(st.text(max_size=12), st.sampled_from(PIECES), long_token | st.just("")),
    max_size=5,
).map("".join)
words = st.lists(
    st.sampled_from(["results", "quarter", "bank", "rates", "oil", "merger", "shares"]),
    min_size=1,
    max_size=6,
).map(" ".join)
text_field = st.one_of(words, nasty_text, st.tuples(words, nasty_text).map("".join))
#: Hosts as publishers write them, with those a validator refuses in one format or another:
#: a user and password, one label alone, IPv6 (and an IPv4 tail, a zone), IDN, a trailing
#: dot, an underscore, odd ports.
HOSTS = [
    *("fuzz.example", "user:pw@fuzz.example", "intranet", "localhost:8080", "192.0.2.1"),
    *("[2001:db8::1]", "user@[2001:db8::1]", "[::ffff:192.0.2.1]", "[fe80::1%25eth0]"),
    *("xn--bcher-kva.example", "bücher.example", "FUZZ.Example.", "fuzz_1.example"),
    *("fuzz.example:0", "fuzz.example:99999", "%66uzz.example"),
]
url = st.one_of(
    st.sampled_from(XSS_URLS),
    st.builds(lambda path: f"https://fuzz.example/{path}", text_field),
    st.builds(
        lambda scheme, host, path: f"{scheme}://{host}/{path}",
        st.sampled_from(["http", "https", "HTTP"]),
        st.sampled_from(HOSTS),
        words | st.just(""),
    ),
    st.builds(lambda path: f"/relative/{path}", text_field),
    nasty_text,
    st.just("https://www.youtube.com/embed/abc"),
)


def _date(value: datetime) -> st.SearchStrategy[str]:
    return st.sampled_from(
        [value.isoformat(), value.strftime("%a, %d %b %Y %H:%M:%S %z"), value.strftime("%Y-%m-%d")]
    )


dates = st.one_of(
    st.datetimes(
        min_value=datetime(1, 1, 1),
        max_value=datetime(9999, 12, 30),
        timezones=st.sampled_from(
            [UTC, timezone(timedelta(hours=14)), timezone(-timedelta(hours=12))]
        ),
    ).flatmap(_date),
    st.sampled_from(
        [
            *(
                "Tue, 31 Feb 2026 25:61:00 +9999",
                "0000-00-00T00:00:00Z",
                "9999-12-31T23:59:59-23:59",
            ),
            *(
                "2026-03-17T08:00:00+14:00",
                "-0001-01-01T00:00:00Z",
                "2026-13-45",
                "Tue, 17 Mar 2026",
            ),
            *("99999999999", "1e309", "NaN", "2026-03-17T08:00:00.999999999999Z", ""),
        ]
    ),
    nasty_text,
)


@st.composite
def html_body(draw: st.DrawFn) -> str:
    """An HTML fragment whose text and every attribute are hostile."""
    parts: list[str] = []
    for _ in range(draw(st.integers(min_value=0, max_value=5))):
        kind = draw(
            st.sampled_from(["text", "a", "img", "iframe", "cite", "p", "markup", "vector"])
        )
        value = draw(url)
        quote = draw(st.sampled_from(['"', "'", ""]))
        inner = draw(text_field)
        if kind == "text":
            parts.append(inner)
        elif kind == "a":
            parts.append(
                f"<a href={quote}{value}{quote} title={quote}{draw(text_field)}{quote}>{inner}</a>"
            )
        elif kind == "img":
            parts.append(
                f"<img src={quote}{value}{quote} alt={quote}{inner}{quote} onerror=alert(1)>"
            )
        elif kind == "iframe":
            parts.append(f"<iframe src={quote}{value}{quote}></iframe>")
        elif kind == "cite":
            parts.append(f"<blockquote cite={quote}{value}{quote}>{inner}</blockquote>")
        elif kind == "p":
            parts.append(
                f"<p onclick={quote}{value}{quote} style={quote}x:expression(1){quote}>{inner}</p>"
            )
        elif kind == "markup":
            parts.append(draw(st.sampled_from(XSS_MARKUP)))
        else:
            parts.append(draw(st.sampled_from(SHOWN_MARKUP)))
    return "".join(parts)


class Field(NamedTuple):
    """A value and how it goes into XML: "escaped", "cdata" or "raw"."""

    value: str
    mode: str


MODES = st.sampled_from(["escaped"] * 6 + ["cdata", "cdata", "raw", "raw"])


def _field(values: st.SearchStrategy[str]) -> st.SearchStrategy[Field]:
    return st.builds(Field, values, MODES)


def _xml_text(field: Field) -> str:
    if field.mode == "raw":
        return field.value
    if field.mode == "cdata":
        return "<![CDATA[" + field.value.replace("]]>", "]]]]><![CDATA[>") + "]]>"
    return field.value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _xml_attribute(field: Field) -> str:
    if field.mode == "raw":
        return '"' + field.value.replace('"', "&quot;") + '"'
    escaped = field.value.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")
    return '"' + escaped + '"'


class Entry(NamedTuple):
    title: Field
    link: Field
    guid: Field
    date: Field
    updated: Field
    author: Field
    categories: list[Field]
    summary: Field
    content: Field
    enclosure: Field
    #: More files: (url, type, length) for more <enclosure>s, media:content and attachments
    #: (up to hundreds, hostile URLs, bogus types and sizes), and a media:thumbnail.
    media: list[tuple[Field, Field, Field]]
    thumbnail: Field
    base: Field
    lang: Field
    shown_title: bool  # the title is html (Atom type="html")


@st.composite
def entries(draw: st.DrawFn) -> list[Entry]:
    result = []
    for n in range(draw(st.integers(min_value=1, max_value=3))):
        title = draw(st.one_of(text_field, st.sampled_from([*SHOWN_MARKUP, *XSS_MARKUP])))
        result.append(
            Entry(
                title=Field(f"{title} {n}" if draw(st.booleans()) else title, draw(MODES)),
                link=draw(_field(url)),
                guid=draw(_field(st.one_of(url, text_field))),
                date=draw(_field(dates)),
                updated=draw(_field(dates)),
                author=draw(_field(text_field)),
                categories=draw(
                    st.one_of(
                        st.lists(_field(text_field), max_size=4),
                        st.lists(_field(words), min_size=40, max_size=120),
                    )
                ),
                summary=draw(_field(st.one_of(html_body(), text_field))),
                content=draw(_field(html_body())),
                enclosure=draw(_field(url)),
                media=draw(media_files()),
                thumbnail=draw(_field(url)),
                base=draw(_field(url)),
                lang=draw(
                    _field(st.one_of(st.sampled_from(["en", "ar", "he-IL", "x-"]), nasty_text))
                ),
                shown_title=draw(st.booleans()),
            )
        )
    return result


MEDIA_TYPES = st.one_of(
    st.sampled_from(["audio/mpeg", "video/mp4", "image/jpeg", "", "audio", "text/html"]),
    st.sampled_from(["application/octet-stream; x=1", "AUDIO/MPEG", "a/b/c", "*/*"]),
    nasty_text,
)
LENGTHS = st.one_of(
    st.integers(min_value=-(10**20), max_value=10**20).map(str),
    st.sampled_from(["", "0", "-1", "1e9", " 12 ", "１２", "99999999999999999999"]),
    nasty_text,
)


@st.composite
def media_files(draw: st.DrawFn) -> list[tuple[Field, Field, Field]]:
    """A few files, or (rarely) hundreds: the caps must hold whatever the feed lists."""
    count = draw(st.one_of(st.integers(min_value=0, max_value=4), st.just(40)))
    if count > 4:  # many: the same hostile shape, numbered
        head = draw(_field(url))
        return [
            (
                Field(f"{head.value}{n}", head.mode),
                Field("audio/mpeg", "escaped"),
                Field(str(n), "escaped"),
            )
            for n in range(count)
        ]
    return [
        (draw(_field(url)), draw(_field(MEDIA_TYPES)), draw(_field(LENGTHS))) for _ in range(count)
    ]


def _media_xml(e: Entry) -> str:
    a = _xml_attribute
    return (
        "".join(
            f"<enclosure url={a(u)} type={a(m)} length={a(n)}/>"
            f'<media:content url={a(u)} type={a(m)} fileSize={a(n)} medium="audio"/>'
            for u, m, n in e.media
        )
        + f'<media:thumbnail url={a(e.thumbnail)} width="150"/>'
    )


class Document(NamedTuple):
    format: str  # "rss", "atom", "rdf", "json"
    content: bytes

    def __repr__(self) -> str:  # a failing example's report stays readable
        head = self.content[:3000]
        more = f" + {len(self.content) - len(head)} more bytes" if len(self.content) > 3000 else ""
        return f"Document({self.format!r}, {head!r}{more})"

    @property
    def suffix(self) -> str:
        return {"rss": ".rss", "atom": ".atom", "rdf": ".rdf", "json": ".json"}[self.format]


def _encode(text: str) -> bytes:
    """UTF-8, lone surrogates included (as the invalid bytes a careless encoder writes)."""
    return text.encode("utf-8", "surrogatepass")


def rss_document(feed_title: Field, items: list[Entry]) -> bytes:
    t, a = _xml_text, _xml_attribute
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"'
        ' xmlns:content="http://purl.org/rss/1.0/modules/content/"'
        ' xmlns:dc="http://purl.org/dc/elements/1.1/"'
        ' xmlns:media="http://search.yahoo.com/mrss/"><channel>'
        f"<title>{t(feed_title)}</title><link>https://fuzz.example/</link>"
        f"<description>{t(feed_title)}</description>"
    ]
    for e in items:
        parts.append(
            f"<item xml:base={a(e.base)} xml:lang={a(e.lang)}><title>{t(e.title)}</title>"
            f'<link>{t(e.link)}</link><guid isPermaLink="false">{t(e.guid)}</guid>'
            f"<pubDate>{t(e.date)}</pubDate><dc:creator>{t(e.author)}</dc:creator>"
            f"<author>{t(e.author)}</author>"
            + "".join(f"<category domain={a(c)}>{t(c)}</category>" for c in e.categories)
            + f"<description>{t(e.summary)}</description>"
            f"<content:encoded>{t(e.content)}</content:encoded>"
            f'<enclosure url={a(e.enclosure)} type="audio/mpeg" length={a(e.author)}/>'
            + _media_xml(e)
            + f"<comments>{t(e.link)}</comments><source url={a(e.enclosure)}>{t(e.author)}</source>"
            "</item>"
        )
    parts.append("</channel></rss>")
    return _encode("".join(parts))


def atom_document(feed_title: Field, items: list[Entry]) -> bytes:
    t, a = _xml_text, _xml_attribute
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom"'
        ' xmlns:media="http://search.yahoo.com/mrss/">'
        f'<title type="html">{t(feed_title)}</title><id>tag:fuzz.example,2026:feed</id>'
        '<updated>2026-03-17T08:00:00Z</updated><link rel="alternate" href="https://fuzz.example/"/>'
    ]
    for e in items:
        kind = "html" if e.shown_title else "text"
        parts.append(
            f"<entry xml:base={a(e.base)} xml:lang={a(e.lang)}>"
            f'<title type="{kind}">{t(e.title)}</title><id>{t(e.guid)}</id>'
            f'<link rel="alternate" href={a(e.link)}/>'
            f'<link rel="enclosure" href={a(e.enclosure)} type="audio/mpeg" length="1"/>'
            + "".join(
                f'<link rel="enclosure" href={a(u)} type={a(m)} length={a(n)}/>'
                for u, m, n in e.media[:3]
            )
            + _media_xml(e)
            + f"<published>{t(e.date)}</published><updated>{t(e.updated)}</updated>"
            f"<author><name>{t(e.author)}</name><uri>{t(e.link)}</uri></author>"
            + "".join(
                f"<category term={a(c)} label={a(c)} scheme={a(e.link)}/>" for c in e.categories
            )
            + f'<summary type="html">{t(e.summary)}</summary>'
            + (
                f'<content type="html">{t(e.content)}</content>'
                if e.content.mode != "raw"
                else '<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">'
                f"<p>{_xml_text(Field(e.title.value, 'escaped'))}"
                f"<a href={a(Field(e.link.value, 'escaped'))}>x</a></p></div></content>"
            )
            + "</entry>"
        )
    parts.append("</feed>")
    return _encode("".join(parts))


def rdf_document(feed_title: Field, items: list[Entry]) -> bytes:
    t, a = _xml_text, _xml_attribute
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"'
        ' xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/"'
        ' xmlns:content="http://purl.org/rss/1.0/modules/content/">'
        f'<channel rdf:about="https://fuzz.example/"><title>{t(feed_title)}</title>'
        "<link>https://fuzz.example/</link><description>d</description><items><rdf:Seq>"
        + "".join(f"<rdf:li rdf:resource={a(e.link)}/>" for e in items)
        + "</rdf:Seq></items></channel>"
    ]
    for e in items:
        parts.append(
            f"<item rdf:about={a(e.guid)} xml:lang={a(e.lang)}><title>{t(e.title)}</title>"
            f"<link>{t(e.link)}</link><description>{t(e.summary)}</description>"
            f"<dc:date>{t(e.date)}</dc:date><dc:creator>{t(e.author)}</dc:creator>"
            + "".join(f"<dc:subject>{t(c)}</dc:subject>" for c in e.categories)
            + f"<content:encoded>{t(e.content)}</content:encoded></item>"
        )
    parts.append("</rdf:RDF>")
    return _encode("".join(parts))


odd_json = st.one_of(
    st.integers(), st.floats(), st.none(), st.booleans(), st.lists(st.integers(), max_size=2)
)


def _size(length: Field) -> Any:
    """A JSON size as feeds write it: a number, or (wrongly) a string or anything else."""
    text = length.value.strip()
    if text.lstrip("-").isdigit() and text.isascii():
        return int(text)
    return length.value


@st.composite
def json_document(draw: st.DrawFn, feed_title: Field, items: list[Entry]) -> bytes:
    def value(field: Field) -> Any:
        return draw(odd_json) if field.mode == "raw" and draw(st.booleans()) else field.value

    feed = {
        "version": draw(
            st.sampled_from(["https://jsonfeed.org/version/1.1", "https://jsonfeed.org/version/1"])
        ),
        "title": value(feed_title),
        "home_page_url": draw(url),
        "feed_url": draw(url),
        "icon": draw(url),
        "language": draw(nasty_text),
        "items": [
            {
                "id": value(e.guid),
                "url": value(e.link),
                "external_url": value(e.enclosure),
                "title": value(e.title),
                "content_html": value(e.content),
                "content_text": value(e.summary),
                "summary": value(e.summary),
                "image": value(e.enclosure),
                "date_published": value(e.date),
                "date_modified": value(e.updated),
                "authors": [{"name": value(e.author), "url": value(e.link)}],
                "author": {"name": value(e.author)},
                "tags": [value(c) for c in e.categories],
                "language": value(e.lang),
                "attachments": [
                    {"url": value(e.enclosure), "mime_type": "audio/mpeg"},
                    *(
                        {"url": value(u), "mime_type": value(m), "size_in_bytes": _size(n)}
                        for u, m, n in e.media
                    ),
                ],
            }
            for e in items
        ],
    }
    text = json.dumps(feed, ensure_ascii=draw(st.booleans()))
    return _encode(text)


BUILDERS: dict[str, Callable[[Field, list[Entry]], bytes]] = {
    "rss": rss_document,
    "atom": atom_document,
    "rdf": rdf_document,
}


_UTF8_DECLARATION = b'<?xml version="1.0" encoding="utf-8"?>'

#: How an XML document's bytes name their encoding, as publishers write them: honestly (a
#: BOM, UTF-16/32, a legacy code page declared), not at all (UTF-8, or a legacy code page:
#: the reader guesses) or falsely (.NET's UTF-8 declared ``utf-16``, a template's EBCDIC
#: declaration kept over UTF-8).
BYTE_FORMS = (
    "utf-8",
    "utf-8 BOM",
    "undeclared",
    "utf-16 declared on utf-8",
    "cp037 declared on utf-8",
    "utf-16",
    "utf-32",
    "windows-1251",
    "shift_jis",
    "windows-1251 undeclared",
    "shift_jis undeclared",
)


def in_byte_form(content: bytes, form: str) -> bytes:
    """A UTF-8 document (declared so) in ``form``. Characters a legacy code page lacks become
    character references (in CDATA they stay as such: this is about robustness)."""
    if form == "utf-8":
        return content
    if form == "utf-8 BOM":
        return b"\xef\xbb\xbf" + content
    if form == "undeclared":
        return content.replace(_UTF8_DECLARATION, b"", 1)
    encoding, _, undeclared = form.partition(" ")
    declaration = f'<?xml version="1.0" encoding="{encoding}"?>'.encode()
    if form in ("utf-16 declared on utf-8", "cp037 declared on utf-8"):
        return content.replace(_UTF8_DECLARATION, declaration, 1)
    text = content.replace(_UTF8_DECLARATION, b"" if undeclared else declaration, 1).decode(
        "utf-8", "surrogatepass"
    )
    if encoding in ("utf-16", "utf-32"):
        return text.encode(encoding, "surrogatepass")
    return text.encode(encoding, "xmlcharrefreplace")


@st.composite
def documents(draw: st.DrawFn) -> Document:
    kind = draw(st.sampled_from(["rss", "atom", "rdf", "json"]))
    feed_title = draw(_field(text_field))
    items = draw(entries())
    if kind == "json":
        return Document(kind, draw(json_document(feed_title, items)))
    form = draw(st.sampled_from(BYTE_FORMS))
    return Document(kind, in_byte_form(BUILDERS[kind](feed_title, items), form))
