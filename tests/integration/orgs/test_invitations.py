"""Invitations: single use, expiry, resend, revoke, and the invited email only."""

from __future__ import annotations

import pytest

from bastion.orgs import Invitation

pytestmark = [pytest.mark.security, pytest.mark.db]


async def test_invitation_is_emailed_stored_hashed_and_works_once(orgs):
    ada = await orgs.user("ada@example.com")
    org = await orgs.org(ada)
    bob = await orgs.user("bob@example.com")
    token = await orgs.invite(org, ada, "Bob@Example.com", "member")
    message = orgs.mailer.last(to="bob@example.com", kind="orgs.invitation")
    assert token in message.body and "Acme" in message.subject

    state = orgs.app.state.bastion
    async with state.db.session() as session:
        from sqlalchemy import select

        stored = (await session.scalars(select(Invitation))).one()
    assert token not in stored.token_hash and stored.email == "bob@example.com"
    assert (stored.expires_at - stored.created_at).days == 7

    accepted = await orgs.accept(token, bob)
    assert accepted.status_code == 200
    assert accepted.json()["id"] == org and accepted.json()["role"] == "member"
    again = await orgs.accept(token, bob)
    assert again.status_code == 404 and again.json()["code"] == "org.invitation_not_found"
    assert (await orgs.http.get(f"/orgs/{org}", headers=bob)).json()["role"] == "member"
    pending = await orgs.http.get(f"/orgs/{org}/invitations", headers=ada)
    assert pending.json() == []


async def test_expired_invitation_is_gone(orgs):
    ada = await orgs.user("ada@example.com")
    org = await orgs.org(ada)
    await orgs.user("bob@example.com")
    token = await orgs.invite(org, ada, "bob@example.com", "member")
    orgs.clock.advance(days=7, seconds=1)
    expired = await orgs.accept(token, await orgs.login("bob@example.com"))
    assert expired.status_code == 410
    assert expired.json()["code"] == "org.invitation_expired"


async def test_resend_kills_the_old_token_and_extends_expiry(orgs):
    ada = await orgs.user("ada@example.com")
    org = await orgs.org(ada)
    await orgs.user("bob@example.com")
    old = await orgs.invite(org, ada, "bob@example.com", "viewer")
    invitation = (await orgs.http.get(f"/orgs/{org}/invitations", headers=ada)).json()[0]
    orgs.clock.advance(days=6)

    ada = await orgs.login("ada@example.com")
    resent = await orgs.http.post(f"/orgs/{org}/invitations/{invitation['id']}/resend", headers=ada)
    assert resent.status_code == 200
    new = orgs.mailer.last(to="bob@example.com", kind="orgs.invitation").data["token"]
    assert new != old
    orgs.clock.advance(days=2)  # past the first expiry, within the second
    bob = await orgs.login("bob@example.com")
    assert (await orgs.accept(old, bob)).status_code == 404
    assert (await orgs.accept(new, bob)).status_code == 200


async def test_resend_is_rate_limited(client_for, sqlite_url, clock):
    from tests.integration.orgs.conftest import build_orgs

    limited = await build_orgs(
        client_for, sqlite_url, clock, ratelimit={"default": None, "auth": "2/minute;burst=2"}
    )
    ada = await limited.user("ada@example.com")
    org = await limited.org(ada)
    await limited.invite(org, ada, "bob@example.com", "member")
    invitation = (await limited.http.get(f"/orgs/{org}/invitations", headers=ada)).json()[0]
    url = f"/orgs/{org}/invitations/{invitation['id']}/resend"
    statuses = [(await limited.http.post(url, headers=ada)).status_code for _ in range(4)]
    assert statuses[0] == 200 and statuses[-1] == 429


async def test_revoked_invitation_is_dead(orgs):
    ada = await orgs.user("ada@example.com")
    org = await orgs.org(ada)
    bob = await orgs.user("bob@example.com")
    token = await orgs.invite(org, ada, "bob@example.com", "member")
    invitation = (await orgs.http.get(f"/orgs/{org}/invitations", headers=ada)).json()[0]
    url = f"/orgs/{org}/invitations/{invitation['id']}"
    assert (await orgs.http.delete(url, headers=ada)).status_code == 204
    assert (await orgs.http.delete(url, headers=ada)).status_code == 404
    assert (await orgs.accept(token, bob)).status_code == 404
    assert (await orgs.http.post(f"{url}/resend", headers=ada)).status_code == 404


async def test_only_the_invited_email_may_accept(orgs):
    ada = await orgs.user("ada@example.com")
    org = await orgs.org(ada)
    eve = await orgs.user("eve@example.com")
    token = await orgs.invite(org, ada, "bob@example.com", "admin")
    stolen = await orgs.accept(token, eve)
    assert stolen.status_code == 403
    assert stolen.json()["code"] == "org.invitation_email_mismatch"
    assert (await orgs.http.get(f"/orgs/{org}", headers=eve)).status_code == 404
    # The token still works for its owner, whatever the case of the address.
    bob = await orgs.user("BOB@example.com")
    assert (await orgs.accept(token, bob)).status_code == 200


async def test_only_owners_invite_owners_and_members_cannot_invite(orgs):
    ada = await orgs.user("ada@example.com")
    org = await orgs.org(ada)
    admin = await orgs.member(org, ada, "adm@example.com", "admin")
    member = await orgs.member(org, ada, "mem@example.com", "member")
    body = {"email": "x@example.com", "role": "owner"}
    by_admin = await orgs.http.post(f"/orgs/{org}/invitations", json=body, headers=admin)
    assert by_admin.status_code == 403
    body["role"] = "viewer"
    by_member = await orgs.http.post(f"/orgs/{org}/invitations", json=body, headers=member)
    assert by_member.status_code == 403
    assert by_member.json()["permission"] == "invitations:write"
    bad_email = await orgs.http.post(
        f"/orgs/{org}/invitations", json={"email": "nope", "role": "viewer"}, headers=ada
    )
    assert bad_email.status_code == 422
