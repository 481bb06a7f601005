"""Org A can neither read, list, change, delete nor reference org B's rows, on every
tenant-scoped route of the reference app (the routes are walked, so new ones are
covered), and tenant-scoped queries without a tenant are refused."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from bastion import bastion_state
from bastion.core.context import tenant_id_var
from bastion.tenancy import TenantRequired, bypass_tenancy, tenant_context
from examples.taskboard.app import build
from examples.taskboard.models import Project, Task
from tests.conftest import FAST_HASHING, make_settings
from tests.signin import sign_in_to_new_org

pytestmark = [pytest.mark.tenancy, pytest.mark.security]

PARAM = re.compile(r"{(\w+)}")


async def seed(client: httpx.AsyncClient) -> dict[str, str]:
    project = (await client.post("/projects", json={"name": "secret"})).json()["id"]
    task = (await client.post(f"/projects/{project}/tasks", json={"title": "t"})).json()["id"]
    job = (await client.post(f"/projects/{project}/summary")).json()["job_id"]
    return {"project_id": project, "task_id": task, "job_id": job}


@pytest.fixture
async def two_orgs(client_for, database_url):
    app = build(make_settings(database_url, **FAST_HASHING))
    a = await client_for(app)
    b = await client_for(app, migrate=False)
    await sign_in_to_new_org(a, "a@example.com", "A")
    b_org = await sign_in_to_new_org(b, "b@example.com", "B")
    return app, a, await seed(b), b_org


def tenant_routes(app) -> list[tuple[str, str]]:
    routes = bastion_state(app).routes.entries
    return sorted(
        (method, info.template)
        for info in routes
        if info.template.startswith("/projects")
        for method in (info.methods or ()) - {"HEAD"}
    )


async def test_every_route_hides_the_other_orgs_rows(two_orgs):
    app, a, b_ids, _ = two_orgs
    routes = tenant_routes(app)
    assert len(routes) >= 10, routes
    body = {"name": "x", "title": "x"}
    for method, template in routes:
        path = PARAM.sub(lambda m: b_ids[m.group(1)], template)
        response = await a.request(method, path, json=body if method in ("POST", "PATCH") else None)
        if PARAM.search(template):
            assert response.status_code == 404, (method, template, response.text)
        else:
            assert response.status_code in (200, 201), (method, template, response.text)
            assert "secret" not in response.text, (method, template)


async def test_naming_another_org_is_not_found(two_orgs):
    _app, a, _b_ids, b_org = two_orgs
    response = await a.get("/projects", headers={"X-Tenant-ID": b_org})
    assert response.status_code == 404
    assert response.json()["code"] == "org.not_found"
    malformed = await a.get("/projects", headers={"X-Tenant-ID": "not-a-uuid"})
    assert malformed.status_code == 404


async def test_switch_org_puts_the_org_in_the_token(two_orgs):
    _app, a, _b_ids, _b_org = two_orgs
    own_org = a.headers.pop("X-Tenant-ID")
    assert (await a.get("/projects")).json()["code"] == "org.required"
    switched = await a.post("/auth/switch-org", json={"org_id": own_org})
    assert switched.status_code == 200, switched.text
    a.headers["Authorization"] = f"Bearer {switched.json()['access_token']}"
    assert (await a.get("/projects")).status_code == 200


async def test_switch_to_a_foreign_org_is_not_found(two_orgs):
    _app, a, _b_ids, b_org = two_orgs
    response = await a.post("/auth/switch-org", json={"org_id": b_org})
    assert response.status_code == 404


async def test_queries_without_a_tenant_are_refused(two_orgs):
    app, _a, _b_ids, b_org = two_orgs
    db = bastion_state(app).db
    # In-process requests ran in this task and left their tenant in its context.
    tenant_id_var.set(None)
    async with db.session() as session:
        for query in (
            select(Project),
            select(aliased(Project)),
            select(func.count()).select_from(Project),
            select(Task.id).join(Project),
        ):
            with pytest.raises(TenantRequired):
                await session.scalars(query)
    with tenant_context(uuid.UUID(b_org)):
        async with db.session() as session:
            names = (await session.scalars(select(Project.name))).all()
    assert names == ["secret"]
    with bypass_tenancy("test: counting every org's projects"):
        async with db.session() as session:
            assert len((await session.scalars(select(Project))).all()) == 1
