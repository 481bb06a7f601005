"""Organizations, members and teams through the HTTP API."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from tests.integration.orgs.conftest import build_orgs

pytestmark = [pytest.mark.security, pytest.mark.db]


async def test_creator_is_owner_and_lists_own_orgs(orgs):
    ada = await orgs.user("ada@example.com")
    created = await orgs.http.post("/orgs", json={"name": "Acme"}, headers=ada)
    assert created.status_code == 201
    body = created.json()
    assert body["role"] == "owner" and body["name"] == "Acme"
    await orgs.org(ada, "Other")

    mine = (await orgs.http.get("/orgs", headers=ada)).json()
    assert [(o["name"], o["role"]) for o in mine] == [("Acme", "owner"), ("Other", "owner")]
    bob = await orgs.user("bob@example.com")
    assert (await orgs.http.get("/orgs", headers=bob)).json() == []

    renamed = await orgs.http.patch(f"/orgs/{body['id']}", json={"name": "Acme Inc"}, headers=ada)
    assert renamed.json()["name"] == "Acme Inc"


async def test_non_members_get_404_whether_or_not_the_org_exists(orgs):
    ada = await orgs.user("ada@example.com")
    eve = await orgs.user("eve@example.com")
    org = await orgs.org(ada)
    for url in (f"/orgs/{org}", f"/orgs/{uuid.uuid4()}", f"/orgs/{org}/members"):
        response = await orgs.http.get(url, headers=eve)
        assert response.status_code == 404
        assert response.json()["code"] == "org.not_found"
    # The tenant header names the org on routes without org_id in the path.
    probe = await orgs.http.get("/probe/read", headers={**eve, "X-Tenant-ID": org})
    assert probe.status_code == 404
    missing = await orgs.http.get("/probe/read", headers=ada)
    assert missing.status_code == 400 and missing.json()["code"] == "org.required"
    bad = await orgs.http.get("/probe/read", headers={**ada, "X-Tenant-ID": "not-a-uuid"})
    assert bad.status_code == 404
    anonymous = await orgs.http.get(f"/orgs/{org}")
    assert anonymous.status_code == 401


async def test_active_org_is_chosen_per_request(orgs):
    ada = await orgs.user("ada@example.com")
    bob = await orgs.user("bob@example.com")
    mine, theirs = await orgs.org(ada, "A"), await orgs.org(bob, "B")
    token = await orgs.invite(theirs, bob, "ada@example.com", "viewer")
    assert (await orgs.accept(token, ada)).status_code == 200

    as_owner = await orgs.http.get("/probe/owners", headers={**ada, "X-Tenant-ID": mine})
    as_viewer = await orgs.http.get("/probe/owners", headers={**ada, "X-Tenant-ID": theirs})
    assert as_owner.status_code == 200
    assert as_viewer.status_code == 403
    assert as_viewer.json()["code"] == "authz.forbidden"
    assert as_viewer.json()["role"] == "owner"


async def test_roles_change_and_the_last_owner_stays(orgs):
    ada = await orgs.user("ada@example.com")
    org = await orgs.org(ada)
    bob = await orgs.member(org, ada, "bob@example.com", "admin")
    ada_id, bob_id = await orgs.user_id(ada), await orgs.user_id(bob)
    members = f"/orgs/{org}/members"

    demote = await orgs.http.patch(f"{members}/{ada_id}", json={"role": "member"}, headers=ada)
    assert demote.status_code == 409 and demote.json()["code"] == "org.last_owner"
    leave = await orgs.http.delete(f"{members}/{ada_id}", headers=ada)
    assert leave.status_code == 409

    # An admin may not make or unmake owners.
    promote = await orgs.http.patch(f"{members}/{bob_id}", json={"role": "owner"}, headers=bob)
    assert promote.status_code == 403
    unknown = await orgs.http.patch(f"{members}/{bob_id}", json={"role": "king"}, headers=ada)
    assert unknown.status_code == 422 and unknown.json()["code"] == "org.role_unknown"

    promote = await orgs.http.patch(f"{members}/{bob_id}", json={"role": "owner"}, headers=ada)
    assert promote.json() == {"user_id": bob_id, "role": "owner", "was": "admin"}
    assert (await orgs.http.delete(f"{members}/{ada_id}", headers=ada)).status_code == 204
    assert (await orgs.http.get(f"/orgs/{org}", headers=ada)).status_code == 404
    listed = (await orgs.http.get(members, headers=bob)).json()
    assert [(m["email"], m["role"]) for m in listed] == [("bob@example.com", "owner")]


async def test_members_cannot_manage_members(orgs):
    ada = await orgs.user("ada@example.com")
    org = await orgs.org(ada)
    bob = await orgs.member(org, ada, "bob@example.com", "member")
    ada_id = await orgs.user_id(ada)
    refused = await orgs.http.delete(f"/orgs/{org}/members/{ada_id}", headers=bob)
    assert refused.status_code == 403
    assert refused.json()["permission"] == "members:write"
    assert "members:write" in refused.json()["detail"]
    # Anyone may leave.
    bob_id = await orgs.user_id(bob)
    assert (await orgs.http.delete(f"/orgs/{org}/members/{bob_id}", headers=bob)).status_code == 204


async def test_teams_hold_org_members_only(orgs):
    ada = await orgs.user("ada@example.com")
    org = await orgs.org(ada)
    bob = await orgs.member(org, ada, "bob@example.com", "member")
    eve = await orgs.user("eve@example.com")
    bob_id, eve_id = await orgs.user_id(bob), await orgs.user_id(eve)

    team = (await orgs.http.post(f"/orgs/{org}/teams", json={"name": "core"}, headers=ada)).json()
    url = f"/orgs/{org}/teams/{team['id']}/members"
    assert (await orgs.http.post(url, json={"user_id": bob_id}, headers=ada)).status_code == 204
    assert (await orgs.http.post(url, json={"user_id": bob_id}, headers=ada)).status_code == 204
    outsider = await orgs.http.post(url, json={"user_id": eve_id}, headers=ada)
    assert outsider.status_code == 404 and outsider.json()["code"] == "org.member_not_found"
    listed = (await orgs.http.get(url, headers=bob)).json()
    assert [m["email"] for m in listed] == ["bob@example.com"]
    refused = await orgs.http.post(f"/orgs/{org}/teams", json={"name": "x"}, headers=bob)
    assert refused.status_code == 403

    # Leaving the org leaves its teams.
    assert (await orgs.http.delete(f"/orgs/{org}/members/{bob_id}", headers=ada)).status_code == 204
    assert (await orgs.http.get(url, headers=ada)).json() == []
    other = await orgs.org(ada, "Other")
    wrong = await orgs.http.get(f"/orgs/{other}/teams/{team['id']}/members", headers=ada)
    assert wrong.status_code == 404 and wrong.json()["code"] == "org.team_not_found"


@pytest.mark.postgres
@pytest.mark.concurrency
async def test_two_owners_demoting_each_other_at_once_leave_one_owner(
    client_for, postgres_url, clock
):
    orgs = await build_orgs(client_for, postgres_url, clock)
    for round_ in range(3):
        ada = await orgs.user(f"ada{round_}@example.com")
        org = await orgs.org(ada)
        bob = await orgs.member(org, ada, f"bob{round_}@example.com", "owner")
        ada_id, bob_id = await orgs.user_id(ada), await orgs.user_id(bob)
        members = f"/orgs/{org}/members"
        results = await asyncio.gather(
            orgs.http.patch(f"{members}/{bob_id}", json={"role": "member"}, headers=ada),
            orgs.http.patch(f"{members}/{ada_id}", json={"role": "member"}, headers=bob),
        )
        # The loser is refused: 409 (last owner) if it got past its own role check
        # first, 403 if the winner had already demoted it.
        first, second = sorted(r.status_code for r in results)
        assert first == 200 and second in (403, 409)
        listed = (await orgs.http.get(members, headers=ada)).json()
        assert sorted(m["role"] for m in listed) == ["member", "owner"]
