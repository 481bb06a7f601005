"""Login, no account enumeration, lockout with escalating cooldowns."""

from __future__ import annotations

import pytest

from tests.integration.auth.conftest import PASSWORD, build_client

pytestmark = pytest.mark.security


async def test_login_returns_a_token_pair(auth_client):
    await auth_client.register("ada@example.com")
    response = await auth_client.login("ADA@example.com", device_name="laptop")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in", "session_id"}
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 900


async def test_wrong_password_and_unknown_email_look_the_same(auth_client):
    await auth_client.register("ada@example.com")
    wrong = await auth_client.login("ada@example.com", "not the password at all")
    unknown = await auth_client.login("nobody@example.com", "not the password at all")
    assert wrong.status_code == unknown.status_code == 401
    strip = lambda body: {k: v for k, v in body.items() if k != "request_id"}  # noqa: E731
    assert strip(wrong.json()) == strip(unknown.json())
    assert wrong.json()["code"] == "auth.invalid_credentials"


async def test_lockout_escalates_and_a_success_resets_it(auth_client):
    client, clock = auth_client, auth_client.clock
    await client.register("ada@example.com")

    async def fail_until_locked() -> int:
        for _ in range(5):
            assert (await client.login("ada@example.com", "wrong password!!")).status_code == 401
        locked = await client.login("ada@example.com")
        assert locked.status_code == 429
        assert locked.json()["code"] == "auth.locked_out"
        return int(locked.headers["retry-after"])

    assert await fail_until_locked() == 60
    notice = client.mailer.last(to="ada@example.com", kind="auth.locked_out")
    assert "failed attempts" in notice.body
    clock.advance(seconds=61)
    assert await fail_until_locked() == 300  # the next lockout in a row lasts longer
    clock.advance(seconds=301)
    assert (await client.login("ada@example.com")).status_code == 200
    assert await fail_until_locked() == 60  # the success reset the escalation


async def test_lockout_of_unknown_accounts_looks_the_same(sqlite_auth):
    for _ in range(5):
        await sqlite_auth.login("nobody@example.com", "wrong password!!")
    locked = await sqlite_auth.login("nobody@example.com")
    assert locked.status_code == 429
    with pytest.raises(LookupError):
        sqlite_auth.mailer.last(to="nobody@example.com")


async def test_failures_per_ip_lock_out_the_address(client_for, sqlite_url, clock):
    client = await build_client(client_for, sqlite_url, clock, lockout_max_failures_per_ip=3)
    await client.register("ada@example.com")
    for i in range(3):
        await client.login(f"user{i}@example.com", "wrong password!!")
    assert (await client.login("ada@example.com")).status_code == 429


async def test_failures_age_out_of_the_window(sqlite_auth):
    await sqlite_auth.register("ada@example.com")
    for _ in range(4):
        await sqlite_auth.login("ada@example.com", "wrong password!!")
    sqlite_auth.clock.advance(minutes=16)
    for _ in range(4):
        await sqlite_auth.login("ada@example.com", "wrong password!!")
    assert (await sqlite_auth.login("ada@example.com", PASSWORD)).status_code == 200


async def test_unverified_email_can_be_required(client_for, sqlite_url, clock):
    client = await build_client(client_for, sqlite_url, clock, require_verified_email=True)
    await client.register("ada@example.com")
    refused = await client.login("ada@example.com")
    assert refused.status_code == 403
    assert refused.json()["code"] == "auth.email_not_verified"
