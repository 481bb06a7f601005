"""Rate limits through the app: middleware, per-route overrides, headers, keys, hooks."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import pytest
from fastapi import APIRouter, Depends, Header

from bastion import ManualClock, create_app
from bastion.core.context import tenant_id_var
from bastion.ratelimit import LimitHit, RateLimit, auth_rate_limit, by, parse_limits
from tests.conftest import make_settings

pytestmark = pytest.mark.ratelimit

router = APIRouter()


@router.get("/items")
async def items() -> list[str]:
    return []


@router.get("/strict", dependencies=[Depends(RateLimit("2/minute"))])
async def strict() -> dict[str, bool]:
    return {"ok": True}


@router.get("/generous", dependencies=[Depends(RateLimit("10/minute"))])
async def generous() -> dict[str, bool]:
    return {"ok": True}


@router.post("/login", dependencies=[Depends(auth_rate_limit("login"))])
async def login() -> dict[str, bool]:
    return {"ok": True}


async def set_tenant(x_tenant: Annotated[str | None, Header()] = None) -> None:
    if x_tenant:
        tenant_id_var.set(x_tenant)


by_team = by("team", lambda request: request.headers.get("x-team"))


@router.get(
    "/reports",
    dependencies=[Depends(set_tenant), Depends(RateLimit("1/minute", key=by_team, name="reports"))],
)
async def reports() -> dict[str, bool]:
    return {"ok": True}


@pytest.fixture
def clock():
    return ManualClock(datetime(2026, 1, 1, tzinfo=UTC))


async def make_client(client_for, sqlite_url, clock, trusted_proxies=(), **ratelimit):
    settings = make_settings(
        sqlite_url,
        ratelimit={"default": "3/minute", **ratelimit},
        http={"trusted_proxies": list(trusted_proxies)},
    )
    hits: list[LimitHit] = []

    async def overrides(policy: str, tenant: object):
        return parse_limits("3/minute") if tenant == "gold" else None

    app = create_app(
        settings,
        routers=[router],
        clock=clock,
        on_rate_limit=hits.append,
        rate_limit_overrides=overrides,
    )
    client = await client_for(app, migrate=False)
    client.hits = hits
    return client


@pytest.fixture
async def client(client_for, sqlite_url, clock):
    return await make_client(client_for, sqlite_url, clock)


async def test_default_limit_headers_then_429_problem(client, clock):
    statuses = []
    for _ in range(4):
        response = await client.get("/items")
        statuses.append(response.status_code)
    assert statuses == [200, 200, 200, 429]
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "rate_limit.exceeded"
    assert response.headers["retry-after"] == "20"
    assert response.headers["ratelimit-policy"] == '"default";q=3;w=60'
    assert response.headers["ratelimit"] == '"default";r=0;t=60'
    assert response.headers["x-request-id"]

    clock.advance(seconds=20)
    refilled = await client.get("/items")
    assert refilled.status_code == 200
    assert refilled.headers["ratelimit"] == '"default";r=0;t=60'


async def test_allowed_response_carries_headers(client):
    response = await client.get("/items")
    assert response.headers["ratelimit-policy"] == '"default";q=3;w=60'
    assert response.headers["ratelimit"] == '"default";r=2;t=20'
    assert "retry-after" not in response.headers


async def test_probes_and_docs_are_not_limited(client):
    for _ in range(10):
        response = await client.get("/livez")
        assert response.status_code == 200
        assert "ratelimit" not in response.headers
    assert (await client.get("/openapi.json")).status_code == 200


async def test_unknown_paths_count_against_the_default(client):
    statuses = [(await client.get(f"/nope/{i}")).status_code for i in range(4)]
    assert statuses == [404, 404, 404, 429]


async def test_route_limit_replaces_the_default(client):
    first = await client.get("/strict")
    assert first.headers["ratelimit"] == '"route:/strict";r=1;t=30'
    strict = [first.status_code] + [(await client.get("/strict")).status_code for _ in range(2)]
    assert strict == [200, 200, 429]
    generous = [(await client.get("/generous")).status_code for _ in range(10)]
    assert generous == [200] * 10  # above the default of 3: the route's own limit rules
    response = await client.get("/generous")
    assert response.status_code == 429
    assert response.headers["ratelimit-policy"] == '"route:/generous";q=10;w=60'
    # The default bucket was untouched by the routes with their own limits.
    assert (await client.get("/items")).headers["ratelimit"] == '"default";r=2;t=20'


async def test_forwarded_headers_are_ignored_unless_the_proxy_is_trusted(client):
    for i in range(3):
        await client.get("/items", headers={"X-Forwarded-For": f"203.0.113.{i}"})
    spoofed = await client.get("/items", headers={"X-Forwarded-For": "198.51.100.7"})
    assert spoofed.status_code == 429


async def test_trusted_proxy_forwarded_for_keys_by_client(client_for, sqlite_url, clock):
    client = await make_client(client_for, sqlite_url, clock, trusted_proxies=["127.0.0.0/8"])
    for _ in range(3):
        assert (await client.get("/items", headers={"X-Forwarded-For": "203.0.113.1"})).is_success
    assert (
        await client.get("/items", headers={"X-Forwarded-For": "203.0.113.1"})
    ).status_code == 429
    other = await client.get("/items", headers={"Forwarded": 'for="203.0.113.2:4711"'})
    assert other.status_code == 200
    # A client cannot hide behind an address it prepends: the rightmost untrusted hop counts.
    chained = await client.get("/items", headers={"X-Forwarded-For": "10.9.9.9, 203.0.113.1"})
    assert chained.status_code == 429


async def test_custom_key_and_on_limit_hook(client):
    assert (await client.get("/reports", headers={"X-Team": "red"})).status_code == 200
    assert (await client.get("/reports", headers={"X-Team": "blue"})).status_code == 200
    assert (await client.get("/reports", headers={"X-Team": "red"})).status_code == 429
    assert [hit.key for hit in client.hits] == ["reports:red"]
    assert client.hits[0].route == "/reports"
    assert not client.hits[0].decision.allowed


async def test_tenant_override_replaces_limits(client):
    headers = {"X-Team": "gold-team", "X-Tenant": "gold"}
    statuses = [(await client.get("/reports", headers=headers)).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]


async def test_auth_routes_get_the_strict_auth_limit(client_for, sqlite_url, clock):
    client = await make_client(client_for, sqlite_url, clock, auth="2/minute")
    statuses = [(await client.post("/login")).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]


async def test_openapi_documents_429_on_limited_routes(client):
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert "429" in paths["/items"]["get"]["responses"]
    assert "429" in paths["/strict"]["get"]["responses"]
    assert "Retry-After" in paths["/items"]["get"]["responses"]["429"]["headers"]
    assert "429" not in paths["/livez"]["get"]["responses"]


async def test_decisions_are_counted_in_metrics(client):
    for _ in range(4):
        await client.get("/items")
    text = (await client.get("/metrics")).text
    assert (
        'bastion_ratelimit_decisions_total{http_route="/items",key_kind="ip",'
        'outcome="limited",policy="default"} 1.0'
    ) in text


async def test_disabled_rate_limiting_adds_nothing(client_for, sqlite_url):
    settings = make_settings(sqlite_url, ratelimit={"enabled": False})
    client = await client_for(create_app(settings, routers=[]), migrate=False)
    response = await client.get("/livez")
    assert "ratelimit" not in response.headers


async def test_exclusions_match_whole_path_segments(client_for, sqlite_url, clock):
    search = APIRouter()

    @search.get("/docsearch")
    async def docsearch() -> list[str]:
        return []

    settings = make_settings(sqlite_url, ratelimit={"default": "1/minute"})
    client = await client_for(create_app(settings, routers=[search], clock=clock), migrate=False)
    assert [(await client.get("/docsearch")).status_code for _ in range(2)] == [200, 429]
    assert (await client.get("/docs")).status_code == 200
    assert (await client.get("/docs/static/swagger-ui.css")).status_code == 200


async def test_disabling_rate_limiting_turns_route_limits_off(client_for, sqlite_url):
    settings = make_settings(sqlite_url, ratelimit={"enabled": False})
    client = await client_for(create_app(settings, routers=[router]), migrate=False)
    assert [(await client.get("/strict")).status_code for _ in range(3)] == [200, 200, 200]
