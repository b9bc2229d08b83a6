"""The address guard: third-party links reach public addresses only (server-side request
forgery), unless ``[fetch] allow_private_addresses`` allows others."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

from feeds.ingest.fetch.resolver import LookupTimeout, ip_literal, resolve
from feeds.ingest.fetch.wire import _DEFAULT_PORTS

# --- the address guard --------------------------------------------------------------------

#: ``resolver(host, port)`` → the IP addresses ``host`` resolves to, as strings.
Resolver = Callable[[str, int], Sequence[str]]

_IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def system_resolver(host: str, port: int) -> list[str]:
    """Resolve ``host`` with the operating system's resolver (``getaddrinfo``), by the
    fetch's deadline (:func:`~feeds.ingest.fetch.resolver.resolve`)."""
    return resolve(host, port)


class _Refused(Exception):
    """Raised inside a fetch when an address is not allowed; ``fetch`` adds the URL."""


class _Unresolvable(Exception):
    """Raised inside a guarded fetch when the host name does not resolve."""


def _non_public(address: _IPAddress) -> str | None:
    """Why ``address`` is not a public unicast address, or ``None`` when it is one.

    IPv4 addresses inside IPv6 (``::ffff:10.0.0.1``, 6to4, Teredo) are judged by
    the IPv4 address they carry.
    """
    if isinstance(address, ipaddress.IPv6Address):
        for embedded in (address.ipv4_mapped, address.sixtofour):
            if embedded is not None:
                return _non_public(embedded)
        if address.teredo is not None:
            return _non_public(address.teredo[0]) or _non_public(address.teredo[1])
    checks = (
        ("is_unspecified", "unspecified"),
        ("is_loopback", "loopback"),
        ("is_link_local", "link-local"),
        ("is_multicast", "multicast"),
        ("is_reserved", "reserved"),
        ("is_private", "private"),
    )
    for attribute, label in checks:
        if getattr(address, attribute):
            return label
    return None if address.is_global else "non-public"


class AddressPolicy:
    """Which addresses third-party links may reach.

    By default only public unicast addresses. ``allow_all`` lifts the rule;
    ``allowed_networks`` (CIDR strings) are allowed anyway. ``resolver`` is
    injectable so tests never need real DNS.
    """

    def __init__(
        self,
        *,
        allow_all: bool = False,
        allowed_networks: Sequence[str] = (),
        resolver: Resolver = system_resolver,
    ) -> None:
        self.allow_all = allow_all
        self._allowed: tuple[_IPNetwork, ...] = tuple(
            ipaddress.ip_network(n, strict=False) for n in allowed_networks
        )
        self._resolver = resolver

    def addresses(self, host: str, port: int) -> list[str]:
        """The addresses of ``host`` that may be connected to, in resolver order.

        An IP literal is checked as it is; a name is resolved and *every*
        address it resolves to must pass (one private answer refuses the name).
        Raises ``_Refused`` with the reason, ``_Unresolvable`` when the name does not resolve.
        """
        literal = ip_literal(host)
        if literal is not None:
            candidates = [literal]
        else:
            try:
                resolved = self._resolver(host, port)
            except (OSError, UnicodeError) as exc:
                raise _Unresolvable(f"cannot resolve {host!r}: {exc}") from exc
            candidates = []
            for text in resolved:
                try:
                    candidates.append(ipaddress.ip_address(text.split("%", 1)[0]))
                except ValueError as exc:
                    raise _Refused(f"{host!r} resolved to {text!r}, not an address") from exc
            if not candidates:
                raise _Unresolvable(f"cannot resolve {host!r}: no address")
        if not self.allow_all:
            for address in candidates:
                reason = _non_public(address)
                if reason is not None and not any(address in net for net in self._allowed):
                    named = "" if literal is not None else f"{host} resolves to "
                    raise _Refused(
                        f"refused: {named}{address}, a {reason} address"
                        " ([fetch] allow_private_addresses is off)"
                    )
        return [str(a) for a in candidates]

    def is_public(self, host: str, port: int) -> bool:
        """True when every address of ``host`` is public (allowed networks aside), or when
        it does not resolve, or not in time (then the safe answer: what follows it must be
        checked)."""
        literal = ip_literal(host)
        if literal is not None:
            return _non_public(literal) is None
        try:
            resolved = self._resolver(host, port)
            return all(
                _non_public(ipaddress.ip_address(a.split("%", 1)[0])) is None for a in resolved
            )
        except (OSError, UnicodeError, ValueError, LookupTimeout):
            return True

    def passes(self, host: str, port: int) -> bool:
        """True when ``host`` may be reached under this policy (allowed networks included);
        a name that does not resolve, or not in time, passes (its fetch is checked on its
        own)."""
        try:
            self.addresses(host, port)
        except _Refused:
            return False
        except (_Unresolvable, LookupTimeout):
            return True
        return True


def address_refusal(policy: AddressPolicy, url: str) -> str | None:
    """Why ``policy`` refuses the host of http(s) ``url`` (``"refused: …"``), or None.

    A name that does not resolve is not refused here (it may resolve later, and its
    fetch is checked then)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme, 80)
        policy.addresses(host, port)
    except _Refused as exc:
        return str(exc)
    except (_Unresolvable, ValueError):
        return None
    return None
