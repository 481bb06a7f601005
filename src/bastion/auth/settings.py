"""``BASTION_AUTH__*`` settings."""

from __future__ import annotations

import re

from pydantic import BaseModel, Field, field_validator

from bastion.auth.oauth_settings import PROVIDER_NAME, OAuthProvider
from bastion.core.checks import CheckMessage
from bastion.core.settings import CsvList, split_csv


class AuthSettings(BaseModel):
    """Accounts, tokens, sessions, lockout and API keys."""

    enabled: bool = Field(True, description="Mount the /auth routes and build authentication.")
    issuer: str = Field("bastion", description="The `iss` claim of access tokens.")
    audience: str = Field("bastion-api", description="The `aud` claim of access tokens.")
    access_ttl_seconds: int = Field(900, gt=0, description="Lifetime of an access token.")
    refresh_ttl_seconds: int = Field(
        30 * 86400, gt=0, description="Lifetime of a session's refresh token (idle limit)."
    )
    check_session_per_request: bool = Field(
        True,
        description="Look the session up on every request, so revocation works at once "
        "(false: a revoked session's access tokens work until they expire).",
    )
    verify_email_ttl_seconds: int = Field(
        48 * 3600, gt=0, description="Lifetime of an email verification link."
    )
    reset_ttl_seconds: int = Field(3600, gt=0, description="Lifetime of a password reset link.")
    require_verified_email: bool = Field(
        False, description="Refuse login until the email address is verified."
    )
    lockout_max_failures: int = Field(
        5, gt=0, description="Failed logins per account within the window before a lockout."
    )
    lockout_max_failures_per_ip: int = Field(
        50, gt=0, description="Failed logins per client IP within the window before a lockout."
    )
    lockout_window_seconds: int = Field(
        900, gt=0, description="Window in which failed logins are counted."
    )
    lockout_cooldowns: CsvList = Field(
        default_factory=lambda: ["60", "300", "900", "3600"],
        description="Lockout durations in seconds, escalating with each lockout in a row.",
    )
    api_key_prefix: str = Field(
        "bst", pattern=r"^[a-z][a-z0-9]{1,15}$", description="Prefix of API keys (`bst_...`)."
    )
    mfa_issuer: str | None = Field(
        None, description="Issuer shown by authenticator apps; the app name when empty."
    )
    oauth_providers: dict[str, OAuthProvider] = Field(
        default_factory=dict,
        description="OpenID Connect providers by name, as JSON: "
        '{"google": {"client_id": ..., "client_secret": ..., "discovery_url": ...}}.',
    )
    oauth_flow_ttl_seconds: int = Field(
        600,
        gt=0,
        description="How long a sign-in at a provider may take, from redirect to callback.",
    )
    cookie_mode: bool = Field(
        False,
        description="Browser sessions: login, refresh and OAuth callbacks set HttpOnly cookies "
        "(and a CSRF token) instead of answering the tokens.",
    )
    cookie_secure: bool = Field(
        True, description="Mark the session cookies Secure (false only for local http)."
    )
    cookie_domain: str | None = Field(
        None, description="Domain attribute of the session cookies; the host alone when empty."
    )

    _split = field_validator("lockout_cooldowns", mode="before")(split_csv)

    @field_validator("oauth_providers")
    @classmethod
    def _provider_names(cls, value: dict[str, OAuthProvider]) -> dict[str, OAuthProvider]:
        bad = [name for name in value if not re.fullmatch(PROVIDER_NAME, name)]
        if bad:
            raise ValueError(f"provider names are lower-case words (a-z, 0-9, _ or -): {bad}")
        return value

    @field_validator("lockout_cooldowns")
    @classmethod
    def _cooldowns(cls, value: list[str]) -> list[str]:
        if not value or any(not item.isdigit() or int(item) <= 0 for item in value):
            raise ValueError("lockout cooldowns are positive whole seconds, e.g. 60,300,900")
        return value

    @property
    def cooldowns(self) -> tuple[int, ...]:
        return tuple(int(item) for item in self.lockout_cooldowns)

    def checks(self, *, production: bool) -> list[CheckMessage]:
        """Cookies and provider URLs that must not go to production as they are."""
        if not production:
            return []
        found = []
        if self.cookie_mode and not self.cookie_secure:
            found.append(
                CheckMessage(
                    "auth.E001",
                    "error",
                    "Session cookies are not marked Secure: they would travel over plain http.",
                    "Set BASTION_AUTH__COOKIE_SECURE=true (and serve the app over https).",
                )
            )
        plain = sorted(
            name
            for name, provider in self.oauth_providers.items()
            if not all(
                url.startswith("https://")
                for url in (provider.discovery_url, provider.redirect_uri or "https://")
            )
        )
        if plain:
            found.append(
                CheckMessage(
                    "auth.E002",
                    "error",
                    f"OAuth provider(s) {', '.join(plain)} use plain http URLs.",
                    "Use https:// discovery_url and redirect_uri in BASTION_AUTH__OAUTH_PROVIDERS.",
                )
            )
        return found
