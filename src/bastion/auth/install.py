"""Build authentication from settings and mount its routes."""

from __future__ import annotations

from functools import partial

from fastapi import FastAPI

from bastion.auth.browser import BrowserSessions
from bastion.auth.context import AuthContext
from bastion.auth.cookies import CookieOptions, SignedCookie
from bastion.auth.csrf import CsrfTokens
from bastion.auth.lockout import LockoutGuard
from bastion.auth.oauth import FLOW_COOKIE, FLOW_PATH, OAuthLogin
from bastion.auth.oauth_router import router as oauth_router
from bastion.auth.oidc import OidcClient
from bastion.auth.router import router, well_known
from bastion.auth.service import Auth
from bastion.auth.settings import AuthSettings
from bastion.core.state import BastionState
from bastion.security.audit import audit_log
from bastion.security.crypto import derive_key
from bastion.security.install import Security


def build_auth(settings: AuthSettings, security: Security, state: BastionState) -> Auth:
    """The app's :class:`Auth`, over the app's security primitives."""
    ctx = AuthContext(
        settings=settings,
        app_name=state.settings.app_name,
        db=state.db,
        clock=state.clock,
        hasher=security.hasher,
        policy=security.policy,
        keys=security.key_ring,
        key_store=security.signing_keys,
        key_algorithm=security.settings.jwt_algorithm,
        box=security.box,
        mailer=state.mailer,
        audit=audit_log(state),
        lockout=LockoutGuard(
            state.db,
            state.clock,
            window_seconds=settings.lockout_window_seconds,
            cooldowns=settings.cooldowns,
        ),
    )
    cookies = CookieOptions(secure=settings.cookie_secure, domain=settings.cookie_domain)
    browser = (
        BrowserSessions(settings, cookies, CsrfTokens(security.signer("auth.csrf")))
        if settings.cookie_mode
        else None
    )
    oauth = None
    if settings.oauth_providers:
        clients = {
            name: OidcClient(name, config, state.http, state.clock)
            for name, config in settings.oauth_providers.items()
        }
        flow_cookie = SignedCookie(
            FLOW_COOKIE,
            security.signer("auth.oauth_flow"),
            cookies,
            max_age=settings.oauth_flow_ttl_seconds,
            path=FLOW_PATH,
        )
        pkce_key = derive_key(state.settings.secret_key.get_secret_value(), "auth:oauth:pkce")
        oauth = partial(
            OAuthLogin, ctx, clients=clients, flow_cookie=flow_cookie, pkce_key=pkce_key
        )
    return Auth(ctx, browser=browser, oauth=oauth)


def install_auth(
    app: FastAPI, settings: AuthSettings, security: Security, state: BastionState
) -> Auth:
    """Build :class:`Auth` into ``state.extensions["auth"]`` and mount ``/auth``."""
    auth = state.extensions["auth"] = build_auth(settings, security, state)
    app.include_router(router)
    app.include_router(well_known)
    if auth.oauth is not None:
        app.include_router(oauth_router)
    return auth
