"""Cookie session mode: HttpOnly token cookies, double-submit CSRF, logout."""

from __future__ import annotations

import httpx
import pytest

from bastion.security import new_token
from tests.integration.auth.conftest import AuthClient, bearer, build_client

pytestmark = pytest.mark.security


async def cookie_app(client_for, url, clock, **auth) -> AuthClient:
    client = await build_client(client_for, url, clock, cookie_mode=True, **auth)
    client.http.base_url = httpx.URL("https://testserver")  # the cookies are Secure
    return client


@pytest.fixture
async def app(client_for, database_url, clock) -> AuthClient:
    return await cookie_app(client_for, database_url, clock)


@pytest.fixture
async def sqlite_app(client_for, sqlite_url, clock) -> AuthClient:
    return await cookie_app(client_for, sqlite_url, clock)


def cookies_set(response: httpx.Response) -> dict[str, str]:
    """``{name: the whole Set-Cookie line, lower case}``."""
    lines = response.headers.get_list("set-cookie")
    return {line.split("=", 1)[0]: line.lower() for line in lines}


async def signed_in(app: AuthClient, email: str = "ada@example.com") -> dict[str, str]:
    assert (await app.register(email)).status_code == 201
    response = await app.login(email)
    assert response.status_code == 200, response.text
    return response.json()


def csrf(app: AuthClient) -> dict[str, str]:
    return {"X-CSRF-Token": app.http.cookies["bastion_csrf"]}


async def test_login_sets_cookies_and_answers_no_tokens(sqlite_app):
    await sqlite_app.register("ada@example.com")
    response = await sqlite_app.login("ada@example.com")
    body = response.json()
    assert set(body) == {"token_type", "expires_in", "session_id", "csrf_token"}
    assert body["token_type"] == "cookie"
    cookies = cookies_set(response)
    access, refresh, token = (
        cookies["bastion_access"],
        cookies["bastion_refresh"],
        cookies["bastion_csrf"],
    )
    for line in (access, refresh, token):
        assert "secure" in line and "samesite=lax" in line
    assert "httponly" in access and "path=/;" in access and "max-age=900" in access
    assert "httponly" in refresh and "path=/auth" in refresh
    assert "httponly" not in token  # the page's script must read it
    assert sqlite_app.http.cookies["bastion_csrf"] == body["csrf_token"]


async def test_the_session_cookie_authenticates_reads_without_csrf(app):
    await signed_in(app)
    me = await app.http.get("/auth/me")
    assert me.status_code == 200
    assert me.json()["email"] == "ada@example.com"


async def test_cookie_writes_need_the_csrf_header(app):
    await signed_in(app)
    missing = await app.http.post("/auth/api-keys", json={"name": "ci"})
    assert missing.status_code == 403
    assert missing.json()["code"] == "auth.csrf_failed"
    wrong = await app.http.post(
        "/auth/api-keys",
        json={"name": "ci"},
        headers={"X-CSRF-Token": "x" + csrf(app)["X-CSRF-Token"]},
    )
    assert wrong.json()["code"] == "auth.csrf_failed"
    ok = await app.http.post("/auth/api-keys", json={"name": "ci"}, headers=csrf(app))
    assert ok.status_code == 201, ok.text


async def test_a_token_forged_or_of_another_session_is_refused(sqlite_app):
    await signed_in(sqlite_app)
    first = sqlite_app.http.cookies["bastion_csrf"]
    assert (await sqlite_app.login("ada@example.com")).status_code == 200  # a second session
    forged = new_token()
    for token in (forged, first):  # unsigned; signed for the other session
        sqlite_app.http.cookies.delete("bastion_csrf")
        sqlite_app.http.cookies.set("bastion_csrf", token, domain="testserver.local")
        response = await sqlite_app.http.post(
            "/auth/api-keys", json={"name": "ci"}, headers={"X-CSRF-Token": token}
        )
        assert response.status_code == 403, token
        assert response.json()["code"] == "auth.csrf_failed"


async def test_bearer_requests_are_not_csrf_checked(sqlite_app):
    await signed_in(sqlite_app)
    access = sqlite_app.http.cookies["bastion_access"]
    response = await sqlite_app.http.post(
        "/auth/api-keys", json={"name": "ci"}, headers=bearer(access)
    )
    assert response.status_code == 201


async def test_refresh_reads_the_cookie_and_rotates_it(app):
    await signed_in(app)
    old = app.http.cookies["bastion_refresh"]
    refused = await app.http.post("/auth/refresh")
    assert refused.json()["code"] == "auth.csrf_failed"
    rotated = await app.http.post("/auth/refresh", headers=csrf(app))
    assert rotated.status_code == 200, rotated.text
    assert set(rotated.json()) == {"token_type", "expires_in", "session_id", "csrf_token"}
    assert app.http.cookies["bastion_refresh"] != old
    assert (await app.http.get("/auth/me")).status_code == 200
    # The spent one, presented again, still revokes the session.
    app.http.cookies.delete("bastion_refresh")
    app.http.cookies.set("bastion_refresh", old, domain="testserver.local", path="/auth")
    reused = await app.http.post("/auth/refresh", headers=csrf(app))
    assert reused.json()["code"] == "auth.refresh_token_reused"


async def test_logout_clears_the_cookies_and_ends_the_session(sqlite_app):
    await signed_in(sqlite_app)
    access = sqlite_app.http.cookies["bastion_access"]
    response = await sqlite_app.http.post("/auth/logout", headers=csrf(sqlite_app))
    assert response.status_code == 204
    cleared = cookies_set(response)
    assert set(cleared) == {"bastion_access", "bastion_refresh", "bastion_csrf"}
    assert all("max-age=0" in line for line in cleared.values())
    assert "path=/auth" in cleared["bastion_refresh"]
    assert not sqlite_app.http.cookies
    ended = await sqlite_app.http.get("/auth/me", headers=bearer(access))
    assert ended.json()["code"] == "auth.session_revoked"


async def test_secure_can_be_turned_off_for_local_http(client_for, sqlite_url, clock):
    client = await build_client(
        client_for, sqlite_url, clock, cookie_mode=True, cookie_secure=False
    )
    await client.register("ada@example.com")
    response = await client.login("ada@example.com")
    assert all("secure" not in line for line in cookies_set(response).values())
    assert (await client.http.get("/auth/me")).status_code == 200


async def test_bearer_mode_sets_no_cookies(client_for, sqlite_url, clock):
    client = await build_client(client_for, sqlite_url, clock)
    await client.register("ada@example.com")
    response = await client.login("ada@example.com")
    assert "set-cookie" not in response.headers
    assert "access_token" in response.json()
