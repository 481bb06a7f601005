"""Registration, email verification, password change and reset."""

from __future__ import annotations

import pytest

from tests.integration.auth.conftest import PASSWORD, bearer

pytestmark = pytest.mark.security


async def test_register_normalises_email_and_refuses_duplicates(auth_client):
    created = await auth_client.register("  Ada@Example.COM ")
    assert created.status_code == 201
    assert created.json()["email"] == "ada@example.com"
    assert created.json()["email_verified"] is False
    again = await auth_client.register("ADA@example.com")
    assert again.status_code == 409
    assert again.json()["code"] == "auth.email_taken"


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("short", "password.too_short"),
        ("x" * 129, "password.too_long"),
        ("grace-hopper-rules-2026", "password.contains_email"),
        ("password1234", "password.common"),
    ],
)
async def test_register_applies_the_password_policy(sqlite_auth, password, code):
    response = await sqlite_auth.register("grace-hopper@example.com", password)
    assert response.status_code == 422
    assert response.json()["code"] == code


async def test_bad_email_is_a_validation_problem(sqlite_auth):
    response = await sqlite_auth.register("not-an-email")
    assert response.status_code == 422
    assert response.json()["code"] == "request.validation_failed"


async def test_email_verification_link_works_once(auth_client):
    await auth_client.register("ada@example.com")
    token = auth_client.mailer.last(to="ada@example.com", kind="auth.verify_email").data["token"]
    verified = await auth_client.http.post("/auth/email/verify", json={"token": token})
    assert verified.status_code == 200
    assert verified.json()["email_verified"] is True
    again = await auth_client.http.post("/auth/email/verify", json={"token": token})
    assert again.status_code == 400
    assert again.json()["code"] == "auth.link_invalid"


async def test_email_verification_link_expires(sqlite_auth):
    await sqlite_auth.register("ada@example.com")
    token = sqlite_auth.mailer.last(kind="auth.verify_email").data["token"]
    sqlite_auth.clock.advance(hours=49)
    response = await sqlite_auth.http.post("/auth/email/verify", json={"token": token})
    assert response.json()["code"] == "auth.link_invalid"


async def test_me_needs_a_token(sqlite_auth):
    anonymous = await sqlite_auth.http.get("/auth/me")
    assert anonymous.status_code == 401
    assert anonymous.json()["code"] == "auth.not_authenticated"
    assert anonymous.headers["www-authenticate"] == "Bearer"
    tokens = await sqlite_auth.signed_in("ada@example.com")
    me = await sqlite_auth.http.get("/auth/me", headers=bearer(tokens["access_token"]))
    assert me.json()["email"] == "ada@example.com"


async def test_password_change_revokes_other_sessions(auth_client):
    first = await auth_client.signed_in("ada@example.com")
    second = (await auth_client.login("ada@example.com")).json()
    new_password = "a brand new passphrase here"
    changed = await auth_client.http.post(
        "/auth/password/change",
        json={"current_password": PASSWORD, "new_password": new_password},
        headers=bearer(first["access_token"]),
    )
    assert changed.status_code == 204
    assert (
        await auth_client.http.get("/auth/me", headers=bearer(first["access_token"]))
    ).is_success
    other = await auth_client.http.get("/auth/me", headers=bearer(second["access_token"]))
    assert other.json()["code"] == "auth.session_revoked"
    assert (await auth_client.login("ada@example.com")).status_code == 401
    assert (await auth_client.login("ada@example.com", new_password)).status_code == 200


async def test_password_change_needs_the_current_password(sqlite_auth):
    tokens = await sqlite_auth.signed_in("ada@example.com")
    response = await sqlite_auth.http.post(
        "/auth/password/change",
        json={"current_password": "wrong wrong wrong", "new_password": "another long passphrase"},
        headers=bearer(tokens["access_token"]),
    )
    assert response.status_code == 401
    assert response.json()["code"] == "auth.invalid_credentials"


async def test_forgot_password_answers_the_same_for_unknown_accounts(auth_client):
    await auth_client.register("ada@example.com")
    known = await auth_client.http.post("/auth/password/forgot", json={"email": "ada@example.com"})
    unknown = await auth_client.http.post(
        "/auth/password/forgot", json={"email": "nobody@example.com"}
    )
    assert known.status_code == unknown.status_code == 202
    assert known.content == unknown.content == b""
    assert auth_client.mailer.last(to="ada@example.com", kind="auth.reset_password")
    with pytest.raises(LookupError):
        auth_client.mailer.last(to="nobody@example.com")


async def test_password_reset_sets_the_password_and_ends_every_session(auth_client):
    tokens = await auth_client.signed_in("ada@example.com")
    await auth_client.http.post("/auth/password/forgot", json={"email": "ada@example.com"})
    token = auth_client.mailer.last(kind="auth.reset_password").data["token"]
    weak = await auth_client.http.post(
        "/auth/password/reset", json={"token": token, "new_password": "short"}
    )
    assert weak.json()["code"] == "password.too_short"
    new_password = "the reset passphrase works"
    reset = await auth_client.http.post(
        "/auth/password/reset", json={"token": token, "new_password": new_password}
    )
    assert reset.status_code == 204
    me = await auth_client.http.get("/auth/me", headers=bearer(tokens["access_token"]))
    assert me.json()["code"] == "auth.session_revoked"
    assert (await auth_client.login("ada@example.com", new_password)).status_code == 200
    spent = await auth_client.http.post(
        "/auth/password/reset", json={"token": token, "new_password": "yet another passphrase"}
    )
    assert spent.json()["code"] == "auth.link_invalid"
