"""A webhook receiver on 127.0.0.1 and an app that publishes to it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from fastapi import APIRouter, HTTPException
from pydantic import BaseModel

from bastion import DbSession, create_app
from bastion.orgs import CurrentOrg
from bastion.webhooks import WebhookRegistry
from tests.conftest import FAST_HASHING, make_settings
from tests.signin import sign_in_to_new_org


class TaskCreatedV1(BaseModel):
    id: str
    title: str


class TaskCreatedV2(BaseModel):
    id: str
    name: str
    project: str


def v2_to_v1(data: dict[str, Any]) -> dict[str, Any]:
    return {"id": data["id"], "title": data["name"]}


class Publish(BaseModel):
    type: str = "task.created"
    data: dict[str, Any]
    fail: bool = False


def registry() -> WebhookRegistry:
    hooks = WebhookRegistry()
    hooks.event_type("task.created", version=1, model=TaskCreatedV1, derive=v2_to_v1)
    hooks.event_type("task.created", version=2, model=TaskCreatedV2, description="v2")
    return hooks


def producer(hooks: WebhookRegistry) -> APIRouter:
    """A route that publishes in its transaction (and may then fail, rolling back)."""
    router = APIRouter()

    @router.post("/publish")
    async def publish(body: Publish, org: CurrentOrg, session: DbSession) -> dict[str, str]:
        message = await hooks.publish(session, body.type, body.data, tenant_id=org.org_id)
        if body.fail:
            raise HTTPException(409, "the producer failed after publishing")
        return {"id": str(message)}

    return router


@dataclass
class Receiver:
    """Records every request; answers with ``respond(request_number)``."""

    url: str = ""
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    respond: Callable[[int], web.Response] = lambda n: web.Response(text="ok")
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.requests.append((dict(request.headers), body))
        self.arrived.set()
        return self.respond(len(self.requests))

    async def wait_for(self, count: int, timeout: float = 15.0) -> None:
        async with asyncio.timeout(timeout):
            while len(self.requests) < count:
                self.arrived.clear()
                await self.arrived.wait()


@pytest.fixture
async def receiver(serve_http) -> Receiver:
    found = Receiver()
    app = web.Application()
    app.router.add_post("/hook", found.handle)
    found.url = await serve_http(app) + "/hook"
    return found


def taskboard_settings(database_url: str) -> Any:
    """The reference app's settings, delivering to 127.0.0.1 with its embedded worker."""
    return make_settings(
        database_url,
        **FAST_HASHING,
        webhooks={"allow_private_targets": True, "poll_seconds": 0.05},
        jobs={"embedded_worker": True, "poll_seconds": 0.05},
        outbox={"poll_seconds": 0.05},
    )


FAST = {
    "webhooks": {
        "allow_private_targets": True,
        "retry_schedule": [0, 0.1, 0.2, 0.2, 0.2],
        "poll_seconds": 0.05,
    },
    "jobs": {"embedded_worker": True, "poll_seconds": 0.05},
    "outbox": {"poll_seconds": 0.05},
}


@pytest.fixture
async def webhook_app(client_for, database_url) -> Callable[..., Any]:
    """``client, hooks = await webhook_app(**settings)``: signed in to a new org."""

    async def make(*, clock: Any = None, on_disabled: Any = None, **overrides: Any) -> Any:
        values = {**FAST_HASHING, **FAST}
        for key, value in overrides.items():
            values[key] = {**values.get(key, {}), **value}
        hooks = registry()
        hooks.on_disabled = on_disabled
        app = create_app(
            make_settings(database_url, **values),
            webhooks=hooks,
            routers=[producer(hooks)],
            clock=clock,
        )
        client = await client_for(app)
        client.app_under_test = app  # the tests that drive the deliverer themselves
        org = await sign_in_to_new_org(client)
        return client, uuid.UUID(org)

    return make
