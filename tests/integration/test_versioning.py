"""Optimistic locking: ETags, If-Match (412, 428) and lost races (409), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest
from fastapi import APIRouter, FastAPI, Response
from pydantic import BaseModel
from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from bastion import DbSession, bastion_state, create_app
from bastion.core.db import Versioned
from bastion.idempotency import (
    ConflictError,
    IfMatchHeader,
    IfMatchRequired,
    set_etag,
    update_versioned,
)
from bastion.outbox import InboxEntry
from tests.conftest import make_settings

pytestmark = [pytest.mark.concurrency, pytest.mark.db]


class LocalBase(DeclarativeBase):
    """A metadata of its own: the test table stays out of the app's migrations check."""


class Doc(Versioned, LocalBase):
    __tablename__ = "test_versioned_docs"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(100))


class DocPatch(BaseModel):
    title: str
    pause: float = 0.0


def build(database_url: str) -> FastAPI:
    router = APIRouter()

    @router.get("/docs/{doc_id}")
    async def read(doc_id: int, session: DbSession, response: Response) -> dict[str, object]:
        doc = await session.get(Doc, doc_id)
        assert doc is not None
        set_etag(response, doc)
        return {"title": doc.title, "version": doc.version}

    @router.patch("/docs/{doc_id}")
    async def patch(
        doc_id: int,
        body: DocPatch,
        session: DbSession,
        response: Response,
        precondition: IfMatchHeader,
    ) -> dict[str, object]:
        doc = await session.get(Doc, doc_id)
        assert doc is not None
        precondition.check(doc)
        await asyncio.sleep(body.pause)  # another writer may commit meanwhile
        doc.title = body.title
        await session.flush()
        set_etag(response, doc)
        return {"title": doc.title, "version": doc.version}

    @router.delete("/docs/{doc_id}", status_code=204)
    async def remove(doc_id: int, session: DbSession, precondition: IfMatchRequired) -> None:
        doc = await session.get(Doc, doc_id)
        assert doc is not None
        precondition.check(doc)
        await session.delete(doc)

    return create_app(make_settings(database_url, ratelimit={"enabled": False}), routers=[router])


@pytest.fixture
async def client(client_for, database_url):
    app = build(database_url)
    client = await client_for(app)
    db = bastion_state(app).db
    async with db.engine.begin() as connection:
        await connection.run_sync(Doc.__table__.create)
    async with db.session() as session:
        session.add(Doc(id=1, title="draft"))
    return client


async def test_responses_carry_a_weak_etag_from_the_version(client):
    read = await client.get("/docs/1")
    assert read.headers["etag"] == 'W/"1"'
    patched = await client.patch("/docs/1", json={"title": "v2"}, headers={"If-Match": 'W/"1"'})
    assert patched.status_code == 200
    assert patched.headers["etag"] == 'W/"2"'
    assert patched.json() == {"title": "v2", "version": 2}
    strong = await client.patch("/docs/1", json={"title": "v3"}, headers={"If-Match": '"2"'})
    assert strong.headers["etag"] == 'W/"3"'
    anything = await client.patch("/docs/1", json={"title": "v4"}, headers={"If-Match": "*"})
    assert anything.status_code == 200
    listed = await client.patch(
        "/docs/1", json={"title": "v5"}, headers={"If-Match": 'W/"9", W/"4"'}
    )
    assert listed.status_code == 200


async def test_a_stale_etag_is_412(client):
    await client.patch("/docs/1", json={"title": "v2"})  # If-Match is optional here
    stale = await client.patch("/docs/1", json={"title": "mine"}, headers={"If-Match": 'W/"1"'})
    assert stale.status_code == 412
    assert stale.json()["code"] == "concurrency.precondition_failed"
    assert stale.headers["etag"] == 'W/"2"'
    assert (await client.get("/docs/1")).json()["title"] == "v2"


async def test_a_route_can_require_if_match(client):
    missing = await client.delete("/docs/1")
    assert missing.status_code == 428
    assert missing.json()["code"] == "concurrency.precondition_required"
    assert (await client.delete("/docs/1", headers={"If-Match": 'W/"1"'})).status_code == 204


async def test_concurrent_updates_of_one_version_one_wins(client):
    both = await asyncio.gather(
        *(
            client.patch(
                "/docs/1", json={"title": title, "pause": 0.2}, headers={"If-Match": 'W/"1"'}
            )
            for title in ("left", "right")
        )
    )
    statuses = sorted(r.status_code for r in both)
    assert statuses == [200, 409]
    lost = next(r for r in both if r.status_code == 409)
    assert lost.json()["code"] == "conflict.stale_version"
    won = next(r for r in both if r.status_code == 200)
    final = await client.get("/docs/1")
    assert final.json() == {"title": won.json()["title"], "version": 2}


async def test_update_versioned_outside_http(client):
    db = bastion_state(client._transport.app).db
    async with db.session() as session:
        assert await update_versioned(session, Doc, 1, 1, title="job") == 2
    with pytest.raises(ConflictError):
        async with db.session() as session:
            await update_versioned(session, Doc, 1, 1, title="late")
    with pytest.raises(TypeError):
        async with db.session() as session:
            await update_versioned(session, InboxEntry, 1, 1)
    async with db.session() as session:
        doc = await session.get(Doc, 1)
    assert doc is not None and (doc.title, doc.version) == ("job", 2)
