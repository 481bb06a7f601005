"""The store contract: who runs a keyed request, and what a repeat gets back.

A key is a scoped string (tenant, principal and the client's key). ``begin`` is
one atomic step: exactly one caller among concurrent ones gets ``started`` and a
token; the others learn that the key is running, done (with the response), or
used by another request (another fingerprint). A running key is held for a
lease: if its holder dies, the key can be taken again once the lease is over.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Literal, Protocol

ClaimState = Literal["started", "in_progress", "mismatch", "replay"]


@dataclass(frozen=True)
class StoredResponse:
    """What a replay answers: status, the selected headers, the body bytes."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


@dataclass(frozen=True)
class Claim:
    """The outcome of ``begin``: ``token`` when started, ``response`` when replayed."""

    state: ClaimState
    token: str | None = None
    response: StoredResponse | None = None


IN_PROGRESS = Claim("in_progress")
MISMATCH = Claim("mismatch")


class IdempotencyStore(Protocol):
    """Where keys live. Every method is one atomic step of the store."""

    def begin(self, key: str, fingerprint: str, *, lease: float, ttl: float) -> Awaitable[Claim]:
        """Claim ``key`` for a request with ``fingerprint``.

        ``started`` (with a fresh token) when the key is free, expired, or running
        past its lease; ``mismatch`` when the key is held for another fingerprint;
        ``in_progress`` when it is running; ``replay`` when done. The claim lasts
        ``lease`` seconds; the record ``ttl`` seconds at most.
        """
        ...

    def complete(
        self, key: str, token: str, response: StoredResponse, *, ttl: float
    ) -> Awaitable[bool]:
        """Store the response of the claim ``token``, kept ``ttl`` seconds.

        ``False`` (and nothing stored) when the claim is no longer ``token``'s.
        """
        ...

    def release(self, key: str, token: str) -> Awaitable[bool]:
        """Forget the claim ``token`` so that a retry runs; ``False`` if it was not held."""
        ...

    def purge(self) -> Awaitable[int]:
        """Delete expired records; returns how many (stores that expire on their own: 0)."""
        ...
