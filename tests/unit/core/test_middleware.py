"""The default middleware stack: request ids, security headers, CORS."""

from __future__ import annotations

import pytest

from bastion import create_app
from tests.conftest import make_settings

pytestmark = pytest.mark.core
ORIGIN = "https://app.example.com"


@pytest.fixture
async def client(client_for, sqlite_url):
    settings = make_settings(sqlite_url, cors={"allow_origins": [ORIGIN]})
    return await client_for(create_app(settings), migrate=False)


async def test_request_id_is_generated(client):
    first = (await client.get("/livez")).headers["x-request-id"]
    second = (await client.get("/livez")).headers["x-request-id"]
    assert len(first) == 32 and first != second


async def test_well_formed_request_id_is_kept(client):
    response = await client.get("/livez", headers={"X-Request-ID": "abc-123.def:4"})
    assert response.headers["x-request-id"] == "abc-123.def:4"


@pytest.mark.parametrize("bad", ["has space", "x" * 129, "new\\nline", "ünï"])
async def test_malformed_request_id_is_replaced(client, bad):
    response = await client.get("/livez", headers={"X-Request-ID": bad.encode("utf-8")})
    assert response.headers["x-request-id"] != bad
    assert len(response.headers["x-request-id"]) == 32


async def test_api_responses_carry_strict_security_headers(client):
    headers = (await client.get("/livez")).headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert "strict-transport-security" not in headers


async def test_docs_page_gets_relaxed_csp_without_cdn(client):
    response = await client.get("/docs")
    assert response.status_code == 200
    csp = response.headers["content-security-policy"]
    assert "script-src 'self' 'unsafe-inline'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "cdn" not in response.text
    asset = await client.get("/docs/static/swagger-ui-bundle.js")
    assert asset.status_code == 200


async def test_hsts_in_production(client_for, tmp_path):
    settings = make_settings(
        f"sqlite+aiosqlite:///{tmp_path / 'p.db'}",
        env="production",
        allow_sqlite_in_production=True,
        docs_enabled=False,
    )
    client = await client_for(create_app(settings), migrate=False)
    headers = (await client.get("/livez")).headers
    assert headers["strict-transport-security"] == "max-age=63072000; includeSubDomains"
    assert (await client.get("/docs")).status_code == 404
    assert (await client.get("/openapi.json")).status_code == 404


async def test_preflight_from_allowed_origin(client):
    response = await client.options(
        "/livez",
        headers={"Origin": ORIGIN, "Access-Control-Request-Method": "GET"},
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ORIGIN


async def test_preflight_from_unknown_origin_gets_no_allow_origin(client):
    response = await client.options(
        "/livez",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in response.headers


async def test_simple_request_from_unknown_origin_gets_no_allow_origin(client):
    response = await client.get("/livez", headers={"Origin": "https://evil.example"})
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers


async def test_cors_denies_every_origin_by_default(client_for, sqlite_url):
    client = await client_for(create_app(make_settings(sqlite_url)), migrate=False)
    response = await client.options(
        "/livez", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "GET"}
    )
    assert "access-control-allow-origin" not in response.headers


async def test_route_vary_header_keeps_vary_origin(client_for, sqlite_url):
    from fastapi import APIRouter, Response

    router = APIRouter()

    @router.get("/negotiated")
    async def negotiated() -> Response:
        return Response("{}", media_type="application/json", headers={"Vary": "Accept"})

    settings = make_settings(sqlite_url, cors={"allow_origins": [ORIGIN]})
    client = await client_for(create_app(settings, routers=[router]), migrate=False)
    varies = (await client.get("/negotiated")).headers.get_list("vary")
    assert varies == ["Accept", "Origin"]
    from_origin = (await client.get("/negotiated", headers={"Origin": ORIGIN})).headers
    assert "origin" in from_origin["vary"].lower()
    assert from_origin.get_list("vary").count("Origin") <= 1
