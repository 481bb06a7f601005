"""Identity: accounts, passwords, sessions with rotating refresh tokens, MFA and
API keys; ``current_principal`` for any route. See ``docs/auth.md``."""

from bastion.auth.deps import (
    CurrentPrincipal,
    OptionalPrincipal,
    current_principal,
    optional_principal,
    require_scopes,
)
from bastion.auth.errors import AuthError
from bastion.auth.models import User
from bastion.auth.principal import Principal
from bastion.auth.service import Auth, auth_of
from bastion.auth.settings import AuthSettings

__all__ = [
    "Auth",
    "AuthError",
    "AuthSettings",
    "CurrentPrincipal",
    "OptionalPrincipal",
    "Principal",
    "User",
    "auth_of",
    "current_principal",
    "optional_principal",
    "require_scopes",
]
