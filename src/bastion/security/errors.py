"""The security feature's problem codes.

::

    SecurityError
    ├── PasswordRejected            422, one code per rule of the password policy
    │   ├── PasswordTooShort        password.too_short
    │   ├── PasswordTooLong         password.too_long
    │   ├── PasswordContainsEmail   password.contains_email
    │   ├── PasswordContainsAppName password.contains_app_name
    │   ├── PasswordTooCommon       password.common
    │   └── PasswordBreached        password.breached
    ├── BreachCheckUnavailable      503 password.breach_check_unavailable
    ├── InvalidToken                401 auth.invalid_token
    ├── BadSignature                400 security.bad_signature
    │   └── SignatureExpired        400 security.signature_expired
    ├── DecryptionFailed            500 security.decryption_failed
    ├── NoSigningKey                503 security.no_signing_key
    ├── SigningKeyNotFound          404 security.signing_key_not_found
    ├── SecretNotFound              500 security.secret_not_found
    ├── Forbidden                   403 authz.forbidden (names the permission or role)
    └── ResourceNotFound            404 authz.not_found (also what a concealed denial says)
"""

from __future__ import annotations

from bastion.core.errors import BastionError


class SecurityError(BastionError):
    """Root of the security feature's errors."""


class PasswordRejected(SecurityError):
    """A password the policy refuses; the subclass says which rule."""


class PasswordTooShort(PasswordRejected):
    code = "password.too_short"
    status = 422
    title = "Password too short"


class PasswordTooLong(PasswordRejected):
    code = "password.too_long"
    status = 422
    title = "Password too long"


class PasswordContainsEmail(PasswordRejected):
    code = "password.contains_email"
    status = 422
    title = "Password contains the email address"


class PasswordContainsAppName(PasswordRejected):
    code = "password.contains_app_name"
    status = 422
    title = "Password contains the application name"


class PasswordTooCommon(PasswordRejected):
    code = "password.common"
    status = 422
    title = "Password too common"


class PasswordBreached(PasswordRejected):
    code = "password.breached"
    status = 422
    title = "Password found in a data breach"


class BreachCheckUnavailable(SecurityError):
    code = "password.breach_check_unavailable"
    status = 503
    title = "Password breach check unavailable"


class InvalidToken(SecurityError):
    """A bearer token that does not verify; the detail never says why."""

    code = "auth.invalid_token"
    status = 401
    title = "Invalid token"

    def __init__(self) -> None:
        super().__init__(
            "The access token is invalid or expired.",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )


class BadSignature(SecurityError):
    code = "security.bad_signature"
    status = 400
    title = "Bad signature"


class SignatureExpired(BadSignature):
    code = "security.signature_expired"
    status = 400
    title = "Signature expired"


class DecryptionFailed(SecurityError):
    """A secret at rest that no configured key opens: tampered, or the key is gone."""

    code = "security.decryption_failed"
    status = 500
    title = "Decryption failed"


class NoSigningKey(SecurityError):
    code = "security.no_signing_key"
    status = 503
    title = "No signing key"


class SigningKeyNotFound(SecurityError):
    code = "security.signing_key_not_found"
    status = 404
    title = "Signing key not found"


class SecretNotFound(SecurityError):
    code = "security.secret_not_found"
    status = 500
    title = "Secret not configured"


class Forbidden(SecurityError):
    code = "authz.forbidden"
    status = 403
    title = "Forbidden"


class ResourceNotFound(SecurityError):
    code = "authz.not_found"
    status = 404
    title = "Not found"
