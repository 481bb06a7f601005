"""A real HTTP server on 127.0.0.1 for the outbound client's tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web

ServeHttp = Callable[[web.Application], Awaitable[str]]


@pytest.fixture
async def serve_http() -> AsyncIterator[ServeHttp]:
    """``base_url = await serve_http(aiohttp_app)``: serve it on a free loopback port."""
    runners: list[web.AppRunner] = []

    async def serve(app: web.Application) -> str:
        runner = web.AppRunner(app, shutdown_timeout=0.5)
        await runner.setup()
        runners.append(runner)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        return f"http://127.0.0.1:{port}"

    yield serve
    for runner in runners:
        await runner.cleanup()
