"""Role checks in the current organization; API key scopes only narrow."""

from __future__ import annotations

import pytest
from fastapi import APIRouter, Depends

from bastion import ConfigurationError, create_app
from bastion.orgs import require_permissions, require_roles
from bastion.security.permissions import extend_role, grants, role_grants
from tests.conftest import make_settings

pytestmark = [pytest.mark.security, pytest.mark.db]


async def _api_key(orgs, headers, scopes):
    body = {"name": "ci", "scopes": scopes}
    response = await orgs.http.post("/auth/api-keys", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return {"X-API-Key": response.json()["key"]}


async def test_api_key_scopes_narrow_but_never_widen(sqlite_orgs):
    orgs = sqlite_orgs
    ada = await orgs.user("ada@example.com")
    org = await orgs.org(ada)
    viewer = await orgs.member(org, ada, "vic@example.com", "viewer")
    tenant = {"X-Tenant-ID": org}

    # The owner's key without the scope loses the permission...
    narrow = await _api_key(orgs, ada, ["org:read"])
    refused = await orgs.http.get("/probe/read", headers={**narrow, **tenant})
    assert refused.status_code == 403
    assert refused.json()["permission"] == "probe_report:read"
    assert "API key" in refused.json()["detail"]
    assert (await orgs.http.get(f"/orgs/{org}", headers=narrow)).status_code == 200
    # ...a key with it keeps it; a pattern scope counts too.
    wide = await _api_key(orgs, ada, ["probe_report:*"])
    assert (await orgs.http.get("/probe/read", headers={**wide, **tenant})).status_code == 200

    # A viewer's key with every scope still has only a viewer's permissions.
    greedy = await _api_key(orgs, viewer, ["org:*", "members:*", "audit:read"])
    audit = await orgs.http.get(f"/orgs/{org}/audit-events", headers=greedy)
    assert audit.status_code == 403
    assert "viewer" in audit.json()["detail"]
    assert (await orgs.http.get(f"/orgs/{org}/members", headers=greedy)).status_code == 200
    ada_id = await orgs.user_id(ada)
    remove = await orgs.http.delete(f"/orgs/{org}/members/{ada_id}", headers=greedy)
    assert remove.status_code == 403


async def test_any_permission_and_roles(sqlite_orgs):
    orgs = sqlite_orgs
    ada = await orgs.user("ada@example.com")
    org = await orgs.org(ada)
    admin = await orgs.member(org, ada, "adm@example.com", "admin")
    member = await orgs.member(org, ada, "mem@example.com", "member")
    tenant = {"X-Tenant-ID": org}
    # admin holds audit:read, one of the two the route accepts.
    assert (await orgs.http.get("/probe/any", headers={**admin, **tenant})).status_code == 200
    refused = await orgs.http.get("/probe/any", headers={**member, **tenant})
    assert refused.status_code == 403
    assert refused.json()["permission"] == "probe_report:write or audit:read"
    assert (await orgs.http.get("/probe/owners", headers={**ada, **tenant})).status_code == 200
    assert (await orgs.http.get("/probe/owners", headers={**admin, **tenant})).status_code == 403


def test_undeclared_permission_stops_the_app_at_start(sqlite_url):
    router = APIRouter()

    @router.get("/x", dependencies=[Depends(require_permissions("proejct:write"))])
    async def typo() -> None: ...

    with pytest.raises(ConfigurationError, match=r"undeclared permissions: proejct:write"):
        create_app(make_settings(sqlite_url), routers=[router])

    roles = APIRouter()

    @roles.get("/y", dependencies=[Depends(require_roles("ownr"))])
    async def role_typo() -> None: ...

    with pytest.raises(ConfigurationError, match=r"undefined roles: ownr"):
        create_app(make_settings(sqlite_url), routers=[roles])


async def test_routers_included_later_are_checked_at_start_up(sqlite_url):
    app = create_app(make_settings(sqlite_url))
    late = APIRouter()

    @late.get("/z", dependencies=[Depends(require_permissions("nobody:declared"))])
    async def undeclared() -> None: ...

    app.include_router(late)
    with pytest.raises(ConfigurationError, match="nobody:declared"):
        async with app.router.lifespan_context(app):
            pass


def test_permission_patterns_and_role_extension():
    assert grants({"*"}, "a:b") and grants({"a:*"}, "a:b") and not grants({"a:*"}, "ab:c")
    assert not role_grants("viewer", "probe_report:write")
    with pytest.raises(KeyError):
        extend_role("no-such-role", "org:read")
    with pytest.raises(ValueError, match="not permissions"):
        extend_role("viewer", "Bad Name")
