"""Build authentication from settings and mount its routes."""

from __future__ import annotations

from fastapi import FastAPI

from bastion.auth.context import AuthContext
from bastion.auth.lockout import LockoutGuard
from bastion.auth.router import router, well_known
from bastion.auth.service import Auth
from bastion.auth.settings import AuthSettings
from bastion.core.state import BastionState
from bastion.security import (
    HibpBreachChecker,
    KeyRingCache,
    PasswordHasher,
    PasswordPolicy,
    SecretBox,
    SecuritySettings,
    SigningKeyStore,
)


def build_auth(settings: AuthSettings, security: SecuritySettings, state: BastionState) -> Auth:
    """The app's :class:`Auth`, from its settings and what the app state holds."""
    box = SecretBox(security.secret_keys(state.settings.secret_key))
    # A new key signs only once every process has reloaded its ring and knows it.
    key_store = SigningKeyStore(
        state.db,
        box,
        state.clock,
        publish_delay=security.key_ring_reload_seconds,
        leeway=security.jwt_leeway_seconds,
    )
    breach = (
        HibpBreachChecker.from_settings(security, state.http, clock=state.clock)
        if security.hibp_enabled
        else None
    )
    ctx = AuthContext(
        settings=settings,
        app_name=state.settings.app_name,
        db=state.db,
        clock=state.clock,
        hasher=PasswordHasher(
            time_cost=security.argon2_time_cost,
            memory_kib=security.argon2_memory_kib,
            parallelism=security.argon2_parallelism,
        ),
        policy=PasswordPolicy.from_settings(
            security, app_name=state.settings.app_name, breach_checker=breach
        ),
        keys=KeyRingCache(key_store, security.key_ring_reload_seconds, state.clock),
        key_store=key_store,
        key_algorithm=security.jwt_algorithm,
        box=box,
        mailer=state.mailer,
        lockout=LockoutGuard(
            state.db,
            state.clock,
            window_seconds=settings.lockout_window_seconds,
            cooldowns=settings.cooldowns,
        ),
    )
    return Auth(ctx)


def install_auth(
    app: FastAPI, settings: AuthSettings, security: SecuritySettings, state: BastionState
) -> Auth:
    """Build :class:`Auth` into ``state.extensions["auth"]`` and mount ``/auth``."""
    auth = state.extensions["auth"] = build_auth(settings, security, state)
    app.include_router(router)
    app.include_router(well_known)
    return auth
