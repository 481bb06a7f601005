"""Per-tenant quotas: the plan's default, a tenant's own limit, the rate limit hook."""

from __future__ import annotations

import uuid

import pytest

from bastion import bastion_state
from bastion.tenancy import tenancy_of
from examples.taskboard.app import build
from tests.conftest import FAST_HASHING, make_settings
from tests.signin import sign_in_to_new_org

pytestmark = [pytest.mark.tenancy]


@pytest.fixture
async def capped(client_for, database_url):
    settings = make_settings(
        database_url,
        tenancy={"default_quotas": '{"projects": 2, "requests_per_minute": 120}'},
        **FAST_HASHING,
    )
    app = build(settings)
    client = await client_for(app)
    org = await sign_in_to_new_org(client)
    return app, client, uuid.UUID(org)


async def test_the_default_quota_caps_creation(capped):
    _app, client, _org = capped
    for name in ("one", "two"):
        assert (await client.post("/projects", json={"name": name})).status_code == 201
    refused = await client.post("/projects", json={"name": "three"})
    assert refused.status_code == 403
    body = refused.json()
    assert body["code"] == "tenancy.quota_exceeded"
    assert (body["quota"], body["limit"], body["used"]) == ("projects", 2, 2)


async def test_a_tenants_own_limit_overrides_the_default(capped):
    app, client, org = capped
    tenancy = tenancy_of(app)
    async with bastion_state(app).db.session() as session:
        await tenancy.quotas.set_limit(session, org, "projects", 3)
    for name in ("one", "two", "three"):
        assert (await client.post("/projects", json={"name": name})).status_code == 201
    assert (await client.post("/projects", json={"name": "four"})).status_code == 403


async def test_requests_per_minute_feeds_the_rate_limiter(capped):
    app, _client, org = capped
    limits = await tenancy_of(app).quotas.rate_limit_overrides("api", org)
    assert limits is not None
    assert (limits[0].amount, limits[0].period) == (120, 60.0)
    assert await tenancy_of(app).quotas.rate_limit_overrides("api", "not-a-tenant") is None
