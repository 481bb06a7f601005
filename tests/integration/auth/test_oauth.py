"""Sign-in with OpenID Connect, end to end against a provider on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import func, select

from bastion.auth.models import User
from bastion.auth.oauth_models import OAuthIdentity
from bastion.core.state import bastion_state
from tests.integration.auth.conftest import PASSWORD, AuthClient, bearer, build_client
from tests.integration.auth.oidc_provider import OidcProvider, RunningProvider

pytestmark = pytest.mark.security


@pytest.fixture
async def idp(clock) -> AsyncIterator[RunningProvider]:
    running = RunningProvider(OidcProvider(now=lambda: clock.now().timestamp()))
    await running.start()
    yield running
    await running.stop()


@pytest.fixture
async def browser() -> AsyncIterator[httpx.AsyncClient]:
    """The user's browser at the provider (no redirects followed by itself)."""
    async with httpx.AsyncClient() as http:
        yield http


async def oauth_app(client_for, url, clock, idp: RunningProvider, **auth) -> AuthClient:
    providers = {"acme": idp.provider.settings()}
    client = await build_client(client_for, url, clock, oauth_providers=providers, **auth)
    client.http.base_url = httpx.URL("https://testserver")  # the flow cookie is Secure
    return client


@pytest.fixture
async def app(client_for, database_url, clock, idp) -> AuthClient:
    return await oauth_app(client_for, database_url, clock, idp)


@pytest.fixture
async def sqlite_app(client_for, sqlite_url, clock, idp) -> AuthClient:
    return await oauth_app(client_for, sqlite_url, clock, idp)


async def start(app: AuthClient, browser: httpx.AsyncClient) -> str:
    """Follow /authorize to the provider and back; the callback URL it sends to."""
    redirect = await app.http.get("/auth/oauth/acme/authorize")
    assert redirect.status_code == 302, redirect.text
    approved = await browser.get(redirect.headers["location"])
    assert approved.status_code == 302, approved.text
    return approved.headers["location"]


async def sign_in(app: AuthClient, browser: httpx.AsyncClient) -> httpx.Response:
    return await app.http.get(await start(app, browser))


async def count(app: AuthClient, model: type) -> int:
    async with bastion_state(app.app).db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_authorize_redirects_with_state_pkce_and_nonce(sqlite_app, idp):
    response = await sqlite_app.http.get("/auth/oauth/acme/authorize")
    assert response.status_code == 302
    query = parse_qs(urlsplit(response.headers["location"]).query)
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) == 43
    assert query["scope"] == ["openid email profile"]
    assert query["redirect_uri"] == ["https://testserver/auth/oauth/acme/callback"]
    cookie = response.headers["set-cookie"].lower()
    assert "bastion_oauth_flow=" in cookie
    assert "httponly" in cookie and "secure" in cookie and "samesite=lax" in cookie
    assert "path=/auth/oauth/" in cookie
    assert query["state"][0] in response.headers["set-cookie"]  # public; the verifier is not


async def test_new_user_is_created_and_signed_in(app, browser):
    response = await sign_in(app, browser)
    assert response.status_code == 200, response.text
    pair = response.json()
    assert set(pair) == {"access_token", "refresh_token", "token_type", "expires_in", "session_id"}
    me = await app.http.get("/auth/me", headers=bearer(pair["access_token"]))
    assert me.json()["email"] == "ada@example.com"
    assert me.json()["email_verified"] is True
    async with bastion_state(app.app).db.session() as session:
        user = await session.scalar(select(User))
        assert user is not None and user.password_hash is None
    # The same provider account signs in as the same user again.
    again = await sign_in(app, browser)
    assert again.status_code == 200
    assert await count(app, User) == 1
    assert await count(app, OAuthIdentity) == 1
    assert (
        await app.http.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    ).status_code == 200


