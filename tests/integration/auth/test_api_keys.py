"""API keys: shown once, accepted as Bearer or X-API-Key, scopes, revocation, expiry."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.integration.auth.conftest import bearer

pytestmark = pytest.mark.security


async def create_key(client, access: str, **body: object) -> dict[str, object]:
    response = await client.http.post(
        "/auth/api-keys", json={"name": "ci", **body}, headers=bearer(access)
    )
    assert response.status_code == 201, response.text
    return response.json()


async def test_key_is_shown_once_and_works(auth_client):
    tokens = await auth_client.signed_in("ada@example.com")
    created = await create_key(auth_client, tokens["access_token"], scopes=["reports:read"])
    key = created["key"]
    assert key.startswith("bst_") and key.startswith(created["prefix"]) and len(key) > 50
    listed = (
        await auth_client.http.get("/auth/api-keys", headers=bearer(tokens["access_token"]))
    ).json()
    assert [k["id"] for k in listed] == [created["id"]]
    assert "key" not in listed[0]
    by_bearer = await auth_client.http.get("/whoami", headers=bearer(key))
    by_header = await auth_client.http.get("/whoami", headers={"X-API-Key": key})
    assert (
        by_bearer.json()
        == by_header.json()
        == {
            "subject": f"api_key:{created['id']}",
            "email": "ada@example.com",
        }
    )
    listed = (
        await auth_client.http.get("/auth/api-keys", headers=bearer(tokens["access_token"]))
    ).json()
    assert listed[0]["last_used_at"] is not None


async def test_scopes_narrow_keys_not_sessions(sqlite_auth):
    tokens = await sqlite_auth.signed_in("ada@example.com")
    reader = await create_key(sqlite_auth, tokens["access_token"], scopes=["reports:read"])
    other = await create_key(sqlite_auth, tokens["access_token"], scopes=["projects:write"])
    assert (await sqlite_auth.http.get("/reports", headers=bearer(reader["key"]))).is_success
    refused = await sqlite_auth.http.get("/reports", headers=bearer(other["key"]))
    assert refused.status_code == 403
    assert refused.json()["code"] == "auth.insufficient_scope"
    own = await sqlite_auth.http.get("/reports", headers=bearer(tokens["access_token"]))
    assert own.is_success


async def test_a_key_cannot_mint_a_wider_key(sqlite_auth):
    tokens = await sqlite_auth.signed_in("ada@example.com")
    reader = await create_key(sqlite_auth, tokens["access_token"], scopes=["reports:read"])
    minted = await create_key(sqlite_auth, reader["key"], scopes=["reports:read", "admin:all"])
    assert minted["scopes"] == ["reports:read"]


async def test_revoked_expired_and_forged_keys_are_refused(sqlite_auth):
    tokens = await sqlite_auth.signed_in("ada@example.com")
    access = tokens["access_token"]
    revoked = await create_key(sqlite_auth, access)
    gone = await sqlite_auth.http.delete(f"/auth/api-keys/{revoked['id']}", headers=bearer(access))
    assert gone.status_code == 204
    expires = (sqlite_auth.clock.now() + timedelta(hours=1)).isoformat()
    expiring = await create_key(sqlite_auth, access, expires_at=expires)
    assert (await sqlite_auth.http.get("/whoami", headers=bearer(expiring["key"]))).is_success
    sqlite_auth.clock.advance(hours=2)
    forged = str(expiring["prefix"]) + "_" + "A" * 43
    for key in (revoked["key"], expiring["key"], forged, "bst_nothing"):
        response = await sqlite_auth.http.get("/whoami", headers=bearer(str(key)))
        assert response.status_code == 401
        assert response.json()["code"] == "auth.not_authenticated"


async def test_someone_elses_key_is_not_found(sqlite_auth):
    ada = await sqlite_auth.signed_in("ada@example.com")
    bob = await sqlite_auth.signed_in("bob@example.com")
    key = await create_key(sqlite_auth, bob["access_token"])
    response = await sqlite_auth.http.delete(
        f"/auth/api-keys/{key['id']}", headers=bearer(ada["access_token"])
    )
    assert response.json()["code"] == "auth.api_key_not_found"
