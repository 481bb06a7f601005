"""The reference app: each built-in role against each taskboard permission,
ownership rules, and organizations that cannot see each other's projects."""

from __future__ import annotations

import pytest

from examples.taskboard.app import build
from tests.conftest import make_settings
from tests.integration.orgs.conftest import Orgs

pytestmark = [pytest.mark.security, pytest.mark.example, pytest.mark.db]

ALLOWED, DENIED = "allowed", "denied"
# action -> (the permission it needs, 1 where the role may do it)
TABLE = {
    "list projects": ("project:read", {"owner": 1, "admin": 1, "member": 1, "viewer": 1}),
    "create project": ("project:write", {"owner": 1, "admin": 1, "member": 1, "viewer": 0}),
    "rename project": ("project:write", {"owner": 1, "admin": 1, "member": 1, "viewer": 0}),
    "list tasks": ("task:read", {"owner": 1, "admin": 1, "member": 1, "viewer": 1}),
    "create task": ("task:write", {"owner": 1, "admin": 1, "member": 1, "viewer": 0}),
    "finish task": ("task:write", {"owner": 1, "admin": 1, "member": 1, "viewer": 0}),
    "delete another's project": (
        "project:delete",
        {"owner": 1, "admin": 1, "member": 0, "viewer": 0},
    ),
}


@pytest.fixture
async def board(client_for, sqlite_url, clock) -> Orgs:
    settings = make_settings(
        sqlite_url,
        ratelimit={"enabled": False},
        security={"argon2_time_cost": 1, "argon2_memory_kib": 1024},
    )
    app = build(settings)
    return Orgs(app, await client_for(app), clock, app.state.bastion.mailer)


def _request(board: Orgs, action: str, headers: dict[str, str], project: str, task: str):
    http = board.http
    return {
        "list projects": lambda: http.get("/projects", headers=headers),
        "create project": lambda: http.post("/projects", json={"name": "n"}, headers=headers),
        "rename project": lambda: http.patch(
            f"/projects/{project}", json={"name": "r"}, headers=headers
        ),
        "list tasks": lambda: http.get(f"/projects/{project}/tasks", headers=headers),
        "create task": lambda: http.post(
            f"/projects/{project}/tasks", json={"title": "t"}, headers=headers
        ),
        "finish task": lambda: http.patch(
            f"/projects/{project}/tasks/{task}", json={"done": True}, headers=headers
        ),
        "delete another's project": lambda: http.delete(f"/projects/{project}", headers=headers),
    }[action]()


@pytest.mark.parametrize("role", ["owner", "admin", "member", "viewer"])
async def test_each_role_against_each_permission(board, role):
    owner = await board.user("owner@example.com")
    org = await board.org(owner)
    tenant = {"X-Tenant-ID": org}
    caller = owner if role == "owner" else await board.member(org, owner, f"{role}@x.io", role)
    outcomes = {}
    for action, (permission, _) in TABLE.items():
        project = (
            await board.http.post("/projects", json={"name": "p"}, headers={**owner, **tenant})
        ).json()["id"]
        task = (
            await board.http.post(
                f"/projects/{project}/tasks", json={"title": "t"}, headers={**owner, **tenant}
            )
        ).json()["id"]
        response = await _request(board, action, {**caller, **tenant}, project, task)
        outcomes[action] = ALLOWED if response.status_code < 300 else DENIED
        if response.status_code >= 300:
            assert response.status_code == 403, (action, response.text)
            body = response.json()
            assert body["code"] == "authz.forbidden"
            assert permission in (body.get("permission") or body["rule"])
    assert outcomes == {a: ALLOWED if e[role] else DENIED for a, (_, e) in TABLE.items()}


async def test_members_delete_their_own_projects_only(board):
    owner = await board.user("owner@example.com")
    org = await board.org(owner)
    tenant = {"X-Tenant-ID": org}
    member = {**await board.member(org, owner, "mem@x.io", "member"), **tenant}
    theirs = (
        await board.http.post("/projects", json={"name": "o"}, headers={**owner, **tenant})
    ).json()
    mine = (await board.http.post("/projects", json={"name": "m"}, headers=member)).json()
    refused = await board.http.delete(f"/projects/{theirs['id']}", headers=member)
    assert refused.status_code == 403
    assert "owns_resource" in refused.json()["rule"]
    assert (await board.http.delete(f"/projects/{mine['id']}", headers=member)).status_code == 204


async def test_other_orgs_projects_do_not_exist(board):
    ada = await board.user("ada@example.com")
    bob = await board.user("bob@example.com")
    ada_org, bob_org = await board.org(ada, "A"), await board.org(bob, "B")
    ada_h, bob_h = {**ada, "X-Tenant-ID": ada_org}, {**bob, "X-Tenant-ID": bob_org}
    project = (await board.http.post("/projects", json={"name": "secret"}, headers=ada_h)).json()
    url = f"/projects/{project['id']}"

    for response in (
        await board.http.get(url, headers=bob_h),
        await board.http.patch(url, json={"name": "x"}, headers=bob_h),
        await board.http.delete(url, headers=bob_h),
        await board.http.get(f"{url}/tasks", headers=bob_h),
    ):
        assert response.status_code == 404
        assert response.json()["code"] == "taskboard.project_not_found"
    assert (await board.http.get("/projects", headers=bob_h)).json()["items"] == []
    # Naming Ada's org without being a member is no way in either.
    spoofed = await board.http.get(url, headers={**bob, "X-Tenant-ID": ada_org})
    assert spoofed.status_code == 404 and spoofed.json()["code"] == "org.not_found"
    assert (await board.http.get(url, headers=ada_h)).status_code == 200
