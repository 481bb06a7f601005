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


class ClientIP:
    """``ClientIP(["10.0.0.0/8"])(scope)`` returns the client address as a string."""

    def __init__(self, trusted_proxies: Iterable[str] = ()) -> None:
        self.trusted = tuple(ipaddress.ip_network(n, strict=False) for n in trusted_proxies)

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
        ip = _parse(address)
        return ip is not None and any(ip in network for network in self.trusted)


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
