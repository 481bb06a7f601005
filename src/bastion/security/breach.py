"""Is a password known from a data breach? Have I Been Pwned's range API.

k-anonymity: only the first 5 hex characters of the password's SHA-1 leave the
server; the API answers every hash suffix it knows under that prefix
(``SUFFIX:COUNT`` lines), and the match is made here. ``Add-Padding: true``
makes the API pad its answer with fake rows (count 0), so that the size of the
answer says nothing about the prefix either.

Answers are cached per prefix, compactly (the first 64 bits of each suffix, a
sorted array): a prefix holds about a thousand suffixes.
"""

from __future__ import annotations

import hashlib
from array import array
from bisect import bisect_left
from collections import OrderedDict
from datetime import datetime, timedelta
from typing import Protocol

import structlog

from bastion.core.clock import Clock, SystemClock
from bastion.core.errors import BastionError
from bastion.core.http import HttpClient
from bastion.security.errors import BreachCheckUnavailable
from bastion.security.settings import SecuritySettings

__all__ = ["BreachChecker", "HibpBreachChecker"]

log = structlog.get_logger("bastion.security")


class BreachChecker(Protocol):
    """Tells how often a password was seen in breaches."""

    async def breach_count(self, password: str) -> int:
        """Times ``password`` was seen in breaches; 0 when never (or, failing open,
        when the source cannot be reached)."""
        ...


class _Range:
    """The suffixes known under one prefix, as sorted 64-bit keys with their counts."""

    def __init__(self, counts: dict[int, int]) -> None:
        keys = sorted(counts)
        self.keys = array("Q", keys)
        self.counts = array("Q", (counts[k] for k in keys))

    def count(self, key: int) -> int:
        index = bisect_left(self.keys, key)
        found = index < len(self.keys) and self.keys[index] == key
        return self.counts[index] if found else 0


def _key(suffix: str) -> int:
    return int(suffix[:16], 16)


class HibpBreachChecker:
    """:class:`BreachChecker` over the Pwned Passwords range API.

    When the API cannot be reached (timeout, connection error, an answer other
    than 200, an open circuit breaker): with ``fail_open`` the password counts
    as not breached and a warning is logged (``password.breach_check_unavailable``);
    without, :class:`BreachCheckUnavailable` (503) is raised.
    """

    def __init__(
        self,
        http_client: HttpClient,
        base_url: str = "https://api.pwnedpasswords.com",
        timeout: float = 2.0,
        cache_ttl: float = 3600.0,
        fail_open: bool = True,
        clock: Clock | None = None,
        cache_size: int = 1000,
    ) -> None:
        self._http = http_client
        self._base_url = base_url.rstrip("/")
        self._timeout = timeout
        self._ttl = timedelta(seconds=cache_ttl)
        self._fail_open = fail_open
        self._clock = clock or SystemClock()
        self._cache_size = cache_size
        self._cache: OrderedDict[str, tuple[datetime, _Range]] = OrderedDict()

    @classmethod
    def from_settings(
        cls, settings: SecuritySettings, http_client: HttpClient, *, clock: Clock | None = None
    ) -> HibpBreachChecker:
        return cls(
            http_client,
            base_url=settings.hibp_base_url,
            timeout=settings.hibp_timeout_seconds,
            cache_ttl=settings.hibp_cache_seconds,
            fail_open=settings.hibp_fail_open,
            clock=clock,
            cache_size=settings.hibp_cache_entries,
        )

    async def breach_count(self, password: str) -> int:
        digest = hashlib.sha1(password.encode(), usedforsecurity=False).hexdigest().upper()
        prefix, suffix = digest[:5], digest[5:]
        known = self._cached(prefix)
        if known is None:
            try:
                known = await self._fetch(prefix)
            except BreachCheckUnavailable as exc:
                if not self._fail_open:
                    raise
                log.warning("password.breach_check_unavailable", reason=exc.detail)
                return 0
            self._store(prefix, known)
        return known.count(_key(suffix))

    def _cached(self, prefix: str) -> _Range | None:
        entry = self._cache.get(prefix)
        if entry is None:
            return None
        if entry[0] <= self._clock.now():
            del self._cache[prefix]
            return None
        self._cache.move_to_end(prefix)
        return entry[1]

    def _store(self, prefix: str, known: _Range) -> None:
        if self._ttl <= timedelta(0):
            return
        self._cache[prefix] = (self._clock.now() + self._ttl, known)
        self._cache.move_to_end(prefix)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    async def _fetch(self, prefix: str) -> _Range:
        try:
            response = await self._http.get(
                f"{self._base_url}/range/{prefix}",
                headers={"Add-Padding": "true"},
                timeout=self._timeout,
                retries=0,
            )
        # The client's errors and its guard's (an open circuit breaker) alike.
        except BastionError as exc:
            raise BreachCheckUnavailable(f"{exc.code}: {exc}") from exc
        if response.status != 200:
            raise BreachCheckUnavailable(f"the range API answered {response.status}")
        counts: dict[int, int] = {}
        try:
            for line in response.text.splitlines():
                if not line.strip():
                    continue
                suffix, _, count = line.strip().partition(":")
                if int(count) > 0:  # padding rows have a count of 0
                    counts[_key(suffix)] = int(count)
        except ValueError as exc:
            raise BreachCheckUnavailable("the range API answered an unreadable body") from exc
        return _Range(counts)