async def test_existing_verified_account_is_linked(sqlite_app, browser):
    tokens = await sqlite_app.signed_in("ada@example.com")  # password account, never verified
    response = await sign_in(sqlite_app, browser)
    assert response.status_code == 200, response.text
    assert await count(sqlite_app, User) == 1
    me = await sqlite_app.http.get("/auth/me", headers=bearer(response.json()["access_token"]))
    assert me.json()["email_verified"] is True
    # Whoever chose the password never proved the address: it and its sessions are gone.
    old = await sqlite_app.http.get("/auth/me", headers=bearer(tokens["access_token"]))
    assert old.json()["code"] == "auth.session_revoked"
    assert (await sqlite_app.login("ada@example.com", PASSWORD)).status_code == 401


async def test_verified_local_account_keeps_its_password_when_linked(sqlite_app, browser):
    await sqlite_app.register("ada@example.com")
    async with bastion_state(sqlite_app.app).db.session() as session:
        user = await session.scalar(select(User))
        assert user is not None
        user.email_verified_at = sqlite_app.clock.now()
    assert (await sign_in(sqlite_app, browser)).status_code == 200
    assert (await sqlite_app.login("ada@example.com", PASSWORD)).status_code == 200


async def test_unverified_provider_email_is_not_linked(sqlite_app, browser, idp):
    await sqlite_app.signed_in("ada@example.com")
    idp.provider.user["email_verified"] = False
    response = await sign_in(sqlite_app, browser)
    assert response.status_code == 409
    assert response.json()["code"] == "auth.oauth_email_unverified"
    assert await count(sqlite_app, OAuthIdentity) == 0


async def test_unverified_email_without_account_makes_an_unverified_user(sqlite_app, browser, idp):
    idp.provider.user |= {"email": "new@example.com", "email_verified": False}
    response = await sign_in(sqlite_app, browser)
    assert response.status_code == 200
    me = await sqlite_app.http.get("/auth/me", headers=bearer(response.json()["access_token"]))
    assert me.json()["email_verified"] is False


async def test_email_from_userinfo_when_the_id_token_has_none(sqlite_app, browser, idp):
    idp.provider.email_in_id_token = False
    response = await sign_in(sqlite_app, browser)
    assert response.status_code == 200, response.text
    me = await sqlite_app.http.get("/auth/me", headers=bearer(response.json()["access_token"]))
    assert me.json() | {"email_verified": True} == me.json()


async def test_state_mismatch_is_refused(sqlite_app, browser):
    callback = await start(sqlite_app, browser)
    forged = callback.replace("state=", "state=x")
    response = await sqlite_app.http.get(forged)
    assert response.status_code == 400
    assert response.json()["code"] == "auth.oauth_state_invalid"


async def test_callback_without_the_flow_cookie_is_refused(sqlite_app, browser):
    callback = await start(sqlite_app, browser)
    sqlite_app.http.cookies.clear()  # another browser (login CSRF) or an expired flow
    response = await sqlite_app.http.get(callback)
    assert response.json()["code"] == "auth.oauth_state_invalid"


async def test_expired_flow_is_refused(sqlite_app, browser):
    callback = await start(sqlite_app, browser)
    sqlite_app.clock.advance(seconds=601)
    response = await sqlite_app.http.get(callback)
    assert response.json()["code"] == "auth.oauth_state_invalid"


async def test_replayed_callback_is_refused(sqlite_app, browser):
    callback = await start(sqlite_app, browser)
    flow_cookie = dict(sqlite_app.http.cookies)
    assert (await sqlite_app.http.get(callback)).status_code == 200
    sqlite_app.http.cookies.update(flow_cookie)  # even with the flow cookie put back
    replay = await sqlite_app.http.get(callback)
    assert replay.status_code == 400
    assert replay.json()["code"] == "auth.oauth_code_invalid"


async def test_id_token_of_another_sign_in_is_refused(sqlite_app, browser, idp):
    assert (await sign_in(sqlite_app, browser)).status_code == 200
    idp.provider.tamper_nonce = idp.provider.issued_nonces[0]  # an old ID token replayed
    response = await sign_in(sqlite_app, browser)
    assert response.status_code == 400
    assert response.json()["code"] == "auth.oauth_nonce_invalid"


