"""SSRF protection of webhook targets: checked when an endpoint is saved, and again
after DNS resolution at delivery, inside the HTTP client's resolver (the addresses
checked are the addresses connected to: a DNS answer that changes in between
cannot slip through).

>>> policy = TargetPolicy()
>>> policy.refusal("169.254.169.254")
'169.254.169.254 is a link-local address'
>>> policy.refusal("93.184.215.14") is None
True
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence
from typing import Any

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from yarl import URL

from bastion.webhooks.errors import TargetRefused

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# Cloud metadata services that are not in a private or link-local range.
METADATA = (ipaddress.ip_network("fd00:ec2::254/128"), ipaddress.ip_network("100.100.100.200/32"))


class RefusedAddress(OSError):
    """Raised by the resolver: aiohttp reports it as a connection error, with this cause."""


class TargetPolicy:
    """Which hosts and addresses webhooks may be sent to."""

    def __init__(
        self, *, allow_private: bool = False, allowed: Sequence[str] = (), https_only: bool = False
    ) -> None:
        self.allow_private = allow_private
        self.https_only = https_only
        self.allowed_hosts = set()
        self.allowed_networks: list[Network] = []
        for entry in allowed:
            try:
                self.allowed_networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                self.allowed_hosts.add(entry.lower())

    def refusal(self, address: str, host: str = "") -> str | None:
        """Why ``address`` (an IP) may not be a target, or ``None``."""
        ip: Address = ipaddress.ip_address(address.split("%", 1)[0])
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if self.allow_private or host.lower() in self.allowed_hosts:
            return None
        if any(ip in network for network in self.allowed_networks):
            return None
        for kind, flag in (
            ("loopback", ip.is_loopback),
            ("link-local", ip.is_link_local),
            ("private", ip.is_private),
            ("reserved", ip.is_reserved or ip.is_multicast or ip.is_unspecified),
            ("cloud metadata", any(ip in network for network in METADATA)),
        ):
            if flag:
                return f"{ip} is a{'n' if kind[0] in 'aeiou' else ''} {kind} address"
        return None

    def check_url(self, url: str) -> None:
        """Refuse a URL that is not http(s), has no host, or names a refused IP literal.
        (Host names are checked when they are resolved.)"""
        parsed = URL(url)
        allowed = ("https",) if self.https_only else ("https", "http")
        if parsed.scheme not in allowed or not parsed.host:
            raise TargetRefused(f"A webhook URL must be an absolute {' or '.join(allowed)} URL.")
        try:
            ipaddress.ip_address(parsed.host)
        except ValueError:
            return
        reason = self.refusal(parsed.host)
        if reason is not None:
            raise TargetRefused(f"The webhook target is refused: {reason}.")


class GuardedResolver(AbstractResolver):
    """Resolves with ``inner`` and refuses the whole answer if any address is refused."""

    def __init__(self, policy: TargetPolicy, inner: AbstractResolver | None = None) -> None:
        self.policy = policy
        self.inner = inner  # the default one needs a running loop: made on first use

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        if self.inner is None:
            self.inner = DefaultResolver()
        answers = await self.inner.resolve(host, port, family)
        for answer in answers:
            reason = self.policy.refusal(answer["host"], host)
            if reason is not None:
                raise RefusedAddress(f"{host} resolves to a refused address: {reason}")
        return answers

    async def close(self) -> None:
        if self.inner is not None:
            await self.inner.close()


def refused_cause(exc: BaseException) -> RefusedAddress | None:
    """The :class:`RefusedAddress` behind a client error, if that is what it is."""
    seen: Any = exc
    while seen is not None:
        if isinstance(seen, RefusedAddress):
            return seen
        seen = getattr(seen, "os_error", None) or seen.__cause__ or seen.__context__
    return None
