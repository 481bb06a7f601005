"""Access tokens through the API: JWKS, key rolling, forged and confused tokens."""

from __future__ import annotations

import base64
import json

import jwt
import pytest

from bastion.auth import auth_of
from tests.integration.auth.conftest import bearer, build_client

pytestmark = pytest.mark.security


def b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def me(client, token: str):
    return await client.http.get("/auth/me", headers=bearer(token))


@pytest.fixture
async def keyed(client_for, sqlite_url, clock):
    return await build_client(client_for, sqlite_url, clock)


async def test_jwks_publishes_the_public_signing_keys(keyed):
    tokens = await keyed.signed_in("ada@example.com")
    jwks = (await keyed.http.get("/.well-known/jwks.json")).json()
    [key] = jwks["keys"]
    assert key["kty"] == "OKP" and key["crv"] == "Ed25519" and "d" not in key
    assert jwt.get_unverified_header(tokens["access_token"])["kid"] == key["kid"]


async def test_alg_none_and_tampered_tokens_are_refused(keyed):
    tokens = await keyed.signed_in("ada@example.com")
    header, claims, _signature = tokens["access_token"].split(".")
    kid = jwt.get_unverified_header(tokens["access_token"])["kid"]
    unsigned = f"{b64({'alg': 'none', 'typ': 'JWT', 'kid': kid})}.{claims}."
    payload = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    other = b64({**payload, "sub": "00000000-0000-0000-0000-000000000001"})
    forged = f"{header}.{other}.{_signature}"
    for token in (unsigned, forged, "not.a.jwt", tokens["access_token"] + "x"):
        response = await me(keyed, token)
        assert response.status_code == 401
        assert response.json()["code"] == "auth.invalid_token"
        assert response.headers["www-authenticate"].startswith("Bearer")


async def test_hs256_token_made_with_the_public_key_is_refused(keyed):
    """Algorithm confusion: the public key used as an HMAC secret must not verify."""
    tokens = await keyed.signed_in("ada@example.com")
    [key] = (await keyed.http.get("/.well-known/jwks.json")).json()["keys"]
    payload = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    public = base64.urlsafe_b64decode(key["x"] + "==")
    confused = jwt.encode(payload, public, algorithm="HS256", headers={"kid": key["kid"]})
    assert (await me(keyed, confused)).json()["code"] == "auth.invalid_token"


async def test_rolled_keys_keep_verifying_until_retired(keyed):
    auth = auth_of(keyed.app)
    old_tokens = await keyed.signed_in("ada@example.com")
    old_kid = jwt.get_unverified_header(old_tokens["access_token"])["kid"]
    new_kid = await auth.ctx.key_store.rotate("EdDSA")
    keyed.clock.advance(seconds=31)  # the reload interval: every process knows the new key
    auth.ctx.keys.invalidate()
    new_tokens = (await keyed.login("ada@example.com")).json()
    assert jwt.get_unverified_header(new_tokens["access_token"])["kid"] == new_kid
    assert (await me(keyed, old_tokens["access_token"])).is_success  # rolled but valid
    kids = {k["kid"] for k in (await keyed.http.get("/.well-known/jwks.json")).json()["keys"]}
    assert kids == {old_kid, new_kid}
    await auth.ctx.key_store.retire(old_kid)
    auth.ctx.keys.invalidate()
    assert (await me(keyed, old_tokens["access_token"])).json()["code"] == "auth.invalid_token"
    assert (await me(keyed, new_tokens["access_token"])).is_success


async def test_expired_and_wrong_audience_tokens_are_refused(keyed):
    tokens = await keyed.signed_in("ada@example.com")
    ring = await auth_of(keyed.app).ctx.keys.ring()
    payload = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    other_audience = ring.sign({**payload, "aud": "someone-else"})
    assert (await me(keyed, other_audience)).json()["code"] == "auth.invalid_token"
    keyed.clock.advance(minutes=16)
    assert (await me(keyed, tokens["access_token"])).json()["code"] == "auth.invalid_token"