async def test_id_token_for_another_client_is_refused(sqlite_app, browser, idp):
    idp.provider.tamper_audience = "someone-else"
    response = await sign_in(sqlite_app, browser)
    assert response.status_code == 400
    assert response.json()["code"] == "auth.oauth_id_token_invalid"
    assert await count(sqlite_app, User) == 0


async def test_expired_id_token_is_refused(sqlite_app, browser, idp):
    idp.provider.id_token_lifetime = -120  # expired beyond the minute of clock skew allowed
    response = await sign_in(sqlite_app, browser)
    assert response.status_code == 400
    assert response.json()["code"] == "auth.oauth_id_token_invalid"


async def test_id_token_signed_by_another_key_is_refused(sqlite_app, browser, idp):
    callback = await start(sqlite_app, browser)
    idp.provider.key = OidcProvider().key  # same kid, a key the JWKS never published
    response = await sqlite_app.http.get(callback)
    assert response.status_code == 400
    assert response.json()["code"] == "auth.oauth_id_token_invalid"


async def test_provider_error_is_a_problem(sqlite_app):
    await sqlite_app.http.get("/auth/oauth/acme/authorize")
    flow = sqlite_app.http.cookies["bastion_oauth_flow"]
    state = flow.split(":")[1]
    response = await sqlite_app.http.get(
        "/auth/oauth/acme/callback", params={"error": "access_denied", "state": state}
    )
    assert response.status_code == 400
    assert response.json()["code"] == "auth.oauth_denied"


async def test_unknown_provider_is_404(sqlite_app):
    response = await sqlite_app.http.get("/auth/oauth/nobody/authorize")
    assert response.status_code == 404
    assert response.json()["code"] == "auth.oauth_unknown_provider"


async def test_provider_down_is_502(sqlite_app, browser, idp):
    callback = await start(sqlite_app, browser)
    await idp.stop()
    response = await sqlite_app.http.get(callback)
    assert response.status_code == 502
    assert response.json()["code"] == "auth.oauth_provider_unavailable"


async def test_provider_down_at_first_redirect_is_502(client_for, sqlite_url, clock, idp):
    await idp.stop()
    app = await oauth_app(client_for, sqlite_url, clock, idp)
    response = await app.http.get("/auth/oauth/acme/authorize")
    assert response.status_code == 502
    assert response.json()["code"] == "auth.oauth_provider_unavailable"


async def test_cookie_mode_callback_sets_the_session_cookies(
    client_for, sqlite_url, clock, idp, browser
):
    app = await oauth_app(client_for, sqlite_url, clock, idp, cookie_mode=True)
    response = await sign_in(app, browser)
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"token_type", "expires_in", "session_id", "csrf_token"}
    lines = response.headers.get_list("set-cookie")
    names = {line.split("=", 1)[0] for line in lines}
    assert names == {"bastion_access", "bastion_refresh", "bastion_csrf", "bastion_oauth_flow"}
    assert "bastion_oauth_flow" not in app.http.cookies  # the flow cookie is spent
    me = await app.http.get("/auth/me")
    assert me.json()["email"] == "ada@example.com"


async def test_a_rotated_provider_key_is_picked_up(sqlite_app, browser, idp):
    assert (await sign_in(sqlite_app, browser)).status_code == 200  # JWKS cached
    provider = idp.provider
    provider.key = provider.published = OidcProvider().key
    provider.kid = "test-key-2"
    sqlite_app.clock.advance(seconds=61)  # an unknown kid reloads the JWKS, at most once a minute
    response = await sign_in(sqlite_app, browser)
    assert response.status_code == 200, response.text


async def test_concurrent_first_sign_ins_make_one_user(app, browser):
    other = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app.app), base_url="https://testserver"
    )
    async with other:
        second = AuthClient(app.app, other, app.clock, app.mailer)
        callbacks = [await start(app, browser), await start(second, browser)]
        first_done, second_done = await asyncio.gather(
            app.http.get(callbacks[0]), second.http.get(callbacks[1])
        )
    assert first_done.status_code == second_done.status_code == 200
    assert await count(app, User) == 1
    assert await count(app, OAuthIdentity) == 1
