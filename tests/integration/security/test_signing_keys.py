"""Signing keys in the database (SQLite and PostgreSQL) and the per-process ring cache."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError

from bastion import Database, ManualClock
from bastion.lifecycle import migrations
from bastion.security.audit import AuditEvent, AuditLog
from bastion.security.crypto import SecretBox
from bastion.security.errors import DecryptionFailed, InvalidToken, SigningKeyNotFound
from bastion.security.keys import KeyRingCache, SigningKeyStore
from bastion.security.models import SigningKey

pytestmark = pytest.mark.security

SECRET = "the-current-secret-key-of-this-test-0123456789"
START = datetime(2026, 1, 1, tzinfo=UTC)
CLAIMS = {"sub": "42", "aud": "api", "iss": "bastion", "exp": int(START.timestamp()) + 3600}


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    await migrations.upgrade(database)
    yield database
    await database.dispose()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def store(db: Database, clock: ManualClock) -> SigningKeyStore:
    return SigningKeyStore(db, SecretBox([SECRET]), clock, publish_delay=30)


def _verify(ring, token: str) -> dict:  # type: ignore[no-untyped-def]
    return ring.verify(token, audience="api", issuer="bastion")


async def test_rotate_seals_the_private_material(store, db) -> None:
    ed, hs = await store.rotate("EdDSA"), await store.rotate("HS256")
    async with db.session() as session:
        rows = {r.kid: r for r in await session.scalars(select(SigningKey))}
    assert rows[ed].alg == "EdDSA" and rows[hs].alg == "HS256"
    for row in rows.values():
        assert row.private_material.startswith("v1.")
        assert row.created_at == START
        assert row.retired_at is None
    assert json.loads(rows[ed].public_jwk or "")["kid"] == ed
    assert rows[hs].public_jwk is None


async def test_the_ring_rolls_as_keys_rotate_and_retire(store, clock) -> None:
    first = await store.rotate()
    ring = await store.load_ring()
    token_1 = ring.sign(CLAIMS)
    clock.advance(seconds=60)
    second = await store.rotate()
    ring = await store.load_ring()
    assert ring.kids == [first, second]
    assert ring.signing_key().kid == first  # the new key is not published yet
    clock.advance(seconds=30)
    token_2 = ring.sign(CLAIMS)
    assert ring.signing_key().kid == second
    assert _verify(ring, token_1) == _verify(ring, token_2)
    assert [k["kid"] for k in ring.jwks()["keys"]] == [first, second]

    await store.retire(first)
    ring = await store.load_ring()
    assert ring.kids == [second]
    with pytest.raises(InvalidToken):
        _verify(ring, token_1)
    assert _verify(ring, token_2)["sub"] == "42"
    await store.retire(first)  # again: nothing changes
    with pytest.raises(SigningKeyNotFound):
        await store.retire("no-such-kid")
    listed = await store.list_keys()
    assert [(k.kid, k.retired_at) for k in listed] == [
        (first, START.replace(minute=1, second=30)),
        (second, None),
    ]


async def test_ensure_key_creates_only_when_no_active_key(store) -> None:
    created = await store.ensure_key("EdDSA")
    assert created is not None
    assert await store.ensure_key("EdDSA") is None
    await store.retire(created)
    again = await store.ensure_key("HS256")
    assert again is not None and again != created
    assert [k.alg for k in await store.list_keys()] == ["EdDSA", "HS256"]


async def test_rotation_of_the_secret_key_keeps_keys_readable(db, clock) -> None:
    old = "the-old-secret-key-of-this-test-0123456789"
    kid = await SigningKeyStore(db, SecretBox([old]), clock).rotate()
    token = (await SigningKeyStore(db, SecretBox([old]), clock).load_ring()).sign(CLAIMS)
    rotated = SigningKeyStore(db, SecretBox([SECRET, old]), clock)
    assert _verify(await rotated.load_ring(), token)["sub"] == "42"
    with pytest.raises(DecryptionFailed):
        await SigningKeyStore(db, SecretBox([SECRET]), clock).load_ring()
    assert kid


async def test_sealed_material_is_bound_to_its_row(store, db) -> None:
    one, two = await store.rotate(), await store.rotate()
    async with db.session() as session:
        sealed = await session.scalar(
            select(SigningKey.private_material).where(SigningKey.kid == one)
        )
        await session.execute(
            update(SigningKey).where(SigningKey.kid == two).values(private_material=sealed)
        )
    with pytest.raises(DecryptionFailed):
        await store.load_ring()


async def test_the_cache_reloads_after_its_interval(store, clock) -> None:
    cache = KeyRingCache(store, reload_seconds=30, clock=clock)
    first = await store.rotate()
    ring = await cache.ring()
    assert ring.kids == [first]
    second = await store.rotate()  # as another process (the CLI) would
    assert (await cache.ring()).kids == [first]
    clock.advance(seconds=30)
    assert (await cache.ring()).kids == [first, second]
    await store.retire(first)
    cache.invalidate()
    assert (await cache.ring()).kids == [second]


async def test_concurrent_callers_share_one_reload(store, clock, monkeypatch) -> None:
    await store.rotate()
    loads = 0
    real = store.load_ring

    async def counting():  # type: ignore[no-untyped-def]
        nonlocal loads
        loads += 1
        await asyncio.sleep(0.01)
        return await real()

    monkeypatch.setattr(store, "load_ring", counting)
    cache = KeyRingCache(store, reload_seconds=30, clock=clock)
    rings = await asyncio.gather(*(cache.ring() for _ in range(20)))
    assert loads == 1
    assert all(r is rings[0] for r in rings)


async def test_a_failed_reload_keeps_the_last_ring(store, clock, monkeypatch) -> None:
    kid = await store.rotate()
    cache = KeyRingCache(store, reload_seconds=30, clock=clock)
    assert (await cache.ring()).kids == [kid]

    async def down():  # type: ignore[no-untyped-def]
        raise OperationalError("SELECT", {}, ConnectionError("database is down"))

    monkeypatch.setattr(store, "load_ring", down)
    clock.advance(seconds=31)
    assert (await cache.ring()).kids == [kid]
    fresh = KeyRingCache(store, reload_seconds=30, clock=clock)
    with pytest.raises(OperationalError):
        await fresh.ring()


async def test_rotate_reseals_keys_sealed_with_a_previous_secret_and_is_audited(db, clock) -> None:
    old_box = SecretBox(["the-previous-secret-key-of-this-test-0123456"])
    first = await SigningKeyStore(db, old_box, clock).rotate("EdDSA")
    new_box = SecretBox([SECRET, "the-previous-secret-key-of-this-test-0123456"])
    log = AuditLog(db, clock)
    store = SigningKeyStore(db, new_box, clock, audit=log)
    second = await store.rotate("EdDSA")
    async with db.session() as session:
        rows = {r.kid: r for r in await session.scalars(select(SigningKey))}
    assert not any(new_box.needs_reseal(row.private_material) for row in rows.values())
    # Only the current secret is needed now: the previous one can be dropped.
    ring = await SigningKeyStore(db, SecretBox([SECRET]), clock).load_ring()
    assert set(ring.kids) == {first, second}
    await store.retire(first)
    async with db.session() as session:
        events = (await session.scalars(select(AuditEvent).order_by(AuditEvent.seq))).all()
    assert [(e.action, e.target) for e in events] == [
        ("security.signing_key_rotated", f"kid:{second}"),
        ("security.signing_key_retired", f"kid:{first}"),
    ]
    assert json.loads(events[0].data) == {"resealed": 1}
    assert await log.verify("system") is None
