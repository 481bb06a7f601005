"""Problem codes of authentication.

AuthError
├── InvalidCredentials      401 wrong email or password (never says which)
├── NotAuthenticated        401 no or bad credentials on a protected route
├── LockedOut               429 too many failed logins; Retry-After
├── MfaRequired             401 the account has MFA; send ``mfa_code``
├── MfaInvalid              401 the MFA or recovery code is wrong or used
├── RefreshTokenInvalid     401 unknown or expired refresh token
├── RefreshTokenReused      401 a spent refresh token: its session is revoked
├── SessionRevoked          401 the token's session was revoked
├── InsufficientScope       403 the API key lacks a scope
├── EmailTaken              409
├── EmailNotVerified        403
├── LinkInvalid             400 verification/reset token unknown, used or expired
├── MfaAlreadyEnabled       409
├── MfaNotEnabled           409
├── SessionNotFound         404 not one of the caller's sessions
├── ApiKeyNotFound          404 not one of the caller's keys
├── CsrfFailed              403 a cookie-authenticated write without a matching CSRF token
└── OAuth*                  OpenID Connect sign-in (see ``bastion.auth.oauth``):
    UnknownProvider 404, StateInvalid / Denied / CodeInvalid / IdTokenInvalid /
    NonceInvalid / EmailMissing 400, EmailUnverified 409, ProviderUnavailable 502
"""

from __future__ import annotations

from bastion.core.errors import BastionError

BEARER = {"WWW-Authenticate": "Bearer"}


class AuthError(BastionError):
    """Root of authentication errors."""


class InvalidCredentials(AuthError):
    code = "auth.invalid_credentials"
    status = 401
    title = "Invalid email or password"


class NotAuthenticated(AuthError):
    code = "auth.not_authenticated"
    status = 401
    title = "Authentication required"


class LockedOut(AuthError):
    code = "auth.locked_out"
    status = 429
    title = "Too many failed sign-in attempts"


class MfaRequired(AuthError):
    code = "auth.mfa_required"
    status = 401
    title = "A second factor is required"


class MfaInvalid(AuthError):
    code = "auth.mfa_invalid"
    status = 401
    title = "Invalid one-time code"


class RefreshTokenInvalid(AuthError):
    code = "auth.refresh_token_invalid"
    status = 401
    title = "Invalid refresh token"


class RefreshTokenReused(AuthError):
    code = "auth.refresh_token_reused"
    status = 401
    title = "Refresh token reused; the session is revoked"


class SessionRevoked(AuthError):
    code = "auth.session_revoked"
    status = 401
    title = "Session revoked"


class InsufficientScope(AuthError):
    code = "auth.insufficient_scope"
    status = 403
    title = "Missing scope"


class EmailTaken(AuthError):
    code = "auth.email_taken"
    status = 409
    title = "Email already registered"


class EmailNotVerified(AuthError):
    code = "auth.email_not_verified"
    status = 403
    title = "Email address not verified"


class LinkInvalid(AuthError):
    code = "auth.link_invalid"
    status = 400
    title = "Link is invalid or expired"


class MfaAlreadyEnabled(AuthError):
    code = "auth.mfa_already_enabled"
    status = 409
    title = "MFA is already enabled"


class MfaNotEnabled(AuthError):
    code = "auth.mfa_not_enabled"
    status = 409
    title = "MFA is not enabled"


class SessionNotFound(AuthError):
    code = "auth.session_not_found"
    status = 404
    title = "Session not found"


class ApiKeyNotFound(AuthError):
    code = "auth.api_key_not_found"
    status = 404
    title = "API key not found"


class CsrfFailed(AuthError):
    code = "auth.csrf_failed"
    status = 403
    title = "CSRF token missing or wrong"


class OAuthUnknownProvider(AuthError):
    code = "auth.oauth_unknown_provider"
    status = 404
    title = "Unknown sign-in provider"


class OAuthStateInvalid(AuthError):
    code = "auth.oauth_state_invalid"
    status = 400
    title = "Sign-in state missing, expired or wrong"


class OAuthDenied(AuthError):
    code = "auth.oauth_denied"
    status = 400
    title = "The provider did not authorise the sign-in"


class OAuthCodeInvalid(AuthError):
    code = "auth.oauth_code_invalid"
    status = 400
    title = "Authorization code refused by the provider"


class OAuthIdTokenInvalid(AuthError):
    code = "auth.oauth_id_token_invalid"
    status = 400
    title = "Invalid ID token"


class OAuthNonceInvalid(AuthError):
    code = "auth.oauth_nonce_invalid"
    status = 400
    title = "ID token nonce does not match this sign-in"


class OAuthEmailMissing(AuthError):
    code = "auth.oauth_email_missing"
    status = 400
    title = "The provider gave no usable email address"


class OAuthEmailUnverified(AuthError):
    code = "auth.oauth_email_unverified"
    status = 409
    title = "Unverified email matches an existing account"


class OAuthProviderUnavailable(AuthError):
    code = "auth.oauth_provider_unavailable"
    status = 502
    title = "Sign-in provider unavailable"
