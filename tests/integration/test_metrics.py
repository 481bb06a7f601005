"""``/metrics`` in-process: HTTP metrics by route template, pool gauges, access, naming."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Request
from prometheus_client.parser import text_string_to_metric_families

from bastion import bastion_state, create_app
from bastion.core.routes import UNMATCHED
from bastion.ops.metrics import UNIT_SUFFIXES, Metrics
from examples.taskboard.app import build
from tests.conftest import FAST_HASHING, ClientFactory, make_settings
from tests.signin import sign_in_to_new_org

pytestmark = [pytest.mark.ops]

DURATION = "http_server_request_duration_seconds"
ACTIVE = "http_server_active_requests"
PROJECT = "/projects/{project_id}"
# Label names that would carry unbounded values into the series.
HIGH_CARDINALITY = re.compile(r"(^|_)(path|url|uri|query|user|user_id|id|ip|email|key|token)$")
SNAKE = re.compile(r"^[a-z][a-z0-9_]*$")


def app_metrics(app: FastAPI) -> Metrics:
    metrics = bastion_state(app).extensions["metrics"]
    assert isinstance(metrics, Metrics)
    return metrics


def requests_counted(app: FastAPI, method: str, route: str, status: int) -> float:
    labels = {
        "http_request_method": method,
        "http_route": route,
        "http_response_status_code": str(status),
    }
    value = app_metrics(app).registry.get_sample_value(f"{DURATION}_count", labels)
    return value or 0.0


async def scrape(client: httpx.AsyncClient) -> dict[str, list[tuple[str, dict[str, str], float]]]:
    response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        family.name: [(s.name, s.labels, s.value) for s in family.samples]
        for family in text_string_to_metric_families(response.text)
    }


async def test_route_templates_not_raw_paths(sqlite_url: str, client_for: ClientFactory) -> None:
    app = build(make_settings(sqlite_url, **FAST_HASHING))
    client = await client_for(app)
    await sign_in_to_new_org(client)
    ids = []
    for name in ("one", "two"):
        created = await client.post("/projects", json={"name": name})
        assert created.status_code == 201, created.text
        ids.append(created.json()["id"])
    for project_id in ids:
        assert (await client.get(f"/projects/{project_id}")).status_code == 200

    assert requests_counted(app, "GET", PROJECT, 200) == 2
    assert requests_counted(app, "POST", "/projects", 201) == 2
    text = (await client.get("/metrics")).text
    assert not any(project_id in text for project_id in ids)
    # A missing project is a 404 of the same route, not of an unmatched path.
    assert (await client.get(f"/projects/{uuid.uuid4()}")).status_code == 404
    assert requests_counted(app, "GET", PROJECT, 404) == 1


async def test_unmatched_paths_and_unknown_methods_collapse(
    sqlite_url: str, client_for: ClientFactory
) -> None:
    app = build(make_settings(sqlite_url, **FAST_HASHING))
    client = await client_for(app)
    await sign_in_to_new_org(client)
    for path in ("/nope", "/wp-admin/setup.php", "/.env"):
        assert (await client.get(path)).status_code == 404
    assert requests_counted(app, "GET", UNMATCHED, 404) == 3

    assert (await client.request("BREW", "/projects")).status_code == 405
    assert (await client.request("PURGE", "/projects")).status_code == 405
    assert requests_counted(app, "_OTHER", "/projects", 405) == 2
    families = await scrape(client)
    methods = {labels["http_request_method"] for _, labels, _ in families[DURATION]}
    assert methods <= {"GET", "POST", "_OTHER"}


async def test_status_codes_and_duration(sqlite_url: str, client_for: ClientFactory) -> None:
    app = build(make_settings(sqlite_url, **FAST_HASHING))
    client = await client_for(app)
    await sign_in_to_new_org(client)
    assert (await client.post("/projects", json={})).status_code == 422
    assert requests_counted(app, "POST", "/projects", 422) == 1
    families = await scrape(client)
    [total] = [
        value
        for name, labels, value in families[DURATION]
        if name == f"{DURATION}_sum" and labels["http_response_status_code"] == "422"
    ]
    assert 0 < total < 10
    buckets = {
        labels["le"]
        for name, labels, _ in families[DURATION]
        if name == f"{DURATION}_bucket" and labels["http_response_status_code"] == "422"
    }
    assert {"0.005", "0.075", "7.5", "10.0", "+Inf"} <= buckets
    assert len(buckets) == 15  # OTel's 14 boundaries and +Inf


def _probe_app(sqlite_url: str) -> FastAPI:
    router = APIRouter()

    @router.get("/in-flight")
    async def in_flight(request: Request) -> dict[str, float | None]:
        registry = app_metrics(request.app).registry
        value = registry.get_sample_value(ACTIVE, {"http_request_method": "GET"})
        return {"active": value}

    @router.get("/boom")
    async def boom() -> None:
        raise RuntimeError("unhandled")

    return create_app(make_settings(sqlite_url), routers=[router])


async def test_active_requests_gauge(sqlite_url: str, client_for: ClientFactory) -> None:
    app = _probe_app(sqlite_url)
    client = await client_for(app, migrate=False)
    assert (await client.get("/in-flight")).json() == {"active": 1.0}
    # An error no handler takes is counted as the 500 the client gets, and leaves no request open.
    assert (await client.get("/boom")).status_code == 500
    assert requests_counted(app, "GET", "/boom", 500) == 1
    registry = app_metrics(app).registry
    assert registry.get_sample_value(ACTIVE, {"http_request_method": "GET"}) == 0


async def test_database_pool_gauges(sqlite_url: str, client_for: ClientFactory) -> None:
    app = build(make_settings(sqlite_url, **FAST_HASHING))
    client = await client_for(app)
    await sign_in_to_new_org(client)
    assert (await client.get("/projects")).status_code == 200
    families = await scrape(client)
    counts = {
        labels["db_client_connection_state"]: value
        for _, labels, value in families["db_client_connection_count"]
        if labels["db_client_connection_pool_name"] == "database"
    }
    assert counts["used"] == 0  # the request is over: its connection went back
    assert counts["idle"] >= 1
    [(_, _, limit)] = families["db_client_connection_max"]
    assert limit >= 1


@pytest.mark.redis
async def test_redis_pool_gauges(
    sqlite_url: str, redis_url: str, redis_prefix: str, client_for: ClientFactory
) -> None:
    settings = make_settings(
        sqlite_url,
        redis_url=redis_url,
        redis_max_connections=7,
        ratelimit={"backend": "redis", "key_prefix": redis_prefix},
        **FAST_HASHING,
    )
    app = build(settings)
    client = await client_for(app)
    await sign_in_to_new_org(client)
    try:
        assert (await client.get("/projects")).status_code == 200  # a decision from Redis
        families = await scrape(client)
        pools = {
            (labels["db_client_connection_pool_name"], labels["db_client_connection_state"])
            for _, labels, _ in families["db_client_connection_count"]
        }
        assert ("redis", "idle") in pools
        assert ("redis", "used") in pools
        limits = {
            labels["db_client_connection_pool_name"]: value
            for _, labels, value in families["db_client_connection_max"]
        }
        assert limits["redis"] == 7
    finally:
        redis = bastion_state(app).redis
        assert redis is not None
        keys = [key async for key in redis.scan_iter(f"{redis_prefix}*")]
        if keys:
            await redis.delete(*keys)


async def test_token_protects_metrics(sqlite_url: str, client_for: ClientFactory) -> None:
    token = "scrape-" + "t" * 32
    app = build(make_settings(sqlite_url, metrics={"token": token}))
    client = await client_for(app, migrate=False)
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": token}):
        refused = await client.get("/metrics", headers=headers)
        assert refused.status_code == 401
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["code"] == "http.unauthorized"
        assert refused.headers["www-authenticate"].startswith("Bearer")
        assert token not in refused.text
    allowed = await client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert allowed.status_code == 200
    assert DURATION in allowed.text


@pytest.mark.parametrize(
    ("networks", "peer", "status"),
    [
        (["10.0.0.0/8"], "127.0.0.1", 403),
        (["10.0.0.0/8", "127.0.0.0/8"], "127.0.0.1", 200),
        (["10.0.0.0/8"], "10.1.2.3", 200),
        (["10.0.0.0/8"], "::ffff:10.1.2.3", 200),
        (["fd00::/8"], "10.1.2.3", 403),
    ],
)
async def test_networks_protect_metrics(
    sqlite_url: str, networks: list[str], peer: str, status: int
) -> None:
    app = build(make_settings(sqlite_url, metrics={"allow_networks": networks}))
    transport = httpx.ASGITransport(app=app, client=(peer, 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.get("/metrics")
    assert response.status_code == status, response.text
    if status == 403:
        assert response.json()["code"] == "http.forbidden"


def test_bad_network_fails_at_settings() -> None:
    with pytest.raises(ValueError, match="not-a-network"):
        make_settings("sqlite:///:memory:", metrics={"allow_networks": "not-a-network"})


async def test_every_metric_follows_the_naming_rules(
    sqlite_url: str, client_for: ClientFactory
) -> None:
    app = build(make_settings(sqlite_url, **FAST_HASHING))
    client = await client_for(app)
    await sign_in_to_new_org(client)
    # Through the global rate limit, so that its counter has a series.
    assert (await client.get("/projects")).status_code == 200
    assert (await client.get("/nope")).status_code == 404
    metrics = app_metrics(app)
    kinds = {family.name: family.type for family in metrics.registry.collect()}
    assert set(metrics.names) >= {
        DURATION,
        ACTIVE,
        "bastion_ratelimit_decisions_total",
        "db_client_connection_count",
        "db_client_connection_max",
    }

    routes = {info.template for info in bastion_state(app).routes.entries} | {UNMATCHED}
    families = await scrape(client)
    for name in metrics.names:
        assert SNAKE.match(name), name
        kind = kinds[name.removesuffix("_total")]
        if kind == "counter":
            assert name.endswith("_total"), name
        if kind == "histogram":
            assert name.endswith(UNIT_SUFFIXES), name
        for _, labels, _ in families.get(name.removesuffix("_total"), []):
            for label, value in labels.items():
                assert SNAKE.match(label), (name, label)
                assert not HIGH_CARDINALITY.search(label), (name, label)
                if label == "http_route":
                    assert value in routes, (name, value)
    assert families["bastion_ratelimit_decisions"], "no rate limit decision was counted"


async def test_metrics_can_be_turned_off(sqlite_url: str, client_for: ClientFactory) -> None:
    app = create_app(make_settings(sqlite_url, metrics={"enabled": False}))
    client = await client_for(app)
    assert (await client.get("/livez")).status_code == 200
    assert (await client.get("/metrics")).status_code == 404
    assert requests_counted(app, "GET", "/livez", 200) == 0
