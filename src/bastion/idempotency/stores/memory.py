"""The in-process store: for tests and ``make run`` with one process.

No ``await`` between reading and writing a record, so each method is atomic on
the event loop.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from bastion.core.clock import Clock, SystemClock
from bastion.idempotency.store import IN_PROGRESS, MISMATCH, Claim, StoredResponse


@dataclass
class _Record:
    fingerprint: str
    token: str | None
    locked_until: datetime | None
    expires_at: datetime
    response: StoredResponse | None = None


class MemoryIdempotencyStore:
    def __init__(self, *, clock: Clock | None = None) -> None:
        self.clock = clock or SystemClock()
        self._records: dict[str, _Record] = {}

    async def begin(self, key: str, fingerprint: str, *, lease: float, ttl: float) -> Claim:
        now = self.clock.now()
        record = self._records.get(key)
        if record is None or record.expires_at <= now or _lease_over(record, now):
            token = secrets.token_hex(16)
            self._records[key] = _Record(
                fingerprint,
                token,
                now + timedelta(seconds=lease),
                now + timedelta(seconds=ttl),
            )
            return Claim("started", token)
        if record.fingerprint != fingerprint:
            return MISMATCH
        if record.response is None:
            return IN_PROGRESS
        return Claim("replay", response=record.response)

    async def complete(self, key: str, token: str, response: StoredResponse, *, ttl: float) -> bool:
        record = self._records.get(key)
        if record is None or record.token != token:
            return False
        record.token = record.locked_until = None
        record.response = response
        record.expires_at = self.clock.now() + timedelta(seconds=ttl)
        return True

    async def release(self, key: str, token: str) -> bool:
        record = self._records.get(key)
        if record is None or record.token != token:
            return False
        del self._records[key]
        return True

    async def purge(self) -> int:
        now = self.clock.now()
        expired = [key for key, record in self._records.items() if record.expires_at <= now]
        for key in expired:
            del self._records[key]
        return len(expired)


def _lease_over(record: _Record, now: datetime) -> bool:
    return (
        record.response is None and record.locked_until is not None and record.locked_until <= now
    )
