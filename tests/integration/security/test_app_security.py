"""The security primitives as ``create_app`` wires them from settings."""

from __future__ import annotations

import hashlib

import pytest
from aiohttp import web

from bastion import bastion_state, create_app
from bastion.security import SecretBox, Security, Signer, security
from bastion.security.errors import (
    BreachCheckUnavailable,
    PasswordBreached,
    PasswordContainsAppName,
    PasswordTooShort,
)
from tests.conftest import make_settings
from tests.integration.conftest import ServeHttp

pytestmark = pytest.mark.security

OLDER = "an-older-secret-key-0123456789abcdef"
BREACHED = "a breached but uncommon phrase"
BREACHED_SHA1 = hashlib.sha1(BREACHED.encode()).hexdigest().upper()


async def test_settings_shape_every_primitive(sqlite_url, client_for, serve_http: ServeHttp):
    hits: list[str] = []

    async def pwned_range(request: web.Request) -> web.Response:
        hits.append(request.match_info["prefix"])
        return web.Response(text=f"{BREACHED_SHA1[5:]}:12\r\n{'0' * 35}:0")

    upstream = web.Application()
    upstream.router.add_get("/range/{prefix}", pwned_range)
    base = await serve_http(upstream)
    app = create_app(
        make_settings(
            sqlite_url,
            app_name="Taskboard",
            security={
                "argon2_time_cost": 3,
                "argon2_memory_kib": 12_288,
                "password_min_length": 8,
                "hibp_enabled": True,
                "hibp_base_url": base,
                "hibp_fail_open": False,
                "previous_secret_keys": [OLDER],
            },
        )
    )
    await client_for(app)
    kit = security(app)
    assert isinstance(kit, Security)

    stored = await kit.hasher.hash("a fine password")
    assert stored.startswith("$argon2id$v=19$m=12288,t=3,p=1$")

    with pytest.raises(PasswordTooShort):
        await kit.policy.validate("short")
    with pytest.raises(PasswordContainsAppName):
        await kit.policy.validate("my taskboard login")
    with pytest.raises(PasswordBreached):  # through the app's own HTTP client
        await kit.policy.validate(BREACHED)
    await kit.policy.validate("eight ch")  # the minimum length came from the settings
    assert hits == [BREACHED_SHA1[:5], hashlib.sha1(b"eight ch").hexdigest().upper()[:5]]
    assert kit.http is bastion_state(app).http

    # What the previous secret key signed and sealed still verifies and opens.
    assert kit.signer("cookie").unsign(Signer([OLDER], "cookie").sign("v")) == "v"
    assert kit.box.decrypt(SecretBox([OLDER]).encrypt(b"x")) == b"x"
    assert kit.box.needs_reseal(SecretBox([OLDER]).encrypt(b"x"))

    kid = await kit.signing_keys.rotate()
    ring = await kit.key_ring.ring()
    token = ring.sign({"sub": "1", "aud": "api", "iss": "taskboard", "exp": 2**40})
    assert ring.verify(token, audience="api", issuer="taskboard")["sub"] == "1"
    assert ring.kids == [kid]


async def test_breach_check_off_by_default(sqlite_url) -> None:
    kit = security(create_app(make_settings(sqlite_url)))
    assert kit.breach_checker is None
    assert kit.policy.min_length == 12


async def test_fail_closed_outage_is_a_503_problem(sqlite_url, client_for) -> None:
    app = create_app(
        make_settings(
            sqlite_url,
            security={
                "hibp_enabled": True,
                "hibp_base_url": "http://127.0.0.1:9",  # discard port: nothing listens
                "hibp_fail_open": False,
            },
        )
    )
    await client_for(app)
    with pytest.raises(BreachCheckUnavailable) as caught:
        await security(app).policy.validate("a long enough password")
    assert caught.value.status == 503


def test_security_of_a_foreign_app() -> None:
    from fastapi import FastAPI

    with pytest.raises(TypeError):
        security(FastAPI())
