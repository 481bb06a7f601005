"""A small OpenID Connect provider on 127.0.0.1 for the sign-in tests.

Discovery, an authorize endpoint that approves at once and redirects back with
a code, a token endpoint that checks the client's credentials, the redirect
URI and the PKCE verifier and spends each code once, a JWKS with a real RSA
key, and userinfo. ``user`` is who signs in; the ``tamper_*`` knobs make it
misbehave the way the tests need.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa

CLIENT_ID = "bastion-test-client"
CLIENT_SECRET = "provider-secret-" + "s" * 20


@dataclass
class Grant:
    redirect_uri: str
    challenge: str
    nonce: str | None
    user: dict[str, Any]
    used: bool = False


@dataclass
class OidcProvider:
    user: dict[str, Any] = field(
        default_factory=lambda: {"sub": "u-1", "email": "ada@example.com", "email_verified": True}
    )
    tamper_audience: str | None = None
    tamper_nonce: str | None = None
    id_token_lifetime: int = 300
    email_in_id_token: bool = True
    grants: dict[str, Grant] = field(default_factory=dict)
    authorize_requests: list[dict[str, str]] = field(default_factory=list)
    access_tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    issued_nonces: list[str] = field(default_factory=list)
    base_url: str = ""
    now: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.published = self.key  # what the JWKS shows; ``key`` signs
        self.kid = "test-key-1"

    @property
    def discovery_url(self) -> str:
        return f"{self.base_url}/.well-known/openid-configuration"

    def settings(self, **extra: Any) -> dict[str, Any]:
        return {
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "discovery_url": self.discovery_url,
            **extra,
        }

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/.well-known/openid-configuration", self.discovery)
        app.router.add_get("/authorize", self.authorize)
        app.router.add_post("/token", self.token)
        app.router.add_get("/jwks", self.jwks)
        app.router.add_get("/userinfo", self.userinfo)
        return app

    async def discovery(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "issuer": self.base_url,
                "authorization_endpoint": f"{self.base_url}/authorize",
                "token_endpoint": f"{self.base_url}/token",
                "jwks_uri": f"{self.base_url}/jwks",
                "userinfo_endpoint": f"{self.base_url}/userinfo",
                "token_endpoint_auth_methods_supported": ["client_secret_basic"],
                "code_challenge_methods_supported": ["S256"],
            }
        )

    async def authorize(self, request: web.Request) -> web.Response:
        query = dict(request.query)
        self.authorize_requests.append(query)
        if query.get("client_id") != CLIENT_ID or query.get("code_challenge_method") != "S256":
            return web.Response(status=400, text="bad client or PKCE method")
        code = secrets.token_urlsafe(16)
        self.grants[code] = Grant(
            query["redirect_uri"], query["code_challenge"], query.get("nonce"), dict(self.user)
        )
        target = f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query['state']})}"
        raise web.HTTPFound(target)

    async def token(self, request: web.Request) -> web.Response:
        expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if request.headers.get("Authorization") != f"Basic {expected}":
            return web.json_response({"error": "invalid_client"}, status=401)
        form = await request.post()
        grant = self.grants.get(str(form.get("code")))
        if grant is None or grant.used or grant.redirect_uri != form.get("redirect_uri"):
            return web.json_response({"error": "invalid_grant"}, status=400)
        verifier = str(form.get("code_verifier", ""))
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        if challenge.rstrip(b"=").decode() != grant.challenge:
            return web.json_response({"error": "invalid_grant", "error_description": "PKCE"}, 400)
        grant.used = True
        access = secrets.token_urlsafe(16)
        self.access_tokens[access] = grant.user
        nonce = self.tamper_nonce or grant.nonce
        self.issued_nonces.append(str(grant.nonce))
        now = int(self.now())
        claims = {
            "iss": self.base_url,
            "sub": grant.user["sub"],
            "aud": self.tamper_audience or CLIENT_ID,
            "iat": now,
            "exp": now + self.id_token_lifetime,
            "nonce": nonce,
        }
        if self.email_in_id_token:
            claims |= {k: v for k, v in grant.user.items() if k != "sub"}
        id_token = jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": self.kid})
        body = {"access_token": access, "token_type": "Bearer", "expires_in": 300}
        return web.json_response(body | {"id_token": id_token})

    async def jwks(self, request: web.Request) -> web.Response:
        public = jwt.algorithms.RSAAlgorithm.to_jwk(self.published.public_key(), as_dict=True)
        return web.json_response({"keys": [public | {"kid": self.kid, "use": "sig"}]})

    async def userinfo(self, request: web.Request) -> web.Response:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        user = self.access_tokens.get(token)
        if user is None:
            return web.json_response({"error": "invalid_token"}, status=401)
        return web.json_response(user)


class RunningProvider:
    """The provider served by aiohttp on a free port of 127.0.0.1."""

    def __init__(self, provider: OidcProvider) -> None:
        self.provider = provider
        self.runner = web.AppRunner(provider.app())

    async def start(self) -> None:
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = self.runner.addresses[0][1]
        self.provider.base_url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        await self.runner.cleanup()
