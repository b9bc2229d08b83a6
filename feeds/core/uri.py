"""IRIs written as URIs: what a published document's ids and links must be (the W3C Feed
Validator checks them against RFC 2396). Pure: the config writes an output's address with
it, and publishing every link."""

from __future__ import annotations

import os
import re
import sys
import unicodedata
from urllib.parse import quote, unquote, urlsplit, urlunsplit

__all__ = [
    "FULL_URI_RE",
    "URI_RE",
    "as_iri",
    "as_uri",
    "canonical_uri",
    "host_key",
    "url2pathname",
]

# What RFC 2396 lets a URI hold besides letters and digits: what the W3C Feed Validator
# checks ids and links against ("id must be a full and valid URL", "IRI found where URL
# expected", and hrefs too long for its IDNA trick).
_URI_CHARS = ";/?:@&=+$.-_!~*'()%,#"
URI_RE = re.compile(r"[0-9A-Za-z" + re.escape(_URI_CHARS) + r"]*")
# A full URL of those characters, as the validator checks RSS 2.0's links.
FULL_URI_RE = re.compile(r"[a-zA-Z][0-9a-zA-Z+.-]*:(//)?[0-9A-Za-z" + re.escape(_URI_CHARS) + "]+")


def as_uri(iri: str) -> str:
    """``iri`` with URI characters only (RFC 3987 §3.1): an http(s) host in IDNA, the other
    characters outside RFC 2396 percent-encoded as UTF-8. The same IRI always gives the
    same URI, so an id stays stable."""
    if URI_RE.fullmatch(iri):
        return iri
    parts = urlsplit(iri)
    if parts.scheme.lower() not in ("http", "https"):
        return quote(iri, safe=_URI_CHARS)
    netloc = parts.netloc
    if not netloc.isascii():
        host = parts.hostname or ""
        try:
            ascii_host = host.encode("idna").decode("ascii")
            port = f":{parts.port}" if parts.port is not None else ""
        except (UnicodeError, ValueError):
            netloc = quote(netloc, safe=_URI_CHARS + "[]")
        else:
            userinfo = netloc.rpartition("@")[0]
            netloc = (f"{quote(userinfo, safe=_URI_CHARS)}@" if userinfo else "") + (
                ascii_host + port
            )
    path, query, fragment = (quote(p, safe=_URI_CHARS) for p in parts[2:])
    return urlunsplit((parts.scheme, netloc, path, query, fragment))


_NON_ASCII_ESCAPES = re.compile(r"(?:%[89A-Fa-f][0-9A-Fa-f])+")


def as_iri(uri: str) -> str:
    """``uri`` with its escapes of non-ASCII UTF-8 written as the characters (RFC 3987
    §3.2), the rest as it is: the IRI that :func:`as_uri` wrote as ``uri`` (a stored link
    or id, from the one a published document holds). Escapes that spell no UTF-8 stay."""

    def decoded(match: re.Match[str]) -> str:
        text = bytes.fromhex(match.group(0).replace("%", "")).decode("utf-8", "surrogateescape")
        return "".join(f"%{ord(c) - 0xDC00:02X}" if 0xDC80 <= ord(c) <= 0xDCFF else c for c in text)

    return _NON_ASCII_ESCAPES.sub(decoded, uri)


_DEFAULT_PORTS = {"http": 80, "https": 443}
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def canonical_uri(uri: str) -> str:
    """An http(s) URI in the normal form of RFC 3986 §6.2.2-6.2.3, which validators compare
    ids in (the W3C Feed Validator warns about an id in another form): scheme and host in
    lower case, no default port, an empty path written ``/``, no ``.`` or ``..`` segment,
    percent-escapes in upper case and none for an unreserved character (``%7E`` is ``~``),
    and the text the escapes spell in Unicode's NFC (:func:`_normal_component`). Two URIs of
    one resource give one form; any other URI is returned as it is."""
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not uri[len(scheme) + 1 :].startswith("//"):
        return uri
    # An empty host (``http://?x``) still has its empty path written ``/``, and an empty
    # user (``http://@host/``) goes: the validator's forms of such ids (a GUID's).
    userinfo, at, hostport = parts.netloc.rpartition("@")
    if userinfo in ("", ":"):
        userinfo, at = "", ""
    host, port = hostport, ""
    if hostport.rfind(":") > hostport.rfind("]"):  # a port (an IPv6 host has colons too)
        host, _, port = hostport.rpartition(":")
        if port and not (port.isascii() and port.isdigit()):  # no port: all of it is host
            host, port = hostport, ""  # (a GUID http://::1%E2%80%8B/ kept %E2 in upper case)
    # The digits compared as text: an id's port of 5,000 digits is more than Python reads
    # into an int (a ValueError that left the whole output unpublished).
    if port.isascii() and port.isdigit() and port.lstrip("0") == str(_DEFAULT_PORTS[scheme]):
        port = ""
    host = host.lower()
    if host.endswith(".") and "." in host[:-1]:
        host = host[:-1]
    netloc = f"{userinfo}{at}{host}" + (f":{port}" if port else "")
    path = _normal_component(_without_dot_segments(_normal_escapes(parts.path)), _PATH_SAFE) or "/"
    before_fragment, hash_mark, _ = uri.partition("#")
    query = parts.query if parts.query or "?" in before_fragment else None
    query = _normal_component(query, _QUERY_SAFE) if query is not None else None
    fragment = _normal_component(parts.fragment, _QUERY_SAFE) if hash_mark else None
    out = f"{scheme}://{netloc}{path}"
    out += f"?{query}" if query is not None else ""
    return out + (f"#{fragment}" if fragment is not None else "")


