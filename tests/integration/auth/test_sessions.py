"""Sessions and devices, refresh-token rotation and reuse detection, revocation."""

from __future__ import annotations

import asyncio

import pytest

from tests.integration.auth.conftest import bearer, build_client

pytestmark = pytest.mark.security


async def refresh(client, token: str):
    return await client.http.post("/auth/refresh", json={"refresh_token": token})


async def test_refresh_rotates_the_token(auth_client):
    first = await auth_client.signed_in("ada@example.com")
    rotated = await refresh(auth_client, first["refresh_token"])
    assert rotated.status_code == 200
    second = rotated.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["session_id"] == first["session_id"]
    me = await auth_client.http.get("/auth/me", headers=bearer(second["access_token"]))
    assert me.is_success


async def test_reusing_a_spent_refresh_token_revokes_the_session(auth_client):
    first = await auth_client.signed_in("ada@example.com")
    second = (await refresh(auth_client, first["refresh_token"])).json()
    reused = await refresh(auth_client, first["refresh_token"])
    assert reused.status_code == 401
    assert reused.json()["code"] == "auth.refresh_token_reused"
    # Every token of the session is dead: the newest refresh token and the access token.
    assert (await refresh(auth_client, second["refresh_token"])).json()["code"] == (
        "auth.refresh_token_invalid"
    )
    me = await auth_client.http.get("/auth/me", headers=bearer(second["access_token"]))
    assert me.json()["code"] == "auth.session_revoked"


async def test_concurrent_refreshes_with_one_token_issue_one_pair(auth_client):
    tokens = await auth_client.signed_in("ada@example.com")
    results = await asyncio.gather(
        *(refresh(auth_client, tokens["refresh_token"]) for _ in range(5))
    )
    assert sorted(r.status_code for r in results).count(200) <= 1
    assert all(r.status_code in (200, 401) for r in results)


async def test_unknown_refresh_token(sqlite_auth):
    response = await refresh(sqlite_auth, "not-a-token")
    assert response.status_code == 401
    assert response.json()["code"] == "auth.refresh_token_invalid"


async def test_refresh_token_expires_when_idle(sqlite_auth):
    tokens = await sqlite_auth.signed_in("ada@example.com")
    sqlite_auth.clock.advance(days=31)
    assert (await refresh(sqlite_auth, tokens["refresh_token"])).status_code == 401


async def test_sessions_list_marks_the_current_one(auth_client):
    laptop = await auth_client.signed_in("ada@example.com")
    await auth_client.login("ada@example.com", device_name="phone")
    listed = await auth_client.http.get("/auth/sessions", headers=bearer(laptop["access_token"]))
    sessions = listed.json()
    assert len(sessions) == 2
    current = [s for s in sessions if s["current"]]
    assert [s["id"] for s in current] == [laptop["session_id"]]
    assert {s["device_name"] for s in sessions} == {"", "phone"}


async def test_revoking_a_session_ends_its_tokens_at_once(auth_client):
    laptop = await auth_client.signed_in("ada@example.com")
    phone = (await auth_client.login("ada@example.com")).json()
    gone = await auth_client.http.delete(
        f"/auth/sessions/{phone['session_id']}", headers=bearer(laptop["access_token"])
    )
    assert gone.status_code == 204
    me = await auth_client.http.get("/auth/me", headers=bearer(phone["access_token"]))
    assert me.json()["code"] == "auth.session_revoked"
    assert (await refresh(auth_client, phone["refresh_token"])).status_code == 401


async def test_someone_elses_session_is_not_found(auth_client):
    ada = await auth_client.signed_in("ada@example.com")
    bob = await auth_client.signed_in("bob@example.com")
    response = await auth_client.http.delete(
        f"/auth/sessions/{bob['session_id']}", headers=bearer(ada["access_token"])
    )
    assert response.status_code == 404
    assert response.json()["code"] == "auth.session_not_found"
    assert (await auth_client.http.get("/auth/me", headers=bearer(bob["access_token"]))).is_success


async def test_logout_and_revoke_others(auth_client):
    one = await auth_client.signed_in("ada@example.com")
    two = (await auth_client.login("ada@example.com")).json()
    three = (await auth_client.login("ada@example.com")).json()
    others = await auth_client.http.post(
        "/auth/sessions/revoke-others", headers=bearer(one["access_token"])
    )
    assert others.json() == {"revoked": 2}
    for pair in (two, three):
        assert (
            await auth_client.http.get("/auth/me", headers=bearer(pair["access_token"]))
        ).status_code == 401
    assert (
        await auth_client.http.post("/auth/logout", headers=bearer(one["access_token"]))
    ).status_code == 204
    assert (
        await auth_client.http.get("/auth/me", headers=bearer(one["access_token"]))
    ).status_code == 401


async def test_without_per_request_checks_revocation_waits_for_expiry(
    client_for, sqlite_url, clock
):
    client = await build_client(client_for, sqlite_url, clock, check_session_per_request=False)
    tokens = await client.signed_in("ada@example.com")
    await client.http.post("/auth/logout", headers=bearer(tokens["access_token"]))
    still = await client.http.get("/auth/me", headers=bearer(tokens["access_token"]))
    assert still.is_success  # documented: works until the access token expires
    clock.advance(seconds=900 + 31)
    expired = await client.http.get("/auth/me", headers=bearer(tokens["access_token"]))
    assert expired.status_code == 401
    assert expired.json()["code"] == "auth.invalid_token"
