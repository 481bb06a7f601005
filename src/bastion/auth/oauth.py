"""Sign-in with OpenID Connect providers: the flow, then link or create the user.

**The flow's state lives in a signed, short-lived, HttpOnly cookie**
(``bastion_oauth_flow``, ``Path=/auth/oauth/``, ``SameSite=Lax`` so that the
provider's top-level redirect back carries it). It holds the provider, the
``state`` and the ``nonce``, which are public anyway (they travel in the
authorization URL); the PKCE verifier is never stored: it is an HMAC of the
state under a key derived from the app's secret, so only the server can
compute it. No row is written before anyone has signed in (an anonymous
``/authorize`` costs no storage), every process can finish any flow, and the
cookie binds the flow to the browser that started it: a callback whose
``state`` is not the cookie's (login CSRF, a link sent to a victim) is refused.

**Linking** (RFC-free, the usual account-takeover rules): a known (provider,
subject) signs in as its user. Otherwise an account with the same email is
linked only when the provider says ``email_verified``; if that account never
verified its address, whoever chose its password did not prove they own it, so
the password is removed and its sessions revoked (pre-hijacking defence). An
unverified provider email matching an account is refused (409
``auth.oauth_email_unverified``); with no matching account a new user is made,
without password, verified when the provider says so.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass

import structlog
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bastion.auth.context import AuthContext, normalize_email
from bastion.auth.cookies import SignedCookie
from bastion.auth.errors import (
    EmailNotVerified,
    InvalidCredentials,
    OAuthDenied,
    OAuthEmailMissing,
    OAuthEmailUnverified,
    OAuthStateInvalid,
    OAuthUnknownProvider,
)
from bastion.auth.models import User
from bastion.auth.oauth_models import OAuthIdentity
from bastion.auth.oidc import OidcClient, ProviderIdentity
from bastion.auth.sessions import Client, Sessions, TokenPair, revoke_sessions
from bastion.core.ids import uuid7
from bastion.security import new_token, tokens_equal

log = structlog.get_logger("bastion.auth")

FLOW_COOKIE = "bastion_oauth_flow"
FLOW_PATH = "/auth/oauth/"


@dataclass(frozen=True)
class Flow:
    """One sign-in at a provider, from the redirect to the callback."""

    provider: str
    state: str
    nonce: str

    def dump(self) -> str:
        return f"{self.provider}:{self.state}:{self.nonce}"

    @classmethod
    def load(cls, raw: str | None) -> Flow | None:
        parts = (raw or "").split(":")
        return cls(*parts) if len(parts) == 3 else None


class OAuthLogin:
    """Starts and finishes sign-ins at the configured providers."""

    def __init__(
        self,
        ctx: AuthContext,
        sessions: Sessions,
        clients: Mapping[str, OidcClient],
        flow_cookie: SignedCookie,
        pkce_key: bytes,
    ) -> None:
        self.ctx = ctx
        self.sessions = sessions
        self.clients = dict(clients)
        self.flow_cookie = flow_cookie
        self._pkce_key = pkce_key

    def client(self, provider: str) -> OidcClient:
        found = self.clients.get(provider)
        if found is None:
            raise OAuthUnknownProvider(f"No sign-in provider is called {provider!r}.")
        return found

    async def start(self, provider: str, redirect_uri: str) -> tuple[str, Flow]:
        """The provider's authorization URL and the flow to keep in the cookie."""
        flow = Flow(provider, new_token(), new_token())
        url = await self.client(provider).authorization_url(
            redirect_uri, state=flow.state, nonce=flow.nonce, verifier=self._verifier(flow.state)
        )
        return url, flow

    async def finish(
        self,
        provider: str,
        flow: Flow | None,
        *,
        state: str | None,
        code: str | None,
        error: str | None,
        redirect_uri: str,
        client: Client,
    ) -> TokenPair:
        """Check the callback against the flow, exchange the code, sign in."""
        oidc = self.client(provider)
        if flow is None or flow.provider != provider:
            raise OAuthStateInvalid("No sign-in with this provider is under way in this browser.")
        if not state or not tokens_equal(state, flow.state):
            raise OAuthStateInvalid("The state does not match the sign-in this browser started.")
        if error or not code:
            raise OAuthDenied(f"{provider} answered {error or 'no code'}.")
        identity = await oidc.identity(
            code, redirect_uri=redirect_uri, verifier=self._verifier(flow.state), nonce=flow.nonce
        )
        try:
            return await self._sign_in(identity, client)
        except IntegrityError:
            # A concurrent first sign-in of the same identity or email won the
            # unique index; its row is there now.
            return await self._sign_in(identity, client)

    def _verifier(self, state: str) -> str:
        digest = hmac.new(self._pkce_key, state.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()  # 43 chars (RFC 7636)

    async def _sign_in(self, identity: ProviderIdentity, client: Client) -> TokenPair:
        ring = await self.ctx.signing_ring()  # before the transaction: it may write a key
        async with self.ctx.db.session() as session:
            user = await self._user(session, identity)
            if not user.is_active:
                raise InvalidCredentials("This account cannot sign in.")
            if self.ctx.settings.require_verified_email and user.email_verified_at is None:
                raise EmailNotVerified("Verify your email address before signing in.")
            pair = await self.sessions.open_session(session, ring, user, client, ["oauth"])
        log.info("auth.oauth_login", provider=identity.provider, user_id=str(user.id))
        return pair

    async def _user(self, session: AsyncSession, identity: ProviderIdentity) -> User:
        linked = await session.scalar(
            select(User)
            .join(OAuthIdentity, OAuthIdentity.user_id == User.id)
            .where(
                OAuthIdentity.provider == identity.provider,
                OAuthIdentity.subject == identity.subject,
            )
        )
        if linked is not None:
            return linked
        try:
            email = normalize_email(identity.email or "")
        except ValueError as exc:
            raise OAuthEmailMissing(f"{identity.provider} gave no usable email address.") from exc
        now = self.ctx.clock.now()
        user = await session.scalar(select(User).where(User.email == email))
        if user is None:
            user = User(
                id=uuid7(),
                email=email,
                display_name=identity.name[:200],
                email_verified_at=now if identity.email_verified else None,
            )
            session.add(user)
        elif not identity.email_verified:
            raise OAuthEmailUnverified(
                f"{identity.provider} has not verified {email}, and an account with it exists: "
                "sign in with its password."
            )
        elif user.email_verified_at is None:
            user.email_verified_at = now
            user.password_hash = None
            await revoke_sessions(session, user.id, now, reason="oauth_link")
        session.add(
            OAuthIdentity(
                provider=identity.provider,
                subject=identity.subject,
                user_id=user.id,
                email=email,
                created_at=now,
            )
        )
        await session.flush()
        log.info("auth.oauth_linked", provider=identity.provider, user_id=str(user.id))
        return user
