"""Load shedding through the real app: over the in-flight limit, 503 ops.overloaded at once."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import APIRouter, FastAPI

from bastion import create_app
from tests.conftest import ClientFactory, make_settings

pytestmark = [pytest.mark.ops]

LIMIT = 3


def blocking_app(
    sqlite_url: str, release: asyncio.Event, entered: list[int], **shedding: object
) -> FastAPI:
    router = APIRouter()

    @router.get("/wait")
    async def wait() -> dict[str, bool]:
        entered.append(1)
        await release.wait()
        return {"ok": True}

    settings = make_settings(sqlite_url, shedding={"max_in_flight": LIMIT, **shedding})
    return create_app(settings, routers=[router])


async def fill(client: httpx.AsyncClient, entered: list[int]) -> list[asyncio.Task[httpx.Response]]:
    tasks = [asyncio.create_task(client.get("/wait")) for _ in range(LIMIT)]
    while len(entered) < LIMIT:
        await asyncio.sleep(0.01)
    return tasks


async def test_requests_over_the_limit_are_shed(sqlite_url: str, client_for: ClientFactory) -> None:
    release, entered = asyncio.Event(), []
    client = await client_for(blocking_app(sqlite_url, release, entered, retry_after_seconds=7))
    in_flight = await fill(client, entered)

    refused = await client.get("/wait")
    assert refused.status_code == 503
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.headers["retry-after"] == "7"
    assert refused.json()["code"] == "ops.overloaded"
    assert "x-request-id" in refused.headers  # still a response of the whole stack
    assert len(entered) == LIMIT  # the refused request never reached the route

    # Probes and /metrics are never shed.
    assert (await client.get("/livez")).status_code == 200
    metrics = (await client.get("/metrics")).text
    assert "bastion_http_shed_requests_total 1.0" in metrics
    assert (
        'http_server_request_duration_seconds_count{http_request_method="GET",'
        'http_response_status_code="503",http_route="/wait"} 1.0'
    ) in metrics

    release.set()
    assert [r.status_code for r in await asyncio.gather(*in_flight)] == [200] * LIMIT
    assert (await client.get("/wait")).status_code == 200  # room again


async def test_no_limit_by_default(sqlite_url: str, client_for: ClientFactory) -> None:
    release, entered = asyncio.Event(), []
    client = await client_for(blocking_app(sqlite_url, release, entered, max_in_flight=0))
    tasks = [asyncio.create_task(client.get("/wait")) for _ in range(50)]
    while len(entered) < 50:
        await asyncio.sleep(0.01)
    release.set()
    assert {r.status_code for r in await asyncio.gather(*tasks)} == {200}
    assert "bastion_http_shed_requests_total" not in (await client.get("/metrics")).text
