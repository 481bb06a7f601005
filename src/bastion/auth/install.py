"""Build authentication from settings and mount its routes."""

from __future__ import annotations

from fastapi import FastAPI

from bastion.auth.context import AuthContext
from bastion.auth.lockout import LockoutGuard
from bastion.auth.router import router, well_known
from bastion.auth.service import Auth
from bastion.auth.settings import AuthSettings
from bastion.core.state import BastionState
from bastion.security.audit import audit_log
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
    return Auth(ctx)


def install_auth(
    app: FastAPI, settings: AuthSettings, security: Security, state: BastionState
) -> Auth:
    """Build :class:`Auth` into ``state.extensions["auth"]`` and mount ``/auth``."""
    auth = state.extensions["auth"] = build_auth(settings, security, state)
    app.include_router(router)
    app.include_router(well_known)
    return auth
