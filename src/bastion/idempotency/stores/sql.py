"""The SQL store (SQLite, PostgreSQL): the primary key decides who runs.

``begin`` is one ``INSERT ... ON CONFLICT DO UPDATE ... WHERE ... RETURNING``:
it inserts a free key, or takes over an expired one or one whose lease ran out,
and returns the token it wrote. Among concurrent callers exactly one statement
writes; the others read the row that won. Each method runs in a short
transaction of its own, so other processes see a running key at once.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from bastion.core.clock import Clock, SystemClock
from bastion.core.db import Database
from bastion.idempotency.models import IdempotencyRecord
from bastion.idempotency.store import IN_PROGRESS, MISMATCH, Claim, StoredResponse

_T = IdempotencyRecord
# A row can vanish between the failed claim and the read (its holder released it):
# then the claim is tried again, a bounded number of times.
_ATTEMPTS = 5


class SqlIdempotencyStore:
    def __init__(self, db: Database, *, clock: Clock | None = None) -> None:
        self.db = db
        self.clock = clock or SystemClock()
        self._insert: Any = postgresql.insert if db.dialect == "postgresql" else sqlite.insert

    async def begin(self, key: str, fingerprint: str, *, lease: float, ttl: float) -> Claim:
        for _ in range(_ATTEMPTS):
            now = self.clock.now()
            token = secrets.token_hex(16)
            values = {
                "key": key,
                "fingerprint": fingerprint,
                "token": token,
                "locked_until": now + timedelta(seconds=lease),
                "expires_at": now + timedelta(seconds=ttl),
                "status_code": None,
                "headers": None,
                "body": None,
            }
            statement = self._insert(_T).values(values)
            claim = statement.on_conflict_do_update(
                index_elements=[_T.key],
                set_={name: statement.excluded[name] for name in values if name != "key"},
                where=or_(
                    _T.expires_at <= now,
                    and_(_T.status_code.is_(None), _T.locked_until <= now),
                ),
            ).returning(_T.token)
            async with self.db.session() as session:
                won = (await session.execute(claim)).scalar_one_or_none()
                if won == token:
                    return Claim("started", token)
                row = (
                    await session.execute(
                        select(_T.fingerprint, _T.status_code, _T.headers, _T.body).where(
                            _T.key == key
                        )
                    )
                ).one_or_none()
            if row is None:
                continue
            if row.fingerprint != fingerprint:
                return MISMATCH
            if row.status_code is None:
                return IN_PROGRESS
            headers = tuple((str(name), str(value)) for name, value in row.headers or ())
            return Claim("replay", response=StoredResponse(row.status_code, headers, row.body))
        return IN_PROGRESS

    async def complete(self, key: str, token: str, response: StoredResponse, *, ttl: float) -> bool:
        statement = (
            update(_T)
            .where(_T.key == key, _T.token == token)
            .values(
                token=None,
                locked_until=None,
                expires_at=self.clock.now() + timedelta(seconds=ttl),
                status_code=response.status,
                headers=[list(pair) for pair in response.headers],
                body=response.body,
            )
        )
        async with self.db.session() as session:
            result = await session.execute(statement)
        return bool(getattr(result, "rowcount", 0))

    async def release(self, key: str, token: str) -> bool:
        async with self.db.session() as session:
            result = await session.execute(delete(_T).where(_T.key == key, _T.token == token))
        return bool(getattr(result, "rowcount", 0))

    async def purge(self) -> int:
        async with self.db.session() as session:
            result = await session.execute(delete(_T).where(_T.expires_at <= self.clock.now()))
        return int(getattr(result, "rowcount", 0))
