"""The outbound HTTP client against a real server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import pytest
from aiohttp import web

from bastion import ManualClock, bastion_state, create_app
from bastion.core.http import (
    HttpClient,
    UpstreamResponseTooLarge,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from bastion.ops.breaker import CircuitOpen
from bastion.ops.http_breakers import HostBreakers
from tests.conftest import make_settings
from tests.integration.conftest import ServeHttp

pytestmark = pytest.mark.core


def _upstream() -> tuple[web.Application, dict[str, int]]:
    """A server whose /flaky answers 503 twice then 200, and that counts its hits."""
    hits: dict[str, int] = {}
    app = web.Application()

    async def count(request: web.Request) -> None:
        hits[request.path] = hits.get(request.path, 0) + 1

    async def hello(request: web.Request) -> web.Response:
        await count(request)
        return web.json_response(
            {"method": request.method, "agent": request.headers.get("User-Agent")},
            headers={"X-Echo": request.query.get("q", "")},
        )

    async def flaky(request: web.Request) -> web.Response:
        await count(request)
        if hits[request.path] <= 2:
            return web.Response(status=503, text="busy")
        return web.Response(text="café", content_type="text/plain", charset="latin-1")

    async def broken(request: web.Request) -> web.Response:
        await count(request)
        return web.Response(status=500)

    async def slow(request: web.Request) -> web.Response:
        await count(request)
        await asyncio.sleep(2)
        return web.Response(text="late")

    async def big(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()  # chunked: no Content-Length to refuse early
        await response.prepare(request)
        for _ in range(10):
            await response.write(b"x" * 1000)
        return response

    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPFound("/hello")

    app.router.add_route("*", "/hello", hello)
    app.router.add_route("*", "/flaky", flaky)
    app.router.add_get("/broken", broken)
    app.router.add_get("/slow", slow)
    app.router.add_get("/big", big)
    app.router.add_get("/moved", moved)
    return app, hits


@pytest.fixture
async def upstream(serve_http: ServeHttp) -> tuple[str, dict[str, int]]:
    app, hits = _upstream()
    return await serve_http(app), hits


@pytest.fixture
async def client() -> AsyncIterator[HttpClient]:
    http = HttpClient(timeout=1.0, retries=2, backoff=0)
    yield http
    await http.close()


async def test_reads_status_headers_body_and_json(upstream, client: HttpClient) -> None:
    base, _ = upstream
    response = await client.get(f"{base}/hello", params={"q": "hi"})
    assert response.status == 200
    assert response.ok
    assert response.headers["x-echo"] == "hi"  # case-insensitive
    assert response.json() == {"method": "GET", "agent": "bastion"}
    assert response.url == f"{base}/hello?q=hi"


async def test_idempotent_requests_are_retried_on_503(upstream, client: HttpClient) -> None:
    base, hits = upstream
    response = await client.get(f"{base}/flaky")
    assert response.status == 200
    assert response.text == "café"  # decoded with the charset the server named
    assert hits["/flaky"] == 3


async def test_the_last_answer_is_returned_when_retries_run_out(upstream, client) -> None:
    base, hits = upstream
    response = await client.get(f"{base}/flaky", retries=1)
    assert response.status == 503
    assert response.text == "busy"
    assert hits["/flaky"] == 2


async def test_post_is_never_retried(upstream, client: HttpClient) -> None:
    base, hits = upstream
    response = await client.post(f"{base}/flaky", json={"a": 1})
    assert response.status == 503
    assert hits["/flaky"] == 1


async def test_500_is_not_retried(upstream, client: HttpClient) -> None:
    base, hits = upstream
    assert (await client.get(f"{base}/broken")).status == 500
    assert hits["/broken"] == 1


async def test_a_timeout_raises_and_is_not_retried(upstream, client: HttpClient) -> None:
    base, hits = upstream
    with pytest.raises(UpstreamTimeout, match="timed out"):
        await client.get(f"{base}/slow", timeout=0.2)
    assert hits["/slow"] == 1


async def test_connection_errors_are_retried_then_raised() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    attempts: list[str] = []

    @asynccontextmanager
    async def guard(host: str) -> AsyncIterator[None]:
        attempts.append(host)
        yield

    http = HttpClient(retries=2, backoff=0, guard=guard)
    try:
        with pytest.raises(UpstreamUnavailable) as caught:
            await http.get(f"http://user:pw@127.0.0.1:{port}/x?token=secret")
    finally:
        await http.close()
    assert attempts == ["127.0.0.1"] * 3
    assert "secret" not in str(caught.value) and "pw" not in str(caught.value)
    assert caught.value.__cause__ is not None


async def test_large_responses_are_refused(upstream) -> None:
    base, _ = upstream
    http = HttpClient(max_response_bytes=5000)
    try:
        with pytest.raises(UpstreamResponseTooLarge):
            await http.get(f"{base}/big")
        assert (await http.get(f"{base}/hello")).status == 200
    finally:
        await http.close()


async def test_redirects_are_not_followed(upstream, client: HttpClient) -> None:
    base, hits = upstream
    response = await client.get(f"{base}/moved")
    assert response.status == 302
    assert response.headers["Location"] == "/hello"
    assert "/hello" not in hits


async def test_a_host_breaker_opens_on_5xx_and_then_fails_fast(upstream) -> None:
    base, hits = upstream
    clock = ManualClock(datetime(2026, 1, 1, tzinfo=UTC))
    breakers = HostBreakers(clock=clock, minimum_calls=3, open_seconds=30)
    http = HttpClient(retries=0, guard=breakers)
    try:
        for _ in range(3):
            assert (await http.get(f"{base}/broken")).status == 500
        with pytest.raises(CircuitOpen):
            await http.get(f"{base}/hello")
        assert hits == {"/broken": 3}
        clock.advance(seconds=31)  # half-open: a trial call goes through
        assert (await http.get(f"{base}/hello")).status == 200
    finally:
        await http.close()


async def test_the_app_owns_one_client_closed_at_shutdown(upstream, sqlite_url) -> None:
    base, _ = upstream
    app = create_app(make_settings(sqlite_url))
    state = bastion_state(app)
    assert isinstance(state.http._guard, HostBreakers)
    async with app.router.lifespan_context(app):
        assert (await state.http.get(f"{base}/hello")).status == 200
        session = state.http._session
        assert session is not None and not session.closed
    assert session.closed
    unguarded = create_app(make_settings(sqlite_url, http_client={"circuit_breakers": False}))
    assert bastion_state(unguarded).http._guard is None