def _normal_escapes(text: str) -> str:
    def normal(match: re.Match[str]) -> str:
        char = chr(int(match.group(1), 16))
        return char if char in _UNRESERVED else match.group(0).upper()

    return _ESCAPE.sub(normal, text)


# The W3C Feed Validator's normal form (feedvalidator/uri.py, _qnu): in a path (segment by
# segment) and in a query or fragment, a reserved character it may hold stays as it is
# written, escaped or not; every other octet is read as UTF-8, put in NFC and escaped again
# unless unreserved. Escapes of bytes that are no UTF-8 (``%E9``, Latin-1's é) have no
# normal form there ("N/A"): they are read as Latin-1, so ``%E9`` is written ``%C3%A9``.
_RESERVED = frozenset(":/?#[]@!$&'()*+,;=")
_PCHAR = "-._~!$&'()*+,;=:@"
_PATH_SAFE = _PCHAR + "/"
_QUERY_SAFE = _PCHAR + "/?"
_OCTET_RE = re.compile(r"%[0-9A-Fa-f]{2}|.", re.DOTALL)
_LATIN1_FOR_UNDECODED = {0xDC00 + byte: chr(byte) for byte in range(0x80, 0x100)}
_ALREADY_NORMAL = {
    safe: re.compile(f"[0-9A-Za-z{re.escape(safe + '-._~')}]*")
    for safe in (_PATH_SAFE, _QUERY_SAFE)
}


def _normal_component(text: str, safe: str) -> str:
    """``text`` (a path, query or fragment) in the W3C Feed Validator's normal form."""
    if _ALREADY_NORMAL[safe].fullmatch(text):
        return text
    out: list[str] = []
    octets = bytearray()
    for token in _OCTET_RE.findall(text):
        char = chr(int(token[1:], 16)) if len(token) == 3 else token
        if char in _RESERVED and char in safe:
            out.append(_normal_text(octets, safe) + token.upper())
            octets.clear()
        elif len(token) == 3:
            octets.append(ord(char))
        else:
            octets += token.encode("utf-8", "surrogatepass")
    return "".join(out) + _normal_text(octets, safe)


def _normal_text(octets: bytes | bytearray, safe: str) -> str:
    text = octets.decode("utf-8", "surrogateescape").translate(_LATIN1_FOR_UNDECODED)
    return quote(unicodedata.normalize("NFC", text), safe=safe)


def _without_dot_segments(path: str) -> str:
    """RFC 3986 §5.2.4 for an absolute path (a relative one is left as it is)."""
    if not path.startswith("/") or ("/." not in path):
        return path
    out: list[str] = []
    segments = path.split("/")[1:]
    for i, segment in enumerate(segments):
        last = i == len(segments) - 1
        if segment == ".":
            if last:
                out.append("")
        elif segment == "..":
            if out:
                out.pop()
            if last:
                out.append("")
        else:
            out.append(segment)
    return "/" + "/".join(out)


def host_key(host: str) -> str:
    """A host name as per-host limits count it: lower case, without the root's trailing
    dot, an internationalized name in its ASCII (punycode) form, as httpx sends it.
    ``bücher.example`` and ``xn--bcher-kva.example`` are one host: counted as two, a fetch
    redirected from one spelling to the other (httpx gives the Unicode one) took a slot of
    a host no one else used, and gave back the one it had, and another fetch went in beside
    it. So are ``news.example.`` and ``news.example`` (RFC 1034 §3.1: the same name, fully
    qualified): pages linked both ways went two at a time to a host of max_per_host = 1.
    The root's dot may be written as IDNA's other dots too (``news.example。``: U+3002,
    U+FF0E, U+FF61), which httpx sends as ``news.example.``: it goes after the encoding.
    The fetcher's limits and the store's host leases (``feeds.store.values.host_of``) both
    count hosts so."""
    host = host.rstrip(".") or host
    if host.isascii():
        return host.lower()
    import idna  # httpx's, loaded only for a name that is not ASCII

    try:
        encoded = str(idna.encode(host.lower()).decode("ascii"))
    except idna.IDNAError:
        return host.lower()  # httpx refuses it when it is sent
    return encoded.rstrip(".") or encoded


def url2pathname(url: str) -> str:
    """A ``file:`` URL's path as a file name.

    On POSIX without importing ``urllib.request`` (with http.client, email and ssl: about
    2 MiB of a process that has no other use for them): the percent-escapes are the file
    name's bytes, decoded as the file system decodes them (``Path.as_uri`` reversed, as
    Python 3.14's ``url2pathname`` does; a name that is not UTF-8 stays readable)."""
    if os.name == "nt":
        from urllib.request import url2pathname as windows_name

        return windows_name(url)
    return unquote(url, sys.getfilesystemencoding(), sys.getfilesystemencodeerrors())
