"""One OpenID Connect provider, seen from the app (the relying party).

Discovery, the authorization URL (PKCE S256, ``state``, ``nonce``), the code
exchange (``client_secret_basic``, or ``client_secret_post`` when that is all
the provider takes) and the ID token check: the signature against the
provider's JWKS (asymmetric algorithms only, reloaded when a new ``kid``
appears), then ``iss``, ``aud``, ``azp``, ``exp``, ``iat``, ``nonce`` and
``at_hash`` by authlib's ``CodeIDToken``. Every call goes through the app's
outbound :class:`~bastion.core.http.HttpClient` (timeouts, retries of the GETs,
circuit breaker per host); a provider that cannot be reached, or answers
nonsense, is 502 ``auth.oauth_provider_unavailable``.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import ClaimError, JoseError
from joserfc.jwk import KeySet

from bastion.auth.errors import (
    OAuthCodeInvalid,
    OAuthIdTokenInvalid,
    OAuthNonceInvalid,
    OAuthProviderUnavailable,
)
from bastion.auth.oauth_settings import OAuthProvider
from bastion.core.clock import Clock
from bastion.core.http import HttpClient, HttpResponse, UpstreamError

# Asymmetric only: an HS256 ID token would be "signed" with the client secret.
SIGNING_ALGORITHMS = (
    *("RS256", "RS384", "RS512", "PS256", "PS384", "PS512"),
    *("ES256", "ES384", "ES512", "EdDSA"),
)
METADATA_TTL_SECONDS = 3600.0
JWKS_RELOAD_SECONDS = 60.0  # an unknown kid reloads the keys at most this often
LEEWAY_SECONDS = 60
MAX_SUBJECT = 255  # OpenID Connect Core §2: at most 255 ASCII characters


@dataclass(frozen=True)
class ProviderMetadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None
    auth_methods: tuple[str, ...]


@dataclass(frozen=True)
class ProviderIdentity:
    """Who the provider says signed in."""

    provider: str
    subject: str
    email: str | None
    email_verified: bool
    name: str = ""


class OidcClient:
    """The app's client registration at one provider."""

    def __init__(self, name: str, config: OAuthProvider, http: HttpClient, clock: Clock) -> None:
        self.name = name
        self.config = config
        self._http = http
        self._clock = clock
        self._metadata: tuple[float, ProviderMetadata] | None = None
        self._keys: tuple[float, KeySet] | None = None

    async def authorization_url(
        self, redirect_uri: str, *, state: str, nonce: str, verifier: str
    ) -> str:
        endpoint = (await self.metadata()).authorization_endpoint
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.config.client_id,
                "redirect_uri": redirect_uri,
                "scope": " ".join(self.config.scopes),
                "state": state,
                "nonce": nonce,
                "code_challenge": create_s256_code_challenge(verifier),
                "code_challenge_method": "S256",
            }
        )
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"

    async def identity(
        self, code: str, *, redirect_uri: str, verifier: str, nonce: str
    ) -> ProviderIdentity:
        """Exchange ``code`` and check the ID token; who signed in."""
        meta = await self.metadata()
        tokens = await self._exchange(meta, code, redirect_uri, verifier)
        access_token = tokens.get("access_token")
        id_token = tokens.get("id_token")
        if not isinstance(id_token, str):
            raise OAuthIdTokenInvalid(f"{self.name} answered no ID token.")
        claims = await self._verify(meta, id_token, nonce, access_token)
        if not isinstance(claims["sub"], str) or not 0 < len(claims["sub"]) <= MAX_SUBJECT:
            raise OAuthIdTokenInvalid("The ID token's 'sub' is not an OpenID Connect subject.")
        email, verified = claims.get("email"), claims.get("email_verified")
        if email is None and meta.userinfo_endpoint and isinstance(access_token, str):
            info = await self._json("GET", meta.userinfo_endpoint, bearer=access_token)
            if info.get("sub") != claims["sub"]:
                raise OAuthIdTokenInvalid("The userinfo answer is about another subject.")
            email, verified = info.get("email"), info.get("email_verified")
        return ProviderIdentity(
            provider=self.name,
            subject=claims["sub"],
            email=email if isinstance(email, str) else None,
            # Some providers send the boolean as a string.
            email_verified=verified is True or verified == "true",
            name=str(claims.get("name") or ""),
        )

    async def metadata(self) -> ProviderMetadata:
        now = self._clock.now().timestamp()
        if self._metadata is None or now - self._metadata[0] > METADATA_TTL_SECONDS:
            doc = await self._json("GET", self.config.discovery_url)
            try:
                meta = ProviderMetadata(
                    issuer=str(doc["issuer"]),
                    authorization_endpoint=str(doc["authorization_endpoint"]),
                    token_endpoint=str(doc["token_endpoint"]),
                    jwks_uri=str(doc["jwks_uri"]),
                    userinfo_endpoint=doc.get("userinfo_endpoint"),
                    auth_methods=tuple(doc.get("token_endpoint_auth_methods_supported") or ()),
                )
            except KeyError as exc:
                raise OAuthProviderUnavailable(
                    f"The discovery document of {self.name} lacks {exc}."
                ) from exc
            if not self.config.discovery_url.startswith(meta.issuer.rstrip("/") + "/"):
                # OpenID Connect Discovery §4.3: the document must name its own issuer.
                raise OAuthProviderUnavailable(
                    f"The discovery document of {self.name} names another issuer."
                )
            self._metadata = (now, meta)
        return self._metadata[1]

    async def _exchange(
        self, meta: ProviderMetadata, code: str, redirect_uri: str, verifier: str
    ) -> dict[str, Any]:
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": verifier,
        }
        secret = self.config.client_secret.get_secret_value()
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        }
        if "client_secret_basic" in meta.auth_methods or not meta.auth_methods:
            # RFC 6749 §2.3.1: both parts form-encoded before the Basic encoding.
            pair = f"{quote(self.config.client_id, safe='')}:{quote(secret, safe='')}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        else:
            form |= {"client_id": self.config.client_id, "client_secret": secret}
        response = await self._send("POST", meta.token_endpoint, headers, urlencode(form))
        body = _json_of(response)
        if response.status == 400 and body.get("error") == "invalid_grant":
            raise OAuthCodeInvalid(f"{self.name} refused the code: {body.get('error_description')}")
        if response.status != 200:
            raise OAuthProviderUnavailable(
                f"The token endpoint of {self.name} answered {response.status} "
                f"{body.get('error', '')}".strip()
            )
        return body

    async def _verify(
        self, meta: ProviderMetadata, id_token: str, nonce: str, access_token: Any
    ) -> CodeIDToken:
        try:
            token = jwt.decode(
                id_token, await self._key_set(meta, _kid(id_token)), SIGNING_ALGORITHMS
            )
        except (JoseError, ValueError) as exc:
            raise OAuthIdTokenInvalid(f"The ID token does not verify: {exc}") from exc
        claims = CodeIDToken(
            token.claims,
            token.header,
            options={
                "iss": {"essential": True, "value": meta.issuer},
                "aud": {"essential": True, "value": self.config.client_id},
            },
            params={
                "nonce": nonce,
                "client_id": self.config.client_id,
                "access_token": access_token,
            },
        )
        try:
            claims.validate(now=int(self._clock.now().timestamp()), leeway=LEEWAY_SECONDS)
        except ClaimError as exc:
            if exc.claim == "nonce":
                raise OAuthNonceInvalid("The ID token was not issued for this sign-in.") from exc
            raise OAuthIdTokenInvalid(f"The ID token's {exc.claim!r} is wrong.") from exc
        except JoseError as exc:
            raise OAuthIdTokenInvalid(f"The ID token is not valid: {exc}") from exc
        return claims

    async def _key_set(self, meta: ProviderMetadata, kid: str | None) -> KeySet:
        now = self._clock.now().timestamp()
        if self._keys is not None:
            loaded_at, keys = self._keys
            fresh = now - loaded_at <= METADATA_TTL_SECONDS
            known = kid in {key.kid for key in keys.keys}
            if fresh and (known or now - loaded_at <= JWKS_RELOAD_SECONDS):
                return keys
        document = await self._json("GET", meta.jwks_uri)
        try:
            keys = KeySet.import_key_set(document)  # type: ignore[arg-type]
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise OAuthProviderUnavailable(f"The JWKS of {self.name} is unusable.") from exc
        self._keys = (now, keys)
        return keys

    async def _json(self, method: str, url: str, *, bearer: str | None = None) -> dict[str, Any]:
        headers = {"Accept": "application/json"}
        if bearer:
            headers["Authorization"] = f"Bearer {bearer}"
        response = await self._send(method, url, headers, None)
        if response.status != 200:
            raise OAuthProviderUnavailable(f"{self.name} answered {response.status} at {url}.")
        return _json_of(response)

    async def _send(
        self, method: str, url: str, headers: dict[str, str], data: str | None
    ) -> HttpResponse:
        try:
            return await self._http.request(method, url, headers=headers, data=data)
        except UpstreamError as exc:
            raise OAuthProviderUnavailable(f"{self.name} cannot be reached: {exc}") from exc


def _json_of(response: HttpResponse) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise OAuthProviderUnavailable(f"{response.url} answered {response.status}, not JSON.")
    return body


def _kid(token: str) -> str | None:
    """The ``kid`` of a compact JWS header, read only to pick the key."""
    try:
        segment = token.split(".", 1)[0]
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except ValueError as exc:
        raise OAuthIdTokenInvalid("The ID token is not a JWT.") from exc
    kid = header.get("kid") if isinstance(header, dict) else None
    return kid if isinstance(kid, str) else None
