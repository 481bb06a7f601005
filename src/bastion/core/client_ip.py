"""The client's address, trusting proxy headers only from configured proxies.

Without trusted proxies the peer address is the client: ``X-Forwarded-For`` and
``Forwarded`` are ignored, since any client can send them. With trusted
proxies, the headers are read right to left and the first address that is not
a trusted proxy is the client.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache

from starlette.types import Scope

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(networks: Iterable[str]) -> tuple[Network, ...]:
    """CIDR strings as networks; a bad one raises ``ValueError`` naming it."""
    return tuple(ipaddress.ip_network(n, strict=False) for n in networks)


def address_in(address: str, networks: tuple[Network, ...]) -> bool:
    """Whether ``address`` (an IPv4-mapped IPv6 address counts as its IPv4) is in a network."""
    ip = _parse(address)
    if ip is None:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # a dual-stack socket's view of an IPv4 client
    return any(ip in network for network in networks)


class ClientIP:
    """``ClientIP(["10.0.0.0/8"])(scope)`` returns the client address as a string."""

    def __init__(self, trusted_proxies: Iterable[str] = ()) -> None:
        self.trusted = parse_networks(trusted_proxies)

    def __call__(self, scope: Scope) -> str:
        client = scope.get("client")
        peer = client[0] if client else "unknown"
        if not self.trusted or not self._is_trusted(peer):
            return peer
        hops = _forwarded_for(scope)
        for hop in reversed(hops):
            if not self._is_trusted(hop):
                return hop
        return hops[0] if hops else peer

    def _is_trusted(self, address: str) -> bool:
        return address_in(address, self.trusted)


@lru_cache(maxsize=4096)
def _parse(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(address)
    except ValueError:
        return None


def _forwarded_for(scope: Scope) -> list[str]:
    """Addresses from ``Forwarded`` (RFC 7239) or else ``X-Forwarded-For``, in order."""
    forwarded: list[str] = []
    x_forwarded: list[str] = []
    for name, value in scope["headers"]:
        if name == b"forwarded":
            for element in value.decode("latin-1").split(","):
                for pair in element.split(";"):
                    key, _, val = pair.strip().partition("=")
                    if key.lower() == "for" and val:
                        forwarded.append(_strip_port(val.strip('"')))
        elif name == b"x-forwarded-for":
            x_forwarded += [p.strip() for p in value.decode("latin-1").split(",") if p.strip()]
    return [hop for hop in (forwarded or x_forwarded) if _parse(hop) is not None]


def _strip_port(value: str) -> str:
    if value.startswith("["):  # "[2001:db8::1]:4711"
        return value[1:].split("]", 1)[0]
    if value.count(":") == 1:  # "192.0.2.60:4711"
        return value.split(":", 1)[0]
    return value
