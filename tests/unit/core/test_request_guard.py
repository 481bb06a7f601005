"""Header limits, per-route body limits and the body read timeout."""

from __future__ import annotations

import asyncio

import pytest
from fastapi import APIRouter, Request

from bastion import create_app
from bastion.core.middleware import request_limits
from tests.conftest import make_settings

pytestmark = pytest.mark.core
router = APIRouter()


@router.post("/small")
async def small(request: Request) -> dict[str, int]:
    return {"size": len(await request.body())}


@router.post("/upload")
@request_limits(max_body_bytes=1000, body_timeout=5)
async def upload(request: Request) -> dict[str, int]:
    return {"size": len(await request.body())}


@router.post("/tiny")
@request_limits(max_body_bytes=4)
async def tiny(request: Request) -> dict[str, int]:
    return {"size": len(await request.body())}


@pytest.fixture
async def client(client_for, sqlite_url):
    settings = make_settings(
        sqlite_url,
        http={
            "max_body_bytes": 100,
            "body_timeout_seconds": 0.2,
            "max_headers": 20,
            "max_header_bytes": 2000,
        },
    )
    return await client_for(create_app(settings, routers=[router]), migrate=False)


async def test_too_many_headers_is_431(client):
    headers = {f"x-h{i}": "1" for i in range(25)}
    response = await client.get("/livez", headers=headers)
    assert response.status_code == 431
    assert response.json()["code"] == "request.headers_too_large"


async def test_too_many_header_bytes_is_431(client):
    response = await client.get("/livez", headers={"x-big": "a" * 3000})
    assert response.status_code == 431


async def test_route_can_raise_and_lower_the_body_limit(client):
    assert (await client.post("/small", content=b"x" * 101)).status_code == 413
    assert (await client.post("/upload", content=b"x" * 900)).json() == {"size": 900}
    assert (await client.post("/upload", content=b"x" * 1001)).status_code == 413
    assert (await client.post("/tiny", content=b"x" * 5)).status_code == 413


async def test_slow_body_is_408(client):
    async def slow():
        yield b"x"
        await asyncio.sleep(0.5)
        yield b"y"

    response = await client.post("/small", content=slow())
    assert response.status_code == 408
    assert response.json()["code"] == "request.body_timeout"


async def test_route_can_allow_a_slower_body(client):
    async def slow():
        yield b"x"
        await asyncio.sleep(0.3)
        yield b"y"

    response = await client.post("/upload", content=slow())
    assert response.json() == {"size": 2}


def test_bad_route_limits_fail_at_definition():
    with pytest.raises(ValueError, match="max_body_bytes"):
        request_limits(max_body_bytes=0)


async def test_streamed_response_outlives_the_body_timeout(client_for, sqlite_url):
    from fastapi.responses import StreamingResponse

    streaming = APIRouter()

    @streaming.post("/events")
    async def events(request: Request) -> StreamingResponse:
        await request.body()

        async def ticks():
            for i in range(4):
                await asyncio.sleep(0.1)
                yield f"tick {i}\n".encode()

        return StreamingResponse(ticks(), media_type="text/plain")

    settings = make_settings(sqlite_url, http={"body_timeout_seconds": 0.15})
    client = await client_for(create_app(settings, routers=[streaming]), migrate=False)
    response = await client.post("/events", content=b"{}")
    assert response.text == "tick 0\ntick 1\ntick 2\ntick 3\n"
