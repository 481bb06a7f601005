"""TOTP second factor: set-up, login, replay protection, recovery codes, disable."""

from __future__ import annotations

import pyotp
import pytest

from tests.integration.auth.conftest import PASSWORD, bearer

pytestmark = pytest.mark.security


async def enable_totp(client, access: str) -> tuple[pyotp.TOTP, list[str]]:
    setup = await client.http.post("/auth/mfa/totp/setup", headers=bearer(access))
    assert setup.status_code == 200
    body = setup.json()
    assert body["otpauth_uri"].startswith("otpauth://totp/")
    totp = pyotp.TOTP(body["secret"])
    code = totp.at(client.clock.now())
    enabled = await client.http.post(
        "/auth/mfa/totp/enable", json={"code": code}, headers=bearer(access)
    )
    assert enabled.status_code == 200, enabled.text
    codes = enabled.json()["recovery_codes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    client.clock.advance(seconds=30)  # the next code belongs to a later step
    return totp, codes


async def test_login_needs_the_second_factor(auth_client):
    tokens = await auth_client.signed_in("ada@example.com")
    totp, _ = await enable_totp(auth_client, tokens["access_token"])
    missing = await auth_client.login("ada@example.com")
    assert missing.status_code == 401
    assert missing.json()["code"] == "auth.mfa_required"
    wrong = await auth_client.login("ada@example.com", mfa_code="000000")
    assert wrong.json()["code"] == "auth.mfa_invalid"
    code = totp.at(auth_client.clock.now())
    assert (await auth_client.login("ada@example.com", mfa_code=code)).status_code == 200
    replay = await auth_client.login("ada@example.com", mfa_code=code)
    assert replay.status_code == 401
    assert replay.json()["code"] == "auth.mfa_invalid"


async def test_recovery_codes_work_once(sqlite_auth):
    tokens = await sqlite_auth.signed_in("ada@example.com")
    _, codes = await enable_totp(sqlite_auth, tokens["access_token"])
    assert (await sqlite_auth.login("ada@example.com", mfa_code=codes[0])).status_code == 200
    again = await sqlite_auth.login("ada@example.com", mfa_code=codes[0])
    assert again.json()["code"] == "auth.mfa_invalid"
    spaced = codes[1].upper().replace("-", " ")
    assert (await sqlite_auth.login("ada@example.com", mfa_code=spaced)).status_code == 200


async def test_enable_refuses_a_wrong_code_and_setup_twice(sqlite_auth):
    tokens = await sqlite_auth.signed_in("ada@example.com")
    access = tokens["access_token"]
    await sqlite_auth.http.post("/auth/mfa/totp/setup", headers=bearer(access))
    wrong = await sqlite_auth.http.post(
        "/auth/mfa/totp/enable", json={"code": "123456"}, headers=bearer(access)
    )
    assert wrong.json()["code"] == "auth.mfa_invalid"
    await enable_totp(sqlite_auth, access)
    again = await sqlite_auth.http.post("/auth/mfa/totp/setup", headers=bearer(access))
    assert again.json()["code"] == "auth.mfa_already_enabled"


async def test_disable_needs_the_password_or_a_code(sqlite_auth):
    tokens = await sqlite_auth.signed_in("ada@example.com")
    access = tokens["access_token"]
    await enable_totp(sqlite_auth, access)
    refused = await sqlite_auth.http.post(
        "/auth/mfa/totp/disable", json={"password": "not my password"}, headers=bearer(access)
    )
    assert refused.json()["code"] == "auth.invalid_credentials"
    done = await sqlite_auth.http.post(
        "/auth/mfa/totp/disable", json={"password": PASSWORD}, headers=bearer(access)
    )
    assert done.status_code == 204
    assert (await sqlite_auth.login("ada@example.com")).status_code == 200
