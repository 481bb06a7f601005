"""Security primitives: password hashing and policy, tokens, secrets at rest,
signatures, JWT signing keys and TOTP.

>>> from bastion.security import hash_token, new_token
>>> token = new_token(prefix="bk_")
>>> len(hash_token(token))
64
"""

from bastion.security.breach import BreachChecker, HibpBreachChecker
from bastion.security.crypto import SecretBox
from bastion.security.errors import (
    BadSignature,
    BreachCheckUnavailable,
    DecryptionFailed,
    InvalidToken,
    NoSigningKey,
    PasswordRejected,
    SecurityError,
    SignatureExpired,
    SigningKeyNotFound,
)
from bastion.security.install import Security, security
from bastion.security.jwt import KeyRing, RingKey
from bastion.security.keys import KeyRingCache, SigningKeyStore
from bastion.security.passwords import PasswordHasher
from bastion.security.policy import PasswordPolicy
from bastion.security.secrets import EnvSecrets, FileSecrets, SecretProvider, SecretRing
from bastion.security.settings import SecuritySettings
from bastion.security.signing import Signer
from bastion.security.tokens import hash_token, new_token, tokens_equal
from bastion.security.totp import new_recovery_codes, new_totp_secret, provisioning_uri, verify_totp

__all__ = [
    "BadSignature",
    "BreachCheckUnavailable",
    "BreachChecker",
    "DecryptionFailed",
    "EnvSecrets",
    "FileSecrets",
    "HibpBreachChecker",
    "InvalidToken",
    "KeyRing",
    "KeyRingCache",
    "NoSigningKey",
    "PasswordHasher",
    "PasswordPolicy",
    "PasswordRejected",
    "RingKey",
    "SecretBox",
    "SecretProvider",
    "SecretRing",
    "Security",
    "SecurityError",
    "SecuritySettings",
    "SignatureExpired",
    "Signer",
    "SigningKeyNotFound",
    "SigningKeyStore",
    "hash_token",
    "new_recovery_codes",
    "new_token",
    "new_totp_secret",
    "provisioning_uri",
    "security",
    "tokens_equal",
    "verify_totp",
]
